//! pyinfra beside blotctl, in the same `cargo xtask bench` run, on copies of the same fixture
//! box with the same fakes.
//!
//! `xtask/bench/pyinfra/deploy.py` is blotctl's desired state written as a pyinfra deploy:
//! the bytes `blotctl render --json` prints for the box (four upstart jobs,
//! redis-host-settings, monit.rc, the logrotate file), `Defaults requiretty` commented out,
//! the root-owned copies of Blot's configs in /etc/blot, the log files and directories, the
//! sysctl line, `chkconfig NAME off` for the three SysV services, `initctl
//! reload-configuration` when a job file changed, the four jobs started (the hosts file
//! needs nothing with the default settings).
//! pyinfra (pinned in `xtask/bench/pyinfra/requirements.txt`) lives in a venv under
//! `target/bench/venv-pyinfra`, made on first use. It runs with its `@local` connector
//! inside a private mount namespace (`box-users.sh`: the box's users, `BLOTCTL_ROOT` for
//! the deploy and the fakes).
//!
//! Two rows, each timed by one hyperfine run beside blotctl doing the same on the same box:
//!
//! 1. the dry run on a fresh box: `pyinfra --dry --diff` against `blotctl provision --dry-run`;
//! 2. the converged re-run: `pyinfra -y` on a box pyinfra provisioned, against
//!    `blotctl provision --yes` on that same box.
//!
//! Nothing is taken on trust: pyinfra's dry run must plan a change for every operation on
//! the fresh box; its first apply must leave a box on which `blotctl provision --dry-run`
//! finds nothing to do and whose tree is blotctl's own provisioned box, file for file
//! (contents, modes, owners, links; jobs running); its re-run must report every operation
//! unchanged; every timed run must exit as expected, and the timed boxes must be unchanged
//! afterwards (contents, modes, owners, inodes, mtimes and ctimes).

use super::{
    hyperfine, kill_box_processes, prepare_box, traced, tree_peak_rss, BenchEnv, Ports, Timing,
    Trace,
};
use anyhow::{bail, ensure, Context, Result};
use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// What the bench needs to run pyinfra.
pub(super) struct Pyinfra {
    /// `pyinfra` in the venv
    bin: PathBuf,
    /// as pinned in requirements.txt
    pub version: String,
    /// xtask/bench/pyinfra: deploy.py, box-users.sh
    src: PathBuf,
}

/// The venv with the pinned pyinfra, made on first use: `target/bench/venv-pyinfra`, so it
/// goes with the checkout (a `cargo clean` removes it).
pub(super) fn install(root: &Path) -> Result<Pyinfra> {
    let src = root.join("xtask/bench/pyinfra");
    let requirements = std::fs::read_to_string(src.join("requirements.txt"))?;
    let version = requirements
        .lines()
        .find_map(|l| l.trim().strip_prefix("pyinfra=="))
        .context("xtask/bench/pyinfra/requirements.txt pins no pyinfra==VERSION")?
        .to_string();
    let cache = root.join("target/bench");
    std::fs::create_dir_all(&cache)?;
    let python = crate::pip_install_pinned(
        &cache,
        "venv-pyinfra",
        &requirements,
        |python| {
            let bin = python.with_file_name("pyinfra");
            let got = duct::cmd!(&bin, "--version")
                .stderr_null()
                .read()
                .unwrap_or_default();
            ensure!(
                got.trim() == format!("pyinfra: v{version}"),
                "{} --version says {:?}, expected v{version}",
                bin.display(),
                got.trim()
            );
            Ok(())
        },
        "bench",
    )?;
    Ok(Pyinfra {
        bin: python.with_file_name("pyinfra"),
        version,
        src,
    })
}

/// One row: blotctl and pyinfra doing the same thing to the same box, in one hyperfine run.
#[derive(Default)]
pub(super) struct Compared {
    pub title: &'static str,
    pub blotctl_args: &'static str,
    /// pyinfra's options
    pub pyinfra_args: &'static str,
    pub blotctl: Timing,
    pub pyinfra: Timing,
    /// pyinfra's run under strace: the commands it ran (each a `sh -c`) and every program
    /// in its tree
    pub trace: Trace,
    /// `/usr/bin/time -v` of pyinfra: the largest process in its tree (pyinfra itself)
    pub tree_rss_kb: Option<u64>,
    /// what pyinfra reported, checked: "22 of 22 operations would change"
    pub reported: String,
}

/// Everything the rows run with.
pub(super) struct Ctx<'a> {
    pub bin: &'a Path,
    pub env: &'a BenchEnv,
    /// target/bench
    pub dir: &'a Path,
    /// target/bench/boxes
    pub boxes: &'a Path,
    /// blotctl's provisioned box
    pub converged: &'a Path,
    pub ports: Ports,
    pub runs: u32,
    pub warmup: u32,
}

impl Pyinfra {
    /// The command line of one pyinfra run on `boxdir`: in a mount namespace of its own,
    /// through box-users.sh.
    fn argv(&self, boxdir: &Path, options: &str, render: &Path) -> Vec<String> {
        let mut v: Vec<String> = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
        ]
        .map(String::from)
        .to_vec();
        v.push(self.src.join("box-users.sh").display().to_string());
        v.push(boxdir.display().to_string());
        v.push(self.bin.display().to_string());
        v.extend(options.split(' ').map(String::from));
        v.push("@local".into());
        v.push(self.src.join("deploy.py").display().to_string());
        v.push("--data".into());
        v.push(format!("render={}", render.display()));
        v
    }

    /// A checking run, as timed but with `--json`: pyinfra's document, or an error with its
    /// output.
    fn run_json(
        &self,
        cx: &Ctx,
        boxdir: &Path,
        options: &str,
        render: &Path,
    ) -> Result<serde_json::Value> {
        let options = format!("{options} --json");
        let argv = self.argv(boxdir, &options, render);
        let out = cx
            .env
            .command(Path::new(&argv[0]))
            .args(&argv[1..])
            .current_dir(cx.dir.join("pyinfra"))
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            bail!(
                "pyinfra {options} on {} exited {:?}:\n{}{}",
                boxdir.display(),
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("pyinfra {options} printed no JSON document"))
    }
}

/// The two rows (see the module's documentation).
pub(super) fn measure(py: &Pyinfra, cx: &Ctx) -> Result<Vec<Compared>> {
    let work = cx.dir.join("pyinfra");
    std::fs::create_dir_all(&work)?;
    // The rendered files, as blotctl renders them for these boxes (same settings, same ports).
    let render = work.join("render.json");
    let out = blotctl(cx, cx.converged, "render --json").output()?;
    ensure!(
        out.status.success(),
        "blotctl render --json exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&render, &out.stdout)?;
    let mut rows = Vec::new();

    // 1. The dry run on a fresh box: every operation has something to do, nothing is written.
    println!(
        "\nxtask bench: pyinfra {}: the dry run, fresh box",
        py.version
    );
    let fresh = cx.boxes.join("pyinfra-fresh");
    prepare_box(&fresh, cx.ports)?;
    let dry = ("provision --dry-run", "--dry --diff");
    let plan = py.run_json(cx, &fresh, dry.1, &render)?;
    let (ops, changing) = dry_run_changes(&plan)?;
    ensure!(
        ops > 0 && changing == ops,
        "pyinfra's dry run on a fresh box plans a change for {changing} of its {ops} \
         operations: every one has something to do there (does the deploy look at this \
         machine's own files?)"
    );
    rows.push(time_row(
        py,
        cx,
        &render,
        Compared {
            title: "dry run, fresh box",
            blotctl_args: dry.0,
            pyinfra_args: dry.1,
            reported: format!("{changing} of {ops} operations would change"),
            ..Compared::default()
        },
        &fresh,
        2,
        rows.len() + 1,
    )?);

    // 2. The converged re-run on a box pyinfra provisioned.
    println!(
        "\nxtask bench: pyinfra {}: the converged re-run",
        py.version
    );
    let boxdir = cx.boxes.join("pyinfra");
    prepare_box(&boxdir, cx.ports)?;
    let noop = ("provision --yes", "-y");
    let applied = py.run_json(cx, &boxdir, noop.1, &render)?;
    let (ops, ok, unchanged) = apply_results(&applied)?;
    ensure!(
        ok == ops && unchanged < ops,
        "pyinfra's first run on a fresh box: {ok} of {ops} operations succeeded, \
         {unchanged} unchanged"
    );
    converged_like_blotctl(cx, &boxdir)?;
    let rerun = py.run_json(cx, &boxdir, noop.1, &render)?;
    let (ops, ok, unchanged) = apply_results(&rerun)?;
    ensure!(
        ok == ops && unchanged == ops,
        "pyinfra's re-run on the box it provisioned changed something: {} of {ops} \
         operations not unchanged",
        ops - unchanged
    );
    // blotctl's first no-op here creates its run lock file; the timed runs start after it.
    let first = blotctl(cx, &boxdir, noop.0).output()?;
    let text = String::from_utf8_lossy(&first.stdout);
    ensure!(
        first.status.success() && text.contains(": 0 changes"),
        "blotctl {} on pyinfra's box exited {:?}, expected 0 changes:\n{text}{}",
        noop.0,
        first.status.code(),
        String::from_utf8_lossy(&first.stderr)
    );
    rows.push(time_row(
        py,
        cx,
        &render,
        Compared {
            title: "converged re-run (no-op)",
            blotctl_args: noop.0,
            pyinfra_args: noop.1,
            reported: format!("{ops} operations, all unchanged"),
            ..Compared::default()
        },
        &boxdir,
        0,
        rows.len() + 1,
    )?);
    for b in [&fresh, &boxdir] {
        kill_box_processes(b, &HashSet::new());
    }
    Ok(rows)
}

/// `blotctl --root BOX ARGS` with the bench's environment, stdin closed.
fn blotctl(cx: &Ctx, boxdir: &Path, args: &str) -> std::process::Command {
    let mut c = cx.env.command(cx.bin);
    c.arg("--root")
        .arg(boxdir)
        .args(args.split(' '))
        .stdin(Stdio::null());
    c
}

/// Row `n`, described by `row`, on `boxdir`: one hyperfine run of blotctl (every run must
/// exit `blotctl_exit`) and pyinfra (0), one strace and one `/usr/bin/time -v` of pyinfra;
/// afterwards the box must be as it was before.
#[allow(clippy::too_many_arguments)]
fn time_row(
    py: &Pyinfra,
    cx: &Ctx,
    render: &Path,
    row: Compared,
    boxdir: &Path,
    blotctl_exit: i32,
    n: usize,
) -> Result<Compared> {
    let before = Snapshot::of(boxdir)?;
    let mut blotctl_argv = vec![cx.bin.display().to_string(), "--root".into()];
    blotctl_argv.push(boxdir.display().to_string());
    blotctl_argv.extend(row.blotctl_args.split(' ').map(String::from));
    let argv = py.argv(boxdir, row.pyinfra_args, render);
    let timings = hyperfine(
        cx.env.command(Path::new("hyperfine")),
        cx.runs,
        cx.warmup,
        &cx.dir.join(format!("hyperfine-pyinfra-{n}")),
        &[
            ("blotctl", blotctl_argv, blotctl_exit),
            ("pyinfra", argv.clone(), 0),
        ],
    )?;
    let trace = traced(
        cx.env,
        &argv,
        boxdir,
        &cx.dir.join(format!("strace-pyinfra-{n}.txt")),
        &cx.dir.join(format!("out-pyinfra-{n}.txt")),
    )?;
    ensure!(
        trace.exit == Some(0),
        "pyinfra {} under strace exited {:?} (output in {})",
        row.pyinfra_args,
        trace.exit,
        cx.dir.join(format!("out-pyinfra-{n}.txt")).display()
    );
    let tree_rss_kb = tree_peak_rss(cx.env, &argv, &cx.dir.join(format!("time-pyinfra-{n}.txt")))?;
    let changed = Snapshot::of(boxdir)?.changes_from(&before, Compare::Exact);
    ensure!(
        changed.is_empty(),
        "the runs of row P{n} ({}) changed {}: {}",
        row.title,
        boxdir.display(),
        changed.join("; ")
    );
    let [blotctl, pyinfra] = <[Timing; 2]>::try_from(timings)
        .map_err(|_| anyhow::anyhow!("hyperfine gave not two results"))?;
    Ok(Compared {
        blotctl,
        pyinfra,
        trace,
        tree_rss_kb,
        ..row
    })
}

/// After pyinfra's first run: blotctl's own dry run finds the box in sync, and the tree is
/// blotctl's provisioned box but for blotctl's own records.
fn converged_like_blotctl(cx: &Ctx, boxdir: &Path) -> Result<()> {
    let out = blotctl(cx, boxdir, "provision --dry-run").output()?;
    ensure!(
        out.status.code() == Some(0),
        "after pyinfra's run, blotctl provision --dry-run on {} exited {:?} (0: in sync):\n{}{}",
        boxdir.display(),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let differ = Snapshot::of(boxdir)?.changes_from(&Snapshot::of(cx.converged)?, Compare::State);
    ensure!(
        differ.is_empty(),
        "pyinfra's box {} is not blotctl's provisioned box {}: {}",
        boxdir.display(),
        cx.converged.display(),
        differ.join("; ")
    );
    Ok(())
}

/// `pyinfra --dry --json`: (operations, operations with a change or a conditional change).
fn dry_run_changes(doc: &serde_json::Value) -> Result<(usize, usize)> {
    let plan = doc["plan"]
        .as_array()
        .context("pyinfra's dry-run document has no plan")?;
    let changing = plan
        .iter()
        .filter(|op| {
            ["hosts_with_change", "hosts_with_conditional_change"]
                .iter()
                .any(|k| op[*k].as_array().is_some_and(|h| !h.is_empty()))
        })
        .count();
    Ok((plan.len(), changing))
}

/// `pyinfra -y --json`: (operations, operations that succeeded or did nothing, operations
/// that did nothing). An operation in error counts in neither.
fn apply_results(doc: &serde_json::Value) -> Result<(usize, usize, usize)> {
    let ops = doc["results"]["operations"]
        .as_array()
        .context("pyinfra's document has no results")?;
    let on_host = |op: &serde_json::Value, k: &str| op[k].as_array().is_some_and(|h| !h.is_empty());
    let ok = ops
        .iter()
        .filter(|op| !on_host(op, "error") && (on_host(op, "success") || on_host(op, "no_change")))
        .count();
    let unchanged = ops
        .iter()
        .filter(|op| on_host(op, "no_change") && !on_host(op, "success") && !on_host(op, "error"))
        .count();
    Ok((ops.len(), ok, unchanged))
}

// ---------------------------------------------------------------------------------------
// The report

/// The report's goal line: a pyinfra row measured in this run, with blotctl's ratio to it.
pub(super) fn goal(rows: &[Compared]) -> (String, bool) {
    let ratios: Vec<String> = rows
        .iter()
        .map(|c| format!("{} {:.2}×", c.title, c.blotctl.median / c.pyinfra.median))
        .collect();
    (
        format!(
            "pyinfra measured in the same run, blotctl's ratio to it: {}",
            ratios.join(", ")
        ),
        !rows.is_empty(),
    )
}

/// pyinfra's commands: it runs each as `sh -c` (box-users.sh's own `readlink`s and
/// `mount`s are the wrapper's, not pyinfra's).
fn is_pyinfra_command(path: &str) -> bool {
    path.rsplit('/').next() == Some("sh")
}

/// "## blotctl against pyinfra": the table, what was checked, how pyinfra ran.
pub(super) fn render_section(s: &mut String, py: &Pyinfra, rows: &[Compared]) {
    use super::{mib, ms, spread};
    use std::fmt::Write as _;
    let _ = writeln!(s, "\n## blotctl against pyinfra {}\n", py.version);
    let _ = writeln!(
        s,
        "The same desired state as a pyinfra deploy (`xtask/bench/pyinfra/deploy.py`: the \
         files `blotctl render --json` prints for the box, `Defaults requiretty` commented \
         out, the copies of Blot's configs in /etc/blot, the sysctl line, the log files, \
         `chkconfig NAME off` ×3, \
         `initctl reload-configuration` when a job changed, the four jobs started), run \
         with pyinfra's `@local` connector on copies of the same fixture box with the same \
         fakes. Each row is one hyperfine run timing both commands on the same box copy.\n"
    );
    let _ = writeln!(
        s,
        "| # | what | blotctl | pyinfra | blotctl median | blotctl spread (min–max, σ) | \
         pyinfra median | pyinfra spread | blotctl / pyinfra | pyinfra's commands (`sh -c`) \
         | programs in pyinfra's tree | peak RSS pyinfra | pyinfra reported |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (i, c) in rows.iter().enumerate() {
        let commands = c
            .trace
            .spawns()
            .iter()
            .filter(|(p, _)| is_pyinfra_command(p))
            .count();
        let _ = writeln!(
            s,
            "| P{} | {} | `blotctl {}` | `pyinfra {} @local deploy.py` | {} | {} | {} | {} | \
             **{:.2}×** | {commands} | {} | {} | {} |",
            i + 1,
            c.title,
            c.blotctl_args,
            c.pyinfra_args,
            ms(c.blotctl.median),
            spread(&c.blotctl),
            ms(c.pyinfra.median),
            spread(&c.pyinfra),
            c.blotctl.median / c.pyinfra.median,
            c.trace.execs.len(),
            mib(c.tree_rss_kb),
            c.reported,
        );
    }
    let _ = writeln!(
        s,
        "\nblotctl / pyinfra = blotctl median / pyinfra median (below 1: blotctl is faster). \
         pyinfra's commands and programs: one strace of each row \
         (`target/bench/strace-pyinfra-N.txt`): the `sh -c` pyinfra spawned, and every \
         program run below it, box-users.sh's `readlink` ×2 and `mount` ×2 included. Peak \
         RSS: `/usr/bin/time -v` of the pyinfra run, the largest process in its tree \
         (pyinfra's Python).\n"
    );
    for (i, c) in rows.iter().enumerate() {
        let tally: Vec<String> = c
            .trace
            .exec_counts()
            .iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect();
        let _ = writeln!(s, "- P{} programs: {}", i + 1, tally.join(", "));
    }
    let _ = writeln!(
        s,
        "\nChecked in this run, or the bench fails: pyinfra's dry run on a fresh box plans a \
         change for every operation; its first apply on a fresh box leaves a box on which \
         `blotctl provision --dry-run` finds nothing to change and whose tree is blotctl's \
         provisioned box (contents, modes, owners, links, jobs running; only blotctl's \
         backups and run lock differ); its re-run reports every operation unchanged; every \
         timed run exits as expected (the dry runs 2 and 0); the timed boxes are unchanged \
         afterwards (contents, modes, owners, inodes, mtimes, ctimes; but for the pid \
         blotctl's real runs write into its run lock).\n\n\
         How pyinfra runs here: installed from PyPI with every dependency pinned \
         (`xtask/bench/pyinfra/requirements.txt`) into a venv under `target/bench`; its `sh -c` \
         commands find the fakes first on PATH; `box-users.sh` runs it in a private mount \
         namespace with the box's /etc/passwd and /etc/group bound over this machine's (so \
         `chown ec2-user` and `stat` see the box's uid 500) and `BLOTCTL_ROOT` naming the \
         copy (a few ms of `unshare`, `sh` and two `mount`s, inside pyinfra's time). \
         `-y` applies without the prompt, as `provision --yes`; `--dry --diff` shows diffs, \
         as blotctl's dry run does.\n\n\
         What pyinfra does not do that blotctl does: no `visudo -c` of the new sudoers \
         before replacing it (`files.line` runs `sed -i`; pyinfra has no validate hook), no \
         job-file lint before `initctl reload-configuration`, no write-ahead backup for a \
         rollback, no look after applying (a job that dies after `start` goes unnoticed), \
         and `files.put` on `@local` copies over the target in place (`cp`), not by an \
         atomic rename. Ansible (optional in the issue; a large install) is not measured."
    );
}

// ---------------------------------------------------------------------------------------
// Box trees

/// What one path in a box tree is.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    /// 'f' file, 'd' directory, 'l' symlink, 'o' anything else
    kind: char,
    mode: u32,
    uid: u32,
    gid: u32,
    /// a file's contents, a link's target
    data: Vec<u8>,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// Every path under a box root (relative, `/`-separated), without following links.
#[derive(Debug, Default)]
struct Snapshot(BTreeMap<String, Entry>);

#[derive(Clone, Copy, PartialEq)]
enum Compare {
    /// the same box state: kinds, contents, modes, owners and link targets; a fake job's
    /// state without its pid; blotctl's own records (backups, run lock) left out
    State,
    /// nothing touched: also the same inodes, mtimes and ctimes; but for blotctl's run
    /// lock, which every real run of blotctl writes (its pid)
    Exact,
}

/// blotctl's run lock.
const BLOTCTL_RUN_LOCK: &str = "var/lock/blotctl.lock";
/// Paths only blotctl keeps: its write-ahead backups and its run lock.
const BLOTCTL_RECORDS: [&str; 2] = ["var/lib/blotctl", BLOTCTL_RUN_LOCK];
/// The fake upstart's job states: `start/running PID`.
const FAKE_JOB_STATES: &str = "var/lib/fake-upstart/";

impl Snapshot {
    fn of(root: &Path) -> Result<Snapshot> {
        let mut s = Snapshot::default();
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            let path = root.join(&rel);
            for e in std::fs::read_dir(&path)
                .with_context(|| format!("cannot list {}", path.display()))?
            {
                let e = e?;
                let rel = rel.join(e.file_name());
                let full = root.join(&rel);
                let m = std::fs::symlink_metadata(&full)?;
                let t = m.file_type();
                let (kind, data) = if t.is_symlink() {
                    (
                        'l',
                        std::fs::read_link(&full)?
                            .into_os_string()
                            .into_encoded_bytes(),
                    )
                } else if t.is_dir() {
                    stack.push(rel.clone());
                    ('d', Vec::new())
                } else if t.is_file() {
                    ('f', std::fs::read(&full)?)
                } else {
                    ('o', Vec::new())
                };
                s.0.insert(
                    rel.to_string_lossy().into_owned(),
                    Entry {
                        kind,
                        mode: m.mode(),
                        uid: m.uid(),
                        gid: m.gid(),
                        data,
                        ino: m.ino(),
                        mtime: (m.mtime(), m.mtime_nsec()),
                        ctime: (m.ctime(), m.ctime_nsec()),
                    },
                );
            }
        }
        Ok(s)
    }

    /// How this tree differs from `base`, one line per path.
    fn changes_from(&self, base: &Snapshot, how: Compare) -> Vec<String> {
        let skip = |p: &str| match how {
            Compare::State => BLOTCTL_RECORDS
                .iter()
                .any(|r| p == *r || p.starts_with(&format!("{r}/"))),
            Compare::Exact => p == BLOTCTL_RUN_LOCK,
        };
        let view = |p: &str, e: &Entry| -> Entry {
            let mut e = e.clone();
            if how == Compare::State {
                (e.ino, e.mtime, e.ctime) = (0, (0, 0), (0, 0));
                if p.starts_with(FAKE_JOB_STATES) && p.ends_with(".state") {
                    let first = e.data.split(|b| b.is_ascii_whitespace()).next();
                    e.data = first.unwrap_or_default().to_vec();
                }
            }
            e
        };
        let mut out = Vec::new();
        for (p, e) in &self.0 {
            if skip(p) {
                continue;
            }
            match base.0.get(p) {
                None => out.push(format!("{p}: new")),
                Some(b) => {
                    let (a, b) = (view(p, e), view(p, b));
                    let mut what = Vec::new();
                    if a.kind != b.kind {
                        what.push(format!("type {} (was {})", a.kind, b.kind));
                    }
                    if a.data != b.data {
                        what.push("contents".to_string());
                    }
                    if a.mode != b.mode {
                        what.push(format!("mode {:o} (was {:o})", a.mode, b.mode));
                    }
                    if (a.uid, a.gid) != (b.uid, b.gid) {
                        what.push(format!(
                            "owner {}:{} (was {}:{})",
                            a.uid, a.gid, b.uid, b.gid
                        ));
                    }
                    if a.ino != b.ino {
                        what.push("replaced (new inode)".to_string());
                    }
                    if a.mtime != b.mtime || a.ctime != b.ctime {
                        what.push("touched (mtime or ctime)".to_string());
                    }
                    if !what.is_empty() {
                        out.push(format!("{p}: {}", what.join(", ")));
                    }
                }
            }
        }
        for p in base.0.keys() {
            if !skip(p) && !self.0.contains_key(p) {
                out.push(format!("{p}: missing"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("etc/init")).unwrap();
        std::fs::create_dir_all(r.join("var/lib/fake-upstart")).unwrap();
        std::fs::create_dir_all(r.join("var/lib/blotctl/backups/1")).unwrap();
        std::fs::write(r.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
        std::fs::write(
            r.join("var/lib/fake-upstart/redis.state"),
            "start/running 7\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("rc.d/init.d", r.join("etc/init.d")).unwrap();
        t
    }

    #[test]
    fn the_same_state_is_contents_modes_and_links_not_pids_or_blotctl_records() {
        let (a, b) = (tree(), tree());
        let state = |x: &Path, y: &Path| {
            Snapshot::of(x)
                .unwrap()
                .changes_from(&Snapshot::of(y).unwrap(), Compare::State)
        };
        assert_eq!(state(a.path(), b.path()), Vec::<String>::new());
        // a job running under another pid, blotctl's backups and lock: the same state
        std::fs::write(
            b.path().join("var/lib/fake-upstart/redis.state"),
            "start/running 9\n",
        )
        .unwrap();
        std::fs::write(b.path().join("var/lib/blotctl/backups/1/blob-1"), "x").unwrap();
        std::fs::create_dir_all(b.path().join("var/lock")).unwrap();
        std::fs::write(b.path().join("var/lock/blotctl.lock"), "").unwrap();
        let diff = state(a.path(), b.path());
        assert_eq!(diff, vec!["var/lock: missing".to_string()]);
        // a stopped job, another line, another mode, another link: not the same
        std::fs::write(
            a.path().join("var/lib/fake-upstart/redis.state"),
            "stop/waiting\n",
        )
        .unwrap();
        std::fs::write(a.path().join("etc/hosts"), "127.0.0.1 localhost\n::1 x\n").unwrap();
        std::fs::set_permissions(
            a.path().join("etc/init"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        std::fs::remove_file(a.path().join("etc/init.d")).unwrap();
        std::os::unix::fs::symlink("/etc/rc.d/init.d", a.path().join("etc/init.d")).unwrap();
        let diff = state(a.path(), b.path());
        for p in [
            "var/lib/fake-upstart/redis.state",
            "etc/hosts",
            "etc/init",
            "etc/init.d",
        ] {
            assert!(
                diff.iter().any(|d| d.starts_with(&format!("{p}: "))),
                "{p}: {diff:?}"
            );
        }
    }

    #[test]
    fn exact_sees_a_rewrite_with_the_same_bytes_and_a_chmod_to_the_same_mode() {
        let a = tree();
        let hosts = a.path().join("etc/hosts");
        std::fs::create_dir_all(a.path().join("var/lock")).unwrap();
        std::fs::write(a.path().join("var/lock/blotctl.lock"), "1\n").unwrap();
        let before = Snapshot::of(a.path()).unwrap();
        assert!(Snapshot::of(a.path())
            .unwrap()
            .changes_from(&before, Compare::Exact)
            .is_empty());
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::set_permissions(&hosts, std::fs::Permissions::from_mode(0o644)).unwrap();
        let after = Snapshot::of(a.path()).unwrap();
        assert_eq!(
            after.changes_from(&before, Compare::Exact),
            vec!["etc/hosts: touched (mtime or ctime)".to_string()]
        );
        // the same bytes through a new file (what `sed -i` does): a new inode
        let text = std::fs::read(&hosts).unwrap();
        std::fs::write(a.path().join("etc/hosts.new"), &text).unwrap();
        std::fs::rename(a.path().join("etc/hosts.new"), &hosts).unwrap();
        let diff = Snapshot::of(a.path())
            .unwrap()
            .changes_from(&before, Compare::Exact);
        assert!(
            diff.iter().any(|d| d.starts_with("etc/hosts: replaced")),
            "{diff:?}"
        );
        assert!(
            diff.iter().any(|d| d.starts_with("etc: touched")),
            "{diff:?}"
        );
        // blotctl's real run writes its pid into the run lock: not a change; a backup is
        std::fs::write(a.path().join("var/lock/blotctl.lock"), "2\n").unwrap();
        std::fs::create_dir(a.path().join("var/lib/blotctl/backups/2")).unwrap();
        let diff = Snapshot::of(a.path())
            .unwrap()
            .changes_from(&before, Compare::Exact);
        assert!(!diff.iter().any(|d| d.starts_with("var/lock/")), "{diff:?}");
        assert!(
            diff.contains(&"var/lib/blotctl/backups/2: new".to_string()),
            "{diff:?}"
        );
    }

    #[test]
    fn pyinfra_documents_are_counted_strictly() {
        let dry: serde_json::Value = serde_json::from_str(
            r#"{"plan": [
                {"name": "a", "hosts_with_change": ["@local"], "hosts_with_conditional_change": []},
                {"name": "b", "hosts_with_change": [], "hosts_with_conditional_change": ["@local"]},
                {"name": "c", "hosts_with_change": [], "hosts_with_conditional_change": []}]}"#,
        )
        .unwrap();
        assert_eq!(dry_run_changes(&dry).unwrap(), (3, 2));
        let run: serde_json::Value = serde_json::from_str(
            r#"{"results": {"operations": [
                {"name": "a", "success": [], "error": [], "no_change": ["@local"]},
                {"name": "b", "success": ["@local"], "error": [], "no_change": []},
                {"name": "c", "success": [], "error": ["@local"], "no_change": []}]}}"#,
        )
        .unwrap();
        assert_eq!(apply_results(&run).unwrap(), (3, 2, 1));
        assert!(dry_run_changes(&run).is_err() && apply_results(&dry).is_err());
    }
}
