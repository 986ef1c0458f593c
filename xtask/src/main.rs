//! Developer tasks: `cargo xtask <task>`.
//!
//! - `test`: install the Debian programs the suite uses (when missing), then run every test.
//! - `demo`: run blotctl on a scratch copy of the bundled fixture box, fakes on PATH.
//! - `dist`: the portable release for the box's glibc 2.17 (see dist.rs).
//! - `man`: man pages from the CLI definition (clap_mangen) into target/man/.
//! - `fuzz [SECONDS]`: every cargo-fuzz target for SECONDS (default 20) each (see fuzz.rs).
//! - `bench`: whole-process timings against a shell floor, to target/bench/report.md.
//! - `capture OUT [BLOTCTL]`: a capture of the fixture box, provisioned, for the CI recipe.

mod bench;
mod dist;
mod fuzz;
#[cfg(test)]
mod tidy;

use anyhow::{bail, Context, Result};
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

/// Debian packages the tests run for real, and a program each provides.
const PACKAGES: &[(&str, &str)] = &[
    ("sudo", "visudo"),
    ("monit", "monit"),
    ("nginx", "nginx"),
    ("redis-server", "redis-server"),
    ("strace", "strace"),
    ("e2fsprogs", "chattr"),
    ("tmux", "tmux"),
    ("openssh-server", "sshd"),
    ("openssh-client", "ssh"),
    ("logrotate", "logrotate"),
    ("git", "git"),
    ("nodejs", "node"),
    ("python3", "python3"),
    ("hyperfine", "hyperfine"),
    ("time", "time"),
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("demo") => demo(&root),
        Some("dist") => dist::dist(&root, &args[1..]),
        Some("fuzz") => fuzz::fuzz(&root, &args[1..]),
        Some("man") => man(&root),
        Some("bench") => bench::bench(&root, &args[1..]),
        Some("capture") => capture(&root, &args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <test [cargo test args]|demo|dist|man|fuzz [SECONDS]|bench\
                 |capture OUT [BLOTCTL]>"
            );
            std::process::exit(64);
        }
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn find(program: &str) -> bool {
    which::which(program).is_ok()
        || ["/usr/sbin", "/sbin"]
            .iter()
            .any(|d| Path::new(d).join(program).exists())
}

/// apt-get update + install of whatever is missing; a no-op when everything is there. apt
/// runs quietly: its output goes to target/xtask-apt.log, shown only when it fails.
fn install_test_programs() -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, prog)| !find(prog))
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !rustix_is_root() {
        bail!(
            "the tests need these Debian packages: {}; run `cargo xtask test` as root once \
             (it installs them), or `sudo apt-get install {}`",
            missing.join(" "),
            missing.join(" ")
        );
    }
    let target = project_root().join("target");
    std::fs::create_dir_all(&target)?;
    let log_path = target.join("xtask-apt.log");
    let log = std::fs::File::create(&log_path)?;
    println!(
        "xtask: installing {} with apt-get (log: {})",
        missing.join(" "),
        log_path.display()
    );
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(&missing);
    for args in [vec!["update", "-q"], install] {
        let out = duct::cmd("apt-get", &args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin_null()
            .stdout_file(log.try_clone()?)
            .stderr_to_stdout()
            .unchecked()
            .run()?;
        if !out.status.success() {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            eprint!("{text}");
            bail!(
                "apt-get {} failed ({}); its output is above and in {}",
                args[0],
                out.status,
                log_path.display()
            );
        }
    }
    Ok(())
}

/// `cargo install --locked --root <cache>/cargo KRATE@=VERSION`, unless that version is
/// already there (`task`: the xtask to name in the message). Returns the installed binary.
fn cargo_install_pinned(cache: &Path, krate: &str, version: &str, task: &str) -> Result<PathBuf> {
    let install_root = cache.join("cargo");
    let bin = install_root.join("bin").join(krate);
    let installed = duct::cmd!(&bin, "--version")
        .stderr_null()
        .read()
        .unwrap_or_default();
    if installed.split_whitespace().nth(1) == Some(version) {
        return Ok(bin);
    }
    eprintln!(
        "xtask {task}: installing {krate} {version} into {} (first use only; a few minutes)",
        install_root.display()
    );
    duct::cmd(
        cargo(),
        [
            "install".as_ref(),
            "--quiet".as_ref(),
            "--locked".as_ref(),
            "--force".as_ref(),
            "--root".as_ref(),
            install_root.as_os_str(),
            "--version".as_ref(),
            format!("={version}").as_ref(),
            krate.as_ref(),
        ],
    )
    // away from the repository's .cargo/config.toml
    .dir(cache)
    .run()
    .with_context(|| format!("cargo install {krate} failed"))?;
    Ok(bin)
}

/// A venv at `<cache>/<dir>` with the PyPI packages `requirements` (pip requirement lines,
/// each pinned) installed; returns its python. `works(python)` checks a venv (the tool runs,
/// in the pinned version). The requirements a venv was made with are kept in it
/// (`blotctl-requirements.txt`, written last): a venv made for others, or one that no longer
/// works (its base Python went away, a half-made one) is made afresh (`task`: the xtask to
/// name). A working venv from before the requirements were kept is kept as it is.
fn pip_install_pinned(
    cache: &Path,
    dir: &str,
    requirements: &str,
    works: impl Fn(&Path) -> Result<()>,
    task: &str,
) -> Result<PathBuf> {
    let venv = cache.join(dir);
    let python = venv.join("bin/python");
    let kept = venv.join("blotctl-requirements.txt");
    let made_with = std::fs::read_to_string(&kept).ok();
    if made_with.as_deref().is_none_or(|r| r == requirements) && works(&python).is_ok() {
        if made_with.is_none() {
            std::fs::write(&kept, requirements)?;
        }
        return Ok(python);
    }
    let first = requirements
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    eprintln!(
        "xtask {task}: installing {first} (PyPI, pinned) into the venv {} (first use only)",
        venv.display()
    );
    // Debian's own python3 refuses a global `pip install`: a venv, from the first python3
    // that has the venv module.
    let base = ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|p| {
            duct::cmd!(*p, "-m", "venv", "--help")
                .stdout_null()
                .stderr_null()
                .run()
                .is_ok()
        })
        .context(
            "no python3 with the venv module found; install Debian's python3-venv \
             (apt-get install python3-venv)",
        )?;
    duct::cmd!(base, "-m", "venv", "--clear", &venv)
        .run()
        .with_context(|| format!("`{base} -m venv {}` failed", venv.display()))?;
    let pending = venv.join("blotctl-requirements.pending");
    std::fs::write(&pending, requirements)?;
    duct::cmd!(
        &python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-r",
        &pending
    )
    .run()
    .with_context(|| format!("pip install of {first} failed"))?;
    works(&python).with_context(|| format!("the venv {} does not work", venv.display()))?;
    std::fs::rename(&pending, &kept)?;
    Ok(python)
}

fn rustix_is_root() -> bool {
    duct::cmd!("id", "-u")
        .read()
        .map(|s| s.trim() == "0")
        .unwrap_or(false)
}

/// `cargo test --workspace --no-fail-fast`: every test binary runs even after one fails.
/// Its output passes through as it comes; the per-binary `test result:` lines are added up
/// into one closing line, `N passed, N failed[, N skipped]`. A binary that started but
/// printed no result (it crashed or was killed) or failed to build counts as one failed
/// test. Exits 1 when anything failed.
fn test(extra: &[String]) -> Result<()> {
    install_test_programs()?;
    let mut args: Vec<String> = ["test", "--workspace", "--no-fail-fast"]
        .map(String::from)
        .to_vec();
    if std::io::stderr().is_terminal() {
        args.extend(["--color".into(), "always".into()]);
    }
    args.extend(extra.iter().cloned());
    let mut child = std::process::Command::new(cargo())
        .args(&args)
        // Every program the tests use is installed now: tell them a missing one is a failure.
        .env("XTASK_TEST_PROGRAMS", "installed")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("cannot run cargo test")?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    // cargo's own lines (`Running ...`, errors) come on stderr, the results on stdout.
    let err_thread = std::thread::spawn(move || -> Tally {
        let mut tally = Tally::default();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            eprintln!("{line}");
            tally.cargo_line(&line);
        }
        tally
    });
    let mut tally = Tally::default();
    for line in std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
    {
        println!("{line}");
        tally.result_line(&line);
    }
    tally.add(err_thread.join().expect("stderr reader"));
    let status = child.wait()?;
    let failed = tally.failed_total(status.success());
    if tally.unfinished() > 0 {
        println!(
            "xtask: {} that started printed no result (crashed or killed); each counts as \
             one failed test",
            plural(tally.unfinished(), "test binary", "test binaries")
        );
    }
    if tally.build_failures > 0 {
        println!(
            "xtask: {} did not build; each counts as one failed test",
            plural(tally.build_failures, "test target", "test targets")
        );
    }
    if failed > tally.failed + tally.unfinished() + tally.build_failures {
        println!("xtask: cargo test failed ({status}) outside any test: see its errors above");
    }
    let skipped = if tally.ignored > 0 {
        format!(", {} skipped", tally.ignored)
    } else {
        String::new()
    };
    println!("{} passed, {failed} failed{skipped}", tally.passed);
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What `cargo test`'s output said, added up over every test binary.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    /// `Running ...` and `Doc-tests ...` lines: test binaries that started.
    started: usize,
    /// `test result:` lines: test binaries that finished and reported.
    results: usize,
    passed: usize,
    failed: usize,
    ignored: usize,
    /// `error: could not compile ... (test ...)` and the like.
    build_failures: usize,
}

impl Tally {
    /// A line of cargo's stderr (colour codes and right-aligned status words included).
    fn cargo_line(&mut self, line: &str) {
        let plain = strip_ansi(line);
        let word = plain.trim_start();
        if plain.len() > word.len()
            && (word.starts_with("Running ") || word.starts_with("Doc-tests "))
        {
            self.started += 1;
        } else if word.starts_with("error: could not compile") {
            self.build_failures += 1;
        }
    }

    /// A line of stdout: libtest's `test result: ok. 5 passed; 0 failed; 1 ignored; ...`.
    fn result_line(&mut self, line: &str) {
        let Some(rest) = strip_ansi(line)
            .strip_prefix("test result: ")
            .map(String::from)
        else {
            return;
        };
        self.results += 1;
        for part in rest.split(['.', ';']) {
            let mut words = part.split_whitespace();
            if let (Some(n), Some(what)) = (words.next(), words.next()) {
                if let Ok(n) = n.parse::<usize>() {
                    match what {
                        "passed" => self.passed += n,
                        "failed" => self.failed += n,
                        "ignored" => self.ignored += n,
                        _ => {}
                    }
                }
            }
        }
    }

    fn add(&mut self, other: Tally) {
        self.started += other.started;
        self.results += other.results;
        self.passed += other.passed;
        self.failed += other.failed;
        self.ignored += other.ignored;
        self.build_failures += other.build_failures;
    }

    /// Test binaries that started and never printed their result.
    fn unfinished(&self) -> usize {
        self.started.saturating_sub(self.results)
    }

    /// Failed tests, plus one per binary that crashed or did not build; a failed cargo run
    /// is never reported as 0 failed.
    fn failed_total(&self, cargo_ok: bool) -> usize {
        let failed = self.failed + self.unfinished() + self.build_failures;
        if failed == 0 && !cargo_ok {
            1
        } else {
            failed
        }
    }
}

/// `text` without ANSI colour sequences (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Copy the fixture box to target/demo-box, then dry-run, provision and dry-run again,
/// printing each command line exactly as it runs (from the repository root).
fn demo(root: &Path) -> Result<()> {
    println!("xtask demo: building blotctl (cargo build; the first build takes a few minutes)");
    duct::cmd!(cargo(), "build", "--bin", "blotctl").run()?;
    let boxdir = root.join("target/demo-box");
    fresh_fixture_box(root, &boxdir)?;
    let path = fake_path(root);
    println!(
        "\nEach command below is printed exactly as it runs, from {} (the repository root):\n\
         \x20 target/debug/blotctl     the build above\n\
         \x20 --root target/demo-box   a scratch copy of fixtures/boxes/amazon-linux-2018.03: \
         every path blotctl\n\
         \x20                          reads or writes is under it, never this machine's /\n\
         \x20 PATH=$PWD/fixtures/bin:  the fake chkconfig and initctl come first and act on \
         the copy\n\
         \x20 [exit N]                 0 done or nothing to change, 2 changes pending (a dry \
         run that found\n\
         \x20                          work), 1 failure",
        root.display()
    );
    let run = |args: &[&str]| -> Result<i32> {
        let mut full = vec!["--root", "target/demo-box"];
        full.extend(args);
        println!(
            "\n$ PATH=\"$PWD/fixtures/bin:$PATH\" target/debug/blotctl {}",
            full.join(" ")
        );
        let st = duct::cmd("target/debug/blotctl", &full)
            .dir(root)
            .env("PATH", &path)
            .unchecked()
            .run()?
            .status;
        println!("[exit {}]", st.code().unwrap_or(-1));
        Ok(st.code().unwrap_or(-1))
    };
    run(&["provision", "--dry-run"])?;
    if !rustix_is_root() {
        println!("\n(not root: stopping after the dry run; run as root to provision the copy)");
        return Ok(());
    }
    run(&["provision", "--yes"])?;
    run(&["provision", "--dry-run"])?;
    stop_fake_jobs(root, &boxdir)?;
    println!("\nThe provisioned copy is in {}", boxdir.display());
    Ok(())
}

/// A scratch copy of the fixture box at `boxdir` (whatever a previous one started is stopped
/// first), with its modes and owners, no settle time and no wait for health checks: the
/// jobs are fake, there are no daemons to answer them.
fn fresh_fixture_box(root: &Path, boxdir: &Path) -> Result<()> {
    if boxdir.exists() {
        let _ = stop_fake_jobs(root, boxdir);
        std::fs::remove_dir_all(boxdir)?;
    }
    if let Some(parent) = boxdir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    fixture::fresh_box(boxdir)?;
    std::fs::write(
        boxdir.join("etc/blotctl.toml"),
        "start_settle_ms = 0\nstart_wait_healthy = false\n",
    )?;
    Ok(())
}

/// PATH with the fake chkconfig and initctl first.
fn fake_path(root: &Path) -> String {
    format!(
        "{}:{}",
        root.join("fixtures/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `cargo xtask capture OUT [BLOTCTL]`: what a CI job gets from the box, made from the
/// fixture box: a scratch copy (target/ci-box) provisioned with the fakes, then `blotctl
/// capture OUT` (a directory or a .tar/.tar.gz). BLOTCTL defaults to a debug build; .ci/run
/// passes the portable one, which examples/ci/check-plan.sh then runs on OUT. Needs root
/// (provision, and the capture keeps owners).
fn capture(root: &Path, args: &[String]) -> Result<()> {
    let Some(out) = args.first() else {
        bail!("usage: cargo xtask capture OUT [BLOTCTL]");
    };
    if !rustix_is_root() {
        bail!("cargo xtask capture provisions a copy of the fixture box: run it as root");
    }
    let bin = match args.get(1) {
        Some(b) => PathBuf::from(b),
        None => {
            duct::cmd!(cargo(), "build", "--quiet", "--bin", "blotctl").run()?;
            root.join("target/debug/blotctl")
        }
    };
    let boxdir = root.join("target/ci-box");
    fresh_fixture_box(root, &boxdir)?;
    let run = |args: &[&str]| -> Result<()> {
        let out = duct::cmd(&bin, args)
            .env("PATH", fake_path(root))
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()?;
        if !out.status.success() {
            bail!(
                "blotctl {} failed ({}):\n{}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    };
    let dir = boxdir.to_string_lossy().into_owned();
    let result = run(&["--root", &dir, "provision", "--yes"])
        .and_then(|()| run(&["--root", &dir, "capture", out]));
    stop_fake_jobs(root, &boxdir)?;
    result?;
    println!("xtask capture: the provisioned fixture box, captured into {out}");
    Ok(())
}

fn stop_fake_jobs(root: &Path, boxdir: &Path) -> Result<()> {
    let initctl = root.join("fixtures/bin/initctl");
    let _ = duct::cmd!(initctl, "stop", "redis")
        .env("BLOTCTL_ROOT", boxdir)
        .stdout_null()
        .stderr_null()
        .unchecked()
        .run();
    for job in ["blot", "nginx", "monit"] {
        let _ = duct::cmd!(root.join("fixtures/bin/initctl"), "stop", job)
            .env("BLOTCTL_ROOT", boxdir)
            .stdout_null()
            .stderr_null()
            .unchecked()
            .run();
    }
    Ok(())
}

/// `target/man/blotctl.1` and one page per subcommand (`blotctl-provision.1`, ...).
fn man(root: &Path) -> Result<()> {
    let dir = root.join("target/man");
    std::fs::create_dir_all(&dir)?;
    for (name, page) in man_pages()? {
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, page)?;
        println!("{}", path.display());
    }
    Ok(())
}

/// Every man page, by name: blotctl's and one per subcommand (no `help`: `--help` is the
/// option, and there is no blotctl-help page).
fn man_pages() -> Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = blotctl::cli::command().disable_help_subcommand(true);
    // Built, so that each subcommand's page lists the global options too.
    cmd.build();
    let mut pages = Vec::new();
    for sub in cmd.get_subcommands() {
        let name = format!("blotctl-{}", sub.get_name());
        let leaked: &'static str = Box::leak(name.clone().into_boxed_str());
        let page = man_page(sub.clone().name(leaked), false)?;
        pages.push((name, page));
    }
    pages.push(("blotctl".to_string(), man_page(cmd, true)?));
    Ok(pages)
}

/// One page: clap_mangen's sections, then EXAMPLES and EXIT STATUS from the command's
/// `--help` epilogue, and for blotctl(1) itself ENVIRONMENT and FILES; SEE ALSO on the
/// subcommands' pages.
fn man_page(cmd: clap::Command, top: bool) -> Result<Vec<u8>> {
    use clap_mangen::roff::{bold, roman, Roff};
    let epilogue = cmd
        .get_after_help()
        .map(|h| h.to_string())
        .unwrap_or_default();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut out)?;
    }
    let (examples, exit) = match epilogue.split_once("Exit status:\n") {
        Some((examples, exit)) => (examples, exit),
        None => (epilogue.as_str(), ""),
    };
    let mut roff = Roff::default();
    // Preformatted, as in --help: `.nf` ... `.fi`.
    let block = |roff: &mut Roff, heading: &str, text: &str| {
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            return;
        }
        roff.control("SH", [heading]);
        roff.control("nf", []);
        for line in lines {
            roff.text([roman(line.strip_prefix("  ").unwrap_or(line))]);
        }
        roff.control("fi", []);
    };
    block(
        &mut roff,
        "EXAMPLES",
        examples.trim_start().trim_start_matches("Examples:"),
    );
    block(&mut roff, "EXIT STATUS", exit);
    if top {
        let entries = |roff: &mut Roff, heading: &str, items: &[(&str, &str)]| {
            roff.control("SH", [heading]);
            for (name, text) in items {
                roff.control("TP", []);
                roff.text([bold(*name)]);
                roff.text([roman(*text)]);
            }
        };
        entries(&mut roff, "ENVIRONMENT", ENVIRONMENT);
        entries(&mut roff, "FILES", FILES);
    } else {
        roff.control("SH", ["SEE ALSO"]);
        roff.text([bold("blotctl"), roman("(1)")]);
    }
    roff.to_writer(&mut out)?;
    if cmd.get_version().is_some() {
        man.render_version_section(&mut out)?;
    }
    Ok(out)
}

const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "BLOTCTL_CONFIG",
        "A settings file read over /etc/blotctl.toml, as --config FILE (which wins over it).",
    ),
    (
        "BLOTCTL_<KEY>",
        "One setting, e.g. BLOTCTL_BLOT_PORT=9000: over every settings file, under --set. \
         A value that is not TOML is taken as a string.",
    ),
    (
        "BLOTCTL_SSH_OPTS",
        "Options added to every ssh that --host runs, split as a shell would, e.g. \
         \"-i ~/.ssh/blot.pem -o ConnectTimeout=5\"; they win over blotctl's own.",
    ),
    (
        "NO_COLOR",
        "When set and not empty, no colour with --color auto. TERM=dumb also turns off \
         colour and progress.",
    ),
    (
        "PATH",
        "Where visudo, chkconfig, initctl, git and ssh are found. Under --root DIR they get \
         BLOTCTL_ROOT=DIR in their environment.",
    ),
];

const FILES: &[(&str, &str)] = &[
    (
        "/etc/blotctl.toml",
        "Settings (under --root); blotctl init writes a commented one.",
    ),
    (
        "/var/lib/blotctl/backups/<run id>/",
        "What a run changed: manifest.json plus the original contents; blotctl rollback puts \
         them back.",
    ),
    (
        "/var/lock/blotctl.lock",
        "The run lock: one provision, rollback, init, deploy or restart at a time.",
    ),
    (
        "/etc/sudoers",
        "Defaults requiretty is removed (validated with visudo -c -f first); mode 0440.",
    ),
    (
        "/etc/init/{redis,blot,nginx,monit,redis-host-settings}.conf",
        "The upstart jobs blotctl writes.",
    ),
    (
        "/etc/monit.rc",
        "monit's control file (mode 0700), probing nginx and Blot.",
    ),
    (
        "/etc/hosts, /etc/logrotate.d/blot, /etc/sysctl.conf",
        "The site names' line, the app logs' rotation, vm.overcommit_memory.",
    ),
    (
        "<app_dir>/logs/{app,sys,monit}.log",
        "The app's log files, owned by the app user.",
    ),
    (
        "~/.cache/blotctl/blotctl-<sha256>",
        "On a remote host: the uploaded binary (--host).",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_adds_up_results_and_counts_binaries_without_one() {
        let mut t = Tally::default();
        for l in [
            "    Finished `test` profile [unoptimized + debuginfo] target(s) in 31.51s",
            "     Running unittests src/lib.rs (target/debug/deps/blotctl-0039)",
            "\x1b[1m\x1b[32m     Running\x1b[0m tests/it/main.rs (target/debug/deps/it-6361)",
            "     Running unittests src/main.rs (target/debug/deps/xtask-5071)",
            "   Doc-tests blotctl",
            "error: test failed, to rerun pass `-p xtask --bin xtask`",
        ] {
            t.cargo_line(l);
        }
        for l in [
            "test result: ok. 88 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.02s",
            "test result: FAILED. 8 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 2.20s",
            "test tally ... ok",
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
        ] {
            t.result_line(l);
        }
        assert_eq!((t.started, t.results), (4, 3));
        assert_eq!((t.passed, t.failed, t.ignored), (96, 1, 2));
        assert_eq!(t.unfinished(), 1, "xtask's crashed: no result line");
        assert_eq!(t.failed_total(false), 2);
    }

    #[test]
    fn man_pages_have_exit_status_environment_and_files_and_no_help_page() {
        let pages = man_pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"blotctl-provision") && !names.contains(&"blotctl-help"));
        for (name, page) in &pages {
            let text = String::from_utf8_lossy(page);
            assert!(text.contains(".SH \"EXIT STATUS\""), "{name}");
            assert!(text.contains(".SH EXAMPLES"), "{name}");
            assert!(!text.contains("blotctl\\-help"), "{name}");
            assert!(!text.contains("remote\\-root"), "{name}: a hidden flag");
        }
        let top = String::from_utf8_lossy(&pages.last().unwrap().1).into_owned();
        assert!(
            top.contains(".SH ENVIRONMENT") && top.contains(".SH FILES"),
            "{top}"
        );
        assert!(top.contains("64  usage error"), "{top}");
    }

    #[test]
    fn a_failed_cargo_run_is_never_0_failed() {
        let mut t = Tally::default();
        t.cargo_line("error: could not compile `blotctl` (test \"ux\") due to 1 previous error");
        assert_eq!(t.failed_total(false), 1);
        assert_eq!(Tally::default().failed_total(false), 1);
        assert_eq!(Tally::default().failed_total(true), 0);
    }
}
