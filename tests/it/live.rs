//! The live stack, as Blot really runs: the real sudo with the box's own sudoers, the real
//! redis, nginx and monit, and a Blot stand-in no kinder than Blot, all started by the jobs
//! blotctl renders, exactly as they are written, on a scratch copy of the fixture box.
//!
//! How it is wired:
//! - The box is a chroot. A private mount namespace (`unshare --mount`, held open by a
//!   `sleep`) bind-mounts this machine's /usr (read-only), /dev, a /proc, PAM's and the
//!   linker's files into the box, and this machine's node over the app user's nvm node
//!   (`~ec2-user/.nvm/v4.4.2/bin/node`). Nothing of this machine's own files is written:
//!   the box's /etc (passwd with ec2-user 500, the box's sudoers) is the box's.
//! - upstart is the fake initctl (fixtures/bin), told to run each job's own processes
//!   (`FAKE_UPSTART_RUN_JOBS=chroot`): the `exec` line or `script` through `/bin/sh -e`,
//!   chrooted into the box, with upstart's environment, `chdir`, pre-start/post-stop, and
//!   `expect fork` followed (nginx). So `sudo -u ec2-user ...` is the real sudo reading the
//!   box's sudoers (env_reset, env_keep; requiretty removed by provision), the app is the
//!   checkout's `app/index.js`, redis runs the root-owned copy /etc/blot/redis.conf and
//!   nginx /etc/blot/nginx.conf, monit the rendered /etc/monit.rc.
//! - The checkout's own configs name the ports (free ones, written into them here): Blot's
//!   port is in its config, so `blot_port` only tells monit and verify where to look.
//! - monit's start/stop programs are settings, pointed at /opt/live/{start,stop} in the box
//!   (fixtures/live/jobctl: the fake `start`/`stop`, as /sbin/start and /sbin/stop are
//!   initctl on the box). Its cycle is shortened by the settings (1 s, start delay 1 s).
//! - What differs from the Amazon Linux box is only what Debian's programs need: the
//!   `nogroup` group (nginx's default), /var/lib/nginx (its temp paths), /tmp, /run, /root.
//! - A guard (`Stack`) stops every process chrooted into the box (`/proc/PID/root`), then
//!   the namespace's holder, also when the test fails; fixtures/live/reaper does it if this
//!   process is killed.
//!
//! It proves: (a) monit restarts nothing while the app is healthy for at least 3 cycles;
//! (b) monit restarts the app after it stops answering (nginx, which answers its own
//! /health, is left alone); (c) verify passes, then fails with the app stopped; (d) the app
//! saw NODE_ENV=production (past the real sudo's env_reset), as ec2-user, and no PORT; (e)
//! the real sudo's refusal under requiretty lands in root's log of the job, and nothing
//! else does. The monit log lines of (a) and (b) are printed (`--nocapture`) for the record.

use crate::util::*;
use rustix::process::{Pid, Signal};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// monit's cycle and start delay for the test (the settings `monit_interval` and
/// `monit_start_delay`), in seconds.
const MONIT_INTERVAL: u64 = 1;
const MONIT_START_DELAY: u64 = 1;
const APP_LOG: &str = "/var/www/blot/logs/app.log";
const SYS_LOG: &str = "/var/www/blot/logs/sys.log";
const MONIT_LOG: &str = "/var/log/blot/monit.log";
const JOBCTL_LOG: &str = "/opt/live/jobctl.log";
/// What sudo prints in the blot job, before ec2-user's shell opens the app's logs.
const BLOT_ROOT_LOG: &str = "/var/log/blot/blot.log";

/// Run in the new mount namespace: $1 the box, $2 this machine's node. Prints `ready`.
const NAMESPACE: &str = r#"set -e
box=$1
mount --make-rprivate /
mount --bind /usr "$box/usr"
mount -o remount,bind,ro "$box/usr"
mount --rbind /dev "$box/dev"
mount -t proc proc "$box/proc"
for d in pam.d security alternatives; do
    mount --bind "/etc/$d" "$box/etc/$d"
    mount -o remount,bind,ro "$box/etc/$d"
done
for f in ld.so.cache nsswitch.conf sudo.conf; do
    if [ -e "/etc/$f" ]; then mount --bind "/etc/$f" "$box/etc/$f"; fi
done
mount --bind "$2" "$box/home/ec2-user/.nvm/v4.4.2/bin/node"
echo ready
exec sleep 86400
"#;

/// The running stack and everything needed to stop it.
struct Stack {
    /// Dropped after `Stack::drop` has stopped every process.
    b: TestBox,
    /// The box's real path (what `/proc/PID/root` shows for its processes).
    box_root: PathBuf,
    /// The `sleep` holding the mount namespace.
    holder: Child,
    redis_port: u16,
    blot_port: u16,
    nginx_port: u16,
    /// fixtures/live/reaper: stops the stack if this process dies without its guard.
    reaper: Option<Child>,
}

/// `blotctl verify --json`, parsed.
struct Verify {
    run: Run,
    checks: Vec<(String, bool, String)>,
}

impl Verify {
    fn ok(&self) -> bool {
        self.run.exit() == Some(0)
    }
    fn failing(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| !c.1)
            .map(|c| c.0.as_str())
            .collect()
    }
}

fn edit_once(b: &TestBox, box_path: &str, from: &str, to: &str) {
    let text = b.read(box_path);
    assert_eq!(
        text.matches(from).count(),
        1,
        "{box_path} no longer has exactly one {from:?}: update tests/it/live.rs"
    );
    b.write(box_path, &text.replacen(from, to, 1));
}

impl Stack {
    /// Build the box and its namespace, then provision (which starts the stack). Needs
    /// root (chroot, mounts) and the programs of [`live_blot_is_kept_alive_as_it_really_runs`].
    fn start() -> Stack {
        let b = TestBox::fresh();
        let box_root = std::fs::canonicalize(&b.root).unwrap();
        let [redis_port, blot_port, nginx_port] = free_ports::<3>();

        // The checkout's own configs name the ports.
        let app_conf = "/var/www/blot/config/index.js";
        edit_once(&b, app_conf, "port: 8080,", &format!("port: {blot_port},"));
        edit_once(
            &b,
            app_conf,
            "redis: { port: 6379 }",
            &format!("redis: {{ port: {redis_port} }}"),
        );
        let nginx_conf = "/var/www/blot/config/nginx.conf";
        edit_once(
            &b,
            nginx_conf,
            "server 127.0.0.1:8080;",
            &format!("server 127.0.0.1:{blot_port};"),
        );
        edit_once(
            &b,
            nginx_conf,
            "listen 80 default_server;",
            &format!("listen 127.0.0.1:{nginx_port} default_server;"),
        );
        edit_once(
            &b,
            "/var/www/blot/config/redis.conf",
            "\nport 6379\n",
            &format!("\nport {redis_port}\n"),
        );

        // What Debian's programs need in the chroot, and the mount points.
        let group = b.read("/etc/group");
        b.write("/etc/group", &format!("{group}nogroup:x:65534:\n"));
        for (dir, mode) in [
            ("/var/lib/nginx", 0o755),
            ("/tmp", 0o1777),
            ("/run", 0o755),
            ("/root", 0o700),
            ("/proc", 0o555),
            ("/dev", 0o755),
            ("/etc/pam.d", 0o755),
            ("/etc/security", 0o755),
            ("/etc/alternatives", 0o755),
            ("/opt/live", 0o755),
            ("/opt/fake-upstart", 0o755),
        ] {
            std::fs::create_dir_all(b.path(dir)).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(b.path(dir), std::fs::Permissions::from_mode(mode)).unwrap();
        }
        for f in ["ld.so.cache", "nsswitch.conf", "sudo.conf"] {
            b.write(&format!("/etc/{f}"), "");
        }
        for (link, to) in [
            ("bin", "usr/bin"),
            ("lib", "usr/lib"),
            ("lib64", "usr/lib64"),
        ] {
            std::os::unix::fs::symlink(to, b.path(link)).unwrap();
        }

        // The fake upstart and monit's start/stop programs, inside the box.
        // (by `cp`: they run later, see `copy_by_cp`)
        for e in std::fs::read_dir(project().join("fixtures/bin")).unwrap() {
            let e = e.unwrap();
            copy_by_cp(&e.path(), &b.path("/opt/fake-upstart").join(e.file_name()));
        }
        copy_by_cp(
            &project().join("fixtures/live/jobctl"),
            &b.path("/opt/live/jobctl"),
        );
        for name in ["start", "stop"] {
            std::os::unix::fs::symlink("jobctl", b.path(&format!("/opt/live/{name}"))).unwrap();
        }
        b.write(
            "/opt/live/jobctl.env",
            &format!("FAKE_BIN=/opt/fake-upstart\nJOBCTL_LOG={JOBCTL_LOG}\n"),
        );
        b.write(JOBCTL_LOG, "");

        // Debian's redis-server is /usr/bin's; the cycle is shortened for the test.
        b.write(
            "/etc/blotctl.toml",
            &format!(
                "start_settle_ms = 500\nstart_timeout = 20\n\
                 blot_port = {blot_port}\nnginx_port = {nginx_port}\n\
                 redis_server = \"/usr/bin/redis-server\"\n\
                 start_program = \"/opt/live/start\"\nstop_program = \"/opt/live/stop\"\n\
                 monit_interval = {MONIT_INTERVAL}\nmonit_start_delay = {MONIT_START_DELAY}\n"
            ),
        );

        // The namespace.
        let mut holder = Command::new("unshare")
            .args(["--mount", "--", "sh", "-c", NAMESPACE, "sh"])
            .arg(&box_root)
            .arg(program_path("node").unwrap())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut ready = [0u8; 6];
        let got = holder.stdout.take().unwrap().read_exact(&mut ready);
        if got.is_err() || &ready != b"ready\n" {
            let _ = holder.kill();
            let _ = holder.wait();
            panic!("the mount namespace for the box could not be set up");
        }
        // If this process is killed (a timeout, ^C), the reaper stops what it leaves.
        let reaper = Command::new(project().join("fixtures/live/reaper"))
            .arg(std::process::id().to_string())
            .arg(&box_root)
            .arg(holder.id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();

        // From here on the guard stops whatever provision starts.
        let stack = Stack {
            b,
            box_root,
            holder,
            redis_port,
            blot_port,
            nginx_port,
            reaper: Some(reaper),
        };
        stack
            .blotctl(&["provision", "--yes"])
            .about(format!("provision, the stack:\n{}", stack.diagnostics()))
            .success();
        stack
    }

    /// A command run in the box's mount namespace (not chrooted), with the fakes first on
    /// PATH and the fake upstart running the jobs' own processes.
    fn in_namespace(&self, program: &Path) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--mount=/proc/{}/ns/mnt", self.holder.id()))
            .arg("--")
            .arg(program)
            .env("PATH", fake_path())
            .env("FAKE_UPSTART_RUN_JOBS", "chroot")
            .env_remove("BLOTCTL_ROOT")
            .env_remove("BLOTCTL_CONFIG")
            .stdin(Stdio::null());
        c
    }

    fn blotctl(&self, args: &[&str]) -> Run {
        self.in_namespace(&blotctl_bin())
            .arg("--root")
            .arg(&self.box_root)
            .args(args)
            .run()
    }

    /// The fake initctl on this box (`start`, `stop`, `status`, `list`).
    fn initctl(&self, args: &[&str]) -> Run {
        self.in_namespace(&project().join("fixtures/bin/initctl"))
            .args(args)
            .env("BLOTCTL_ROOT", &self.box_root)
            .run()
    }

    fn verify(&self) -> Verify {
        let run = self.blotctl(&["verify", "--json"]);
        let doc = run.json();
        // (name, not failed, what it found)
        let checks = doc["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["state"] != "failed",
                    c["reason"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        Verify { run, checks }
    }

    /// Run verify until `done` holds for it, at most `within`; the last result.
    fn verify_until(&self, within: Duration, done: impl Fn(&Verify) -> bool) -> Verify {
        let deadline = Instant::now() + within;
        loop {
            let v = self.verify();
            if done(&v) || Instant::now() >= deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// The PID the fake upstart tracks for a job.
    fn job_pid(&self, job: &str) -> i32 {
        let out = self.initctl(&["status", job]);
        let pid = out
            .stdout()
            .trim()
            .rsplit(' ')
            .next()
            .and_then(|w| w.parse().ok());
        out.check(pid.is_some(), format_args!("no process for {job}"));
        pid.unwrap()
    }

    fn log(&self, box_path: &str) -> String {
        std::fs::read_to_string(self.b.path(box_path)).unwrap_or_default()
    }

    /// Wait until `done` holds for the text of a log, at most `within`; the last text.
    fn wait_log(&self, box_path: &str, within: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let text = self.log(box_path);
            if done(&text) || Instant::now() >= deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// monit's log lines that carry a timestamp (its own log; its stdout, in the same
    /// file, repeats some of them without one).
    fn monit_lines(&self) -> Vec<String> {
        self.log(MONIT_LOG)
            .lines()
            .filter(|l| l.starts_with('['))
            .map(str::to_string)
            .collect()
    }

    fn diagnostics(&self) -> String {
        let tail = |p: &str, n: usize| {
            let t = self.log(p);
            let lines: Vec<&str> = t.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        };
        let mut s = format!(
            "--- ports: redis {} blot {} nginx {}\n--- initctl list\n{}",
            self.redis_port,
            self.blot_port,
            self.nginx_port,
            self.initctl(&["list"]).stdout()
        );
        for (what, p) in [
            ("jobctl (monit's start/stop program)", JOBCTL_LOG),
            ("monit log", MONIT_LOG),
            ("app.log", APP_LOG),
            ("sys.log", SYS_LOG),
            ("redis.log", "/var/www/blot/logs/redis.log"),
            ("nginx log", "/var/log/blot/nginx.log"),
            ("blot's root log (sudo's own)", BLOT_ROOT_LOG),
            ("redis's root log (sudo's own)", "/var/log/blot/redis.log"),
        ] {
            s.push_str(&format!("--- {what}\n{}\n", tail(p, 25)));
        }
        s
    }

    /// Live processes chrooted into the box.
    fn box_processes(&self) -> Vec<i32> {
        let me = std::process::id() as i32;
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return vec![];
        };
        rd.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&pid| pid != me && alive(pid))
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/root"))
                    .ok()
                    .as_deref()
                    == Some(self.box_root.as_path())
            })
            .collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("live stack at the failure:\n{}", self.diagnostics());
        }
        for _ in 0..3 {
            let pids = self.box_processes();
            if pids.is_empty() {
                break;
            }
            for pid in &pids {
                send(*pid, Signal::CONT);
                send(*pid, Signal::KILL);
            }
            wait_gone(&pids, Duration::from_secs(2));
        }
        let left = self.box_processes();
        if !left.is_empty() {
            eprintln!("live stack: processes still running after cleanup: {left:?}");
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        if let Some(mut r) = self.reaper.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
    }
}

fn alive(pid: i32) -> bool {
    // /proc/PID/stat is "PID (COMM) STATE ..."; a zombie or dead task is gone for us.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| !matches!(rest.trim_start().chars().next(), Some('Z' | 'X')))
        })
        .unwrap_or(false)
}

fn send(pid: i32, sig: Signal) {
    if pid > 1 {
        if let Some(p) = Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(p, sig);
        }
    }
}

fn wait_gone(pids: &[i32], within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if !pids.iter().any(|&p| alive(p)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A process's (comm, uid, command line).
fn process(pid: i32) -> (String, u32, String) {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
    (comm.trim().to_string(), uid, cmd.trim().to_string())
}

/// The live children of a process.
fn children(pid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&c| alive(c))
        .filter(|c| {
            std::fs::read_to_string(format!("/proc/{c}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = s.rsplit_once(')')?.1.to_string();
                    rest.split_whitespace().nth(1)?.parse::<i32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// GET http://127.0.0.1:port/path with a Host header over a plain socket: (status, body).
fn http_get(port: u16, path: &str, host: &str) -> std::io::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|w| w.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    Ok((status, body.to_string()))
}

/// How many `YYYY-MM-DD HH:MM:SS JOB: starting ...` lines a sys.log holds.
fn starts(sys_log: &str, job: &str) -> usize {
    sys_log
        .lines()
        .filter(|l| {
            let (date, rest) = l.split_at(l.len().min(20));
            let stamp = date.len() == 20
                && date.bytes().enumerate().all(|(i, b)| match i {
                    4 | 7 => b == b'-',
                    10 | 19 => b == b' ',
                    13 | 16 => b == b':',
                    _ => b.is_ascii_digit(),
                });
            stamp && rest.starts_with(&format!("{job}: starting"))
        })
        .count()
}

/// The health requests monit made to the app that it answered 200, from app.log.
fn monit_health_oks(app_log: &str, port: u16) -> Vec<String> {
    let want = format!("GET /health host=localhost:{port} ua=Monit/");
    app_log
        .lines()
        .filter(|l| l.contains(&want) && l.ends_with("-> 200"))
        .map(str::to_string)
        .collect()
}

#[test]
fn live_blot_is_kept_alive_as_it_really_runs() {
    needs!(
        root,
        "node",
        "redis-server",
        "nginx",
        "monit",
        "visudo",
        "sudo",
        "unshare",
        "nsenter",
        "python3",
    );
    let stack = Stack::start();
    let begun = Instant::now();
    let (bp, np) = (stack.blot_port, stack.nginx_port);

    // (c) The whole stack is up: verify passes.
    let v = stack.verify_until(Duration::from_secs(30), Verify::ok);
    assert!(
        v.ok(),
        "verify failed on the fresh stack:\n{}\n{}",
        v.run,
        stack.diagnostics()
    );

    // The stand-in is no kinder than Blot: health for the host name localhost only.
    for (port, path, host, want) in [
        (bp, "/health", format!("localhost:{bp}"), (200, "OK\n")),
        (bp, "/health", "localhost".into(), (200, "OK\n")),
        (
            bp,
            "/health",
            format!("127.0.0.1:{bp}"),
            (404, "There is no blog at this address.\n"),
        ),
        (
            bp,
            "/",
            "127.0.0.1".into(),
            (404, "There is no blog at this address.\n"),
        ),
        // nginx answers its own /health, whatever the host, and proxies the rest.
        (np, "/health", "127.0.0.1".into(), (200, "OK\n")),
        (np, "/", "blot.im".into(), (200, "Blot stand-in: blot.im\n")),
        (
            np,
            "/",
            "example.com".into(),
            (404, "There is no blog at this address.\n"),
        ),
    ] {
        let (status, body) = http_get(port, path, &host).unwrap();
        assert_eq!(
            (status, body.as_str()),
            want,
            "GET {path} on {port} with Host {host}"
        );
    }

    // (d) What reached the app past the real sudo and the box's sudoers (env_reset).
    let app_log = stack.log(APP_LOG);
    let started = app_log
        .lines()
        .find_map(|l| l.strip_prefix("blot-standin started "))
        .unwrap_or_else(|| panic!("the app never started:\n{}", stack.diagnostics()));
    let seen: serde_json::Value = serde_json::from_str(started).unwrap();
    let env = &seen["env"];
    assert_eq!(env["NODE_ENV"], "production", "{started}");
    assert_eq!(env["HOME"], "/home/ec2-user", "{started}");
    assert_eq!(env["SUDO_USER"], "root", "it came through sudo: {started}");
    assert!(env.get("PORT").is_none(), "nothing sets PORT: {started}");
    assert_eq!(
        (seen["uid"].as_u64(), seen["gid"].as_u64()),
        (Some(500), Some(500))
    );
    assert_eq!(seen["cwd"], "/var/www/blot");
    assert_eq!(seen["port"], bp, "the port of its own config");
    eprintln!("live (d): the app started with {started}");

    // The jobs' start lines reach sys.log (the file blotctl creates and rotates), written
    // by ec2-user's shell after sudo: `<date> <time> redis: starting`, `... blot: starting`.
    let sys_log = stack.log(SYS_LOG);
    for job in ["redis", "blot"] {
        assert_eq!(
            starts(&sys_log, job),
            1,
            "one start of {job} in sys.log:\n{sys_log}"
        );
    }
    assert_eq!(stack.b.owner(SYS_LOG), (500, 500), "sys.log is ec2-user's");

    // Who runs what: the app and redis as ec2-user, only nginx's master and monit as
    // root, and nginx on the root-owned copy of the checkout's config.
    let blot = stack.job_pid("blot");
    let node = children(blot);
    assert_eq!(node.len(), 1, "sudo has node as its one child: {node:?}");
    let node = node[0];
    let redis = children(stack.job_pid("redis"));
    for (pid, comm, uid, cmd) in [
        (
            node,
            "node",
            500,
            "/home/ec2-user/.nvm/v4.4.2/bin/node /var/www/blot/app/index.js",
        ),
        (
            redis[0],
            "redis-server",
            500,
            "/usr/bin/redis-server 127.0.0.1:",
        ),
        (
            stack.job_pid("nginx"),
            "nginx",
            0,
            "nginx: master process /usr/sbin/nginx -c /etc/blot/nginx.conf",
        ),
        (
            stack.job_pid("monit"),
            "monit",
            0,
            "/usr/bin/monit -I -c /etc/monit.rc",
        ),
    ] {
        let (c, u, line) = process(pid);
        assert_eq!((c.as_str(), u), (comm, uid), "{line}");
        assert!(line.starts_with(cmd), "{line}");
    }

    // (a) While the app is healthy, monit restarts nothing: at least 3 of its cycles of
    // health requests, all answered 200, no failure, no start/stop call. (monit 5.33 skips
    // a process's port tests while the process is younger than its start program's
    // timeout, 30 s by default: the first requests come after that.)
    let need = 4; // 4 requests span at least 3 cycles
    let app_log = stack.wait_log(APP_LOG, Duration::from_secs(90), |t| {
        monit_health_oks(t, bp).len() >= need
    });
    let oks = monit_health_oks(&app_log, bp);
    assert!(
        oks.len() >= need,
        "monit asked the app's health fewer than {need} times:\n{}",
        stack.diagnostics()
    );
    let quiet = stack.monit_lines();
    assert!(
        !quiet
            .iter()
            .any(|l| l.contains("failed") || l.contains("restart") || l.contains("start:")),
        "monit acted on a healthy app:\n{}",
        quiet.join("\n")
    );
    assert_eq!(stack.log(JOBCTL_LOG), "", "monit called start/stop");
    assert_eq!(stack.job_pid("blot"), blot, "blot was restarted");
    eprintln!(
        "live (a): {} health checks by monit, all 200, no restart; monit's log:\n{}\n\
         the app's log of them:\n{}",
        oks.len(),
        quiet.join("\n"),
        oks.join("\n")
    );

    // (b) The app stops answering (node hangs): monit fails its check for 2 cycles,
    // restarts blot through its start/stop programs, and the new app answers. nginx,
    // whose /health it answers itself, is not restarted.
    let nginx = stack.job_pid("nginx");
    let before = stack.monit_lines().len();
    send(node, Signal::STOP);
    let log = stack.wait_log(JOBCTL_LOG, Duration::from_secs(120), |t| {
        t.contains(" start blot -> exit 0")
    });
    assert!(
        log.contains(" stop blot -> exit 0") && log.contains(" start blot -> exit 0"),
        "monit did not restart the hung app:\n{}",
        stack.diagnostics()
    );
    let v = stack.verify_until(Duration::from_secs(90), Verify::ok);
    assert!(
        v.ok(),
        "the app did not come back:\n{}\n{}",
        v.run,
        stack.diagnostics()
    );
    // monit itself sees the new app healthy (after its start grace, see (a)).
    let back = format!("'blot' connection succeeded to [localhost]:{bp}/health");
    stack.wait_log(MONIT_LOG, Duration::from_secs(90), |t| {
        t.lines()
            .filter(|l| l.starts_with('['))
            .skip(before)
            .any(|l| l.contains(&back))
    });
    let restart: Vec<String> = stack.monit_lines().split_off(before);
    for want in [
        back.clone(),
        format!("'blot' failed protocol test [HTTP] at [localhost]:{bp}/health"),
        "'blot' trying to restart".to_string(),
        "'blot' stop: '/opt/live/stop blot'".to_string(),
        "'blot' start: '/opt/live/start blot'".to_string(),
    ] {
        assert!(
            restart.iter().any(|l| l.contains(&want)),
            "{want:?} not in monit's log:\n{}",
            restart.join("\n")
        );
    }
    assert!(
        !restart.iter().any(|l| l.contains("'nginx'")),
        "monit acted on nginx: {restart:?}"
    );
    assert_eq!(stack.job_pid("nginx"), nginx, "nginx was restarted");
    assert_ne!(stack.job_pid("blot"), blot);
    // The restart is in sys.log too.
    let sys_log = stack.log(SYS_LOG);
    assert_eq!(starts(&sys_log, "blot"), 2, "{sys_log}");
    eprintln!(
        "live (b): the app hung (SIGSTOP); monit's log:\n{}",
        restart.join("\n")
    );

    // (c) The app stopped through upstart (monit paused, so that it cannot repair it before
    // verify has looked): verify fails naming blot; nginx still passes.
    let monit = stack.job_pid("monit");
    send(monit, Signal::STOP);
    let stop = stack.initctl(&["stop", "blot"]);
    let v = stack.verify();
    send(monit, Signal::CONT);
    stop.success();
    // verify fails with the app stopped
    v.run.code(1);
    let failing = v.failing();
    v.run.check(
        failing.contains(&"job blot running") && failing.contains(&"blot answers HTTP"),
        format_args!("{failing:?}"),
    );
    // Only blot fails (nginx answers its own /health); provision would start it again.
    let only_blot = v.checks.iter().filter(|c| !c.1).all(|(name, _, detail)| {
        name.contains("blot")
            || (name == "provisioned: start jobs" && detail == "drift: start blot")
    });
    v.run
        .check(only_blot, format_args!("only blot may fail: {failing:?}"));
    // monit starts it again.
    let v = stack.verify_until(Duration::from_secs(90), Verify::ok);
    assert!(
        v.ok(),
        "monit did not start the stopped app:\n{}\n{}",
        v.run,
        stack.diagnostics()
    );

    // redis saves its dataset when it is stopped (what `kill timeout` waits for), and
    // verify names it.
    let redis = children(stack.job_pid("redis"));
    assert_eq!(redis.len(), 1, "{redis:?}");
    send(redis[0], Signal::TERM);
    assert!(wait_gone(&redis, Duration::from_secs(10)));
    let v = stack.verify_until(Duration::from_secs(10), |v| {
        v.failing().contains(&"redis answers PING")
    });
    let failing = v.failing();
    v.run.check(
        failing.contains(&"redis answers PING") && failing.contains(&"job redis running"),
        format_args!("{failing:?}"),
    );
    let redis_log = stack.log("/var/www/blot/logs/redis.log");
    assert!(redis_log.contains("DB saved on disk"), "{redis_log}");
    assert_eq!(
        stack.b.owner("/var/www/blot/db/dump.rdb"),
        (500, 500),
        "redis (as ec2-user) saved Blot's dataset in the checkout"
    );
    let (status, body) = http_get(bp, "/health", "localhost").unwrap();
    assert_eq!(status, 503, "{body}");

    // (e) sudo's own messages go to root's log of the job, and only they: after every
    // start so far (the real sudo, the box's sudoers), root's logs of blot and redis hold
    // only lines of sudo's (in this chroot, `unable to resolve host`: the box's /etc/hosts
    // does not name this machine), the app's output being in ec2-user's logs. Then
    // `Defaults requiretty` comes back (a sudoers.d drop-in someone adds): the real sudo
    // refuses the blot job, which has no tty, and says so in root's log, where the operator
    // can read it; ec2-user's logs have nothing of it. (monit is paused so that it does not
    // start blot itself.)
    let sudos_only = |text: &str| text.lines().all(|l| l.starts_with("sudo: "));
    for log in [BLOT_ROOT_LOG, "/var/log/blot/redis.log"] {
        let text = stack.log(log);
        assert!(sudos_only(&text), "{log}: {text}");
    }
    send(stack.job_pid("monit"), Signal::STOP);
    stack.initctl(&["stop", "blot"]).success();
    stack
        .b
        .write("/etc/sudoers.d/requiretty", "Defaults requiretty\n");
    let user_logs = || [APP_LOG, SYS_LOG].map(|p| stack.log(p));
    let before = (user_logs(), stack.log(BLOT_ROOT_LOG).len());
    let start = stack.initctl(&["start", "blot"]);
    let refusal = "sudo: sorry, you must have a tty to run sudo";
    let root_log = stack.wait_log(BLOT_ROOT_LOG, Duration::from_secs(10), |t| {
        t.lines().any(|l| l == refusal)
    });
    let new = &root_log[before.1..];
    start.check(
        new.lines().any(|l| l == refusal) && sudos_only(new),
        format_args!("root's log of blot: {root_log:?}\n{}", stack.diagnostics()),
    );
    assert_eq!(
        user_logs(),
        before.0,
        "sudo's refusal reached ec2-user's logs"
    );
    eprintln!("live (e): with requiretty, sudo's lines in {BLOT_ROOT_LOG}:\n{new}");
    eprintln!(
        "live stack: checks done in {:.1} s\n{}",
        begun.elapsed().as_secs_f64(),
        stack.diagnostics()
    );
}
