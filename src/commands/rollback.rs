//! `blotctl rollback [RUN]`: undo a run from its manifest through the run pipeline (the
//! plan: `crate::rollback`); `--list` the recorded runs.

use crate::cli::RollbackArgs;
use crate::config::Settings;
use crate::ctx::Ctx;
use crate::failure::EXIT_OK;
use crate::journal::{self, Journal};
use crate::outcome::{Outcome, State, StepOutcome};
use crate::plan::Planned;
use crate::printer::Printer;
use crate::report;
use crate::rollback::Target;
use crate::run::{self, Plan, Run, Start};
use crate::sys::Sys;
use anyhow::Result;

pub fn run(sys: &Sys, settings: &Settings, args: &RollbackArgs, printer: Printer) -> Result<u8> {
    if args.list {
        return list(sys, settings, printer);
    }
    let start = Start {
        command: "rollback",
        dry_run: args.dry_run,
        confirm: Some(args.yes),
        verb: "roll back",
        needs_root: "roll back must run as root to change the box",
    };
    // Which run is undone is read under the run lock: no other run adds one meanwhile.
    let _lock = run::start(sys, settings, &start, printer)?;
    let runs = journal::list(sys, settings)?;
    let target = match crate::rollback::target(&runs, args.run.as_deref())? {
        Target::Undo { manifest, passed } => {
            for p in passed {
                crate::errln!("warning: passed over {p}");
            }
            manifest
        }
        Target::Nothing(why) => {
            let mut o = Outcome::new("rollback", args.dry_run);
            o.steps
                .push(StepOutcome::check("rollback", State::Ok, why.clone()));
            if !report::print_document(&o, printer.format) {
                crate::outln!("{why}");
            }
            return Ok(EXIT_OK);
        }
    };
    let plan_of = |ctx: &Ctx| -> Result<Vec<Planned>> {
        let plan = crate::rollback::plan(ctx, target)?;
        Ok(vec![Planned {
            name: "rollback",
            plan: Ok(plan),
        }])
    };
    // The run undone is marked so, by this one.
    let mark = |sys: &Sys, journal: &Journal| {
        let mut marked = target.clone();
        let by = journal.run_id().unwrap_or("(nothing to change)");
        marked.undone_by = Some(by.to_string());
        journal::save(sys, &marked)
    };
    let run = Run {
        strict: args.strict,
        no_start: true,
        after: Some(&mark),
        undoes: Some(target.run_id.clone()),
        dry_what: format!("rollback of {} (dry run)", target.run_id),
        ..Run::new(
            start,
            Plan::Made(&plan_of),
            format!("rolled back {}", target.run_id),
        )
    };
    report::finish(run::go(sys, settings, &run, printer)?, printer)
}

/// `--list`: every recorded run, and whether it can be rolled back.
fn list(sys: &Sys, settings: &Settings, printer: Printer) -> Result<u8> {
    let runs = journal::list(sys, settings)?;
    if !printer.text() {
        let runs: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| match &r.manifest {
                Ok(m) => serde_json::to_value(m).expect("JSON"),
                Err(why) => serde_json::json!({"run_id": r.id, "damaged": why}),
            })
            .collect();
        let mut o = Outcome::new("rollback", false);
        o.extra.insert("runs".into(), runs.into());
        report::print_document(&o, printer.format);
        return Ok(EXIT_OK);
    }
    if runs.is_empty() {
        crate::outln!("no recorded runs in {}", journal::BACKUPS);
    }
    for run in runs {
        let m = match run.manifest {
            Ok(m) => m,
            Err(why) => {
                crate::outln!("{}  damaged: {why}", run.id);
                continue;
            }
        };
        let state = match (&m.undoes, &m.undone_by) {
            (_, Some(by)) => format!("undone by {by}"),
            (Some(of), None) => format!("undid {of}"),
            (None, None) => "can be rolled back".into(),
        };
        let n = m.entries.len();
        let entries = format!("{n:>3} {}", if n == 1 { "entry" } else { "entries" });
        crate::outln!("{}  {:<10} {entries}  {state}", m.run_id, m.command);
    }
    Ok(EXIT_OK)
}
