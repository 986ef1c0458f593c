//! `cargo xtask fuzz [SECONDS]`: run every cargo-fuzz target in `fuzz/` for SECONDS each
//! (default 20), one after the other, and fail if any of them crashes.
//!
//! The targets (`fuzz/fuzz_targets/*.rs`) cover every parser blotctl has: sudoers, hosts,
//! chkconfig's init script header and rc link reading, `initctl list/status` and its errors,
//! the upstart job-file lint, the config file and environment, the redis config and the
//! nginx upstream check. Each asserts properties (round trips, idempotence), not only "no panic".
//!
//! - cargo-fuzz (pinned) is installed on first use with `cargo install --locked --root
//!   <cache>/cargo`, the xtask cache `dist` uses (`$BLOTCTL_XTASK_CACHE`, else
//!   `$XDG_CACHE_HOME/blotctl-xtask`, else `~/.cache/blotctl-xtask`).
//! - cargo-fuzz passes unstable compiler flags, so it runs as `cargo +nightly fuzz`.
//! - Targets are built once with `--sanitizer none`: the parsers are safe Rust, so the
//!   address sanitizer would only slow them down; overflow checks and debug assertions
//!   are on (cargo-fuzz's default).
//! - Each run reads `fuzz/seeds/<target>/` (committed: real files from the fixture box and
//!   the transcripts) and grows `fuzz/corpus/<target>/` (ignored by git, kept between runs).
//!   A crash leaves its input in `fuzz/artifacts/<target>/` (ignored by git); the task
//!   prints the command that reproduces it. libFuzzer stops at a target's first crash, so
//!   "crashes" is 0 or 1 per target and run.
//! - libFuzzer's own output goes to `target/fuzz-logs/<target>.log`.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

const CARGO_FUZZ_VERSION: &str = "0.13.2";
const DEFAULT_SECONDS: u64 = 20;
/// An input that takes longer than this is a hang (libFuzzer's `-timeout`).
const INPUT_TIMEOUT_SECS: u64 = 10;

/// What one target's run showed.
struct Outcome {
    target: String,
    runs: Option<u64>,
    corpus: usize,
    /// The file libFuzzer saved the failing input in, when the target crashed (or hung).
    artifact: Option<String>,
    failed: bool,
    log: PathBuf,
}

pub fn fuzz(root: &Path, args: &[String]) -> Result<()> {
    let seconds = match args {
        [] => DEFAULT_SECONDS,
        [s] if s.parse::<u64>().is_ok_and(|n| n > 0) => s.parse()?,
        _ => {
            eprintln!(
                "usage: cargo xtask fuzz [SECONDS]   (per target; default {DEFAULT_SECONDS})"
            );
            std::process::exit(64);
        }
    };
    let started = Instant::now();
    let cache = crate::dist::cache_dir()?;
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("cannot create the xtask cache {}", cache.display()))?;
    let cargo_fuzz = super::cargo_install_pinned(&cache, "cargo-fuzz", CARGO_FUZZ_VERSION, "fuzz")?;
    let bin_dir = cargo_fuzz
        .parent()
        .expect("an installed binary has a directory")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cargo_fuzz = |args: &[&str]| {
        duct::cmd(
            "cargo",
            std::iter::once("+nightly").chain(args.iter().copied()),
        )
        .dir(root.join("fuzz"))
        .env("PATH", &path)
        // `cargo xtask` runs under the stable toolchain; `+nightly` must win.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
    };
    if cargo_fuzz(&["--version"])
        .stdout_null()
        .stderr_null()
        .unchecked()
        .run()
        .map_or(true, |o| !o.status.success())
    {
        bail!("fuzzing needs the nightly toolchain: rustup toolchain install nightly");
    }

    let targets = targets(root)?;
    eprintln!(
        "xtask fuzz: building {} targets (cargo +nightly fuzz build)",
        targets.len()
    );
    let build_started = Instant::now();
    cargo_fuzz(&["fuzz", "build", "--sanitizer", "none"])
        .run()
        .context("cargo fuzz build failed")?;
    let build_secs = build_started.elapsed().as_secs_f64();

    let logs = root.join("target/fuzz-logs");
    std::fs::create_dir_all(&logs)?;
    let mut outcomes = Vec::new();
    for target in &targets {
        eprintln!("xtask fuzz: {target} for {seconds} s");
        let corpus = root.join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        let seeds = root.join("fuzz/seeds").join(target);
        let log = logs.join(format!("{target}.log"));
        let mut args: Vec<String> = vec![
            "fuzz".into(),
            "run".into(),
            "--sanitizer".into(),
            "none".into(),
            target.clone(),
            corpus.display().to_string(),
        ];
        if seeds.is_dir() {
            args.push(seeds.display().to_string());
        }
        args.extend([
            "--".into(),
            format!("-max_total_time={seconds}"),
            format!("-timeout={INPUT_TIMEOUT_SECS}"),
            "-print_final_stats=1".into(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let status = cargo_fuzz(&args)
            .stderr_to_stdout()
            .stdout_path(&log)
            .unchecked()
            .run()
            .with_context(|| format!("cannot run cargo fuzz for {target}"))?
            .status;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let outcome = Outcome {
            target: target.clone(),
            runs: runs(&text),
            corpus: std::fs::read_dir(&corpus).map_or(0, |d| d.count()),
            artifact: artifact(&text),
            failed: !status.success(),
            log,
        };
        eprintln!("xtask fuzz: {}", summary(&outcome));
        outcomes.push(outcome);
    }

    println!(
        "\n{:<16} {:>12} {:>8} {:>8}",
        "target", "runs", "crashes", "corpus"
    );
    for o in &outcomes {
        let runs = o.runs.map_or("?".to_string(), |n| n.to_string());
        println!(
            "{:<16} {runs:>12} {:>8} {:>8}",
            o.target,
            usize::from(o.failed),
            o.corpus
        );
    }
    println!(
        "xtask fuzz: {} targets x {seconds} s in {:.0} s (build {build_secs:.0} s)",
        outcomes.len(),
        started.elapsed().as_secs_f64()
    );
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.failed).collect();
    if failed.is_empty() {
        return Ok(());
    }
    for o in &failed {
        eprintln!("\n--- {} (log {}):", o.target, o.log.display());
        let text = std::fs::read_to_string(&o.log).unwrap_or_default();
        // The panic message and the libFuzzer report around it.
        let lines: Vec<&str> = text.lines().collect();
        let from = lines
            .iter()
            .position(|l| l.contains("panicked at") || l.starts_with("==") && l.contains("ERROR"))
            .unwrap_or(lines.len().saturating_sub(30));
        for l in lines[from..].iter().take(40) {
            eprintln!("{l}");
        }
        match &o.artifact {
            Some(a) => eprintln!(
                "reproduce: cd fuzz && PATH={}:$PATH cargo +nightly fuzz run --sanitizer none \
                 {} {a}",
                bin_dir.display(),
                o.target
            ),
            None => eprintln!("(no artifact was written; see the log)"),
        }
    }
    let names: Vec<&str> = failed.iter().map(|o| o.target.as_str()).collect();
    bail!("fuzz targets failed: {}", names.join(", "))
}

/// The target names: `fuzz/fuzz_targets/*.rs`, sorted.
fn targets(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("fuzz/fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(String::from)
        })
        .collect();
    names.sort();
    if names.is_empty() {
        bail!("no fuzz targets in {}", dir.display());
    }
    Ok(names)
}

/// Executions, from libFuzzer's `-print_final_stats` (or its `Done N runs` line).
fn runs(log: &str) -> Option<u64> {
    log.lines()
        .rev()
        .find_map(|l| {
            l.strip_prefix("stat::number_of_executed_units:")
                .map(str::trim)
                .or_else(|| {
                    l.strip_prefix("Done ")
                        .and_then(|r| r.split_once(" runs"))
                        .map(|(n, _)| n)
                })
        })
        .and_then(|n| n.parse().ok())
}

/// The input libFuzzer saved on a crash, leak or hang: `... Test unit written to PATH`.
fn artifact(log: &str) -> Option<String> {
    log.lines().rev().find_map(|l| {
        l.split_once("Test unit written to ")
            .map(|(_, p)| p.trim().to_string())
    })
}

fn summary(o: &Outcome) -> String {
    let runs = o.runs.map_or("?".to_string(), |n| n.to_string());
    match (&o.artifact, o.failed) {
        (_, false) => format!("{}: {runs} runs, no crash, corpus {}", o.target, o.corpus),
        (Some(a), true) => format!("{}: CRASH after {runs} runs: {a}", o.target),
        (None, true) => format!(
            "{}: failed after {runs} runs (see {})",
            o.target,
            o.log.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_runs_and_artifact_from_libfuzzer_output() {
        let ok = "#65536\tpulse  cov: 10 ft: 12 corp: 3/9b exec/s: 3000 rss: 40Mb\n\
                  Done 123456 runs in 21 second(s)\n\
                  stat::number_of_executed_units: 123457\n\
                  stat::average_exec_per_sec:     5878\n";
        assert_eq!(runs(ok), Some(123457));
        assert_eq!(runs("Done 99 runs in 1 second(s)\n"), Some(99));
        assert_eq!(artifact(ok), None);
        let crash = "thread '<unnamed>' panicked at fuzz_targets/hosts.rs:40:9:\n\
                     ==1234== ERROR: libFuzzer: deadly signal\n\
                     artifact_prefix='/w/fuzz/artifacts/hosts/'; Test unit written to \
                     /w/fuzz/artifacts/hosts/crash-da39a3ee\n\
                     stat::number_of_executed_units: 77\n";
        assert_eq!(
            artifact(crash).as_deref(),
            Some("/w/fuzz/artifacts/hosts/crash-da39a3ee")
        );
        assert_eq!(runs(crash), Some(77));
        assert_eq!(runs("no stats\n"), None);
    }
}
