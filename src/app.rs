//! The commands: load settings, build the context, run the engine, build the outcome, print
//! it (text, or one JSON or JUnit document), pick the exit code.

use crate::cli::{Cli, Command, Format, ProvisionArgs, RollbackArgs};
use crate::config::{Effective, Layer, Settings, DEFAULT_CONFIG};
use crate::engine;
use crate::journal::{self, Journal};
use crate::outcome::{kinded, Applied, ErrorKind, Outcome, State, StepOutcome};
use crate::plan::Planned;
use crate::printer::Printer;
use crate::report;
use crate::steps::{self, Ctx};
use crate::sys::{Stop, Sys};
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
    let format = cli.output();
    let printer = Printer::new(cli.color, cli.quiet, format);
    check_format(&cli.command, format)?;
    if let Command::Completions { shell } = cli.command {
        let mut script = Vec::new();
        crate::cli::completions(shell, &mut script);
        crate::out!("{}", String::from_utf8_lossy(&script));
        return Ok(EXIT_OK);
    }
    let sys = open_box(&cli.root, !matches!(cli.command, Command::Config))?;
    let effective = load_settings(&sys, cli.config.as_deref(), &cli.set).map_err(|e| {
        if e.is::<UsageError>() {
            e
        } else {
            kinded(ErrorKind::Settings, e)
        }
    })?;
    let settings = &effective.settings;
    match cli.command {
        Command::Provision(args) => provision(&sys, settings, &args, printer),
        Command::Verify(args) => crate::verify::run(&sys, settings, &args, printer),
        Command::Rollback(args) => rollback(&sys, settings, &args, printer),
        Command::Render { name } => render(&sys, settings, name.as_deref(), printer),
        Command::Deploy(args) => crate::deploy::deploy(&sys, settings, &args, printer),
        Command::Restart(args) => crate::deploy::restart(&sys, settings, &args, printer),
        Command::Config => print_config(&effective, printer),
        Command::Init { force } => init(&sys, &effective, force, printer),
        Command::Capture { dest } => crate::capture::run(&sys, settings, &dest, printer),
        Command::Completions { .. } => unreachable!("handled above"),
    }
}

/// Refuse an output format a command has no form for.
fn check_format(command: &Command, format: Format) -> Result<()> {
    let steps = matches!(
        command,
        Command::Provision(_)
            | Command::Verify(_)
            | Command::Rollback(_)
            | Command::Deploy(_)
            | Command::Restart(_)
    );
    match (command, format) {
        (Command::Completions { .. }, Format::Json | Format::Junit) => {
            Err(UsageError("completions print a shell script: drop --json/--format".into()).into())
        }
        (_, Format::Junit) if !steps => Err(UsageError(format!(
            "--format junit is for provision, verify, rollback, deploy and restart (each step \
             a test case); {} has no steps: use --json",
            command.name()
        ))
        .into()),
        _ => Ok(()),
    }
}

/// What every Amazon Linux AMI box has, which blotctl relies on.
const BOX_MARKS: [&str; 4] = ["/etc/init", "/etc/rc.d", "/etc/sudoers", "/etc/passwd"];

/// The box at `root`; with `needs_box`, one error naming what is missing when it is not an
/// Amazon Linux box (an empty directory, a wrong path), instead of a failure per step.
fn open_box(root: &std::path::Path, needs_box: bool) -> Result<Sys> {
    let shown = if root == std::path::Path::new("/") {
        "this machine (/)".to_string()
    } else {
        format!("--root {}", root.display())
    };
    let not_a_box = |what: String| {
        kinded(
            ErrorKind::NotABox,
            anyhow!("{shown} is not an Amazon Linux box (upstart, SysV rc, sudo): {what}"),
        )
    };
    if std::fs::symlink_metadata(root).is_err() {
        return Err(not_a_box(format!("{} does not exist", root.display())));
    }
    let sys = Sys::new(root)?;
    if needs_box {
        let mut missing = Vec::new();
        for mark in BOX_MARKS {
            if sys.meta(mark)?.is_none() {
                missing.push(mark);
            }
        }
        match missing.as_slice() {
            [] => {}
            [one] => return Err(not_a_box(format!("{one} does not exist"))),
            [init @ .., last] => {
                return Err(not_a_box(format!(
                    "{} and {last} do not exist",
                    init.join(", ")
                )))
            }
        }
    }
    Ok(sys)
}

/// defaults < /etc/blotctl.toml (under the root) < `--config FILE` or `BLOTCTL_CONFIG`
/// < `BLOTCTL_*` variables < `--set KEY=VALUE` flags.
fn load_settings(sys: &Sys, flag: Option<&std::path::Path>, sets: &[String]) -> Result<Effective> {
    let mut layers = Vec::new();
    if let Some(text) = sys.read_text(DEFAULT_CONFIG)? {
        layers.push(Layer::parse(&text, DEFAULT_CONFIG)?);
    }
    layers.extend(local_layers(sys, flag, sets)?);
    let passwd = sys.read_text("/etc/passwd")?;
    resolve_layers(layers, passwd.as_deref())
}

/// Merge and check the layers (`passwd`: the box's /etc/passwd, when there is one). A
/// value that is wrong only with the `--set` layer on top (`blot_port=abc`) is a usage
/// error, fixed on the command line like an unknown key.
pub fn resolve_layers(layers: Vec<Layer>, passwd: Option<&str>) -> Result<Effective> {
    let below = match layers.split_last() {
        Some((top, below)) if top.origin == "--set" => below.to_vec(),
        _ => return crate::config::resolve(layers, passwd),
    };
    crate::config::resolve(layers, passwd).map_err(|e| {
        match crate::config::resolve(below, passwd) {
            Ok(_) => UsageError(format!("{e:#}")).into(),
            Err(_) => e,
        }
    })
}

/// The layers that come from where blotctl is started rather than from the box: `--config
/// FILE` (or `BLOTCTL_CONFIG`), `BLOTCTL_*` variables, `--set` flags. `--host` sends them
/// to every box.
pub fn local_layers(
    sys: &Sys,
    flag: Option<&std::path::Path>,
    sets: &[String],
) -> Result<Vec<Layer>> {
    let mut layers = Vec::new();
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
    if let Some(env) = Layer::from_env(std::env::vars_os())? {
        layers.push(env);
    }
    if let Some(flags) = Layer::from_flags(sets).map_err(|e| UsageError(format!("{e:#}")))? {
        layers.push(flags);
    }
    Ok(layers)
}

/// `blotctl config`: the effective settings as TOML, each with its source.
fn print_config(e: &Effective, printer: Printer) -> Result<u8> {
    let table = toml::Table::try_from(&e.settings)?;
    let source = |k: &str| {
        e.sources
            .get(k)
            .map_or("default", |s| s.as_str())
            .to_string()
    };
    if !printer.text() {
        let settings: serde_json::Map<String, serde_json::Value> = table
            .iter()
            .map(|(k, v)| {
                let value = serde_json::to_value(v).expect("TOML values are JSON values");
                (
                    k.clone(),
                    serde_json::json!({"value": value, "source": source(k)}),
                )
            })
            .collect();
        let mut o = Outcome::new("config", false);
        o.extra.insert("settings".into(), settings.into());
        report::print_document(&o, printer.format);
        return Ok(EXIT_OK);
    }
    let lines: Vec<(String, String)> = table
        .iter()
        .map(|(k, v)| (format!("{k} = {v}"), source(k)))
        .collect();
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    crate::outln!("# effective settings; after each, where its value came from");
    for (line, source) in lines {
        crate::outln!("{line:<width$}  # {source}");
    }
    Ok(EXIT_OK)
}

/// `blotctl init`: a commented config file in which only what differs from the built-in
/// defaults is live (the answers on a terminal, values from --set, BLOTCTL_* or an existing
/// file), written through the engine like any other change. Root is checked first, before
/// anything is asked.
fn init(sys: &Sys, e: &Effective, force: bool, printer: Printer) -> Result<u8> {
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
    if interactive() && printer.text() {
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
    let _lock = take_lock(sys)?;
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
    not_interrupted(sys, "init", 1)?;
    engine::preflight(sys, [&change])?;
    engine::apply(sys, &ctx, &change, &mut Journal::new("init", None))?;
    let mut o = Outcome::new("init", false);
    o.extra.insert("wrote".into(), DEFAULT_CONFIG.into());
    if !report::print_document(&o, printer.format) {
        crate::outln!("wrote {DEFAULT_CONFIG}");
    }
    Ok(EXIT_OK)
}

/// "No TTY" means stdin or stderr is not a terminal.
fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// The run lock (`flock`, waiting up to 3 s); a lock held by another run is a `lock` error.
pub(crate) fn take_lock(sys: &Sys) -> Result<crate::sys::RunLock> {
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
pub(crate) fn refusal(o: &Outcome) -> Option<anyhow::Error> {
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

/// Print a plan a real run refuses to apply, with the reason; the reason is the error.
pub(crate) fn refuse(o: Outcome, err: anyhow::Error, printer: Printer) -> Result<u8> {
    let o = o.with_error(&err, EXIT_FAILED);
    if !report::print_document(&o, printer.format) {
        crate::out!("{}", report::steps_text(&o.steps, printer.quiet()));
    }
    Err(err)
}

/// The end of a dry run: exit 0 when nothing is pending, 2 when changes are, 1 when a
/// step failed (or, with `strict`, something could not be checked here). Printed as text
/// (the steps, then the summary `what: ...`) or as the command's document.
pub(crate) fn end_dry_run(o: Outcome, what: &str, strict: bool, printer: Printer) -> Result<u8> {
    end_look(o, strict, printer, |o| {
        format!(
            "{}{}\n",
            report::steps_text(&o.steps, printer.quiet()),
            report::summary(what, o.counts())
        )
    })
}

/// The end of a look that changed nothing (a dry run, `verify`): the exit code from the
/// outcome (1 a step or check failed, or with `strict` something not checked; 2 changes
/// pending; else 0), the outcome printed as `text` or as its document, hints for failures.
pub(crate) fn end_look(
    mut o: Outcome,
    strict: bool,
    printer: Printer,
    text: impl FnOnce(&Outcome) -> String,
) -> Result<u8> {
    let n = o.counts();
    let verify = o.command.as_deref() == Some("verify");
    // Counted as the summary line counts: verify's skipped checks, a plan's items.
    let strict_err = (strict && n.not_checked > 0).then(|| {
        let what = if verify {
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
    // A failed step or check is the document's error too (not `"error": null` with exit 1).
    let failed_err = (n.failed > 0).then(|| {
        let failed = failed_steps(&o);
        let what = if verify {
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
    if !report::print_document(&o, printer.format) {
        crate::out!("{}", text(&o));
    }
    print_hints(
        o.steps
            .iter()
            .filter(|s| s.state == State::Failed)
            .filter_map(|s| s.reason.clone()),
    );
    match strict_err {
        Some(e) => Err(e),
        None => Ok(o.exit_code),
    }
}

/// The end of a real run that applied (some of) `planned`: the backup's run id and the
/// summary (`done: ...`, the changes counted as they were made), or the outcome's
/// document; `result` decides the exit code.
pub(crate) fn end_run(
    command: &str,
    planned: &[Planned],
    applied: &Applied,
    result: Result<()>,
    backup: Option<String>,
    done: &str,
    printer: Printer,
) -> Result<u8> {
    let mut o = Outcome::new(command, false).with_applied(planned, applied);
    o.backup = backup;
    if let Err(e) = &result {
        o = o.with_error(e, exit_code(e));
    }
    if !report::print_document(&o, printer.format) {
        if let Some(id) = &o.backup {
            crate::outln!(
                "backup: {}/{id} (undo with `blotctl rollback {id}`)",
                journal::BACKUPS
            );
        }
        if result.is_ok() {
            crate::outln!("{}", report::summary(done, o.counts()));
        }
    }
    result.map(|()| EXIT_OK)
}

/// A real run that found nothing to change: its steps and `what`, exit 0.
pub(crate) fn end_nothing_to_do(mut o: Outcome, what: &str, printer: Printer) -> Result<u8> {
    o.exit_code = EXIT_OK;
    if !report::print_document(&o, printer.format) {
        crate::out!("{}", report::steps_text(&o.steps, printer.quiet()));
        crate::outln!("{}", report::summary(what, o.counts()));
    }
    Ok(EXIT_OK)
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

fn provision(sys: &Sys, settings: &Settings, args: &ProvisionArgs, printer: Printer) -> Result<u8> {
    no_prompt_in_documents(printer, args.dry_run, args.yes)?;
    let _lock = if args.dry_run {
        None
    } else {
        Some(prepare_real_run(sys, "provision", args.yes)?)
    };
    let ctx = Ctx {
        sys,
        settings,
        no_start: args.no_start,
        offline: false,
    };
    if _lock.is_some() {
        clean_stale_temps(sys, &ctx, printer)?;
    }
    let all = steps::all();
    let planned = {
        let spinner = printer.spinner("planning");
        crate::steps::plan_all_with(&ctx, &all, |name| spinner.step(format!("planning: {name}")))
    };
    let plan = Outcome::new("provision", args.dry_run).with_planned(&planned, false);
    if args.dry_run {
        return end_dry_run(plan, "dry run", args.strict, printer);
    }
    if let Some(err) = refusal(&plan) {
        return refuse(plan, err, printer);
    }
    let counts = plan.counts();
    if counts.changes == 0 {
        return end_nothing_to_do(plan, "nothing to do, the box is as provisioned", printer);
    }
    if !args.yes {
        crate::out!("{}", report::steps_text(&plan.steps, printer.quiet()));
    }
    if !confirm(args.yes, counts.changes)? {
        crate::outln!("cancelled: no managed file was changed");
        return Ok(EXIT_FAILED);
    }
    not_interrupted(sys, "provision", counts.changes)?;
    engine::preflight(sys, planned.iter().flat_map(|p| p.changes()))?;
    let mut journal = Journal::new("provision", None);
    let (applied, result) = apply_all(sys, &ctx, &planned, counts.changes, &mut journal, printer);
    let result = result.and_then(|()| {
        converged(
            &ctx,
            |ctx| Ok(crate::steps::plan_all(ctx, &all)),
            applied.changes(),
        )
    });
    let backup = journal.run_id().map(String::from);
    end_run(
        "provision",
        &planned,
        &applied,
        result,
        backup,
        "provisioned",
        printer,
    )
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
    sys.remove_stale_temps(journal::BACKUPS)?;
    for run in ctx.sys.list_dir(journal::BACKUPS)?.unwrap_or_default() {
        sys.remove_stale_temps(&format!("{}/{run}", journal::BACKUPS))?;
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
    take_lock(sys)
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
pub(crate) fn apply_all(
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
                    let abandoned = Abandoned::of(ctx, c);
                    applied.failed = Some((i, abandoned.to_string()));
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
    (applied, Ok(()))
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
pub(crate) fn converged(
    ctx: &Ctx,
    replan: impl Fn(&Ctx) -> Result<Vec<Planned>>,
    made: usize,
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
            report::plural(made, "change"),
            left.join("\n  ")
        ));
    }
    Ok(())
}

fn rollback(sys: &Sys, settings: &Settings, args: &RollbackArgs, printer: Printer) -> Result<u8> {
    if args.list {
        let runs = journal::list(sys, settings)?;
        if !printer.text() {
            let runs: Vec<serde_json::Value> = runs
                .iter()
                .map(|r| match &r.manifest {
                    Ok(m) => serde_json::to_value(m).expect("JSON"),
                    Err(why) => serde_json::json!({"run_id": r.id, "damaged": why}),
                })
                .collect();
            let mut o = Outcome::new("rollback", false);
            o.extra.insert("runs".into(), runs.into());
            report::print_document(&o, printer.format);
            return Ok(EXIT_OK);
        }
        if runs.is_empty() {
            crate::outln!("no recorded runs in {}", journal::BACKUPS);
        }
        for run in runs {
            let m = match run.manifest {
                Ok(m) => m,
                Err(why) => {
                    crate::outln!("{}  damaged: {why}", run.id);
                    continue;
                }
            };
            let state = match (&m.undoes, &m.undone_by) {
                (_, Some(by)) => format!("undone by {by}"),
                (Some(of), None) => format!("undid {of}"),
                (None, None) => "can be rolled back".into(),
            };
            let n = m.entries.len();
            let entries = format!("{n:>3} {}", if n == 1 { "entry" } else { "entries" });
            crate::outln!("{}  {:<10} {entries}  {state}", m.run_id, m.command);
        }
        return Ok(EXIT_OK);
    }
    no_prompt_in_documents(printer, args.dry_run, args.yes)?;
    let _lock = if args.dry_run {
        None
    } else {
        Some(prepare_real_run(sys, "roll back", args.yes)?)
    };
    let ctx = Ctx {
        sys,
        settings,
        no_start: true,
        offline: false,
    };
    if _lock.is_some() {
        clean_stale_temps(sys, &ctx, printer)?;
    }
    let runs = journal::list(sys, settings)?;
    let nothing = |why: String| {
        let mut o = Outcome::new("rollback", args.dry_run);
        o.steps
            .push(StepOutcome::check("rollback", State::Ok, why.clone()));
        if !report::print_document(&o, printer.format) {
            crate::outln!("{why}");
        }
        Ok(EXIT_OK)
    };
    let target = match &args.run {
        Some(id) => match runs.iter().find(|r| &r.id == id) {
            None => {
                return Err(UsageError(format!(
                    "no run {id} in {} (see `blotctl rollback --list`)",
                    journal::BACKUPS
                ))
                .into())
            }
            Some(journal::Run {
                manifest: Err(why), ..
            }) => {
                return Err(kinded(
                    ErrorKind::Refused,
                    anyhow!(
                        "run {id} cannot be rolled back, its manifest is damaged: {why}; no \
                         managed file was changed"
                    ),
                ))
            }
            Some(journal::Run {
                manifest: Ok(m), ..
            }) => m,
        },
        None => {
            // The newest intact provision run; damaged runs after it are passed over (a
            // path they changed is not what this run left, so it is kept, with a note).
            let newest = runs
                .iter()
                .rev()
                .find(|r| r.manifest.as_ref().is_ok_and(|m| m.command == "provision"));
            let mut passed = Vec::new();
            for r in runs.iter().rev() {
                if newest.is_some_and(|n| n.id >= r.id) {
                    break;
                }
                if let Err(why) = &r.manifest {
                    passed.push(format!("run {}, its manifest is damaged: {why}", r.id));
                }
            }
            match newest.map(|r| &r.manifest) {
                Some(Ok(m)) => {
                    for p in passed {
                        crate::errln!("warning: passed over {p}");
                    }
                    m
                }
                _ if !passed.is_empty() => {
                    return Err(kinded(
                        ErrorKind::Refused,
                        anyhow!(
                            "no provision run can be rolled back: {}; no managed file was \
                             changed",
                            passed.join("; ")
                        ),
                    ))
                }
                _ => return nothing("nothing to undo: no provision run is recorded".into()),
            }
        }
    };
    if let Some(by) = &target.undone_by {
        return nothing(format!(
            "nothing to undo: run {} was already rolled back by {by}",
            target.run_id
        ));
    }
    let plan_of = |ctx: &Ctx| -> Result<Vec<Planned>> {
        let plan = crate::rollback::plan(ctx, target)?;
        Ok(vec![Planned {
            name: "rollback",
            plan: Ok(plan),
        }])
    };
    let planned = plan_of(&ctx)?;
    let plan = Outcome::new("rollback", args.dry_run).with_planned(&planned, false);
    if args.dry_run {
        let what = format!("rollback of {} (dry run)", target.run_id);
        return end_dry_run(plan, &what, args.strict, printer);
    }
    if let Some(err) = refusal(&plan) {
        return refuse(plan, err, printer);
    }
    let counts = plan.counts();
    if !args.yes {
        crate::out!("{}", report::steps_text(&plan.steps, printer.quiet()));
    }
    if counts.changes > 0 && !confirm(args.yes, counts.changes)? {
        crate::outln!("cancelled: no managed file was changed");
        return Ok(EXIT_FAILED);
    }
    not_interrupted(sys, "rollback", counts.changes)?;
    engine::preflight(sys, planned.iter().flat_map(|p| p.changes()))?;
    let mut journal = Journal::new("rollback", Some(target.run_id.clone()));
    let (applied, result) = apply_all(sys, &ctx, &planned, counts.changes, &mut journal, printer);
    let result = result
        .and_then(|()| {
            let mut marked = target.clone();
            marked.undone_by = Some(
                journal
                    .run_id()
                    .unwrap_or("(nothing to change)")
                    .to_string(),
            );
            journal::save(sys, &marked)
        })
        .and_then(|()| converged(&ctx, plan_of, applied.changes()));
    let backup = journal.run_id().map(String::from);
    let done = format!("rolled back {}", target.run_id);
    end_run(
        "rollback", &planned, &applied, result, backup, &done, printer,
    )
}

fn render(sys: &Sys, settings: &Settings, name: Option<&str>, printer: Printer) -> Result<u8> {
    let ctx = Ctx {
        sys,
        settings,
        no_start: true,
        offline: false,
    };
    let names: Vec<&str> = match name {
        None => steps::RENDERED
            .iter()
            .copied()
            .filter(|n| settings.thp_never || *n != steps::hostsettings::JOB)
            .collect(),
        Some(n) => vec![n],
    };
    let mut files = Vec::new();
    for n in names {
        let Some((path, text)) = steps::render_file(&ctx, n)? else {
            return Err(UsageError(format!(
                "unknown file {n:?}: expected one of {}",
                steps::RENDERED.join(", ")
            ))
            .into());
        };
        files.push(serde_json::json!({"name": n, "path": path, "text": text}));
    }
    if !printer.text() {
        let mut o = Outcome::new("render", false);
        o.extra.insert("files".into(), files.into());
        report::print_document(&o, printer.format);
        return Ok(EXIT_OK);
    }
    for f in files {
        crate::outln!("# ---- {}", f["path"].as_str().unwrap_or(""));
        crate::out!("{}", f["text"].as_str().unwrap_or(""));
    }
    Ok(EXIT_OK)
}

/// A real run stopped at a safe point by a signal (exit 128 + the signal, as a shell
/// reports a process the signal ended) or because its output could not be written (exit 1).
#[derive(Debug)]
pub struct Interrupted {
    pub stop: Stop,
    msg: String,
}

impl Interrupted {
    /// What was done, and what to do now: run again to finish, or roll back.
    pub fn new(
        stop: &Stop,
        command: &str,
        done: usize,
        total: usize,
        run_id: Option<&str>,
        abandoned: Option<Abandoned>,
    ) -> Interrupted {
        let cause = match stop {
            Stop::Signal(libc::SIGINT) => "interrupted by SIGINT".to_string(),
            Stop::Signal(libc::SIGTERM) => "interrupted by SIGTERM".to_string(),
            Stop::Signal(libc::SIGHUP) => {
                "interrupted by SIGHUP (the terminal or ssh session went away)".to_string()
            }
            Stop::Signal(libc::SIGPIPE) => {
                "interrupted by SIGPIPE (its output was closed)".to_string()
            }
            Stop::Signal(n) => format!("interrupted by signal {n}"),
            Stop::Output(why) => format!("stopped because its output failed ({why})"),
        };
        let under_way = match &abandoned {
            None => " (the one under way was finished first)".to_string(),
            Some(a) => format!("; the next, {a}"),
        };
        let msg = match run_id {
            None => format!("{cause} before any change: no managed file was changed"),
            Some(id) => format!(
                "{cause} after {done} of {total} changes, each one whole{under_way}: run \
                 `blotctl {command}` again to finish, or undo them with `blotctl rollback {id}`"
            ),
        };
        Interrupted {
            stop: stop.clone(),
            msg,
        }
    }
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}
impl std::error::Error for Interrupted {}

/// Stop before the first change when a signal came (or the output failed) while planning.
pub(crate) fn not_interrupted(sys: &Sys, command: &str, total: usize) -> Result<()> {
    match sys.interrupted() {
        Some(stop) => Err(Interrupted::new(&stop, command, 0, total, None, None).into()),
        None => Ok(()),
    }
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
    match crate::outcome::kind_of(err) {
        ErrorKind::NotRoot => Some(HINT_ROOT),
        ErrorKind::NotABox => Some(
            "point --root at a copy of the box: `sudo blotctl capture DIR` on the box makes one",
        ),
        ErrorKind::NotChecked => Some(
            "off the box, job state, processes and live kernel values cannot be checked; \
             drop --strict to count them apart",
        ),
        _ => hint_for(&format!("{err:#}")),
    }
}

/// The exit code of a command that failed with `err`: 64 for usage errors, 128 + N for a
/// run stopped by signal N, else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if let Some(i) = err.downcast_ref::<Interrupted>() {
        if let Stop::Signal(n) = i.stop {
            return (128 + n) as u8;
        }
    }
    match crate::outcome::kind_of(err) {
        ErrorKind::Usage => EXIT_USAGE,
        _ => EXIT_FAILED,
    }
}

/// What a command line asked for, kept to report a failure in its format.
#[derive(Debug, Clone, Copy)]
pub struct Invocation {
    pub format: Format,
    /// `None` when the command line could not be parsed.
    pub command: Option<&'static str>,
    pub dry_run: bool,
}

impl Invocation {
    pub fn of(cli: &Cli) -> Invocation {
        Invocation {
            format: cli.output(),
            command: Some(cli.command.name()),
            dry_run: cli.command.dry_run(),
        }
    }
}

/// Report a command that failed: the error chain and a `hint:` on stderr, and, when the
/// output is a document that was not printed yet, a document holding the error (so that
/// `--json` prints one document whatever happens). Returns the exit code.
pub fn fail(err: &anyhow::Error, inv: Invocation) -> u8 {
    crate::errln!("error: {err}");
    for cause in err.chain().skip(1) {
        crate::errln!("  caused by: {cause}");
    }
    if let Some(hint) = hint(err) {
        crate::errln!("hint: {hint}");
    }
    let code = exit_code(err);
    if !crate::outcome::printed() {
        let mut o = Outcome::new("", inv.dry_run).with_error(err, code);
        o.command = inv.command.map(String::from);
        report::print_document(&o, inv.format);
    }
    code
}

/// The exit code, unless blotctl's own output could not be written (a full disk, a
/// terminal gone): a command whose result nobody could read has not succeeded (exit 1).
pub fn output_written(code: u8) -> u8 {
    match crate::sys::output_failure() {
        Some(why) if matches!(code, EXIT_OK | EXIT_PENDING) => {
            crate::errln!("error: {why}");
            EXIT_FAILED
        }
        _ => code,
    }
}

/// The command line could not be parsed: clap's message (help and version are not
/// errors), and with `--json`/`--format` on the command line, the document of a usage error.
pub fn parse_failed(e: &clap::Error, args: &[String]) -> u8 {
    let _ = e.print();
    match e.kind() {
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => EXIT_OK,
        _ => {
            let msg = e.render().to_string();
            let msg = msg.trim_end().trim_start_matches("error: ");
            let err = anyhow::Error::new(UsageError(msg.to_string()));
            let inv = Invocation {
                format: Cli::output_of_args(args),
                command: None,
                dry_run: false,
            };
            let mut o = Outcome::new("", false).with_error(&err, EXIT_USAGE);
            o.command = None;
            report::print_document(&o, inv.format);
            EXIT_USAGE
        }
    }
}
/// `hint:` lines (on stderr, each once) for the reasons steps or checks failed.
pub fn print_hints(reasons: impl IntoIterator<Item = String>) {
    let mut seen: Vec<&str> = Vec::new();
    for r in reasons {
        if let Some(h) = hint_for(&r) {
            if !seen.contains(&h) {
                crate::errln!("hint: {h}");
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
