//! `blotctl rollback`: plan the changes that put back what a run's journal saved. The plan
//! is compared with the box as it is now, so a rollback is idempotent; the same engine
//! applies it (and journals it: a rollback is itself a run, which can be rolled back too).
//!
//! One rule for every path: a path is put back only while it is still exactly what the
//! run left there (contents, mode, owner); a path changed since (a hand edit, a later run)
//! is kept as it is, with a note naming it and where its original is. Every blob is
//! checked against the sha256 and size the manifest recorded before anything is restored,
//! and a manifest that names what no run of blotctl could have recorded is refused
//! (`journal::list` marks it damaged; other runs are unaffected).

use crate::ctx::Ctx;
use crate::failure::{kinded, ErrorKind, UsageError};
use crate::jobs::{observe, unknown_reason, InitState};
use crate::journal::{self, After, Entry, Manifest, Original};
use crate::plan::{plan_file, plan_perms, Action, Change, NotChecked, Perms, StepPlan};
use crate::steps::init::plan_jobs;
use crate::sys::{Kind, Meta};
use anyhow::{anyhow, Result};

/// Which run a rollback undoes.
pub enum Target<'a> {
    /// This run's manifest; `passed` names the damaged runs after it that were passed over.
    Undo {
        manifest: &'a Manifest,
        passed: Vec<String>,
    },
    /// Nothing to undo, and why.
    Nothing(String),
}

/// The run `id` names, or without one the newest intact provision run (damaged runs after
/// it are passed over: a path they changed is not what this run left, so it is kept, with
/// a note). A run rolled back already leaves nothing to undo.
pub fn target<'a>(runs: &'a [journal::Run], id: Option<&str>) -> Result<Target<'a>> {
    let (manifest, passed) = match id {
        Some(id) => match runs.iter().find(|r| r.id == id) {
            None => {
                return Err(UsageError(format!(
                    "no run {id} in {} (see `blotctl rollback --list`)",
                    journal::BACKUPS
                ))
                .into())
            }
            Some(journal::Run {
                manifest: Err(why), ..
            }) => {
                return Err(kinded(
                    ErrorKind::Refused,
                    anyhow!(
                        "run {id} cannot be rolled back, its manifest is damaged: {why}; no \
                         managed file was changed"
                    ),
                ))
            }
            Some(journal::Run {
                manifest: Ok(m), ..
            }) => (m, Vec::new()),
        },
        None => {
            let newest = runs
                .iter()
                .rev()
                .find(|r| r.manifest.as_ref().is_ok_and(|m| m.command == "provision"));
            let mut passed = Vec::new();
            for r in runs.iter().rev() {
                if newest.is_some_and(|n| n.id >= r.id) {
                    break;
                }
                if let Err(why) = &r.manifest {
                    passed.push(format!("run {}, its manifest is damaged: {why}", r.id));
                }
            }
            match newest.map(|r| &r.manifest) {
                Some(Ok(m)) => (m, passed),
                _ if !passed.is_empty() => {
                    return Err(kinded(
                        ErrorKind::Refused,
                        anyhow!(
                            "no provision run can be rolled back: {}; no managed file was \
                             changed",
                            passed.join("; ")
                        ),
                    ))
                }
                _ => {
                    let why = "nothing to undo: no provision run is recorded";
                    return Ok(Target::Nothing(why.into()));
                }
            }
        }
    };
    Ok(match &manifest.undone_by {
        Some(by) => Target::Nothing(format!(
            "nothing to undo: run {} was already rolled back by {by}",
            manifest.run_id
        )),
        None => Target::Undo { manifest, passed },
    })
}

/// The changes that undo `m` (with notes about what is deliberately kept): jobs the run
/// started are stopped, files, modes, owners, rc links and live kernel values put back;
/// then, as `provision` would after writing them, upstart reloads the job files and a
/// running job whose file (monit: its control file) was put back is restarted.
pub fn plan(ctx: &Ctx, m: &Manifest) -> Result<StepPlan> {
    let sys = ctx.sys;
    let mut changes = Vec::new();
    let mut not_checked = Vec::new();
    let mut notes = Vec::new();

    // Stop the jobs the run started (last started first), before their files go.
    let started: Vec<&str> = m
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::JobStarted { job } => Some(job.as_str()),
            _ => None,
        })
        .collect();
    let state = observe(ctx)?;
    if !started.is_empty() {
        for job in started.iter().rev() {
            let stop = Change::new(
                format!("stop {job}"),
                Action::StopJob {
                    job: job.to_string(),
                },
            );
            match &state {
                InitState::Unknown(why) => not_checked.push(NotChecked::new(
                    format!("stop {job} if it runs (run {} started it)", m.run_id),
                    unknown_reason(why),
                )),
                s => {
                    if s.job(job)
                        .is_some_and(|j| j.goal == crate::upstart::Goal::Start)
                    {
                        changes.push(stop);
                    }
                }
            }
        }
    }

    // Paths, newest first (files inside a directory the run created go before it). One
    // rule for every path: it is restored only while it is still what the run left there;
    // one changed since (contents, mode or owner) is kept as it is, with a note.
    let mut removing: Vec<String> = Vec::new();
    for e in m.entries.iter().rev() {
        let Entry::Path {
            path,
            original,
            after,
        } = e
        else {
            continue;
        };
        let now = Now::observe(sys, path)?;
        if now.is_original(original) {
            continue;
        }
        if !now.is_after(after) {
            let from = match original {
                Original::File { blob, .. } => format!("; its original is {}/{blob}", m.dir()),
                _ => String::new(),
            };
            notes.push(format!(
                "kept {path}: it changed after run {} (it is not what the run left there){from}",
                m.run_id
            ));
            continue;
        }
        let why = format!("as before run {}", m.run_id);
        match (original, &now) {
            (Original::Missing, Now::Missing) => {}
            (Original::Missing, Now::Dir(_)) => {
                let inside = sys.list_dir(path)?.unwrap_or_default();
                let all_going = inside
                    .iter()
                    .all(|n| removing.contains(&format!("{path}/{n}")));
                if !all_going {
                    notes.push(format!(
                        "kept {path}/: it holds files the run did not create"
                    ));
                    continue;
                }
                removing.push(path.clone());
                changes.push(Change::new(
                    format!("remove {path}/ (run {} created it)", m.run_id),
                    Action::RemovePath {
                        path: path.clone(),
                        old: None,
                    },
                ));
            }
            (Original::Missing, current) => {
                removing.push(path.clone());
                changes.push(Change::new(
                    format!("remove {path} (run {} created it)", m.run_id),
                    Action::RemovePath {
                        path: path.clone(),
                        old: current.bytes().map(<[u8]>::to_vec),
                    },
                ));
            }
            (
                Original::File {
                    mode,
                    uid,
                    gid,
                    blob,
                    sha256,
                    size,
                },
                current,
            ) => {
                let bytes = journal::read_blob(sys, m, blob, sha256, *size)?;
                let perms = Perms {
                    mode: *mode,
                    uid: *uid,
                    gid: *gid,
                };
                changes.extend(plan_file(
                    path,
                    current.file(),
                    &bytes,
                    perms,
                    &format!("restore ({why})"),
                ));
            }
            (Original::Dir { mode, uid, gid }, current) => {
                let perms = Perms {
                    mode: *mode,
                    uid: *uid,
                    gid: *gid,
                };
                match current {
                    Now::Dir(meta) => changes.extend(plan_perms(path, *meta, perms)),
                    _ => changes.push(Change::new(
                        format!("recreate {path}/ ({why})"),
                        Action::CreateDir {
                            path: path.clone(),
                            perms,
                        },
                    )),
                }
            }
            (Original::Symlink { .. }, _) => notes.push(format!(
                "kept {path}: it was a symlink before run {}, and blotctl never makes links \
                 where files were",
                m.run_id
            )),
        }
    }

    // rc links, exactly as they were (not `chkconfig on`).
    for e in m.entries.iter().rev() {
        let Entry::Links { service, links } = e else {
            continue;
        };
        let mut now = journal::service_links(sys, service)?;
        let mut want = links.clone();
        now.sort_by(|a, b| (a.level, &a.name).cmp(&(b.level, &b.name)));
        want.sort_by(|a, b| (a.level, &a.name).cmp(&(b.level, &b.name)));
        if now != want {
            changes.push(Change::new(
                format!(
                    "restore the rc links of {service} (as before run {})",
                    m.run_id
                ),
                Action::RestoreLinks {
                    service: service.clone(),
                    from: now,
                    links: want,
                },
            ));
        }
    }

    // Live kernel values, as they were (only where they live: on the box itself).
    for e in m.entries.iter().rev() {
        let Entry::KernelValue { path, value } = e else {
            continue;
        };
        if !sys.is_live() {
            notes.push(format!("{path}: a live value, not restored under --root"));
            continue;
        }
        let now = crate::steps::hostsettings::live_value(ctx, path)?;
        if let Some(now) = now.filter(|v| v != value) {
            changes.push(Change::new(
                format!("set {path} back to {value} (as before run {})", m.run_id),
                Action::SetKernel {
                    path: path.clone(),
                    from: now,
                    to: value.clone(),
                },
            ));
        }
    }

    // Job files changed: tell upstart; then restart what runs with a file put back.
    let jobs_touched = changes.iter().any(|c| match &c.action {
        Action::WriteFile { path, .. } | Action::RemovePath { path, .. } => {
            path.starts_with("/etc/init/") && path.ends_with(".conf")
        }
        _ => false,
    });
    let written: Vec<String> = changes
        .iter()
        .filter_map(|c| match &c.action {
            Action::WriteFile { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect();
    if jobs_touched {
        let reload = Change::new(
            "initctl reload-configuration (job files changed)",
            Action::Run {
                argv: vec!["initctl".into(), "reload-configuration".into()],
            },
        );
        changes.push(match &state {
            InitState::Unknown(why) => reload.blocked(unknown_reason(why)),
            InitState::Known(_) => reload,
        });
    }
    let written: Vec<&str> = written.iter().map(String::as_str).collect();
    let (restarts, unchecked) = plan_jobs(ctx, &state, &written, false, &started);
    changes.extend(restarts);
    not_checked.extend(unchecked);
    let mut plan = StepPlan::changes(changes);
    plan.not_checked = not_checked;
    plan.notes = notes;
    Ok(plan)
}

/// What is at a managed path now, to compare with what a manifest recorded.
enum Now {
    Missing,
    File(Vec<u8>, Meta),
    Dir(Meta),
    Link(String),
}

impl Now {
    fn observe(sys: &dyn crate::sys::Look, path: &str) -> Result<Now> {
        Ok(match sys.meta(path)? {
            None => Now::Missing,
            Some(m) => match m.kind {
                Kind::Dir => Now::Dir(m),
                Kind::Symlink => Now::Link(sys.read_link(path)?.unwrap_or_default()),
                // A file: read through the managed door (a FIFO, a device or a hard link is
                // refused, naming it).
                Kind::File | Kind::Other => match sys.observe(path)? {
                    Some((bytes, meta)) => Now::File(bytes, meta),
                    None => Now::Missing,
                },
            },
        })
    }

    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Now::File(b, _) => Some(b),
            _ => None,
        }
    }

    fn file(&self) -> Option<(&[u8], Meta)> {
        match self {
            Now::File(b, m) => Some((b, *m)),
            _ => None,
        }
    }

    fn perms_are(m: &Meta, mode: u32, uid: u32, gid: u32) -> bool {
        (m.mode, m.uid, m.gid) == (mode, uid, gid)
    }

    fn is_original(&self, o: &Original) -> bool {
        match (o, self) {
            (Original::Missing, Now::Missing) => true,
            (
                Original::File {
                    mode,
                    uid,
                    gid,
                    sha256,
                    size,
                    ..
                },
                Now::File(b, m),
            ) => {
                Now::perms_are(m, *mode, *uid, *gid)
                    && b.len() as u64 == *size
                    && journal::sha256(b) == *sha256
            }
            (Original::Dir { mode, uid, gid }, Now::Dir(m)) => Now::perms_are(m, *mode, *uid, *gid),
            (Original::Symlink { target }, Now::Link(t)) => t == target,
            _ => false,
        }
    }

    fn is_after(&self, a: &After) -> bool {
        match (a, self) {
            (After::Missing, Now::Missing) => true,
            (
                After::File {
                    mode,
                    uid,
                    gid,
                    sha256,
                },
                Now::File(b, m),
            ) => {
                Now::perms_are(m, *mode, *uid, *gid)
                    && sha256.as_ref().is_none_or(|s| journal::sha256(b) == *s)
            }
            (After::Dir { mode, uid, gid }, Now::Dir(m)) => Now::perms_are(m, *mode, *uid, *gid),
            _ => false,
        }
    }
}
