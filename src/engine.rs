//! The engine: plans every step, and is the only place that applies changes.
//!
//! `provision --dry-run`, `provision` and `verify` all start from [`plan_all`]. A real run
//! applies only after every step planned without error and nothing is blocked (so a bad
//! input fails with nothing changed), then plans again: whatever is left "did not converge".

use crate::journal::Journal;
use crate::plan::{Action, Change, StepPlan};
use crate::steps::init::InitState;
use crate::steps::{Ctx, Step};
use crate::sys::command_failure;
use crate::upstart::{classify_stderr, parse_status, InitctlError};
use anyhow::{anyhow, bail, Result};
use std::time::{Duration, Instant};

/// One step's plan, or why it could not observe.
pub struct Planned {
    pub name: &'static str,
    pub plan: Result<StepPlan>,
}

impl Planned {
    pub fn changes(&self) -> &[Change] {
        match &self.plan {
            Ok(p) => &p.changes,
            Err(_) => &[],
        }
    }
}

/// Plan every step in order; each sees the changes planned before it.
pub fn plan_all(ctx: &Ctx, steps: &[Box<dyn Step>]) -> Vec<Planned> {
    plan_all_with(ctx, steps, |_| {})
}

/// [`plan_all`], telling `progress` which step it is planning.
pub fn plan_all_with(
    ctx: &Ctx,
    steps: &[Box<dyn Step>],
    mut progress: impl FnMut(&'static str),
) -> Vec<Planned> {
    // A new look at the box: nothing remembered from an earlier pass counts.
    ctx.sys.forget();
    let mut earlier: Vec<Change> = Vec::new();
    let mut out = Vec::new();
    for step in steps {
        progress(step.name());
        let plan = step.plan(ctx, &earlier);
        if let Ok(p) = &plan {
            earlier.extend(p.changes.iter().cloned());
        }
        out.push(Planned {
            name: step.name(),
            plan,
        });
    }
    out
}

/// Before anything changes: every file to be written must fit, with its backup and a
/// margin, in the free space of its filesystem (a full disk fails the run here, with
/// nothing changed, rather than half-way through).
pub fn preflight(ctx: &Ctx, planned: &[Planned]) -> Result<()> {
    const MARGIN: u64 = 64 * 1024;
    let mut need: std::collections::BTreeMap<String, u64> = Default::default();
    for c in planned.iter().flat_map(|p| p.changes()) {
        if let Action::WriteFile { path, old, new, .. } = &c.action {
            let dir = std::path::Path::new(path)
                .parent()
                .map(|d| d.to_string_lossy().into_owned());
            let bytes = new.len() as u64 + old.as_ref().map_or(0, |o| o.len() as u64);
            *need.entry(dir.unwrap_or_else(|| "/".into())).or_default() += bytes;
        }
    }
    for (dir, bytes) in need {
        let free = ctx.sys.free_bytes(&dir)?;
        if free < bytes + MARGIN {
            bail!(
                "not enough free space for {dir}: {free} bytes free, {} needed (new files, \
                 backups and a margin); nothing was changed: free some space and run again",
                bytes + MARGIN
            );
        }
    }
    Ok(())
}

/// Apply one change, after the journal saved what it alters. The world is checked again
/// first: a file that changed since it was planned is not overwritten.
pub fn apply(ctx: &Ctx, change: &Change, journal: &mut Journal) -> Result<()> {
    if let Some(why) = &change.blocked {
        bail!("cannot {}: {why}", change.summary);
    }
    journal.record(ctx.sys, change)?;
    crate::fault::point("apply");
    let sys = ctx.sys;
    match &change.action {
        Action::WriteFile {
            path,
            old,
            new,
            perms,
            ..
        } => {
            if sys.read(path)? != *old {
                bail!("{path} changed while blotctl was running; nothing was written to it (run again)");
            }
            sys.write_atomic(path, new, perms.mode, perms.uid, perms.gid)
        }
        Action::SetPerms { path, from, to } => {
            let now = sys
                .meta(path)?
                .ok_or_else(|| anyhow!("{path} disappeared while blotctl was running"))?;
            if (now.mode, now.uid, now.gid) != (from.mode, from.uid, from.gid) {
                bail!("{path} changed while blotctl was running; left as it is (run again)");
            }
            sys.set_meta(path, to.mode, to.uid, to.gid)
        }
        Action::CreateDir { path, perms } => sys.create_dir(path, perms.mode, perms.uid, perms.gid),
        Action::RemovePath { path } => sys.remove(path),
        Action::Run { argv } => {
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            run_ok(ctx, &argv)
        }
        Action::ReloadJobs { jobs } => {
            run_ok(ctx, &["initctl", "reload-configuration"])?;
            match crate::steps::init::observe(ctx)? {
                InitState::Unknown(why) => bail!("init state unknown after reload: {why}"),
                InitState::Known(list) => {
                    match jobs.iter().find(|j| !list.iter().any(|l| &l.name == *j)) {
                        Some(missing) => Err(crate::steps::init::not_loaded(missing)),
                        None => Ok(()),
                    }
                }
            }
        }
        Action::ChkconfigOff { service } => run_ok(ctx, &["chkconfig", service, "off"]),
        Action::RestoreLinks { service, links } => {
            let now = crate::journal::service_links(sys, service)?;
            for l in now.iter().filter(|l| !links.contains(l)) {
                sys.remove(&l.path())?;
            }
            for l in links.iter().filter(|l| !now.contains(l)) {
                sys.symlink(&l.path(), &l.target)?;
            }
            Ok(())
        }
        Action::StartJob { job } => start_job(ctx, job),
        Action::StopJob { job } => stop_job(ctx, job),
        Action::RestartJob {
            job,
            dependents,
            probe,
        } => restart_job(ctx, job, dependents, *probe),
        Action::SetKernel { path, from, to } => {
            let read = || -> Result<String> {
                let raw = sys
                    .read_text(path)?
                    .ok_or_else(|| anyhow!("{path} does not exist"))?;
                Ok(crate::steps::hostsettings::kernel_value(&raw))
            };
            let now = read()?;
            if now != *from {
                bail!("{path} changed while blotctl was running (now {now}); left as it is (run again)");
            }
            sys.write_kernel_value(path, to)?;
            let after = read()?;
            if after != *to {
                bail!("wrote {to} to {path}, but it reads {after}");
            }
            Ok(())
        }
    }
}

/// `initctl stop JOB`; "Unknown instance" means it was stopped already.
fn stop_job(ctx: &Ctx, job: &str) -> Result<()> {
    let argv = ["initctl", "stop", job];
    let out = ctx.sys.run(&argv)?;
    match classify_stderr(&out.stderr) {
        _ if out.success() => Ok(()),
        InitctlError::UnknownInstance => Ok(()), // already stopped
        _ => bail!("{}", command_failure(&argv, &out)),
    }
}

/// Stop, start, then wait until the job and each dependent runs (and, with `probe`, answers
/// its probe). A failure says which job and what `initctl status` shows for it.
fn restart_job(ctx: &Ctx, job: &str, dependents: &[String], probe: bool) -> Result<()> {
    stop_job(ctx, job)?;
    for j in std::iter::once(job).chain(dependents.iter().map(String::as_str)) {
        let up = start_job(ctx, j).and_then(|()| if probe { wait_healthy(ctx, j) } else { Ok(()) });
        if let Err(e) = up {
            let status = match ctx.sys.run(&["initctl", "status", j]) {
                Ok(out) if out.success() => out.stdout.trim_end().to_string(),
                Ok(out) => out.stderr.trim_end().to_string(),
                Err(e) => format!("{e:#}"),
            };
            bail!("{j} did not come back: {e:#}\n`initctl status {j}`: {status}");
        }
    }
    Ok(())
}

/// Wait (up to `start_timeout`) until a job's health probe answers: redis PING, blot's
/// health path, nginx's front page. monit has no probe of its own.
fn wait_healthy(ctx: &Ctx, job: &str) -> Result<()> {
    let s = ctx.settings;
    let each = Duration::from_secs(2);
    let probe = || -> Result<()> {
        match job {
            "redis" => {
                let port = crate::steps::templates::redis_config(ctx)?.port;
                ctx.sys.probe_redis(port, each)
            }
            "blot" => ctx
                .sys
                .probe_http(s.blot_port, &s.health_path, each)
                .map(drop),
            "nginx" => ctx.sys.probe_http(s.nginx_port, "/", each).map(drop),
            _ => Ok(()),
        }
    };
    let deadline = Instant::now() + Duration::from_secs(s.start_timeout);
    loop {
        match probe() {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(e.context(format!(
                    "{job} runs, but its health probe did not answer within {}s",
                    s.start_timeout
                )))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

fn run_ok(ctx: &Ctx, argv: &[&str]) -> Result<()> {
    let out = ctx.sys.run(argv)?;
    if out.success() {
        Ok(())
    } else {
        bail!("{}", command_failure(argv, &out))
    }
}

/// `initctl start JOB` ("already running" is success: upstart chains our jobs), then wait
/// until it is start/running with a process, and still is after a settle time (a job whose
/// process dies at once shows start/running first, FACTS.md).
fn start_job(ctx: &Ctx, job: &str) -> Result<()> {
    let argv = ["initctl", "start", job];
    let out = ctx.sys.run(&argv)?;
    if !out.success() {
        match classify_stderr(&out.stderr) {
            InitctlError::AlreadyRunning(_) => {} // upstart chained it from the job before
            InitctlError::UnknownJob(_) => return Err(crate::steps::init::not_loaded(job)),
            _ => bail!("{}", command_failure(&argv, &out)),
        }
    }
    let timeout = Duration::from_secs(ctx.settings.start_timeout);
    let settle = Duration::from_millis(ctx.settings.start_settle_ms);
    let begun = Instant::now();
    let mut last;
    let mut running_since: Option<Instant> = None;
    loop {
        let argv = ["initctl", "status", job];
        let out = ctx.sys.run(&argv)?;
        if !out.success() {
            bail!("{}", command_failure(&argv, &out));
        }
        last = out.stdout.trim_end().to_string();
        let status = parse_status(&out.stdout)
            .map_err(|e| anyhow!("cannot understand `initctl status {job}`: {e}"))?;
        let alive = status.is_running() && status.pid.is_some_and(|p| ctx.sys.process_exists(p));
        if alive {
            if running_since.get_or_insert_with(Instant::now).elapsed() >= settle {
                return Ok(());
            }
        } else {
            running_since = None;
        }
        if begun.elapsed() >= timeout {
            break;
        }
        std::thread::sleep(Duration::from_millis(100).min(settle.max(Duration::from_millis(10))));
    }
    Err(anyhow!(
        "job {job} did not stay start/running within {}s; last status: {last}",
        timeout.as_secs()
    ))
}
