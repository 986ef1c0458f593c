//! Renders an [`Outcome`]: plain, greppable text (one line per step, details indented
//! below it, then a summary), one JSON document, or JUnit XML.

use crate::cli::Format;
use crate::outcome::{self, Counts, End, Ended, Outcome, State, StepOutcome};
use crate::printer::Printer;
use std::fmt::Write;

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

/// "3 changes", "1 change, 4 not checked here".
fn what_of(s: &StepOutcome) -> String {
    let mut parts = Vec::new();
    if !s.changes.is_empty() {
        parts.push(plural(s.changes.len(), "change"));
    }
    if !s.not_checked.is_empty() {
        parts.push(format!("{} not checked here", s.not_checked.len()));
    }
    parts.join(", ")
}

/// The reason every not-checked item of a step shares, if they share one.
fn shared_reason(s: &StepOutcome) -> Option<&str> {
    let first = &s.not_checked.first()?.reason;
    s.not_checked
        .iter()
        .all(|n| &n.reason == first)
        .then_some(first.as_str())
}

/// Every step's line, with its changes (and, when pending, their diffs) and what could not
/// be checked here below it. `quiet` (`--quiet`) prints only what changes, would change or
/// fails, and warnings: no lines for steps that are ok, absent, skipped or not checked, no
/// `?` lines, no notes (the summary still counts what was not checked).
pub fn steps_text(steps: &[StepOutcome], quiet: bool) -> String {
    let mut out = String::new();
    for s in steps {
        let fine = matches!(
            s.state,
            State::Ok | State::Absent | State::Skipped | State::NotChecked
        );
        if quiet && fine {
            for w in &s.warnings {
                let _ = writeln!(out, "  warning: {w}");
            }
            continue;
        }
        let reason = s.reason.as_deref().unwrap_or("");
        let shared = shared_reason(s);
        let what = match shared {
            Some(why) => format!("{} ({why})", what_of(s)),
            None => what_of(s),
        };
        match s.state {
            State::Failed => line(&mut out, "failed", &s.name, reason),
            State::Absent => line(&mut out, "absent", &s.name, reason),
            State::Skipped => line(&mut out, "skipped", &s.name, reason),
            State::Ok => line(&mut out, "ok", &s.name, ""),
            State::NotChecked => line(&mut out, "not checked", &s.name, &what),
            State::WouldChange => line(&mut out, "would change", &s.name, &what),
            State::Changed => line(&mut out, "changed", &s.name, &what),
            State::NotReached => line(&mut out, "not reached", &s.name, reason),
        }
        for c in &s.changes {
            let _ = writeln!(out, "  - {}", c.summary);
            if let Some(why) = &c.blocked {
                let _ = writeln!(out, "    (cannot apply now: {why})");
            }
            if s.state == State::WouldChange {
                if let Some(d) = c.detail() {
                    out.push_str(&color_diff(&d));
                }
            }
        }
        for n in s.not_checked.iter().filter(|_| !quiet) {
            let _ = writeln!(out, "  ? {}", n.summary);
            if shared.is_none() {
                let _ = writeln!(out, "    (not checked here: {})", n.reason);
            }
        }
        for w in &s.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
        for note in s.notes.iter().filter(|_| !quiet) {
            let _ = writeln!(out, "  note: {note}");
        }
    }
    out
}

pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The closing line: `PREFIX: N changes[, M not checked here]; A ok, B absent, C skipped,
/// D failed` (`--host` reads the change count back from it).
pub fn summary(prefix: &str, n: Counts) -> String {
    let unchecked = if n.not_checked > 0 {
        format!(", {} not checked here", n.not_checked)
    } else {
        String::new()
    };
    format!(
        "{prefix}: {}{unchecked}; {} ok, {} absent, {} skipped, {} failed",
        plural(n.changes, "change"),
        n.ok,
        n.absent,
        n.skipped,
        n.failed
    )
}

/// `verify`'s lines: `pass`, `FAIL` or `skip` and each check's name and what it found, then
/// the count. `quiet` leaves out all but the failed checks.
pub fn check_lines(steps: &[StepOutcome], quiet: bool) -> String {
    let mut out = String::new();
    for s in steps {
        if quiet && s.state != State::Failed {
            continue;
        }
        let mark = match s.state {
            State::Failed => console::style("FAIL").red().bold(),
            State::Skipped | State::NotChecked => console::style("skip").dim(),
            _ => console::style("pass").green(),
        };
        let detail = match s.state {
            State::NotChecked if s.not_checked.len() == 1 && s.not_checked[0].summary == s.name => {
                format!("not checked here: {}", s.not_checked[0].reason)
            }
            State::NotChecked => match shared_reason(s) {
                Some(why) => format!(
                    "not checked here ({why}): {}",
                    s.not_checked
                        .iter()
                        .map(|n| n.summary.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                None => format!(
                    "not checked here: {}",
                    s.not_checked
                        .iter()
                        .map(|n| format!("{} ({})", n.summary, n.reason))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            },
            _ => s.reason.clone().unwrap_or_default(),
        };
        let _ = writeln!(out, "{mark}  {}: {detail}", s.name);
    }
    let n = outcome::count(steps);
    let passed = steps
        .iter()
        .filter(|s| !matches!(s.state, State::Failed | State::Skipped | State::NotChecked))
        .count();
    let skipped = skipped_checks(steps);
    let _ = writeln!(
        out,
        "verify: {passed} passed, {} failed, {skipped} skipped{}",
        n.failed,
        if n.failed == 0 {
            ""
        } else {
            " (the box is not as provisioned or not healthy)"
        }
    );
    out
}

/// How many of verify's checks were skipped (deliberately, or not checked here), as its
/// summary line counts them.
pub fn skipped_checks(steps: &[StepOutcome]) -> usize {
    steps
        .iter()
        .filter(|s| matches!(s.state, State::Skipped | State::NotChecked))
        .count()
}

/// The one JSON document of a command (`schema/blotctl.schema.json`).
pub fn json(o: &Outcome) -> serde_json::Value {
    use serde_json::json;
    let steps: Vec<serde_json::Value> = o
        .steps
        .iter()
        .map(|s| {
            let changes: Vec<serde_json::Value> = s
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
            json!({"name": s.name, "state": s.state, "reason": s.reason, "changes": changes,
                   "not_checked": s.not_checked, "warnings": s.warnings, "notes": s.notes})
        })
        .collect();
    let mut doc = json!({
        "command": o.command,
        "dry_run": o.dry_run,
        "exit_code": o.exit_code,
        "error": o.error,
        "backup": o.backup,
        "summary": o.counts(),
        "steps": steps,
    });
    for (k, v) in &o.extra {
        doc[k] = v.clone();
    }
    doc
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// JUnit XML: one test case per step (a `verify` check is a step). Pending changes and
/// failed steps are failures, steps not checked here (or skipped) are `<skipped/>`; an error
/// that stopped the command is one test case with an `<error>`.
pub fn junit(o: &Outcome) -> String {
    let suite = format!("blotctl {}", o.command.as_deref().unwrap_or(""));
    let class = format!("blotctl.{}", o.command.as_deref().unwrap_or("blotctl"));
    let mut cases = String::new();
    let (mut failures, mut skipped, mut errors) = (0, 0, 0);
    for s in &o.steps {
        let _ = writeln!(
            cases,
            "    <testcase classname=\"{}\" name=\"{}\">",
            esc(&class),
            esc(&s.name)
        );
        let mut text = String::new();
        if let Some(r) = &s.reason {
            let _ = writeln!(text, "{r}");
        }
        for c in &s.changes {
            let _ = writeln!(text, "- {}", c.summary);
            if let Some(why) = &c.blocked {
                let _ = writeln!(text, "  (cannot apply now: {why})");
            }
            if let Some(d) = c.detail() {
                text.push_str(&d);
            }
        }
        for n in &s.not_checked {
            let _ = writeln!(text, "? {} (not checked here: {})", n.summary, n.reason);
        }
        for w in s.warnings.iter().chain(&s.notes) {
            let _ = writeln!(text, "{w}");
        }
        let message = match (s.state, shared_reason(s)) {
            (State::WouldChange, _) => format!("{} pending", what_of(s)),
            (State::NotChecked, Some(why)) => format!("{}: {why}", what_of(s)),
            (State::NotChecked, None) => what_of(s),
            _ => s.reason.clone().unwrap_or_default(),
        };
        match s.state {
            State::WouldChange | State::Failed => {
                failures += 1;
                let _ = writeln!(
                    cases,
                    "      <failure message=\"{}\">{}</failure>",
                    esc(&message),
                    esc(&text)
                );
            }
            State::NotChecked | State::Skipped | State::NotReached => {
                skipped += 1;
                let _ = writeln!(cases, "      <skipped message=\"{}\"/>", esc(&message));
                let _ = writeln!(cases, "      <system-out>{}</system-out>", esc(&text));
            }
            State::Ok | State::Changed | State::Absent => {
                let _ = writeln!(cases, "      <system-out>{}</system-out>", esc(&text));
            }
        }
        cases.push_str("    </testcase>\n");
    }
    let mut tests = o.steps.len();
    if let Some(e) = &o.error {
        tests += 1;
        errors += 1;
        let _ = write!(
            cases,
            "    <testcase classname=\"{}\" name=\"{}\">\n      <error type=\"{}\" message=\"{}\">{}</error>\n    </testcase>\n",
            esc(&class),
            esc(&suite),
            serde_json::to_value(e.kind).expect("kinds serialize").as_str().unwrap_or(""),
            esc(&e.message),
            esc(&e.message)
        );
    }
    let counts = format!(
        "tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\""
    );
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{s}\" {counts}>\n  <testsuite name=\"{s}\" {counts}>\n{cases}  </testsuite>\n</testsuites>\n",
        s = esc(&suite)
    )
}

/// Print the outcome as JSON or JUnit (the one document of this run); `None` for text,
/// which each command prints its own way.
pub fn document(o: &Outcome, format: Format) -> Option<String> {
    match format {
        Format::Text => None,
        Format::Json => Some(format!(
            "{}\n",
            serde_json::to_string_pretty(&json(o)).expect("JSON")
        )),
        Format::Junit => Some(junit(o)),
    }
}

/// Print `o` as its document when the format has one; true if it did.
pub fn print_document(o: &Outcome, format: Format) -> bool {
    match document(o, format) {
        Some(doc) => {
            crate::out!("{doc}");
            outcome::mark_printed();
            true
        }
        None => false,
    }
}

/// Print how a command ended: its document, or the end of its text; `hint:` lines for
/// what failed in a look. The command's exit code, or the error it fails with.
pub fn finish(ended: Ended, printer: Printer) -> anyhow::Result<u8> {
    let Ended {
        outcome: o,
        end,
        error,
    } = ended;
    let quiet = printer.quiet();
    if !print_document(&o, printer.format) {
        match &end {
            End::Look { what } => crate::out!(
                "{}{}\n",
                steps_text(&o.steps, quiet),
                summary(what, o.counts())
            ),
            End::Checks => crate::out!("{}", check_lines(&o.steps, quiet)),
            End::Refused => crate::out!("{}", steps_text(&o.steps, quiet)),
            End::NothingToDo { what } => {
                crate::out!("{}", steps_text(&o.steps, quiet));
                crate::outln!("{}", summary(what, o.counts()));
            }
            End::Cancelled => crate::outln!("cancelled: no managed file was changed"),
            End::Applied { done } => {
                if let Some(id) = &o.backup {
                    crate::outln!(
                        "backup: {}/{id} (undo with `blotctl rollback {id}`)",
                        crate::journal::BACKUPS
                    );
                }
                if error.is_none() {
                    crate::outln!("{}", summary(done, o.counts()));
                }
            }
        }
    }
    if matches!(end, End::Look { .. } | End::Checks) {
        print_hints(
            o.steps
                .iter()
                .filter(|s| s.state == State::Failed)
                .filter_map(|s| s.reason.clone()),
        );
    }
    match error {
        Some(e) => Err(e),
        None => Ok(o.exit_code),
    }
}

/// `hint:` lines (on stderr, each once) for the reasons steps or checks failed.
pub fn print_hints(reasons: impl IntoIterator<Item = String>) {
    let mut seen: Vec<&str> = Vec::new();
    for r in reasons {
        if let Some(h) = crate::failure::hint_for(&r) {
            if !seen.contains(&h) {
                crate::errln!("hint: {h}");
                seen.push(h);
            }
        }
    }
}
