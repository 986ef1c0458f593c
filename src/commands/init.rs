//! `blotctl init`: write /etc/blotctl.toml, through the run pipeline like any other change
//! (its diff, a backup `rollback` restores, the run lock, temp files a killed run left).

use crate::config::{Effective, DEFAULT_CONFIG};
use crate::ctx::Ctx;
use crate::failure::{NotRoot, UsageError};
use crate::plan::{Planned, StepPlan};
use crate::printer::Printer;
use crate::run::{self, Plan, Run, Start};
use crate::steps;
use crate::sys::{Look, Sys};
use anyhow::Result;

/// `blotctl init`: a commented config file in which only what differs from the built-in
/// defaults is live (the answers on a terminal, values from --set, BLOTCTL_* or an existing
/// file), written by the run pipeline like any other change. Root is checked first, before
/// anything is asked.
pub fn run(sys: &Sys, e: &Effective, force: bool, printer: Printer) -> Result<u8> {
    if !sys.is_root() {
        return Err(NotRoot(format!("init must run as root to write {DEFAULT_CONFIG}")).into());
    }
    if sys.meta(DEFAULT_CONFIG)?.is_some() && !force {
        return Err(UsageError(format!(
            "{DEFAULT_CONFIG} already exists (use --force to replace it)"
        ))
        .into());
    }
    let mut settings = e.settings.clone();
    if run::interactive() && printer.text() {
        let ask = |prompt: &str, default: String| -> Result<String> {
            Ok(dialoguer::Input::<String>::new()
                .with_prompt(prompt)
                .default(default)
                .interact_text()?)
        };
        settings.app_dir = ask("Blot checkout (app_dir)", settings.app_dir)?;
        settings.user = ask("app user (user)", settings.user)?;
        settings.sites = ask(
            "site names, space-separated (sites)",
            settings.sites.join(" "),
        )?
        .split_whitespace()
        .map(String::from)
        .collect();
        // Asks again until the answer is a port number.
        settings.blot_port = dialoguer::Input::<u16>::new()
            .with_prompt("Blot port (blot_port)")
            .default(settings.blot_port)
            .interact_text()?;
    }
    settings.validate()?;
    if let Some(passwd) = sys.read_text("/etc/passwd")? {
        settings.check_user(&passwd)?;
    }
    let text = crate::config::commented_toml(&settings)?;
    let plan_of = |ctx: &Ctx| -> Result<Vec<Planned>> {
        let changes = steps::plan_managed_as(
            ctx,
            DEFAULT_CONFIG,
            text.as_bytes(),
            steps::ROOT_0644,
            "replace (--force)",
        );
        Ok(vec![Planned {
            name: "settings file",
            plan: changes.map(StepPlan::changes),
        }])
    };
    let start = Start {
        command: "init",
        dry_run: false,
        confirm: None,
        verb: "write the settings",
        needs_root: "init must run as root to write /etc/blotctl.toml",
    };
    let run = Run {
        no_start: true,
        nothing: Some(format!(
            "{DEFAULT_CONFIG} is already as it would be written"
        )),
        ..Run::new(
            start,
            Plan::Made(&plan_of),
            format!("wrote {DEFAULT_CONFIG}"),
        )
    };
    let mut ended = run::run(sys, &settings, &run, printer)?;
    ended
        .outcome
        .extra
        .insert("wrote".into(), DEFAULT_CONFIG.into());
    crate::report::finish(ended, printer)
}
