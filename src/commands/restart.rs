//! `blotctl restart JOB`: stop and start one job through upstart, through the run pipeline;
//! a job it needs that is stopped is started first (`steps::restart`).

use crate::cli::RestartArgs;
use crate::config::Settings;
use crate::printer::Printer;
use crate::run::{self, Plan, Run, Start};
use crate::steps::restart::Restart;
use crate::sys::Sys;
use anyhow::Result;

pub fn run(sys: &Sys, settings: &Settings, args: &RestartArgs, printer: Printer) -> Result<u8> {
    let start = Start {
        command: "restart",
        dry_run: args.dry_run,
        confirm: None,
        verb: "restart",
        needs_root: "restart must run as root (it starts and stops upstart jobs)",
    };
    let restart = Restart {
        job: args.job.job(),
        always: true,
    };
    let run = Run {
        // A restart leaves nothing to converge to.
        replan: Some(Plan::Steps(Vec::new())),
        nothing: Some("nothing to do".into()),
        ..Run::new(start, Plan::Steps(vec![Box::new(restart)]), "restarted")
    };
    crate::report::finish(run::run(sys, settings, &run, printer)?, printer)
}
