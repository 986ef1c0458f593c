//! upstart: reload the configuration after job files change, make sure upstart loaded every
//! job (a job file it cannot parse is silently missing from `initctl list`), and start the
//! jobs in order redis → blot → nginx → monit.
//!
//! Without a reachable init (no initctl, or not root so no system bus; or `--offline`) the
//! state is unknown: whether jobs run (and so whether to start or restart them) is reported
//! as *not checked here*, never "in sync"; the reload is planned, blocked, exactly when job
//! files change.

use super::{pending_writes, Ctx, Step};
use crate::jobconf::job_reading;
use crate::jobs::{not_loaded, observe, path as job_path, unknown_reason, InitState, Job};
use crate::plan::{Action, Change, NotChecked, StepPlan};
use anyhow::Result;

/// Every job file blotctl installs, which upstart must load: the long-running jobs, plus
/// the host-settings task when it is configured.
pub fn installed_jobs(ctx: &Ctx) -> Vec<&'static str> {
    let mut jobs = Job::ALL.map(Job::name).to_vec();
    if ctx.settings.thp_never {
        jobs.push(super::hostsettings::JOB);
    }
    jobs
}

/// What to do about each long-running job once the files in `written` are written: a
/// running job whose job file (monit: also its control file; nginx, redis: the copies of
/// their configs) changed is restarted, to run
/// the new definition (a job upstart restarts with another is not restarted twice); with
/// `start`, a job that is not running is started; jobs in `leave` are left alone. When init
/// state is unknown none of that can be told here: each is reported as not checked.
pub fn plan_jobs(
    ctx: &Ctx,
    state: &InitState,
    written: &[&str],
    start: bool,
    leave: &[&str],
) -> (Vec<Change>, Vec<NotChecked>) {
    // Besides its job file, what a job's program reads at start: monit its control file,
    // nginx and redis the copies of their configs.
    let changed_file = |job: &str| {
        let job_file = job_path(job);
        if written.contains(&job_file.as_str()) {
            return Some(job_file);
        }
        written
            .iter()
            .find(|p| {
                job_reading(p) == Some(job) || (job == "monit" && **p == ctx.settings.monit_rc)
            })
            .map(|p| p.to_string())
    };
    let mut changes = Vec::new();
    let mut not_checked = Vec::new();
    let mut restarted: Vec<String> = Vec::new();
    for job in Job::ALL
        .map(Job::name)
        .into_iter()
        .filter(|j| !leave.contains(j))
    {
        let restart = changed_file(job).map(|file| {
            let deps: Vec<String> = Job::named(job)
                .map_or(Vec::new(), Job::dependents)
                .into_iter()
                .map(|d| d.name().to_string())
                .collect();
            let what = if deps.is_empty() {
                format!("restart {job} ({file} changed)")
            } else {
                format!(
                    "restart {job} ({file} changed; upstart restarts {} with it)",
                    deps.join(", ")
                )
            };
            Change::new(
                what,
                Action::RestartJob {
                    job: job.into(),
                    dependents: deps,
                    probe: false,
                },
            )
        });
        match state {
            InitState::Unknown(why) => {
                let what = match (&restart, start) {
                    (Some(r), true) => format!("{} if it runs, else start it", r.summary),
                    (Some(r), false) => format!("{} if it runs", r.summary),
                    (None, true) => format!("start {job} unless it runs"),
                    (None, false) => continue,
                };
                not_checked.push(NotChecked::new(what, unknown_reason(why)));
            }
            InitState::Known(_) => match (state.job(job), restart) {
                (Some(s), Some(restart)) if s.is_running() => {
                    if restarted.iter().any(|r| r == job) {
                        continue; // upstart restarts it with the job it depends on
                    }
                    if let Action::RestartJob { dependents, .. } = &restart.action {
                        restarted.extend(dependents.iter().cloned());
                    }
                    changes.push(restart);
                }
                (Some(s), _) if s.is_running() => {}
                _ if start => changes.push(Change::new(
                    format!("start {job}"),
                    Action::StartJob { job: job.into() },
                )),
                _ => {}
            },
        }
    }
    (changes, not_checked)
}

/// `initctl reload-configuration` when job files change; every job must then be loaded.
pub struct Reload;

impl Step for Reload {
    fn name(&self) -> &'static str {
        "upstart config"
    }

    fn plan(&self, ctx: &Ctx, earlier: &[Change]) -> Result<StepPlan> {
        let pending: Vec<&str> = pending_writes(earlier).collect();
        let jobs = installed_jobs(ctx);
        let removed = earlier.iter().any(|c| {
            matches!(&c.action, Action::RemovePath { path, .. }
                if path.starts_with("/etc/init/") && path.ends_with(".conf"))
        });
        let job_changes = removed || jobs.iter().any(|j| pending.contains(&job_path(j).as_str()));
        let reload = || {
            Change::new(
                "initctl reload-configuration (job files changed)",
                Action::ReloadJobs {
                    jobs: jobs.iter().map(|j| j.to_string()).collect(),
                },
            )
        };
        match observe(ctx)? {
            // Only the files are known: the reload is planned (and cannot be applied here)
            // exactly when job files change; whether upstart loaded them is not checked.
            InitState::Unknown(why) => {
                let why = unknown_reason(&why);
                let mut plan = StepPlan::changes(if job_changes {
                    vec![reload().blocked(why.clone())]
                } else {
                    vec![]
                });
                plan.not_checked.push(NotChecked::new(
                    format!("upstart has loaded the jobs {}", jobs.join(", ")),
                    why,
                ));
                Ok(plan)
            }
            InitState::Known(list) => {
                for &job in &jobs {
                    let path = job_path(job);
                    if !list.iter().any(|j| j.name == job) && !pending.contains(&path.as_str()) {
                        return Err(not_loaded(job));
                    }
                }
                Ok(StepPlan::changes(if job_changes {
                    vec![reload()]
                } else {
                    vec![]
                }))
            }
        }
    }
}

/// Start the jobs that are not running, in order.
pub struct Start;

impl Step for Start {
    fn name(&self) -> &'static str {
        "start jobs"
    }

    fn plan(&self, ctx: &Ctx, earlier: &[Change]) -> Result<StepPlan> {
        if ctx.no_start {
            return Ok(StepPlan::skipped("--no-start"));
        }
        // A running job keeps the definition (and the config) it started with: one whose
        // file is about to change is restarted after the reload, to run the new one.
        let pending: Vec<&str> = pending_writes(earlier).collect();
        let (changes, not_checked) = plan_jobs(ctx, &observe(ctx)?, &pending, true, &[]);
        let mut plan = StepPlan::changes(changes);
        plan.not_checked = not_checked;
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::check::{check, check_after};
    use expect_test::expect;

    const LOADED: &str = "redis stop/waiting\nblot stop/waiting\nnginx stop/waiting\nmonit stop/waiting\nredis-host-settings stop/waiting\n";

    #[test]
    fn reload_when_job_files_change_and_start_what_does_not_run() {
        let written = [Change::new(
            "create /etc/init/blot.conf",
            Action::WriteFile {
                path: "/etc/init/blot.conf".into(),
                old: None,
                new: Vec::new(),
                perms: crate::steps::ROOT_0644,
                old_perms: None,
            },
        )];
        let upstart = |b: &mut crate::sys::fake::FakeBox, list: &str| {
            b.on_path("initctl").answer("initctl list", 0, list, "");
        };
        check_after(
            &Reload,
            &written,
            |b, _| upstart(b, LOADED),
            expect![[r#"
            - initctl reload-configuration (job files changed)
        "#]],
        );
        check(
            &Reload,
            |b, _| upstart(b, "redis stop/waiting\n"),
            expect![[r#"
            error: upstart did not load the job `blot`: /etc/init/blot.conf is installed but `initctl list` does not show it, so upstart rejected the file; its syntax is the likely cause (upstart logs the reason only to syslog: grep '/etc/init/blot.conf' /var/log/messages)
        "#]],
        );
        check(
            &Reload,
            |_, _| {},
            expect![[r#"
            ? upstart has loaded the jobs redis, blot, nginx, monit, redis-host-settings (init state unknown: initctl is not on PATH)
        "#]],
        );
        check(
            &Start,
            |b, _| {
                upstart(
                    b,
                    &LOADED.replace("redis stop/waiting", "redis start/running, process 72"),
                )
            },
            expect![[r#"
            - start blot
            - start nginx
            - start monit
        "#]],
        );
        check(
            &Start,
            |_, _| {},
            expect![[r#"
            ? start redis unless it runs (init state unknown: initctl is not on PATH)
            ? start blot unless it runs (init state unknown: initctl is not on PATH)
            ? start nginx unless it runs (init state unknown: initctl is not on PATH)
            ? start monit unless it runs (init state unknown: initctl is not on PATH)
        "#]],
        );
    }
}
