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

/// Render every step's line (and, for `Would`, the diffs); count what was found. `quiet`
/// (`--quiet`) leaves out the lines of steps that are ok, absent or skipped, and notes:
/// what changes, would change or fails, and warnings, are always shown.
pub fn steps(planned: &[Planned], tense: Tense, quiet: bool) -> (String, Counts) {
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
        let quiet_line = |out: &mut String, state: &str, detail: &str| {
            if !quiet {
                line(out, state, p.name, detail);
            }
        };
        match &plan.status {
            Status::Absent { reason } => {
                n.absent += 1;
                quiet_line(&mut out, "absent", reason);
            }
            Status::Skipped { reason } => {
                n.skipped += 1;
                quiet_line(&mut out, "skipped", reason);
            }
            Status::Planned if plan.changes.is_empty() => {
                n.ok += 1;
                quiet_line(&mut out, "ok", "");
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
        for note in plan.notes.iter().filter(|_| !quiet) {
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

/// The stable JSON document of a provision run (documented in README, snapshot-tested).
pub fn json_doc(
    command: &str,
    dry_run: bool,
    planned: &[Planned],
    tense: Tense,
    exit_code: u8,
    error: Option<&anyhow::Error>,
    backup: Option<&str>,
) -> serde_json::Value {
    use serde_json::json;
    let (_, counts) = steps(planned, tense, false);
    let steps: Vec<serde_json::Value> = planned
        .iter()
        .map(|p| match &p.plan {
            Err(e) => json!({"name": p.name, "state": "failed", "reason": format!("{e:#}"),
                             "changes": [], "warnings": [], "notes": []}),
            Ok(plan) => {
                let (state, reason) = match &plan.status {
                    Status::Absent { reason } => ("absent", Some(reason.as_str())),
                    Status::Skipped { reason } => ("skipped", Some(reason.as_str())),
                    Status::Planned if plan.changes.is_empty() => ("ok", None),
                    Status::Planned if tense == Tense::Would => ("would_change", None),
                    Status::Planned => ("changed", None),
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
