//! Bad input: every case either gets the correct edit, or a clear error with the tree
//! left exactly as it was.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

/// What a case expects.
enum Expect {
    /// `provision --yes` fails, stderr contains this, and nothing managed changed.
    Error(&'static str),
    /// `provision --yes` succeeds and this check holds on the result.
    Edit(fn(&TestBox)),
}

struct Case {
    name: &'static str,
    setup: fn(&TestBox),
    expect: Expect,
}

fn sudoers(b: &TestBox) -> String {
    b.read("/etc/sudoers")
}
fn set_sudoers(b: &TestBox, text: &str) {
    b.write("/etc/sudoers", text);
}
/// The stock sudoers with its requiretty line replaced by `line`.
fn stock_with(b: &TestBox, line: &str) {
    let s = sudoers(b).replace("Defaults    requiretty\n", line);
    set_sudoers(b, &s);
}
fn config(b: &TestBox, extra: &str) {
    b.write(
        "/etc/blotctl.toml",
        &format!("start_settle_ms = 0\nstart_timeout = 5\n{extra}"),
    );
}
fn no_active_requiretty(b: &TestBox) {
    let s = sudoers(b);
    assert!(
        !s.lines().any(|l| {
            let t = l.trim_start();
            t.starts_with("Defaults")
                && !t.starts_with("Defaults:")
                && t.split([' ', '\t', ',']).any(|w| w == "requiretty")
        }),
        "{s}"
    );
}
/// A program on PATH (before the fakes) printing `out` and exiting 0.
fn garbage_tool(b: &TestBox, name: &str, out: &str) {
    let dir = b.path("/tmp-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\nprintf '{out}'\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn cases() -> Vec<Case> {
    use Expect::*;
    vec![
        // ---- sudoers
        Case {
            name: "sudoers: tab after Defaults",
            setup: |b| stock_with(b, "Defaults\trequiretty\n"),
            expect: Edit(|b| {
                assert!(sudoers(b).contains("#Defaults\trequiretty\n"));
                no_active_requiretty(b)
            }),
        },
        Case {
            name: "sudoers: CRLF line endings",
            setup: |b| {
                let s = sudoers(b).replace('\n', "\r\n");
                set_sudoers(b, &s)
            },
            expect: Edit(|b| {
                let s = sudoers(b);
                assert!(s.contains("#Defaults    requiretty\r\n"));
                assert!(!s.replace("\r\n", "").contains('\n'))
            }),
        },
        Case {
            name: "sudoers: no final newline",
            setup: |b| {
                let s = sudoers(b) + "Defaults:root requiretty";
                set_sudoers(b, &s)
            },
            expect: Edit(|b| assert!(sudoers(b).ends_with("\n#Defaults:root requiretty"))),
        },
        Case {
            name: "sudoers: Defaults:user requiretty is not root's",
            setup: |b| stock_with(b, "Defaults:bob requiretty\n"),
            expect: Edit(|b| assert!(sudoers(b).contains("\nDefaults:bob requiretty\n"))),
        },
        Case {
            name: "sudoers: !requiretty stays",
            setup: |b| stock_with(b, "Defaults !requiretty\n"),
            expect: Edit(|b| assert!(sudoers(b).contains("\nDefaults !requiretty\n"))),
        },
        Case {
            name: "sudoers: requiretty among other options",
            setup: |b| stock_with(b, "Defaults env_reset, requiretty, !visiblepw\n"),
            expect: Edit(|b| assert!(sudoers(b).contains("\nDefaults env_reset, !visiblepw\n"))),
        },
        Case {
            name: "sudoers: requiretty first of several",
            setup: |b| stock_with(b, "Defaults requiretty,always_set_home\n"),
            expect: Edit(|b| assert!(sudoers(b).contains("\nDefaults always_set_home\n"))),
        },
        Case {
            name: "sudoers: already commented",
            setup: |b| stock_with(b, "# Defaults    requiretty\n"),
            expect: Edit(|b| assert!(sudoers(b).contains("\n# Defaults    requiretty\n"))),
        },
        Case {
            name: "sudoers: Defaults:root",
            setup: |b| stock_with(b, "Defaults:root requiretty\n"),
            expect: Edit(|b| assert!(sudoers(b).contains("\n#Defaults:root requiretty\n"))),
        },
        Case {
            name: "sudoers: Defaults:ALL",
            setup: |b| stock_with(b, "Defaults:ALL    requiretty\n"),
            expect: Edit(no_active_requiretty),
        },
        Case {
            name: "sudoers: RHEL 6.8 form without requiretty",
            setup: |b| stock_with(b, ""),
            expect: Edit(|b| assert!(!sudoers(b).contains("requiretty\n"))),
        },
        Case {
            name: "sudoers: #include of a file with requiretty",
            setup: |b| {
                let s = sudoers(b).replace("Defaults    requiretty\n", "")
                    + "#include /etc/sudoers.local\n";
                set_sudoers(b, &s);
                b.write("/etc/sudoers.local", "Defaults requiretty\n");
            },
            expect: Error("/etc/sudoers.local line 1 (included from /etc/sudoers line"),
        },
        Case {
            name: "sudoers: #includedir file with requiretty",
            setup: |b| b.write("/etc/sudoers.d/tty", "Defaults requiretty\n"),
            expect: Error("/etc/sudoers.d/tty line 1 (included from /etc/sudoers line"),
        },
        Case {
            name: "sudoers: includedir skips names with a dot",
            setup: |b| b.write("/etc/sudoers.d/tty.rpmsave", "Defaults requiretty\n"),
            expect: Edit(no_active_requiretty),
        },
        Case {
            name: "sudoers: a file visudo rejects",
            setup: |b| {
                let s = sudoers(b) + "root ALL=(ALL ALL\n";
                set_sudoers(b, &s)
            },
            expect: Error("visudo rejects /etc/sudoers"),
        },
        Case {
            name: "sudoers: continued Defaults line",
            setup: |b| stock_with(b, "Defaults env_reset, \\\n    requiretty\n"),
            expect: Error("continued (backslash) Defaults line"),
        },
        Case {
            name: "sudoers: missing",
            setup: |b| std::fs::remove_file(b.path("/etc/sudoers")).unwrap(),
            expect: Error("/etc/sudoers does not exist"),
        },
        Case {
            name: "sudoers: a symlink",
            setup: |b| {
                std::fs::rename(b.path("/etc/sudoers"), b.path("/etc/sudoers.real")).unwrap();
                std::os::unix::fs::symlink("sudoers.real", b.path("/etc/sudoers")).unwrap();
            },
            expect: Error("/etc/sudoers is a symlink"),
        },
        Case {
            name: "sudoers: wrong mode only",
            setup: |b| {
                std::fs::set_permissions(
                    b.path("/etc/sudoers"),
                    std::fs::Permissions::from_mode(0o640),
                )
                .unwrap()
            },
            expect: Edit(|b| assert_eq!(b.mode("/etc/sudoers"), 0o440)),
        },
        Case {
            name: "sudoers: immutable",
            setup: |b| immutable(b, "/etc/sudoers"),
            expect: Error("/etc/sudoers is immutable or append-only"),
        },
        // ---- hosts
        Case {
            name: "hosts: missing",
            setup: |b| std::fs::remove_file(b.path("/etc/hosts")).unwrap(),
            expect: Edit(|b| {
                assert_eq!(b.read("/etc/hosts"), "127.0.0.1   blot.im www.blot.im\n");
                assert_eq!(b.mode("/etc/hosts"), 0o644)
            }),
        },
        Case {
            name: "hosts: empty",
            setup: |b| b.write("/etc/hosts", ""),
            expect: Edit(|b| assert_eq!(b.read("/etc/hosts"), "127.0.0.1   blot.im www.blot.im\n")),
        },
        Case {
            name: "hosts: no final newline",
            setup: |b| b.write("/etc/hosts", "127.0.0.1 localhost"),
            expect: Edit(|b| {
                assert_eq!(
                    b.read("/etc/hosts"),
                    "127.0.0.1 localhost\n127.0.0.1   blot.im www.blot.im\n"
                )
            }),
        },
        Case {
            name: "hosts: entry present with other names",
            setup: |b| b.write("/etc/hosts", "127.0.0.1 localhost blot.im\n"),
            expect: Edit(|b| {
                assert_eq!(
                    b.read("/etc/hosts"),
                    "127.0.0.1 localhost blot.im\n127.0.0.1   www.blot.im\n"
                )
            }),
        },
        Case {
            name: "hosts: all names present",
            setup: |b| b.write("/etc/hosts", "127.0.0.1 www.blot.im blot.im\n"),
            expect: Edit(|b| assert_eq!(b.read("/etc/hosts"), "127.0.0.1 www.blot.im blot.im\n")),
        },
        Case {
            name: "hosts: name mapped to another address",
            setup: |b| b.write("/etc/hosts", "10.0.0.5 blot.im\n"),
            expect: Error("/etc/hosts maps blot.im to 10.0.0.5, not 127.0.0.1"),
        },
        Case {
            name: "hosts: IPv6 entry for a site",
            setup: |b| b.write("/etc/hosts", "::1 blot.im\n"),
            expect: Edit(|b| {
                assert_eq!(
                    b.read("/etc/hosts"),
                    "::1 blot.im\n127.0.0.1   blot.im www.blot.im\n"
                )
            }),
        },
        Case {
            name: "hosts: a symlink",
            setup: |b| {
                std::fs::rename(b.path("/etc/hosts"), b.path("/etc/hosts.real")).unwrap();
                std::os::unix::fs::symlink("hosts.real", b.path("/etc/hosts")).unwrap();
            },
            expect: Error("/etc/hosts is a symlink"),
        },
        Case {
            name: "hosts: read-only mode keeps its mode",
            setup: |b| {
                std::fs::set_permissions(
                    b.path("/etc/hosts"),
                    std::fs::Permissions::from_mode(0o444),
                )
                .unwrap()
            },
            expect: Edit(|b| {
                assert!(b.read("/etc/hosts").contains("blot.im"));
                assert_eq!(b.mode("/etc/hosts"), 0o444)
            }),
        },
        // ---- jobs, monit, logs
        Case {
            name: "jobs: /etc/init missing",
            setup: |b| std::fs::remove_dir_all(b.path("/etc/init")).unwrap(),
            expect: Error("/etc/init does not exist"),
        },
        Case {
            name: "jobs: a hand-edited job is replaced",
            setup: |b| b.write("/etc/init/blot.conf", "# mine\nexec /bin/true\n"),
            expect: Edit(|b| {
                assert!(b
                    .read("/etc/init/blot.conf")
                    .contains("start on started redis"))
            }),
        },
        Case {
            name: "jobs: read-only job file",
            setup: |b| {
                b.write("/etc/init/nginx.conf", "exec /bin/true\n");
                std::fs::set_permissions(
                    b.path("/etc/init/nginx.conf"),
                    std::fs::Permissions::from_mode(0o444),
                )
                .unwrap();
            },
            expect: Edit(|b| assert_eq!(b.mode("/etc/init/nginx.conf"), 0o644)),
        },
        Case {
            name: "jobs: immutable job file",
            setup: |b| {
                b.write("/etc/init/nginx.conf", "exec /bin/true\n");
                immutable(b, "/etc/init/nginx.conf")
            },
            expect: Error("/etc/init/nginx.conf is immutable"),
        },
        Case {
            name: "jobs: a job file that is a symlink",
            setup: |b| {
                std::os::unix::fs::symlink("/etc/passwd", b.path("/etc/init/blot.conf")).unwrap()
            },
            expect: Error("/etc/init/blot.conf is a symlink"),
        },
        Case {
            name: "monit: control file too open",
            setup: |b| {
                let rc = stdout(&b.blotctl().args(["render", "monit.rc"]).output().unwrap());
                b.write("/etc/monit.rc", rc.split_once('\n').unwrap().1);
                std::fs::set_permissions(
                    b.path("/etc/monit.rc"),
                    std::fs::Permissions::from_mode(0o644),
                )
                .unwrap();
            },
            expect: Edit(|b| assert_eq!(b.mode("/etc/monit.rc"), 0o700)),
        },
        Case {
            name: "logs: app dir missing",
            setup: |b| std::fs::remove_dir_all(b.path("/var/www/blot")).unwrap(),
            expect: Error("the app directory /var/www/blot does not exist"),
        },
        Case {
            name: "logs: logs is a file",
            setup: |b| b.write("/var/www/blot/logs", "x"),
            expect: Error("/var/www/blot/logs exists but is not a directory"),
        },
        Case {
            name: "logs: existing log keeps contents, gets owner",
            setup: |b| {
                std::fs::create_dir(b.path("/var/www/blot/logs")).unwrap();
                b.write("/var/www/blot/logs/app.log", "old line\n");
            },
            expect: Edit(|b| {
                assert_eq!(b.read("/var/www/blot/logs/app.log"), "old line\n");
                assert_eq!(b.owner("/var/www/blot/logs/app.log"), (500, 500))
            }),
        },
        Case {
            name: "users: missing user",
            setup: |b| {
                let p = b.read("/etc/passwd").replace("ec2-user:", "ec3-user:");
                b.write("/etc/passwd", &p)
            },
            expect: Error("user ec2-user does not exist in /etc/passwd"),
        },
        Case {
            name: "redis: config missing",
            setup: |b| std::fs::remove_file(b.path("/etc/redis.conf")).unwrap(),
            expect: Error("the redis config /etc/redis.conf does not exist"),
        },
        Case {
            name: "redis: daemonize garbage",
            setup: |b| {
                let c = b
                    .read("/etc/redis.conf")
                    .replace("daemonize yes", "daemonize perhaps");
                b.write("/etc/redis.conf", &c)
            },
            expect: Error("daemonize \"perhaps\" is neither yes nor no"),
        },
        Case {
            name: "nginx: config missing",
            setup: |b| std::fs::remove_file(b.path("/etc/nginx/nginx.conf")).unwrap(),
            expect: Error("the nginx config /etc/nginx/nginx.conf does not exist"),
        },
        Case {
            name: "nginx: daemon garbage",
            setup: |b| {
                let c = b.read("/etc/nginx/nginx.conf");
                b.write("/etc/nginx/nginx.conf", &format!("daemon perhaps;\n{c}"))
            },
            expect: Error("line 1: daemon perhaps is neither on nor off"),
        },
        // ---- config
        Case {
            name: "config: newline in a value",
            setup: |b| config(b, "user = \"ec2-user\\nroot\"\n"),
            expect: Error("invalid config file /etc/blotctl.toml"),
        },
        Case {
            name: "config: quote in a path",
            setup: |b| config(b, "node = \"/usr/bin/node\\\" --inspect\"\n"),
            expect: Error("is not allowed"),
        },
        Case {
            name: "config: shell metacharacter in app_dir",
            setup: |b| config(b, "app_dir = \"/var/www/blot;reboot\"\n"),
            expect: Error("is not allowed"),
        },
        Case {
            name: "config: unknown key",
            setup: |b| config(b, "nginx_prot = 81\n"),
            expect: Error("unknown key `nginx_prot` (did you mean `nginx_port`?)"),
        },
        Case {
            name: "config: same port twice",
            setup: |b| config(b, "blot_port = 80\n"),
            expect: Error("blot_port and nginx_port are both 80"),
        },
        Case {
            name: "config: bad site name",
            setup: |b| config(b, "sites = [\"blot im\"]\n"),
            expect: Error("\"blot im\" is not a valid host name"),
        },
        Case {
            name: "config: not TOML",
            setup: |b| config(b, "this is = = not toml\n"),
            expect: Error("invalid config file /etc/blotctl.toml"),
        },
        // ---- tools that answer nonsense
        Case {
            name: "chkconfig: unparseable answer",
            setup: |b| garbage_tool(b, "chkconfig", "redis on everywhere\\n"),
            expect: Error("cannot understand `chkconfig --list redis`"),
        },
        Case {
            name: "initctl: unparseable list",
            setup: |b| garbage_tool(b, "initctl", "what is this\\n"),
            expect: Error("cannot understand `initctl list`"),
        },
        Case {
            name: "chkconfig: rc links missing",
            setup: |b| std::fs::remove_file(b.path("/etc/rc3.d")).unwrap(),
            expect: Error("chkconfig"),
        },
        Case {
            name: "disk: full filesystem under /etc",
            setup: |b| fill_disk(b),
            expect: Error("not enough free space for /etc"),
        },
    ]
}

/// What a case's setup did that outlives its temp dir, undone by [`cleanup`] (in reverse).
enum Undo {
    /// `chattr -i PATH`: an immutable file cannot be removed with its temp dir.
    Immutable(std::path::PathBuf),
    /// `umount DIR`: a tmpfs mounted over the box's /etc.
    Mount(std::path::PathBuf),
}

thread_local! {
    static UNDO: std::cell::RefCell<Vec<Undo>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Make a box file immutable (`chattr +i`), to be undone after the case.
fn immutable(b: &TestBox, path: &str) {
    let p = b.path(path);
    let ok = std::process::Command::new("chattr")
        .arg("+i")
        .arg(&p)
        .status()
        .map(|s| s.success());
    assert_eq!(ok.ok(), Some(true), "chattr +i failed here");
    UNDO.with(|u| u.borrow_mut().push(Undo::Immutable(p)));
}

/// Put the box's /etc on a small tmpfs that is almost full.
fn fill_disk(b: &TestBox) {
    let etc = b.path("/etc");
    let saved = b.root.join("etc.saved");
    std::fs::rename(&etc, &saved).unwrap();
    std::fs::create_dir(&etc).unwrap();
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(&etc)
        .status()
        .unwrap();
    assert!(st.success(), "cannot mount a tmpfs");
    UNDO.with(|u| u.borrow_mut().push(Undo::Mount(etc.clone())));
    let cp = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cp -a {0}/. {1}/ && avail=$(df -k --output=avail {1} | tail -1) && \
             dd if=/dev/zero of={1}/filler bs=1k count=$((avail - 16)) status=none",
            saved.display(),
            etc.display()
        ))
        .status()
        .unwrap();
    assert!(cp.success());
}

/// Undo what this case's setup did that outlives the temp dir, and nothing else (each
/// undo must succeed: a leftover immutable file or mount would outlive the test).
fn cleanup() {
    for undo in UNDO
        .with(|u| std::mem::take(&mut *u.borrow_mut()))
        .into_iter()
        .rev()
    {
        let (program, flag, path) = match &undo {
            Undo::Immutable(p) => ("chattr", Some("-i"), p),
            Undo::Mount(p) => ("umount", None, p),
        };
        let st = std::process::Command::new(program)
            .args(flag)
            .arg(path)
            .status()
            .unwrap();
        assert!(st.success(), "{program} {} failed", path.display());
    }
}

#[test]
fn bad_input_suite() {
    if !require("visudo") || !require("chattr") {
        return;
    }
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let b = TestBox::fresh();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (case.setup)(&b);
            let before = b.managed_state();
            let mut cmd = b.blotctl();
            cmd.env(
                "PATH",
                format!("{}:{}", b.path("/tmp-bin").display(), fake_path()),
            );
            let out = cmd
                .args(["provision", "--yes", "--no-start"])
                .output()
                .unwrap();
            match &case.expect {
                Expect::Error(msg) => {
                    assert_eq!(
                        out.status.code(),
                        Some(1),
                        "expected exit 1\n{}{}",
                        stdout(&out),
                        stderr(&out)
                    );
                    let all = format!("{}{}", stdout(&out), stderr(&out));
                    assert!(all.contains(msg), "expected {msg:?} in:\n{all}");
                    assert_same_state(
                        &before,
                        &b.managed_state(),
                        "the tree changed although the run failed",
                    );
                }
                Expect::Edit(check) => {
                    assert_eq!(
                        out.status.code(),
                        Some(0),
                        "expected success\n{}{}",
                        stdout(&out),
                        stderr(&out)
                    );
                    check(&b);
                    let again = b
                        .blotctl()
                        .args(["provision", "--dry-run", "--no-start"])
                        .output()
                        .unwrap();
                    assert_eq!(
                        again.status.code(),
                        Some(0),
                        "not idempotent:\n{}",
                        stdout(&again)
                    );
                }
            }
        }));
        cleanup();
        if let Err(e) = result {
            failures.push(format!("[{}] {}", case.name, panic_text(&*e)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
