//! The commands, one file each: each turns its options into a run of the pipeline
//! (`crate::run`) or a look, and prints how it ended (`report::finish`). Here: hand the
//! command to `--host`, open the box, load the settings, dispatch; report a failure in the
//! format the command line asked for. Exit codes and errors: `crate::failure`.

mod capture;
mod completions;
mod config;
mod deploy;
mod init;
mod provision;
mod render;
mod restart;
mod rollback;
mod verify;

use crate::cli::{Cli, Command, Format};
use crate::failure::{
    exit_code, hint, kinded, ErrorKind, UsageError, EXIT_FAILED, EXIT_OK, EXIT_PENDING, EXIT_USAGE,
};
use crate::outcome::Outcome;
use crate::printer::Printer;
use crate::report;
use crate::sys::Sys;
use anyhow::{anyhow, Result};

/// Run the command line `cli`.
pub fn exec(cli: Cli) -> Result<u8> {
    if cli.remote.active() {
        return crate::remote::run(&cli);
    }
    let format = cli.output();
    let printer = Printer::new(cli.color, cli.quiet, format);
    check_format(&cli.command, format)?;
    if let Command::Completions { shell } = cli.command {
        return completions::run(shell);
    }
    let sys = open_box(&cli.root, !matches!(cli.command, Command::Config))?;
    let effective = crate::settings::load(&sys, cli.config.as_deref(), &cli.set).map_err(|e| {
        if e.is::<UsageError>() {
            e
        } else {
            kinded(ErrorKind::Settings, e)
        }
    })?;
    let settings = &effective.settings;
    match cli.command {
        Command::Provision(args) => provision::run(&sys, settings, &args, printer),
        Command::Verify(args) => verify::run(&sys, settings, &args, printer),
        Command::Rollback(args) => rollback::run(&sys, settings, &args, printer),
        Command::Render { name } => render::run(&sys, settings, name.as_deref(), printer),
        Command::Deploy(args) => deploy::run(&sys, settings, &args, printer),
        Command::Restart(args) => restart::run(&sys, settings, &args, printer),
        Command::Config => config::run(&effective, printer),
        Command::Init { force } => init::run(&sys, &effective, force, printer),
        Command::Capture { dest } => capture::run(&sys, settings, &dest, printer),
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
    if !matches!(Sys::host_meta(root), Ok(Some(_))) {
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
pub fn parse_failed(e: &clap::Error, args: &[std::ffi::OsString]) -> u8 {
    let _ = e.print();
    match e.kind() {
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => EXIT_OK,
        _ => {
            let lossy: Vec<String> = args.iter().map(|a| a.to_string_lossy().into()).collect();
            let msg = e.render().to_string();
            let msg = msg.trim_end().trim_start_matches("error: ");
            let err = anyhow::Error::new(UsageError(msg.to_string()));
            let inv = Invocation {
                format: Cli::output_of_args(&lossy),
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
