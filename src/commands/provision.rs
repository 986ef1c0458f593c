//! `blotctl provision`: every step, through the run pipeline.

use crate::cli::ProvisionArgs;
use crate::config::Settings;
use crate::printer::Printer;
use crate::run::{self, Plan, Run, Start};
use crate::sys::Sys;
use anyhow::Result;

pub fn run(sys: &Sys, settings: &Settings, args: &ProvisionArgs, printer: Printer) -> Result<u8> {
    let start = Start {
        command: "provision",
        dry_run: args.dry_run,
        confirm: Some(args.yes),
        verb: "provision",
        needs_root: "provision must run as root to change the box",
    };
    let run = Run {
        strict: args.strict,
        no_start: args.no_start,
        nothing: Some("nothing to do, the box is as provisioned".into()),
        ..Run::new(start, Plan::Steps(crate::steps::all()), "provisioned")
    };
    crate::report::finish(run::run(sys, settings, &run, printer)?, printer)
}
