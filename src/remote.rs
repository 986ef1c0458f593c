//! Many boxes: the same command on remote hosts over the system's OpenSSH client, in parallel.
//!
//! `blotctl provision --dry-run --host a --host ec2-user@b` (or `--hosts-file FILE`), at most
//! `--parallel N` hosts at once (std threads taking hosts from a shared counter). For each:
//!
//! 1. **probe**: `ssh HOST 'id -u; wc -c < ~/.cache/blotctl/blotctl-<sha256>'`: who the
//!    login is, and whether this exact binary is already there. ssh's exit status 255 means
//!    it could not connect or log in: the host is reported *unreachable* with ssh's message.
//! 2. **upload**, only when it is not there (content-addressed: the file name is the
//!    sha256 of its contents): the binary on ssh's stdin into a temp file beside the target,
//!    its sha256 checked there, then renamed into place.
//! 3. **run** it as root with this command line minus the host options: directly when the
//!    login is root, else `sudo -n` (never a password: `BatchMode=yes`, `sudo -n`) over
//!    `ssh -tt` (see [`run_argv`] for why the terminal). Remote stdin is /dev/null and
//!    `TERM=dumb`, so it never prompts and prints plain lines.
//!
//! Every line is streamed as it comes, prefixed with the host; a table closes the run. The
//! exit code is the worst over the hosts (0 < 2 pending < 1 failed < 64 usage), and an
//! unreachable host or a failed upload is a failure of that host only.
//!
//! Only the system's `ssh` is used, through [`Sys::spawn_lines`], so the operator's
//! `~/.ssh/config`, agent and known_hosts decide how to reach and trust each host.
//! `BLOTCTL_SSH_OPTS` adds options to every ssh command (split like a shell would); they
//! come first, and ssh keeps the first value it sees of an option, so they win over
//! blotctl's own defaults. The remote login shell must be POSIX (sh, bash).

use crate::cli::{Cli, Command, RemoteArgs};
use crate::failure::{
    kinded, ErrorKind, UsageError, EXIT_FAILED, EXIT_OK, EXIT_PENDING, EXIT_USAGE,
};
use crate::sys::{Stream, Sys};
use anyhow::{anyhow, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The remote directory (under the login's `$HOME`) the binaries are uploaded to.
const CACHE: &str = ".cache/blotctl";
/// The build of blotctl that runs on the box (glibc 2.17), as `cargo xtask dist` names it.
/// The most blotctl reads of a binary to upload (a debug build is ~60 MB).
const BINARY_CAP: u64 = 512 << 20;

const PORTABLE_TARGET: &str = "x86_64-unknown-linux-gnu.2.17";
/// Where `cargo xtask dist` puts it, relative to a checkout.
const DIST_BINARY: &str = "target/dist/blotctl";
/// ssh's exit status when it could not connect or log in (or lost the connection).
const SSH_FAILED: i32 = 255;
/// blotctl's own ssh options; `BLOTCTL_SSH_OPTS` come before and so override them.
const SSH_DEFAULTS: &[&str] = &[
    // No password or passphrase prompt, ever: keys and the agent only.
    "-o",
    "BatchMode=yes",
    "-o",
    "ConnectTimeout=10",
    // A host that dies mid-run fails after a minute instead of hanging the run.
    "-o",
    "ServerAliveInterval=15",
    "-o",
    "ServerAliveCountMax=4",
    // Errors only: no "Connection to HOST closed." after -tt, no known_hosts notices.
    "-o",
    "LogLevel=ERROR",
];

/// The options that only make sense on this side, all taking a value; stripped from the
/// command line the remote blotctl gets (`--config` and `--set` reach it as the settings
/// they make, see [`forwarded_settings`]).
const LOCAL_OPTIONS: &[&str] = &[
    "--config",
    "--set",
    "--host",
    "--hosts-file",
    "--parallel",
    "--binary",
    "--remote-root",
    "--remote-env",
];

/// What every host's worker needs.
struct Job {
    sys: Sys,
    binary: PathBuf,
    size: u64,
    sha: String,
    ssh_opts: Vec<String>,
    /// This command line minus [`LOCAL_OPTIONS`] (and `--root` where a host has its own).
    args: Vec<String>,
    /// The settings seen here, as `--set KEY=VALUE` words ([`forwarded_settings`]).
    sets: Vec<String>,
    roots: Vec<(String, String)>,
    env: Vec<String>,
    width: usize,
}

/// How one host ended.
#[derive(Debug)]
struct Outcome {
    status: String,
    exit: u8,
    changes: Option<usize>,
    binary: &'static str,
    took: Duration,
}

/// `blotctl <command> --host ...`: run the command on every host; the worst exit code.
pub fn run(cli: &Cli) -> Result<u8> {
    let argv: Vec<String> = crate::sys::args()
        .into_iter()
        .skip(1)
        .map(|a| {
            a.into_string()
                .map_err(|a| UsageError(format!("argument {a:?} is not valid UTF-8")))
        })
        .collect::<Result<_, _>>()?;
    check_command(cli)?;
    let sys = Sys::new(Path::new("/"))?;
    let sets = forwarded_settings(&sys, cli)?;
    let hosts = host_list(&sys, &cli.remote)?;
    let roots = cli
        .remote
        .remote_root
        .iter()
        .map(|r| {
            r.split_once('=')
                .map(|(h, d)| (h.to_string(), d.to_string()))
                .ok_or_else(|| UsageError(format!("--remote-root {r:?}: expected HOST=DIR")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for kv in &cli.remote.remote_env {
        let key = kv.split_once('=').map_or("", |(k, _)| k);
        let ok = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(UsageError(format!("--remote-env {kv:?}: expected KEY=VALUE")).into());
        }
    }
    let ssh_opts = match crate::sys::env_var("BLOTCTL_SSH_OPTS").map(|v| v.into_string()) {
        Some(Ok(s)) => shlex::split(&s).ok_or_else(|| {
            UsageError("BLOTCTL_SSH_OPTS has unbalanced quotes or a trailing backslash".into())
        })?,
        Some(Err(_)) => return Err(UsageError("BLOTCTL_SSH_OPTS is not valid UTF-8".into()).into()),
        None => Vec::new(),
    };
    let (binary, bytes) = pick_binary(&sys, cli.remote.binary.as_deref())?;
    let sha = crate::journal::sha256(&bytes);
    let size = bytes.len() as u64;
    drop(bytes);
    let job = Job {
        sys,
        binary,
        size,
        sha,
        ssh_opts,
        sets,
        args: remote_args(&argv, false)?,
        roots,
        env: cli.remote.remote_env.clone(),
        width: hosts.iter().map(|h| h.len()).max().unwrap_or(0),
    };
    crate::outln!(
        "blotctl on {} ({} at a time): {} ({}, sha256 {})",
        crate::report::plural(hosts.len(), "host"),
        cli.remote.parallel.min(hosts.len() as u32),
        job.binary.display(),
        human_size(job.size),
        &job.sha[..12]
    );

    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(hosts.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..(cli.remote.parallel as usize).min(hosts.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(host) = hosts.get(i) else { break };
                let outcome = one_host(&job, host);
                results.lock().expect("no worker panics")[i] = Some(outcome);
            });
        }
    });
    let outcomes: Vec<(String, Outcome)> = hosts
        .into_iter()
        .zip(results.into_inner().expect("no worker panics"))
        .map(|(h, o)| (h, o.expect("every host has an outcome")))
        .collect();
    let exit = worst(outcomes.iter().map(|(_, o)| o.exit));
    crate::out!("{}", table(&outcomes, started.elapsed(), exit));
    Ok(exit)
}

/// Every setting this command sees here, for every box: `--config FILE` (or
/// `BLOTCTL_CONFIG`), `BLOTCTL_*` variables and `--set` flags, merged key by key in their
/// order, as `--set KEY=VALUE` flags (TOML values) for the remote command line, where they
/// are the top layer (over the box's own /etc/blotctl.toml, as here). Checked over the
/// defaults first, so a bad value stops the run before any connection. None of those
/// reach the box otherwise: sudo clears the environment, and the file is on this machine.
fn forwarded_settings(sys: &Sys, cli: &Cli) -> Result<Vec<String>> {
    let layers = crate::settings::local_layers(sys, cli.config.as_deref(), &cli.set)?;
    crate::settings::resolve_layers(layers.clone(), None).map_err(|e| {
        if e.is::<UsageError>() {
            e
        } else {
            kinded(ErrorKind::Settings, e)
        }
    })?;
    let mut merged = toml::Table::new();
    for layer in layers {
        merged.extend(layer.table);
    }
    Ok(merged
        .into_iter()
        .flat_map(|(k, v)| ["--set".to_string(), format!("{k}={v}")])
        .collect())
}

/// Refuse, before connecting anywhere, what cannot work on many hosts at once.
fn check_command(cli: &Cli) -> Result<()> {
    let refuse = |msg: &str| Err(UsageError(msg.to_string()).into());
    match &cli.command {
        Command::Completions { .. }
        | Command::Config
        | Command::Init { .. }
        | Command::Render { .. } => {
            return refuse(
                "--host and --hosts-file apply to provision, verify, rollback, deploy and \
                 restart; drop them here",
            )
        }
        Command::Capture { .. } => {
            return refuse(
                "capture writes its copy on this machine: run it on the box (ssh BOX sudo \
                 blotctl capture DIR), then copy DIR here",
            )
        }
        _ => {}
    }
    if cli.output() != crate::cli::Format::Text {
        return refuse(
            "--json/--format with --host: the output is lines prefixed with the host; drop it",
        );
    }
    match &cli.command {
        Command::Provision(a) if !a.dry_run && !a.yes => refuse(
            "with --host there is no prompt per host: see the plans with --dry-run, then \
             apply with --yes",
        ),
        Command::Rollback(a) if !a.dry_run && !a.list && !a.yes => refuse(
            "with --host there is no prompt per host: see what would be restored with \
             --dry-run, then apply with --yes",
        ),
        _ => Ok(()),
    }
}

/// `--host`s then the hosts file's lines, checked, without duplicates, in order.
fn host_list(sys: &Sys, args: &RemoteArgs) -> Result<Vec<String>> {
    let mut hosts = args.hosts.clone();
    if let Some(file) = &args.hosts_file {
        let text = sys
            .read_host_text(file)
            .with_context(|| format!("cannot read the hosts file {}", file.display()))?;
        hosts.extend(parse_hosts_file(&text));
    }
    let mut seen = std::collections::HashSet::new();
    hosts.retain(|h| seen.insert(h.clone()));
    if hosts.is_empty() {
        return Err(UsageError("no hosts: the hosts file lists none".into()).into());
    }
    for h in &hosts {
        check_host(h)?;
    }
    Ok(hosts)
}

/// One host per line; `#` starts a comment; blank lines are skipped.
pub fn parse_hosts_file(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_once('#').map_or(l, |(before, _)| before).trim())
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// `[user@]host`: what ssh takes as its destination, and nothing it could read as an option.
pub fn check_host(h: &str) -> Result<()> {
    let bad = h.is_empty()
        || h.starts_with('-')
        || h.chars().any(|c| c.is_whitespace() || c.is_control())
        || h.matches('@').count() > 1
        || h.starts_with('@')
        || h.ends_with('@');
    if bad {
        return Err(UsageError(format!(
            "bad host {h:?}: expected [USER@]HOST (a name from ~/.ssh/config, a DNS name or an address)"
        ))
        .into());
    }
    Ok(())
}

/// The binary to upload and its bytes: `--binary`, else this one when it is the portable
/// build, else the checkout's `target/dist/blotctl`: beside this binary's own build
/// directory (`target/release/blotctl` → `target/dist/blotctl`), whatever the current
/// directory, or else under the current directory.
fn pick_binary(sys: &Sys, flag: Option<&Path>) -> Result<(PathBuf, Vec<u8>)> {
    let this_is_portable = env!("BLOTCTL_BUILD_VERSION").contains(PORTABLE_TARGET);
    let path = match flag {
        Some(p) => p.to_path_buf(),
        None if this_is_portable => sys.current_exe()?,
        None => {
            let beside = sys
                .current_exe()
                .ok()
                .and_then(|exe| Some(exe.parent()?.parent()?.join("dist/blotctl")));
            if let Some(p) = beside {
                if let Some(bytes) = sys.read_host_bytes(&p, BINARY_CAP)? {
                    return Ok((p, bytes));
                }
            }
            PathBuf::from(DIST_BINARY)
        }
    };
    match sys.read_host_bytes(&path, BINARY_CAP)? {
        Some(bytes) => Ok((path, bytes)),
        None if flag.is_some() => {
            Err(UsageError(format!("--binary {}: no such file", path.display())).into())
        }
        None => Err(UsageError(format!(
            "no portable blotctl to upload: this one is built for {}, which needs a newer \
             glibc than the box has, and there is no {DIST_BINARY}; build it with `cargo \
             xtask dist`, or pass --binary PATH",
            env!("BLOTCTL_BUILD_VERSION")
        ))
        .into()),
    }
}

/// This command line minus the options that only make sense here. With `drop_root`, minus
/// `--root` too (the host has its own from `--remote-root`).
pub fn remote_args(argv: &[String], drop_root: bool) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            out.push(a.clone());
            out.extend(it.by_ref().cloned());
            break;
        }
        let local = |name: &str| LOCAL_OPTIONS.contains(&name) || (drop_root && name == "--root");
        match a.split_once('=') {
            Some((name, _)) if name.starts_with("--") && local(name) => {}
            _ if local(a) => {
                it.next();
            }
            _ => out.push(a.clone()),
        }
    }
    for a in &out {
        if a.chars().any(char::is_control) {
            return Err(UsageError(format!(
                "argument {a:?} holds a control character, which cannot be passed to a remote \
                 shell safely"
            ))
            .into());
        }
    }
    Ok(out)
}

/// One word for the remote shell, quoted so that it reaches the program unchanged.
fn quote(word: &str) -> Result<String> {
    Ok(shlex::try_quote(word)
        .map_err(|e| anyhow!("cannot quote {word:?} for the remote shell: {e}"))?
        .into_owned())
}

/// `"$HOME"/.cache/blotctl/blotctl-<sha>`: `$HOME` is expanded by the remote login shell
/// (before any sudo), the rest is fixed text and hex.
fn remote_binary(sha: &str) -> String {
    format!("\"$HOME\"/{CACHE}/blotctl-{sha}")
}

/// Prints who the login is (`uid=N`) and, when the binary is there, its sha256
/// (`sha256=HEX`): a file of the right name is used only when its contents are right (the
/// cache is the login user's; its name proves nothing).
fn probe_script(sha: &str) -> String {
    format!(
        "printf 'uid=%s\\n' \"$(id -u)\"; f={bin}; \
         if [ -f \"$f\" ]; then h=$(sha256sum < \"$f\"); printf 'sha256=%s\\n' \"${{h%% *}}\"; fi",
        bin = remote_binary(sha)
    )
}

/// Reads the binary from stdin into a temp file beside its final name, checks its sha256
/// there, then renames it into place (so a half-sent binary never has the final name).
fn upload_script(sha: &str) -> String {
    format!(
        "set -e; umask 077; d=\"$HOME\"/{CACHE}; mkdir -p \"$d\"; t=\"$d\"/.blotctl-{sha}.$$~; \
         trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; h=$(sha256sum < \"$t\"); \
         if [ \"${{h%% *}}\" != {sha} ]; then echo \"the upload arrived damaged (sha256 \
         ${{h%% *}})\" >&2; exit 1; fi; chmod 700 \"$t\"; mv -f \"$t\" \"$d\"/blotctl-{sha}"
    )
}

/// The remote command line that runs the uploaded blotctl as root, every word quoted. The
/// cached binary's sha256 is checked again right before it runs (the probe's check is
/// older, and the file is the login user's).
pub fn run_script(sha: &str, args: &[String], env: &[String], sudo: bool) -> Result<String> {
    let mut cmd = format!(
        "h=$(sha256sum < {bin}) || exit 1; if [ \"${{h%% *}}\" != {sha} ]; then echo \
         \"blotctl: the cached {bin} is not the binary that was uploaded (sha256 ${{h%% *}}); \
         remove it and run again\" >&2; exit 1; fi; exec ",
        bin = remote_binary(sha)
    );
    if sudo {
        cmd.push_str("sudo -n -- ");
    }
    // TERM=dumb: no colour, no spinners, even on the -tt terminal (unless --color always).
    cmd.push_str("env TERM=dumb ");
    for kv in env {
        cmd.push_str(&quote(kv)?);
        cmd.push(' ');
    }
    cmd.push_str(&remote_binary(sha));
    for a in args {
        cmd.push(' ');
        cmd.push_str(&quote(a)?);
    }
    // No prompt can be answered from here: blotctl sees no terminal on stdin.
    cmd.push_str(" </dev/null");
    Ok(cmd)
}

/// `ssh [BLOTCTL_SSH_OPTS] [defaults] [extra] -- HOST COMMAND`.
fn ssh_argv(job: &Job, extra: &[&str], host: &str, command: String) -> Vec<String> {
    let mut argv = vec!["ssh".to_string()];
    argv.extend(job.ssh_opts.iter().cloned());
    argv.extend(SSH_DEFAULTS.iter().map(|s| s.to_string()));
    argv.extend(extra.iter().map(|s| s.to_string()));
    argv.extend(["--".to_string(), host.to_string(), command]);
    argv
}

/// The argv of the run step. Logged in as root: plain ssh, stdout and stderr apart.
/// Otherwise through `sudo -n` over `ssh -tt`: a fresh box has `Defaults requiretty` in
/// /etc/sudoers (provision removes it), and then sudo refuses to run without a terminal
/// ("sorry, you must have a tty to run sudo"). `-tt` forces a pseudo-terminal for the
/// session even though our stdin is not one, so sudo works on a fresh box and still after
/// provision. On that terminal stderr arrives merged into stdout and lines end in CRLF
/// (`spawn_lines` strips the CR).
fn run_argv(job: &Job, host: &str, sudo: bool) -> Result<Vec<String>> {
    let own_root = job.roots.iter().find(|(h, _)| h == host).map(|(_, d)| d);
    let mut args = job.sets.clone();
    match own_root {
        Some(dir) => {
            args.extend(["--root".to_string(), dir.clone()]);
            args.extend(remote_args(&job.args, true)?);
        }
        None => args.extend(job.args.iter().cloned()),
    }
    let script = run_script(&job.sha, &args, &job.env, sudo)?;
    Ok(ssh_argv(
        job,
        if sudo { &["-tt"] } else { &[] },
        host,
        script,
    ))
}

/// Probe, upload when needed, run; every line printed with the host in front.
fn one_host(job: &Job, host: &str) -> Outcome {
    let started = Instant::now();
    let say = |s: Stream, line: &str| match s {
        Stream::Stdout => crate::outln!("{host:<w$} | {line}", w = job.width),
        Stream::Stderr => crate::errln!("{host:<w$} | {line}", w = job.width),
    };
    let done = |status: String, exit: u8, changes, binary| Outcome {
        status,
        exit,
        changes,
        binary,
        took: started.elapsed(),
    };
    let last_err = |lines: &[String]| lines.last().cloned().unwrap_or_default();

    // 1. probe
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let probe = job.sys.spawn_lines(
        &ssh_argv(job, &[], host, probe_script(&job.sha)),
        None,
        |s, l| match s {
            Stream::Stdout => out.push(l.to_string()),
            Stream::Stderr => err.push(l.to_string()),
        },
    );
    let status = match probe {
        Ok(s) => s,
        Err(e) => {
            say(Stream::Stderr, &format!("-- cannot run ssh: {e:#}"));
            return done("ssh failed".into(), EXIT_FAILED, None, "-");
        }
    };
    if status == SSH_FAILED {
        say(
            Stream::Stderr,
            &format!("-- unreachable: {}", last_err(&err)),
        );
        return done("unreachable".into(), EXIT_FAILED, None, "-");
    }
    let uid = out
        .iter()
        .find_map(|l| l.strip_prefix("uid="))
        .and_then(|u| u.trim().parse::<u32>().ok());
    let Some(uid) = uid.filter(|_| status == 0) else {
        let why = if err.is_empty() {
            format!("exit status {status}")
        } else {
            err.join("; ")
        };
        say(Stream::Stderr, &format!("-- probe failed: {why}"));
        return done("probe failed".into(), EXIT_FAILED, None, "-");
    };
    let present = out
        .iter()
        .filter_map(|l| l.strip_prefix("sha256="))
        .any(|h| h.trim() == job.sha);

    // 2. upload
    let binary = if present {
        "cached"
    } else {
        let t = Instant::now();
        let mut err = Vec::new();
        let up = job.sys.spawn_lines(
            &ssh_argv(job, &[], host, upload_script(&job.sha)),
            Some(&job.binary),
            |_, l| err.push(l.to_string()),
        );
        match up {
            Ok(0) => say(
                Stream::Stdout,
                &format!(
                    "-- uploaded {} to ~/{CACHE}/blotctl-{} in {:.1}s",
                    human_size(job.size),
                    &job.sha[..12],
                    t.elapsed().as_secs_f64()
                ),
            ),
            other => {
                let why = match other {
                    Err(e) => format!("{e:#}"),
                    Ok(s) if err.is_empty() => format!("exit status {s}"),
                    Ok(_) => err.join("; "),
                };
                say(Stream::Stderr, &format!("-- upload failed: {why}"));
                return done("upload failed".into(), EXIT_FAILED, None, "-");
            }
        }
        "uploaded"
    };

    // 3. run
    let sudo = uid != 0;
    let argv = match run_argv(job, host, sudo) {
        Ok(a) => a,
        Err(e) => {
            say(Stream::Stderr, &format!("-- {e:#}"));
            return done("usage error".into(), EXIT_USAGE, None, binary);
        }
    };
    let mut changes = None;
    let ran = job.sys.spawn_lines(&argv, None, |s, l| {
        if let Some(n) = changes_in_summary(l) {
            changes = Some(n);
        }
        say(s, l);
    });
    match ran {
        Err(e) => {
            say(Stream::Stderr, &format!("-- cannot run ssh: {e:#}"));
            done("ssh failed".into(), EXIT_FAILED, changes, binary)
        }
        Ok(SSH_FAILED) => {
            say(
                Stream::Stderr,
                "-- the ssh connection failed during the run",
            );
            done("ssh failed".into(), EXIT_FAILED, changes, binary)
        }
        Ok(code) => {
            let (status, exit) = match code {
                0 => ("ok".to_string(), EXIT_OK),
                2 => ("pending".to_string(), EXIT_PENDING),
                1 => ("failed".to_string(), EXIT_FAILED),
                64 => ("usage error".to_string(), EXIT_USAGE),
                n => (format!("failed (exit {n})"), EXIT_FAILED),
            };
            done(status, exit, changes, binary)
        }
    }
}

/// The change count of a provision summary line (`report::summary`):
/// `PREFIX: N changes[, M not checked here]; A ok, B absent, C skipped, D failed`.
pub fn changes_in_summary(line: &str) -> Option<usize> {
    let (head, tail) = line.rsplit_once("; ")?;
    if !(tail.contains(" ok, ") && tail.ends_with(" failed")) {
        return None;
    }
    let head = head
        .strip_suffix(" not checked here")
        .and_then(|h| h.rsplit_once(", "))
        .map_or(head, |(h, _)| h);
    let (_, count) = head.rsplit_once(": ")?;
    count
        .strip_suffix(" changes")
        .or_else(|| count.strip_suffix(" change"))?
        .parse()
        .ok()
}

/// The worst exit code: 0 < 2 (pending) < 1 (failed) < 64 (usage).
pub fn worst(codes: impl IntoIterator<Item = u8>) -> u8 {
    let rank = |c: u8| match c {
        EXIT_OK => 0,
        EXIT_PENDING => 1,
        EXIT_FAILED => 2,
        _ => 3,
    };
    codes
        .into_iter()
        .max_by_key(|c| rank(*c))
        .unwrap_or(EXIT_OK)
}

fn table(outcomes: &[(String, Outcome)], total: Duration, exit: u8) -> String {
    use std::fmt::Write;
    let rows: Vec<[String; 5]> = outcomes
        .iter()
        .map(|(h, o)| {
            [
                h.clone(),
                o.status.clone(),
                o.changes.map_or("-".into(), |n| n.to_string()),
                o.binary.to_string(),
                format!("{:.1}s", o.took.as_secs_f64()),
            ]
        })
        .collect();
    let head = ["host", "status", "changes", "binary", "duration"].map(String::from);
    let mut w = [0usize; 5];
    for r in std::iter::once(&head).chain(&rows) {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let mut out = String::from("\n");
    for r in std::iter::once(&head).chain(&rows) {
        let _ = writeln!(
            out,
            "{:<a$}  {:<b$}  {:>c$}  {:<d$}  {:>e$}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            a = w[0],
            b = w[1],
            c = w[2],
            d = w[3],
            e = w[4]
        );
    }
    let mut by_status: Vec<(String, usize)> = Vec::new();
    for (_, o) in outcomes {
        match by_status.iter_mut().find(|(s, _)| *s == o.status) {
            Some((_, n)) => *n += 1,
            None => by_status.push((o.status.clone(), 1)),
        }
    }
    let counts: Vec<String> = by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let _ = writeln!(
        out,
        "{}: {} in {:.1}s; exit {exit}",
        crate::report::plural(outcomes.len(), "host"),
        counts.join(", "),
        total.as_secs_f64()
    );
    out
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MB", bytes as f64 / (1 << 20) as f64)
    } else {
        format!("{:.0} kB", bytes as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn host_options_are_stripped_and_the_rest_kept_in_order() {
        let argv = s(&[
            "--host",
            "a",
            "provision",
            "--host=b",
            "--dry-run",
            "--parallel",
            "3",
            "--hosts-file=f",
            "--binary",
            "x",
            "--remote-root",
            "a=/r",
            "--remote-env=PATH=/p",
            "--root",
            "/box",
            "--config",
            "c.toml",
            "--set=user=blot",
            "--quiet",
        ]);
        // --config and --set reach the box as the settings they make (forwarded_settings).
        assert_eq!(
            remote_args(&argv, false).unwrap(),
            s(&["provision", "--dry-run", "--root", "/box", "--quiet"])
        );
        assert_eq!(
            remote_args(&argv, true).unwrap(),
            s(&["provision", "--dry-run", "--quiet"])
        );
        assert!(remote_args(&s(&["render", "a\nb"]), false).is_err());
    }

    #[test]
    fn every_argument_reaches_the_remote_blotctl_unchanged() {
        let nasty = s(&[
            "--config",
            "/tmp/it's $(rm -rf /) `x` \"y\" *.toml",
            "render",
        ]);
        let full = run_script("abc", &nasty, &s(&["PATH=/a b:/c"]), true).unwrap();
        let (check, cmd) = full.split_once("fi; ").unwrap();
        assert!(check.starts_with("h=$(sha256sum < "), "{full}");
        assert!(cmd.starts_with("exec sudo -n -- env TERM=dumb "), "{cmd}");
        assert!(cmd.ends_with(" </dev/null"), "{cmd}");
        // What sh makes of it: print each word of the command after `exec`.
        let probe = cmd
            .replacen("exec sudo -n -- env TERM=dumb ", "printf '%s\\n' ", 1)
            .replace(" </dev/null", "")
            .replace("\"$HOME\"/", "HOME/");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&probe)
            .output()
            .unwrap();
        let words: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        let mut want = s(&["PATH=/a b:/c", "HOME/.cache/blotctl/blotctl-abc"]);
        want.extend(nasty);
        assert_eq!(words, want);
        assert!(!run_script("abc", &[], &[], false).unwrap().contains("sudo"));
    }

    #[test]
    fn the_cached_binary_is_checked_before_it_runs() {
        let home = tempfile::tempdir().unwrap();
        let cache = home.path().join(CACHE);
        std::fs::create_dir_all(&cache).unwrap();
        let good = b"#!/bin/sh\necho ran \"$@\"\n";
        let sha = crate::journal::sha256(good);
        let bin = cache.join(format!("blotctl-{sha}"));
        use std::os::unix::fs::PermissionsExt;
        let run = |contents: &[u8]| {
            std::fs::write(&bin, contents).unwrap();
            std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o700)).unwrap();
            let script = run_script(&sha, &s(&["verify"]), &[], false).unwrap();
            std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .env("HOME", home.path())
                .output()
                .unwrap()
        };
        let ok = run(good);
        assert_eq!(String::from_utf8_lossy(&ok.stdout), "ran verify\n");
        let swapped = run(b"#!/bin/sh\necho evil\n");
        assert_eq!(swapped.status.code(), Some(1));
        assert!(swapped.stdout.is_empty());
        assert!(String::from_utf8_lossy(&swapped.stderr)
            .contains("is not the binary that was uploaded"));
    }

    #[test]
    fn hosts_file_and_host_checks() {
        assert_eq!(
            parse_hosts_file("# boxes\nweb1\n  ec2-user@web2  # the new one\n\n#db\n"),
            s(&["web1", "ec2-user@web2"])
        );
        for ok in ["web1", "ec2-user@10.0.0.1", "box.example.com", "[::1]"] {
            assert!(check_host(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-oProxyCommand=x", "a b", "@h", "u@", "a@b@c", "h\n"] {
            assert!(check_host(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn summary_lines_give_the_change_count() {
        use crate::outcome::Counts;
        use crate::report::summary;
        for n in [0, 1, 19] {
            let c = Counts {
                changes: n,
                ok: 3,
                ..Counts::default()
            };
            assert_eq!(changes_in_summary(&summary("dry run", c)), Some(n));
            assert_eq!(
                changes_in_summary(&summary("nothing to do, the box is as provisioned", c)),
                Some(n)
            );
        }
        let c = Counts {
            changes: 1,
            not_checked: 5,
            ..Counts::default()
        };
        assert_eq!(changes_in_summary(&summary("dry run", c)), Some(1));
        assert_eq!(changes_in_summary("verify: 3 passed, 0 failed"), None);
        assert_eq!(changes_in_summary("+  - x: 2 changes; y"), None);
    }

    #[test]
    fn worst_exit_code() {
        assert_eq!(worst([]), 0);
        assert_eq!(worst([0, 2, 0]), 2);
        assert_eq!(worst([2, 1, 0]), 1);
        assert_eq!(worst([1, 64, 2]), 64);
    }

    #[test]
    fn scripts_use_only_fixed_text_and_the_hash() {
        let sha = "0123abcd";
        for script in [probe_script(sha), upload_script(sha)] {
            assert!(script.contains("blotctl-0123abcd"), "{script}");
        }
        // Both parse as sh.
        for script in [probe_script(sha), upload_script(sha)] {
            let st = std::process::Command::new("sh")
                .args(["-n", "-c", &script])
                .status()
                .unwrap();
            assert!(st.success(), "{script}");
        }
    }
}
