//! `initctl list` / `initctl status` output (also what `start`, `stop` and `restart` print)
//! and initctl's error messages.

use std::error::Error;
use std::fmt;

/// A job's goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    Start,
    Stop,
}

impl Goal {
    /// Upstart's word for the goal.
    pub fn as_str(self) -> &'static str {
        match self {
            Goal::Start => "start",
            Goal::Stop => "stop",
        }
    }

    fn from_word(s: &str) -> Option<Self> {
        [Goal::Start, Goal::Stop]
            .into_iter()
            .find(|g| g.as_str() == s)
    }
}

impl fmt::Display for Goal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Waiting,
    Starting,
    PreStart,
    Spawned,
    PostStart,
    Running,
    PreStop,
    Stopping,
    Killed,
    PostStop,
}

impl State {
    pub(super) const ALL: [State; 10] = [
        State::Waiting,
        State::Starting,
        State::PreStart,
        State::Spawned,
        State::PostStart,
        State::Running,
        State::PreStop,
        State::Stopping,
        State::Killed,
        State::PostStop,
    ];

    /// Upstart's word for the state, e.g. `pre-start`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Starting => "starting",
            State::PreStart => "pre-start",
            State::Spawned => "spawned",
            State::PostStart => "post-start",
            State::Running => "running",
            State::PreStop => "pre-stop",
            State::Stopping => "stopping",
            State::Killed => "killed",
            State::PostStop => "post-stop",
        }
    }

    fn from_word(s: &str) -> Option<Self> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One job (instance) from `initctl list` or `initctl status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    pub name: String,
    /// `tty (/dev/tty1) ...` gives `Some("/dev/tty1")`.
    pub instance: Option<String>,
    pub goal: Goal,
    pub state: State,
    /// The PID printed on the job's own line. Upstart 0.6.5 prints the first
    /// process the job has there, which is the main process when there is
    /// one, but e.g. the pre-start process in `start/pre-start` or the
    /// post-stop process in `stop/post-stop`.
    pub pid: Option<u32>,
    /// Further processes from continuation lines, e.g. `("post-start", 132)`.
    pub extra: Vec<(String, u32)>,
}

impl JobStatus {
    /// Goal start, state running, and a PID.
    pub fn is_running(&self) -> bool {
        self.goal == Goal::Start && self.state == State::Running && self.pid.is_some()
    }
}

/// Reproduces initctl's output, continuation lines included (joined with
/// `\n`, no trailing newline): `redis start/running, process 72`.
impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(instance) = &self.instance {
            write!(f, " ({instance})")?;
        }
        write!(f, " {}/{}", self.goal, self.state)?;
        if let Some(pid) = self.pid {
            write!(f, ", process {pid}")?;
        }
        for (kind, pid) in &self.extra {
            write!(f, "\n\t{kind} process {pid}")?;
        }
        Ok(())
    }
}

pub use crate::output::ParseError;

const PROCESS_TYPES: &[&str] = &["main", "pre-start", "post-start", "pre-stop", "post-stop"];

/// A PID as upstart prints it (`%d`): digits, no sign, no leading zero.
fn parse_pid(s: &str) -> Result<u32, &'static str> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return Err("bad process id");
    }
    s.parse().map_err(|_| "bad process id")
}

/// `NAME [(INSTANCE)] GOAL/STATE[, process PID]`
fn parse_job_line(line: &str) -> Result<JobStatus, &'static str> {
    let (head, pid) = match line.rsplit_once(", process ") {
        Some((head, pid)) => (head, Some(parse_pid(pid)?)),
        None => (line, None),
    };
    let (head, goal_state) = head.rsplit_once(' ').ok_or("expected NAME GOAL/STATE")?;
    let (goal, state) = goal_state.split_once('/').ok_or("expected GOAL/STATE")?;
    let goal = Goal::from_word(goal).ok_or("unknown goal")?;
    let state = State::from_word(state).ok_or("unknown state")?;
    let (name, instance) = match head.split_once(' ') {
        None => (head, None),
        Some((name, rest)) => {
            let instance = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .filter(|i| !i.is_empty())
                .ok_or("expected (INSTANCE) after the job name")?;
            (name, Some(instance.to_string()))
        }
    };
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("bad job name");
    }
    Ok(JobStatus {
        name: name.to_string(),
        instance,
        goal,
        state,
        pid,
        extra: Vec::new(),
    })
}

/// The part after the tab of `\tpost-start process 132`.
fn parse_process_line(rest: &str) -> Result<(String, u32), &'static str> {
    let (kind, pid) = rest
        .split_once(" process ")
        .ok_or("expected TYPE process PID")?;
    if !PROCESS_TYPES.contains(&kind) {
        return Err("unknown process type");
    }
    Ok((kind.to_string(), parse_pid(pid)?))
}

/// Parse `initctl list` output (in upstart's own, unsorted, order).
///
/// Empty output is an empty list. Any line that is neither a job line nor a
/// tab-indented process line following one is an error.
pub fn parse_list(out: &str) -> Result<Vec<JobStatus>, ParseError> {
    let mut jobs: Vec<JobStatus> = Vec::new();
    for (i, line) in out.split_terminator('\n').enumerate() {
        let err = |reason| ParseError {
            program: "initctl",
            line: i + 1,
            text: line.to_string(),
            reason,
        };
        if let Some(rest) = line.strip_prefix('\t') {
            let job = jobs
                .last_mut()
                .ok_or_else(|| err("process line with no job before it"))?;
            job.extra.push(parse_process_line(rest).map_err(err)?);
        } else {
            jobs.push(parse_job_line(line).map_err(err)?);
        }
    }
    Ok(jobs)
}

/// Parse the output of `initctl status JOB` (also `start`/`stop`/`restart`):
/// exactly one job, possibly with process continuation lines.
pub fn parse_status(out: &str) -> Result<JobStatus, ParseError> {
    let mut jobs = parse_list(out)?;
    if jobs.len() == 1 {
        return Ok(jobs.remove(0));
    }
    // Point at the second job line, or at line 1 of empty output.
    let (i, text) = out
        .split_terminator('\n')
        .enumerate()
        .filter(|(_, l)| !l.starts_with('\t'))
        .nth(1)
        .unwrap_or((0, ""));
    Err(ParseError {
        program: "initctl",
        line: i + 1,
        text: text.to_string(),
        reason: if jobs.is_empty() {
            "expected one job status, got no output"
        } else {
            "expected one job status, got more"
        },
    })
}

/// What went wrong, from initctl's stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitctlError {
    /// `Unknown job: X` (also how a job file with a syntax error shows).
    UnknownJob(String),
    /// `Job is already running: X`
    AlreadyRunning(String),
    /// `Unknown instance: ` (e.g. stopping a job that is already stopped).
    UnknownInstance,
    /// Could not reach init, e.g. when not root: the whole message without
    /// the program prefix (`Unable to connect to system bus: ...`).
    NoBus(String),
    /// Anything else: the whole stderr, trimmed.
    Other(String),
}

impl fmt::Display for InitctlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitctlError::UnknownJob(job) => write!(f, "Unknown job: {job}"),
            InitctlError::AlreadyRunning(job) => write!(f, "Job is already running: {job}"),
            InitctlError::UnknownInstance => f.write_str("Unknown instance"),
            InitctlError::NoBus(msg) | InitctlError::Other(msg) => f.write_str(msg),
        }
    }
}

impl Error for InitctlError {}

/// Classify initctl's stderr. Its messages are prefixed by the name it was
/// run as (`initctl:`, `start:`, `stop:`, `status:`, `restart:`, `reload:`);
/// the first non-empty line decides.
pub fn classify_stderr(stderr: &str) -> InitctlError {
    const PROGRAMS: &[&str] = &["initctl", "start", "stop", "status", "restart", "reload"];
    let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let message = PROGRAMS
        .iter()
        .find_map(|p| first.strip_prefix(p).and_then(|r| r.strip_prefix(": ")));
    let other = || InitctlError::Other(stderr.trim().to_string());
    let Some(message) = message else {
        return other();
    };
    if let Some(job) = message.strip_prefix("Unknown job: ") {
        InitctlError::UnknownJob(job.trim_end().to_string())
    } else if let Some(job) = message.strip_prefix("Job is already running: ") {
        InitctlError::AlreadyRunning(job.trim_end().to_string())
    } else if message.starts_with("Unknown instance:") {
        InitctlError::UnknownInstance
    } else if message.starts_with("Unable to connect to system bus")
        || message.starts_with("Unable to connect to Upstart")
    {
        InitctlError::NoBus(message.trim_end().to_string())
    } else {
        other()
    }
}
