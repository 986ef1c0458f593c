//! What a command found and did, as data: every command's result is an [`Outcome`], which
//! `report.rs` renders as text, JSON (one document, `schema/blotctl.schema.json`) or JUnit.
//!
//! Plans and results share one shape: a list of steps, each in one [`State`], with its
//! changes (pending or made) and what could not be checked here. `verify`'s checks are steps
//! too. An error that stops a command early is an outcome without steps, with its
//! [`ErrorKind`], so that `--json` prints one document whatever happens.

use crate::failure::{kind_of, ErrorKind};
use crate::plan::Planned;
use crate::plan::{Change, NotChecked, Status};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};

/// How a step (or a check) ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// As wanted (a check that passed).
    Ok,
    /// Changes are pending (a dry run, or the plan shown before asking).
    WouldChange,
    /// Changes were made.
    Changed,
    /// Nothing to change was found, but something could not be observed here.
    NotChecked,
    /// What the step manages is not on this box.
    Absent,
    /// Deliberately not run (e.g. `--no-start`, a setting turned off).
    Skipped,
    /// Could not be planned, or the check failed (in a run: a change of it failed).
    Failed,
    /// A real run stopped at an earlier step: none of this one's changes were made.
    NotReached,
}

/// One step of a plan or of a run, or one check of `verify`.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub name: String,
    pub state: State,
    /// Why it is in this state (failed, absent, skipped), or what a check found.
    pub reason: Option<String>,
    pub changes: Vec<Change>,
    pub not_checked: Vec<NotChecked>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
}

impl StepOutcome {
    /// A step as planned (`applied`: its changes were made, not pending).
    pub fn planned(p: &Planned, applied: bool) -> StepOutcome {
        let plan = match &p.plan {
            Err(e) => return StepOutcome::check(p.name, State::Failed, format!("{e:#}")),
            Ok(plan) => plan,
        };
        let (state, reason) = match &plan.status {
            Status::Absent { reason } => (State::Absent, Some(reason.clone())),
            Status::Skipped { reason } => (State::Skipped, Some(reason.clone())),
            Status::Planned if !plan.changes.is_empty() && applied => (State::Changed, None),
            Status::Planned if !plan.changes.is_empty() => (State::WouldChange, None),
            Status::Planned if !plan.not_checked.is_empty() => (State::NotChecked, None),
            Status::Planned => (State::Ok, None),
        };
        StepOutcome {
            name: p.name.to_string(),
            state,
            reason,
            changes: plan.changes.clone(),
            not_checked: plan.not_checked.clone(),
            warnings: plan.warnings.clone(),
            notes: plan.notes.clone(),
        }
    }

    /// A check with no changes: passed (`Ok`), `Failed`, `Skipped` or `Absent`.
    pub fn check(name: impl Into<String>, state: State, reason: impl Into<String>) -> StepOutcome {
        StepOutcome {
            name: name.into(),
            state,
            reason: Some(reason.into()),
            changes: Vec::new(),
            not_checked: Vec::new(),
            warnings: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A check that cannot be made here, and why.
    pub fn not_checked(name: impl Into<String>, why: impl Into<String>) -> StepOutcome {
        let name = name.into();
        let why = why.into();
        StepOutcome {
            not_checked: vec![NotChecked::new(name.clone(), why.clone())],
            ..StepOutcome::check(name, State::NotChecked, why)
        }
    }

    /// A check from its result: `Ok(detail)` passed, `Err(why)` failed.
    pub fn result(name: impl Into<String>, r: anyhow::Result<String>) -> StepOutcome {
        match r {
            Ok(detail) => StepOutcome::check(name, State::Ok, detail),
            Err(e) => StepOutcome::check(name, State::Failed, format!("{e:#}")),
        }
    }
}

/// What a real run applied: how many changes of each step (in plan order, up to where it
/// stopped), and which step failed and why.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub per_step: Vec<usize>,
    pub failed: Option<(usize, String)>,
}

impl Applied {
    /// Changes applied in all, counted as they were made (not taken from the plan).
    pub fn changes(&self) -> usize {
        self.per_step.iter().sum()
    }
}

/// An error with its kind, for the JSON document (`{"kind": ..., "message": ...}`).
#[derive(Debug, Clone, Serialize)]
pub struct ErrorDoc {
    pub kind: ErrorKind,
    /// The whole error chain, `: `-separated.
    pub message: String,
}

/// The outcome of one command.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `provision`, `verify`, ...; `None` when the command line could not be parsed.
    pub command: Option<String>,
    pub dry_run: bool,
    pub exit_code: u8,
    pub error: Option<ErrorDoc>,
    /// The run id of the backups a real run made.
    pub backup: Option<String>,
    pub steps: Vec<StepOutcome>,
    /// What some commands add to the document: `settings` (config), `files` (render),
    /// `runs` (rollback --list), `wrote` (init), `capture` (capture).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Counts over an outcome's steps: changes and not-checked items, steps in other states.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub changes: usize,
    pub not_checked: usize,
    pub ok: usize,
    pub absent: usize,
    pub skipped: usize,
    pub failed: usize,
}

impl Outcome {
    pub fn new(command: &str, dry_run: bool) -> Outcome {
        Outcome {
            command: Some(command.to_string()),
            dry_run,
            exit_code: 0,
            error: None,
            backup: None,
            steps: Vec::new(),
            extra: Default::default(),
        }
    }

    /// Every step of a plan.
    pub fn with_planned(mut self, planned: &[Planned], applied: bool) -> Outcome {
        self.steps = planned
            .iter()
            .map(|p| StepOutcome::planned(p, applied))
            .collect();
        self
    }

    /// The steps of a real run as far as it got: a step whose changes were all made is
    /// `changed`; the step where a change failed is `failed`, with the reason and only the
    /// changes made before it; a step a signal stopped part-way keeps the changes made; the
    /// steps after are `not_reached`.
    pub fn with_applied(mut self, planned: &[Planned], applied: &Applied) -> Outcome {
        self.steps = planned
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut s = StepOutcome::planned(p, true);
                let made = applied.per_step.get(i).copied().unwrap_or(0);
                match &applied.failed {
                    Some((f, why)) if *f == i => {
                        s.state = State::Failed;
                        s.reason = Some(why.clone());
                        s.changes.truncate(made);
                    }
                    _ if s.state == State::Changed && made == 0 => {
                        s.state = State::NotReached;
                        s.reason = Some("not applied: the run stopped at an earlier step".into());
                    }
                    _ if made < s.changes.len() => {
                        s.reason = Some(format!(
                            "stopped part-way: {made} of {} changes made",
                            s.changes.len()
                        ));
                        s.changes.truncate(made);
                    }
                    _ => {}
                }
                s
            })
            .collect();
        self
    }

    /// The outcome of a command that stopped with `err` (exit `code`).
    pub fn with_error(mut self, err: &anyhow::Error, code: u8) -> Outcome {
        self.exit_code = code;
        self.error = Some(ErrorDoc {
            kind: kind_of(err),
            message: format!("{err:#}"),
        });
        self
    }

    pub fn counts(&self) -> Counts {
        count(&self.steps)
    }
}

/// [`Outcome::counts`] for some steps.
pub fn count(steps: &[StepOutcome]) -> Counts {
    let mut n = Counts::default();
    for s in steps {
        if s.state != State::NotReached {
            n.changes += s.changes.len();
        }
        n.not_checked += s.not_checked.len();
        match s.state {
            State::Ok => n.ok += 1,
            State::Absent => n.absent += 1,
            State::Skipped => n.skipped += 1,
            State::Failed => n.failed += 1,
            State::WouldChange | State::Changed | State::NotChecked | State::NotReached => {}
        }
    }
    n
}

/// Whether an outcome document went to stdout already (then an error that follows is not
/// printed as a second document).
static PRINTED: AtomicBool = AtomicBool::new(false);

/// Note that the one document of this run was printed.
pub fn mark_printed() {
    PRINTED.store(true, Ordering::SeqCst);
}

pub fn printed() -> bool {
    PRINTED.load(Ordering::SeqCst)
}

/// How a command ended, as data: its outcome (what was planned, what was applied — counted
/// as it was applied —, the backup, the error and exit code), how its text ends, and the
/// error it fails with (whose chain and hint `main` prints). `report::finish` prints it.
pub struct Ended {
    pub outcome: Outcome,
    pub end: End,
    pub error: Option<anyhow::Error>,
}

/// What the text of an ending says after the lines printed as it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// A dry run: the steps, then the summary `WHAT: ...`.
    Look { what: String },
    /// `verify`: the checks, then their summary.
    Checks,
    /// A real run refused to apply its plan: the steps (the reason is the error).
    Refused,
    /// A real run with nothing to change: the steps and the summary `WHAT: ...`.
    NothingToDo { what: String },
    /// The operator answered no.
    Cancelled,
    /// A real run applied (some of) its plan: the backup, then (when it converged) the
    /// summary `DONE: ...`.
    Applied { done: String },
}
