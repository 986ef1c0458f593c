//! The steps' unit tests (rust-analyzer style): a step planned against an in-memory box
//! ([`FakeBox`], the fixture box unless the test changes it) and the settings, its plan
//! written out as text and held against `expect![[...]]` (`UPDATE_EXPECT=1` rewrites them).

use super::{Ctx, Step};
use crate::config::Settings;
use crate::plan::{Change, Status};
use crate::sys::fake::FakeBox;
use expect_test::Expect;

/// Plan `step` on the fixture box as `setup` changes it (and, before it, `earlier`: what
/// the steps before it planned), and compare the plan with `expect`.
pub fn check(step: &dyn Step, setup: impl FnOnce(&mut FakeBox, &mut Settings), expect: Expect) {
    check_after(step, &[], setup, expect)
}

/// [`check`] with the changes the steps before it planned.
pub fn check_after(
    step: &dyn Step,
    earlier: &[Change],
    setup: impl FnOnce(&mut FakeBox, &mut Settings),
    expect: Expect,
) {
    let mut b = FakeBox::fixture();
    let mut settings = Settings::default();
    setup(&mut b, &mut settings);
    // Trailing blanks are dropped: expect![[...]] cannot hold a line of blanks.
    let text: String = plan_text(step, &b, &settings, earlier)
        .lines()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect();
    expect.assert_eq(&text);
}

/// What a step plans, as a person reads it: each change (`blocked` when it is), its diff,
/// then what could not be checked, warnings and notes; or the error.
pub fn plan_text(step: &dyn Step, b: &FakeBox, settings: &Settings, earlier: &[Change]) -> String {
    let ctx = Ctx {
        sys: b,
        settings,
        no_start: false,
        offline: false,
    };
    let plan = match step.plan(&ctx, earlier) {
        Ok(p) => p,
        Err(e) => return format!("error: {e:#}\n"),
    };
    let mut out = String::new();
    match &plan.status {
        Status::Planned if plan.changes.is_empty() && plan.not_checked.is_empty() => {
            out.push_str("in sync\n")
        }
        Status::Planned => {}
        Status::Absent { reason } => out.push_str(&format!("absent: {reason}\n")),
        Status::Skipped { reason } => out.push_str(&format!("skipped: {reason}\n")),
    }
    for c in &plan.changes {
        out.push_str(&format!("- {}\n", c.summary));
        if let Some(why) = &c.blocked {
            out.push_str(&format!("  blocked: {why}\n"));
        }
        if let Some(d) = c.detail() {
            out.push_str(&d);
        }
    }
    for n in &plan.not_checked {
        out.push_str(&format!("? {} ({})\n", n.summary, n.reason));
    }
    for w in &plan.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    for n in &plan.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}
