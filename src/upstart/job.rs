//! The job-file lint: upstart 0.6.5's stanza handlers (`init/parse_job.c`) over libnih's
//! tokeniser ([`super::nih`]).

use super::nih::*;
use std::error::Error;
use std::fmt;

use super::nih::msg::*;

/// A job-file error, as upstart would report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintError {
    /// 1-based line number, exactly as upstart computes it.
    pub line: usize,
    /// Upstart's message, e.g. "Unknown stanza" (see `nih::msg`).
    pub message: String,
}

impl LintError {
    /// Upstart's syslog form: `/etc/init/X.conf:4: Unknown stanza`
    /// (upstart itself prefixes the console line with `init: `).
    pub fn display_with_path(&self, path: &str) -> String {
        format!("{path}:{self}")
    }
}

/// Displays as `4: Unknown stanza`, i.e. the syslog form minus `PATH:`.
impl fmt::Display for LintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.line, self.message)
    }
}

impl Error for LintError {}

/// The `expect` stanza.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Stop,
    Daemon,
    Fork,
}

/// What later checks need to know about a job file that upstart accepts.
///
/// When a stanza is repeated the last one wins, as in upstart; `exec` and
/// `script` both define the main process, so the later one clears the other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFile {
    pub description: Option<String>,
    /// `start on` expression: tokens joined by single spaces, no space after
    /// `(` or before `)`, comments and line breaks dropped, quotes kept,
    /// e.g. `(runlevel [345] and started network)`.
    pub start_on: Option<String>,
    /// `stop on` expression, normalised like `start_on`.
    pub stop_on: Option<String>,
    pub expect: Option<Expect>,
    pub task: bool,
    /// Set by a bare `respawn`; `respawn limit` alone does not enable respawning.
    pub respawn: bool,
    /// `respawn limit COUNT INTERVAL`; `respawn limit unlimited` is `(0, 0)`,
    /// which is how upstart stores it.
    pub respawn_limit: Option<(u32, u32)>,
    /// Main process command line (`exec ...`), as upstart stores it: quotes
    /// kept, escaped newlines folded to one space, trailing blanks dropped.
    pub exec: Option<String>,
    /// The main process is a `script` ... `end script` block.
    pub has_script: bool,
    /// `console none|output|owner`.
    pub console: Option<String>,
}

/// Check a job file against upstart 0.6.5's grammar (plus Red Hat's `usage`).
///
/// Returns what later checks need, or the first error exactly as upstart
/// would report it.
pub fn lint_job(text: &str) -> Result<JobFile, LintError> {
    let mut parser = Parser {
        f: text.as_bytes(),
        job: JobFile::default(),
    };
    let mut cur = Cur { pos: 0, line: 1 };
    match parser.parse_file(&mut cur) {
        Ok(()) => Ok(parser.job),
        Err(message) => Err(LintError {
            line: cur.line,
            message: message.to_string(),
        }),
    }
}

// --- upstart's stanza handlers (init/parse_job.c) ---------------------------

/// Handlers parse from a copy `a` of the caller's position. Errors that
/// upstart raises with `goto finish` copy `a` back first, so the reported
/// line is where parsing stopped; `fin!` does that. Errors raised with a
/// plain `return Err(..)` leave the caller's position alone, so upstart
/// reports the line where the stanza's arguments began.
macro_rules! fin {
    ($cur:ident, $a:ident, $res:expr) => {
        match $res {
            Ok(v) => v,
            Err(m) => {
                *$cur = $a;
                return Err(m);
            }
        }
    };
}

/// Resources accepted by `limit`.
const RESOURCES: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "sigpending",
    "stack",
];

struct Parser<'a> {
    f: &'a [u8],
    job: JobFile,
}

impl Parser<'_> {
    /// `nih_config_parse_file`: skip blank and comment lines, parse stanzas.
    fn parse_file(&mut self, cur: &mut Cur) -> Result<(), Msg> {
        let f = self.f;
        while cur.pos < f.len() {
            while cur.pos < f.len() && in_set(WS, f[cur.pos]) {
                cur.pos += 1;
            }
            if has_token(f, cur) {
                self.parse_stanza(cur)?;
            } else {
                next_line(f, cur);
            }
        }
        Ok(())
    }

    /// `nih_config_parse_stanza` plus the table of 0.6.5's stanzas.
    fn parse_stanza(&mut self, cur: &mut Cur) -> Result<(), Msg> {
        let f = self.f;
        let name = next_token(f, cur, CNLWS, false)?;
        let job = &mut self.job;
        match name.as_str() {
            "description" => job.description = Some(single_arg(f, cur)?),
            // `usage` is Red Hat's backport from upstart 1.x.
            "instance" | "author" | "version" | "env" | "chroot" | "chdir" | "usage" => {
                single_arg(f, cur)?;
            }
            "export" | "emits" => {
                if !has_token(f, cur) {
                    return Err(EXPECTED_TOKEN);
                }
                parse_args(f, cur)?;
            }
            "start" => job.start_on = Some(stanza_on(f, cur)?),
            "stop" => job.stop_on = Some(stanza_on(f, cur)?),
            "exec" => {
                job.exec = Some(parse_exec(f, cur)?);
                job.has_script = false;
            }
            "script" => {
                parse_script(f, cur)?;
                job.exec = None;
                job.has_script = true;
            }
            "pre-start" | "post-start" | "pre-stop" | "post-stop" => parse_process(f, cur)?,
            // 0.6.5 knows only these three (no `expect none`); anything else
            // is "Unknown stanza" on the `expect` line: that is what
            // bad-expect.conf:1 in the transcript shows.
            "expect" => {
                job.expect = Some(match keyword_arg(f, cur, &["stop", "daemon", "fork"])? {
                    "stop" => Expect::Stop,
                    "daemon" => Expect::Daemon,
                    _ => Expect::Fork,
                });
            }
            "task" => {
                job.task = true;
                skip_comment(f, cur)?;
            }
            "kill" => stanza_kill(f, cur)?,
            "respawn" => stanza_respawn(f, cur, job)?,
            "normal" => stanza_normal(f, cur)?,
            // `console log` (upstart 1.4) is "Unknown stanza" here, as
            // bad-console.conf:1 in the transcript shows.
            "console" => {
                let kind = keyword_arg(f, cur, &["none", "output", "owner"])?;
                job.console = Some(kind.to_string());
            }
            "umask" => {
                checked_arg(f, cur, |s| {
                    strtoul(s, 8)
                        .filter(|&v| v as u32 & !0o777 == 0) // mode_t cast
                        .map(drop)
                        .ok_or(ILLEGAL_UMASK)
                })?;
            }
            "nice" => {
                checked_arg(f, cur, |s| {
                    strtol(s)
                        .filter(|&v| (-20..=19).contains(&(v as i32))) // int cast
                        .map(drop)
                        .ok_or(ILLEGAL_NICE)
                })?;
            }
            // 0.6.5's oom takes an adjustment or `never`; `oom score` (1.3)
            // therefore fails with ILLEGAL_OOM, not "Unknown stanza".
            "oom" => {
                checked_arg(f, cur, |s| {
                    let ok =
                        s == "never" || strtol(s).is_some_and(|v| (-17..=15).contains(&(v as i32)));
                    if ok {
                        Ok(())
                    } else {
                        Err(ILLEGAL_OOM)
                    }
                })?;
            }
            "limit" => stanza_limit(f, cur)?,
            // Everything newer than 0.6.5 lands here: manual, debug (0.6.7),
            // setuid, setgid (1.4), apparmor, cgroup, reload (1.10), ...
            _ => return Err(UNKNOWN_STANZA),
        }
        Ok(())
    }
}

/// One argument, then nothing but a comment.
fn single_arg(f: &[u8], cur: &mut Cur) -> Result<String, Msg> {
    let arg = next_arg(f, cur)?;
    skip_comment(f, cur)?;
    Ok(arg)
}

/// One argument that `check` must accept (its error is reported on the line
/// where the argument began), then nothing but a comment.
fn checked_arg(
    f: &[u8],
    cur: &mut Cur,
    check: impl Fn(&str) -> Result<(), Msg>,
) -> Result<String, Msg> {
    let mut a = *cur;
    let arg = fin!(cur, a, next_arg(f, &mut a));
    check(&arg)?;
    let res = skip_comment(f, &mut a);
    *cur = a;
    res.map(|()| arg)
}

/// One argument out of `words`; anything else is "Unknown stanza".
fn keyword_arg(f: &[u8], cur: &mut Cur, words: &[&'static str]) -> Result<&'static str, Msg> {
    let arg = checked_arg(f, cur, |s| {
        if words.contains(&s) {
            Ok(())
        } else {
            Err(UNKNOWN_STANZA)
        }
    })?;
    Ok(words
        .iter()
        .copied()
        .find(|w| *w == arg)
        .unwrap_or_default())
}

/// `start on EXPR` / `stop on EXPR`.
fn stanza_on(f: &[u8], cur: &mut Cur) -> Result<String, Msg> {
    let mut a = *cur;
    let arg = fin!(cur, a, next_token(f, &mut a, CNLWS, false));
    if arg != "on" {
        return Err(UNKNOWN_STANZA);
    }
    let res = parse_on(f, &mut a);
    *cur = a;
    res
}

/// `pre-start exec ...` / `pre-start script` and friends.
fn parse_process(f: &[u8], cur: &mut Cur) -> Result<(), Msg> {
    let mut a = *cur;
    let arg = fin!(cur, a, next_token(f, &mut a, CNLWS, false));
    let res = match arg.as_str() {
        "exec" => parse_exec(f, &mut a).map(drop),
        "script" => parse_script(f, &mut a),
        _ => return Err(UNKNOWN_STANZA),
    };
    *cur = a;
    res
}

/// `kill timeout N` (0.6.5 has no `kill signal`).
fn stanza_kill(f: &[u8], cur: &mut Cur) -> Result<(), Msg> {
    let mut a = *cur;
    let arg = fin!(cur, a, next_token(f, &mut a, CNLWS, false));
    if arg != "timeout" {
        return Err(UNKNOWN_STANZA);
    }
    *cur = a;
    let secs = fin!(cur, a, next_arg(f, &mut a));
    if strtol(&secs).is_none_or(|v| v < 0) {
        return Err(ILLEGAL_INTERVAL);
    }
    let res = skip_comment(f, &mut a);
    *cur = a;
    res
}

/// `respawn`, `respawn limit COUNT INTERVAL` or `respawn limit unlimited`.
fn stanza_respawn(f: &[u8], cur: &mut Cur, job: &mut JobFile) -> Result<(), Msg> {
    if !has_token(f, cur) {
        job.respawn = true;
        return skip_comment(f, cur);
    }
    let mut a = *cur;
    let arg = fin!(cur, a, next_token(f, &mut a, CNLWS, false));
    if arg != "limit" {
        return Err(UNKNOWN_STANZA);
    }
    *cur = a;
    let count = fin!(cur, a, next_arg(f, &mut a));
    let limit = if count == "unlimited" {
        (0, 0)
    } else {
        // respawn_limit is an `int`: the long is truncated before the check.
        let count = match strtol(&count).map(|v| v as i32) {
            Some(v) if v >= 0 => v as u32,
            _ => return Err(ILLEGAL_LIMIT),
        };
        *cur = a;
        let secs = fin!(cur, a, next_arg(f, &mut a));
        let secs = match strtol(&secs) {
            Some(v) if v >= 0 => u32::try_from(v).unwrap_or(u32::MAX),
            _ => return Err(ILLEGAL_INTERVAL),
        };
        (count, secs)
    };
    let res = skip_comment(f, &mut a);
    *cur = a;
    res?;
    job.respawn_limit = Some(limit);
    Ok(())
}

/// `normal exit CODE|SIGNAL ...`
fn stanza_normal(f: &[u8], cur: &mut Cur) -> Result<(), Msg> {
    let mut a = *cur;
    let arg = fin!(cur, a, next_token(f, &mut a, CNLWS, false));
    if arg != "exit" {
        return Err(UNKNOWN_STANZA);
    }
    loop {
        *cur = a;
        let status = fin!(cur, a, next_arg(f, &mut a));
        let exit_ok = strtoul(&status, 10).is_some_and(|v| v <= i32::MAX as u64);
        if !exit_ok && !is_signal_name(&status) {
            return Err(ILLEGAL_EXIT);
        }
        if !has_token(f, &a) {
            break;
        }
    }
    let res = skip_comment(f, &mut a);
    *cur = a;
    res
}

/// `limit RESOURCE SOFT HARD`, each value an integer or `unlimited`.
fn stanza_limit(f: &[u8], cur: &mut Cur) -> Result<(), Msg> {
    let mut a = *cur;
    let resource = fin!(cur, a, next_arg(f, &mut a));
    if !RESOURCES.contains(&resource.as_str()) {
        return Err(UNKNOWN_STANZA);
    }
    for _ in 0..2 {
        *cur = a;
        let value = fin!(cur, a, next_arg(f, &mut a));
        if value != "unlimited" && strtoul(&value, 10).is_none() {
            return Err(ILLEGAL_LIMIT);
        }
    }
    let res = skip_comment(f, &mut a);
    *cur = a;
    res
}

// --- event expressions (parse_on*) -----------------------------------------

/// An entry on parse_on's operator stack.
enum Item {
    /// An open parenthesis.
    Paren,
    /// An event match; `named` once a `NAME=VALUE` argument has been seen.
    Event { named: bool },
    /// `and` / `or`, waiting for its right-hand side.
    Operator,
}

/// State of one `start on` / `stop on` expression.
#[derive(Default)]
struct Expr {
    stack: Vec<Item>,
    /// Whether a collected (sub)tree is waiting to be attached.
    root: bool,
    paren: isize,
    text: String,
}

impl Expr {
    fn push_text(&mut self, tok: &str) {
        if !self.text.is_empty() && !self.text.ends_with('(') && tok != ")" {
            self.text.push(' ');
        }
        self.text.push_str(tok);
    }

    /// `parse_on_collect`: fold the stack down to the innermost `(`.
    fn collect(&mut self) -> Result<(), Msg> {
        while let Some(top) = self.stack.last() {
            match top {
                Item::Paren => break,
                Item::Operator if !self.root => return Err(EXPECTED_EVENT),
                Item::Event { .. } if self.root => return Err(EXPECTED_OPERATOR),
                _ => {}
            }
            self.stack.pop();
            self.root = true;
        }
        if self.root {
            Ok(())
        } else {
            Err(EXPECTED_EVENT)
        }
    }

    /// `parse_on_paren`: the byte at `on` is `(` or `)`.
    fn paren(&mut self, f: &[u8], on: &mut Cur) -> Result<(), Msg> {
        if f[on.pos] == b'(' {
            self.paren += 1;
            if self.root || matches!(self.stack.last(), Some(Item::Event { .. })) {
                return Err(EXPECTED_OPERATOR);
            }
            self.stack.push(Item::Paren);
            self.push_text("(");
        } else {
            self.paren -= 1;
            self.collect()?;
            if self.stack.pop().is_none() {
                return Err(MISMATCHED_PARENS);
            }
            self.push_text(")");
        }
        on.pos += 1;
        skip_whitespace(f, on);
        Ok(())
    }

    /// `parse_on_operator`: `and` / `or`, else hand over to the operand code.
    fn operator(&mut self, f: &[u8], on: &mut Cur) -> Result<(), Msg> {
        let mut a = *on;
        let arg = fin!(on, a, next_token(f, &mut a, ON_DELIM, false));
        if arg != "and" && arg != "or" {
            return self.operand(f, on, &arg);
        }
        self.collect()?;
        self.root = false;
        self.stack.push(Item::Operator);
        self.push_text(&arg);
        *on = a;
        Ok(())
    }

    /// `parse_on_operand`: an event name, or an argument of the event on top
    /// of the stack (no positional argument after a `NAME=VALUE` one).
    fn operand(&mut self, f: &[u8], on: &mut Cur, raw: &str) -> Result<(), Msg> {
        let arg = next_token(f, on, ON_DELIM, true)?;
        self.push_text(raw);
        match self.stack.last_mut() {
            Some(Item::Event { named }) => {
                if arg.contains('=') {
                    *named = true;
                } else if *named {
                    return Err(EXPECTED_VARIABLE);
                }
            }
            _ => self.stack.push(Item::Event { named: false }),
        }
        Ok(())
    }
}

/// `parse_on`: an event expression. Inside parentheses it continues over
/// line ends (a comment may end each line, but a blank or comment-only line
/// inside parentheses is "Expected token", as in upstart).
fn parse_on(f: &[u8], cur: &mut Cur) -> Result<String, Msg> {
    let mut on = *cur;
    let mut ex = Expr::default();
    loop {
        skip_whitespace(f, &mut on);
        loop {
            *cur = on; // upstart's "update error position"
            let res = if on.pos < f.len() && matches!(f[on.pos], b'(' | b')') {
                ex.paren(f, &mut on)
            } else {
                ex.operator(f, &mut on)
            };
            if let Err(m) = res {
                *cur = on;
                return Err(m);
            }
            if !has_token(f, &on) {
                break;
            }
        }
        next_line(f, &mut on); // only a comment or newline is left
        if on.pos >= f.len() || ex.paren <= 0 {
            break;
        }
    }
    // Reported at the last "error position", i.e. where the last token began.
    ex.collect()?;
    *cur = on;
    if !ex.stack.is_empty() {
        // An unclosed `(`: parsing ran to the end of the file.
        return Err(MISMATCHED_PARENS);
    }
    Ok(ex.text)
}
