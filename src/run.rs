//! The one run pipeline of the commands that change the box (provision, rollback, deploy,
//! restart, init): plan → show → refuse → confirm → preflight (after the temp files a
//! killed run left) → apply → plan again → an [`Ended`] outcome (what was planned, what was
//! applied, counted as applied, the backup, the error), which `report::finish` prints as
//! text, JSON or JUnit. What differs between the commands is data in [`Run`]; nothing here
//! asks which command runs.

use crate::config::Settings;
use crate::ctx::Ctx;
use crate::engine;
use crate::failure::{
    exit_code, kinded, ErrorKind, Interrupted, NotRoot, UsageError, EXIT_FAILED, EXIT_OK,
    EXIT_PENDING,
};
use crate::journal::{self, Journal};
use crate::outcome::{Applied, End, Ended, Outcome, State, StepOutcome};
use crate::plan::Planned;
use crate::printer::Printer;
use crate::report;
use crate::steps::{self, Step};
use crate::sys::Sys;
use anyhow::{anyhow, Context, Result};
use std::io::IsTerminal;

/// How a run makes its plan.
pub enum Plan<'a> {
    /// Plan these steps, in order (`steps::plan_all`).
    Steps(Vec<Box<dyn Step>>),
    /// A plan made another way (rollback's, from a run's manifest); its error stops the run.
    Made(&'a (dyn Fn(&Ctx) -> Result<Vec<Planned>> + 'a)),
}

impl Plan<'_> {
    fn make(&self, ctx: &Ctx, printer: Option<Printer>) -> Result<Vec<Planned>> {
        let spinner = printer.map(|p| p.spinner("planning"));
        match self {
            Plan::Steps(steps) => Ok(steps::plan_all_with(ctx, steps, |name| {
                if let Some(s) = &spinner {
                    s.step(format!("planning: {name}"))
                }
            })),
            Plan::Made(plan) => plan(ctx),
        }
    }
}

/// Given the first round's plan, the steps of a second round, if one is needed.
pub type Then<'a> = dyn Fn(&[Planned]) -> Option<Vec<Box<dyn Step>>> + 'a;
/// What a run does once it applied its plan.
pub type After<'a> = dyn Fn(&Sys, &Journal) -> Result<()> + 'a;

/// How a command that changes the box starts: what a real run needs before it looks at
/// the box.
pub struct Start {
    pub command: &'static str,
    pub dry_run: bool,
    /// `Some(yes)`: show the plan and ask on a terminal before applying, unless `--yes`
    /// (the operator confirms what the plan shows); `None`: the command line named what to
    /// do (deploy, restart), nothing is asked.
    pub confirm: Option<bool>,
    /// The verb for "refusing to VERB without confirmation".
    pub verb: &'static str,
    /// The error when blotctl does not run as root.
    pub needs_root: &'static str,
}

/// A command that changes the box, as the pipeline needs it.
pub struct Run<'a> {
    pub start: Start,
    /// A dry run fails on what cannot be checked here.
    pub strict: bool,
    /// `provision --no-start`.
    pub no_start: bool,
    pub plan: Plan<'a>,
    /// What is planned again after applying, when not [`Run::plan`] (anything left "did
    /// not converge").
    pub replan: Option<Plan<'a>>,
    /// Steps to plan and apply once the first round is applied, in the same run (deploy:
    /// the copies of the configs of a commit that its fast-forward fetched).
    pub then: Option<&'a Then<'a>>,
    /// Done after applying (rollback marks the run it undid).
    pub after: Option<&'a After<'a>>,
    /// The run this one undoes, for its journal.
    pub undoes: Option<String>,
    /// The summary line's words: of a dry run, of a real run with nothing to do (`None`:
    /// it goes on and applies nothing), of a finished run.
    pub dry_what: String,
    pub nothing: Option<String>,
    pub done: String,
}

impl<'a> Run<'a> {
    /// A run of `plan` that says `done` when it is done; the rest as most commands want it
    /// (no `--strict`, jobs started, no second round, "dry run", nothing-to-do goes on).
    pub fn new(start: Start, plan: Plan<'a>, done: impl Into<String>) -> Run<'a> {
        Run {
            start,
            strict: false,
            no_start: false,
            plan,
            replan: None,
            then: None,
            after: None,
            undoes: None,
            dry_what: "dry run".into(),
            nothing: None,
            done: done.into(),
        }
    }
}

/// [`start`], then [`go`].
pub fn run(sys: &Sys, settings: &Settings, r: &Run, printer: Printer) -> Result<Ended> {
    let _lock = start(sys, settings, &r.start, printer)?;
    go(sys, settings, r, printer)
}

/// Before a real run looks at the box: it could ask (when it would), it runs as root, it
/// holds the run lock (returned: held until dropped), and the temp files a killed run left
/// are gone. A dry run needs none of that.
pub fn start(
    sys: &Sys,
    settings: &Settings,
    s: &Start,
    printer: Printer,
) -> Result<Option<crate::sys::RunLock>> {
    if let Some(yes) = s.confirm {
        no_prompt_in_documents(printer, s.dry_run, yes)?;
    }
    if s.dry_run {
        return Ok(None);
    }
    if s.confirm == Some(false) && !interactive() {
        return Err(UsageError(format!(
            "refusing to {} without confirmation: stdin or stderr is not a terminal; \
             re-run with --yes to apply, or with --dry-run to see the plan",
            s.verb
        ))
        .into());
    }
    if !sys.is_root() {
        return Err(NotRoot(s.needs_root.into()).into());
    }
    let lock = take_lock(sys)?;
    let ctx = Ctx {
        sys,
        settings,
        no_start: true,
        offline: false,
    };
    clean_stale_temps(sys, &ctx, printer)?;
    Ok(Some(lock))
}

/// Plan, and unless it is a dry run (or refused, or cancelled), apply: after [`start`].
pub fn go(sys: &Sys, settings: &Settings, r: &Run, printer: Printer) -> Result<Ended> {
    let (command, dry_run) = (r.start.command, r.start.dry_run);
    let ctx = Ctx {
        sys,
        settings,
        no_start: r.no_start,
        offline: false,
    };
    let planned = r.plan.make(&ctx, Some(printer))?;
    let plan = Outcome::new(command, dry_run).with_planned(&planned, false);
    if dry_run {
        let end = End::Look {
            what: r.dry_what.clone(),
        };
        return Ok(look(plan, r.strict, end));
    }
    if let Some(err) = refusal(&plan) {
        let outcome = plan.with_error(&err, EXIT_FAILED);
        let error = Some(err);
        return Ok(Ended {
            outcome,
            end: End::Refused,
            error,
        });
    }
    let changes = plan.counts().changes;
    if let (0, Some(what)) = (changes, &r.nothing) {
        let mut outcome = plan;
        outcome.exit_code = EXIT_OK;
        let end = End::NothingToDo { what: what.clone() };
        return Ok(Ended {
            outcome,
            end,
            error: None,
        });
    }
    if let Some(yes) = r.start.confirm {
        if !yes {
            crate::out!("{}", report::steps_text(&plan.steps, printer.quiet()));
        }
        if changes > 0 && !confirm(yes, changes)? {
            let mut outcome = plan;
            outcome.exit_code = EXIT_FAILED;
            return Ok(Ended {
                outcome,
                end: End::Cancelled,
                error: None,
            });
        }
    }
    not_interrupted(sys, command, changes)?;
    engine::preflight(sys, planned.iter().flat_map(|p| p.changes()))?;
    let mut journal = Journal::new(command, r.undoes.clone());
    let (mut applied, mut result) = apply_all(sys, &ctx, &planned, changes, &mut journal, printer);
    let mut planned = planned;
    if let (Ok(()), Some(more)) = (&result, r.then.and_then(|then| then(&planned))) {
        let second = steps::plan_all(&ctx, &more);
        let outcome = Outcome::new(command, false).with_planned(&second, false);
        result = match refusal(&outcome) {
            Some(err) => Err(err),
            None => {
                let n = outcome.counts().changes;
                engine::preflight(sys, second.iter().flat_map(|p| p.changes()))?;
                let (more_applied, r) = apply_all(sys, &ctx, &second, n, &mut journal, printer);
                let offset = planned.len();
                applied.per_step.extend(more_applied.per_step);
                applied.failed = more_applied.failed.map(|(i, e)| (i + offset, e));
                r
            }
        };
        planned.extend(second);
    }
    let result = result
        .and_then(|()| r.after.map_or(Ok(()), |after| after(sys, &journal)))
        .and_then(|()| {
            let replan = r.replan.as_ref().unwrap_or(&r.plan);
            converged(&ctx, |ctx| replan.make(ctx, None), applied.changes())
        });
    let mut outcome = Outcome::new(command, false).with_applied(&planned, &applied);
    outcome.backup = journal.run_id().map(String::from);
    let error = result.err();
    if let Some(e) = &error {
        outcome = outcome.with_error(e, exit_code(e));
    }
    Ok(Ended {
        outcome,
        end: End::Applied {
            done: r.done.clone(),
        },
        error,
    })
}

/// The end of a look that changed nothing (a dry run, `verify`): the exit code from the
/// outcome (1 a step or check failed, or with `strict` something not checked; 2 changes
/// pending; else 0). A failed step or check is the document's error too; only `--strict`
/// makes the command fail with an error.
pub fn look(mut o: Outcome, strict: bool, end: End) -> Ended {
    let n = o.counts();
    let checks = matches!(end, End::Checks);
    // Counted as the summary line counts: verify's skipped checks, a plan's items.
    let strict_err = (strict && n.not_checked > 0).then(|| {
        let what = if checks {
            format!(
                "{} skipped",
                report::plural(report::skipped_checks(&o.steps), "check")
            )
        } else {
            format!(
                "{} not checked here",
                report::plural(n.not_checked, "thing")
            )
        };
        kinded(
            ErrorKind::NotChecked,
            anyhow!("{what}, and --strict fails on what cannot be checked here"),
        )
    });
    let failed_err = (n.failed > 0).then(|| {
        let failed = failed_steps(&o);
        let what = if checks {
            format!("{} failed", report::plural(n.failed, "check"))
        } else {
            format!("{} could not be planned", report::plural(n.failed, "step"))
        };
        kinded(
            ErrorKind::Failed,
            anyhow!("{what}:\n  {}", failed.join("\n  ")),
        )
    });
    o.exit_code = if n.failed > 0 || strict_err.is_some() {
        EXIT_FAILED
    } else if n.changes > 0 {
        EXIT_PENDING
    } else {
        EXIT_OK
    };
    if let Some(e) = strict_err.as_ref().or(failed_err.as_ref()) {
        o = o.with_error(e, EXIT_FAILED);
    }
    Ended {
        outcome: o,
        end,
        error: strict_err,
    }
}

/// Refuse a real run that would need a prompt when the output is a document.
fn no_prompt_in_documents(printer: Printer, dry_run: bool, yes: bool) -> Result<()> {
    if !printer.text() && !dry_run && !yes {
        return Err(UsageError(
            "--json/--format has no prompt: add --yes to apply, or use --dry-run".into(),
        )
        .into());
    }
    Ok(())
}

/// "No TTY" means stdin or stderr is not a terminal.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// The run lock (`flock`, waiting up to 3 s); a lock held by another run is a `lock` error.
fn take_lock(sys: &Sys) -> Result<crate::sys::RunLock> {
    sys.lock(journal::LOCK, std::time::Duration::from_secs(3))
        .map_err(|e| kinded(ErrorKind::Lock, e))
}

/// Each failed step (or check) of an outcome: `name: reason`.
fn failed_steps(o: &Outcome) -> Vec<String> {
    o.steps
        .iter()
        .filter(|s| s.state == State::Failed)
        .map(|s| format!("{}: {}", s.name, s.reason.as_deref().unwrap_or("")))
        .collect()
}

/// Why a real run must not start, from its plan: steps that failed, changes that are
/// blocked, or things it would have to act on that could not be checked here.
fn refusal(o: &Outcome) -> Option<anyhow::Error> {
    let failed = failed_steps(o);
    if !failed.is_empty() {
        return Some(kinded(
            ErrorKind::Refused,
            anyhow!(
                "no managed file was changed: {} could not be planned:\n  {}",
                report::plural(failed.len(), "step"),
                failed.join("\n  ")
            ),
        ));
    }
    let blocked: Vec<String> = o
        .steps
        .iter()
        .flat_map(|s| &s.changes)
        .filter_map(|c| c.blocked.as_ref().map(|b| format!("{}: {b}", c.summary)))
        .chain(
            o.steps
                .iter()
                .flat_map(|s| &s.not_checked)
                .filter(|n| n.blocking)
                .map(|n| format!("{} (not checked here: {})", n.summary, n.reason)),
        )
        .collect();
    (!blocked.is_empty()).then(|| {
        kinded(
            ErrorKind::Refused,
            anyhow!(
                "no managed file was changed: {} cannot be done safely here:\n  {}",
                report::plural(blocked.len(), "thing"),
                blocked.join("\n  ")
            ),
        )
    })
}

/// Remove temp files a killed run left in the directories blotctl writes to.
fn clean_stale_temps(sys: &Sys, ctx: &Ctx, printer: Printer) -> Result<()> {
    let s = ctx.settings;
    let monit_dir = std::path::Path::new(&s.monit_rc)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    let dirs = [
        "/etc".to_string(),
        "/etc/init".into(),
        crate::steps::logrotate::DIR.into(),
        monit_dir,
        s.logs_dir(),
    ];
    for dir in dirs.into_iter().chain(crate::jobconf::copy_dirs(ctx)) {
        for p in sys.remove_stale_temps(&dir)? {
            printer.say(&format!("removed {p} (left by a run that was killed)"));
        }
    }
    sys.remove_stale_temps(journal::STATE)?;
    sys.remove_stale_temps(journal::BACKUPS)?;
    for run in ctx.sys.list_dir(journal::BACKUPS)?.unwrap_or_default() {
        sys.remove_stale_temps(&format!("{}/{run}", journal::BACKUPS))?;
    }
    Ok(())
}

/// Ask on a terminal (unless --yes); true when the answer is yes.
fn confirm(yes: bool, changes: usize) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    dialoguer::Confirm::new()
        .with_prompt(format!("Apply {}?", report::plural(changes, "change")))
        .default(false)
        .interact()
        .context("cannot read the answer")
}

/// Apply every planned change in order, journaling each first; with text output, each
/// step's line as soon as it is done. What was applied is counted as it is made. A signal
/// (SIGINT, SIGTERM, SIGHUP, SIGPIPE) or output that can no longer be written stops the run
/// between two changes, each whole, or gives up the wait of the one under way.
fn apply_all(
    sys: &Sys,
    ctx: &Ctx,
    planned: &[Planned],
    total: usize,
    journal: &mut Journal,
    printer: Printer,
) -> (Applied, Result<()>) {
    let mut applied = Applied::default();
    let show = printer.text();
    let spinner = printer.spinner("applying");
    let stopped = |applied: &Applied, journal: &Journal, stop, abandoned| -> anyhow::Error {
        Interrupted::new(
            &stop,
            journal.command(),
            applied.changes(),
            total,
            journal.run_id(),
            abandoned,
        )
        .into()
    };
    for (i, p) in planned.iter().enumerate() {
        spinner.step(format!("applying: {}", p.name));
        applied.per_step.push(0);
        for c in p.changes() {
            // The safe point: between two changes, each whole.
            if let Some(stop) = sys.interrupted() {
                let err = stopped(&applied, journal, stop, None);
                return (applied, Err(err));
            }
            spinner.set_message(format!("{}: {}", p.name, c.summary));
            if let Err(e) = engine::apply(sys, ctx, c, journal) {
                if let Some(stop) = sys.interrupted() {
                    // A wait given up: the command was run (a job started, and upstart may
                    // have started the jobs chained to it), its outcome not yet seen.
                    let abandoned = Abandoned::of(ctx, c).to_string();
                    applied.failed = Some((i, abandoned.clone()));
                    let err = stopped(&applied, journal, stop, Some(abandoned));
                    return (applied, Err(err));
                }
                applied.failed = Some((i, format!("{e:#}")));
                if show {
                    spinner.println(&format!("{:<13}{}: {e:#}\n", "failed", p.name));
                }
                let err = anyhow!(
                    "stopped at `{}` after {} of {total} changes: {e:#}; fix the cause and run \
                     again",
                    c.summary,
                    applied.changes()
                );
                return (applied, Err(err));
            }
            applied.per_step[i] += 1;
        }
        // Each step's line as soon as it is done, above the spinner of the next.
        if show {
            spinner.println(&report::steps_text(
                &[StepOutcome::planned(p, true)],
                printer.quiet(),
            ));
        }
    }
    if let Some(stop) = sys.interrupted() {
        let err = stopped(&applied, journal, stop, None);
        return (applied, Err(err));
    }
    // Every job this round started is up: one stability window for all of them.
    let started = started_jobs(planned.iter().flat_map(|p| p.changes()));
    if !started.is_empty() {
        spinner.set_message(format!("checking that {} stay up", started.join(", ")));
        if let Err(e) = crate::jobs::hold(sys, ctx, &started) {
            if let Some(stop) = sys.interrupted() {
                let abandoned = Abandoned {
                    summary: format!("keep {} up for start_settle_ms", started.join(", ")),
                    running: crate::jobs::running(ctx),
                };
                let err = stopped(&applied, journal, stop, Some(abandoned.to_string()));
                return (applied, Err(err));
            }
            let last = planned.iter().rposition(|p| {
                p.changes()
                    .iter()
                    .any(|c| !started_jobs(std::iter::once(c)).is_empty())
            });
            applied.failed = last.map(|i| (i, format!("{e:#}")));
            return (
                applied,
                Err(e.context("after starting the jobs; fix the cause and run again")),
            );
        }
    }
    (applied, Ok(()))
}

/// The jobs these changes start, with those upstart starts or restarts with them, in start
/// order.
fn started_jobs<'c>(changes: impl Iterator<Item = &'c crate::plan::Change>) -> Vec<String> {
    use crate::jobs::Job;
    use crate::plan::Action;
    let mut names: Vec<String> = Vec::new();
    for c in changes {
        let (job, with): (&str, &[String]) = match &c.action {
            Action::StartJob { job } => (job, &[]),
            Action::RestartJob {
                job, dependents, ..
            } => (job, dependents),
            _ => continue,
        };
        names.push(job.to_string());
        names.extend(with.iter().cloned());
        if let Some(j) = Job::named(job) {
            names.extend(j.chained().into_iter().map(|j| j.name().to_string()));
        }
    }
    Job::ALL
        .into_iter()
        .map(|j| j.name().to_string())
        .filter(|j| names.contains(j))
        .collect()
}

/// A change whose command ran but whose wait was given up when the run was interrupted:
/// what it was, and which of blotctl's jobs upstart runs now (a start of redis also starts
/// blot, nginx and monit, which upstart chains to it).
#[derive(Debug, Clone)]
pub struct Abandoned {
    summary: String,
    running: Option<Vec<&'static str>>,
}

impl Abandoned {
    fn of(ctx: &Ctx, c: &crate::plan::Change) -> Abandoned {
        use crate::plan::Action;
        let jobs = matches!(
            c.action,
            Action::StartJob { .. } | Action::RestartJob { .. } | Action::StopJob { .. }
        );
        Abandoned {
            summary: c.summary.clone(),
            running: jobs.then(|| crate::jobs::running(ctx)).flatten(),
        }
    }
}

impl std::fmt::Display for Abandoned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` was under way and its wait was given up",
            self.summary
        )?;
        match self.running.as_deref() {
            None => Ok(()),
            Some([]) => write!(f, " (none of blotctl's jobs runs now)"),
            Some(jobs) => write!(f, " (upstart runs {} now)", jobs.join(", ")),
        }
    }
}

/// Plan again after applying: anything left "did not converge".
fn converged(ctx: &Ctx, replan: impl Fn(&Ctx) -> Result<Vec<Planned>>, made: usize) -> Result<()> {
    let mut left = Vec::new();
    for p in replan(ctx)? {
        match &p.plan {
            Err(e) => left.push(format!("{}: {e:#}", p.name)),
            Ok(plan) => left.extend(
                plan.changes
                    .iter()
                    .map(|c| format!("{}: {}", p.name, c.summary)),
            ),
        }
    }
    if !left.is_empty() {
        return Err(anyhow!(
            "did not converge: after applying {}, this is still not as planned:\n  {}",
            report::plural(made, "change"),
            left.join("\n  ")
        ));
    }
    Ok(())
}

/// Stop before the first change when a signal came (or the output failed) while planning.
fn not_interrupted(sys: &Sys, command: &str, total: usize) -> Result<()> {
    match sys.interrupted() {
        Some(stop) => Err(Interrupted::new(&stop, command, 0, total, None, None).into()),
        None => Ok(()),
    }
}
