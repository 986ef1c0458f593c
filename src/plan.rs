//! Plans are data: what a step found that differs from what it wants.
//!
//! A step observes and returns a [`StepPlan`]; it never acts. Only the engine turns a
//! [`Change`] into an effect, through `sys`.

use crate::sys::Meta;
use serde::Serialize;

/// Owner and mode wanted for a managed path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Perms {
    /// Serialized as an octal string (`"0440"`), as people write modes.
    #[serde(serialize_with = "octal")]
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Perms {
    /// The mode and owner a path has.
    pub fn of(meta: Meta) -> Perms {
        Perms {
            mode: meta.mode,
            uid: meta.uid,
            gid: meta.gid,
        }
    }
}

fn octal<S: serde::Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{mode:04o}"))
}

/// One action the engine can take.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Create or replace a file's contents (atomically), with its final mode and owner.
    /// `old` is what was observed: the engine refuses if the file changed since.
    WriteFile {
        path: String,
        #[serde(skip)]
        old: Option<Vec<u8>>,
        #[serde(skip)]
        new: Vec<u8>,
        perms: Perms,
        /// The mode and owner the existing file has, when they differ from `perms` (the
        /// summary says so too, so the JSON plan shows it).
        #[serde(skip)]
        old_perms: Option<Perms>,
    },
    /// Fix mode and/or owner of an existing path.
    SetPerms {
        path: String,
        from: Perms,
        to: Perms,
    },
    /// Create a directory.
    CreateDir { path: String, perms: Perms },
    /// Run a command (argv); exit 0 is success.
    Run { argv: Vec<String> },
    /// Start an upstart job and wait until it is `start/running` with a process.
    StartJob { job: String },
    /// `initctl reload-configuration`, then every job in `jobs` must be listed (a job file
    /// upstart cannot parse is silently not loaded).
    ReloadJobs { jobs: Vec<String> },
    /// Stop an upstart job (`Unknown instance` means it was already stopped).
    StopJob { job: String },
    /// `chkconfig SERVICE off`. The journal saves the service's rc links first.
    ChkconfigOff { service: String },
    /// Make a service's rc links exactly these (rollback of chkconfig).
    /// `from` is what was observed: the engine refuses if the links changed since.
    RestoreLinks {
        service: String,
        from: Vec<RcLink>,
        links: Vec<RcLink>,
    },
    /// Remove a file or an (empty) directory that a run created.
    /// `old` is the file's contents as observed (`None` for a directory, which must be
    /// empty): the engine refuses if it changed since.
    RemovePath {
        path: String,
        #[serde(skip)]
        old: Option<Vec<u8>>,
    },
    /// Set a live kernel value (a file under /proc/sys or /sys, written in place: such
    /// files cannot be replaced by rename), then read it back. `from` is the value that was
    /// observed (for a `[selected]` list such as THP's, the selected word).
    SetKernel {
        path: String,
        from: String,
        to: String,
    },
    /// Fast-forward the app checkout (`deploy`): with `git` (the argv in front of git's
    /// own arguments, `sudo -n -H -u USER git -C DIR` on the box), fetch `remote`'s
    /// `branch` unless commit `to` is here already, refuse unless HEAD is still `from` and
    /// `to` is a fast-forward of it, then `git merge --ff-only to`.
    FastForward {
        git: Vec<String>,
        dir: String,
        remote: String,
        branch: String,
        from: String,
        to: String,
    },
    /// Restart an upstart job: stop it (`Unknown instance` means it was stopped already),
    /// start it, wait until it is start/running (and, with `probe`, its health probe
    /// answers); then wait the same way for `dependents`, the jobs upstart stops with it and
    /// starts again by their `start on started JOB` (blot with redis). `provision` restarts
    /// without probes, as it starts (health is `verify`'s); `deploy` and `restart` probe.
    RestartJob {
        job: String,
        dependents: Vec<String>,
        probe: bool,
    },
}

/// One `/etc/rc.d/rcN.d/SnnNAME -> ../init.d/NAME` link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RcLink {
    pub level: u8,
    pub name: String,
    pub target: String,
}

impl RcLink {
    pub fn dir(level: u8) -> String {
        format!("/etc/rc.d/rc{level}.d")
    }
    pub fn path(&self) -> String {
        format!("{}/{}", Self::dir(self.level), self.name)
    }
}

/// One change a step wants, with a one-line description for people.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub summary: String,
    pub action: Action,
    /// Set when the change cannot be applied safely as things are (e.g. no visudo to
    /// validate with, init state unknown): a dry run reports it, a real run refuses to
    /// start with this text as the reason.
    pub blocked: Option<String>,
    /// For a file write: the validator that accepted the new contents while planning, and
    /// what it read. The engine records it once the file is written (`crate::validated`).
    #[serde(skip)]
    pub validated: Option<crate::validated::Validation>,
}

impl Change {
    pub fn new(summary: impl Into<String>, action: Action) -> Change {
        Change {
            summary: summary.into(),
            action,
            blocked: None,
            validated: None,
        }
    }

    /// This change's new contents were accepted by `v` (see [`Change::validated`]).
    pub fn validated_by(mut self, v: Option<crate::validated::Validation>) -> Change {
        self.validated = v;
        self
    }

    pub fn blocked(mut self, why: impl Into<String>) -> Change {
        self.blocked = Some(why.into());
        self
    }

    /// The unified diff of a file write, or the metadata change, for people.
    pub fn detail(&self) -> Option<String> {
        match &self.action {
            Action::WriteFile {
                path,
                old,
                new,
                perms,
                old_perms,
            } => {
                let diff = file_diff(path, old.as_deref(), new);
                let meta = old_perms.map(|from| perms_diff(path, from, *perms));
                let detail = diff.unwrap_or_default() + &meta.unwrap_or_default();
                (!detail.is_empty()).then_some(detail)
            }
            Action::SetPerms { path, from, to } => Some(perms_diff(path, *from, *to)),
            Action::SetKernel { path, from, to } => Some(format!("  {path}: {from} -> {to}\n")),
            _ => None,
        }
    }
}

/// How a step ended up.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// Observed state is desired state (possibly with changes to make, see `changes`).
    Planned,
    /// The thing the step manages is not on this box (e.g. a service not installed).
    Absent { reason: String },
    /// The step was not run (e.g. `--no-start`).
    Skipped { reason: String },
}

/// Something a step needed to observe but could not here: live state (job state, running
/// processes, kernel values) off the box, or under `--offline`. Never a change and never
/// "in sync": a dry run counts it on its own, a real run refuses, `--strict` makes it an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotChecked {
    /// What would have been checked (and done about it), e.g. "start redis unless it runs".
    pub summary: String,
    /// Why it could not be checked here, e.g. "init state unknown: initctl is not on PATH".
    pub reason: String,
    /// A real run refuses to start while this is unknown: it would have to act on it (start,
    /// restart, stop a job). False for what no run here could act on anyway: live kernel
    /// values under `--root` belong to this machine, not to the tree.
    #[serde(skip)]
    pub blocking: bool,
}

impl NotChecked {
    pub fn new(summary: impl Into<String>, reason: impl Into<String>) -> NotChecked {
        NotChecked {
            summary: summary.into(),
            reason: reason.into(),
            blocking: true,
        }
    }

    /// Not checked, and nothing a real run here would act on (see `blocking`).
    pub fn beyond_this_run(summary: impl Into<String>, reason: impl Into<String>) -> NotChecked {
        NotChecked {
            blocking: false,
            ..NotChecked::new(summary, reason)
        }
    }
}

/// What one step observed and wants done.
#[derive(Debug, Clone, Serialize)]
pub struct StepPlan {
    pub status: Status,
    pub changes: Vec<Change>,
    /// What this step could not observe here (see [`NotChecked`]).
    pub not_checked: Vec<NotChecked>,
    /// Things a person should know that are not changes (e.g. visudo missing in a dry run).
    pub warnings: Vec<String>,
    /// Plain facts worth a line (e.g. a service that is not installed).
    pub notes: Vec<String>,
}

impl StepPlan {
    pub fn changes(changes: Vec<Change>) -> StepPlan {
        StepPlan {
            status: Status::Planned,
            changes,
            not_checked: Vec::new(),
            warnings: Vec::new(),
            notes: Vec::new(),
        }
    }
    pub fn absent(reason: impl Into<String>) -> StepPlan {
        StepPlan {
            status: Status::Absent {
                reason: reason.into(),
            },
            changes: Vec::new(),
            not_checked: Vec::new(),
            warnings: Vec::new(),
            notes: Vec::new(),
        }
    }
    pub fn skipped(reason: impl Into<String>) -> StepPlan {
        StepPlan {
            status: Status::Skipped {
                reason: reason.into(),
            },
            changes: Vec::new(),
            not_checked: Vec::new(),
            warnings: Vec::new(),
            notes: Vec::new(),
        }
    }
    pub fn warn(mut self, w: impl Into<String>) -> StepPlan {
        self.warnings.push(w.into());
        self
    }
    pub fn note(mut self, n: impl Into<String>) -> StepPlan {
        self.notes.push(n.into());
        self
    }
}

/// Plan a file: its contents and its perms, compared with what is there.
/// `what` describes the content change (e.g. "comment out requiretty").
pub fn plan_file(
    path: &str,
    current: Option<(&[u8], Meta)>,
    desired: &[u8],
    perms: Perms,
    what: &str,
) -> Vec<Change> {
    match current {
        None => vec![Change::new(
            format!("create {path} ({})", perms_text(perms)),
            Action::WriteFile {
                path: path.into(),
                old: None,
                new: desired.to_vec(),
                perms,
                old_perms: None,
            },
        )],
        Some((old, meta)) if old != desired => {
            let from = Perms::of(meta);
            let (summary, old_perms) = if from == perms {
                (format!("{what} in {path}"), None)
            } else {
                let also = perms_changes(from, perms).join(", ");
                (format!("{what} in {path}, and {also}"), Some(from))
            };
            vec![Change::new(
                summary,
                Action::WriteFile {
                    path: path.into(),
                    old: Some(old.to_vec()),
                    new: desired.to_vec(),
                    perms,
                    old_perms,
                },
            )]
        }
        Some((_, meta)) => plan_perms(path, meta, perms).into_iter().collect(),
    }
}

/// A perms change when `meta` differs from `want`.
pub fn plan_perms(path: &str, meta: Meta, want: Perms) -> Option<Change> {
    let from = Perms::of(meta);
    (from != want).then(|| {
        Change::new(
            format!("set {path} to {}", perms_text(want)),
            Action::SetPerms {
                path: path.into(),
                from,
                to: want,
            },
        )
    })
}

pub fn perms_text(p: Perms) -> String {
    format!("mode {:04o}, owner {}:{}", p.mode, p.uid, p.gid)
}

/// What changes between two perms: `mode 0644 -> 0440`, `owner 500:500 -> 0:0`.
fn perms_changes(from: Perms, to: Perms) -> Vec<String> {
    let mut parts = Vec::new();
    if from.mode != to.mode {
        parts.push(format!("mode {:04o} -> {:04o}", from.mode, to.mode));
    }
    if (from.uid, from.gid) != (to.uid, to.gid) {
        parts.push(format!(
            "owner {}:{} -> {}:{}",
            from.uid, from.gid, to.uid, to.gid
        ));
    }
    parts
}

/// One indented line per change: `  PATH: mode 0644 -> 0440`.
fn perms_diff(path: &str, from: Perms, to: Perms) -> String {
    perms_changes(from, to)
        .iter()
        .map(|c| format!("  {path}: {c}\n"))
        .collect()
}

/// The unified diff of a file's contents; nothing for a new empty file (its summary line,
/// `create PATH (mode, owner)`, says all there is).
fn file_diff(path: &str, old: Option<&[u8]>, new: &[u8]) -> Option<String> {
    if old.is_none() && new.is_empty() {
        return None;
    }
    let old_text = old.map(String::from_utf8_lossy).unwrap_or_default();
    let new_text = String::from_utf8_lossy(new);
    let old_name = if old.is_some() {
        path.to_string()
    } else {
        "/dev/null".to_string()
    };
    let diff = similar::TextDiff::from_lines(old_text.as_ref(), new_text.as_ref());
    let mut out = diff
        .unified_diff()
        .context_radius(3)
        .header(&old_name, path)
        .to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Some(out)
}

/// One step's plan, or why it could not observe.
pub struct Planned {
    pub name: &'static str,
    pub plan: anyhow::Result<StepPlan>,
}

impl Planned {
    pub fn changes(&self) -> &[Change] {
        match &self.plan {
            Ok(p) => &p.changes,
            Err(_) => &[],
        }
    }
}

/// The word a kernel file holds: the `[selected]` one of a list such as THP's
/// (`always madvise [never]`), else the trimmed contents.
pub fn kernel_value(raw: &str) -> String {
    match (raw.find('['), raw.find(']')) {
        (Some(a), Some(b)) if a < b => raw[a + 1..b].to_string(),
        _ => raw.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::Kind;

    const P: Perms = Perms {
        mode: 0o440,
        uid: 0,
        gid: 0,
    };

    fn meta(mode: u32) -> Meta {
        Meta {
            kind: Kind::File,
            mode,
            uid: 0,
            gid: 0,
            nlink: 1,
        }
    }

    #[test]
    fn same_content_and_perms_is_no_change() {
        assert!(plan_file("/f", Some((b"a\n", meta(0o440))), b"a\n", P, "edit").is_empty());
    }

    #[test]
    fn perms_only_change_shows_mode() {
        let c = plan_file("/f", Some((b"a\n", meta(0o644))), b"a\n", P, "edit");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].detail().unwrap(), "  /f: mode 0644 -> 0440\n");
    }

    #[test]
    fn a_content_change_shows_a_mode_change_beside_its_diff() {
        let c = plan_file("/f", Some((b"a\nb\n", meta(0o644))), b"a\nc\n", P, "edit");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].summary, "edit in /f, and mode 0644 -> 0440");
        assert_eq!(
            c[0].detail().unwrap(),
            "--- /f\n+++ /f\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n  /f: mode 0644 -> 0440\n"
        );
    }

    #[test]
    fn a_new_file_has_one_summary_and_its_diff() {
        let c = plan_file("/f", None, b"a\n", P, "edit");
        assert_eq!(c[0].summary, "create /f (mode 0440, owner 0:0)");
        assert_eq!(
            c[0].detail().unwrap(),
            "--- /dev/null\n+++ /f\n@@ -0,0 +1 @@\n+a\n"
        );
        let empty = plan_file("/f", None, b"", P, "edit");
        assert_eq!(empty[0].detail(), None);
    }

    #[test]
    fn content_change_is_a_unified_diff() {
        let c = plan_file("/f", Some((b"a\nb\n", meta(0o440))), b"a\nc\n", P, "edit");
        assert_eq!(
            c[0].detail().unwrap(),
            "--- /f\n+++ /f\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
        );
    }
}
