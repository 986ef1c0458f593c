//! The command line. Global options may come before or after the command; the remote
//! options (`--host` ...) only where they apply. [`command`] is the one definition that
//! parsing, `--help`, completions and man pages share.

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueHint};
use std::path::PathBuf;

const GLOBAL: &str = "Global options";

/// What every exit status means; each command's `--help` lists the ones it can end with.
pub const EXIT_STATUS: &str = "\
Exit status:
  0   done, or nothing to change
  1   failure (the message says what to do); a \"no\" at a prompt
  2   changes pending: a dry run (provision, rollback, deploy, restart) found work to do
  64  usage error: unknown flag or value, bad --set, unknown name, no terminal and no --yes
With --json (or --format junit) stdout holds one document whatever happens, errors too.";

#[derive(Debug, Parser)]
#[command(
    name = "blotctl",
    version = env!("BLOTCTL_BUILD_VERSION"),
    about = "Provision and verify a Blot box (Amazon Linux AMI 2018.03, upstart 0.6.5)"
)]
pub struct Cli {
    /// Act on the tree under DIR instead of / (messages still print box paths).
    #[arg(long, global = true, value_name = "DIR", default_value = "/",
          value_hint = ValueHint::DirPath, help_heading = GLOBAL)]
    pub root: PathBuf,

    /// Settings file (TOML) read over /etc/blotctl.toml (under --root); or BLOTCTL_CONFIG.
    #[arg(long, global = true, value_name = "FILE", value_hint = ValueHint::FilePath,
          help_heading = GLOBAL)]
    pub config: Option<PathBuf>,

    /// One setting for this run, over every file and BLOTCTL_* variable (repeatable), e.g.
    /// blot_port=9000; VALUE is TOML (9000, true, ["a", "b"]) or else a string.
    #[arg(long = "set", global = true, value_name = "KEY=VALUE", action = clap::ArgAction::Append,
          value_parser = SettingParser, hide_possible_values = true, help_heading = GLOBAL)]
    pub set: Vec<String>,

    /// Colour: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto",
          hide_possible_values = true, help_heading = GLOBAL)]
    pub color: ColorChoice,

    /// Print only what changes, would change or fails, and the summary: no progress, no
    /// lines for steps that are ok, absent or skipped, no notes, no passing checks.
    #[arg(long, short = 'q', global = true, help_heading = GLOBAL)]
    pub quiet: bool,

    /// Print one JSON document on stdout, whatever happens (same as --format json).
    #[arg(long, global = true, conflicts_with = "format", help_heading = GLOBAL)]
    pub json: bool,

    /// Output: text (lines), json (one document), junit (JUnit XML: a test case per step).
    #[arg(long, global = true, value_enum, value_name = "FORMAT", help_heading = GLOBAL)]
    pub format: Option<Format>,

    // --host, --hosts-file, --parallel, --binary (src/remote.rs).
    #[command(flatten)]
    pub remote: RemoteArgs,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The output format asked for (`--json` is `--format json`).
    pub fn output(&self) -> Format {
        match (self.json, self.format) {
            (true, _) => Format::Json,
            (false, Some(f)) => f,
            (false, None) => Format::Text,
        }
    }

    /// The format a command line asks for, read from the raw words: for errors that come
    /// before (or instead of) a parsed command line, such as clap's usage errors.
    pub fn output_of_args(args: &[String]) -> Format {
        let mut words = args.iter().map(String::as_str);
        let mut format = Format::Text;
        while let Some(w) = words.next() {
            if w == "--" {
                break;
            }
            let value = match w {
                "--json" => return Format::Json,
                "--format" => words.next(),
                _ => w.strip_prefix("--format="),
            };
            match value {
                Some("json") => format = Format::Json,
                Some("junit") => format = Format::Junit,
                _ => {}
            }
        }
        format
    }
}

/// Commands the remote options (`--host` ...) mean nothing to: they are hidden from these
/// commands' help and completions, and refused when given (`remote::check_command`).
const LOCAL_ONLY: &[&str] = &["config", "init", "completions", "render", "capture"];

/// The command line as parsed, helped and completed: the derived one, help wrapped at
/// (at most) 100 columns, the remote options hidden where they do not apply.
pub fn command() -> clap::Command {
    let remote: Vec<clap::Arg> = RemoteArgs::augment_args(clap::Command::new("remote"))
        .get_arguments()
        .map(|a| a.clone().global(false).hide(true))
        .collect();
    let mut cmd = Cli::command().max_term_width(100).after_help(format!(
        "Examples:
  blotctl provision --dry-run --root ./box   show what would change, change nothing
  sudo blotctl provision --yes              bring this box to the runbook's state
  sudo blotctl verify --wait 120            after a reboot: provisioned and healthy?

{EXIT_STATUS}
Each command's --help lists the codes it can end with."
    ));
    for name in LOCAL_ONLY {
        // A command's own (hidden) argument stops the global one from being copied in.
        cmd = cmd.mut_subcommand(name, |sc| sc.args(remote.iter().cloned()));
    }
    // `completions` prints a shell script: it has no document, so --json and --format are
    // hidden there (and, given anyway, a usage error: commands::check_format).
    let formats: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| ["json", "format"].contains(&a.get_id().as_str()))
        .map(|a| a.clone().global(false).hide(true))
        .collect();
    cmd.mut_subcommand("completions", |sc| sc.args(formats))
}

/// Parse a command line, its program name first (help, version and usage errors are `Err`).
pub fn parse(args: &[std::ffi::OsString]) -> Result<Cli, clap::Error> {
    let mut cmd = command();
    let matches = cmd.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

/// `blotctl completions SHELL`: the script for [`command`] without anything hidden (the
/// generators would offer hidden flags, such as the tests' `--remote-root`).
pub fn completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    let mut cmd = command();
    cmd.build();
    clap_complete::generate(shell, &mut visible(&cmd), "blotctl", out);
}

/// A copy of a built command with only its visible arguments and subcommands.
fn visible(cmd: &clap::Command) -> clap::Command {
    let mut out = clap::Command::new(cmd.get_name().to_string())
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        // Not global: the built subcommands hold their own copies already (or, where hidden,
        // none that may come back).
        .args(
            cmd.get_arguments()
                .filter(|a| !a.is_hide_set())
                .map(|a| a.clone().global(false)),
        )
        .subcommands(
            cmd.get_subcommands()
                .filter(|sc| !sc.is_hide_set())
                .map(visible),
        );
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        out = out.version(version.to_string());
    }
    if let Some(bin) = cmd.get_bin_name() {
        out = out.bin_name(bin.to_string());
    }
    out
}

/// `--set KEY=VALUE`: any text (config.rs checks it, with a did-you-mean), offering the
/// setting keys (`blot_port=` ...) to shell completion.
#[derive(Clone)]
struct SettingParser;

impl TypedValueParser for SettingParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            crate::config::known_keys()
                .into_iter()
                .map(|k| PossibleValue::new(format!("{k}="))),
        ))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring the box to the provisioned state (idempotent).
    #[command(after_help = "Examples:
  blotctl provision --dry-run --root ./box
  sudo blotctl provision --yes

Exit status:
  0   converged (or nothing to change); with --dry-run: the files are as planned (what
      cannot be checked here, e.g. job state off the box, is counted apart)
  1   failure, refused before any change, not root, or \"no\" at the prompt; with
      --strict: something could not be checked here
  2   with --dry-run: changes pending
  64  usage error, or no terminal to ask on and no --yes
  129/130/141/143  stopped by SIGHUP/SIGINT/SIGPIPE/SIGTERM between two changes (the
      message says how many were made and how to undo them)")]
    Provision(ProvisionArgs),
    /// Check that the box is as provisioned and healthy (read-only).
    #[command(after_help = "Examples:
  sudo blotctl verify
  sudo blotctl verify --wait 120 --json
  blotctl verify --offline --root ./box --format junit   CI: a captured box's files

Exit status:
  0   every check passed (checks that cannot be made here are skipped, never passed)
  1   a check failed (or could not run); with --strict: a check could not be made here
  64  usage error")]
    Verify(VerifyArgs),
    /// Undo a provision run: restore its files, modes, owners and rc links exactly.
    #[command(after_help = "Examples:
  sudo blotctl rollback --list
  sudo blotctl rollback --dry-run
  sudo blotctl rollback 20261124T101500Z --yes

Exit status:
  0   restored, or nothing to undo; --list
  1   failure, not root, or \"no\" at the prompt
  2   with --dry-run: something would be restored
  64  usage error: no such RUN, or no terminal to ask on and no --yes
  129/130/141/143  stopped by SIGHUP/SIGINT/SIGPIPE/SIGTERM between two changes (the
      message says how many were made and how to undo them)")]
    Rollback(RollbackArgs),
    /// Print the effective settings and where each came from.
    #[command(after_help = "Examples:
  blotctl config
  BLOTCTL_BLOT_PORT=9000 blotctl config --root ./box

Exit status:
  0   printed
  1   a settings file or BLOTCTL_* variable is invalid
  64  usage error: an unknown key or a bad value in --set")]
    Config,
    /// Write a commented config file (/etc/blotctl.toml under --root).
    #[command(after_help = "Examples:
  sudo blotctl init
  sudo blotctl init --root ./box --force

Exit status:
  0   written, or already as it would be written
  1   not root (checked before asking anything), or the file could not be written
  64  usage error: the file exists (use --force)")]
    Init {
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  blotctl completions bash > /etc/bash_completion.d/blotctl

Exit status:
  0   printed
  64  usage error: an unknown shell")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the files blotctl renders (upstart jobs, monit.rc, logrotate).
    #[command(after_help = "Examples:
  blotctl render blot
  blotctl render --root ./box

Exit status:
  0   printed
  1   the settings are invalid, or a file it derives from cannot be read
  64  usage error: an unknown NAME")]
    Render {
        /// The file to print; all when omitted.
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(
            crate::steps::RENDERED))]
        name: Option<String>,
    },
    /// Fast-forward the app checkout as the app user, then restart blot (idempotent).
    #[command(after_help = "Examples:
  sudo blotctl deploy --dry-run
  sudo blotctl deploy
  sudo blotctl deploy --restart

Exit status:
  0   deployed, or already up to date
  1   failure or refusal (local changes, another branch, diverged), or not root
  2   with --dry-run: changes pending
  64  usage error
  129/130/141/143  stopped by SIGHUP/SIGINT/SIGPIPE/SIGTERM between two changes (the
      message says how many were made and how to undo them)")]
    Deploy(DeployArgs),
    /// Restart one upstart job (stop, start, wait until it runs and answers).
    #[command(after_help = "Examples:
  sudo blotctl restart blot
  sudo blotctl restart redis --dry-run

Exit status:
  0   restarted
  1   failure (the job did not come back or does not answer), or not root
  2   with --dry-run: it would restart
  64  usage error
  129/130/141/143  stopped by SIGHUP/SIGINT/SIGPIPE/SIGTERM between two changes (the
      message says how many were made and how to undo them)")]
    Restart(RestartArgs),
    /// Copy the files planning and verify read into DEST, for --root (a CI fixture).
    #[command(
        after_help = "Copies exactly what planning and `verify --offline` read, with modes, owners
(when run as root) and links, rc links included. Secrets (shadow, gshadow, keys) are left
out: planning does not need them. DEST/blotctl-capture.json lists what was copied and what
was left out, and why. The copy is put at DEST whole or not at all: a box that planning
cannot read (a FIFO at a job file) is an error, not a partial copy. A tarball is a new file
(never written through a link or over a file), mode 0600: it holds sudoers.

Examples (the tarball and the copy hold root-only files: run them with sudo):
  sudo blotctl capture box.tar.gz
  mkdir box && sudo tar --same-owner -xpzf box.tar.gz -C box
  sudo blotctl provision --dry-run --root box

Exit status:
  0   captured
  1   failure (DEST could not be written, planning cannot read the box), not a box
  64  usage error: DEST exists (a file, or a directory that is not empty)"
    )]
    Capture {
        /// A new (or empty) directory, or a FILE.tar / FILE.tar.gz to write.
        #[arg(value_hint = ValueHint::AnyPath)]
        dest: PathBuf,
    },
}

impl Command {
    /// The command's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Provision(_) => "provision",
            Command::Verify(_) => "verify",
            Command::Rollback(_) => "rollback",
            Command::Config => "config",
            Command::Init { .. } => "init",
            Command::Completions { .. } => "completions",
            Command::Render { .. } => "render",
            Command::Deploy(_) => "deploy",
            Command::Restart(_) => "restart",
            Command::Capture { .. } => "capture",
        }
    }

    /// Whether it only shows what it would do.
    pub fn dry_run(&self) -> bool {
        match self {
            Command::Provision(a) => a.dry_run,
            Command::Rollback(a) => a.dry_run,
            Command::Deploy(a) => a.dry_run,
            Command::Restart(a) => a.dry_run,
            _ => false,
        }
    }
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Fetch and show what would change; change nothing (exit 2 when something would).
    #[arg(long)]
    pub dry_run: bool,
    /// Restart blot even when the checkout is already up to date.
    #[arg(long)]
    pub restart: bool,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// The job to restart (blot depends on redis: restarting redis restarts blot too).
    #[arg(value_enum)]
    pub job: JobName,
    /// Show what would be done; change nothing (exit 2).
    #[arg(long)]
    pub dry_run: bool,
}

/// The long-running upstart jobs blotctl owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JobName {
    Redis,
    Blot,
    Nginx,
    Monit,
}

impl JobName {
    pub fn job(self) -> crate::jobs::Job {
        use crate::jobs::Job;
        match self {
            JobName::Redis => Job::Redis,
            JobName::Blot => Job::Blot,
            JobName::Nginx => Job::Nginx,
            JobName::Monit => Job::Monit,
        }
    }
}

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// Show the plan with diffs and change nothing (exit 2 when changes are pending).
    #[arg(long)]
    pub dry_run: bool,
    /// Apply without asking (required when stdin or stderr is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Do not start the upstart jobs.
    #[arg(long)]
    pub no_start: bool,
    /// Fail (exit 1) when something could not be checked here (off the box: job state,
    /// processes, live kernel values), instead of counting it apart.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Retry failing checks about once a second for up to SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub wait: Option<u64>,
    /// Check files only (drift, modes, owners, rc links, configs valid); job state,
    /// processes, kernel values and HTTP/redis answers are reported as not checked.
    #[arg(long)]
    pub offline: bool,
    /// Fail when a check could not be made here, instead of reporting it as skipped.
    #[arg(long)]
    pub strict: bool,
}

/// How a command prints its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The run to undo (see --list). Default: the last provision run.
    #[arg(value_hint = ValueHint::Other)]
    pub run: Option<String>,
    /// List recorded runs and exit.
    #[arg(long)]
    pub list: bool,
    /// Show what would be restored and change nothing (exit 2 when something would be).
    #[arg(long)]
    pub dry_run: bool,
    /// Apply without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Fail (exit 1) when something could not be checked here, e.g. whether a job to stop
    /// or restart runs.
    #[arg(long)]
    pub strict: bool,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The options that make blotctl act on other hosts. Global: they may follow the command.
#[derive(Debug, Default, clap::Args)]
#[command(next_help_heading = "Remote boxes (over ssh)")]
pub struct RemoteArgs {
    /// Run on [USER@]HOST over ssh (repeatable): upload the portable blotctl, run it there as root.
    #[arg(long = "host", global = true, value_name = "[USER@]HOST")]
    pub hosts: Vec<String>,
    /// Read the hosts from FILE, one per line (`#` starts a comment).
    #[arg(long, global = true, value_name = "FILE")]
    pub hosts_file: Option<PathBuf>,
    /// At most N hosts at once.
    #[arg(long, global = true, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub parallel: u32,
    /// The blotctl to upload [default: this one if it is the portable build, else target/dist/blotctl].
    #[arg(long, global = true, value_name = "PATH")]
    pub binary: Option<PathBuf>,
    /// (tests) `HOST=DIR`: run on HOST with `--root DIR`.
    #[arg(long, global = true, hide = true, value_name = "HOST=DIR")]
    pub remote_root: Vec<String>,
    /// (tests) `KEY=VALUE` in the remote blotctl's environment (e.g. PATH with fakes first).
    #[arg(long, global = true, hide = true, value_name = "KEY=VALUE")]
    pub remote_env: Vec<String>,
}

impl RemoteArgs {
    /// Whether hosts were given: then the command goes to `crate::remote`.
    pub fn active(&self) -> bool {
        !self.hosts.is_empty() || self.hosts_file.is_some()
    }
}
