//! `blotctl init`: write /etc/blotctl.toml, through the engine like any other change.

use crate::config::{Effective, DEFAULT_CONFIG};
use crate::ctx::Ctx;
use crate::engine;
use crate::failure::{NotRoot, UsageError, EXIT_OK};
use crate::journal::Journal;
use crate::outcome::Outcome;
use crate::printer::Printer;
use crate::report;
use crate::run;
use crate::steps;
use crate::sys::Sys;
use anyhow::Result;

/// `blotctl init`: a commented config file in which only what differs from the built-in
/// defaults is live (the answers on a terminal, values from --set, BLOTCTL_* or an existing
/// file), written through the engine like any other change. Root is checked first, before
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
    let ctx = Ctx {
        sys,
        settings: &settings,
        no_start: true,
        offline: false,
    };
    let _lock = run::take_lock(sys)?;
    let old = sys.observe(DEFAULT_CONFIG)?.map(|(bytes, _)| bytes);
    let change = crate::plan::Change::new(
        format!("write {DEFAULT_CONFIG}"),
        crate::plan::Action::WriteFile {
            path: DEFAULT_CONFIG.into(),
            old,
            new: text.into_bytes(),
            perms: steps::ROOT_0644,
            old_perms: None,
        },
    );
    run::not_interrupted(sys, "init", 1)?;
    engine::preflight(sys, [&change])?;
    engine::apply(sys, &ctx, &change, &mut Journal::new("init", None))?;
    let mut o = Outcome::new("init", false);
    o.extra.insert("wrote".into(), DEFAULT_CONFIG.into());
    if !report::print_document(&o, printer.format) {
        crate::outln!("wrote {DEFAULT_CONFIG}");
    }
    Ok(EXIT_OK)
}
