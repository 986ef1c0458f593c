//! `blotctl deploy` and `blotctl restart`: the runbook's deploy, through the same plan/apply
//! model as `provision`.
//!
//! deploy plans its steps like provision. `app checkout` observes the checkout as the app
//! user, without changing a byte of it (a dry run leaves refs, FETCH_HEAD, objects and the
//! index as they are): the branch, local changes (`git --no-optional-locks status`), the
//! remote's head (`git ls-remote`), and, when that commit is here already, whether it is a
//! fast-forward. The change is the fast-forward: fetch the branch when its commits are not
//! here yet, check again that it is a fast-forward of what was observed, `git merge
//! --ff-only`. `app configs` refreshes the root-owned copies in /etc/blot of the checkout's
//! nginx and redis configs as the deployed commit has them (read by git, as the app user;
//! validated with `nginx -t`, as in provision). Then the restarts: redis when its copy
//! changes (it takes blot with it), blot when the checkout moves (or with `--restart`),
//! nginx when its copies change. When the deployed commit is not here yet, the copies are
//! "not checked" in the plan (a dry run does not fetch), and a real deploy plans and applies
//! them in a second round, after the fast-forward. Refusals (local changes, a diverged or
//! ahead branch, another branch checked out) are planning errors: nothing is changed.
//!
//! A restart is `stop` then `start` through upstart ("Unknown instance" from stop means it
//! was already stopped), then a wait until the job is start/running and its health probe
//! answers; blot depends on redis, so a stopped redis is started first, and a restart of
//! redis waits for blot too (upstart stops blot with redis and starts it again after).

use crate::app::{self, NotRoot};
use crate::cli::{DeployArgs, RestartArgs};
use crate::config::Settings;
use crate::engine;
use crate::jobs::Job;
use crate::journal::Journal;
use crate::outcome::Outcome;
use crate::plan::Planned;
use crate::printer::Printer;
use crate::steps::checkout::Checkout;
use crate::steps::configs;
use crate::steps::restart::Restart;
use crate::steps::{Ctx, Step};
use crate::sys::Sys;
use anyhow::Result;

/// What follows the checkout: the copies of its configs as the deployed commit has them,
/// then what runs them: redis (which takes blot with it), blot (`Some(always)`; `None`: not
/// at all), nginx.
fn refresh_steps(blot: Option<bool>) -> Vec<Box<dyn Step>> {
    let mut steps: Vec<Box<dyn Step>> = vec![
        Box::new(configs::Configs {
            read: Some(crate::git::deployed_file),
        }),
        Box::new(Restart {
            job: Job::Redis,
            always: false,
        }),
    ];
    if let Some(always) = blot {
        steps.push(Box::new(Restart {
            job: Job::Blot,
            always,
        }));
    }
    steps.push(Box::new(Restart {
        job: Job::Nginx,
        always: false,
    }));
    steps
}

/// deploy's steps: the checkout, then [`refresh_steps`].
fn deploy_steps(restart_blot: bool) -> Vec<Box<dyn Step>> {
    let mut steps: Vec<Box<dyn Step>> = vec![Box::new(Checkout)];
    steps.extend(refresh_steps(Some(restart_blot)));
    steps
}

/// `blotctl deploy`.
pub fn deploy(sys: &Sys, settings: &Settings, args: &DeployArgs, printer: Printer) -> Result<u8> {
    // When the deployed commit was not here to read its configs from, the second round
    // (after the fast-forward fetched it) refreshes the copies and restarts what runs them
    // (blot restarted in the first round already, for the checkout's move).
    let second = |first: &[Planned]| -> Option<Vec<Box<dyn Step>>> {
        let unread = first
            .iter()
            .filter(|p| p.name == "app configs")
            .any(|p| p.plan.as_ref().is_ok_and(|pl| !pl.not_checked.is_empty()));
        unread.then(|| refresh_steps(None))
    };
    // After applying, the checkout and the copies must be up to date (a forced restart is
    // not "left").
    run(
        sys,
        settings,
        "deploy",
        args.dry_run,
        deploy_steps(args.restart),
        || deploy_steps(false),
        second,
        printer,
    )
}

/// `blotctl restart JOB`.
pub fn restart(sys: &Sys, settings: &Settings, args: &RestartArgs, printer: Printer) -> Result<u8> {
    let job = args.job.job();
    let steps: Vec<Box<dyn Step>> = vec![Box::new(Restart { job, always: true })];
    run(
        sys,
        settings,
        "restart",
        args.dry_run,
        steps,
        Vec::new,
        |_| None,
        printer,
    )
}

/// Plan, show, and (unless a dry run) apply under the run lock, like `provision`; then,
/// when `then` asks for them after the first round was applied, plan and apply its steps as
/// part of the same run.
#[allow(clippy::too_many_arguments)]
fn run(
    sys: &Sys,
    settings: &Settings,
    command: &str,
    dry_run: bool,
    steps: Vec<Box<dyn Step>>,
    replan: impl Fn() -> Vec<Box<dyn Step>>,
    then: impl Fn(&[Planned]) -> Option<Vec<Box<dyn Step>>>,
    printer: Printer,
) -> Result<u8> {
    let _lock = if dry_run {
        None
    } else {
        if !sys.is_root() {
            return Err(NotRoot(format!(
                "{command} must run as root (git as the app user, upstart)"
            ))
            .into());
        }
        Some(app::take_lock(sys)?)
    };
    let ctx = Ctx {
        sys,
        settings,
        no_start: false,
        offline: false,
    };
    let planned = {
        let spinner = printer.spinner("planning");
        crate::steps::plan_all_with(&ctx, &steps, |name| {
            spinner.step(format!("planning: {name}"))
        })
    };
    let plan = Outcome::new(command, dry_run).with_planned(&planned, false);
    if dry_run {
        return app::end_dry_run(plan, "dry run", false, printer);
    }
    if let Some(err) = app::refusal(&plan) {
        return app::refuse(plan, err, printer);
    }
    let counts = plan.counts();
    if counts.changes == 0 {
        let what = if command == "deploy" {
            "already up to date, nothing restarted"
        } else {
            "nothing to do"
        };
        return app::end_nothing_to_do(plan, what, printer);
    }
    app::not_interrupted(sys, command, counts.changes)?;
    engine::preflight(sys, planned.iter().flat_map(|p| p.changes()))?;
    let mut journal = Journal::new(command, None);
    let (mut applied, mut result) =
        app::apply_all(sys, &ctx, &planned, counts.changes, &mut journal, printer);
    let mut planned = planned;
    if let (Ok(()), Some(more)) = (&result, then(&planned)) {
        let second = crate::steps::plan_all(&ctx, &more);
        let outcome = Outcome::new(command, false).with_planned(&second, false);
        result = match app::refusal(&outcome) {
            Some(err) => Err(err),
            None => {
                let n = outcome.counts().changes;
                engine::preflight(sys, second.iter().flat_map(|p| p.changes()))?;
                let (more_applied, r) =
                    app::apply_all(sys, &ctx, &second, n, &mut journal, printer);
                let offset = planned.len();
                applied.per_step.extend(more_applied.per_step);
                applied.failed = more_applied.failed.map(|(i, e)| (i + offset, e));
                r
            }
        };
        planned.extend(second);
    }
    let result = result.and_then(|()| {
        app::converged(
            &ctx,
            |ctx| Ok::<Vec<Planned>, anyhow::Error>(crate::steps::plan_all(ctx, &replan())),
            applied.changes(),
        )
    });
    let done = if command == "deploy" {
        "deployed"
    } else {
        "restarted"
    };
    let backup = journal.run_id().map(String::from);
    app::end_run(command, &planned, &applied, result, backup, done, printer)
}
