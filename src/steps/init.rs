//! upstart: reload the configuration after job files change, make sure upstart loaded every
//! job (a job file it cannot parse is silently missing from `initctl list`), and start the
//! jobs in order redis → blot → nginx → monit.
//!
//! Without a reachable init (no initctl, or not root so no system bus) the state is
//! unknown: every init action is planned as blocked ("init state unknown"), never "in sync".

use super::templates::{job_path, JOBS};
use super::{pending_writes, Ctx, Step};
use crate::plan::{Action, Change, StepPlan};
use crate::sys::command_failure;
use crate::upstart::{classify_stderr, parse_list, InitctlError, JobStatus};
use anyhow::{anyhow, Result};

/// What `initctl list` told us, or why we could not ask.
pub enum InitState {
    Known(Vec<JobStatus>),
    Unknown(String),
}

impl InitState {
    pub fn job(&self, name: &str) -> Option<&JobStatus> {
        match self {
            InitState::Known(list) => list.iter().find(|j| j.name == name && j.instance.is_none()),
            InitState::Unknown(_) => None,
        }
    }
}

/// Ask upstart for its jobs.
pub fn observe(ctx: &Ctx) -> Result<InitState> {
    if ctx.sys.which("initctl").is_none() {
        return Ok(InitState::Unknown("initctl is not on PATH".into()));
    }
    let argv = ["initctl", "list"];
    let out = ctx.sys.query(&argv)?;
    if !out.success() {
        return match classify_stderr(&out.stderr) {
            InitctlError::NoBus(_) => Ok(InitState::Unknown(format!(
                "initctl cannot reach upstart ({}); run as root",
                out.stderr.trim_end()
            ))),
            _ => Err(anyhow!("{}", command_failure(&argv, &out))),
        };
    }
    let list =
        parse_list(&out.stdout).map_err(|e| anyhow!("cannot understand `initctl list`: {e}"))?;
    Ok(InitState::Known(list))
}

/// Why a job is missing from `initctl list` although its file is installed.
pub fn not_loaded(job: &str) -> anyhow::Error {
    let path = job_path(job);
    anyhow!(
        "upstart did not load the job `{job}`: {path} is installed but `initctl list` does \
         not show it, so upstart rejected the file; its syntax is the likely cause (upstart \
         logs the reason only to syslog: grep '{path}' /var/log/messages)"
    )
}

/// Every job file blotctl installs, which upstart must load: the long-running jobs, plus
/// the host-settings task when it is configured.
pub fn installed_jobs(ctx: &Ctx) -> Vec<&'static str> {
    let mut jobs = JOBS.to_vec();
    if ctx.settings.thp_never {
        jobs.push(super::hostsettings::JOB);
    }
    jobs
}

/// The jobs upstart stops with `job` (`stop on stopping JOB`) and starts again after it
/// (`start on started JOB`): a restart of `job` restarts them too, and waits for them.
pub fn dependents(job: &str) -> Vec<String> {
    match job {
        "redis" => vec!["blot".into()],
        _ => Vec::new(),
    }
}

fn unknown_reason(why: &str) -> String {
    format!("init state unknown: {why}")
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
            InitState::Unknown(why) => Ok(StepPlan::changes(vec![
                reload().blocked(unknown_reason(&why))
            ])),
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
        // A running job keeps the definition (and monit the control file) it started with:
        // one whose file is about to change is restarted after the reload, to run the new one.
        let pending: Vec<&str> = pending_writes(earlier).collect();
        let changed_file = |job: &str| {
            let job_file = job_path(job);
            if pending.contains(&job_file.as_str()) {
                Some(job_file)
            } else if job == "monit" && pending.contains(&ctx.settings.monit_rc.as_str()) {
                Some(ctx.settings.monit_rc.clone())
            } else {
                None
            }
        };
        let state = observe(ctx)?;
        let mut changes = Vec::new();
        let mut restarted: Vec<String> = Vec::new();
        for job in JOBS {
            let start = Change::new(format!("start {job}"), Action::StartJob { job: job.into() });
            match (&state, state.job(job)) {
                (InitState::Unknown(why), _) => changes.push(start.blocked(unknown_reason(why))),
                (_, Some(s)) if s.is_running() => {
                    let Some(file) = changed_file(job) else {
                        continue;
                    };
                    if restarted.iter().any(|r| r == job) {
                        continue; // upstart restarts it with the job it depends on
                    }
                    let deps = dependents(job);
                    restarted.extend(deps.iter().cloned());
                    let what = if deps.is_empty() {
                        format!("restart {job} ({file} changed)")
                    } else {
                        format!(
                            "restart {job} ({file} changed; upstart restarts {} with it)",
                            deps.join(", ")
                        )
                    };
                    changes.push(Change::new(
                        what,
                        Action::RestartJob {
                            job: job.into(),
                            dependents: deps,
                            probe: false,
                        },
                    ));
                }
                _ => changes.push(start),
            }
        }
        Ok(StepPlan::changes(changes))
    }
}
