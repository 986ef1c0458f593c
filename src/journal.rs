//! Backups: before the engine changes anything, the journal saves what was there (content,
//! mode, owner; a service's rc links; that a job was started) under
//! `/var/lib/blotctl/backups/<run id>/`, with `manifest.json` rewritten atomically after
//! every entry (write-ahead), so even a run killed half-way can be rolled back.
//!
//! A run id exists only for runs that changed something: the directory is created at the
//! first change.

use crate::config::Settings;
use crate::ctx::Ctx;
use crate::jobs::{self, Job};
use crate::plan::{Action, Change, RcLink};
use crate::sys::{Kind, Look, Sys};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

/// blotctl's own state: the backups, and what the validators accepted (`crate::validated`).
pub const STATE: &str = "/var/lib/blotctl";
pub const BACKUPS: &str = "/var/lib/blotctl/backups";
pub const LOCK: &str = "/var/lock/blotctl.lock";

/// What a path was before a run touched it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Original {
    Missing,
    /// A file; its contents are the blob, whose sha256 and size are recorded to check it
    /// before anything is restored from it.
    File {
        mode: u32,
        uid: u32,
        gid: u32,
        blob: String,
        sha256: String,
        size: u64,
    },
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Symlink {
        target: String,
    },
}

/// What the run left at a path (after its last change there): a rollback restores only a
/// path that is still so, and keeps (with a note) one that was changed since.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum After {
    Missing,
    /// `sha256` is `None` when the run changed only mode and owner (the contents are not
    /// the run's, e.g. a log the app keeps writing).
    File {
        mode: u32,
        uid: u32,
        gid: u32,
        sha256: Option<String>,
    },
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum Entry {
    /// A path as it was, and as the run left it.
    Path {
        path: String,
        original: Original,
        after: After,
    },
    /// A service's rc links before chkconfig changed them.
    Links { service: String, links: Vec<RcLink> },
    /// A job the run started.
    JobStarted { job: String },
    /// A live kernel value before the run set it.
    KernelValue { path: String, value: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub run_id: String,
    /// `provision`, `rollback`, `init`, `deploy` or `restart`.
    pub command: String,
    /// For a rollback: the run it undid.
    pub undoes: Option<String>,
    /// Set on a run once a rollback undid it.
    pub undone_by: Option<String>,
    pub entries: Vec<Entry>,
}

impl Manifest {
    pub fn dir(&self) -> String {
        format!("{BACKUPS}/{}", self.run_id)
    }
}

/// The sha256 of some bytes, in hex (as the manifest records blobs, and as `--host` names
/// and checks the binary it uploads).
pub use crate::validated::sha256;

/// Records originals for one run.
pub struct Journal {
    command: String,
    undoes: Option<String>,
    manifest: Option<Manifest>,
    blobs: usize,
}

impl Journal {
    pub fn new(command: &str, undoes: Option<String>) -> Journal {
        Journal {
            command: command.into(),
            undoes,
            manifest: None,
            blobs: 0,
        }
    }

    pub fn run_id(&self) -> Option<&str> {
        self.manifest.as_ref().map(|m| m.run_id.as_str())
    }

    /// The command whose run this journals (`provision`, `rollback`, ...).
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Save what `change` is about to alter. Must succeed before the change is applied.
    pub fn record(&mut self, sys: &Sys, ctx: &Ctx, change: &Change) -> Result<()> {
        let entry = match &change.action {
            Action::WriteFile {
                path, new, perms, ..
            } => {
                let after = After::File {
                    mode: perms.mode,
                    uid: perms.uid,
                    gid: perms.gid,
                    sha256: Some(sha256(new)),
                };
                return self.record_path(sys, path, after);
            }
            Action::SetPerms { path, to, .. } => {
                let after = match sys.meta(path)?.map(|m| m.kind) {
                    Some(Kind::Dir) => After::Dir {
                        mode: to.mode,
                        uid: to.uid,
                        gid: to.gid,
                    },
                    _ => After::File {
                        mode: to.mode,
                        uid: to.uid,
                        gid: to.gid,
                        sha256: None,
                    },
                };
                return self.record_path(sys, path, after);
            }
            Action::CreateDir { path, perms } => {
                let after = After::Dir {
                    mode: perms.mode,
                    uid: perms.uid,
                    gid: perms.gid,
                };
                return self.record_path(sys, path, after);
            }
            Action::RemovePath { path, .. } => return self.record_path(sys, path, After::Missing),
            Action::ChkconfigOff { service } | Action::RestoreLinks { service, .. } => {
                Entry::Links {
                    service: service.clone(),
                    links: service_links(sys, service)?,
                }
            }
            Action::StartJob { job } => return self.record_starts(sys, ctx, job),
            Action::SetKernel { path, from, .. } => Entry::KernelValue {
                path: path.clone(),
                value: from.clone(),
            },
            // A restart leaves the job as it found it (running): nothing to undo.
            Action::StopJob { .. }
            | Action::Run { .. }
            | Action::FastForward { .. }
            | Action::ReloadJobs { .. }
            | Action::RestartJob { .. } => return Ok(()),
        };
        self.push(sys, entry)
    }

    /// A start of `job`: upstart starts the jobs chained to it too (`start on started
    /// JOB`), so each of those that is not running now is recorded as started by this run
    /// as well, before the start. A rollback then stops every job the run set going, even
    /// when the run was stopped before it reached their own starts. Each job once per run.
    fn record_starts(&mut self, sys: &Sys, ctx: &Ctx, job: &str) -> Result<()> {
        let state = jobs::observe(ctx)?;
        let runs = |j: &str| {
            state
                .job(j)
                .is_some_and(|s| s.goal == crate::upstart::Goal::Start)
        };
        let chained = Job::named(job).map_or(Vec::new(), Job::chained);
        let mut starting = vec![job.to_string()];
        starting.extend(chained.iter().map(|j| j.to_string()).filter(|j| !runs(j)));
        for j in &starting {
            let known = self.manifest.as_ref().is_some_and(|m| {
                m.entries
                    .iter()
                    .any(|e| matches!(e, Entry::JobStarted { job } if job == j))
            });
            if !known {
                self.push(sys, Entry::JobStarted { job: j.to_string() })?;
            }
        }
        Ok(())
    }

    /// A path's original, saved once per run (before its first change), and what the run
    /// leaves there, updated with every change to it.
    fn record_path(&mut self, sys: &Sys, path: &str, after: After) -> Result<()> {
        if let Some(m) = self.manifest.as_mut() {
            let known = m.entries.iter_mut().find_map(|e| match e {
                Entry::Path { path: p, after, .. } if p == path => Some(after),
                _ => None,
            });
            if let Some(slot) = known {
                *slot = after;
                return self.save(sys);
            }
        }
        let original = self.capture(sys, path)?;
        self.push(
            sys,
            Entry::Path {
                path: path.to_string(),
                original,
                after,
            },
        )
    }

    fn push(&mut self, sys: &Sys, entry: Entry) -> Result<()> {
        self.open(sys)?;
        self.manifest.as_mut().expect("opened").entries.push(entry);
        self.save(sys)
    }

    /// Create the run's directory at the first change.
    fn open(&mut self, sys: &Sys) -> Result<()> {
        if self.manifest.is_some() {
            return Ok(());
        }
        for dir in ["/var", "/var/lib", STATE, BACKUPS] {
            if sys.meta(dir)?.is_none() {
                sys.create_dir(dir, 0o700, 0, 0)?;
            }
        }
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
            .to_string()
            .replace(['-', ':'], "");
        let mut id = stamp.clone();
        let mut n = 1;
        while sys.meta(&format!("{BACKUPS}/{id}"))?.is_some() {
            n += 1;
            id = format!("{stamp}-{n}");
        }
        sys.create_dir(&format!("{BACKUPS}/{id}"), 0o700, 0, 0)?;
        self.manifest = Some(Manifest {
            run_id: id,
            command: self.command.clone(),
            undoes: self.undoes.clone(),
            undone_by: None,
            entries: Vec::new(),
        });
        Ok(())
    }

    fn capture(&mut self, sys: &Sys, path: &str) -> Result<Original> {
        Ok(match sys.meta(path)? {
            None => Original::Missing,
            Some(m) => match m.kind {
                Kind::File => {
                    let (bytes, m) = sys
                        .observe(path)?
                        .ok_or_else(|| anyhow!("{path} disappeared while being backed up"))?;
                    Original::File {
                        mode: m.mode,
                        uid: m.uid,
                        gid: m.gid,
                        blob: self.blob(sys, &bytes)?,
                        sha256: sha256(&bytes),
                        size: bytes.len() as u64,
                    }
                }
                Kind::Dir => Original::Dir {
                    mode: m.mode,
                    uid: m.uid,
                    gid: m.gid,
                },
                Kind::Symlink => Original::Symlink {
                    target: sys.read_link(path)?.unwrap_or_default(),
                },
                Kind::Other => {
                    bail!("{path} is neither a file nor a directory; blotctl will not touch it")
                }
            },
        })
    }

    fn blob(&mut self, sys: &Sys, bytes: &[u8]) -> Result<String> {
        self.open(sys)?;
        self.blobs += 1;
        let name = format!("blob-{}", self.blobs);
        let dir = self.manifest.as_ref().expect("opened").dir();
        sys.write_atomic(&format!("{dir}/{name}"), bytes, 0o600, 0, 0)?;
        Ok(name)
    }

    fn save(&self, sys: &Sys) -> Result<()> {
        let m = self.manifest.as_ref().expect("opened");
        save(sys, m)
    }
}

pub fn save(sys: &Sys, m: &Manifest) -> Result<()> {
    let text = serde_json::to_vec_pretty(m)?;
    sys.write_atomic(&format!("{}/manifest.json", m.dir()), &text, 0o600, 0, 0)
}

/// A recorded run: its manifest, or why it cannot be used (a damaged manifest affects
/// only its own run).
pub struct Run {
    pub id: String,
    pub manifest: std::result::Result<Manifest, String>,
}

/// Every recorded run, oldest first. A run whose manifest cannot be read, does not parse,
/// or names what no run of blotctl could have recorded is listed as damaged.
pub fn list(sys: &dyn Look, settings: &Settings) -> Result<Vec<Run>> {
    let Some(ids) = sys.list_dir(BACKUPS)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for id in ids.into_iter().filter(|n| !n.starts_with('.')) {
        let path = format!("{BACKUPS}/{id}/manifest.json");
        let manifest = match sys.observe(&path) {
            Ok(None) => continue, // killed before its first entry was saved
            Err(e) => Err(format!("{e:#}")),
            Ok(Some((text, _))) => serde_json::from_slice::<Manifest>(&text)
                .map_err(|e| format!("{path} is not a manifest blotctl wrote: {e}"))
                .and_then(|m| check_manifest(&m, &id, settings).map(|()| m)),
        };
        out.push(Run { id, manifest });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// What a manifest may say: only what a run of blotctl with these settings could have
/// recorded. Anything else (a path it does not manage, a blob name that is a path, a
/// setuid bit, sudoers owned by someone else, a kernel file it never sets) means the
/// manifest was tampered with, and nothing is restored from it.
fn check_manifest(m: &Manifest, id: &str, settings: &Settings) -> std::result::Result<(), String> {
    if m.run_id != id {
        return Err(format!(
            "it names run {:?}, but lives in {BACKUPS}/{id}",
            m.run_id
        ));
    }
    if !["provision", "rollback", "init", "deploy", "restart"].contains(&m.command.as_str()) {
        return Err(format!("unknown command {:?}", m.command));
    }
    let services: Vec<String> = crate::steps::chkconfig::services_of(settings);
    let perms_ok = |path: &str, kind: &str, mode: u32, uid: u32, gid: u32| {
        if mode & !0o7777 != 0 || (kind == "file" && mode & 0o7000 != 0) {
            return Err(format!(
                "{path}: mode {mode:04o} (setuid, setgid or sticky on a file blotctl manages)"
            ));
        }
        if path.starts_with("/etc/") && uid != 0 {
            return Err(format!(
                "{path}: owner uid {uid} (files blotctl manages in /etc are root's)"
            ));
        }
        if path == crate::steps::sudoers::PATH && (uid != 0 || gid != 0 || mode & 0o022 != 0) {
            return Err(format!(
                "{path}: mode {mode:04o}, owner {uid}:{gid} (sudo accepts only root's, not writable by others)"
            ));
        }
        Ok(())
    };
    for e in &m.entries {
        match e {
            Entry::Path {
                path,
                original,
                after,
            } => {
                if !crate::steps::manages(settings, path) {
                    return Err(format!(
                        "it names {path}, which is not a path blotctl manages"
                    ));
                }
                match original {
                    Original::File {
                        mode,
                        uid,
                        gid,
                        blob,
                        sha256,
                        size,
                    } => {
                        let n = blob.strip_prefix("blob-").unwrap_or("");
                        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                            return Err(format!("{path}: blob name {blob:?}"));
                        }
                        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                            return Err(format!("{path}: sha256 {sha256:?}"));
                        }
                        if *size > crate::sys::MAX_READ {
                            return Err(format!("{path}: size {size}"));
                        }
                        perms_ok(path, "file", *mode, *uid, *gid)?;
                    }
                    Original::Dir { mode, uid, gid } => perms_ok(path, "dir", *mode, *uid, *gid)?,
                    Original::Missing | Original::Symlink { .. } => {}
                }
                match after {
                    After::File { mode, uid, gid, .. } => {
                        perms_ok(path, "file", *mode, *uid, *gid)?
                    }
                    After::Dir { mode, uid, gid } => perms_ok(path, "dir", *mode, *uid, *gid)?,
                    After::Missing => {}
                }
            }
            Entry::Links { service, links } => {
                if !services.contains(service) {
                    return Err(format!(
                        "rc links of {service:?}, not a service blotctl turns off"
                    ));
                }
                for l in links {
                    let b = l.name.as_bytes();
                    let named = b.len() == 3 + service.len()
                        && (b[0] == b'S' || b[0] == b'K')
                        && b[1].is_ascii_digit()
                        && b[2].is_ascii_digit()
                        && l.name[3..] == **service;
                    if l.level > 6 || !named || l.target != format!("../init.d/{service}") {
                        return Err(format!(
                            "an rc link {:?} -> {:?} of {service}",
                            l.name, l.target
                        ));
                    }
                }
            }
            Entry::JobStarted { job } => {
                if Job::named(job).is_none() {
                    return Err(format!("a started job {job:?} that is not blotctl's"));
                }
            }
            Entry::KernelValue { path, value } => {
                let known = [
                    crate::steps::hostsettings::THP,
                    crate::steps::hostsettings::OVERCOMMIT,
                ];
                let word = !value.is_empty()
                    && value.len() <= 16
                    && value.bytes().all(|b| b.is_ascii_alphanumeric());
                if !known.contains(&path.as_str()) || !word {
                    return Err(format!("a kernel value {path} = {value:?}"));
                }
            }
        }
    }
    Ok(())
}

/// Read a blob saved for a run, checked against what the manifest recorded: a regular
/// file (no link on the way) of the recorded size and sha256.
pub fn read_blob(
    sys: &dyn Look,
    m: &Manifest,
    blob: &str,
    sha: &str,
    size: u64,
) -> Result<Vec<u8>> {
    let path = format!("{}/{blob}", m.dir());
    let bytes = sys
        .observe(&path)
        .with_context(|| format!("cannot use the backup {path}"))?
        .map(|(bytes, _)| bytes)
        .ok_or_else(|| anyhow!("the backup {path} is missing"))?;
    if bytes.len() as u64 != size || sha256(&bytes) != sha {
        bail!(
            "the backup {path} is not what run {} saved ({} bytes, sha256 {}; the manifest \
             says {size} bytes, sha256 {sha}): refusing to restore from it",
            m.run_id,
            bytes.len(),
            sha256(&bytes)
        );
    }
    Ok(bytes)
}

/// The rc links of a service in /etc/rc.d/rc0.d … rc6.d (`SnnNAME`/`KnnNAME`).
pub fn service_links(sys: &dyn Look, service: &str) -> Result<Vec<RcLink>> {
    let mut out = Vec::new();
    for level in 0..=6u8 {
        let dir = RcLink::dir(level);
        for name in sys.list_dir(&dir)?.unwrap_or_default() {
            if crate::chkconfig::is_link_of(&name, service) {
                let path = format!("{dir}/{name}");
                let target = sys.read_link(&path)?.unwrap_or_default();
                out.push(RcLink {
                    level,
                    name,
                    target,
                });
            }
        }
    }
    Ok(out)
}
