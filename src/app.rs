//! The commands: load settings, build the context, run the engine, print, pick the exit code.

use crate::cli::{Cli, Command, ProvisionArgs, RollbackArgs};
use crate::config::{Effective, Layer, Settings, DEFAULT_CONFIG};
use crate::engine::{self, Planned};
use crate::journal::{self, Journal};
use crate::printer::Printer;
use crate::report::{self, Tense};
use crate::steps::{self, Ctx};
use crate::sys::Sys;
use anyhow::{anyhow, Context, Result};
use std::io::IsTerminal;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_PENDING: u8 = 2;
pub const EXIT_USAGE: u8 = 64;

/// An error fixed by changing the command line (exit 64).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

pub fn run(cli: Cli) -> Result<u8> {
    if cli.remote.active() {
        return crate::remote::run(&cli);
    }
    let json = match &cli.command {
        Command::Provision(a) => a.json,
        Command::Verify(a) => a.json || a.format != crate::cli::VerifyFormat::Text,
        _ => false,
    };
    let printer = Printer::new(cli.color, cli.quiet, json);
    if let Command::Completions { shell } = cli.command {
        crate::cli::completions(shell, &mut std::io::stdout());
        return Ok(EXIT_OK);
    }
    let sys = Sys::new(&cli.root)?;
    let effective = load_settings(&sys, cli.config.as_deref(), &cli.set)?;
    let settings = &effective.settings;
    match cli.command {
        Command::Provision(args) => provision(&sys, settings, &args, printer),
        Command::Verify(args) => crate::verify::run(&sys, settings, &args, printer),
        Command::Rollback(args) => rollback(&sys, settings, &args, printer),
        Command::Render { name } => render(&sys, settings, name.as_deref()),
        Command::Deploy(args) => crate::deploy::deploy(&sys, settings, &args, printer),
        Command::Restart(args) => crate::deploy::restart(&sys, settings, &args, printer),
        Command::Config => print_config(&effective),
        Command::Init { force } => init(&sys, &effective, force),
        Command::Completions { .. } => unreachable!("handled above"),
    }
}

/// defaults < /etc/blotctl.toml (under the root) < `--config FILE` or `BLOTCTL_CONFIG`
/// < `BLOTCTL_*` variables < `--set KEY=VALUE` flags.
fn load_settings(sys: &Sys, flag: Option<&std::path::Path>, sets: &[String]) -> Result<Effective> {
    let mut layers = Vec::new();
    if let Some(text) = sys.read_text(DEFAULT_CONFIG)? {
        layers.push(Layer::parse(&text, DEFAULT_CONFIG)?);
    }
    let env_file = std::env::var_os("BLOTCTL_CONFIG").map(std::path::PathBuf::from);
    let file = match (flag, &env_file) {
        (Some(p), _) => Some((p.to_path_buf(), format!("--config {}", p.display()))),
        (None, Some(p)) => Some((p.clone(), format!("BLOTCTL_CONFIG {}", p.display()))),
        (None, None) => None,
    };
    if let Some((path, origin)) = file {
        let text = sys
            .read_host_text(&path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        layers.push(Layer::parse(&text, &origin)?);
    }
    if let Some(env) = Layer::from_env(std::env::vars())? {
        layers.push(env);
    }
    let Some(flags) = Layer::from_flags(sets).map_err(|e| UsageError(format!("{e:#}")))? else {
        return crate::config::resolve(layers);
    };
    let below = layers.clone();
    layers.push(flags);
    crate::config::resolve(layers).map_err(|e| {
        // Valid without the flags: a value given with --set is wrong (`blot_port=abc`),
        // fixed on the command line like an unknown key.
        match crate::config::resolve(below) {
            Ok(_) => UsageError(format!("{e:#}")).into(),
            Err(_) => e,
        }
    })
}

/// `blotctl config`: the effective settings as TOML, each with its source.
fn print_config(e: &Effective) -> Result<u8> {
    let table = toml::Table::try_from(&e.settings)?;
    let lines: Vec<(String, &str)> = table
        .iter()
        .map(|(k, v)| {
            (
                format!("{k} = {v}"),
                e.sources.get(k).map_or("default", |s| s.as_str()),
            )
        })
        .collect();
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    println!("# effective settings; after each, where its value came from");
    for (line, source) in lines {
        println!("{line:<width$}  # {source}");
    }
    Ok(EXIT_OK)
}

/// `blotctl init`: a commented config file in which only what differs from the built-in
/// defaults is live (the answers on a terminal, values from --set, BLOTCTL_* or an existing
/// file), written through the engine like any other change. Root is checked first, before
/// anything is asked.
fn init(sys: &Sys, e: &Effective, force: bool) -> Result<u8> {
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
    if interactive() {
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
    let text = crate::config::commented_toml(&settings)?;
    let ctx = Ctx {
        sys,
        settings: &settings,
        no_start: true,
    };
    let _lock = sys.lock(journal::LOCK, std::time::Duration::from_secs(3))?;
    let old = sys.read(DEFAULT_CONFIG)?;
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
    engine::apply(&ctx, &change, &mut Journal::new("init", None))?;
    println!("wrote {DEFAULT_CONFIG}");
    Ok(EXIT_OK)
}

/// "No TTY" means stdin or stderr is not a terminal.
fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Why a real run must not start, from its plan: failed steps or blocked changes.
pub(crate) fn refusal(planned: &[Planned], counts: report::Counts) -> Option<anyhow::Error> {
    if counts.failed > 0 {
        return Some(anyhow!(
            "nothing was changed: {} could not be planned (see `failed` above)",
            report::plural(counts.failed, "step")
        ));
    }
    let blocked: Vec<String> = planned
        .iter()
        .flat_map(|p| p.changes())
        .filter_map(|c| c.blocked.as_ref().map(|b| format!("{}: {b}", c.summary)))
        .collect();
    (!blocked.is_empty()).then(|| {
        anyhow!(
            "nothing was changed: {} cannot be applied safely:\n  {}",
            report::plural(blocked.len(), "change"),
            blocked.join("\n  ")
        )
    })
}

fn provision(sys: &Sys, settings: &Settings, args: &ProvisionArgs, printer: Printer) -> Result<u8> {
    if args.json && !args.dry_run && !args.yes {
        return Err(UsageError(
            "--json has no prompt: add --yes to apply, or use --dry-run".into(),
        )
        .into());
    }
    let _lock = if args.dry_run {
        None
    } else {
        Some(prepare_real_run(sys, "provision", args.yes)?)
    };
    let ctx = Ctx {
        sys,
        settings,
        no_start: args.no_start,
    };
    if _lock.is_some() {
        clean_stale_temps(&ctx)?;
    }
    let all = steps::all();
    let planned = {
        let spinner = printer.spinner("planning");
        engine::plan_all_with(&ctx, &all, |name| spinner.step(format!("planning: {name}")))
    };
    let (text, counts) = report::steps(&planned, Tense::Would, printer.quiet());
    let json = |planned: &[Planned],
                tense,
                exit: u8,
                error: Option<&anyhow::Error>,
                backup: Option<&str>| {
        let doc = report::json_doc(
            "provision",
            args.dry_run,
            planned,
            tense,
            exit,
            error,
            backup,
        );
        println!("{}", serde_json::to_string_pretty(&doc).expect("JSON"));
    };

    if args.dry_run {
        let exit = if counts.failed > 0 {
            EXIT_FAILED
        } else if counts.changes > 0 {
            EXIT_PENDING
        } else {
            EXIT_OK
        };
        if args.json {
            json(&planned, Tense::Would, exit, None, None);
        } else {
            print!("{text}");
            println!("{}", report::summary("dry run", counts));
        }
        print_hints(planned.iter().filter_map(|p| match &p.plan {
            Err(e) => Some(format!("{e:#}")),
            Ok(_) => None,
        }));
        return Ok(exit);
    }
    if let Some(err) = refusal(&planned, counts) {
        if args.json {
            json(&planned, Tense::Would, EXIT_FAILED, Some(&err), None);
        } else {
            print!("{text}");
        }
        return Err(err);
    }
    if counts.changes == 0 {
        if args.json {
            json(&planned, Tense::Did, EXIT_OK, None, None);
        } else {
            print!("{text}");
            println!(
                "{}",
                report::summary("nothing to do, the box is as provisioned", counts)
            );
        }
        return Ok(EXIT_OK);
    }
    if !args.yes {
        print!("{text}");
    }
    if !confirm(args.yes, counts.changes)? {
        println!("cancelled: nothing was changed");
        return Ok(EXIT_FAILED);
    }
    engine::preflight(&ctx, &planned)?;
    let mut journal = Journal::new("provision", None);
    let result = apply_all(
        &ctx,
        &planned,
        counts.changes,
        &mut journal,
        printer,
        !args.json,
    )
    .and_then(|()| converged(&ctx, |ctx| Ok(engine::plan_all(ctx, &all)), counts));
    let backup = journal.run_id().map(String::from);
    if args.json {
        let exit = if result.is_ok() { EXIT_OK } else { EXIT_FAILED };
        json(
            &planned,
            Tense::Did,
            exit,
            result.as_ref().err(),
            backup.as_deref(),
        );
    } else {
        if let Some(id) = &backup {
            println!(
                "backup: {}/{id} (undo with `blotctl rollback {id}`)",
                journal::BACKUPS
            );
        }
        if result.is_ok() {
            println!("{}", report::summary("provisioned", counts));
        }
    }
    result.map(|()| EXIT_OK)
}

/// Remove temp files a killed run left in the directories blotctl writes to.
fn clean_stale_temps(ctx: &Ctx) -> Result<()> {
    let s = ctx.settings;
    let monit_dir = std::path::Path::new(&s.monit_rc)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    for dir in [
        "/etc".to_string(),
        "/etc/init".into(),
        crate::steps::logrotate::DIR.into(),
        monit_dir,
        s.logs_dir(),
    ] {
        for p in ctx.sys.remove_stale_temps(&dir)? {
            println!("removed {p} (left by a run that was killed)");
        }
    }
    ctx.sys.remove_stale_temps(journal::BACKUPS)?;
    for run in ctx.sys.list_dir(journal::BACKUPS)?.unwrap_or_default() {
        ctx.sys
            .remove_stale_temps(&format!("{}/{run}", journal::BACKUPS))?;
    }
    Ok(())
}

/// A real run: confirmation possible, root, and the run lock (held until dropped).
fn prepare_real_run(sys: &Sys, what: &str, yes: bool) -> Result<crate::sys::RunLock> {
    if !yes && !interactive() {
        return Err(UsageError(format!(
            "refusing to {what} without confirmation: stdin or stderr is not a terminal; \
             re-run with --yes to apply, or with --dry-run to see the plan"
        ))
        .into());
    }
    if !sys.is_root() {
        return Err(NotRoot(format!("{what} must run as root to change the box")).into());
    }
    sys.lock(journal::LOCK, std::time::Duration::from_secs(3))
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

/// Apply every planned change in order, journaling each first.
pub(crate) fn apply_all(
    ctx: &Ctx,
    planned: &[Planned],
    total: usize,
    journal: &mut Journal,
    printer: Printer,
    show: bool,
) -> Result<()> {
    let mut done = 0;
    let spinner = printer.spinner("applying");
    for (i, p) in planned.iter().enumerate() {
        spinner.step(format!("applying: {}", p.name));
        for c in p.changes() {
            spinner.set_message(format!("{}: {}", p.name, c.summary));
            if let Err(e) = engine::apply(ctx, c, journal) {
                if show {
                    spinner.println(&format!("{:<13}{}: {e:#}\n", "failed", p.name));
                }
                return Err(anyhow!(
                    "stopped at `{}` after {done} of {total} changes; fix the cause and run again",
                    c.summary
                ));
            }
            done += 1;
        }
        // Each step's line as soon as it is done, above the spinner of the next.
        if show {
            let (text, _) = report::steps(&planned[i..=i], Tense::Did, printer.quiet());
            spinner.println(&text);
        }
    }
    Ok(())
}

/// Plan again after applying: anything left "did not converge".
pub(crate) fn converged(
    ctx: &Ctx,
    replan: impl Fn(&Ctx) -> Result<Vec<Planned>>,
    counts: report::Counts,
) -> Result<()> {
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
            report::plural(counts.changes, "change"),
            left.join("\n  ")
        ));
    }
    Ok(())
}

fn rollback(sys: &Sys, settings: &Settings, args: &RollbackArgs, printer: Printer) -> Result<u8> {
    if args.list {
        let runs = journal::list(sys)?;
        if runs.is_empty() {
            println!("no recorded runs in {}", journal::BACKUPS);
        }
        for m in runs {
            let state = match (&m.undoes, &m.undone_by) {
                (_, Some(by)) => format!("undone by {by}"),
                (Some(of), None) => format!("undid {of}"),
                (None, None) => "can be rolled back".into(),
            };
            println!(
                "{}  {:<10} {:>3} entries  {state}",
                m.run_id,
                m.command,
                m.entries.len()
            );
        }
        return Ok(EXIT_OK);
    }
    let _lock = if args.dry_run {
        None
    } else {
        Some(prepare_real_run(sys, "roll back", args.yes)?)
    };
    let ctx = Ctx {
        sys,
        settings,
        no_start: true,
    };
    if _lock.is_some() {
        clean_stale_temps(&ctx)?;
    }
    let runs = journal::list(sys)?;
    let target = match &args.run {
        Some(id) => runs.iter().find(|m| &m.run_id == id).ok_or_else(|| {
            UsageError(format!(
                "no run {id} in {} (see `blotctl rollback --list`)",
                journal::BACKUPS
            ))
        })?,
        None => match runs.iter().rev().find(|m| m.command == "provision") {
            Some(m) => m,
            None => {
                println!("nothing to undo: no provision run is recorded");
                return Ok(EXIT_OK);
            }
        },
    };
    if let Some(by) = &target.undone_by {
        println!(
            "nothing to undo: run {} was already rolled back by {by}",
            target.run_id
        );
        return Ok(EXIT_OK);
    }
    let ctx = Ctx {
        sys,
        settings,
        no_start: true,
    };
    let plan_of = |ctx: &Ctx| -> Result<Vec<Planned>> {
        let (changes, notes) = crate::rollback::plan(ctx, target)?;
        let mut plan = crate::plan::StepPlan::changes(changes);
        plan.notes = notes;
        Ok(vec![Planned {
            name: "rollback",
            plan: Ok(plan),
        }])
    };
    let planned = plan_of(&ctx)?;
    let (text, counts) = report::steps(&planned, Tense::Would, printer.quiet());
    if args.dry_run {
        print!("{text}");
        let what = format!("rollback of {} (dry run)", target.run_id);
        println!("{}", report::summary(&what, counts));
        return Ok(if counts.changes > 0 {
            EXIT_PENDING
        } else {
            EXIT_OK
        });
    }
    let blocked: Vec<String> = planned
        .iter()
        .flat_map(|p| p.changes())
        .filter_map(|c| c.blocked.as_ref().map(|b| format!("{}: {b}", c.summary)))
        .collect();
    if !blocked.is_empty() {
        print!("{text}");
        return Err(anyhow!("nothing was changed: {}", blocked.join("; ")));
    }
    if !args.yes {
        print!("{text}");
    }
    if counts.changes > 0 && !confirm(args.yes, counts.changes)? {
        println!("cancelled: nothing was changed");
        return Ok(EXIT_FAILED);
    }
    engine::preflight(&ctx, &planned)?;
    let mut journal = Journal::new("rollback", Some(target.run_id.clone()));
    let result = apply_all(&ctx, &planned, counts.changes, &mut journal, printer, true);
    if result.is_ok() {
        let mut marked = target.clone();
        marked.undone_by = Some(
            journal
                .run_id()
                .unwrap_or("(nothing to change)")
                .to_string(),
        );
        journal::save(sys, &marked)?;
    }
    result?;
    converged(&ctx, plan_of, counts)?;
    println!(
        "{}",
        report::summary(&format!("rolled back {}", target.run_id), counts)
    );
    Ok(EXIT_OK)
}

fn render(sys: &Sys, settings: &Settings, name: Option<&str>) -> Result<u8> {
    let ctx = Ctx {
        sys,
        settings,
        no_start: true,
    };
    let names: Vec<&str> = match name {
        None => steps::templates::RENDERED
            .iter()
            .copied()
            .filter(|n| settings.thp_never || *n != steps::hostsettings::JOB)
            .collect(),
        Some(n) => vec![n],
    };
    for n in names {
        let Some((path, text)) = steps::templates::render_file(&ctx, n)? else {
            return Err(UsageError(format!(
                "unknown file {n:?}: expected one of {}",
                steps::templates::RENDERED.join(", ")
            ))
            .into());
        };
        println!("# ---- {path}");
        print!("{text}");
    }
    Ok(EXIT_OK)
}

/// "Must be root", with what needed it: a type, so the hint can say what to do.
#[derive(Debug)]
pub struct NotRoot(pub String);
impl std::fmt::Display for NotRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for NotRoot {}

const HINT_ROOT: &str =
    "run it with sudo; `blotctl provision --dry-run` shows the plan and changes nothing";

/// A `hint:` line for situations an operator can fix.
pub fn hint(err: &anyhow::Error) -> Option<&'static str> {
    if err.downcast_ref::<NotRoot>().is_some() {
        return Some(HINT_ROOT);
    }
    hint_for(&format!("{err:#}"))
}

/// `hint:` lines (on stderr, each once) for the reasons steps or checks failed.
pub fn print_hints(reasons: impl IntoIterator<Item = String>) {
    let mut seen: Vec<&str> = Vec::new();
    for r in reasons {
        if let Some(h) = hint_for(&r) {
            if !seen.contains(&h) {
                eprintln!("hint: {h}");
                seen.push(h);
            }
        }
    }
}

/// The hint for an error's text (also for the reasons of failed steps and checks).
pub fn hint_for(text: &str) -> Option<&'static str> {
    if text.contains("Permission denied") {
        Some(
            "blotctl reads root-only files (/etc/sudoers is 0440): run it with sudo (a dry run \
             changes nothing), or point --root at a readable copy of the box",
        )
    } else if text.contains("init state unknown") || text.contains("cannot reach upstart") {
        Some("run as root on the box itself, where initctl can reach upstart; or use --dry-run")
    } else if text.contains("visudo is not installed") {
        Some("install sudo (it provides visudo): yum install sudo")
    } else if text.contains("not a terminal") {
        Some("add --yes to apply without asking")
    } else {
        None
    }
}
