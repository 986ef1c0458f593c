//! Never lose a file: rollback restores byte for byte, one run at a time, and SIGKILL at
//! any point of the apply phase leaves every managed file wholly old or wholly new.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn rollback_restores_the_fresh_box_byte_for_byte() {
    if !require("visudo") {
        return;
    }
    let b = TestBox::fresh();
    let fresh = b.managed_state();
    let out = b.blotctl().args(["provision", "--yes"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_ne!(b.managed_state(), fresh);
    let jobs = stdout(&b.fake("initctl", &["list"]));
    assert!(jobs.contains("blot start/running"), "{jobs}");

    let rb = b.blotctl().args(["rollback", "--yes"]).output().unwrap();
    assert_eq!(rb.status.code(), Some(0), "{}{}", stdout(&rb), stderr(&rb));
    assert_same_state(
        &b.managed_state(),
        &fresh,
        "rollback did not restore the fresh box",
    );
    let jobs = stdout(&b.fake("initctl", &["list"]));
    assert!(
        !jobs.contains("blot"),
        "the job file is gone, so is the job:\n{jobs}"
    );

    let before = b.managed_state();
    let again = b.blotctl().args(["rollback", "--yes"]).output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert!(
        stdout(&again).contains("nothing to undo"),
        "{}",
        stdout(&again)
    );
    assert_same_state(
        &b.managed_state(),
        &before,
        "a second rollback changed something",
    );

    let list = stdout(&b.blotctl().args(["rollback", "--list"]).output().unwrap());
    assert!(list.contains("undone by"), "{list}");
}

#[test]
fn a_held_lock_makes_provision_fail_naming_the_holder() {
    let b = TestBox::fresh();
    let holder = LockHolder::new(&b.path("/var/lock/blotctl.lock"));
    let before = b.managed_state();
    let out = b.blotctl().args(["provision", "--yes"]).output().unwrap();
    let pid = holder.pid();
    drop(holder);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "another blotctl run holds the lock (pid {pid}); no managed file was changed"
        )),
        "{}",
        stderr(&out)
    );
    assert_same_state(&b.managed_state(), &before, "the tree changed");
}

#[test]
fn two_concurrent_provisions_never_both_apply() {
    if !require("visudo") {
        return;
    }
    let b = TestBox::fresh();
    let spawn = || {
        b.blotctl_std()
            .args(["provision", "--yes"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (one, two) = (spawn(), spawn());
    let outs = [
        one.wait_with_output().unwrap(),
        two.wait_with_output().unwrap(),
    ];
    let applied: Vec<&std::process::Output> = outs
        .iter()
        .filter(|o| stdout(o).contains("provisioned: 26 changes"))
        .collect();
    assert_eq!(
        applied.len(),
        1,
        "{:?}",
        outs.iter().map(stdout).collect::<Vec<_>>()
    );
    let runs = stdout(&b.blotctl().args(["rollback", "--list"]).output().unwrap());
    assert_eq!(
        runs.lines().filter(|l| l.contains("provision")).count(),
        1,
        "{runs}"
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
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
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
    let out = b
        .blotctl()
        .args(["provision", "--yes", "--no-start"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: re-run failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
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
    let out = b
        .blotctl()
        .args(["provision", "--yes", "--no-start"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    (old, snapshot_files(&b))
}

#[test]
fn crash_at_every_fault_point() {
    if !require("visudo") {
        return;
    }
    let (old, new) = old_and_new();
    let mut n = 1;
    loop {
        let b = TestBox::fresh();
        let out = b
            .blotctl()
            .args(["provision", "--yes", "--no-start"])
            .env("BLOTCTL_CRASH_AT", n.to_string())
            .output()
            .unwrap();
        let killed = out.status.code().is_none();
        if !killed {
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            break;
        }
        check_after_crash(&b, &old, &new, &format!("crash point {n}"));
        n += 1;
        assert!(n < 500, "the run never completes");
    }
    assert!(n > 20, "only {n} crash points were reached");
}

#[test]
fn random_time_kills() {
    if !require("visudo") {
        return;
    }
    let runs = runs_from_env("BLOTCTL_CRASH_RUNS", 200);
    let (old, new) = old_and_new();
    let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
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
        std::thread::sleep(Duration::from_micros(next() % 600_000));
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

/// blotctl with `args` on the box, sent `sig` once `wait` returns; its output.
fn signalled(b: &TestBox, args: &[&str], sig: i32, wait: impl FnOnce()) -> std::process::Output {
    let child = b
        .blotctl_std()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait();
    // The child is not reaped before wait_with_output: its pid is still ours.
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
    child.wait_with_output().unwrap()
}

/// SIGINT, SIGTERM and SIGHUP (an ssh session that dropped) at random times of a real run:
/// the run finishes the atomic change
/// under way and stops there (exit 130/143, the rollback hint printed when something was
/// changed), or ended before the signal (exit 0), or was killed before it took the lock
/// (nothing changed). Never a temp file left, every file wholly old or new, sudoers valid;
/// a run stopped part-way converges when run again.
#[test]
fn sigint_and_sigterm_mid_run() {
    use std::os::unix::process::ExitStatusExt;
    if !require("visudo") {
        return;
    }
    let runs = runs_from_env("BLOTCTL_SIGNAL_RUNS", 100);
    let (old, new) = old_and_new();
    // How long a whole run takes on this machine now: the signals land across it.
    let b = TestBox::fresh();
    let t = std::time::Instant::now();
    let out = b
        .blotctl()
        .args(["provision", "--yes", "--no-start"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let span = t.elapsed().as_micros() as u64;
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
        let out = signalled(&b, &["provision", "--yes", "--no-start"], sig, || {
            std::thread::sleep(after)
        });
        let what = format!("run {i}: {name} after {after:?}");
        let err = stderr(&out);
        match (out.status.code(), out.status.signal()) {
            (Some(0), _) => finished += 1,
            (Some(c), _) if c == 128 + sig => {
                assert!(
                    err.contains(&format!("interrupted by {name}")),
                    "{what}: {err}"
                );
                if err.contains("before any change: no managed file was changed") {
                    before_any += 1;
                    assert!(snapshot_files(&b) == old, "{what}: a file changed");
                } else {
                    part_way += 1;
                    assert!(
                        err.contains("or undo them with `blotctl rollback 2"),
                        "{what}: no rollback hint: {err}"
                    );
                }
            }
            (None, Some(s)) if s == sig => {
                // Before the run took its lock, the signal still ends it at once.
                before_any += 1;
                assert!(snapshot_files(&b) == old, "{what}: a file changed");
            }
            other => panic!("{what}: ended with {other:?}\n{}{err}", stdout(&out)),
        }
        assert!(
            temps(&b).is_empty(),
            "{what}: temp files left: {:?}",
            temps(&b)
        );
        whole_files(&b, &old, &new, &what);
        if out.status.code() != Some(0) {
            let again = b
                .blotctl()
                .args(["provision", "--yes", "--no-start"])
                .output()
                .unwrap();
            assert_eq!(again.status.code(), Some(0), "{what}: {}", stderr(&again));
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
    let list = stdout(&b.fake("initctl", &["list"]));
    list.lines()
        .filter(|l| l.contains(" start/"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .filter(|j| ["redis", "blot", "nginx", "monit"].contains(&j.as_str()))
        .collect()
}

/// Roll back the newest run: every job it set going is stopped (upstart chains blot, nginx
/// and monit to redis, so a start of redis sets all four going), and the managed files are
/// the fresh box's again.
fn rolled_back_to(b: &TestBox, fresh: &BTreeMap<String, String>, what: &str) {
    let rb = b.blotctl().args(["rollback", "--yes"]).output().unwrap();
    assert_eq!(
        rb.status.code(),
        Some(0),
        "{what}: rollback failed:\n{}{}",
        stdout(&rb),
        stderr(&rb)
    );
    assert_eq!(
        jobs_running(b),
        Vec::<String>::new(),
        "{what}: jobs left running after the rollback:\n{}",
        stdout(&rb)
    );
    assert_same_state(
        &b.managed_state(),
        fresh,
        &format!("{what}: rollback did not restore the box"),
    );
}

/// A signal while provision waits for redis to settle, after upstart has started the whole
/// chain: the message says the start was under way and which jobs run, and a rollback
/// stops all of them, not only the one blotctl started itself.
#[test]
fn a_signal_during_a_job_start_is_rolled_back_whole() {
    if !require("visudo") {
        return;
    }
    let b = TestBox::fresh();
    let fresh = b.managed_state();
    b.write(
        "/etc/blotctl.toml",
        "start_settle_ms = 60000\nstart_timeout = 120\n",
    );
    let conf = b.path("/etc/blotctl.toml");
    // The journal records the starts before `initctl start redis`; once redis runs, the
    // run is in its minute-long settle wait.
    let out = signalled(&b, &["provision", "--yes"], libc::SIGTERM, || {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !jobs_running(&b).contains(&"redis".to_string()) {
            assert!(std::time::Instant::now() < deadline, "redis never started");
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(143), "{}{err}", stdout(&out));
    assert!(
        err.contains(
            "the next, `start redis` was under way and its wait was given up (upstart runs \
             redis, blot, nginx, monit now)"
        ),
        "{err}"
    );
    assert!(
        err.contains("or undo them with `blotctl rollback 2"),
        "{err}"
    );
    assert!(
        !err.contains("the one under way was finished first"),
        "{err}"
    );
    std::fs::write(&conf, "start_settle_ms = 0\nstart_timeout = 5\n").unwrap();
    rolled_back_to(&b, &fresh, "after SIGTERM in redis's wait");
}

/// Signals at random times while provision starts the jobs (the runs above use
/// --no-start): a run stopped part-way, rolled back, leaves no job running and the files
/// of the fresh box. Fewer runs than above: each starts and stops four jobs.
#[test]
fn signals_while_jobs_start() {
    use std::os::unix::process::ExitStatusExt;
    if !require("visudo") {
        return;
    }
    let runs = runs_from_env("BLOTCTL_SIGNAL_RUNS", 100) / 8;
    let settle = "start_settle_ms = 150\nstart_timeout = 5\n";
    let timed = |args: &[&str]| {
        let b = TestBox::fresh();
        b.write("/etc/blotctl.toml", settle);
        let t = std::time::Instant::now();
        let out = b.blotctl().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        t.elapsed().as_micros() as u64
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
        let out = signalled(&b, &["provision", "--yes"], sig, || {
            std::thread::sleep(after)
        });
        let what = format!("run {i}: {name} after {after:?}");
        let err = stderr(&out);
        match (out.status.code(), out.status.signal()) {
            (Some(0), _) => {}
            (Some(c), _) if c == 128 + sig => {
                assert!(
                    err.contains(&format!("interrupted by {name}")),
                    "{what}: {err}"
                );
                if err.contains("its wait was given up") {
                    in_a_wait += 1;
                }
            }
            (None, Some(s)) if s == sig => {}
            other => panic!("{what}: ended with {other:?}\n{}{err}", stdout(&out)),
        }
        assert!(temps(&b).is_empty(), "{what}: temp files left");
        b.write(
            "/etc/blotctl.toml",
            "start_settle_ms = 0\nstart_timeout = 5\n",
        );
        if out.status.code() != Some(0) && !runs_of(&b).is_empty() {
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
/// the run's stderr and exit code, and the managed files before and after a whole run.
fn provision_with_stdout(out: Stdio) -> (TestBox, String, Option<i32>, Files, Files) {
    let (old, new) = old_and_new();
    let b = TestBox::fresh();
    let run = b
        .blotctl_std()
        .args(["provision", "--yes", "--no-start"])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (b, stderr(&run), run.status.code(), old, new)
}

/// stdout closed by its reader (`provision --yes | head -1`): the run is not killed
/// half-way by SIGPIPE; it stops at the next change boundary, says how to undo what it did
/// (on stderr), exits 141, and a second run converges.
#[test]
fn a_closed_stdout_stops_a_run_between_two_changes() {
    use std::os::fd::{FromRawFd, OwnedFd};
    if !require("visudo") {
        return;
    }
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills two new descriptors, each owned once below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end); // the reader is gone before the first line
    let (b, err, code, old, new) = provision_with_stdout(Stdio::from(write_end));
    assert_eq!(code, Some(141), "{err}");
    assert!(
        err.contains("interrupted by SIGPIPE (its output was closed) after ")
            && err.contains("or undo them with `blotctl rollback 2"),
        "{err}"
    );
    assert!(temps(&b).is_empty());
    whole_files(&b, &old, &new, "closed stdout");
    check_after_crash(&b, &old, &new, "closed stdout");
}

/// stdout on a full disk (`> /dev/full`): no panic ("failed printing to stdout", exit
/// 101) half-way; the run stops between two changes with the rollback hint, exit 1.
#[test]
fn a_full_stdout_stops_a_run_between_two_changes() {
    if !require("visudo") {
        return;
    }
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let (b, err, code, old, new) = provision_with_stdout(Stdio::from(full()));
    assert_eq!(code, Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains(
            "stopped because its output failed (cannot write to stdout: No space left on device"
        ) && err.contains("or undo them with `blotctl rollback 2"),
        "{err}"
    );
    assert!(temps(&b).is_empty());
    whole_files(&b, &old, &new, "stdout on /dev/full");
    check_after_crash(&b, &old, &new, "stdout on /dev/full");
    // A dry run whose output cannot be written fails too, without a panic.
    let dry = b
        .blotctl_std()
        .args(["provision", "--dry-run"])
        .stdout(Stdio::from(full()))
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(1), "{}", stderr(&dry));
    assert!(
        stderr(&dry).contains("error: cannot write to stdout"),
        "{}",
        stderr(&dry)
    );
}
