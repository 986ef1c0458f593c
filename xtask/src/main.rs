//! Developer tasks: `cargo xtask <task>`.
//!
//! - `test`: install the Debian programs the suite uses (when missing), then run every test.
//! - `demo`: run blotctl on a scratch copy of the bundled fixture box, fakes on PATH.
//! - `dist`: the portable release for the box's glibc 2.17 (see dist.rs).
//! - `man`: man pages from the CLI definition (clap_mangen) into target/man/.
//! - `fuzz [SECONDS]`: every cargo-fuzz target for SECONDS (default 20) each (see fuzz.rs).
//! - `bench`: whole-process timings against a shell floor, to target/bench/report.md.

mod bench;
mod dist;
mod fuzz;

use anyhow::{bail, Context, Result};
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
        _ => {
            eprintln!(
                "usage: cargo xtask <test [cargo test args]|demo|dist|man|fuzz [SECONDS]|bench>"
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

/// apt-get update + install of whatever is missing; a no-op when everything is there.
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
    eprintln!("xtask: installing {} (apt-get)", missing.join(" "));
    duct::cmd!("apt-get", "update", "-qq")
        .run()
        .context("apt-get update failed")?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&missing);
    duct::cmd("apt-get", &args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()
        .context("apt-get install failed")?;
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
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    duct::cmd(
        cargo,
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

fn rustix_is_root() -> bool {
    duct::cmd!("id", "-u")
        .read()
        .map(|s| s.trim() == "0")
        .unwrap_or(false)
}

fn test(extra: &[String]) -> Result<()> {
    install_test_programs()?;
    let mut args = vec!["test".to_string(), "--workspace".to_string()];
    args.extend(extra.iter().cloned());
    // Every program the tests use is installed now: tell them a missing one is a failure.
    let status = duct::cmd("cargo", &args)
        .env("XTASK_TEST_PROGRAMS", "installed")
        .unchecked()
        .run()?
        .status;
    if !status.success() {
        std::process::exit(status.code().unwrap_or(1));
    }
    Ok(())
}

/// Copy the fixture box to target/demo-box, then dry-run, provision and dry-run again.
fn demo(root: &Path) -> Result<()> {
    duct::cmd!("cargo", "build", "--quiet", "--bin", "blotctl").run()?;
    let bin = root.join("target/debug/blotctl");
    let boxdir = root.join("target/demo-box");
    if boxdir.exists() {
        // stop whatever a previous demo started, then start afresh
        let _ = stop_fake_jobs(root, &boxdir);
        std::fs::remove_dir_all(&boxdir)?;
    }
    duct::cmd!(
        "cp",
        "-a",
        root.join("fixtures/boxes/amazon-linux-2018.03"),
        &boxdir
    )
    .run()?;
    apply_modes(root, &boxdir)?;
    let path = format!(
        "{}:{}",
        root.join("fixtures/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let config = boxdir.join("etc/blotctl.toml");
    // The demo cannot wait for real daemons: jobs are fake, so no settle time.
    std::fs::write(&config, "start_settle_ms = 0\n")?;
    let run = |args: &[&str]| -> Result<i32> {
        println!("\n$ blotctl {}", args.join(" "));
        let mut full = vec!["--root", boxdir.to_str().unwrap()];
        full.extend(args);
        let st = duct::cmd(&bin, &full)
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

/// Git keeps no modes or owners: apply fixtures/boxes/<box>.modes (`MODE PATH` lines), and
/// as root <box>.owners (`UID:GID PATH` lines).
fn apply_modes(root: &Path, boxdir: &Path) -> Result<()> {
    let modes = std::fs::read_to_string(root.join("fixtures/boxes/amazon-linux-2018.03.modes"))?;
    for line in modes
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let mut it = line.split_whitespace();
        let (Some(mode), Some(path)) = (it.next(), it.next()) else {
            bail!("bad line in modes file: {line}");
        };
        let mode = u32::from_str_radix(mode, 8)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(boxdir.join(path), std::fs::Permissions::from_mode(mode))?;
    }
    if !rustix_is_root() {
        return Ok(());
    }
    let owners = std::fs::read_to_string(root.join("fixtures/boxes/amazon-linux-2018.03.owners"))?;
    for line in owners
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let parsed = line
            .split_once(' ')
            .and_then(|(ids, path)| ids.split_once(':').map(|(u, g)| (u, g, path)));
        let Some((uid, gid, path)) = parsed else {
            bail!("bad line in owners file: {line}");
        };
        std::os::unix::fs::lchown(boxdir.join(path), Some(uid.parse()?), Some(gid.parse()?))?;
    }
    Ok(())
}

/// `target/man/blotctl.1` and one page per subcommand (`blotctl-provision.1`, ...).
fn man(root: &Path) -> Result<()> {
    use clap::CommandFactory;
    let dir = root.join("target/man");
    std::fs::create_dir_all(&dir)?;
    let cmd = blotctl::cli::Cli::command();
    let write = |name: &str, cmd: clap::Command| -> Result<()> {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut buf)?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, buf)?;
        println!("{}", path.display());
        Ok(())
    };
    for sub in cmd.get_subcommands() {
        let name = format!("blotctl-{}", sub.get_name());
        let leaked: &'static str = Box::leak(name.clone().into_boxed_str());
        write(&name, sub.clone().name(leaked))?;
    }
    write("blotctl", cmd)
}
