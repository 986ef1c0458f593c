//! upstart: reload the configuration after job files change, make sure upstart loaded every
//! job (a job file it cannot parse is silently missing from `initctl list`), and start the
//! jobs in order redis → blot → nginx → monit.
//!
//! Without a reachable init (no initctl, or not root so no system bus; or `--offline`) the
//! state is unknown: whether jobs run (and so whether to start or restart them) is reported
//! as *not checked here*, never "in sync"; the reload is planned, blocked, exactly when job
//! files change.

use super::configs;
use super::templates::{job_path, JOBS};
use super::{pending_writes, Ctx, Step};
use crate::plan::{Action, Change, NotChecked, StepPlan};
use crate::sys::command_failure;
use crate::upstart::{classify_stderr, parse_list, InitctlError, JobStatus};
use anyhow::{anyhow, Result};

/// Why live state is not looked at under `--offline`.
pub const OFFLINE: &str = "--offline checks files only";

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

/// Ask upstart for its jobs (never under `--offline`).
pub fn observe(ctx: &Ctx) -> Result<InitState> {
    if ctx.offline {
        return Ok(InitState::Unknown(OFFLINE.into()));
    }
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

/// Which of blotctl's jobs upstart runs now (goal start), in start order; `None` when that
/// cannot be told here. For messages about a run that stopped part-way.
pub fn running(ctx: &Ctx) -> Option<Vec<&'static str>> {
    ctx.sys.forget();
    match observe(ctx) {
        Ok(state @ InitState::Known(_)) => Some(
            JOBS.into_iter()
                .filter(|j| {
                    state
                        .job(j)
                        .is_some_and(|s| s.goal == crate::upstart::Goal::Start)
                })
                .collect(),
        ),
        _ => None,
    }
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

/// The jobs upstart starts by itself after `job` has started: each job's `start on
/// started` names the one before it in [`JOBS`] (redis → blot → nginx → monit), so a start
/// of redis sets all four going.
pub fn chained(job: &str) -> &'static [&'static str] {
    static CHAIN: [&str; 4] = JOBS;
    match CHAIN.iter().position(|j| *j == job) {
        Some(i) => &CHAIN[i + 1..],
        None => &[],
    }
}

/// The jobs upstart stops with `job` (`stop on stopping JOB`) and starts again after it
/// (`start on started JOB`): a restart of `job` restarts them too, and waits for them.
pub fn dependents(job: &str) -> Vec<String> {
    match job {
        "redis" => vec!["blot".into()],
        _ => Vec::new(),
    }
}

pub fn unknown_reason(why: &str) -> String {
    format!("init state unknown: {why}")
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
                configs::job_reading(p) == Some(job)
                    || (job == "monit" && **p == ctx.settings.monit_rc)
            })
            .map(|p| p.to_string())
    };
    let mut changes = Vec::new();
    let mut not_checked = Vec::new();
    let mut restarted: Vec<String> = Vec::new();
    for job in JOBS.into_iter().filter(|j| !leave.contains(j)) {
        let restart = changed_file(job).map(|file| {
            let deps = dependents(job);
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

    /// [`chained`] is what the job templates say: each job starts on `started` the one
    /// before it.
    #[test]
    fn the_chain_is_the_templates_start_on() {
        let templates = [
            ("blot", include_str!("../../templates/blot.conf.hbs")),
            ("nginx", include_str!("../../templates/nginx.conf.hbs")),
            ("monit", include_str!("../../templates/monit.conf.hbs")),
        ];
        for pair in JOBS.windows(2) {
            let (before, job) = (pair[0], pair[1]);
            let text = templates.iter().find(|(j, _)| *j == job).unwrap().1;
            assert!(
                text.lines()
                    .any(|l| l.trim() == format!("start on started {before}")),
                "{job}.conf does not start on started {before}"
            );
        }
        assert_eq!(chained("redis"), ["blot", "nginx", "monit"]);
        assert_eq!(chained("nginx"), ["monit"]);
        assert!(chained("monit").is_empty());
        assert!(include_str!("../../templates/redis.conf.hbs").contains("start on runlevel"));
    }
}
