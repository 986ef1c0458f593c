//! The command line. Global options may come before or after the command.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "blotctl",
    version = env!("BLOTCTL_BUILD_VERSION"),
    about = "Provision and verify a Blot box (Amazon Linux AMI 2018.03, upstart 0.6.5)",
    after_help = "Examples:\n  blotctl provision --dry-run --root ./box   show what would change, change nothing\n  sudo blotctl provision --yes              bring this box to the runbook's state\n  sudo blotctl verify --wait 120            after a reboot: provisioned and healthy?"
)]
pub struct Cli {
    /// Act on the tree under DIR instead of / (messages still print box paths).
    #[arg(long, global = true, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,

    /// Settings file (TOML) read over /etc/blotctl.toml (under --root); or BLOTCTL_CONFIG.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Set one setting for this run, over every file and BLOTCTL_* variable (repeatable):
    /// `--set blot_port=9000`. VALUE is TOML (a number, true, ["a", "b"]) or else a string.
    #[arg(long = "set", global = true, value_name = "KEY=VALUE", action = clap::ArgAction::Append)]
    pub set: Vec<String>,

    /// When to use colour: auto (only on a terminal, not with NO_COLOR), always, never.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: crate::printer::ColorChoice,

    /// No progress spinners.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,

    /// Print one JSON document on stdout, whatever happens (same as --format json).
    #[arg(long, global = true, conflicts_with = "format")]
    pub json: bool,

    /// Output: text (lines), json (one document), junit (JUnit XML: a test case per step).
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,

    // --host, --hosts-file, --parallel, --binary (src/remote.rs).
    #[command(flatten)]
    pub remote: crate::remote::RemoteArgs,

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring the box to the provisioned state (idempotent).
    #[command(
        after_help = "Examples:\n  blotctl provision --dry-run --root ./box\n  sudo blotctl provision --yes"
    )]
    Provision(ProvisionArgs),
    /// Check that the box is as provisioned and healthy (read-only).
    #[command(
        after_help = "Examples:\n  sudo blotctl verify\n  sudo blotctl verify --wait 120 --json"
    )]
    Verify(VerifyArgs),
    /// Undo a provision run: restore its files, modes, owners and rc links exactly.
    #[command(
        after_help = "Examples:\n  sudo blotctl rollback --list\n  sudo blotctl rollback --dry-run\n  sudo blotctl rollback 20261124T101500Z --yes"
    )]
    Rollback(RollbackArgs),
    /// Print the effective settings and where each came from.
    #[command(
        after_help = "Examples:\n  blotctl config\n  BLOTCTL_BLOT_PORT=9000 blotctl config --root ./box"
    )]
    Config,
    /// Write a commented config file (/etc/blotctl.toml under --root).
    #[command(after_help = "Examples:\n  sudo blotctl init\n  blotctl init --root ./box --force")]
    Init {
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  blotctl completions bash > /etc/bash_completion.d/blotctl"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the files blotctl renders (upstart jobs, monit.rc, logrotate).
    #[command(after_help = "Examples:\n  blotctl render blot\n  blotctl render --root ./box")]
    Render {
        /// One of redis, blot, nginx, monit, monit.rc, redis-host-settings, logrotate; all
        /// when omitted.
        name: Option<String>,
    },
    /// Fast-forward the app checkout as the app user, then restart blot (idempotent).
    #[command(
        after_help = "Examples:\n  sudo blotctl deploy --dry-run\n  sudo blotctl deploy\n  sudo blotctl deploy --restart"
    )]
    Deploy(DeployArgs),
    /// Restart one upstart job (stop, start, wait until it runs and answers).
    #[command(
        after_help = "Examples:\n  sudo blotctl restart blot\n  sudo blotctl restart redis --dry-run"
    )]
    Restart(RestartArgs),
    /// Copy the files planning and verify read into DEST, a tree --root accepts (a CI fixture).
    #[command(
        long_about = "Copy exactly the files that planning and `verify --offline` read (with their modes, \
                      owners and links, rc links included) into DEST: a tree that --root accepts, or a \
                      tarball when DEST ends in .tar or .tar.gz. Secrets (shadow, gshadow, keys) are \
                      left out; planning does not need them. What could not be copied is listed in \
                      DEST/blotctl-capture.json. Run it as root on the box (or with --root on a copy).",
        after_help = "Examples:\n  sudo blotctl capture /tmp/box && sudo tar -C /tmp/box -cpf box.tar .\n  sudo blotctl capture box.tar.gz\n  blotctl provision --dry-run --root /tmp/box"
    )]
    Capture {
        /// A new (or empty) directory, or a FILE.tar / FILE.tar.gz to write.
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
    pub fn as_str(self) -> &'static str {
        match self {
            JobName::Redis => "redis",
            JobName::Blot => "blot",
            JobName::Nginx => "nginx",
            JobName::Monit => "monit",
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
