//! `blotctl rollback`: plan the changes that put back what a run's journal saved. The plan
//! is compared with the box as it is now, so a rollback is idempotent; the same engine
//! applies it (and journals it: a rollback is itself a run).

use crate::journal::{self, Entry, Manifest, Original};
use crate::plan::{plan_file, plan_perms, Action, Change, NotChecked, Perms, StepPlan};
use crate::steps::init::{observe, plan_jobs, unknown_reason, InitState};
use crate::steps::Ctx;
use crate::sys::Kind;
use anyhow::Result;

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

    // Paths, newest first (files inside a directory the run created go before it).
    let mut removing: Vec<String> = Vec::new();
    for e in m.entries.iter().rev() {
        let Entry::Path {
            path,
            original,
            created,
        } = e
        else {
            continue;
        };
        let now = sys.meta(path)?;
        match original {
            Original::Missing => {
                let Some(meta) = now else { continue };
                if meta.kind == Kind::File {
                    if let Some(blob) = created {
                        let wrote = journal::read_blob(sys, m, blob)?;
                        if sys.read(path)?.as_deref() != Some(wrote.as_slice()) {
                            notes.push(format!(
                                "kept {path}: it changed after run {} created it",
                                m.run_id
                            ));
                            continue;
                        }
                    }
                }
                if meta.kind == Kind::Dir {
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
                }
                removing.push(path.clone());
                changes.push(Change::new(
                    format!("remove {path} (run {} created it)", m.run_id),
                    Action::RemovePath { path: path.clone() },
                ));
            }
            Original::File {
                mode,
                uid,
                gid,
                blob,
            } => {
                let perms = Perms {
                    mode: *mode,
                    uid: *uid,
                    gid: *gid,
                };
                let bytes = journal::read_blob(sys, m, blob)?;
                let current = match (sys.read(path)?, now) {
                    (Some(b), Some(meta)) if meta.kind == Kind::File => Some((b, meta)),
                    _ => None,
                };
                changes.extend(plan_file(
                    path,
                    current.as_ref().map(|(b, meta)| (b.as_slice(), *meta)),
                    &bytes,
                    perms,
                    &format!("restore (as before run {})", m.run_id),
                ));
            }
            Original::Dir { mode, uid, gid } => {
                if let Some(meta) = now {
                    changes.extend(plan_perms(
                        path,
                        meta,
                        Perms {
                            mode: *mode,
                            uid: *uid,
                            gid: *gid,
                        },
                    ));
                }
            }
            Original::Symlink { .. } => {} // blotctl never replaces symlinks
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
        Action::WriteFile { path, .. } | Action::RemovePath { path } => {
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
