//! `cargo xtask dist`: the portable release binary for the box (glibc 2.17).
//!
//! Builds `blotctl` with `cargo-zigbuild` for `x86_64-unknown-linux-gnu.2.17` (zig links
//! against glibc 2.17 stubs), checks the result, then writes `target/dist/blotctl` and
//! `target/dist/blotctl.sha256` (`sha256sum -c` format).
//!
//! The checks, any of which fails the task:
//! - ELF64 x86-64, dynamically linked, every NEEDED library one of glibc's, no RPATH;
//! - every versioned symbol (`objdump -T`) at most GLIBC_2.17, and no GLIBC_PRIVATE;
//! - `blotctl --version` names the zig target;
//! - `provision --dry-run` on a scratch copy of the fixture box exits 2 (changes pending).
//!
//! Tools are installed on first use into a cache this task owns, outside the repository so
//! it outlives a fresh clone (CI clones afresh on the same machine):
//! `$BLOTCTL_XTASK_CACHE`, else `$XDG_CACHE_HOME/blotctl-xtask`, else
//! `~/.cache/blotctl-xtask`, holding
//! - `cargo/bin/cargo-zigbuild` (`cargo install --locked --root`, pinned version);
//! - `venv/` with the PyPI package `ziglang` (pinned; Debian's Python refuses a global
//!   `pip install`);
//! - `zig/` and `zigbuild/`: zig's and cargo-zigbuild's own caches;
//! - `target-zig-<zig version>/`: the cargo target dir of this build, so a fresh clone reuses
//!   the compiled dependencies. It is keyed by the zig version because cargo does not notice
//!   a change of C compiler; a stale one for another version is removed.

use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The cargo-zigbuild target: the triple plus the glibc floor.
const ZIG_TARGET: &str = "x86_64-unknown-linux-gnu.2.17";
/// The directory cargo puts the output in (cargo-zigbuild drops the glibc suffix).
const CARGO_TARGET: &str = "x86_64-unknown-linux-gnu";
/// The newest glibc symbol version the box has.
const GLIBC_MAX: &[u32] = &[2, 17];
const ZIGBUILD_VERSION: &str = "0.24.1";
/// Changing it rebuilds everything (a new target dir).
const ZIGLANG_VERSION: &str = "0.15.2";
/// Libraries of glibc 2.17 a dynamically linked binary may need.
const GLIBC_LIBS: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libutil.so.1",
    "ld-linux-x86-64.so.2",
];
/// The box the smoke check dry-runs on.
const FIXTURE_BOX: &str = "fixtures/boxes/amazon-linux-2018.03";

pub fn dist(root: &Path, args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        eprintln!("usage: cargo xtask dist   (takes no arguments; got {arg:?})");
        std::process::exit(64);
    }
    let started = Instant::now();
    let cache = cache_dir()?;
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("cannot create the xtask cache {}", cache.display()))?;
    let zigbuild = super::cargo_install_pinned(&cache, "cargo-zigbuild", ZIGBUILD_VERSION, "dist")?;
    let python = install_ziglang(&cache)?;

    let target_dir = cache.join(format!("target-zig-{ZIGLANG_VERSION}"));
    remove_stale_target_dirs(&cache, &target_dir);
    eprintln!(
        "xtask dist: cargo zigbuild --release --target {ZIG_TARGET} (target dir {})",
        target_dir.display()
    );
    let build_started = Instant::now();
    // The target dir is shared by every clone on this machine, and cargo judges blotctl's
    // own unit fresh by the mtimes of *this* clone's sources against the last build of any
    // clone: a clone whose sources are older would get another clone's binary. blotctl's
    // own unit is always rebuilt (the dependencies stay cached).
    duct::cmd(
        super::cargo(),
        [
            "clean".as_ref(),
            "--release".as_ref(),
            "--package".as_ref(),
            "blotctl".as_ref(),
            "--target".as_ref(),
            CARGO_TARGET.as_ref(),
            "--target-dir".as_ref(),
            target_dir.as_os_str(),
        ],
    )
    .dir(root)
    .stderr_null()
    .run()
    .context("cargo clean --package blotctl in the dist target dir failed")?;
    duct::cmd(
        &zigbuild,
        [
            "zigbuild".as_ref(),
            "--release".as_ref(),
            "--locked".as_ref(),
            "--package".as_ref(),
            "blotctl".as_ref(),
            "--bin".as_ref(),
            "blotctl".as_ref(),
            "--target".as_ref(),
            ZIG_TARGET.as_ref(),
            "--target-dir".as_ref(),
            target_dir.as_os_str(),
        ],
    )
    .dir(root)
    .env("CARGO_ZIGBUILD_PYTHON_PATH", &python)
    .env("CARGO_ZIGBUILD_CACHE_DIR", cache.join("zigbuild"))
    .env("ZIG_GLOBAL_CACHE_DIR", cache.join("zig"))
    .env("BLOTCTL_BUILD_TARGET", ZIG_TARGET)
    .run()
    .context("cargo zigbuild failed")?;
    let build_secs = build_started.elapsed().as_secs_f64();
    let built = target_dir.join(CARGO_TARGET).join("release/blotctl");

    // Nothing lands in target/dist unless every check passes.
    let dist_dir = root.join("target/dist");
    let dist_bin = dist_dir.join("blotctl");
    let dist_sum = dist_dir.join("blotctl.sha256");
    for stale in [&dist_bin, &dist_sum] {
        if stale.exists() {
            std::fs::remove_file(stale)
                .with_context(|| format!("cannot remove {}", stale.display()))?;
        }
    }
    let max_glibc = check_elf(&built)?;
    let version = check_version(&built)?;
    let dry_run_ms = smoke_dry_run(root, &built)?;

    std::fs::create_dir_all(&dist_dir)?;
    std::fs::copy(&built, &dist_bin)
        .with_context(|| format!("cannot copy {} to {}", built.display(), dist_bin.display()))?;
    let sum = duct::cmd!("sha256sum", "blotctl")
        .dir(&dist_dir)
        .read()
        .context("sha256sum failed (coreutils)")?;
    std::fs::write(&dist_sum, format!("{}\n", sum.trim()))?;

    let size = std::fs::metadata(&dist_bin)?.len();
    println!("{version}");
    println!(
        "target/dist/blotctl: {size} bytes ({:.2} MB), newest symbol version {max_glibc}, \
         provision --dry-run on the fixture box: exit 2 in {dry_run_ms} ms",
        size as f64 / 1e6
    );
    println!("target/dist/blotctl.sha256: {}", sum.trim());
    println!(
        "xtask dist: done in {:.0} s (zigbuild {build_secs:.0} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub(crate) fn cache_dir() -> Result<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = set("BLOTCTL_XTASK_CACHE") {
        return Ok(dir.into());
    }
    if let Some(dir) = set("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("blotctl-xtask"));
    }
    let home = set("HOME").context("neither HOME nor BLOTCTL_XTASK_CACHE is set")?;
    Ok(PathBuf::from(home).join(".cache/blotctl-xtask"))
}

/// A venv at `<cache>/venv` with `ziglang==<pinned>`; returns its python.
fn install_ziglang(cache: &Path) -> Result<PathBuf> {
    super::pip_install_pinned(
        cache,
        "venv",
        &format!("ziglang=={ZIGLANG_VERSION}\n"),
        |python| {
            let got = duct::cmd!(python, "-m", "ziglang", "version")
                .stderr_null()
                .read()
                .unwrap_or_default();
            ensure!(
                got.trim() == ZIGLANG_VERSION,
                "zig from the venv reports {:?}, expected {ZIGLANG_VERSION}",
                got.trim()
            );
            Ok(())
        },
        "dist",
    )
}

/// Target dirs built with another zig version are dead weight (hundreds of MB each).
fn remove_stale_target_dirs(cache: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let stale = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with("target-zig-"))
            && path != keep;
        if stale {
            eprintln!("xtask dist: removing {} (another zig)", path.display());
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

fn objdump(args: &[&str], bin: &Path) -> Result<String> {
    if which::which("objdump").is_err() {
        bail!("objdump is needed to check the binary; install binutils (apt-get install binutils)");
    }
    let mut full: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    full.push(bin.as_os_str());
    duct::cmd("objdump", full)
        .read()
        .with_context(|| format!("objdump {} {} failed", args.join(" "), bin.display()))
}

/// `GLIBC_2.2.5` → [2, 2, 5]; None for a version that is not numbered (GLIBC_PRIVATE).
fn glibc_version(tag: &str) -> Option<Vec<u32>> {
    tag.strip_prefix("GLIBC_")?
        .split('.')
        .map(|p| p.parse().ok())
        .collect()
}

/// Checks the ELF file; returns the newest GLIBC_ version it needs.
fn check_elf(bin: &Path) -> Result<String> {
    let header = objdump(&["-f"], bin)?;
    ensure!(
        header.contains("file format elf64-x86-64") && header.contains("architecture: i386:x86-64"),
        "{} is not an x86-64 ELF64 file:\n{header}",
        bin.display()
    );

    let private = objdump(&["-p"], bin)?;
    ensure!(
        private
            .lines()
            .any(|l| l.trim_start().starts_with("INTERP")),
        "{} is not dynamically linked (no INTERP header)",
        bin.display()
    );
    // Every problem at once: a host-built binary fails on libraries and symbols alike.
    let mut problems = Vec::new();
    let mut needed = Vec::new();
    for line in private.lines() {
        let mut it = line.split_whitespace();
        match (it.next(), it.next()) {
            (Some("NEEDED"), Some(lib)) => needed.push(lib.to_string()),
            (Some(tag @ ("RPATH" | "RUNPATH")), Some(path)) => problems.push(format!(
                "it has {tag} {path}; the box must use its own glibc"
            )),
            _ => {}
        }
    }
    let foreign: Vec<&String> = needed
        .iter()
        .filter(|l| !GLIBC_LIBS.contains(&l.as_str()))
        .collect();
    if !foreign.is_empty() {
        problems.push(format!(
            "it needs libraries that are not glibc's: {foreign:?} (all: {needed:?})"
        ));
    }
    let (newest, offending) = glibc_symbols(&objdump(&["-T"], bin)?);
    if !offending.is_empty() {
        problems.push(format!(
            "it needs glibc symbols newer than GLIBC_{} (the box has glibc 2.17):\n    {}",
            join_version(GLIBC_MAX),
            offending.join("\n    ")
        ));
    }
    if !problems.is_empty() {
        bail!(
            "{} would not start on the box:\n  - {}",
            bin.display(),
            problems.join("\n  - ")
        );
    }
    ensure!(
        !newest.is_empty(),
        "objdump -T found no GLIBC_ symbol versions in {}; cannot vouch for it",
        bin.display()
    );
    Ok(format!("GLIBC_{}", join_version(&newest)))
}

/// From `objdump -T` output: the newest acceptable GLIBC_ version, and the symbols that need
/// a newer (or unnumbered, GLIBC_PRIVATE) one, as `name (GLIBC_x.y)`, sorted.
/// Lines look like `0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.3) name`;
/// the version may also stand without parentheses.
fn glibc_symbols(objdump_t: &str) -> (Vec<u32>, Vec<String>) {
    let mut newest: Vec<u32> = Vec::new();
    let mut offending = Vec::new();
    for line in objdump_t.lines() {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Some(name) = tokens.last() else { continue };
        for tag in tokens
            .iter()
            .map(|t| t.trim_matches(|c| c == '(' || c == ')'))
            .filter(|t| t.starts_with("GLIBC_"))
        {
            match glibc_version(tag) {
                Some(v) if v.as_slice() <= GLIBC_MAX => newest = newest.max(v),
                _ => offending.push(format!("{name} ({tag})")),
            }
        }
    }
    offending.sort();
    offending.dedup();
    (newest, offending)
}

fn join_version(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

fn check_version(bin: &Path) -> Result<String> {
    let out = duct::cmd!(bin, "--version")
        .read()
        .with_context(|| format!("{} --version failed", bin.display()))?;
    ensure!(
        out.contains(ZIG_TARGET) && out.contains("commit "),
        "`blotctl --version` should name the commit and {ZIG_TARGET}, printed {out:?}"
    );
    Ok(out.trim().to_string())
}

/// `provision --dry-run` on a scratch copy of the fixture box, fakes first on PATH as in
/// `cargo xtask demo`: a fresh box has changes pending, so exit 2. Returns the run time.
fn smoke_dry_run(root: &Path, bin: &Path) -> Result<u128> {
    let scratch = tempfile::tempdir()?;
    let boxdir = scratch.path().join("box");
    fixture::fresh_box(&boxdir)?;
    let path = format!(
        "{}:{}",
        root.join("fixtures/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let started = Instant::now();
    let out = duct::cmd!(bin, "provision", "--dry-run", "--root", &boxdir)
        .env("PATH", path)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()?;
    let ms = started.elapsed().as_millis();
    if out.status.code() != Some(2) {
        bail!(
            "smoke check: `blotctl provision --dry-run` on a copy of {FIXTURE_BOX} exited {:?}, \
             expected 2 (changes pending)\n--- stdout\n{}--- stderr\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_symbols_finds_the_newest_and_the_offenders() {
        let text = "\
blotctl:     file format elf64-x86-64

DYNAMIC SYMBOL TABLE:
0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.2.5) write
0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.17) clock_gettime
0000000000000000      DF *UND*\t0000000000000000  GLIBC_2.3.2 pthread_cond_wait
0000000000000000  w   D  *UND*\t0000000000000000  Base        __gmon_start__
0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.34) __libc_start_main
0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.34) __libc_start_main
0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.18) __cxa_thread_atexit_impl
0000000000000000      DF *UND*\t0000000000000000 (GLIBC_PRIVATE) _dl_x
";
        let (newest, offending) = glibc_symbols(text);
        assert_eq!(newest, vec![2, 17]);
        assert_eq!(
            offending,
            [
                "__cxa_thread_atexit_impl (GLIBC_2.18)",
                "__libc_start_main (GLIBC_2.34)",
                "_dl_x (GLIBC_PRIVATE)",
            ]
        );
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(glibc_version("GLIBC_2.2.5").unwrap().as_slice() < GLIBC_MAX);
        assert!(glibc_version("GLIBC_2.17").unwrap().as_slice() <= GLIBC_MAX);
        assert!(glibc_version("GLIBC_2.18").unwrap().as_slice() > GLIBC_MAX);
        assert_eq!(glibc_version("GLIBC_PRIVATE"), None);
    }
}
