//! "Start to all healthy": `blotctl provision --yes` on fresh copies of the box whose jobs
//! are stand-ins with a start-up of their own (`xtask/bench/standin.py`, run by the fake
//! upstart's exec hooks): redis answers PING, the app `/health` (Host localhost only) and
//! nginx `/health`, each only `READY_MS` after its process started. monit stays the fake's
//! `sleep`.
//!
//! Measured from strace timestamps of each run: from the `initctl start redis` blotctl
//! spawns to blotctl's exit, which comes after every job answered its health check and
//! the one stability window (`start_settle_ms`) held. The physical limit it is held to is
//! the services' own readiness, one after the other (their sum), plus that window.

use super::{kill_box_processes, prepare_box, strace_until_exit, BenchEnv, Ports};
use anyhow::{bail, Context, Result};
use std::collections::HashSet;
use std::path::Path;

/// Each stand-in's own start-up: (job, stand-in kind, ms before it answers).
const READY: [(&str, &str, u64); 3] = [
    ("redis", "redis", 400),
    ("blot", "app", 600),
    ("nginx", "nginx", 300),
];
/// The stability window the runs hold (`start_settle_ms`).
const WINDOW_MS: u64 = 1000;
/// Runs measured (each on a fresh copy).
const RUNS: usize = 5;
/// The goal: within readiness + window + 10%.
const SLACK: f64 = 1.10;

/// What the row measured.
#[derive(Default)]
pub(super) struct Measured {
    /// Start to all healthy, seconds, per run.
    pub secs: Vec<f64>,
}

impl Measured {
    fn median(&self) -> f64 {
        let mut v = self.secs.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }
}

fn readiness_ms() -> u64 {
    READY.iter().map(|(_, _, ms)| ms).sum()
}

fn bound_secs() -> f64 {
    (readiness_ms() + WINDOW_MS) as f64 / 1000.0 * SLACK
}

/// A port nothing listens on now (the stand-in binds it after its start-up).
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub(super) fn measure(
    root: &Path,
    env: &BenchEnv,
    bin: &Path,
    dir: &Path,
    boxes: &Path,
) -> Result<Measured> {
    let standin = root.join("xtask/bench/standin.py");
    let boxdir = boxes.join("start");
    let mut out = Measured::default();
    for n in 0..RUNS {
        let ports = Ports {
            redis: free_port()?,
            blot: free_port()?,
            nginx: free_port()?,
        };
        prepare_box(&boxdir, ports)?;
        std::fs::write(
            boxdir.join("etc/blotctl.toml"),
            format!(
                "start_settle_ms = {WINDOW_MS}\nblot_port = {}\nnginx_port = {}\n",
                ports.blot, ports.nginx
            ),
        )?;
        let hooks = boxdir.join("var/lib/fake-upstart/exec");
        std::fs::create_dir_all(&hooks)?;
        for (job, kind, ms) in READY {
            let port = match kind {
                "redis" => ports.redis,
                "app" => ports.blot,
                _ => ports.nginx,
            };
            std::fs::write(
                hooks.join(job),
                format!("exec python3 {} {kind} {port} {ms}\n", standin.display()),
            )?;
        }
        let trace = dir.join(format!("strace-start-{}.txt", n + 1));
        let log = dir.join(format!("out-start-{}.txt", n + 1));
        let out_file = std::fs::File::create(&log)?;
        let mut cmd = env.command(Path::new("strace"));
        cmd.args(["-f", "--seccomp-bpf", "-ttt", "-s", "256", "-o"])
            .arg(&trace)
            .args(["-e", "trace=execve,exit_group", "--"])
            .arg(bin)
            .arg("--root")
            .arg(&boxdir)
            .args(["provision", "--yes"])
            .stdout(out_file.try_clone()?)
            .stderr(out_file);
        strace_until_exit(cmd, &boxdir, &trace, "blotctl provision --yes")?;
        kill_box_processes(&boxdir, &HashSet::new());
        let text = std::fs::read_to_string(&trace)?;
        if !exited_0(&text) {
            bail!(
                "start to all healthy, run {}: blotctl provision --yes failed (output in {})",
                n + 1,
                log.display()
            );
        }
        out.secs.push(
            start_to_exit(&text)
                .with_context(|| format!("cannot read the times in {}", trace.display()))?,
        );
    }
    Ok(out)
}

/// Whether the first process (blotctl) exited 0: `PID TIME +++ exited with 0 +++`.
fn exited_0(text: &str) -> bool {
    let Some(main) = text.split_whitespace().next() else {
        return false;
    };
    text.lines()
        .any(|l| l.split_whitespace().next() == Some(main) && l.ends_with("+++ exited with 0 +++"))
}

/// From `strace -f -ttt` lines (`PID SECS.USECS syscall(...)`): the time from the first
/// successful execve of `initctl start redis` to the exit of the first process (blotctl).
fn start_to_exit(text: &str) -> Option<f64> {
    let fields = |l: &str| -> Option<(String, f64)> {
        let mut w = l.split_whitespace();
        Some((w.next()?.to_string(), w.next()?.parse().ok()?))
    };
    let first_pid = fields(text.lines().next()?)?.0;
    let started = text.lines().find_map(|l| {
        // argv[0] is the path blotctl found: `.../initctl", "start", "redis"]`.
        (l.contains("execve(\"")
            && l.contains("/initctl\", \"start\", \"redis\"]")
            && l.ends_with("= 0"))
        .then(|| fields(l))
        .flatten()
    })?;
    let ended = text.lines().find_map(|l| {
        let (pid, t) = fields(l)?;
        (pid == first_pid && l.contains("exit_group(")).then_some(t)
    })?;
    Some(ended - started.1)
}

/// The report's section for this row.
pub(super) fn render_section(s: &mut String, m: &Measured) {
    use std::fmt::Write as _;
    let list: Vec<String> = m
        .secs
        .iter()
        .map(|t| format!("{:.0}", t * 1000.0))
        .collect();
    let ready: Vec<String> = READY
        .iter()
        .map(|(job, _, ms)| format!("{job} {ms} ms"))
        .collect();
    let _ = writeln!(
        s,
        "\n## Start to all healthy\n\n\
         | row | median | runs (ms) | services' readiness (sum) | stability window | limit + 10% |\n\
         |---|---|---|---|---|---|\n\
         | `blotctl provision --yes`, fresh box, stand-ins with a start-up | **{:.0} ms** | {} | {} ms ({}) | {WINDOW_MS} ms | {:.0} ms |",
        m.median() * 1000.0,
        list.join(", "),
        readiness_ms(),
        ready.join(", "),
        bound_secs() * 1000.0,
    );
    let _ = writeln!(
        s,
        "\nFrom blotctl's `initctl start redis` to its exit (strace timestamps, \
         `target/bench/strace-start-N.txt`), {RUNS} runs on fresh copies of the box. Each \
         job's process is a stand-in (`xtask/bench/standin.py`, run by the fake upstart's \
         exec hook) that refuses connections for its start-up, then answers as the service \
         does (redis PING; the app's `/health` only with Host localhost; nginx's `/health`). \
         blotctl waits for each job's health check in start order, each tick one `initctl \
         list` and one probe, then holds one stability window over all four. upstart starts \
         blot, nginx and monit with redis (`start on started`), so their start-ups overlap \
         and the run can beat the sum."
    );
}

/// The row's goal line.
pub(super) fn goal(m: &Measured) -> (String, bool) {
    let median = m.median();
    (
        format!(
            "Start to all healthy within the services' readiness + one stability window + \
             10% ({:.0} ms): median {:.0} ms",
            bound_secs() * 1000.0,
            median * 1000.0
        ),
        median <= bound_secs(),
    )
}
