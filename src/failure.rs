//! Why a command failed, and what that means: the exit codes, the kinds of error (`error.kind`
//! in JSON), the marker errors (usage, not root, interrupted), and the `hint:` for what an
//! operator can fix. One place for them all.

use crate::sys::Stop;
use serde::Serialize;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_PENDING: u8 = 2;
pub const EXIT_USAGE: u8 = 64;

/// An error fixed by changing the command line (exit 64).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

/// What kind of error stopped a command (`error.kind` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The command line is wrong (exit 64).
    Usage,
    /// A settings file, `BLOTCTL_*` variable or `--set` value is wrong.
    Settings,
    /// Another blotctl run holds the run lock.
    Lock,
    /// The command must run as root.
    NotRoot,
    /// `--root` (or `/`) is not an Amazon Linux box.
    NotABox,
    /// The plan has failed steps, blocked changes or things not checked: nothing changed.
    Refused,
    /// `--strict`: something could not be checked here.
    NotChecked,
    /// Anything else: a change that failed, a run that did not converge, a failed check.
    Failed,
}

/// An error tagged with its [`ErrorKind`]. Displays as the error it wraps (its causes
/// follow in the chain), so tagging changes no message.
#[derive(Debug)]
pub struct Kinded {
    pub kind: ErrorKind,
    inner: anyhow::Error,
}

impl std::fmt::Display for Kinded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for Kinded {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.chain().nth(1)
    }
}

/// Tag an error with its kind.
pub fn kinded(kind: ErrorKind, inner: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(Kinded { kind, inner })
}

/// The kind of an error: its tag, or from the marker types it carries.
pub fn kind_of(err: &anyhow::Error) -> ErrorKind {
    if let Some(k) = err.downcast_ref::<Kinded>() {
        return k.kind;
    }
    if err.downcast_ref::<UsageError>().is_some() {
        return ErrorKind::Usage;
    }
    if err.downcast_ref::<NotRoot>().is_some() {
        return ErrorKind::NotRoot;
    }
    ErrorKind::Failed
}

/// A real run stopped at a safe point by a signal (exit 128 + the signal, as a shell
/// reports a process the signal ended) or because its output could not be written (exit 1).
#[derive(Debug)]
pub struct Interrupted {
    pub stop: Stop,
    msg: String,
}

impl Interrupted {
    /// What was done, and what to do now: run again to finish, or roll back.
    pub fn new(
        stop: &Stop,
        command: &str,
        done: usize,
        total: usize,
        run_id: Option<&str>,
        abandoned: Option<String>,
    ) -> Interrupted {
        let cause = match stop {
            Stop::Signal(libc::SIGINT) => "interrupted by SIGINT".to_string(),
            Stop::Signal(libc::SIGTERM) => "interrupted by SIGTERM".to_string(),
            Stop::Signal(libc::SIGHUP) => {
                "interrupted by SIGHUP (the terminal or ssh session went away)".to_string()
            }
            Stop::Signal(libc::SIGPIPE) => {
                "interrupted by SIGPIPE (its output was closed)".to_string()
            }
            Stop::Signal(n) => format!("interrupted by signal {n}"),
            Stop::Output(why) => format!("stopped because its output failed ({why})"),
        };
        let under_way = match &abandoned {
            None => " (the one under way was finished first)".to_string(),
            Some(a) => format!("; the next, {a}"),
        };
        let msg = match run_id {
            None => format!("{cause} before any change: no managed file was changed"),
            Some(id) => format!(
                "{cause} after {done} of {total} changes, each one whole{under_way}: run \
                 `blotctl {command}` again to finish, or undo them with `blotctl rollback {id}`"
            ),
        };
        Interrupted {
            stop: stop.clone(),
            msg,
        }
    }
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}
impl std::error::Error for Interrupted {}

/// "Must be root", with what needed it: a type, so the hint can say what to do.
#[derive(Debug)]
pub struct NotRoot(pub String);
impl std::fmt::Display for NotRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for NotRoot {}

const HINT_ROOT: &str =
    "run it with sudo; `blotctl provision --dry-run` shows the plan and changes nothing";

/// A `hint:` line for situations an operator can fix.
pub fn hint(err: &anyhow::Error) -> Option<&'static str> {
    match kind_of(err) {
        ErrorKind::NotRoot => Some(HINT_ROOT),
        ErrorKind::NotABox => Some(
            "point --root at a copy of the box: `sudo blotctl capture DIR` on the box makes one",
        ),
        ErrorKind::NotChecked => Some(
            "off the box, job state, processes and live kernel values cannot be checked; \
             drop --strict to count them apart",
        ),
        _ => hint_for(&format!("{err:#}")),
    }
}

/// The exit code of a command that failed with `err`: 64 for usage errors, 128 + N for a
/// run stopped by signal N, else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if let Some(i) = err.downcast_ref::<Interrupted>() {
        if let Stop::Signal(n) = i.stop {
            return (128 + n) as u8;
        }
    }
    match kind_of(err) {
        ErrorKind::Usage => EXIT_USAGE,
        _ => EXIT_FAILED,
    }
}

/// The hint for an error's text (also for the reasons of failed steps and checks).
pub fn hint_for(text: &str) -> Option<&'static str> {
    if text.contains("Permission denied") {
        Some(
            "blotctl reads root-only files (/etc/sudoers is 0440): run it with sudo (a dry run \
             changes nothing), or point --root at a readable copy of the box",
        )
    } else if text.contains("init state unknown") || text.contains("cannot reach upstart") {
        Some("run as root on the box itself, where initctl can reach upstart; or use --dry-run")
    } else if text.contains("visudo is not installed") {
        Some("install sudo (it provides visudo): yum install sudo")
    } else if text.contains("not a terminal") {
        Some("add --yes to apply without asking")
    } else {
        None
    }
}
