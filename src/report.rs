//! Plain, greppable output: one line per step, details indented below it, then a summary.

use crate::engine::Planned;
use crate::plan::Status;
use std::fmt::Write;

/// How to word a step that has changes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tense {
    /// Dry run or the plan shown before asking: `would change`, with diffs.
    Would,
    /// After a real run: `changed`, without diffs.
    Did,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub changes: usize,
    pub changed_steps: usize,
    pub ok: usize,
    pub absent: usize,
    pub skipped: usize,
    pub failed: usize,
}

fn line(out: &mut String, state: &str, name: &str, detail: &str) {
    let sep = if detail.is_empty() { "" } else { ": " };
    let padded = format!("{state:<13}");
    let styled = match state {
        "ok" => console::style(padded).green(),
        "would change" | "changed" => console::style(padded).yellow(),
        "failed" => console::style(padded).red().bold(),
        _ => console::style(padded).dim(),
    };
    let _ = writeln!(out, "{styled}{name}{sep}{detail}");
}

/// Colour a unified diff's lines (no-op when colour is off).
fn color_diff(diff: &str) -> String {
    diff.split_inclusive('\n')
        .map(|l| {
            if l.starts_with("+++") || l.starts_with("---") {
                console::style(l).bold().to_string()
            } else if l.starts_with('+') {
                console::style(l).green().to_string()
            } else if l.starts_with('-') {
                console::style(l).red().to_string()
            } else if l.starts_with("@@") {
                console::style(l).cyan().to_string()
            } else {
                l.to_string()
            }
        })
        .collect()
}

/// Render every step's line (and, for `Would`, the diffs); count what was found.
pub fn steps(planned: &[Planned], tense: Tense) -> (String, Counts) {
    let mut out = String::new();
    let mut n = Counts::default();
    for p in planned {
        let plan = match &p.plan {
            Err(e) => {
                n.failed += 1;
                line(&mut out, "failed", p.name, &format!("{e:#}"));
                continue;
            }
            Ok(plan) => plan,
        };
        match &plan.status {
            Status::Absent { reason } => {
                n.absent += 1;
                line(&mut out, "absent", p.name, reason);
            }
            Status::Skipped { reason } => {
                n.skipped += 1;
                line(&mut out, "skipped", p.name, reason);
            }
            Status::Planned if plan.changes.is_empty() => {
                n.ok += 1;
                line(&mut out, "ok", p.name, "");
            }
            Status::Planned => {
                n.changed_steps += 1;
                n.changes += plan.changes.len();
                let (state, count) = match tense {
                    Tense::Would => ("would change", plan.changes.len()),
                    Tense::Did => ("changed", plan.changes.len()),
                };
                line(&mut out, state, p.name, &plural(count, "change"));
                for c in &plan.changes {
                    let _ = writeln!(out, "  - {}", c.summary);
                    if let Some(why) = &c.blocked {
                        let _ = writeln!(out, "    (cannot apply now: {why})");
                    }
                    if tense == Tense::Would {
                        if let Some(d) = c.detail() {
                            out.push_str(&color_diff(&d));
                        }
                    }
                }
            }
        }
        for w in &plan.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
        for note in &plan.notes {
            let _ = writeln!(out, "  note: {note}");
        }
    }
    (out, n)
}

pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The closing line.
pub fn summary(prefix: &str, n: Counts) -> String {
    format!(
        "{prefix}: {}; {} ok, {} absent, {} skipped, {} failed",
        plural(n.changes, "change"),
        n.ok,
        n.absent,
        n.skipped,
        n.failed
    )
}

/// What a real run applied: how many changes of each step (in plan order), and which step
/// failed and why. Steps after a failure were not reached.
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

/// The stable JSON document of a provision run (documented in README, snapshot-tested).
/// `applied` is `None` for a plan (what would change); after a real run it says what was
/// made: a failed step is `failed`, the steps after it `not_reached`, and the summary
/// counts the changes made.
pub fn json_doc(
    command: &str,
    dry_run: bool,
    planned: &[Planned],
    applied: Option<&Applied>,
    exit_code: u8,
    error: Option<&anyhow::Error>,
    backup: Option<&str>,
) -> serde_json::Value {
    use serde_json::json;
    let tense = if applied.is_some() {
        Tense::Did
    } else {
        Tense::Would
    };
    let (_, mut counts) = steps(planned, tense);
    if let Some(a) = applied {
        counts.changes = a.changes();
    }
    let failed_at = applied.and_then(|a| a.failed.as_ref());
    let steps: Vec<serde_json::Value> = planned
        .iter()
        .enumerate()
        .map(|(i, p)| match &p.plan {
            Err(e) => json!({"name": p.name, "state": "failed", "reason": format!("{e:#}"),
                             "changes": [], "warnings": [], "notes": []}),
            Ok(plan) => {
                let (state, reason) = match &plan.status {
                    Status::Absent { reason } => ("absent", Some(reason.as_str())),
                    Status::Skipped { reason } => ("skipped", Some(reason.as_str())),
                    Status::Planned if plan.changes.is_empty() => ("ok", None),
                    Status::Planned if tense == Tense::Would => ("would_change", None),
                    Status::Planned => match failed_at {
                        Some((f, why)) if *f == i => ("failed", Some(why.as_str())),
                        Some((f, _)) if *f < i => (
                            "not_reached",
                            Some("not applied: the run stopped at an earlier step"),
                        ),
                        _ => ("changed", None),
                    },
                };
                let changes: Vec<serde_json::Value> = plan
                    .changes
                    .iter()
                    .map(|c| {
                        let mut v = serde_json::to_value(&c.action).expect("actions serialize");
                        v["summary"] = json!(c.summary);
                        v["blocked"] = json!(c.blocked);
                        v["diff"] = json!(c.detail());
                        v
                    })
                    .collect();
                json!({"name": p.name, "state": state, "reason": reason, "changes": changes,
                       "warnings": plan.warnings, "notes": plan.notes})
            }
        })
        .collect();
    json!({
        "command": command,
        "dry_run": dry_run,
        "exit_code": exit_code,
        "error": error.map(|e| format!("{e:#}")),
        "backup": backup,
        "summary": {"changes": counts.changes, "ok": counts.ok, "absent": counts.absent,
                    "skipped": counts.skipped, "failed": counts.failed},
        "steps": steps,
    })
}
