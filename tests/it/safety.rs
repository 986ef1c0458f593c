//! Never lose a file: rollback restores byte for byte, one run at a time, and SIGKILL at
//! any point of the apply phase leaves every managed file wholly old or wholly new.

use crate::util::*;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn rollback_restores_the_fresh_box_byte_for_byte() {
    needs!("visudo");
    let b = TestBox::fresh();
    let fresh = b.managed_state();
    b.run(&["provision", "--yes"]).success();
    assert_ne!(b.managed_state(), fresh);
    b.fake("initctl", &["list"])
        .stdout_has("blot start/running");

    b.run(&["rollback", "--yes"]).success();
    assert_same_state(
        &b.managed_state(),
        &fresh,
        "rollback did not restore the fresh box",
    );
    // The job file is gone, so is the job.
    b.fake("initctl", &["list"]).stdout_lacks("blot");

    let before = b.managed_state();
    b.run(&["rollback", "--yes"])
        .success()
        .stdout_has("nothing to undo");
    assert_same_state(
        &b.managed_state(),
        &before,
        "a second rollback changed something",
    );

    b.run(&["rollback", "--list"]).stdout_has("undone by");
}

#[test]
fn a_held_lock_makes_provision_fail_naming_the_holder() {
    let b = TestBox::fresh();
    let holder = LockHolder::new(&b.path("/var/lock/blotctl.lock"));
    let before = b.managed_state();
    let out = b.run(&["provision", "--yes"]);
    let pid = holder.pid();
    drop(holder);
    out.code(1).stderr_has(&format!(
        "another blotctl run holds the lock (pid {pid}); no managed file was changed"
    ));
    assert_same_state(&b.managed_state(), &before, "the tree changed");
}

#[test]
fn two_concurrent_provisions_never_both_apply() {
    needs!("visudo");
    let b = TestBox::fresh();
    let mut cmd = b.blotctl_std();
    cmd.args(["provision", "--yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (one, two) = (cmd.spawn().unwrap(), cmd.spawn().unwrap());
    let outs = [
        Run::new(&cmd, one.wait_with_output().unwrap()),
        Run::new(&cmd, two.wait_with_output().unwrap()),
    ];
    let applied = outs
        .iter()
        .filter(|o| o.stdout().contains("provisioned: 26 changes"))
        .count();
    assert_eq!(applied, 1, "{outs:?}");
    let runs = b.run(&["rollback", "--list"]);
    runs.check(
        runs.stdout()
            .lines()
            .filter(|l| l.contains("provision"))
            .count()
            == 1,
        "one provision run listed",
    );
}

// ---------------------------------------------------------------------------
// Crash suite

/// Managed file -> its contents (None: missing).
type Files = BTreeMap<&'static str, Option<Vec<u8>>>;

/// The files provision manages, as a fresh box has them and as a provisioned one does.
fn managed_files() -> Vec<&'static str> {
    vec![
        "/etc/sudoers",
        "/etc/hosts",
        "/etc/monit.rc",
        "/etc/init/redis.conf",
        "/etc/init/blot.conf",
        "/etc/init/nginx.conf",
        "/etc/init/monit.conf",
        "/etc/init/redis-host-settings.conf",
        "/etc/logrotate.d/blot",
        "/etc/sysctl.conf",
        "/etc/blot/nginx.conf",
        "/etc/blot/nginx/proxy.conf",
        "/etc/blot/redis.conf",
    ]
}

fn snapshot_files(b: &TestBox) -> Files {
    managed_files()
        .into_iter()
        .map(|f| (f, std::fs::read(b.path(f)).ok()))
        .collect()
}

fn visudo_ok(b: &TestBox) -> bool {
    Command::new("visudo")
        .arg("-c")
        .arg("-f")
        .arg(b.path("/etc/sudoers"))
        .run()
        .exit()
        == Some(0)
}

fn temps(b: &TestBox) -> Vec<String> {
    b.state()
        .into_keys()
        .filter(|p| p.rsplit('/').next().unwrap().starts_with(".blotctl-"))
        .collect()
}

/// Each managed file wholly old or wholly new, and sudoers valid.
fn whole_files(b: &TestBox, old: &Files, new: &Files, what: &str) {
    for (f, now) in snapshot_files(b) {
        assert!(
            now == old[f] || now == new[f],
            "{what}: {f} is neither the old nor the new file"
        );
    }
    assert!(visudo_ok(b), "{what}: sudoers does not pass visudo");
}

/// How many runs a test makes: `var` from the environment, else `default`.
fn runs_from_env(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A tiny deterministic PRNG (xorshift): the same times on every run of the suite.
fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// After a crash: each file wholly old or wholly new, sudoers valid; then a re-run cleans
/// the temp files and converges.
fn check_after_crash(b: &TestBox, old: &Files, new: &Files, what: &str) {
    whole_files(b, old, new, what);
    b.run(&["provision", "--yes", "--no-start"])
        .about(format!("{what}: the re-run"))
        .success();
    assert!(
        temps(b).is_empty(),
        "{what}: temp files left after a re-run: {:?}",
        temps(b)
    );
    // Exit 0 of a real run already means it planned again afterwards and found nothing
    // left ("did not converge" is exit 1), so no separate dry run is needed here.
    let final_files = snapshot_files(b);
    let differ: Vec<&&str> = final_files
        .keys()
        .filter(|f| final_files[*f] != new[*f])
        .collect();
    assert!(
        differ.is_empty(),
        "{what}: the re-run did not end with the new files: {differ:?} differ"
    );
}

/// The old and new contents of the managed files.
fn old_and_new() -> (Files, Files) {
    let b = TestBox::fresh();
    let old = snapshot_files(&b);
    b.run(&["provision", "--yes", "--no-start"]).success();
    (old, snapshot_files(&b))
}

#[test]
fn crash_at_every_fault_point() {
    needs!("visudo");
    let (old, new) = old_and_new();
    let mut n = 1;
    loop {
        let b = TestBox::fresh();
        let out = b
            .blotctl()
            .args(["provision", "--yes", "--no-start"])
            .env("BLOTCTL_CRASH_AT", n.to_string())
            .run();
        let killed = out.exit().is_none();
        if !killed {
            out.success();
            break;
        }
        check_after_crash(&b, &old, &new, &format!("crash point {n}"));
        n += 1;
        assert!(n < 500, "the run never completes");
    }
    assert!(n > 20, "only {n} crash points were reached");
}

/// How long a whole `provision --yes --no-start` on a fresh box takes here now, in µs.
fn whole_run_micros() -> u64 {
    let b = TestBox::fresh();
    let t = std::time::Instant::now();
    let out = b
        .blotctl_std()
        .args(["provision", "--yes", "--no-start"])
        .run();
    let took = t.elapsed().as_micros() as u64;
    out.success();
    took.max(1)
}

#[test]
fn random_time_kills() {
    needs!("visudo");
    let runs = runs_from_env("BLOTCTL_CRASH_RUNS", 200);
    let (old, new) = old_and_new();
    let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
    // The kills land within one whole run's time, measured here (not a fixed guess, which
    // a faster run outgrows).
    let whole = whole_run_micros();
    let mut killed = 0;
    for i in 0..runs {
        let b = TestBox::fresh();
        let mut child = b
            .blotctl_std()
            .args(["provision", "--yes", "--no-start"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(next() % whole));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        check_after_crash(&b, &old, &new, &format!("random kill {i}"));
    }
    assert!(
        killed > runs / 2,
        "only {killed} of {runs} runs were killed before they ended"
    );
}

/// blotctl with `args` on the box, sent `sig` once `wait` returns; how it ended.
fn signalled(b: &TestBox, args: &[&str], sig: i32, wait: impl FnOnce()) -> Run {
    let mut cmd = b.blotctl_std();
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    wait();
    // The child is not reaped before wait_with_output: its pid is still ours.
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
    Run::new(&cmd, child.wait_with_output().unwrap())
}

/// SIGINT, SIGTERM and SIGHUP (an ssh session that dropped) at random times of a real run:
/// the run finishes the atomic change
/// under way and stops there (exit 130/143, the rollback hint printed when something was
/// changed), or ended before the signal (exit 0), or was killed before it took the lock
/// (nothing changed). Never a temp file left, every file wholly old or new, sudoers valid;
/// a run stopped part-way converges when run again.
#[test]
fn sigint_and_sigterm_mid_run() {
    needs!("visudo");
    let runs = runs_from_env("BLOTCTL_SIGNAL_RUNS", 100);
    let (old, new) = old_and_new();
    // How long a whole run takes on this machine now: the signals land across it.
    let span = whole_run_micros();
    let mut next = xorshift(0x2545_F491_4F6C_DD1D);
    let (mut part_way, mut before_any, mut finished) = (0, 0, 0);
    for i in 0..runs {
        let b = TestBox::fresh();
        let (sig, name) = [
            (libc::SIGINT, "SIGINT"),
            (libc::SIGTERM, "SIGTERM"),
            (libc::SIGHUP, "SIGHUP"),
        ][i as usize % 3];
        let after = Duration::from_micros(next() % span);
        let what = format!("run {i}: {name} after {after:?}");
        let out = signalled(&b, &["provision", "--yes", "--no-start"], sig, || {
            std::thread::sleep(after)
        })
        .about(&what);
        match (out.exit(), out.signal()) {
            (Some(0), _) => finished += 1,
            (Some(c), _) if c == 128 + sig => {
                out.stderr_has(&format!("interrupted by {name}"));
                if out
                    .stderr()
                    .contains("before any change: no managed file was changed")
                {
                    before_any += 1;
                    out.check(snapshot_files(&b) == old, "a file changed");
                } else {
                    part_way += 1;
                    out.stderr_has("or undo them with `blotctl rollback 2");
                }
            }
            (None, Some(s)) if s == sig => {
                // Before the run took its lock, the signal still ends it at once.
                before_any += 1;
                out.check(snapshot_files(&b) == old, "a file changed");
            }
            _ => out.fail("ended otherwise"),
        }
        assert!(
            temps(&b).is_empty(),
            "{what}: temp files left: {:?}",
            temps(&b)
        );
        whole_files(&b, &old, &new, &what);
        if out.exit() != Some(0) {
            b.run(&["provision", "--yes", "--no-start"])
                .about(format!("{what}: the re-run"))
                .success();
            assert!(
                snapshot_files(&b) == new,
                "{what}: the re-run did not converge"
            );
        }
    }
    eprintln!(
        "{runs} signal runs: {part_way} stopped part-way, {before_any} before any change, \
         {finished} finished first"
    );
    assert!(
        part_way >= runs / 5,
        "only {part_way} of {runs} signals landed while changes were being applied"
    );
}

/// The jobs of ours the fake upstart runs for this box (goal start).
fn jobs_running(b: &TestBox) -> Vec<String> {
    let list = b.fake("initctl", &["list"]);
    list.stdout()
        .lines()
        .filter(|l| l.contains(" start/"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .filter(|j| ["redis", "blot", "nginx", "monit"].contains(&j.as_str()))
        .collect()
}

/// Roll back the newest run: every job it set going is stopped (upstart chains blot, nginx
/// and monit to redis, so a start of redis sets all four going), and the managed files are
/// the fresh box's again.
fn rolled_back_to(b: &TestBox, fresh: &BTreeMap<String, String>, what: &str) {
    let rb = b.run(&["rollback", "--yes"]).about(what);
    rb.success();
    let left = jobs_running(b);
    rb.check(
        left.is_empty(),
        format_args!("jobs left running after the rollback: {left:?}"),
    );
    assert_same_state(
        &b.managed_state(),
        fresh,
        &format!("{what}: rollback did not restore the box"),
    );
}

/// A signal while provision holds the started jobs' stability window, after upstart has
/// started the whole chain: the message says the wait was under way and which jobs run,
/// and a rollback stops all of them, not only the one blotctl started itself.
#[test]
fn a_signal_during_a_job_start_is_rolled_back_whole() {
    needs!("visudo");
    let b = TestBox::fresh();
    let fresh = b.managed_state();
    b.write(
        "/etc/blotctl.toml",
        "start_settle_ms = 60000\nstart_wait_healthy = false\nstart_timeout = 120\n",
    );
    let conf = b.path("/etc/blotctl.toml");
    // The journal records the starts before `initctl start redis`; once all four run (and
    // a moment more), the run is in its minute-long stability window.
    let out = signalled(&b, &["provision", "--yes"], libc::SIGTERM, || {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while jobs_running(&b).len() < 4 {
            assert!(
                std::time::Instant::now() < deadline,
                "the jobs never started"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(1500));
    });
    out.code(143)
        .stderr_has(
            "the next, `keep redis, blot, nginx, monit up for start_settle_ms` was under way \
             and its wait was given up (upstart runs redis, blot, nginx, monit now)",
        )
        .stderr_has("or undo them with `blotctl rollback 2")
        .stderr_lacks("the one under way was finished first");
    std::fs::write(
        &conf,
        "start_settle_ms = 0\nstart_wait_healthy = false\nstart_timeout = 5\n",
    )
    .unwrap();
    rolled_back_to(&b, &fresh, "after SIGTERM in redis's wait");
}

/// Signals at random times while provision starts the jobs (the runs above use
/// --no-start): a run stopped part-way, rolled back, leaves no job running and the files
/// of the fresh box. Fewer runs than above: each starts and stops four jobs.
#[test]
fn signals_while_jobs_start() {
    needs!("visudo");
    let runs = runs_from_env("BLOTCTL_SIGNAL_RUNS", 100) / 8;
    let settle = "start_settle_ms = 150\nstart_wait_healthy = false\nstart_timeout = 5\n";
    let timed = |args: &[&str]| {
        let b = TestBox::fresh();
        b.write("/etc/blotctl.toml", settle);
        let t = std::time::Instant::now();
        let out = b.blotctl_std().args(args).run();
        let took = t.elapsed().as_micros() as u64;
        out.success();
        took
    };
    // The signals land after the files are written, while the jobs start.
    let files = timed(&["provision", "--yes", "--no-start"]);
    let whole = timed(&["provision", "--yes"]).max(files + 1);
    let mut next = xorshift(0x1234_5678_9ABC_DEF1);
    let mut in_a_wait = 0;
    for i in 0..runs {
        let b = TestBox::fresh();
        let fresh = b.managed_state();
        b.write("/etc/blotctl.toml", settle);
        let (sig, name) = [
            (libc::SIGTERM, "SIGTERM"),
            (libc::SIGINT, "SIGINT"),
            (libc::SIGHUP, "SIGHUP"),
        ][i as usize % 3];
        let after = Duration::from_micros(files + next() % (whole - files));
        let what = format!("run {i}: {name} after {after:?}");
        let out = signalled(&b, &["provision", "--yes"], sig, || {
            std::thread::sleep(after)
        })
        .about(&what);
        match (out.exit(), out.signal()) {
            (Some(0), _) => {}
            (Some(c), _) if c == 128 + sig => {
                out.stderr_has(&format!("interrupted by {name}"));
                if out.stderr().contains("its wait was given up") {
                    in_a_wait += 1;
                }
            }
            (None, Some(s)) if s == sig => {}
            _ => out.fail("ended otherwise"),
        }
        out.check(temps(&b).is_empty(), "temp files left");
        b.write(
            "/etc/blotctl.toml",
            "start_settle_ms = 0\nstart_wait_healthy = false\nstart_timeout = 5\n",
        );
        if out.exit() != Some(0) && !runs_of(&b).is_empty() {
            rolled_back_to(&b, &fresh, &what);
        }
    }
    eprintln!("{runs} signal runs while jobs start: {in_a_wait} gave up a wait");
    assert!(
        in_a_wait >= runs / 4,
        "only {in_a_wait} of {runs} signals landed in a job's wait"
    );
}

/// The run ids recorded in the box's backups.
fn runs_of(b: &TestBox) -> Vec<String> {
    std::fs::read_dir(b.path("/var/lib/blotctl/backups"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A real run (`provision --yes --no-start`) on a fresh box whose stdout is `out`: the box,
/// the run (its stderr), and the managed files before and after a whole run.
fn provision_with_stdout(out: Stdio) -> (TestBox, Run, Files, Files) {
    let (old, new) = old_and_new();
    let b = TestBox::fresh();
    let mut cmd = b.blotctl_std();
    cmd.args(["provision", "--yes", "--no-start"])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::piped());
    let out = cmd.spawn().unwrap().wait_with_output().unwrap();
    let run = Run::new(&cmd, out);
    (b, run, old, new)
}

/// stdout closed by its reader (`provision --yes | head -1`): the run is not killed
/// half-way by SIGPIPE; it stops at the next change boundary, says how to undo what it did
/// (on stderr), exits 141, and a second run converges.
#[test]
fn a_closed_stdout_stops_a_run_between_two_changes() {
    needs!("visudo");
    // Close-on-exec (std's pipe): a program another test thread starts meanwhile must not
    // keep the read end open, or the run would never see its reader gone.
    let (read_end, write_end) = std::io::pipe().unwrap();
    drop(read_end); // the reader is gone before the first line
    let (b, run, old, new) = provision_with_stdout(Stdio::from(write_end));
    run.code(141)
        .stderr_has("interrupted by SIGPIPE (its output was closed) after ")
        .stderr_has("or undo them with `blotctl rollback 2");
    assert!(temps(&b).is_empty());
    whole_files(&b, &old, &new, "closed stdout");
    check_after_crash(&b, &old, &new, "closed stdout");
}

/// stdout on a full disk (`> /dev/full`): no panic ("failed printing to stdout", exit
/// 101) half-way; the run stops between two changes with the rollback hint, exit 1.
#[test]
fn a_full_stdout_stops_a_run_between_two_changes() {
    needs!("visudo");
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let (b, run, old, new) = provision_with_stdout(Stdio::from(full()));
    run.code(1)
        .stderr_lacks("panicked")
        .stderr_has(
            "stopped because its output failed (cannot write to stdout: No space left on device",
        )
        .stderr_has("or undo them with `blotctl rollback 2");
    assert!(temps(&b).is_empty());
    whole_files(&b, &old, &new, "stdout on /dev/full");
    check_after_crash(&b, &old, &new, "stdout on /dev/full");
    // A dry run whose output cannot be written fails too, without a panic.
    let mut cmd = b.blotctl_std();
    cmd.args(["provision", "--dry-run"])
        .stdin(Stdio::null())
        .stdout(Stdio::from(full()))
        .stderr(Stdio::piped());
    let out = cmd.spawn().unwrap().wait_with_output().unwrap();
    Run::new(&cmd, out)
        .code(1)
        .stderr_has("error: cannot write to stdout");
}
