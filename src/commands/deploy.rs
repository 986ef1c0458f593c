//! `blotctl deploy`: the runbook's deploy through the run pipeline. `app checkout` plans the
//! fast-forward of the app checkout (as the app user, changing nothing while it looks);
//! `app configs` the root-owned copies in /etc/blot of the checkout's nginx and redis
//! configs as the deployed commit has them; then the restarts: redis when its copy changes
//! (blot goes with it), blot when the checkout moves (or with `--restart`), nginx when its
//! copies change. When the deployed commit is not here yet (a dry run does not fetch), the
//! copies are *not checked* in the plan, and a real deploy plans and applies them in a
//! second round, after the fast-forward fetched the commit.

use crate::cli::DeployArgs;
use crate::config::Settings;
use crate::jobs::Job;
use crate::plan::Planned;
use crate::printer::Printer;
use crate::run::{self, Plan, Run, Start};
use crate::steps::checkout::Checkout;
use crate::steps::configs::Configs;
use crate::steps::restart::Restart;
use crate::steps::Step;
use crate::sys::Sys;
use anyhow::Result;

pub fn run(sys: &Sys, settings: &Settings, args: &DeployArgs, printer: Printer) -> Result<u8> {
    // The deployed commit was not here to read its configs from: once the fast-forward
    // fetched it, refresh the copies and restart what runs them (blot restarted in the
    // first round already, for the checkout's move).
    let second = |first: &[Planned]| -> Option<Vec<Box<dyn Step>>> {
        let unread = first
            .iter()
            .filter(|p| p.name == "app configs")
            .any(|p| p.plan.as_ref().is_ok_and(|pl| !pl.not_checked.is_empty()));
        unread.then(|| refresh_steps(None))
    };
    let start = Start {
        command: "deploy",
        dry_run: args.dry_run,
        confirm: None,
        verb: "deploy",
        needs_root: "deploy must run as root (git as the app user, upstart)",
    };
    let run = Run {
        // After applying, the checkout and the copies must be up to date (a forced
        // restart is not "left").
        replan: Some(Plan::Steps(deploy_steps(false))),
        then: Some(&second),
        nothing: Some("already up to date, nothing restarted".into()),
        ..Run::new(start, Plan::Steps(deploy_steps(args.restart)), "deployed")
    };
    crate::report::finish(run::run(sys, settings, &run, printer)?, printer)
}

/// What follows the checkout: the copies of its configs as the deployed commit has them,
/// then what runs them: redis (which takes blot with it), blot (`Some(always)`; `None`: not
/// at all), nginx.
fn refresh_steps(blot: Option<bool>) -> Vec<Box<dyn Step>> {
    let restart = |job, always| Box::new(Restart { job, always }) as Box<dyn Step>;
    let mut steps: Vec<Box<dyn Step>> = vec![
        Box::new(Configs {
            read: Some(crate::git::deployed_file),
        }),
        restart(Job::Redis, false),
    ];
    if let Some(always) = blot {
        steps.push(restart(Job::Blot, always));
    }
    steps.push(restart(Job::Nginx, false));
    steps
}

/// deploy's steps: the checkout, then [`refresh_steps`].
fn deploy_steps(restart_blot: bool) -> Vec<Box<dyn Step>> {
    let mut steps: Vec<Box<dyn Step>> = vec![Box::new(Checkout)];
    steps.extend(refresh_steps(Some(restart_blot)));
    steps
}
