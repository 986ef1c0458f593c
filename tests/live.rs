//! The live stack: real redis-server, a Node.js stand-in for Blot, nginx and monit, on
//! loopback, on free ports, all under a scratch copy of the fixture box, provisioned and
//! then checked by `blotctl verify`.
//!
//! How it is wired (see also fixtures/live/):
//! - upstart is the fake `initctl` (fixtures/bin) as in every other test, but each of our
//!   four jobs has an exec hook (`<box>/var/lib/fake-upstart/exec/JOB`), so `start JOB`
//!   runs the real program the way the job's exec line does, and the PID upstart tracks is
//!   the real one: `job X running` in verify is about the real process.
//!   - redis: `redis-server <box>/etc/redis.conf` with the fixture box's redis config
//!     (`daemonize yes` + pidfile; only port, pidfile, logfile and dir moved under the box).
//!     It forks, so the hook runs it through fixtures/live/daemon-watch, our stand-in for
//!     upstart's `expect fork`: the tracked process lives exactly as long as the daemon.
//!   - blot: `node fixtures/live/blot-standin.js` with the job's own `env PORT=` stanza
//!     (the fake passes job env), `>> app.log`, as the job runs Blot (without `sudo -u`).
//!   - nginx: the box's nginx.conf made runnable here (TestBox::install_test_nginx_conf),
//!     `daemon on` (the default, as on the box) through daemon-watch.
//!   - monit: `monit -I` with the control file blotctl rendered and installed, included
//!     verbatim from a wrapper that only sets the id file (else monit writes ~/.monit.id);
//!     `-p`, `-s`, `-l` keep its pid, state and log under the box. Its start/stop programs
//!     are settings, pointed at fixtures/live/jobctl, which runs the fake `start`/`stop`
//!     on this box as /sbin/start and /sbin/stop do on the real one.
//! - `blotctl provision --yes` writes everything and starts the jobs (and so the real
//!   programs); `blotctl verify` probes them for real.
//! - A guard (`Stack`) stops every process the test started, also when it fails: monit
//!   first, then the job processes, the daemons by pidfile, and whatever still carries the
//!   test's tag in its environment. If the test process itself is killed (a timeout, ^C),
//!   fixtures/live/reaper, started beside the stack in its own process group, does it.

mod common;
use common::*;
use rustix::process::{Pid, Signal};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TAG_VAR: &str = "BLOTCTL_LIVE_TAG";
/// monit's cycle and start delay for the test (the settings `monit_interval` and
/// `monit_start_delay`); the control file restarts after `for 2 cycles`.
const MONIT_INTERVAL: u64 = 1;
const MONIT_START_DELAY: u64 = 1;
const HEALTH_PATH: &str = "/health";

/// The running stack and everything needed to stop it.
struct Stack {
    /// Dropped after `Stack::drop` has stopped every process.
    b: TestBox,
    /// `<tmp>/live`, beside the box: monit's start/stop programs, jobctl.env, jobctl.log.
    run: PathBuf,
    tag: String,
    redis_port: u16,
    blot_port: u16,
    nginx_port: u16,
    /// Daemon PIDs seen while the test ran (their pidfiles may be gone at cleanup).
    seen: std::cell::RefCell<Vec<(i32, &'static str)>>,
    /// fixtures/live/reaper: stops the stack if this process dies without its guard.
    reaper: Option<std::process::Child>,
}

/// `blotctl verify --json`, parsed.
struct Verify {
    code: Option<i32>,
    checks: Vec<(String, bool, String)>,
    raw: String,
}

impl Verify {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }
    fn failing(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| !c.1)
            .map(|c| c.0.as_str())
            .collect()
    }
}

fn edit_once(text: &str, from: &str, to: &str, what: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "{what} no longer has exactly one {from:?}: update tests/live.rs"
    );
    text.replacen(from, to, 1)
}

fn q(p: &Path) -> String {
    format!("'{}'", p.display())
}

impl Stack {
    /// Write the box, the hooks and the control program, then provision (which starts
    /// the stack). None when a program is missing outside CI (the reason is printed).
    fn start() -> Option<Stack> {
        if !require_all(&["node", "redis-server", "nginx", "monit", "visudo"]) {
            return None;
        }
        let path = |p: &str| program_path(p).unwrap();
        let (node, redis, nginx, monit) = (
            path("node"),
            path("redis-server"),
            path("nginx"),
            path("monit"),
        );
        let b = TestBox::fresh();
        let root = b.root.clone();
        let run = root.parent().unwrap().join("live");
        std::fs::create_dir_all(&run).unwrap();
        let [redis_port, blot_port, nginx_port] = free_ports::<3>();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let tag = format!("{}-{nanos}", std::process::id());
        let live = project().join("fixtures/live");

        // The fixture box's redis config, as the job starts it; only what would leave the
        // box (or clash with another test) moves.
        let r = |p: &str| format!("{}{p}", root.display());
        let conf = b.read("/etc/redis.conf");
        let conf = edit_once(
            &conf,
            "\nport 6379\n",
            &format!("\nport {redis_port}\n"),
            "redis.conf",
        );
        let conf = edit_once(
            &conf,
            "\npidfile /var/run/redis/redis.pid\n",
            &format!("\npidfile {}\n", r("/var/run/redis/redis.pid")),
            "redis.conf",
        );
        let conf = edit_once(
            &conf,
            "\nlogfile /var/log/redis/redis.log\n",
            &format!("\nlogfile {}\n", r("/var/log/redis/redis.log")),
            "redis.conf",
        );
        let conf = edit_once(
            &conf,
            "\ndir /var/lib/redis\n",
            &format!("\ndir {}\n", r("/var/lib/redis")),
            "redis.conf",
        );
        assert!(conf.contains("\ndaemonize yes\n"));
        b.write("/etc/redis.conf", &conf);
        b.install_test_nginx_conf(nginx_port, blot_port);
        std::fs::create_dir_all(b.path("/var/lib/monit")).unwrap();

        // monit's start/stop programs: fixtures/live/jobctl under the names start and stop.
        for name in ["start", "stop"] {
            std::os::unix::fs::symlink(live.join("jobctl"), run.join(name)).unwrap();
        }
        std::fs::write(
            run.join("jobctl.env"),
            format!(
                "BLOTCTL_ROOT={}\nFAKE_BIN={}\n{TAG_VAR}='{tag}'\nJOBCTL_LOG={}\n",
                q(&root),
                q(&project().join("fixtures/bin")),
                q(&run.join("jobctl.log")),
            ),
        )
        .unwrap();
        std::fs::write(run.join("jobctl.log"), "").unwrap();
        let wrapper = write_monit_wrapper(&b.path("/etc/monit.rc"), &b.path("/var/lib/monit"));

        b.write(
            "/etc/blotctl.toml",
            &format!(
                "start_settle_ms = 500\nstart_timeout = 15\n\
                 blot_port = {blot_port}\nnginx_port = {nginx_port}\n\
                 health_path = \"{HEALTH_PATH}\"\n\
                 node = \"{}\"\nredis_server = \"{}\"\nnginx = \"{}\"\nmonit = \"{}\"\n\
                 start_program = \"{}\"\nstop_program = \"{}\"\n\
                 monit_interval = {MONIT_INTERVAL}\nmonit_start_delay = {MONIT_START_DELAY}\n",
                node.display(),
                redis.display(),
                nginx.display(),
                monit.display(),
                run.join("start").display(),
                run.join("stop").display(),
            ),
        );

        // The jobs' exec hooks: the real programs, as the jobs' exec lines run them.
        let hooks = b.path("/var/lib/fake-upstart/exec");
        std::fs::create_dir_all(&hooks).unwrap();
        let hook = |job: &str, body: String| {
            std::fs::write(
                hooks.join(job),
                format!("export {TAG_VAR}='{tag}'\n{body}\n"),
            )
            .unwrap();
        };
        let watch = live.join("daemon-watch");
        hook(
            "redis",
            format!(
                "exec {} {} {} {} >>{} 2>&1",
                q(&watch),
                q(&b.path("/var/run/redis/redis.pid")),
                q(&redis),
                q(&b.path("/etc/redis.conf")),
                q(&b.path("/var/log/redis/watch.log")),
            ),
        );
        hook(
            "blot",
            format!(
                "export REDIS_PORT={redis_port} HEALTH_PATH='{HEALTH_PATH}'\n\
                 cd {} || exit 1\nexec {} {} >>{} 2>&1",
                q(&b.path("/var/www/blot")),
                q(&node),
                q(&live.join("blot-standin.js")),
                q(&b.path("/var/www/blot/logs/app.log")),
            ),
        );
        let nginx_args: Vec<String> = b.nginx_args().iter().map(|a| format!("'{a}'")).collect();
        hook(
            "nginx",
            format!(
                "exec {} {} {} {} >>{} 2>&1",
                q(&watch),
                q(&b.path("/var/run/nginx.pid")),
                q(&nginx),
                nginx_args.join(" "),
                q(&b.path("/var/log/nginx/watch.log")),
            ),
        );
        hook(
            "monit",
            format!(
                "exec {} -I -c {} -p {} -s {} -l {} >>{} 2>&1",
                q(&monit),
                q(&wrapper),
                q(&b.path("/var/run/monit.pid")),
                q(&b.path("/var/lib/monit/state")),
                q(&b.path("/var/www/blot/logs/monit.log")),
                q(&b.path("/var/lib/monit/stdout.log")),
            ),
        );

        // If this process is killed (a timeout, ^C), the reaper stops what it leaves.
        let reaper = std::process::Command::new(live.join("reaper"))
            .arg(std::process::id().to_string())
            .arg(&tag)
            .args(
                [
                    ("/var/run/redis/redis.pid", "redis-server"),
                    ("/var/run/nginx.pid", "nginx"),
                    ("/var/run/monit.pid", "monit"),
                ]
                .map(|(f, comm)| format!("{}={comm}", b.path(f).display())),
            )
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();

        // From here on the guard stops whatever provision starts.
        let stack = Stack {
            b,
            run,
            tag,
            redis_port,
            blot_port,
            nginx_port,
            seen: Default::default(),
            reaper: Some(reaper),
        };
        let out = stack
            .b
            .blotctl()
            .args(["provision", "--yes"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "provision failed:\n{}{}\n{}",
            stdout(&out),
            stderr(&out),
            stack.diagnostics()
        );
        Some(stack)
    }

    fn verify(&self, wait: Option<u64>) -> Verify {
        let mut cmd = self.b.blotctl();
        cmd.args(["verify", "--json"]);
        if let Some(w) = wait {
            cmd.args(["--wait", &w.to_string()]);
        }
        let out = cmd.output().unwrap();
        let raw = format!("{}{}", stdout(&out), stderr(&out));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("verify --json printed no JSON ({e}):\n{raw}"));
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
        Verify {
            code: out.status.code(),
            checks,
            raw,
        }
    }

    /// Run verify until `done` holds for it, at most `within`; the last result.
    fn verify_until(&self, within: Duration, done: impl Fn(&Verify) -> bool) -> Verify {
        let deadline = Instant::now() + within;
        loop {
            let v = self.verify(None);
            if done(&v) || Instant::now() >= deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The PID the fake upstart tracks for a job.
    fn job_pid(&self, job: &str) -> i32 {
        let out = self.b.fake("initctl", &["status", job]);
        let text = stdout(&out);
        text.trim()
            .rsplit(' ')
            .next()
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no process for {job}: {text}{}", stderr(&out)))
    }

    fn pidfile(&self, box_path: &str) -> Option<i32> {
        std::fs::read_to_string(self.b.path(box_path))
            .ok()
            .and_then(|t| t.trim().parse().ok())
    }

    /// Remember the daemons' PIDs now, for the cleanup.
    fn note_daemons(&self) {
        for (file, comm) in [
            ("/var/run/redis/redis.pid", "redis-server"),
            ("/var/run/nginx.pid", "nginx"),
            ("/var/run/monit.pid", "monit"),
        ] {
            if let Some(pid) = self.pidfile(file) {
                self.seen.borrow_mut().push((pid, comm));
            }
        }
    }

    fn control_log(&self) -> String {
        std::fs::read_to_string(self.run.join("jobctl.log")).unwrap_or_default()
    }

    fn diagnostics(&self) -> String {
        let tail = |p: PathBuf, n: usize| {
            let t = std::fs::read_to_string(&p).unwrap_or_else(|e| format!("({e})\n"));
            let lines: Vec<&str> = t.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        };
        let mut s = format!(
            "--- ports: redis {} blot {} nginx {}\n--- initctl list\n{}",
            self.redis_port,
            self.blot_port,
            self.nginx_port,
            stdout(&self.b.fake("initctl", &["list"]))
        );
        for (what, p) in [
            (
                "jobctl (monit's start/stop program)",
                self.run.join("jobctl.log"),
            ),
            ("monit log", self.b.path("/var/www/blot/logs/monit.log")),
            ("monit stdout", self.b.path("/var/lib/monit/stdout.log")),
            ("app.log", self.b.path("/var/www/blot/logs/app.log")),
            ("redis log", self.b.path("/var/log/redis/redis.log")),
            ("redis watch", self.b.path("/var/log/redis/watch.log")),
            ("nginx error.log", self.b.path("/var/log/nginx/error.log")),
            ("nginx watch", self.b.path("/var/log/nginx/watch.log")),
        ] {
            s.push_str(&format!("--- {what}\n{}\n", tail(p, 25)));
        }
        s
    }

    /// Stop everything this test started. Every wait is bounded.
    fn stop_all(&self) {
        // monit first, so that it restarts nothing while the rest goes.
        let mut monit: Vec<i32> = self.pidfile("/var/run/monit.pid").into_iter().collect();
        monit.extend(self.state_pid("monit"));
        for &pid in &monit {
            if comm_is(pid, "monit") {
                send(pid, Signal::CONT, false); // the test may have paused it
                send(pid, Signal::TERM, false);
            }
        }
        if !wait_gone(&monit, Duration::from_secs(3)) {
            monit.iter().for_each(|&p| send(p, Signal::KILL, false));
        }
        for round in 0..2 {
            // The fake's job processes lead their own sessions: TERM their groups; the
            // daemon-watch of redis and nginx then stops its daemon.
            let jobs = self.job_pids();
            for &pid in &jobs {
                send(pid, Signal::TERM, true);
            }
            wait_gone(&jobs, Duration::from_secs(5));
            // The daemons, by pidfile and as seen: their own process groups (nginx workers).
            let mut daemons = self.seen.borrow().clone();
            for (file, comm) in [
                ("/var/run/redis/redis.pid", "redis-server"),
                ("/var/run/nginx.pid", "nginx"),
            ] {
                if let Some(pid) = self.pidfile(file) {
                    daemons.push((pid, comm));
                }
            }
            let daemons: Vec<i32> = daemons
                .into_iter()
                .filter(|&(pid, comm)| comm_is(pid, comm))
                .map(|(pid, _)| pid)
                .collect();
            for &pid in &daemons {
                send(pid, Signal::TERM, true);
                send(pid, Signal::TERM, false);
            }
            if !wait_gone(&daemons, Duration::from_secs(3)) {
                for &pid in &daemons {
                    send(pid, Signal::KILL, true);
                    send(pid, Signal::KILL, false);
                }
            }
            let leftover: Vec<i32> = jobs.into_iter().chain(self.tagged()).collect();
            for &pid in &leftover {
                send(pid, Signal::KILL, true);
                send(pid, Signal::KILL, false);
            }
            wait_gone(&leftover, Duration::from_secs(2));
            if round == 0 {
                // A start that was under way when monit went may spawn one more process.
                std::thread::sleep(Duration::from_millis(300));
            }
        }
    }

    /// The PIDs in the fake upstart's state files (`start/running PID`, `post-start PID`).
    fn job_pids(&self) -> Vec<i32> {
        let Ok(rd) = std::fs::read_dir(self.b.path("/var/lib/fake-upstart")) else {
            return vec![];
        };
        rd.flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".state"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .flat_map(|t| {
                t.split_whitespace()
                    .filter_map(|w| w.parse::<i32>().ok())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn state_pid(&self, job: &str) -> Option<i32> {
        std::fs::read_to_string(self.b.path(&format!("/var/lib/fake-upstart/{job}.state")))
            .ok()?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// Live processes whose environment carries this test's tag.
    fn tagged(&self) -> Vec<i32> {
        let needle = format!("{TAG_VAR}={}\0", self.tag);
        let me = std::process::id() as i32;
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return vec![];
        };
        rd.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&pid| pid != me && alive(pid))
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .map(|env| env.windows(needle.len()).any(|w| w == needle.as_bytes()))
                    .unwrap_or(false)
            })
            .collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("live stack at the failure:\n{}", self.diagnostics());
        }
        self.stop_all();
        let left = self.tagged();
        if !left.is_empty() {
            eprintln!("live stack: processes still running after cleanup: {left:?}");
        }
        if let Some(mut r) = self.reaper.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
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

fn comm_is(pid: i32, comm: &str) -> bool {
    alive(pid)
        && std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim() == comm)
            .unwrap_or(false)
}

fn send(pid: i32, sig: Signal, group: bool) {
    if pid <= 1 {
        return;
    }
    if let Some(p) = Pid::from_raw(pid) {
        let _ = if group {
            rustix::process::kill_process_group(p, sig)
        } else {
            rustix::process::kill_process(p, sig)
        };
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

/// GET http://127.0.0.1:port/path over a plain socket: (status, body).
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
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

#[test]
fn live_stack_passes_verify_and_monit_repairs_blot() {
    let Some(stack) = Stack::start() else {
        return;
    };
    let begun = Instant::now();

    // 1. The whole stack is up: verify passes, and its probes reached the real programs.
    let v = stack.verify(Some(20));
    assert!(v.ok(), "verify failed on the fresh stack:\n{}", v.raw);
    stack.note_daemons();
    let (status, body) = http_get(stack.nginx_port, "/").unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "Blot stand-in\n"),
        "nginx does not proxy to the stand-in"
    );
    let (status, body) = http_get(stack.blot_port, HEALTH_PATH).unwrap();
    assert_eq!((status, body.as_str()), (200, "ok redis=PONG\n"));
    for job in ["redis", "blot", "nginx", "monit"] {
        let pid = stack.job_pid(job);
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        let want = match job {
            "redis" | "nginx" => "daemon-watch", // stands in for `expect fork`
            "blot" => "node",
            _ => "monit",
        };
        assert_eq!(comm.trim(), want, "the {job} job's process");
    }

    // 2. Kill the app: verify fails, naming blot. monit is paused (SIGSTOP) meanwhile, so
    //    that it cannot repair blot before verify has looked.
    let monit = stack.job_pid("monit");
    let blot = stack.job_pid("blot");
    let calls_before = stack
        .control_log()
        .lines()
        .filter(|l| l.contains(" -> exit "))
        .count();
    send(monit, Signal::STOP, false);
    send(blot, Signal::KILL, false);
    assert!(wait_gone(&[blot], Duration::from_secs(5)));
    let v = stack.verify(None);
    let resumed_at = unix_now();
    send(monit, Signal::CONT, false);
    assert_eq!(
        v.code,
        Some(1),
        "verify passed with the app killed:\n{}",
        v.raw
    );
    let failing = v.failing();
    assert!(
        failing.contains(&"job blot running") && failing.contains(&"blot answers HTTP"),
        "{failing:?}\n{}",
        v.raw
    );
    assert!(
        failing
            .iter()
            .all(|n| n.contains("blot") || *n == "nginx answers HTTP"),
        "only blot (and nginx, which proxies to it) may fail: {failing:?}\n{}",
        v.raw
    );

    // 3. monit brings it back within its cycle (the control file says `for 2 cycles`),
    //    through its start/stop programs.
    let v = stack.verify_until(Duration::from_secs(20), |v| v.ok());
    assert!(
        v.ok(),
        "monit did not bring blot back within 20 s:\n{}\n{}",
        v.raw,
        stack.diagnostics()
    );
    let new_calls: Vec<String> = stack
        .control_log()
        .lines()
        .filter(|l| l.contains(" -> exit "))
        .skip(calls_before)
        .map(str::to_string)
        .collect();
    let start = new_calls
        .iter()
        .find(|l| l.contains(" start blot -> exit 0"))
        .unwrap_or_else(|| {
            panic!(
                "blot is back but monit did not call `start blot`: {new_calls:?}\n{}",
                stack.diagnostics()
            )
        });
    let started_at: f64 = start.split(' ').next().unwrap().parse().unwrap();
    let after = started_at - resumed_at;
    let bound = 3.0 * MONIT_INTERVAL as f64 + 2.0;
    assert!(
        after <= bound,
        "monit restarted blot {after:.1} s after it could see the failure: more than 3 \
         cycles + 2 s ({bound} s)\n{}",
        stack.diagnostics()
    );
    assert_ne!(stack.job_pid("blot"), blot);
    stack.note_daemons();

    // 4. Stop redis (the daemon exits): verify fails, naming redis.
    let redis = stack
        .pidfile("/var/run/redis/redis.pid")
        .expect("redis wrote no pidfile");
    assert!(comm_is(redis, "redis-server"));
    send(redis, Signal::TERM, false);
    assert!(wait_gone(&[redis], Duration::from_secs(5)));
    let v = stack.verify_until(Duration::from_secs(10), |v| {
        let f = v.failing();
        f.contains(&"redis answers PING") && f.contains(&"job redis running")
    });
    assert_eq!(v.code, Some(1), "{}", v.raw);
    let failing = v.failing();
    assert!(
        failing.contains(&"redis answers PING") && failing.contains(&"job redis running"),
        "{failing:?}\n{}",
        v.raw
    );
    let ping = v
        .checks
        .iter()
        .find(|c| c.0 == "redis answers PING")
        .unwrap();
    assert!(
        ping.2.contains(&format!("127.0.0.1:{}", stack.redis_port)),
        "{}",
        ping.2
    );
    // The stand-in's health check talks to redis: it now answers 503 naming redis (monit
    // may be restarting it meanwhile, hence the bounded retries).
    let deadline = Instant::now() + Duration::from_secs(10);
    let health = loop {
        let got = http_get(stack.blot_port, HEALTH_PATH);
        if matches!(got, Ok((503, _))) || Instant::now() >= deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (status, body) = health.expect("no answer from the stand-in");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains(&format!("redis on 127.0.0.1:{}", stack.redis_port)),
        "{body}"
    );
    eprintln!(
        "live stack: checks done in {:.1} s\n{}",
        begun.elapsed().as_secs_f64(),
        stack.diagnostics()
    );
}
