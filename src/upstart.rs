// TEMPORARY STUB (lead engineer) — helper replaces this file with the real module.
use std::fmt;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect { Stop, Daemon, Fork }
#[derive(Debug, Default)]
pub struct JobFile { pub expect: Option<Expect> }
#[derive(Debug)]
pub struct LintError { pub line: usize, pub message: String }
impl LintError { pub fn display_with_path(&self, p: &str) -> String { format!("{p}:{}: {}", self.line, self.message) } }
pub fn lint_job(text: &str) -> Result<JobFile, LintError> {
    Ok(JobFile { expect: text.lines().any(|l| l.trim() == "expect fork").then_some(Expect::Fork) })
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal { Start, Stop }
#[derive(Debug, Clone)]
pub struct JobStatus { pub name: String, pub instance: Option<String>, pub goal: Goal, pub pid: Option<u32>, pub running: bool }
impl JobStatus { pub fn is_running(&self) -> bool { self.running } }
impl fmt::Display for JobStatus { fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result { write!(f, "{}", self.name) } }
#[derive(Debug)]
pub struct ParseError(pub String);
impl fmt::Display for ParseError { fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result { f.write_str(&self.0) } }
pub fn parse_list(_out: &str) -> Result<Vec<JobStatus>, ParseError> { Ok(vec![]) }
pub fn parse_status(_out: &str) -> Result<JobStatus, ParseError> { Err(ParseError("stub".into())) }
pub enum InitctlError { UnknownJob(String), AlreadyRunning(String), UnknownInstance, NoBus(String), Other(String) }
pub fn classify_stderr(_s: &str) -> InitctlError { InitctlError::Other(String::new()) }
