//! `blotctl verify`: the checks (`crate::verify`) once, or again each second with `--wait`
//! until they pass; exit 1 when one fails.

use crate::cli::VerifyArgs;
use crate::config::Settings;
use crate::ctx::Ctx;
use crate::jobs;
use crate::outcome::{End, Outcome, State, StepOutcome};
use crate::printer::Printer;
use crate::sys::Sys;
use crate::verify;
use anyhow::Result;
use std::time::{Duration, Instant};

pub fn run(sys: &Sys, settings: &Settings, args: &VerifyArgs, printer: Printer) -> Result<u8> {
    let ctx = Ctx {
        sys,
        settings,
        no_start: false,
        offline: args.offline,
    };
    let failing = |r: &[StepOutcome]| r.iter().any(|c| c.state == State::Failed);
    let wait = args.wait.unwrap_or(0);
    let begun = Instant::now();
    let deadline = jobs::deadline_after(Duration::from_secs(wait));
    let results = {
        let spinner = printer.spinner("checking");
        let mut results = verify::checks(&ctx);
        if wait > 0 && failing(&results) {
            drop(spinner);
            let bar = printer.seconds_bar(wait, "waiting for the box to become healthy");
            while failing(&results) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_secs(1));
                bar.set_position(begun.elapsed().as_secs().min(wait));
                let n = results.iter().filter(|c| c.state == State::Failed).count();
                bar.set_message(format!("{n} check(s) failing"));
                results = verify::checks(&ctx);
            }
        }
        results
    };
    let mut o = Outcome::new("verify", false);
    o.steps = results;
    crate::report::finish(crate::run::look(o, args.strict, End::Checks), printer)
}
