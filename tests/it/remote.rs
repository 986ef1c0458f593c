//! `--host` over OpenSSH, in parallel, against real `sshd`s.
//!
//! Every "host" is an sshd (Debian's openssh-server) this test starts as root on its own
//! loopback address (127.0.0.2, .3, ...; the whole 127/8 is loopback on Linux) with its own
//! host key, config, pid file and authorized keys (a key made here with ssh-keygen). Each
//! sshd runs in a private mount namespace (`unshare --mount`, then `mount --make-rprivate
//! /`) where a tmpfs is mounted on /run (for sshd's /run/sshd) and test files are bind-mounted
//! over /etc/passwd and friends; nothing of this machine's own files is ever written. Each
//! host's root has a home of its own there (so each has its own `~/.cache/blotctl`), and
//! each acts on its own scratch copy of the fixture box (hidden `--remote-root`) with the
//! fakes first on PATH (hidden `--remote-env`). The client is this machine's `ssh`, given
//! the test key and a known_hosts file through `BLOTCTL_SSH_OPTS`. Every sshd is killed when
//! its guard drops, also when a test fails.

use crate::util::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The tests of this file that start sshds run one at a time: each measures or waits on
/// the machine's (two) CPUs, and the wall-time comparison must not share them with the
/// other one. Each starts with `needs!(root, ...)`: sshd runs as root (CI runs as root).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A running sshd in its own mount namespace; killed (with its process group) on drop.
struct Sshd {
    child: std::process::Child,
    log: PathBuf,
}

impl Sshd {
    /// The pid of sshd itself (`unshare` and `sh` exec into it).
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Run a command in this sshd's mount namespace (where its bind mounts are).
    fn nsenter(&self, argv: &[&str]) {
        let st = Command::new("nsenter")
            .arg(format!("--mount=/proc/{}/ns/mnt", self.pid()))
            .arg("--")
            .args(argv)
            .status()
            .unwrap();
        assert!(st.success(), "nsenter {argv:?}");
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: signalling a process group this test created.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test's ssh world: keys, known_hosts, one port shared by every address.
struct Lab {
    dir: tempfile::TempDir,
    key: PathBuf,
    port: u16,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        // Other users (the sudo test's login) must reach the authorized keys file and homes.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        for name in ["host_key", "client_key"] {
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "blotctl-test", "-f"])
                .arg(dir.path().join(name))
                .run()
                .success();
        }
        let port = std::net::TcpListener::bind("127.0.0.2:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Lab {
            key: dir.path().join("client_key"),
            dir,
            port,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The options every ssh of this test takes (and blotctl gets as `BLOTCTL_SSH_OPTS`):
    /// no config files, only the test key, a known_hosts of its own, this lab's port.
    fn ssh_opts(&self) -> Vec<String> {
        [
            "-F",
            "none",
            "-i",
            &self.key.display().to_string(),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            &format!("UserKnownHostsFile={}", self.path("known_hosts").display()),
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            "ConnectTimeout=5",
            "-p",
            &self.port.to_string(),
        ]
        .map(String::from)
        .to_vec()
    }

    /// Start sshd on `addr` with `binds` (host file, path it is mounted over) in its
    /// private mount namespace; returns once it accepts connections.
    fn sshd(&self, addr: &str, binds: &[(PathBuf, &str)]) -> Sshd {
        let conf = self.path(&format!("sshd-{addr}.conf"));
        std::fs::write(
            &conf,
            format!(
                "ListenAddress {addr}:{port}\nHostKey {hk}\nAuthorizedKeysFile {ak}\n\
                 PidFile {pid}\nUsePAM no\nStrictModes no\nPermitRootLogin yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n",
                port = self.port,
                hk = self.path("host_key").display(),
                ak = self.path("client_key.pub").display(),
                pid = self.path(&format!("sshd-{addr}.pid")).display(),
            ),
        )
        .unwrap();
        std::fs::set_permissions(
            self.path("client_key.pub"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let script = "set -e\n\
            mount --make-rprivate /\n\
            mount -t tmpfs -o mode=755 tmpfs /run\n\
            mkdir -m 755 /run/sshd\n\
            conf=$1; shift\n\
            while [ $# -gt 0 ]; do mount --bind \"$1\" \"$2\"; shift 2; done\n\
            exec /usr/sbin/sshd -D -e -f \"$conf\"\n";
        let log = self.path(&format!("sshd-{addr}.log"));
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--", "sh", "-c", script, "sh"])
            .arg(&conf)
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap());
        for (from, to) in binds {
            cmd.arg(from).arg(to);
        }
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut sshd = Sshd {
            child: cmd.spawn().unwrap(),
            log,
        };
        let sock: std::net::SocketAddr = format!("{addr}:{}", self.port).parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect_timeout(&sock, Duration::from_millis(200)).is_err() {
            let exited = sshd.child.try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "sshd on {addr} did not start ({exited:?}):\n{}",
                std::fs::read_to_string(&sshd.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sshd
    }

    /// A copy of this machine's /etc/passwd in which root's home is `home` (created):
    /// each host gets its own `~/.cache/blotctl`, and this machine's /root is never used.
    fn passwd_with_root_home(&self, name: &str) -> (PathBuf, PathBuf) {
        let home = self.path(&format!("home-{name}"));
        std::fs::create_dir(&home).unwrap();
        let text: String = std::fs::read_to_string("/etc/passwd")
            .unwrap()
            .lines()
            .map(|l| {
                let mut f: Vec<String> = l.split(':').map(String::from).collect();
                if f[0] == "root" {
                    f[5] = home.display().to_string();
                }
                f.join(":") + "\n"
            })
            .collect();
        let passwd = self.path(&format!("passwd-{name}"));
        std::fs::write(&passwd, text).unwrap();
        (passwd, home)
    }

    /// blotctl with the lab's ssh options and the fakes first on the remote PATH.
    fn blotctl(&self) -> Cmd<'static> {
        let mut c = Cmd::new(blotctl_bin());
        c.current_dir(project())
            .env("BLOTCTL_SSH_OPTS", self.ssh_opts().join(" "))
            .env_remove("BLOTCTL_ROOT")
            .env_remove("BLOTCTL_CONFIG")
            .arg("--remote-env")
            .arg(format!("PATH={}", fake_path()));
        match binary_flag() {
            Some(b) => c.arg("--binary").arg(b),
            None => &mut c,
        };
        c
    }

    /// Plain `ssh [-tt] USER@ADDR COMMAND` with the lab's options.
    fn ssh(&self, tty: bool, dest: &str, command: &str) -> Run {
        let mut c = Command::new("ssh");
        c.args(self.ssh_opts())
            .args(["-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]);
        if tty {
            c.arg("-tt");
        }
        c.arg(dest).arg(command).run()
    }
}

/// What blotctl uploads: `cargo xtask dist`'s portable binary when it was built from the
/// same commit as this test's blotctl (as in CI; then blotctl finds it by itself: `None`),
/// else `--binary` the debug build (it runs on this same machine).
fn binary_flag() -> Option<PathBuf> {
    // `blotctl 0.1.0 (commit 39fc0f2a1b2c, target ...)` -> the commit
    let commit = |p: &Path| {
        let out = Command::new(p).arg("--version").run();
        let text = out.stdout();
        let c = text
            .split("(commit ")
            .nth(1)?
            .split(',')
            .next()?
            .to_string();
        (c != "unknown").then_some(c)
    };
    let debug = blotctl_bin();
    let dist = project().join("target/dist/blotctl");
    let same = dist.is_file() && commit(&dist).is_some() && commit(&dist) == commit(&debug);
    eprintln!(
        "uploading {}",
        if same {
            dist.display()
        } else {
            debug.display()
        }
    );
    if same {
        None
    } else {
        Some(debug)
    }
}

/// The run, and how long it took (wall time).
fn run(cmd: &mut Cmd) -> (Run, Duration) {
    let t = Instant::now();
    let out = cmd.run();
    let took = t.elapsed();
    eprintln!("{out}---- took {took:?}");
    (out, took)
}

/// The closing table's row for `host`: its columns (apart by two spaces or more).
fn row<'a>(out: &'a str, host: &str) -> Vec<&'a str> {
    let head = out
        .lines()
        .position(|l| l.starts_with("host "))
        .expect("a closing table");
    out.lines()
        .skip(head + 1)
        .find(|l| l.split_whitespace().next() == Some(host))
        .unwrap_or_else(|| panic!("no row for {host} in:\n{out}"))
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// The cached binaries in a host's home: name, inode, mtime.
fn cached(home: &Path) -> Vec<(String, u64, i64)> {
    let dir = home.join(".cache/blotctl");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let m = e.metadata().unwrap();
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        m.ino(),
                        m.mtime_nsec() + m.mtime() * 1_000_000_000,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn three_hosts_in_parallel_and_one_unreachable() {
    needs!(root, "sshd", "ssh", "ssh-keygen", "unshare", "nsenter");
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new();
    let addrs = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
    let unreachable = "127.0.0.5";
    let mut homes = Vec::new();
    let mut sshds = Vec::new();
    for a in addrs {
        let (passwd, home) = lab.passwd_with_root_home(a);
        sshds.push(lab.sshd(a, &[(passwd, "/etc/passwd")]));
        homes.push(home);
    }
    let boxes: Vec<TestBox> = addrs.iter().map(|_| TestBox::fresh()).collect();
    let with_hosts = |c: &mut Cmd, hosts: &[&str]| {
        for (a, b) in addrs.iter().zip(&boxes) {
            c.arg("--remote-root")
                .arg(format!("{a}={}", b.root.display()));
        }
        for h in hosts {
            c.args(["--host", h]);
        }
    };
    let before: Vec<_> = boxes.iter().map(|b| b.managed_state()).collect();

    // A dry run on the three: exit 2, a plan per host, every line prefixed, nothing changed.
    let mut c = lab.blotctl();
    c.args(["provision", "--dry-run"]);
    with_hosts(&mut c, &addrs);
    let (run1, _) = run(&mut c);
    // Pending changes on every host.
    let out = run1.code(2).stdout();
    for (a, home) in addrs.iter().zip(&homes) {
        run1.stdout_has(&format!("{a} | would change sudoers: 1 change"))
            .stdout_has(&format!("{a} | -- uploaded "))
            .stdout_has(&format!("{a} | dry run: "));
        let r = row(out, a);
        assert_eq!(r[1], "pending", "{r:?}");
        assert!(r[2].parse::<usize>().unwrap() > 10, "{r:?}");
        assert_eq!(r[3], "uploaded", "{r:?}");
        assert_eq!(cached(home).len(), 1, "one binary in {a}'s cache");
    }
    let width = addrs[0].len();
    for l in out.lines().skip(1).take_while(|l| !l.is_empty()) {
        assert!(
            addrs.iter().any(|a| l.starts_with(a)) && l[width..].starts_with(" | "),
            "not prefixed with its host: {l:?}"
        );
    }
    for (b, s) in boxes.iter().zip(&before) {
        assert_same_state(s, &b.managed_state(), "a dry run changes nothing");
    }

    // The real run on the three plus one with no sshd: the three converge, the fourth is
    // reported unreachable, exit 1. Nothing is uploaded again.
    let caches: Vec<_> = homes.iter().map(|h| cached(h)).collect();
    let mut c = lab.blotctl();
    c.args(["provision", "--yes"]);
    with_hosts(&mut c, &[addrs[0], unreachable, addrs[1], addrs[2]]);
    let (run2, three) = run(&mut c);
    // One host was unreachable.
    run2.code(1).stderr_has(&format!(
        "{unreachable} | -- unreachable: ssh: connect to host {unreachable} port {}: \
         Connection refused",
        lab.port
    ));
    let out = run2.stdout();
    assert_eq!(row(out, unreachable)[1], "unreachable");
    let host_secs: Vec<f64> = addrs
        .iter()
        .map(|a| row(out, a)[4].trim_end_matches('s').parse().unwrap())
        .collect();
    for (a, b) in addrs.iter().zip(&boxes) {
        let r = row(out, a);
        assert_eq!((r[1], r[3]), ("ok", "cached"), "{r:?}");
        run2.stdout_has(&format!("{a} | provisioned: "));
        assert!(!b.read("/etc/sudoers").contains("\nDefaults    requiretty"));
        b.run(&["provision", "--dry-run"]).success();
    }
    // Nothing uploaded again.
    run2.stdout_lacks("-- uploaded");
    assert_eq!(
        caches,
        homes.iter().map(|h| cached(h)).collect::<Vec<_>>(),
        "the cached binaries are untouched"
    );
    run2.stdout_has("4 hosts: 3 ok, 1 unreachable in ");

    // Again, from a hosts file: nothing to upload, nothing to change, exit 0.
    let after: Vec<_> = boxes.iter().map(|b| b.managed_state()).collect();
    let file = lab.path("hosts");
    std::fs::write(
        &file,
        format!(
            "# the test boxes\n{}\n\n{} # the last one\n",
            addrs[..2].join("\n"),
            addrs[2]
        ),
    )
    .unwrap();
    let mut c = lab.blotctl();
    c.args(["provision", "--yes", "--hosts-file"]).arg(&file);
    with_hosts(&mut c, &[]);
    let (run3, _) = run(&mut c);
    let out = run3.success().stdout();
    for a in addrs {
        let r = row(out, a);
        assert_eq!((r[1], r[2], r[3]), ("ok", "0", "cached"), "{r:?}");
        run3.stdout_has(&format!("{a} | nothing to do, the box is as provisioned"));
    }
    run3.stdout_lacks("-- uploaded");
    assert_eq!(caches, homes.iter().map(|h| cached(h)).collect::<Vec<_>>());
    for ((b, s), a) in boxes.iter().zip(&after).zip(addrs) {
        assert_same_state(
            s,
            &b.managed_state(),
            &format!("the second run changes nothing on {a}"),
        );
    }

    // A cached binary of the right name and size but other contents is never run: the
    // probe's sha256 does not match, so it is uploaded again (and checked once more right
    // before it runs).
    let (name, _, _) = cached(&homes[0]).pop().unwrap();
    let bin = homes[0].join(".cache/blotctl").join(&name);
    let len = std::fs::metadata(&bin).unwrap().len() as usize;
    let mut tampered = b"#!/bin/sh\necho tampered\nexit 0\n".to_vec();
    tampered.resize(len, b'#');
    std::fs::write(&bin, &tampered).unwrap();
    let mut c = lab.blotctl();
    c.args(["provision", "--dry-run"]);
    with_hosts(&mut c, &[addrs[0]]);
    let (run4, _) = run(&mut c);
    run4.success()
        .check(row(run4.stdout(), addrs[0])[3] == "uploaded", "uploaded")
        .stdout_lacks("tampered");
    assert_ne!(std::fs::read(&bin).unwrap(), tampered);

    // Wall time: one host alone (a fresh box on 127.0.0.2) against the three above.
    let alone = TestBox::fresh();
    let mut c = lab.blotctl();
    c.args(["provision", "--yes", "--host", addrs[0], "--remote-root"])
        .arg(format!("{}={}", addrs[0], alone.root.display()));
    let (run5, one) = run(&mut c);
    run5.success();
    let ratio = three.as_secs_f64() / one.as_secs_f64();
    let busy: f64 = host_secs.iter().sum();
    eprintln!(
        "wall time of provision --yes: 1 host {:.2}s; 3 hosts (+1 unreachable) {:.2}s = \
         {ratio:.2}x one host's, while the three hosts' own times add up to {busy:.2}s",
        one.as_secs_f64(),
        three.as_secs_f64()
    );
    // The hosts ran at the same time: the run took little more than its slowest host, far
    // less than the sum of the three (this holds however busy the machine's CPUs are).
    let slowest = host_secs.iter().cloned().fold(0.0, f64::max);
    assert!(
        three.as_secs_f64() < slowest + 2.0 && three.as_secs_f64() < 0.6 * busy,
        "the three hosts did not run in parallel"
    );
    // The ratio to one host alone is printed, not asserted: on a 2-core machine shared with
    // other builds the CPU work of the fakes (python) bounds it, and it swings with the load.

    // A host where the upload fails (its ~/.cache is a file) is reported as such, and the
    // other host still runs.
    let broken = "127.0.0.7";
    let (passwd, home) = lab.passwd_with_root_home(broken);
    std::fs::write(home.join(".cache"), "not a directory\n").unwrap();
    sshds.push(lab.sshd(broken, &[(passwd, "/etc/passwd")]));
    let mut c = lab.blotctl();
    c.args(["provision", "--dry-run", "--parallel", "1"]);
    with_hosts(&mut c, &[broken, addrs[0]]);
    let (run6, _) = run(&mut c);
    run6.code(1)
        .stderr_has(&format!("{broken} | -- upload failed: "))
        .stdout_has("(1 at a time)");
    let out = run6.stdout();
    assert_eq!(row(out, broken)[1], "upload failed");
    assert_eq!(row(out, addrs[0])[1..4], ["ok", "0", "cached"][..]);
    drop(sshds);
}

/// Every setting the local command sees reaches the box: `BLOTCTL_*` variables (which sudo
/// would drop), `--config FILE` (a file on this machine) and `--set`, as `--set` flags on the
/// remote command line, over the box's own /etc/blotctl.toml.
#[test]
fn local_settings_reach_the_remote_run() {
    needs!(root, "sshd", "ssh", "ssh-keygen", "unshare", "nsenter");
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new();
    let addr = "127.0.0.2";
    let (passwd, _home) = lab.passwd_with_root_home(addr);
    let _sshd = lab.sshd(addr, &[(passwd, "/etc/passwd")]);
    let b = TestBox::fresh();
    // The box's nginx sends requests to 9000: blot_port 8080 (the default) is refused there.
    b.set_nginx_upstream(9000);
    let local = lab.path("local.toml");
    std::fs::write(&local, "log_keep = 7\nmonit_interval = 20\n").unwrap();
    let mut c = lab.blotctl();
    c.args(["provision", "--dry-run", "--host", addr, "--remote-root"])
        .arg(format!("{addr}={}", b.root.display()))
        .arg("--config")
        .arg(&local)
        .args(["--set", "monit_interval=15"])
        .env("BLOTCTL_BLOT_PORT", "9000");
    let (out, _) = run(&mut c);
    out.code(2);
    for want in [
        "+  if failed port 9000 protocol http", // BLOTCTL_BLOT_PORT (monit looks there)
        "+    rotate 7",                        // --config FILE
        "+set daemon 15 with start delay 60",   // --set over --config
        "+start on started redis",              // (the box's own settings apply too)
    ] {
        out.stdout_has(&format!("{addr} | {want}"));
    }
    // Without them, the box plans its own settings: 8080, refused against its nginx.
    let mut c = lab.blotctl();
    c.args(["provision", "--dry-run", "--host", addr, "--remote-root"])
        .arg(format!("{addr}={}", b.root.display()));
    let (out, _) = run(&mut c);
    out.code(1).stdout_has("blot_port is 8080, but");
}

/// What is refused before connecting anywhere (exit 64): no sshd needed.
#[test]
fn usage_errors_before_any_connection() {
    let cases: &[(&[&str], &str)] = &[
        (&["provision", "--host", "h"], "no prompt per host"),
        (
            &["provision", "--dry-run", "--host=-oProxyCommand=touch x"],
            "bad host",
        ),
        (&["provision", "--dry-run", "--host", "a b"], "bad host"),
        (
            &["provision", "--dry-run", "--json", "--host", "h"],
            "--json/--format with --host",
        ),
        (&["capture", "/tmp/x", "--host", "h"], "run it on the box"),
        (
            &[
                "provision",
                "--dry-run",
                "--host",
                "h",
                "--set",
                "blot_prot=1",
            ],
            "did you mean `blot_port`",
        ),
        (
            &[
                "provision",
                "--dry-run",
                "--host",
                "h",
                "--set",
                "blot_port=abc",
            ],
            "--set \"blot_port=abc\"",
        ),
        (
            &["verify", "--format", "junit", "--host", "h"],
            "--json/--format with --host",
        ),
        (&["rollback", "--host", "h"], "no prompt per host"),
        (
            &[
                "provision",
                "--dry-run",
                "--host",
                "h",
                "--binary",
                "/nonexistent/blotctl",
            ],
            "no such file",
        ),
        (
            &["provision", "--dry-run", "--host", "h", "--parallel", "0"],
            "--parallel",
        ),
    ];
    for (args, want) in cases {
        Cmd::new(blotctl_bin())
            .args(*args)
            .env("BLOTCTL_SSH_OPTS", "-o ConnectTimeout=1")
            .run()
            .code(64)
            .stderr_has(want)
            // it connected nowhere
            .stdout_lacks(" | ");
    }
    let empty = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(empty.path(), "# nothing yet\n\n").unwrap();
    Cmd::new(blotctl_bin())
        .args(["verify", "--hosts-file"])
        .arg(empty.path())
        .run()
        .code(64)
        .stderr_has("no hosts");
}

/// The `ec2-user` login of the sudo test: this machine's passwd, group and shadow plus that
/// user (a uid and gid free here), with a home in the lab.
fn add_login_user(lab: &Lab) -> Vec<(PathBuf, &'static str)> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap();
    let (passwd, group, shadow) = (read("/etc/passwd"), read("/etc/group"), read("/etc/shadow"));
    let used = |text: &str, id: u32| {
        text.lines()
            .any(|l| l.split(':').nth(2) == Some(id.to_string().as_str()))
    };
    let id = (500..60000)
        .find(|id| !used(&passwd, *id) && !used(&group, *id))
        .unwrap();
    assert!(
        !passwd.lines().any(|l| l.starts_with("ec2-user:")),
        "this machine has an ec2-user already"
    );
    let home = lab.path("home-ec2-user");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(id), Some(id)).unwrap();
    let files = [
        (
            "passwd",
            passwd
                + &format!(
                    "ec2-user:x:{id}:{id}:EC2 Default User:{}:/bin/sh\n",
                    home.display()
                ),
            "/etc/passwd",
        ),
        (
            "group",
            group + &format!("ec2-user:x:{id}:\n"),
            "/etc/group",
        ),
        // `*`: no password (sshd without PAM refuses only a locked `!` account).
        (
            "shadow",
            shadow + "ec2-user:*:19000:0:99999:7:::\n",
            "/etc/shadow",
        ),
    ];
    files
        .into_iter()
        .map(|(name, text, over)| {
            let p = lab.path(&format!("{name}-sudo"));
            std::fs::write(&p, text).unwrap();
            let mode = if name == "shadow" { 0o640 } else { 0o644 };
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            (p, over)
        })
        .collect()
}

/// The sudo path for real: logged in as an unprivileged user whose sudo has the fresh
/// box's `Defaults requiretty`. The sshd's namespace has the fixture box's own /etc/sudoers
/// (requiretty) and /etc/sudoers.d (cloud-init's `ec2-user ALL = NOPASSWD: ALL`) bound over
/// this machine's, and an ec2-user in passwd/group/shadow. Without a terminal sudo refuses;
/// blotctl's `ssh -tt` gets through, provisions the box (removing requiretty), and once that
/// provisioned sudoers is the one in force, sudo works without a terminal too and blotctl
/// (still with -tt) still works.
#[test]
fn sudo_over_ssh_needs_a_tty_until_provision_removes_requiretty() {
    needs!(
        root,
        "sshd",
        "ssh",
        "ssh-keygen",
        "unshare",
        "nsenter",
        "sudo"
    );
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new();
    let b = TestBox::fresh();
    let addr = "127.0.0.6";
    let dest = format!("ec2-user@{addr}");
    let mut binds = add_login_user(&lab);
    binds.push((b.path("/etc/sudoers"), "/etc/sudoers"));
    binds.push((b.path("/etc/sudoers.d"), "/etc/sudoers.d"));
    assert!(b
        .read("/etc/sudoers")
        .contains("\nDefaults    requiretty\n"));
    let sshd = lab.sshd(addr, &binds);

    // This is the namespace's sudo, not this machine's: it is the box's sudoers.
    let out = lab.ssh(false, &dest, "id -un; sudo -n true");
    // Without a terminal, requiretty stops sudo.
    out.check(out.stdout() == "ec2-user\n", "logged in as ec2-user")
        .stderr_has("sudo: sorry, you must have a tty to run sudo")
        .check(out.exit() != Some(0), "sudo ran");
    let out = lab.ssh(true, &dest, "sudo -n id -u");
    // With -tt sudo runs.
    out.check(out.stdout().trim_end() == "0", "sudo -n id -u printed 0");

    let mut c = lab.blotctl();
    c.args(["provision", "--yes", "--host", &dest, "--remote-root"])
        .arg(format!("{dest}={}", b.root.display()));
    let (out, _) = run(&mut c);
    // provision over sudo and -tt
    out.success().stdout_has(&format!("{dest} | provisioned: "));
    assert_eq!(row(out.stdout(), &dest)[1..4], ["ok", "26", "uploaded"][..]);
    assert!(b
        .read("/etc/sudoers")
        .contains("\n#Defaults    requiretty\n"));
    let bin = std::fs::read_dir(lab.path("home-ec2-user/.cache/blotctl"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .metadata()
        .unwrap();
    assert_eq!(bin.mode() & 0o7777, 0o700, "uploaded for its owner only");

    // Put the provisioned sudoers in force (provision replaced the file by rename, so the
    // namespace still shows the old, now unlinked, one): now sudo works without a terminal.
    sshd.nsenter(&[
        "sh",
        "-c",
        "umount /etc/sudoers && mount --bind \"$1\" /etc/sudoers",
        "sh",
        &b.path("/etc/sudoers").display().to_string(),
    ]);
    let out = lab.ssh(false, &dest, "sudo -n id -u");
    out.check(out.stdout() == "0\n", "sudo -n id -u printed 0");

    // And blotctl, still over -tt, still works: nothing left to do.
    let mut c = lab.blotctl();
    c.args(["provision", "--dry-run", "--host", &dest, "--remote-root"])
        .arg(format!("{dest}={}", b.root.display()));
    let (out, _) = run(&mut c);
    assert_eq!(
        row(out.success().stdout(), &dest)[1..4],
        ["ok", "0", "cached"][..]
    );
}

/// Without `--binary`, a blotctl that is not the portable build uploads its checkout's
/// `target/dist/blotctl`, found beside its own build directory whatever the current
/// directory; with none there, it says how to build one (exit 64) before connecting.
#[test]
fn the_portable_build_is_found_beside_this_one_from_any_directory() {
    let checkout = tempfile::tempdir().unwrap();
    let release = checkout.path().join("target/release");
    std::fs::create_dir_all(&release).unwrap();
    let this = release.join("blotctl");
    copy_by_cp(&blotctl_bin(), &this);
    let run = || {
        Cmd::new(&this)
            .args(["provision", "--dry-run", "--host", "127.0.0.1"])
            // Port 1: refused at once, nothing is ever uploaded.
            .env("BLOTCTL_SSH_OPTS", "-o Port=1 -o ConnectTimeout=1")
            .current_dir("/")
            .run()
    };
    run().code(64).stderr_has("no portable blotctl to upload");

    let dist = checkout.path().join("target/dist");
    std::fs::create_dir_all(&dist).unwrap();
    copy_by_cp(&this, &dist.join("blotctl"));
    run()
        .stderr_lacks("no portable blotctl")
        .stdout_has("127.0.0.1")
        .stdout_has("unreachable")
        .code(1);
}
