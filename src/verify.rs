//! `blotctl verify`: read-only proof that the box is as provisioned and healthy.
//!
//! Checks of files: the provision plan is empty (same engine, no drift: contents, modes,
//! owners, rc links), the configs are valid for their programs (visudo, `monit -t`, `nginx
//! -t` where installed), nginx has no `localhost` upstream. Checks of the live box: every
//! job is `start/running, process N` with N alive, the kernel values, redis answers PING,
//! blot and nginx are healthy (`crate::health`: the checks the monit control file renders).
//!
//! What cannot be observed here (off the box: no init to ask, 127.0.0.1 is not the box;
//! `--offline`: files only) is *not checked*: reported as skipped, never as passed.

use crate::jobconf::{self, Program};
use crate::jobs::{self, InitState, Job};
use crate::outcome::{State, StepOutcome};
use crate::plan::{Planned, Status};
use crate::steps::{self, Ctx};
use anyhow::Result;
use std::time::Duration;

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Run every check once: the files (the plan must be empty, configs valid, no `localhost`
/// upstream), then the live state (jobs, kernel values, redis/HTTP answers), which is
/// reported as not checked where it cannot be observed.
pub fn checks(ctx: &Ctx) -> Vec<StepOutcome> {
    checks_of(ctx, steps::plan_all(ctx, &steps::all()))
}

/// [`checks`], from the plan already made of every step (`capture` looks at it first).
pub fn checks_of(ctx: &Ctx, planned: Vec<Planned>) -> Vec<StepOutcome> {
    let mut out = Vec::new();
    for p in planned {
        let name = format!("provisioned: {}", p.name);
        out.push(match p.plan {
            Err(e) => StepOutcome::check(name, State::Failed, format!("{e:#}")),
            Ok(plan) if !plan.changes.is_empty() => StepOutcome {
                changes: plan.changes.clone(),
                ..StepOutcome::check(
                    name,
                    State::Failed,
                    format!(
                        "drift: {}",
                        plan.changes
                            .iter()
                            .map(|c| c.summary.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                )
            },
            Ok(plan) if !plan.not_checked.is_empty() => StepOutcome {
                reason: None,
                not_checked: plan.not_checked,
                ..StepOutcome::check(name, State::NotChecked, "")
            },
            Ok(plan) => match plan.status {
                Status::Absent { reason } => StepOutcome::check(name, State::Absent, reason),
                Status::Skipped { reason } => StepOutcome::check(name, State::Skipped, reason),
                Status::Planned => StepOutcome::check(name, State::Ok, "in sync"),
            },
        });
    }
    out.extend(config_checks(ctx));
    out.push(StepOutcome::result(
        "nginx upstreams use 127.0.0.1",
        (|| {
            let conf = jobconf::resolve(ctx, Program::Nginx)?;
            for (path, bytes) in conf.read_by_program() {
                let text = String::from_utf8_lossy(bytes);
                if let Some(line) = crate::nginx::localhost_upstream(&text) {
                    anyhow::bail!(
                        "{path} line {line} names `localhost` in an upstream; nginx fails at \
                         boot with `host not found in upstream \"localhost\"`: use 127.0.0.1"
                    );
                }
            }
            Ok("no localhost upstream".into())
        })(),
    ));

    let state = jobs::observe(ctx);
    let unknown = match &state {
        Ok(InitState::Unknown(why)) => Some(jobs::unknown_reason(why)),
        _ => None,
    };
    for job in Job::ALL.map(Job::name) {
        let name = format!("job {job} running");
        out.push(match (&state, &unknown) {
            (_, Some(why)) => StepOutcome::not_checked(name, why.clone()),
            (Err(e), _) => StepOutcome::check(name, State::Failed, format!("{e:#}")),
            (Ok(s), None) => StepOutcome::result(
                name,
                match s.job(job) {
                    None => Err(anyhow::anyhow!("{job} is not a job upstart knows")),
                    Some(j) if !j.is_running() => Err(anyhow::anyhow!("{j}")),
                    Some(j) => {
                        let pid = j.pid.unwrap_or(0);
                        if ctx.sys.process_exists(pid) {
                            Ok(j.to_string())
                        } else {
                            Err(anyhow::anyhow!("{j}, but process {pid} does not exist"))
                        }
                    }
                },
            ),
        });
    }
    // The host-settings task is not a long-running job: check the values it sets.
    out.extend(kernel_checks(ctx));

    // What answers on 127.0.0.1 here is the box only on the box itself, or where the box's
    // jobs can be seen (an init for the tree under --root).
    let probe_why = if ctx.offline {
        Some(jobs::OFFLINE.to_string())
    } else if ctx.sys.is_live() {
        None
    } else {
        unknown.map(|why| {
            format!("127.0.0.1 here is not the box, and its jobs are not checked ({why})")
        })
    };
    let probe = |name: &str, run: &dyn Fn() -> Result<String>| match &probe_why {
        Some(why) => StepOutcome::not_checked(name, why.clone()),
        None => StepOutcome::result(name, run()),
    };
    out.push(probe("redis answers PING", &|| {
        let port = jobconf::running_redis_config(ctx)?.port;
        ctx.sys.probe_redis(port, PROBE_TIMEOUT)?;
        Ok(format!("PONG on 127.0.0.1:{port}"))
    }));
    out.push(probe("blot answers HTTP", &|| {
        crate::health::app(ctx).probe(ctx, PROBE_TIMEOUT)
    }));
    out.push(probe("nginx answers HTTP", &|| {
        crate::health::nginx(ctx)?.probe(ctx, PROBE_TIMEOUT)
    }));
    out
}

/// `verify`'s checks of the live values: not managed (a setting off) is skipped, and off
/// the box they are not checked.
fn kernel_checks(ctx: &Ctx) -> Vec<StepOutcome> {
    use crate::steps::hostsettings::{live_value, not_live, OVERCOMMIT, THP};
    let s = ctx.settings;
    [
        (
            "transparent huge pages never",
            s.thp_never,
            "thp_never",
            THP,
            "never",
        ),
        (
            "vm.overcommit_memory = 1",
            s.overcommit_memory,
            "overcommit_memory",
            OVERCOMMIT,
            "1",
        ),
    ]
    .into_iter()
    .map(|(name, on, key, path, want)| {
        if !on {
            return StepOutcome::check(
                name,
                State::Skipped,
                format!("not managed ({key} = false)"),
            );
        }
        if let Some(why) = not_live(ctx) {
            return StepOutcome::not_checked(name, why);
        }
        StepOutcome::result(
            name,
            match live_value(ctx, path) {
                Err(e) => Err(e),
                Ok(None) => Ok(format!("{path} does not exist on this kernel")),
                Ok(Some(v)) if v == want => Ok(format!("{path} is {v}")),
                Ok(Some(v)) => Err(anyhow::anyhow!(
                    "{path} is {v}, not {want}: redis warns about it at start (run `blotctl \
                     provision`)"
                )),
            },
        )
    })
    .collect()
}

/// The configs the jobs run are valid for their programs, where those are installed here:
/// /etc/sudoers (`visudo -c`), the monit control file (`monit -t`), and, on the box itself
/// only, nginx's config (`nginx -t` opens the files it names, which under --root would be
/// this machine's). visudo and `monit -t` run again only when what they read is not what
/// a run recorded they accepted (`crate::validated`).
fn config_checks(ctx: &Ctx) -> Vec<StepOutcome> {
    use crate::steps::{sudoers, templates};
    use crate::validated::{unchanged_since, Validation};
    let sys = ctx.sys;
    let missing = |program: &str| format!("{program} is not on PATH");
    // The run whose validator accepted exactly these files, by the program on PATH now.
    let recorded = |v: Option<Validation>, path: &str| {
        let v = v?;
        let run = unchanged_since(sys, &v)?;
        Some(format!(
            "{path} validated by {} at run {run}, unchanged since",
            v.validator
        ))
    };
    let mut checks = Vec::new();

    let name = "sudoers is valid (visudo -c)";
    checks.push(if sys.which("visudo").is_none() {
        StepOutcome::not_checked(name, missing("visudo"))
    } else {
        StepOutcome::result(
            name,
            (|| {
                let path = sudoers::PATH;
                let now = sudoers::AsItIs::load(ctx)?;
                if let Some(done) = recorded(now.validation(ctx), path) {
                    return Ok(done);
                }
                let out = now.visudo(ctx)?;
                if !out.success() {
                    anyhow::bail!("visudo rejects {path}: {}", out.one_line());
                }
                Ok(format!("visudo -c accepts {path}"))
            })(),
        )
    });

    let name = "monit control file is valid (monit -t)";
    checks.push(if sys.which("monit").is_none() {
        StepOutcome::not_checked(name, missing("monit"))
    } else {
        StepOutcome::result(
            name,
            (|| {
                let path = &ctx.settings.monit_rc;
                let bytes = sys
                    .read(path)?
                    .ok_or_else(|| anyhow::anyhow!("{path} does not exist"))?;
                if let Some(done) = recorded(templates::monit_validation(ctx, path, &bytes), path) {
                    return Ok(done);
                }
                let out = templates::monit_check(ctx, &bytes)?;
                if !out.success() {
                    anyhow::bail!("monit -t rejects {path}: {}", out.one_line());
                }
                Ok(format!("monit -t accepts {path}"))
            })(),
        )
    });

    let name = "nginx config is valid (nginx -t)";
    checks.push(if !sys.is_live() {
        StepOutcome::not_checked(
            name,
            "nginx -t opens the files the config names (include, logs), which under --root \
             would be this machine's",
        )
    } else if sys.which("nginx").is_none() {
        StepOutcome::not_checked(name, missing("nginx"))
    } else {
        StepOutcome::result(
            name,
            (|| {
                let path = jobconf::resolve(ctx, Program::Nginx)?.run;
                let out = sys.ask(&["nginx", "-t", "-q", "-c", &path])?;
                if !out.success() {
                    anyhow::bail!("nginx -t rejects {path}: {}", out.one_line());
                }
                Ok(format!("nginx -t accepts {path}"))
            })(),
        )
    });
    checks
}
