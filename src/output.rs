//! What the parsers of other programs' output (chkconfig, initctl) report when the output
//! is not what the real program prints.

use std::error::Error;
use std::fmt;

/// A line of a program's output that blotctl does not understand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The program whose output it is (`chkconfig`, `initctl`).
    pub program: &'static str,
    /// 1-based line number in the output.
    pub line: usize,
    /// The offending line (empty when the output itself was empty).
    pub text: String,
    pub reason: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} output line {}: {}: {:?}",
            self.program, self.line, self.reason, self.text
        )
    }
}

impl Error for ParseError {}
