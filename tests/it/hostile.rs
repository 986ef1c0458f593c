//! Hostile boxes: blotctl runs as root on a box whose files other users and earlier hands
//! have touched. Each case below sets up one attack or one careless mistake on a scratch
//! copy of the fixture box, runs one blotctl command, and checks the result against a
//! checksum of the whole tree (paths, types, modes, owners, link counts, link targets,
//! contents; the run lock excepted): a clear error naming the culprit and the tree exactly
//! as it was, or, where that is the right answer, convergence.
//!
//! Links, FIFOs and devices are made only inside the test's temp box (`TestBox::inside`).
//! The cases are grouped by the classes of issue 16; `every_class_has_named_cases` counts
//! them.

use crate::util::*;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a case expects.
enum Expect {
    /// Exit 1, the output names each of these, and the tree is exactly as before.
    Refused(&'static [&'static str]),
    /// This exit code, the output names each of these, and the tree is exactly as before.
    Unchanged(i32, &'static [&'static str]),
    /// This exit code, the output names none of these, and the tree is exactly as before.
    Without(i32, &'static [&'static str]),
    /// This exit code, the output names each of these, and the tree is exactly as before,
    /// the run lock included: refused before the lock was taken.
    Untouched(i32, &'static [&'static str]),
    /// Exit 0, then this holds on the result, and a dry run finds nothing left to do.
    Converges(fn(&TestBox)),
    /// This exit code, the output names each of these, and then this holds on the result.
    Ends(i32, &'static [&'static str], fn(&TestBox)),
}

struct Case {
    class: &'static str,
    name: &'static str,
    setup: fn(&TestBox),
    /// The command line after `--root BOX`; `@LAST` stands for the newest run id in the
    /// box's backups, `@DEST`/`@TAR` for a capture's directory/tarball inside the box,
    /// `@SHADOW` for the box's /etc/shadow as a host path.
    args: &'static [&'static str],
    /// How blotctl is started (environment, a private mount namespace); `plain` mostly.
    cmd: fn(&TestBox) -> Command,
    expect: Expect,
}

const PROVISION: &[&str] = &["provision", "--yes", "--no-start"];
const DRY_RUN: &[&str] = &["provision", "--dry-run", "--no-start"];

/// blotctl on the box, with the fakes first on PATH.
fn plain(b: &TestBox) -> Command {
    b.blotctl_std()
}

/// Run a case's command, failing (instead of hanging the suite) after 60 s.
fn run(b: &TestBox, case: &Case) -> Run {
    let mut cmd = (case.cmd)(b);
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| match *a {
            "@LAST" => runs(b).pop().expect("no run recorded"),
            // Inside the box, so that the checksum sees anything a capture writes.
            "@DEST" => b.root.join("capture").display().to_string(),
            "@TAR" => b.root.join("capture.tar.gz").display().to_string(),
            "@SHADOW" => b.inside("/etc/shadow").display().to_string(),
            a => a.to_string(),
        })
        .collect();
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            Run::new(&cmd, child.wait_with_output().unwrap()).fail("hung (killed after 60 s)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Run::new(&cmd, child.wait_with_output().unwrap())
}

fn check(case: &Case) {
    let b = TestBox::fresh();
    (case.setup)(&b);
    let before = b.fingerprint();
    let before_lock = b.fingerprint_with_lock();
    let out = run(&b, case);
    let names = |what: &[&str]| {
        for w in what {
            out.has(w);
        }
    };
    // The tree as it was, every path the run changed named (with the run's output).
    let same = |before: &std::collections::BTreeMap<String, String>, after| {
        let changed = differing(before, &after);
        out.check(
            changed.is_empty(),
            format_args!("the tree changed:\n  {}", changed.join("\n  ")),
        );
    };
    match &case.expect {
        Expect::Refused(what) => {
            out.code(1);
            names(what);
            same(&before, b.fingerprint());
        }
        Expect::Unchanged(want, what) => {
            out.code(*want);
            names(what);
            same(&before, b.fingerprint());
        }
        Expect::Untouched(want, what) => {
            out.code(*want);
            names(what);
            same(&before_lock, b.fingerprint_with_lock());
        }
        Expect::Without(want, what) => {
            out.code(*want);
            for w in *what {
                out.lacks(w);
            }
            same(&before, b.fingerprint());
        }
        Expect::Ends(want, what, holds) => {
            out.code(*want);
            names(what);
            holds(&b);
        }
        Expect::Converges(holds) => {
            out.success();
            holds(&b);
            b.run(DRY_RUN)
                .about("not converged: the dry run after it")
                .success();
        }
    }
    cleanup(&b);
}

/// Undo what outlives the temp dir (immutable flags).
fn cleanup(b: &TestBox) {
    for p in ["/etc/init", "/etc/hosts"] {
        let _ = Command::new("chattr")
            .arg("-i")
            .arg(b.inside(p))
            .stderr(Stdio::null())
            .status();
    }
}

fn run_class(class: &str) {
    needs!("visudo");
    let cases: Vec<Case> = cases().into_iter().filter(|c| c.class == class).collect();
    assert!(!cases.is_empty(), "no cases in class {class}");
    let mut failures = Vec::new();
    for case in &cases {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(case)));
        if let Err(e) = r {
            failures.push(format!("[{class}: {}] {}", case.name, panic_text(&*e)));
        }
    }
    assert_all_cases_passed(&failures, cases.len());
}

// ---------------------------------------------------------------------------------------
// Helpers for setting up attacks, all inside the box.

/// The box's own /etc/shadow (the fixture has none): what an attacker wants to own.
fn shadow(b: &TestBox) {
    let p = b.inside("/etc/shadow");
    std::fs::write(&p, "root:$6$secret$hash:17000:0:99999:7:::\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
}

fn logs_dir(b: &TestBox) {
    std::fs::create_dir(b.inside("/var/www/blot/logs")).unwrap();
    std::os::unix::fs::chown(b.inside("/var/www/blot/logs"), Some(500), Some(500)).unwrap();
}

fn hard_link(b: &TestBox, target: &str, link: &str) {
    std::fs::hard_link(b.inside(target), b.inside(link)).unwrap();
}

fn replace_with_symlink(b: &TestBox, path: &str, target: &str) {
    let p = b.inside(path);
    if p.exists() {
        std::fs::remove_file(&p).unwrap();
    }
    std::os::unix::fs::symlink(target, p).unwrap();
}

fn mknod(b: &TestBox, path: &str, kind: rustix::fs::FileType, dev: (u32, u32)) {
    let p = b.inside(path);
    if std::fs::symlink_metadata(&p).is_ok() {
        std::fs::remove_file(&p).unwrap();
    }
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &p,
        kind,
        rustix::fs::Mode::from_raw_mode(0o644),
        rustix::fs::makedev(dev.0, dev.1),
    )
    .unwrap();
}

fn fifo(b: &TestBox, path: &str) {
    mknod(b, path, rustix::fs::FileType::Fifo, (0, 0));
}

/// An sshd SysV service on in runlevels 2-5, as on a box that still runs it from rc.
fn sshd_service(b: &TestBox) {
    let script = b.inside("/etc/rc.d/init.d/sshd");
    std::fs::write(
        &script,
        "#!/bin/bash\n#\n# sshd\t\tStart up the OpenSSH server daemon\n#\n# chkconfig: 2345 55 25\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    for level in 0..=6 {
        let name = if (2..=5).contains(&level) {
            "S55sshd"
        } else {
            "K25sshd"
        };
        std::os::unix::fs::symlink(
            "../init.d/sshd",
            b.inside(&format!("/etc/rc.d/rc{level}.d/{name}")),
        )
        .unwrap();
    }
}

/// nginx runs the box's own /etc/nginx/nginx.conf (the checkout has no config/nginx.conf),
/// whose upstream is moved, as `line`, into /etc/nginx/conf.d/blot.conf, which the stock
/// `include /etc/nginx/conf.d/*.conf;` reads.
fn upstream_in_conf_d(b: &TestBox, line: &str) {
    std::fs::remove_file(b.inside("/var/www/blot/config/nginx.conf")).unwrap();
    let conf = b.read("/etc/nginx/nginx.conf");
    let inline = "    upstream blot {\n        server 127.0.0.1:8080;\n    }\n";
    assert!(
        conf.contains(inline) && conf.contains("include /etc/nginx/conf.d/*.conf;"),
        "the fixture's nginx.conf changed"
    );
    b.write("/etc/nginx/nginx.conf", &conf.replace(inline, ""));
    b.write(
        "/etc/nginx/conf.d/blot.conf",
        &format!("upstream blot {{\n    {line}\n}}\n"),
    );
}

/// Give a box file another owner (uid and gid) and mode.
fn chown_mode(b: &TestBox, path: &str, id: u32, mode: u32) {
    let p = b.inside(path);
    std::os::unix::fs::chown(&p, Some(id), Some(id)).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn config(b: &TestBox, extra: &str) {
    b.write(
        "/etc/blotctl.toml",
        &format!("start_settle_ms = 0\nstart_wait_healthy = false\nstart_timeout = 5\n{extra}"),
    );
}

/// A box provisioned as the runbook says (no jobs started).
fn provisioned(b: &TestBox) {
    b.run(PROVISION).success();
}

/// blotctl with one more environment variable, its value given as raw bytes.
fn with_env(b: &TestBox, name: &str, value: &[u8]) -> Command {
    use std::os::unix::ffi::OsStrExt;
    let mut c = b.blotctl_std();
    c.env(name, std::ffi::OsStr::from_bytes(value));
    c
}

/// blotctl in a private mount namespace, after `script` (sh; `$R` is the box's root) has
/// set up mounts there. They vanish with the namespace: nothing to undo, and the checksum,
/// taken outside, sees the box's own files.
fn in_namespace(b: &TestBox, script: &str) -> Command {
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-euc"])
        .arg(format!("{script}\nexec \"$@\""))
        .arg("sh")
        .arg(blotctl_bin())
        .arg("--root")
        .arg(&b.root)
        .env("R", &b.root)
        .env("PATH", fake_path())
        .env_remove("BLOTCTL_ROOT")
        .env_remove("BLOTCTL_CONFIG");
    c
}

fn backups_dir(b: &TestBox) {
    std::fs::create_dir_all(b.inside("/var/lib/blotctl")).unwrap();
}

/// The run ids in the box's backups, oldest first.
fn runs(b: &TestBox) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(b.inside("/var/lib/blotctl/backups"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// The newest run's manifest, edited as JSON.
fn edit_manifest(b: &TestBox, edit: impl FnOnce(&mut serde_json::Value)) {
    let id = runs(b).pop().expect("no run recorded");
    let p = b.inside(&format!("/var/lib/blotctl/backups/{id}/manifest.json"));
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// The newest run's manifest entry for `path`.
fn entry<'a>(v: &'a mut serde_json::Value, path: &str) -> &'a mut serde_json::Value {
    v["entries"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["path"] == path)
        .unwrap_or_else(|| panic!("no entry for {path}"))
}

/// The box path of the blob the newest run saved for `path`.
fn blob_of(b: &TestBox, path: &str) -> String {
    let id = runs(b).pop().unwrap();
    let p = b.inside(&format!("/var/lib/blotctl/backups/{id}/manifest.json"));
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    let blob = entry(&mut v, path)["original"]["blob"]
        .as_str()
        .unwrap()
        .to_string();
    format!("/var/lib/blotctl/backups/{id}/{blob}")
}

/// The stock sudoers with its `Defaults    requiretty` line replaced by `lines`.
fn stock_sudoers_with(b: &TestBox, lines: &str) {
    let s = b.read("/etc/sudoers");
    assert!(s.contains("\nDefaults    requiretty\n"));
    b.write(
        "/etc/sudoers",
        &s.replace("\nDefaults    requiretty\n", &format!("\n{lines}")),
    );
}

fn sudoers_has(b: &TestBox, line: &str) {
    let s = b.read("/etc/sudoers");
    assert!(s.lines().any(|l| l == line), "no line {line:?} in:\n{s}");
}

fn sudoers_d(b: &TestBox, name: &str, text: &str, mode: u32, uid: u32) {
    let p = b.inside(&format!("/etc/sudoers.d/{name}"));
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    std::os::unix::fs::chown(&p, Some(uid), Some(uid)).unwrap();
}

fn requiretty_back(b: &TestBox) {
    assert!(b
        .read("/etc/sudoers")
        .contains("\nDefaults    requiretty\n"));
}

fn cases() -> Vec<Case> {
    use Expect::*;
    vec![
        // ---- root does an attacker's chown: links are never followed, hard links refused
        Case {
            class: "root does an attacker's chown",
            name: "a log file hard-linked to /etc/shadow",
            setup: |b| {
                shadow(b);
                logs_dir(b);
                hard_link(b, "/etc/shadow", "/var/www/blot/logs/app.log");
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/var/www/blot/logs/app.log has 2 hard links"]),
        },
        Case {
            class: "root does an attacker's chown",
            name: "a log file that is a symlink to /etc/shadow",
            setup: |b| {
                shadow(b);
                logs_dir(b);
                replace_with_symlink(b, "/var/www/blot/logs/sys.log", "/etc/shadow");
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/var/www/blot/logs/sys.log is a symlink"]),
        },
        Case {
            class: "root does an attacker's chown",
            name: "the logs directory is a symlink to /etc",
            setup: |b| replace_with_symlink(b, "/var/www/blot/logs", "/etc"),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/var/www/blot/logs is a symlink"]),
        },
        Case {
            class: "root does an attacker's chown",
            name: "a job file hard-linked to /etc/passwd",
            setup: |b| hard_link(b, "/etc/passwd", "/etc/init/blot.conf"),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/init/blot.conf has 2 hard links"]),
        },
        Case {
            class: "root does an attacker's chown",
            name: "the monit control file hard-linked to /etc/sudoers",
            setup: |b| hard_link(b, "/etc/sudoers", "/etc/monit.rc"),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/monit.rc has 2 hard links"]),
        },
        Case {
            class: "root does an attacker's chown",
            name: "/etc/logrotate.d is a symlink out of the box",
            setup: |b| {
                std::fs::remove_dir_all(b.inside("/etc/logrotate.d")).unwrap();
                std::os::unix::fs::symlink("/tmp", b.inside("/etc/logrotate.d")).unwrap();
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/logrotate.d is a symlink"]),
        },
        Case {
            class: "root does an attacker's chown",
            name: "an existing log hard-linked to another log: a dry run says so",
            setup: |b| {
                logs_dir(b);
                b.write("/var/www/blot/logs/app.log", "");
                hard_link(
                    b,
                    "/var/www/blot/logs/app.log",
                    "/var/www/blot/logs/monit.log",
                );
            },
            args: DRY_RUN,
            cmd: plain,
            expect: Unchanged(1, &["has 2 hard links"]),
        },
        // ---- special files: every read is of a regular file, capped
        Case {
            class: "special files",
            name: "a FIFO at /etc/hosts (provision)",
            setup: |b| fifo(b, "/etc/hosts"),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/hosts is a FIFO"]),
        },
        Case {
            class: "special files",
            name: "a FIFO at /etc/hosts (dry run)",
            setup: |b| fifo(b, "/etc/hosts"),
            args: DRY_RUN,
            cmd: plain,
            expect: Unchanged(1, &["/etc/hosts is a FIFO"]),
        },
        Case {
            class: "special files",
            name: "a FIFO at the redis config",
            setup: |b| {
                // The box's own, which runs when the checkout has none.
                std::fs::remove_file(b.inside("/var/www/blot/config/redis.conf")).unwrap();
                fifo(b, "/etc/redis.conf")
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/redis.conf is a FIFO"]),
        },
        Case {
            class: "special files",
            name: "a FIFO at the validation record",
            setup: |b| {
                backups_dir(b);
                fifo(b, "/var/lib/blotctl/validated.json")
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&[
                "/var/lib/blotctl/validated.json is a FIFO",
                "no managed file was changed",
            ]),
        },
        Case {
            class: "special files",
            name: "a link at the validation record",
            setup: |b| {
                backups_dir(b);
                std::os::unix::fs::symlink("/etc/shadow", b.inside("/var/lib/blotctl/validated.json"))
                    .unwrap()
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&[
                "/var/lib/blotctl/validated.json",
                "symlink",
                "no managed file was changed",
            ]),
        },
        Case {
            class: "special files",
            name: "a directory at the validation record",
            setup: |b| {
                std::fs::create_dir_all(b.inside("/var/lib/blotctl/validated.json")).unwrap()
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&[
                "/var/lib/blotctl/validated.json is a directory",
                "no managed file was changed",
            ]),
        },
        Case {
            class: "special files",
            name: "a FIFO in /etc/sudoers.d",
            setup: |b| fifo(b, "/etc/sudoers.d/zz-pipe"),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/sudoers.d/zz-pipe is a FIFO"]),
        },
        Case {
            class: "special files",
            name: "a FIFO at /etc/blotctl.toml (config)",
            setup: |b| fifo(b, "/etc/blotctl.toml"),
            args: &["config"],
            cmd: plain,
            expect: Refused(&["/etc/blotctl.toml is a FIFO"]),
        },
        Case {
            class: "special files",
            name: "a FIFO at /etc/passwd",
            setup: |b| fifo(b, "/etc/passwd"),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/passwd is a FIFO"]),
        },
        Case {
            class: "special files",
            name: "/dev/zero at /etc/hosts",
            setup: |b| {
                mknod(
                    b,
                    "/etc/hosts",
                    rustix::fs::FileType::CharacterDevice,
                    (1, 5),
                )
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/hosts is a character device"]),
        },
        Case {
            class: "special files",
            name: "/dev/null at /etc/hosts: nothing written before it is found",
            setup: |b| {
                mknod(
                    b,
                    "/etc/hosts",
                    rustix::fs::FileType::CharacterDevice,
                    (1, 3),
                )
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/hosts is a character device"]),
        },
        Case {
            class: "special files",
            name: "a socket at the monit control file",
            setup: |b| {
                let l = std::os::unix::net::UnixListener::bind(b.inside("/etc/monit.rc"));
                drop(l.unwrap());
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/monit.rc is a socket"]),
        },
        Case {
            class: "special files",
            name: "a directory at /etc/hosts",
            setup: |b| {
                std::fs::remove_file(b.inside("/etc/hosts")).unwrap();
                std::fs::create_dir(b.inside("/etc/hosts")).unwrap();
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/hosts is a directory"]),
        },
        Case {
            class: "special files",
            name: "a 17 MiB sparse /etc/hosts",
            setup: |b| {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(b.inside("/etc/hosts"))
                    .unwrap();
                f.set_len(17 << 20).unwrap();
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/hosts is larger than"]),
        },
        Case {
            class: "special files",
            name: "a FIFO named like a stale temp file is left alone",
            setup: |b| fifo(b, "/etc/.blotctl-AbCdEf~"),
            args: PROVISION,
            cmd: plain,
            expect: Converges(|b| {
                let m = std::fs::symlink_metadata(b.inside("/etc/.blotctl-AbCdEf~")).unwrap();
                assert!(std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()));
            }),
        },
        Case {
            class: "special files",
            name: "a FIFO at a job file: capture fails and writes nothing",
            setup: |b| {
                provisioned(b);
                fifo(b, "/etc/init/blot.conf");
            },
            args: &["capture", "@DEST"],
            cmd: plain,
            expect: Refused(&[
                "planning cannot read it",
                "/etc/init/blot.conf is a FIFO",
                "nothing was written to",
            ]),
        },
        Case {
            class: "special files",
            name: "a FIFO at the checkout's redis config: no capture tarball",
            setup: |b| {
                provisioned(b);
                fifo(b, "/var/www/blot/config/redis.conf");
            },
            args: &["capture", "@TAR"],
            cmd: plain,
            expect: Refused(&[
                "/var/www/blot/config/redis.conf is a FIFO",
                "nothing was written to",
            ]),
        },
        Case {
            class: "special files",
            name: "--config /dev/null: never told to remove it",
            setup: |_| {},
            args: &["config", "--config", "/dev/null"],
            cmd: plain,
            expect: Unchanged(
                1,
                &[
                    "/dev/null is a character device",
                    "(point the setting or option that names it at a regular file)",
                ],
            ),
        },
        Case {
            class: "special files",
            name: "a symlinked app_dir is named as a symlink",
            setup: |b| {
                let real = b.inside("/var/www/blot-real");
                std::fs::rename(b.inside("/var/www/blot"), &real).unwrap();
                std::os::unix::fs::symlink("blot-real", b.inside("/var/www/blot")).unwrap();
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["the app directory /var/www/blot is a symlink (to blot-real)"]),
        },
        // ---- system files root reads, edited in place: a file another user owns or may
        // write is refused, naming it (it may have been tampered with already: the admin
        // looks, and makes it root's), with nothing changed
        Case {
            class: "system files others can write",
            name: "/etc/hosts owned by the app user (dry run)",
            setup: |b| chown_mode(b, "/etc/hosts", 500, 0o640),
            args: DRY_RUN,
            cmd: plain,
            expect: Unchanged(
                1,
                &["refusing to manage /etc/hosts: /etc/hosts belongs to uid 500"],
            ),
        },
        Case {
            class: "system files others can write",
            name: "/etc/hosts owned by the app user (provision)",
            setup: |b| chown_mode(b, "/etc/hosts", 500, 0o644),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&[
                "no managed file was changed",
                "refusing to manage /etc/hosts: /etc/hosts belongs to uid 500",
            ]),
        },
        Case {
            class: "system files others can write",
            name: "a world-writable /etc/hosts",
            setup: |b| chown_mode(b, "/etc/hosts", 0, 0o666),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/hosts is writable by everyone (mode 0666)"]),
        },
        Case {
            class: "system files others can write",
            name: "/etc/hosts writable by the app user's group",
            setup: |b| {
                chown_mode(b, "/etc/hosts", 0, 0o664);
                std::os::unix::fs::chown(b.inside("/etc/hosts"), None, Some(500)).unwrap();
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/hosts is writable by group 500 (mode 0664)"]),
        },
        Case {
            class: "system files others can write",
            name: "/etc/sysctl.conf owned by another user",
            setup: |b| chown_mode(b, "/etc/sysctl.conf", 1000, 0o644),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["refusing to manage /etc/sysctl.conf: /etc/sysctl.conf belongs to uid 1000"]),
        },
        Case {
            class: "system files others can write",
            name: "verify --offline fails on a provisioned box whose hosts the app user took",
            setup: |b| {
                provisioned(b);
                chown_mode(b, "/etc/hosts", 500, 0o644);
            },
            args: &["verify", "--offline"],
            cmd: plain,
            expect: Unchanged(
                1,
                &["FAIL  provisioned: hosts: refusing to manage /etc/hosts: /etc/hosts belongs to uid 500"],
            ),
        },
        // ---- settings aimed at system files: refused at load time, naming key and source
        Case {
            class: "settings aimed at system files",
            name: "monit_rc = /etc/sudoers on a provisioned box",
            setup: |b| {
                provisioned(b);
                config(b, "monit_rc = \"/etc/sudoers\"\n");
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["monit_rc", "/etc/sudoers", "config file /etc/blotctl.toml"]),
        },
        Case {
            class: "settings aimed at system files",
            name: "monit_rc = /etc/shadow from the environment",
            setup: shadow,
            args: PROVISION,
            cmd: |b| with_env(b, "BLOTCTL_MONIT_RC", b"/etc/shadow"),
            expect: Refused(&[
                "never writes /etc/shadow",
                "environment variable BLOTCTL_MONIT_RC",
            ]),
        },
        Case {
            class: "settings aimed at system files",
            name: "monit_rc = a job file, from --set",
            setup: |_| {},
            args: &[
                "provision",
                "--yes",
                "--no-start",
                "--set",
                "monit_rc=/etc/init/blot.conf",
            ],
            cmd: plain,
            // A bad --set is fixed on the command line: a usage error (64).
            expect: Unchanged(64, &["monit_rc", "--set monit_rc=/etc/init/blot.conf"]),
        },
        Case {
            class: "settings aimed at system files",
            name: "monit_rc = /etc/hosts",
            setup: |b| config(b, "monit_rc = \"/etc/hosts\"\n"),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["monit_rc = \"/etc/hosts\": that is the hosts file"]),
        },
        Case {
            class: "settings aimed at system files",
            name: "monit_rc = /etc/passwd, even in a dry run",
            setup: |b| config(b, "monit_rc = \"/etc/passwd\"\n"),
            args: DRY_RUN,
            cmd: plain,
            expect: Unchanged(1, &["never writes /etc/passwd"]),
        },
        Case {
            class: "settings aimed at system files",
            name: "monit_rc = the redis config blotctl only reads",
            setup: |b| {
                config(
                    b,
                    "monit_rc = \"/etc/monitrc\"\nredis_config = \"/etc/monitrc\"\n",
                )
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["monit_rc and redis_config are both"]),
        },
        Case {
            class: "settings aimed at system files",
            name: "monit_rc outside the places monit keeps it",
            setup: |b| config(b, "monit_rc = \"/etc/cron.d/monit\"\n"),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["monit_rc = \"/etc/cron.d/monit\"", "places monit keeps it"]),
        },
        Case {
            class: "settings aimed at system files",
            name: "app_dir = /etc (logs owned by the app user in /etc)",
            setup: |b| config(b, "app_dir = \"/etc\"\n"),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["app_dir = \"/etc\": a system directory"]),
        },
        Case {
            class: "settings aimed at system files",
            name: "redis_services names sshd (--set)",
            setup: sshd_service,
            args: &[
                "provision",
                "--yes",
                "--no-start",
                "--set",
                "redis_services=[\"sshd\"]",
            ],
            cmd: plain,
            expect: Unchanged(
                64,
                &[
                    "redis_services: \"sshd\" is not the name of a redis init script",
                    "--set redis_services=[\"sshd\"]",
                ],
            ),
        },
        Case {
            class: "settings aimed at system files",
            name: "redis_services names sshd after redis (config file)",
            setup: |b| {
                sshd_service(b);
                config(b, "redis_services = [\"redis\", \"sshd\"]\n");
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&[
                "\"sshd\" is not the name of a redis init script",
                "config file /etc/blotctl.toml",
            ]),
        },
        Case {
            class: "settings aimed at system files",
            name: "BLOTCTL_REDIS_SERVICES names sshd, even in a dry run",
            setup: sshd_service,
            args: DRY_RUN,
            cmd: |b| with_env(b, "BLOTCTL_REDIS_SERVICES", b"[\"sshd\"]"),
            expect: Unchanged(
                1,
                &[
                    "\"sshd\" is not the name of a redis init script",
                    "environment variable BLOTCTL_REDIS_SERVICES",
                ],
            ),
        },
        Case {
            class: "settings aimed at system files",
            name: "--config /etc/shadow: where it is not TOML, not its lines",
            setup: shadow,
            args: &["config", "--config", "@SHADOW"],
            cmd: plain,
            expect: Unchanged(1, &["not a TOML file: line 1, column 39", "is not shown"]),
        },
        Case {
            class: "settings aimed at system files",
            name: "--config /etc/shadow --json: nor in the document",
            setup: shadow,
            args: &["provision", "--dry-run", "--json", "--config", "@SHADOW"],
            cmd: plain,
            expect: Without(1, &["$6$secret", "root:", "hash:"]),
        },
        // ---- settings that make no sense
        Case {
            class: "settings that make no sense",
            name: "blot_port against an upstream in the stock conf.d include",
            setup: |b| upstream_in_conf_d(b, "server 127.0.0.1:8080;"),
            args: &["provision", "--dry-run", "--set", "blot_port=9000"],
            cmd: plain,
            expect: Unchanged(
                1,
                &[
                    "blot_port is 9000, but /etc/nginx/conf.d/blot.conf sends requests to \
                     127.0.0.1:8080 (line 2)",
                ],
            ),
        },
        Case {
            class: "settings that make no sense",
            name: "blot_port against an upstream the checkout's config includes from conf.d",
            setup: |b| {
                b.write("/etc/nginx/conf.d/blot.conf", "upstream blot {\n    server 127.0.0.1:8080;\n}\n");
                let conf = b.read("/var/www/blot/config/nginx.conf");
                let inline = "    upstream blot {\n        server 127.0.0.1:8080;\n    }\n";
                assert!(conf.contains(inline));
                b.write(
                    "/var/www/blot/config/nginx.conf",
                    &conf.replace(inline, "    include /etc/nginx/conf.d/*.conf;\n"),
                );
            },
            args: &["provision", "--dry-run", "--set", "blot_port=9000"],
            cmd: plain,
            expect: Unchanged(1, &["blot_port is 9000, but /etc/nginx/conf.d/blot.conf"]),
        },
        Case {
            class: "settings that make no sense",
            name: "nginx_port against the listen of the config nginx runs",
            setup: |_| {},
            args: &["provision", "--dry-run", "--set", "nginx_port=81"],
            cmd: plain,
            expect: Unchanged(
                1,
                &[
                    "nginx_port is 81, but /var/www/blot/config/nginx.conf has nginx listen \
                     on *:80 (line 26), not on 127.0.0.1:81",
                ],
            ),
        },
        Case {
            class: "settings that make no sense",
            name: "nginx_port against the box's config: its listens are not loopback's 8081",
            setup: |b| std::fs::remove_file(b.inside("/var/www/blot/config/nginx.conf")).unwrap(),
            args: &["provision", "--dry-run", "--set", "nginx_port=8081"],
            cmd: plain,
            expect: Unchanged(
                1,
                &["nginx_port is 8081, but /etc/nginx/nginx.conf has nginx listen on *:80 (line 43), [::]:80 (line 44)"],
            ),
        },
        Case {
            class: "settings that make no sense",
            name: "nginx_port that a server in conf.d listens on is planned",
            setup: |b| {
                std::fs::remove_file(b.inside("/var/www/blot/config/nginx.conf")).unwrap();
                b.write(
                    "/etc/nginx/conf.d/local.conf",
                    "server {\n    listen 127.0.0.1:8081;\n}\n",
                );
            },
            args: &["provision", "--dry-run", "--set", "nginx_port=8081"],
            cmd: plain,
            expect: Unchanged(2, &["if failed port 8081 protocol http"]),
        },
        Case {
            class: "settings that make no sense",
            name: "a localhost upstream in conf.d fails verify --offline",
            setup: |b| {
                upstream_in_conf_d(b, "server localhost:8080;");
                provisioned(b);
            },
            args: &["verify", "--offline"],
            cmd: plain,
            expect: Unchanged(
                1,
                &["FAIL  nginx upstreams use 127.0.0.1: /etc/nginx/conf.d/blot.conf line 2 names `localhost`"],
            ),
        },
        Case {
            class: "settings that make no sense",
            name: "user = root",
            setup: |b| config(b, "user = \"root\"\n"),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&[
                "user = \"root\" is root (uid 0)",
                "config file /etc/blotctl.toml",
            ]),
        },
        Case {
            class: "settings that make no sense",
            name: "a user with uid 0 in the box's /etc/passwd",
            setup: |b| {
                let p = b.read("/etc/passwd") + "toor:x:0:0:root again:/root:/bin/bash\n";
                b.write("/etc/passwd", &p);
                config(b, "user = \"toor\"\n");
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["user = \"toor\" is root (uid 0)"]),
        },
        Case {
            class: "settings that make no sense",
            name: "blot_port = 65536 in the config file",
            setup: |b| config(b, "blot_port = 65536\n"),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["config file /etc/blotctl.toml", "blot_port = 65536"]),
        },
        Case {
            class: "settings that make no sense",
            name: "BLOTCTL_NGINX_PORT=65536",
            setup: |_| {},
            args: PROVISION,
            cmd: |b| with_env(b, "BLOTCTL_NGINX_PORT", b"65536"),
            expect: Refused(&[
                "environment variable BLOTCTL_NGINX_PORT",
                "nginx_port = 65536",
            ]),
        },
        Case {
            class: "settings that make no sense",
            name: "--set blot_port=abc",
            setup: |_| {},
            args: &["provision", "--yes", "--no-start", "--set", "blot_port=abc"],
            cmd: plain,
            expect: Unchanged(
                64,
                &[
                    "--set \"blot_port=abc\"",
                    "is not a whole number from 0 to 65535",
                ],
            ),
        },
        Case {
            class: "settings that make no sense",
            name: "start_timeout near u64::MAX in deploy",
            setup: |b| b.write("/etc/blotctl.toml", "start_timeout = 9223372036854775807\n"),
            args: &["deploy", "--dry-run"],
            cmd: plain,
            expect: Refused(&[
                "start_timeout = 9223372036854775807: must be 1..=3600",
                "config file /etc/blotctl.toml",
            ]),
        },
        Case {
            class: "settings that make no sense",
            name: "start_settle_ms of a year",
            setup: |b| b.write("/etc/blotctl.toml", "start_settle_ms = 31536000000\n"),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["start_settle_ms = 31536000000: at most 600000"]),
        },
        // ---- the environment
        Case {
            class: "the environment",
            name: "a variable blotctl does not read holds non-UTF-8 bytes",
            setup: |_| {},
            args: DRY_RUN,
            cmd: |b| with_env(b, "LC_WEIRD", b"caf\xe9"),
            expect: Unchanged(2, &["would change sudoers"]),
        },
        Case {
            class: "the environment",
            name: "BLOTCTL_USER holds non-UTF-8 bytes",
            setup: |_| {},
            args: PROVISION,
            cmd: |b| with_env(b, "BLOTCTL_USER", b"ec2-\xffuser"),
            expect: Refused(&["BLOTCTL_USER", "not valid UTF-8"]),
        },
        Case {
            class: "the environment",
            name: "BLOTCTL_SSH_OPTS is not an unknown key",
            setup: |_| {},
            args: DRY_RUN,
            cmd: |b| with_env(b, "BLOTCTL_SSH_OPTS", b"-o ConnectTimeout=5"),
            expect: Without(2, &["unknown key", "warning"]),
        },
        Case {
            class: "the environment",
            name: "config with a non-UTF-8 variable",
            setup: |_| {},
            args: &["config"],
            cmd: |b| with_env(b, "HOSTILE", b"\xff\xfe"),
            expect: Unchanged(0, &["app_dir = "]),
        },
        // ---- full or read-only filesystems: found before the first change
        Case {
            class: "full or read-only filesystems",
            name: "a read-only /etc/init",
            setup: |_| {},
            args: PROVISION,
            cmd: |b| {
                in_namespace(
                    b,
                    r#"mount --bind "$R/etc/init" "$R/etc/init"
                       mount -o remount,bind,ro "$R/etc/init""#,
                )
            },
            expect: Refused(&[
                "/etc/init is on a read-only filesystem",
                "no managed file was changed",
            ]),
        },
        Case {
            class: "full or read-only filesystems",
            name: "a full filesystem for the backups",
            setup: backups_dir,
            args: PROVISION,
            cmd: |b| {
                in_namespace(
                    b,
                    r#"mount -t tmpfs -o size=16k tmpfs "$R/var/lib/blotctl"
                       dd if=/dev/zero of="$R/var/lib/blotctl/filler" bs=4k count=64 2>/dev/null || true"#,
                )
            },
            // The backups, and the record of what the validators accepted beside them.
            expect: Refused(&[
                "not enough free space for /var/lib/blotctl, /var/lib/blotctl/backups",
            ]),
        },
        Case {
            class: "full or read-only filesystems",
            name: "no free inodes for the job files",
            setup: |_| {},
            args: PROVISION,
            cmd: |b| {
                in_namespace(
                    b,
                    r#"n=$(ls -A "$R/etc/init" | wc -l)
                       cp -a "$R/etc/init" "$R/../init-copy"
                       mount -t tmpfs -o nr_inodes=$((n + 1)) tmpfs "$R/etc/init"
                       cp -a "$R/../init-copy/." "$R/etc/init/""#,
                )
            },
            expect: Refused(&["no free inodes for /etc/init"]),
        },
        Case {
            class: "full or read-only filesystems",
            name: "a read-only filesystem for the backups",
            setup: backups_dir,
            args: PROVISION,
            cmd: |b| {
                in_namespace(
                    b,
                    r#"mount --bind "$R/var/lib/blotctl" "$R/var/lib/blotctl"
                       mount -o remount,bind,ro "$R/var/lib/blotctl""#,
                )
            },
            // /var/lib/blotctl (the record of what the validators accepted) is checked with them.
            expect: Refused(&["/var/lib/blotctl is on a read-only filesystem"]),
        },
        Case {
            class: "full or read-only filesystems",
            name: "a read-only app directory (the logs cannot be created)",
            setup: |_| {},
            args: PROVISION,
            cmd: |b| {
                in_namespace(
                    b,
                    r#"mount --bind "$R/var/www/blot" "$R/var/www/blot"
                       mount -o remount,bind,ro "$R/var/www/blot""#,
                )
            },
            expect: Refused(&["/var/www/blot is on a read-only filesystem"]),
        },
        Case {
            class: "full or read-only filesystems",
            name: "read-only rc link directories (chkconfig could not turn services off)",
            setup: |_| {},
            args: PROVISION,
            cmd: |b| {
                in_namespace(
                    b,
                    r#"mount --bind "$R/etc/rc.d" "$R/etc/rc.d"
                       mount -o remount,bind,ro "$R/etc/rc.d""#,
                )
            },
            expect: Refused(&["/etc/rc.d/rc0.d is on a read-only filesystem"]),
        },
        Case {
            class: "full or read-only filesystems",
            name: "an immutable /etc/init",
            setup: |b| {
                Command::new("chattr")
                    .arg("+i")
                    .arg(b.inside("/etc/init"))
                    .run()
                    .success();
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["immutable or append-only"]),
        },
        // ---- rollback
        Case {
            class: "rollback",
            name: "a tampered manifest names /etc/shadow",
            setup: |b| {
                shadow(b);
                provisioned(b);
                edit_manifest(b, |v| {
                    entry(v, "/etc/sudoers")["path"] = "/etc/shadow".into()
                });
            },
            args: &["rollback", "--yes"],
            cmd: plain,
            expect: Refused(&[
                "damaged",
                "/etc/shadow, which is not a path blotctl manages",
            ]),
        },
        Case {
            class: "rollback",
            name: "a line added to /etc/sysctl.conf after the run is kept, with a note",
            setup: |b| {
                provisioned(b);
                let h = b.read("/etc/sysctl.conf") + "net.ipv4.ip_forward = 0\n";
                b.write("/etc/sysctl.conf", &h);
            },
            args: &["rollback", "--yes"],
            cmd: plain,
            expect: Ends(0, &["kept /etc/sysctl.conf: it changed after run"], |b| {
                assert!(b
                    .read("/etc/sysctl.conf")
                    .contains("net.ipv4.ip_forward = 0"));
                requiretty_back(b);
            }),
        },
        Case {
            class: "rollback",
            name: "a rule added to sudoers after the run is kept, with a note",
            setup: |b| {
                provisioned(b);
                let s = b.read("/etc/sudoers") + "deploy ALL=(ALL) NOPASSWD: /bin/true\n";
                b.write("/etc/sudoers", &s);
            },
            args: &["rollback", "--yes"],
            cmd: plain,
            expect: Ends(0, &["kept /etc/sudoers: it changed after run"], |b| {
                assert!(b.read("/etc/sudoers").contains("deploy ALL=(ALL)"));
                assert!(!b.inside("/etc/init/blot.conf").exists());
            }),
        },
        Case {
            class: "rollback",
            name: "a log the app wrote to after the run is kept, with a note",
            setup: |b| {
                provisioned(b);
                b.write("/var/www/blot/logs/app.log", "listening on 8080\n");
            },
            args: &["rollback", "--yes"],
            cmd: plain,
            expect: Ends(
                0,
                &[
                    "kept /var/www/blot/logs/app.log",
                    "kept /var/www/blot/logs/",
                ],
                |b| {
                    assert_eq!(b.read("/var/www/blot/logs/app.log"), "listening on 8080\n");
                    assert!(!b.inside("/var/www/blot/logs/sys.log").exists());
                },
            ),
        },
        Case {
            class: "rollback",
            name: "rolling back a rollback converges (the logs directory comes back)",
            setup: |b| {
                provisioned(b);
                b.run(&["rollback", "--yes"]).success();
                assert!(!b.inside("/var/www/blot/logs").exists());
            },
            args: &["rollback", "@LAST", "--yes"],
            cmd: plain,
            expect: Converges(|b| {
                assert_eq!(b.owner("/var/www/blot/logs"), (500, 500));
                assert_eq!(b.owner("/var/www/blot/logs/app.log"), (500, 500));
            }),
        },
        Case {
            class: "rollback",
            name: "a damaged manifest of a later run does not block rolling back",
            setup: |b| {
                provisioned(b);
                let dir = b.inside("/var/lib/blotctl/backups/29991231T000000Z");
                std::fs::create_dir(&dir).unwrap();
                std::fs::write(dir.join("manifest.json"), "{ not json").unwrap();
            },
            args: &["rollback", "--yes"],
            cmd: plain,
            expect: Ends(0, &["passed over run 29991231T000000Z"], requiretty_back),
        },
        Case {
            class: "rollback",
            name: "rollback --list marks a damaged manifest and lists the others",
            setup: |b| {
                provisioned(b);
                let dir = b.inside("/var/lib/blotctl/backups/29991231T000000Z");
                std::fs::create_dir(&dir).unwrap();
                std::fs::write(dir.join("manifest.json"), "[]").unwrap();
            },
            args: &["rollback", "--list"],
            cmd: plain,
            expect: Unchanged(
                0,
                &[
                    "29991231T000000Z  damaged",
                    "provision",
                    "can be rolled back",
                ],
            ),
        },
        Case {
            class: "rollback",
            name: "a damaged run named by its id is refused",
            setup: |b| {
                provisioned(b);
                edit_manifest(b, |v| v["entries"][0]["entry"] = "nonsense".into());
            },
            args: &["rollback", "@LAST", "--yes"],
            cmd: plain,
            expect: Refused(&["cannot be rolled back, its manifest is damaged"]),
        },
        Case {
            class: "rollback",
            name: "a manifest whose run id points elsewhere",
            setup: |b| {
                provisioned(b);
                edit_manifest(b, |v| v["run_id"] = "../../../../etc".into());
            },
            args: &["rollback", "--yes"],
            cmd: plain,
            expect: Refused(&["damaged", "it names run \"../../../../etc\""]),
        },
        // ---- backups are not trusted blindly
        Case {
            class: "backups trusted blindly",
            name: "a truncated sudoers blob",
            setup: |b| {
                provisioned(b);
                let blob = b.inside(&blob_of(b, "/etc/sudoers"));
                let half = std::fs::read(&blob).unwrap();
                std::fs::write(&blob, &half[..half.len() / 2]).unwrap();
            },
            args: &["rollback", "--yes"],
            cmd: plain,
            expect: Refused(&["is not what run", "refusing to restore from it"]),
        },
        Case {
            class: "backups trusted blindly",
            name: "a blob that is a symlink to /etc/shadow",
            setup: |b| {
                shadow(b);
                provisioned(b);
                let blob = blob_of(b, "/etc/sysctl.conf");
                replace_with_symlink(b, &blob, "/etc/shadow");
            },
            args: &["rollback", "--yes"],
            cmd: plain,
            expect: Refused(&["is a symlink"]),
        },
        Case {
            class: "backups trusted blindly",
            name: "a blob hard-linked to /etc/shadow",
            setup: |b| {
                shadow(b);
                provisioned(b);
                let blob = blob_of(b, "/etc/sysctl.conf");
                std::fs::remove_file(b.inside(&blob)).unwrap();
                hard_link(b, "/etc/shadow", &blob);
            },
            args: &["rollback", "--yes"],
            cmd: plain,
            expect: Refused(&["has 2 hard links"]),
        },
        Case {
            class: "backups trusted blindly",
            name: "a blob that is a FIFO",
            setup: |b| {
                provisioned(b);
                let blob = blob_of(b, "/etc/sysctl.conf");
                fifo(b, &blob);
            },
            args: &["rollback", "--yes"],
            cmd: plain,
            expect: Refused(&["is a FIFO"]),
        },
        Case {
            class: "backups trusted blindly",
            name: "a recorded mode 4755 for /etc/sysctl.conf",
            setup: |b| {
                provisioned(b);
                edit_manifest(b, |v| {
                    entry(v, "/etc/sysctl.conf")["original"]["mode"] = 0o4755.into()
                });
            },
            args: &["rollback", "--yes"],
            cmd: plain,
            expect: Refused(&["/etc/sysctl.conf: mode 4755"]),
        },
        Case {
            class: "backups trusted blindly",
            name: "a recorded owner of sudoers that is the app user",
            setup: |b| {
                provisioned(b);
                edit_manifest(b, |v| {
                    let o = &mut entry(v, "/etc/sudoers")["original"];
                    o["uid"] = 500.into();
                    o["gid"] = 500.into();
                });
            },
            args: &["rollback", "--yes"],
            cmd: plain,
            expect: Refused(&["/etc/sudoers: owner uid 500"]),
        },
        Case {
            class: "backups trusted blindly",
            name: "a blob name that is a path",
            setup: |b| {
                shadow(b);
                provisioned(b);
                edit_manifest(b, |v| {
                    entry(v, "/etc/sysctl.conf")["original"]["blob"] =
                        "../../../../../etc/shadow".into()
                });
            },
            args: &["rollback", "--yes"],
            cmd: plain,
            expect: Refused(&["blob name"]),
        },
        // ---- sudoers as sudo reads it
        Case {
            class: "sudoers as sudo reads it",
            name: "requiretty scoped to the command (Defaults!/bin/sh, what the job runs)",
            setup: |b| stock_sudoers_with(b, "Defaults!/bin/sh requiretty\n"),
            args: PROVISION,
            cmd: plain,
            expect: Converges(|b| sudoers_has(b, "#Defaults!/bin/sh requiretty")),
        },
        Case {
            class: "sudoers as sudo reads it",
            name: "requiretty scoped to a Cmnd_Alias naming the command",
            setup: |b| {
                stock_sudoers_with(
                    b,
                    "Cmnd_Alias APP = /bin/true, /bin/sh\nDefaults!APP requiretty\n",
                )
            },
            args: PROVISION,
            cmd: plain,
            expect: Converges(|b| sudoers_has(b, "#Defaults!APP requiretty")),
        },
        Case {
            class: "sudoers as sudo reads it",
            name: "requiretty scoped to a Runas_Alias holding the app user",
            setup: |b| {
                stock_sudoers_with(b, "Runas_Alias APP = ec2-user\nDefaults>APP requiretty\n")
            },
            args: PROVISION,
            cmd: plain,
            expect: Converges(|b| sudoers_has(b, "#Defaults>APP requiretty")),
        },
        Case {
            class: "sudoers as sudo reads it",
            name: "requiretty scoped to the app user's uid (Defaults>#500)",
            setup: |b| stock_sudoers_with(b, "Defaults>#500 env_reset, requiretty\n"),
            args: PROVISION,
            cmd: plain,
            expect: Converges(|b| sudoers_has(b, "Defaults>#500 env_reset")),
        },
        Case {
            class: "sudoers as sudo reads it",
            name: "requiretty scoped to a User_Alias containing root",
            setup: |b| {
                stock_sudoers_with(b, "User_Alias OPS = bob, root\nDefaults:OPS requiretty\n")
            },
            args: PROVISION,
            cmd: plain,
            expect: Converges(|b| sudoers_has(b, "#Defaults:OPS requiretty")),
        },
        Case {
            class: "sudoers as sudo reads it",
            name: "requiretty scoped to a group root is in (Defaults:%root)",
            setup: |b| stock_sudoers_with(b, "Defaults:%root requiretty\n"),
            args: PROVISION,
            cmd: plain,
            expect: Converges(|b| sudoers_has(b, "#Defaults:%root requiretty")),
        },
        Case {
            class: "sudoers as sudo reads it",
            name: "a relative #include with requiretty",
            setup: |b| {
                stock_sudoers_with(b, "#include sudoers.local\n");
                b.write("/etc/sudoers.local", "Defaults requiretty\n");
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/sudoers.local line 1 (included from /etc/sudoers line"]),
        },
        Case {
            class: "sudoers as sudo reads it",
            name: "an #include of a file that does not exist",
            setup: |b| stock_sudoers_with(b, "Defaults requiretty\n#include sudoers.missing\n"),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["includes /etc/sudoers.missing, which does not exist"]),
        },
        Case {
            class: "sudoers as sudo reads it",
            name: "an include loop",
            setup: |b| {
                stock_sudoers_with(b, "#include /etc/sudoers.local\n");
                b.write("/etc/sudoers.local", "#include sudoers\n");
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/sudoers includes itself"]),
        },
        Case {
            class: "sudoers as sudo reads it",
            name: "a world-writable file in /etc/sudoers.d",
            setup: |b| sudoers_d(b, "open", "bob ALL=(ALL) ALL\n", 0o666, 0),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&[
                "/etc/sudoers.d/open is world-writable",
                "sudo refuses to run",
            ]),
        },
        Case {
            class: "sudoers as sudo reads it",
            name: "a file in /etc/sudoers.d owned by the app user",
            setup: |b| sudoers_d(b, "mine", "ec2-user ALL=(ALL) ALL\n", 0o440, 500),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/sudoers.d/mine is owned by uid 500, not root"]),
        },
        Case {
            class: "sudoers as sudo reads it",
            name: "sudoers.d files sudo ignores are reported, not counted",
            setup: |b| {
                sudoers_d(b, "tty.rpmsave", "Defaults requiretty\n", 0o440, 0);
                sudoers_d(b, "tty~", "Defaults requiretty\n", 0o440, 0);
            },
            args: PROVISION,
            cmd: plain,
            expect: Ends(
                0,
                &[
                    "/etc/sudoers.d/tty.rpmsave: ignored by sudo",
                    "/etc/sudoers.d/tty~: ignored by sudo",
                ],
                |b| {
                    for ignored in ["/etc/sudoers.d/tty~", "/etc/sudoers.d/tty.rpmsave"] {
                        assert_eq!(b.read(ignored), "Defaults requiretty\n", "{ignored}");
                        assert_eq!(b.mode(ignored), 0o440, "{ignored}");
                    }
                },
            ),
        },
        Case {
            class: "sudoers as sudo reads it",
            name: "a UTF-8 byte-order mark before the first line",
            setup: |b| {
                let s = b.read("/etc/sudoers");
                b.write("/etc/sudoers", &format!("\u{feff}Defaults requiretty\n{s}"));
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/etc/sudoers line 1 starts with a UTF-8 byte-order mark"]),
        },
        Case {
            class: "sudoers as sudo reads it",
            name: "an empty sudoers gives root no right to run the job",
            setup: |b| b.write("/etc/sudoers", ""),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["gives root no right to run `sudo -u ec2-user /bin/sh"]),
        },
        Case {
            class: "sudoers as sudo reads it",
            name: "visudo checks the box's /etc/sudoers.d, not the host's",
            setup: |b| sudoers_d(b, "broken", "bob ALL=(ALL ALL\n", 0o440, 0),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["visudo rejects /etc/sudoers", "/etc/sudoers.d/broken:1"]),
        },
        // ---- dry runs and refusals
        Case {
            class: "dry runs and refusals",
            name: "a refused provision says so and changes nothing but the lock file",
            setup: |b| {
                std::fs::remove_file(b.inside("/var/www/blot/config/redis.conf")).unwrap();
                std::fs::remove_file(b.inside("/etc/redis.conf")).unwrap()
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&[
                "no managed file was changed",
                "/etc/redis.conf does not exist",
            ]),
        },
        Case {
            class: "dry runs and refusals",
            name: "no lock directory: it is not created",
            setup: |b| std::fs::remove_dir_all(b.inside("/var/lock")).unwrap(),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/var/lock does not exist", "no managed file was changed"]),
        },
        Case {
            class: "dry runs and refusals",
            name: "the lock file hard-linked to /etc/shadow",
            setup: |b| {
                shadow(b);
                hard_link(b, "/etc/shadow", "/var/lock/blotctl.lock");
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/var/lock/blotctl.lock has 2 hard links"]),
        },
        Case {
            class: "dry runs and refusals",
            name: "the lock file is a symlink to /etc/shadow",
            setup: |b| {
                shadow(b);
                replace_with_symlink(b, "/var/lock/blotctl.lock", "/etc/shadow");
            },
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/var/lock/blotctl.lock is a symlink"]),
        },
        Case {
            class: "dry runs and refusals",
            name: "the lock file is a FIFO",
            setup: |b| fifo(b, "/var/lock/blotctl.lock"),
            args: PROVISION,
            cmd: plain,
            expect: Refused(&["/var/lock/blotctl.lock is a FIFO"]),
        },
        Case {
            class: "dry runs and refusals",
            name: "no terminal and no --yes: refused before the lock",
            setup: |_| {},
            args: &["provision"],
            cmd: plain,
            expect: Untouched(64, &["--yes"]),
        },
    ]
}

/// The classes of issue 16, each run by its own test below.
const CLASSES: [&str; 11] = [
    "root does an attacker's chown",
    "system files others can write",
    "special files",
    "settings aimed at system files",
    "settings that make no sense",
    "full or read-only filesystems",
    "rollback",
    "backups trusted blindly",
    "sudoers as sudo reads it",
    "dry runs and refusals",
    "the environment",
];

#[test]
fn root_does_an_attackers_chown() {
    run_class("root does an attacker's chown");
}

#[test]
fn system_files_others_can_write() {
    run_class("system files others can write");
}

#[test]
fn special_files() {
    run_class("special files");
}

#[test]
fn settings_aimed_at_system_files() {
    run_class("settings aimed at system files");
}

#[test]
fn settings_that_make_no_sense() {
    run_class("settings that make no sense");
}

#[test]
fn full_or_read_only_filesystems() {
    run_class("full or read-only filesystems");
}

#[test]
fn rollback() {
    run_class("rollback");
}

#[test]
fn backups_trusted_blindly() {
    run_class("backups trusted blindly");
}

#[test]
fn sudoers_as_sudo_reads_it() {
    run_class("sudoers as sudo reads it");
}

#[test]
fn dry_runs_and_refusals() {
    run_class("dry runs and refusals");
}

#[test]
fn the_environment() {
    run_class("the environment");
}

/// The bar: at least 40 named cases in all, every class with cases of its own, every case
/// in a class that a test runs, names unique. Prints the count per class (`cargo test
/// --test it hostile::every_class -- --nocapture`).
#[test]
fn every_class_has_named_cases() {
    let cases = cases();
    let counts: Vec<(&str, usize)> = CLASSES
        .iter()
        .map(|class| (*class, cases.iter().filter(|c| c.class == *class).count()))
        .collect();
    for (class, n) in &counts {
        println!("{class}: {n} cases");
    }
    println!("total: {} cases", cases.len());
    let empty: Vec<&str> = counts
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(c, _)| *c)
        .collect();
    assert!(empty.is_empty(), "classes without cases: {empty:?}");
    let stray: Vec<&str> = cases
        .iter()
        .filter(|c| !CLASSES.contains(&c.class))
        .map(|c| c.name)
        .collect();
    assert!(stray.is_empty(), "cases in a class no test runs: {stray:?}");
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");
}

// ---------------------------------------------------------------------------------------
// A dry run of every command changes nothing: not a byte, mode, owner or link of the box
// (a deploy checkout's .git included), and not even the run lock.

/// Every command that must not change the box (dry runs, reads, refusals).
const READ_ONLY: &[&[&str]] = &[
    &["provision", "--dry-run"],
    &["provision", "--dry-run", "--json"],
    &["provision", "--dry-run", "--no-start"],
    &["provision"], // no terminal, no --yes: refused
    &["verify"],
    &["verify", "--json"],
    &["verify", "--format", "junit"],
    &["rollback", "--dry-run"],
    &["rollback", "--list"],
    &["rollback", "@LAST", "--dry-run"],
    &["deploy", "--dry-run"],
    &["deploy", "--dry-run", "--restart"],
    &["restart", "redis", "--dry-run"],
    &["restart", "blot", "--dry-run"],
    &["restart", "nginx", "--dry-run"],
    &["restart", "monit", "--dry-run"],
    &["config"],
    &["render"],
    &["render", "blot"],
    &["init"], // the config exists: refused
    &["completions", "bash"],
    &["--help"],
];

fn everything(b: &TestBox) -> std::collections::BTreeMap<String, String> {
    b.fingerprint_with_lock()
}

fn every_command_leaves(b: &TestBox, what: &str) {
    let before = everything(b);
    let mut ran = Vec::new();
    for args in READ_ONLY {
        if args.contains(&"@LAST") && runs(b).is_empty() {
            continue;
        }
        let case = Case {
            class: "read-only",
            name: "read-only",
            setup: |_| {},
            args,
            cmd: plain,
            expect: Expect::Without(0, &[]),
        };
        let out = run(b, &case).about(what);
        out.check(
            matches!(out.exit(), Some(0..=2) | Some(64)),
            "ended with an exit code other than 0, 1, 2 or 64",
        );
        let changed = differing(&before, &everything(b));
        out.check(
            changed.is_empty(),
            format_args!("it changed the box:\n  {}", changed.join("\n  ")),
        );
        ran.push(args.join(" "));
    }
    assert!(ran.len() >= READ_ONLY.len() - 1, "{what}: only {ran:?}");
}

fn git(dir: &std::path::Path, args: &[&str]) {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args(args)
        .run()
        .success();
}

#[test]
fn a_dry_run_of_every_command_changes_nothing() {
    needs!("visudo", "git", "python3");
    // A fresh box.
    let b = TestBox::fresh();
    every_command_leaves(&b, "fresh box");

    // A provisioned box with its jobs running and a backup to roll back.
    provisioned(&b);
    b.run(&["provision", "--yes"]).success();
    every_command_leaves(&b, "provisioned box");

    // Its checkout a git clone, with a commit on the remote that is not fetched yet.
    let repos = b.root.parent().unwrap().join("repos");
    std::fs::create_dir(&repos).unwrap();
    git(
        &repos,
        &[
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=master",
            "blot.git",
        ],
    );
    let remote = repos.join("blot.git");
    let dev = repos.join("dev");
    git(
        &repos,
        &["clone", "--quiet", remote.to_str().unwrap(), "dev"],
    );
    std::fs::write(dev.join("VERSION"), "v1\n").unwrap();
    git(&dev, &["checkout", "--quiet", "-b", "master"]);
    git(&dev, &["add", "."]);
    git(&dev, &["commit", "--quiet", "-m", "v1"]);
    git(&dev, &["push", "--quiet", "origin", "master"]);
    let app = b.inside("/var/www/blot");
    let keep = repos.join("app-before");
    std::fs::rename(&app, &keep).unwrap();
    git(
        &repos,
        &[
            "clone",
            "--quiet",
            remote.to_str().unwrap(),
            app.to_str().unwrap(),
        ],
    );
    std::fs::rename(keep.join("logs"), app.join("logs")).unwrap();
    std::fs::write(dev.join("VERSION"), "v2\n").unwrap();
    git(&dev, &["commit", "--quiet", "-am", "v2"]);
    git(&dev, &["push", "--quiet", "origin", "master"]);
    b.run(&["deploy", "--dry-run"])
        .code(2)
        .stdout_has("fetch origin/master, then fast-forward");
    every_command_leaves(&b, "box with a deploy pending");
}

/// `provision --json` after an apply that failed half-way: the steps applied are
/// `changed`, the one that failed `failed` (with its reason), the ones after it
/// `not_reached`, and the summary counts the changes made, not the ones planned.
#[test]
fn json_after_a_failed_apply_says_what_was_made() {
    needs!("visudo");
    let b = TestBox::fresh();
    // chkconfig answers as it should but cannot turn anything off.
    let bin = b.root.parent().unwrap().join("failing-bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = project().join("fixtures/bin/chkconfig");
    write_program(
        &bin.join("chkconfig"),
        &format!(
            "#!/bin/sh\nif [ \"$2\" = off ]; then echo 'error: rc links are read-only' >&2; exit 1; fi\nexec {} \"$@\"\n",
            fake.display()
        ),
    );
    let doc = b
        .blotctl()
        .env("PATH", format!("{}:{}", bin.display(), fake_path()))
        .args(["provision", "--yes", "--json"])
        .run()
        .code(1)
        .json();
    let steps = doc["steps"].as_array().unwrap();
    let state = |name: &str| {
        steps.iter().find(|s| s["name"] == name).unwrap()["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state("sudoers"), "changed");
    assert_eq!(state("redis host settings"), "changed");
    assert_eq!(state("chkconfig"), "failed");
    let failed = steps.iter().find(|s| s["name"] == "chkconfig").unwrap();
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("chkconfig redis off"),
        "{failed}"
    );
    assert_eq!(state("upstart config"), "not_reached");
    assert_eq!(state("start jobs"), "not_reached");
    let made: usize = steps
        .iter()
        .filter(|s| s["state"] == "changed")
        .map(|s| s["changes"].as_array().unwrap().len())
        .sum();
    assert!(made > 0);
    assert_eq!(doc["summary"]["changes"], made, "{}", doc["summary"]);
    assert!(doc["backup"].is_string());
}
