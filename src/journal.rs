//! Backups: before the engine changes anything, the journal saves what was there (content,
//! mode, owner; a service's rc links; that a job was started) under
//! `/var/lib/blotctl/backups/<run id>/`, with `manifest.json` rewritten atomically after
//! every entry (write-ahead), so even a run killed half-way can be rolled back.
//!
//! A run id exists only for runs that changed something: the directory is created at the
//! first change.

use crate::plan::{Action, Change, RcLink};
use crate::sys::{Kind, Sys};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

pub const BACKUPS: &str = "/var/lib/blotctl/backups";
pub const LOCK: &str = "/var/lock/blotctl.lock";

/// What a path was before a run touched it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Original {
    Missing,
    File {
        mode: u32,
        uid: u32,
        gid: u32,
        blob: String,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum Entry {
    /// A path as it was; `created` is the blob of what the run wrote to a path that did not
    /// exist (so a rollback can tell whether it was changed since).
    Path {
        path: String,
        original: Original,
        created: Option<String>,
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
    /// `provision` or `rollback`.
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

    /// Save what `change` is about to alter. Must succeed before the change is applied.
    pub fn record(&mut self, sys: &Sys, change: &Change) -> Result<()> {
        let entry = match &change.action {
            Action::WriteFile { path, old, new, .. } => {
                if self.has_path(path) {
                    return Ok(());
                }
                let original = self.capture(sys, path)?;
                let created = match (old, &original) {
                    (None, Original::Missing) => Some(self.blob(sys, new)?),
                    _ => None,
                };
                Entry::Path {
                    path: path.clone(),
                    original,
                    created,
                }
            }
            Action::SetPerms { path, .. }
            | Action::CreateDir { path, .. }
            | Action::RemovePath { path } => {
                if self.has_path(path) {
                    return Ok(());
                }
                Entry::Path {
                    path: path.clone(),
                    original: self.capture(sys, path)?,
                    created: None,
                }
            }
            Action::ChkconfigOff { service } | Action::RestoreLinks { service, .. } => {
                Entry::Links {
                    service: service.clone(),
                    links: service_links(sys, service)?,
                }
            }
            Action::StartJob { job } => Entry::JobStarted { job: job.clone() },
            Action::SetKernel { path, from, .. } => Entry::KernelValue {
                path: path.clone(),
                value: from.clone(),
            },
            // A restart leaves the job as it found it (running): nothing to undo.
            Action::StopJob { .. }
            | Action::Run { .. }
            | Action::ReloadJobs { .. }
            | Action::RestartJob { .. } => return Ok(()),
        };
        self.open(sys)?;
        self.manifest.as_mut().expect("opened").entries.push(entry);
        self.save(sys)
    }

    fn has_path(&self, p: &str) -> bool {
        self.manifest.as_ref().is_some_and(|m| {
            m.entries
                .iter()
                .any(|e| matches!(e, Entry::Path { path, .. } if path == p))
        })
    }

    /// Create the run's directory at the first change.
    fn open(&mut self, sys: &Sys) -> Result<()> {
        if self.manifest.is_some() {
            return Ok(());
        }
        for dir in ["/var", "/var/lib", "/var/lib/blotctl", BACKUPS] {
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

/// Every recorded run, oldest first.
pub fn list(sys: &Sys) -> Result<Vec<Manifest>> {
    let Some(ids) = sys.list_dir(BACKUPS)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for id in ids {
        if let Some((text, _)) = sys.observe(&format!("{BACKUPS}/{id}/manifest.json"))? {
            let m: Manifest = serde_json::from_slice(&text)
                .with_context(|| format!("{BACKUPS}/{id}/manifest.json is damaged"))?;
            out.push(m);
        }
    }
    out.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    Ok(out)
}

/// Read a blob saved for a run.
pub fn read_blob(sys: &Sys, m: &Manifest, blob: &str) -> Result<Vec<u8>> {
    sys.observe(&format!("{}/{blob}", m.dir()))?
        .map(|(bytes, _)| bytes)
        .ok_or_else(|| anyhow!("backup {}/{blob} is missing", m.dir()))
}

/// The rc links of a service in /etc/rc.d/rc0.d … rc6.d (`SnnNAME`/`KnnNAME`).
pub fn service_links(sys: &Sys, service: &str) -> Result<Vec<RcLink>> {
    let mut out = Vec::new();
    for level in 0..=6u8 {
        let dir = RcLink::dir(level);
        for name in sys.list_dir(&dir)?.unwrap_or_default() {
            let b = name.as_bytes();
            let ours = b.len() > 3
                && (b[0] == b'S' || b[0] == b'K')
                && b[1].is_ascii_digit()
                && b[2].is_ascii_digit()
                && &name[3..] == service;
            if ours {
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
