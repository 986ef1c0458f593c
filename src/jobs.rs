//! The job graph: blotctl's four upstart jobs, the order upstart starts them in, what each
//! needs running first, how each is probed; how upstart's state of them is observed; and
//! starting, stopping, restarting and waiting for them (the engine applies `StartJob`,
//! `StopJob` and `RestartJob` with these). The job files' `start on`/`stop on` stanzas are
//! rendered from [`Job::start_on`] and [`Job::stop_on`], and a test holds what upstart
//! parses of the rendered files against the graph.

use crate::config::Settings;
use crate::ctx::Ctx;
use crate::sys::{command_failure, Sys};
use crate::upstart::{classify_stderr, lint_job, parse_list, InitctlError, JobFile, JobStatus};
use anyhow::{anyhow, bail, Result};
use std::time::{Duration, Instant};

/// One of the upstart jobs blotctl owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Job {
    Redis,
    Blot,
    Nginx,
    Monit,
}

use Job::*;

impl Job {
    /// Every job, in the order upstart starts them.
    pub const ALL: [Job; 4] = [Redis, Blot, Nginx, Monit];

    pub fn name(self) -> &'static str {
        match self {
            Redis => "redis",
            Blot => "blot",
            Nginx => "nginx",
            Monit => "monit",
        }
    }

    pub fn named(name: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.name() == name)
    }

    /// Its job file.
    pub fn path(self) -> String {
        path(self.name())
    }

    /// The job whose start starts this one (`start on started JOB`); `None`: the runlevel.
    pub fn after(self) -> Option<Job> {
        match self {
            Redis => None,
            Blot => Some(Redis),
            Nginx => Some(Blot),
            Monit => Some(Nginx),
        }
    }

    /// The job whose stop stops this one (`stop on stopping JOB`); `None`: the runlevel.
    /// blot needs redis for every request, so it goes down (and comes back) with it.
    pub fn stops_with(self) -> Option<Job> {
        match self {
            Blot => Some(Redis),
            _ => None,
        }
    }

    /// The job file's `start on` event expression.
    pub fn start_on(self) -> String {
        match self.after() {
            Some(j) => format!("started {j}"),
            None => "runlevel [2345]".into(),
        }
    }

    /// The job file's `stop on` event expression.
    pub fn stop_on(self) -> String {
        match self.stops_with() {
            Some(j) => format!("stopping {j}"),
            None => "runlevel [016]".into(),
        }
    }

    /// The jobs that must run before this one, in start order.
    pub fn needs(self) -> Vec<Job> {
        let mut out = Vec::new();
        let mut j = self.after();
        while let Some(before) = j {
            out.insert(0, before);
            j = before.after();
        }
        out
    }

    /// The jobs upstart starts by itself once this one has started, in start order.
    pub fn chained(self) -> Vec<Job> {
        Job::ALL
            .into_iter()
            .filter(|j| j.needs().contains(&self))
            .collect()
    }

    /// The jobs upstart stops with this one and starts again after it: a restart of this
    /// job restarts them too, and waits for them.
    pub fn dependents(self) -> Vec<Job> {
        Job::ALL
            .into_iter()
            .filter(|j| j.stops_with() == Some(self))
            .collect()
    }

    /// Its log in root's own directory, which root opens: what nginx and monit print, and
    /// for the jobs run under `sudo -u`, what sudo prints before the app user's shell opens
    /// that user's logs (a refusal, e.g. requiretty's).
    pub fn root_log(self) -> String {
        crate::config::root_log(self.name())
    }

    /// Where its output goes (for people: a job that will not stay up says why there).
    pub fn output(self, s: &Settings) -> Vec<String> {
        let sudos = format!("{} (sudo's own messages)", self.root_log());
        match self {
            Blot => vec![sudos, s.app_log(), s.sys_log()],
            Redis => vec![sudos, s.sys_log()],
            Nginx | Monit => vec![self.root_log()],
        }
    }

    /// Its health probe, worked out once (the configs it needs read now, not at every
    /// tick): redis answers PING on the port of the config it runs, blot and nginx their
    /// health checks (`crate::health`, as monit asks them). monit has no probe of its own.
    pub fn health_probe(self, ctx: &Ctx) -> Result<Probe> {
        Ok(match self {
            Redis => Probe::Redis(crate::jobconf::running_redis_config(ctx)?.port),
            Blot => Probe::Http(crate::health::app(ctx)),
            Nginx => Probe::Http(crate::health::nginx(ctx)?),
            Monit => Probe::Nothing,
        })
    }
}

/// What a job's health probe asks ([`Job::health_probe`]).
pub enum Probe {
    Redis(u16),
    Http(crate::health::HttpCheck),
    Nothing,
}

impl Probe {
    /// Ask it once.
    pub fn ask(&self, ctx: &Ctx, timeout: Duration) -> Result<()> {
        match self {
            Probe::Redis(port) => ctx.sys.probe_redis(*port, timeout),
            Probe::Http(check) => check.probe(ctx, timeout).map(drop),
            Probe::Nothing => Ok(()),
        }
    }
}

impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The `start on` of the host-settings task: it runs (and finishes) before redis starts.
pub fn before_redis() -> String {
    format!("starting {Redis}")
}

/// The file of an upstart job (or task) by name.
pub fn path(job: &str) -> String {
    format!("/etc/init/{job}.conf")
}

/// A rendered job file as upstart 0.6.5 parses it; an error when upstart would not load it
/// (it skips such a file silently).
pub fn lint(job: &str, text: &str) -> Result<JobFile> {
    let path = path(job);
    lint_job(text).map_err(|e| {
        anyhow!(
            "the rendered {path} would not load under upstart 0.6.5 ({}); refusing to install it",
            e.display_with_path(&path)
        )
    })
}

/// Why live job state is not looked at under `--offline`.
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

/// Ask upstart for its jobs, with one `initctl list` per look at the box (never under
/// `--offline`).
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
    Ok(InitState::Known(parsed_list(&out)?))
}

/// The jobs in a successful `initctl list`'s output.
fn parsed_list(out: &crate::sys::Output) -> Result<Vec<JobStatus>> {
    parse_list(&out.stdout).map_err(|e| anyhow!("cannot understand `initctl list`: {e}"))
}

/// Which of blotctl's jobs upstart runs now (goal start), in start order; `None` when that
/// cannot be told here. A new look (for messages about a run that stopped part-way).
pub fn running(ctx: &Ctx) -> Option<Vec<&'static str>> {
    ctx.sys.forget();
    match observe(ctx) {
        Ok(state @ InitState::Known(_)) => Some(
            Job::ALL
                .map(Job::name)
                .into_iter()
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

pub fn unknown_reason(why: &str) -> String {
    format!("init state unknown: {why}")
}

/// Why a job is missing from `initctl list` although its file is installed.
pub fn not_loaded(job: &str) -> anyhow::Error {
    let path = path(job);
    anyhow!(
        "upstart did not load the job `{job}`: {path} is installed but `initctl list` does \
         not show it, so upstart rejected the file; its syntax is the likely cause (upstart \
         logs the reason only to syslog: grep '{path}' /var/log/messages)"
    )
}

/// `initctl stop JOB`; "Unknown instance" means it was stopped already.
pub fn stop(sys: &Sys, job: &str) -> Result<()> {
    let argv = ["initctl", "stop", job];
    let out = sys.run(&argv)?;
    match classify_stderr(&out.stderr) {
        _ if out.success() => Ok(()),
        InitctlError::UnknownInstance => Ok(()), // already stopped
        _ => bail!("{}", command_failure(&argv, &out)),
    }
}

/// Stop, start, then wait until the job and each dependent runs (and, with `probe`, answers
/// its probe). A failure says which job and what `initctl status` shows for it.
pub fn restart(sys: &Sys, ctx: &Ctx, job: &str, dependents: &[String], probe: bool) -> Result<()> {
    stop(sys, job)?;
    for j in std::iter::once(job).chain(dependents.iter().map(String::as_str)) {
        let up = start(sys, ctx, j).and_then(|()| {
            // start has waited for health already, unless told not to.
            if probe && !ctx.settings.start_wait_healthy {
                wait_healthy(sys, ctx, j)
            } else {
                Ok(())
            }
        });
        if let Err(e) = up {
            let status = match sys.run(&["initctl", "status", j]) {
                Ok(out) if out.success() => out.stdout.trim_end().to_string(),
                Ok(out) => out.stderr.trim_end().to_string(),
                Err(e) => format!("{e:#}"),
            };
            bail!("{j} did not come back: {e:#}\n`initctl status {j}`: {status}");
        }
    }
    Ok(())
}

/// Wait (up to `start_timeout`) until a job's health probe answers ([`Job::probe`]).
fn wait_healthy(sys: &Sys, ctx: &Ctx, job: &str) -> Result<()> {
    let s = ctx.settings;
    let each = Duration::from_secs(2);
    let asked = match Job::named(job) {
        Some(j) => j.health_probe(ctx)?,
        None => Probe::Nothing,
    };
    let probe = || asked.ask(ctx, each);
    let deadline = deadline_after(Duration::from_secs(s.start_timeout));
    loop {
        if sys.interrupted().is_some() {
            bail!("interrupted while waiting for {job}'s health probe");
        }
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

/// Now plus `d`, or as far as the clock goes (a huge timeout must not overflow and panic).
pub fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// `initctl start JOB` ("already running" is success: upstart chains our jobs), then wait
/// until it is start/running with a live process and (`start_wait_healthy`) answers its
/// health check ([`Job::probe`]), each tick one `initctl list` and one probe: the engine
/// starts the jobs in order, so each waits for the one it needs. Whether they stay up is
/// the run's one shared stability window ([`hold`]), after every job is up.
pub fn start(sys: &Sys, ctx: &Ctx, job: &str) -> Result<()> {
    let argv = ["initctl", "start", job];
    let out = sys.run(&argv)?;
    if !out.success() {
        match classify_stderr(&out.stderr) {
            InitctlError::AlreadyRunning(_) => {} // upstart chained it from the job before
            InitctlError::UnknownJob(_) => return Err(not_loaded(job)),
            _ => bail!("{}", command_failure(&argv, &out)),
        }
    }
    let timeout = Duration::from_secs(ctx.settings.start_timeout);
    let probed = match Job::named(job).filter(|_| ctx.settings.start_wait_healthy) {
        Some(j) => Some(j.health_probe(ctx)?),
        None => None,
    };
    let begun = Instant::now();
    loop {
        if sys.interrupted().is_some() {
            bail!("interrupted while waiting for {job} to run");
        }
        let life = life(sys, &list_now(sys)?, job);
        let unhealthy = match (&life, &probed) {
            (Life::Alive(_), None) => return Ok(()),
            (Life::Alive(_), Some(p)) => match p.ask(ctx, PROBE_TIMEOUT) {
                Ok(()) => return Ok(()),
                Err(e) => Some(e),
            },
            (Life::Down(..), _) => None,
        };
        if begun.elapsed() >= timeout {
            let within = format!("within {}s", timeout.as_secs());
            return Err(match unhealthy {
                Some(e) => e.context(format!(
                    "{job} runs, but its health check did not answer {within}"
                )),
                None => not_up(ctx, job, &life, &within),
            });
        }
        std::thread::sleep(TICK);
    }
}

/// How long one health probe of a starting job may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How often a wait looks at upstart again: one `initctl list` for all jobs each time.
const TICK: Duration = Duration::from_millis(100);

/// One fresh `initctl list` (never a remembered answer: a wait must see change).
fn list_now(sys: &Sys) -> Result<Vec<JobStatus>> {
    let argv = ["initctl", "list"];
    let out = sys.run(&argv)?;
    if !out.success() {
        bail!("{}", command_failure(&argv, &out));
    }
    parsed_list(&out)
}

/// What one look shows of a job.
enum Life {
    /// start/running, and its process exists.
    Alive(u32),
    /// Its line, when it does not run with a live process: upstart 0.6.5 goes on saying
    /// start/running for a job whose tracked process died (`Some(pid)`, that process).
    Down(String, Option<u32>),
}

fn life(sys: &Sys, list: &[JobStatus], job: &str) -> Life {
    let Some(s) = list.iter().find(|s| s.name == job && s.instance.is_none()) else {
        return Life::Down(format!("{job} is not in `initctl list`"), None);
    };
    match s.pid.filter(|_| s.is_running()) {
        Some(pid) if sys.process_exists(pid) => Life::Alive(pid),
        gone => Life::Down(s.to_string(), gone),
    }
}

/// A job that is not up as it should be: what upstart says, and where its output went.
fn not_up(ctx: &Ctx, job: &str, life: &Life, when: &str) -> anyhow::Error {
    let seen = match life {
        Life::Down(last, Some(pid)) => format!(
            "upstart still says `{last}`, but process {pid}, the one it tracks, no longer exists"
        ),
        Life::Down(last, None) => format!("last status: {last}"),
        Life::Alive(pid) => format!("it runs again, as a new process {pid} (it was restarted)"),
    };
    let output = Job::named(job).map_or(Vec::new(), |j| j.output(ctx.settings));
    let whereto = match output.split_last() {
        None => String::new(),
        Some((only, [])) => format!("; the job's output went to {only}"),
        Some((last, rest)) => format!("; the job's output went to {} and {last}", rest.join(", ")),
    };
    anyhow!(
        "job {job} did not stay start/running {when}: {seen}{whereto} (upstart logs how its \
         process ended to /var/log/messages)"
    )
}

/// The run's one stability window, after every job it started is up: for
/// `start_settle_ms`, one `initctl list` per tick, and each of `jobs` must keep running
/// with the same live process. A job that dies a moment after "start/running" (sudo under
/// `Defaults requiretty`, FACTS.md) is caught here, whichever job it is.
pub fn hold(sys: &Sys, ctx: &Ctx, jobs: &[String]) -> Result<()> {
    let settle = Duration::from_millis(ctx.settings.start_settle_ms);
    let begun = Instant::now();
    let mut first: Vec<Option<u32>> = vec![None; jobs.len()];
    loop {
        if sys.interrupted().is_some() {
            bail!(
                "interrupted while waiting for {} to stay up",
                jobs.join(", ")
            );
        }
        let list = list_now(sys)?;
        for (job, first) in jobs.iter().zip(first.iter_mut()) {
            let life = life(sys, &list, job);
            let same = match life {
                Life::Alive(pid) => *first.get_or_insert(pid) == pid,
                Life::Down(..) => false,
            };
            if !same {
                let when = format!("for {}ms after it started", settle.as_millis());
                return Err(not_up(ctx, job, &life, &when));
            }
        }
        let left = settle.saturating_sub(begun.elapsed());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(TICK.min(left));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graph() {
        assert_eq!(Blot.needs(), [Redis]);
        assert_eq!(Monit.needs(), [Redis, Blot, Nginx]);
        assert!(Redis.needs().is_empty());
        assert_eq!(Redis.chained(), [Blot, Nginx, Monit]);
        assert_eq!(Nginx.chained(), [Monit]);
        assert!(Monit.chained().is_empty());
        assert_eq!(Redis.dependents(), [Blot]);
        assert!(Blot.dependents().is_empty());
        for j in Job::ALL {
            assert_eq!(Job::named(j.name()), Some(j));
            // Upstart can only start a job after one that starts before it.
            assert!(j.needs().iter().all(|n| *n < j), "{j}");
        }
        assert_eq!(Job::named("monit.rc"), None);
    }
}
