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
    let _ = writeln!(out, "{state:<13}{name}{sep}{detail}");
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
                            out.push_str(&d);
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
