//! The issue-3 bar: chkconfig, initctl and start steps against the fakes, and `verify`.

use crate::util::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A loopback listener answering every connection with a fixed reply, until dropped.
struct Responder {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Responder {
    fn start(reply: &'static [u8]) -> Responder {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in l.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(mut c) = conn {
                    let mut buf = [0u8; 1024];
                    let _ = c.read(&mut buf);
                    let _ = c.write_all(reply);
                }
            }
        });
        Responder {
            port,
            stop,
            thread: Some(thread),
        }
    }
    fn http() -> Responder {
        Responder::start(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    }
    fn redis() -> Responder {
        Responder::start(b"+PONG\r\n")
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const REDIS_CONF: &str = "/var/www/blot/config/redis.conf";

/// A provisioned box whose probes are answered by loopback listeners.
struct Live {
    b: TestBox,
    redis: Responder,
    blot: Option<Responder>,
    nginx: Responder,
}

fn provisioned_live() -> Live {
    let (b, redis, blot, nginx) = live_box(true);
    b.run(&["provision", "--yes"]).success();
    Live {
        b,
        redis,
        blot,
        nginx,
    }
}

/// A fresh box whose probes go to loopback listeners, not yet provisioned; without `blot`,
/// nothing listens on blot's port.
fn live_box(blot: bool) -> (TestBox, Responder, Option<Responder>, Responder) {
    let b = TestBox::fresh();
    let (redis, nginx) = (Responder::redis(), Responder::http());
    let blot = blot.then(Responder::http);
    let blot_port = blot.as_ref().map_or_else(
        || {
            TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        },
        |r| r.port,
    );
    b.write(
        "/etc/blotctl.toml",
        &format!(
            "start_settle_ms = 0\nstart_timeout = 3\nblot_port = {blot_port}\nnginx_port = {}\n",
            nginx.port
        ),
    );
    // The checkout's redis config is the one the job runs (as a root-owned copy).
    let conf = b
        .read(REDIS_CONF)
        .replace("\nport 6379\n", &format!("\nport {}\n", redis.port));
    b.write(REDIS_CONF, &conf);
    b.set_nginx_upstream(blot_port);
    b.set_nginx_listen(nginx.port);
    (b, redis, blot, nginx)
}

/// Starting waits, in start order, for each job's health check (start_wait_healthy, the
/// default): an app that runs but never answers fails the run, naming it and what its
/// check was told, and nginx (which needs it) is not counted as started.
#[test]
fn a_job_that_runs_but_never_answers_its_health_check_fails_the_run() {
    needs!("visudo");
    let (b, _redis, _, _nginx) = live_box(false);
    let out = b.run(&["provision", "--yes"]);
    out.code(1)
        .has("blot runs, but its health check did not answer within 3s")
        .has("Connection refused")
        .has("stopped at `start blot`");
}

#[test]
fn provision_turns_services_off_and_starts_jobs() {
    needs!("visudo");
    let live = provisioned_live();
    let b = &live.b;
    let list = b.fake("chkconfig", &["--list"]).stdout().to_string();
    for svc in ["redis", "nginx", "monit"] {
        let line = list
            .lines()
            .find(|l| l.starts_with(svc))
            .unwrap_or_else(|| panic!("{list}"));
        assert!(!line.contains(":on"), "{line}");
    }
    let jobs = b.fake("initctl", &["list"]).stdout().to_string();
    for job in ["redis", "blot", "nginx", "monit"] {
        assert!(
            jobs.lines()
                .any(|l| l.starts_with(&format!("{job} start/running, process "))),
            "{job} not running:\n{jobs}"
        );
    }
    b.run(&["provision", "--dry-run"]).success();
}

#[test]
fn verify_passes_then_fails_naming_blot() {
    needs!("visudo");
    let mut live = provisioned_live();
    live.b.run(&["verify"]).success();

    // Close blot's port.
    live.blot = None;
    let out = live.b.run(&["verify"]);
    let failing: Vec<&str> = out
        .code(1)
        .stdout()
        .lines()
        .filter(|l| l.starts_with("FAIL"))
        .collect();
    out.check(
        failing.len() == 1 && failing[0].contains("blot answers HTTP"),
        "one FAIL line, blot answers HTTP",
    );

    // Stop the blot job.
    live.b.fake("initctl", &["stop", "blot"]).success();
    let out = live.b.run(&["verify", "--json"]);
    let doc = out.code(1).json();
    let names: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == "failed")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"job blot running"), "{names:?}");
    let _ = (&live.redis, &live.nginx);
}

#[test]
fn verify_notices_a_dead_job_process() {
    needs!("visudo");
    let live = provisioned_live();
    let b = &live.b;
    let status = b.fake("initctl", &["status", "blot"]).stdout().to_string();
    let pid: i32 = status.trim().rsplit(' ').next().unwrap().parse().unwrap();
    std::process::Command::new("kill")
        .arg("-KILL")
        .arg(pid.to_string())
        .status()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let out = b.run(&["verify"]);
    out.code(1).check(
        out.stdout().lines().any(|l| {
            l.starts_with("FAIL") && l.contains("job blot running") && l.contains("does not exist")
        }),
        "a FAIL line: job blot running ... does not exist",
    );
}

#[test]
fn dry_run_without_init_is_pending_not_in_sync() {
    let b = TestBox::fresh();
    b.blotctl_without_fakes()
        .args(["provision", "--dry-run"])
        .run()
        .code(2)
        .stdout_has("init state unknown")
        // chkconfig state read from the rc links
        .stdout_has("chkconfig nginx off (on in runlevels 2,3,4,5)");
    b.blotctl_without_fakes()
        .args(["provision", "--yes"])
        .run()
        .code(1)
        .stderr_has("no managed file was changed");
}

#[test]
fn a_job_upstart_rejects_fails_provision_naming_it() {
    needs!("visudo");
    let b = TestBox::fresh();
    b.blotctl()
        .args(["provision", "--yes"])
        .env("FAKE_UPSTART_REJECT", "nginx")
        .run()
        .code(1)
        .has("upstart did not load the job `nginx`")
        .has("syntax is the likely cause");
}

#[test]
fn redis_under_its_other_name_is_found() {
    needs!("visudo");
    let b = TestBox::fresh();
    // Rename the redis init script and its links to redis-server.
    std::fs::rename(
        b.path("/etc/rc.d/init.d/redis"),
        b.path("/etc/rc.d/init.d/redis-server"),
    )
    .unwrap();
    for n in 0..=6 {
        let dir = b.path(&format!("/etc/rc.d/rc{n}.d"));
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with("redis") {
                std::fs::remove_file(e.path()).unwrap();
                std::os::unix::fs::symlink(
                    "../init.d/redis-server",
                    dir.join(format!("{name}-server")),
                )
                .unwrap();
            }
        }
    }
    b.run(&["provision", "--dry-run"])
        .stdout_has("chkconfig redis-server off");
}

/// An init script whose header blotctl does not take as chkconfig's (here: no
/// `description:` line) does not hide the S links that start the service at boot:
/// `chkconfig nginx off` is planned; the fake chkconfig refuses the script, so the run
/// fails with its error and nginx's links stay as they were; once they are removed by hand
/// (as the plan says), the box converges.
#[test]
fn s_links_of_a_script_blotctl_cannot_read_are_not_hidden() {
    needs!("visudo");
    let b = TestBox::fresh();
    let script = b.read("/etc/rc.d/init.d/nginx");
    let cut: String = script
        .split_inclusive('\n')
        .filter(|l| !l.contains("description:") && !l.contains("proxy and IMAP"))
        .collect();
    assert_ne!(cut, script);
    b.write("/etc/rc.d/init.d/nginx", &cut);
    let links = |b: &TestBox| -> Vec<String> {
        let mut out = Vec::new();
        for n in 0..=6 {
            let dir = b.path(&format!("/etc/rc.d/rc{n}.d"));
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with("nginx") {
                    out.push(format!("rc{n}.d/{name}"));
                }
            }
        }
        out.sort();
        out
    };
    let before = links(&b);
    let started: Vec<&String> = before.iter().filter(|l| l.contains(".d/S")).collect();
    assert_eq!(started.len(), 4, "{before:?}");

    b.run(&["provision", "--dry-run"]).code(2).stdout_has(
        "chkconfig nginx off (an S link starts it at boot in runlevels 2,3,4,5, though its \
         init script has no chkconfig header blotctl recognises",
    );
    b.run(&["provision", "--yes", "--no-start"]).code(1).has(
        "`chkconfig nginx off` exited with status 1: service nginx does not support chkconfig",
    );
    assert_eq!(links(&b), before, "nginx's rc links changed");
    b.run(&["verify", "--offline"])
        .code(1)
        .has("chkconfig nginx off");

    for l in started {
        std::fs::remove_file(b.path(&format!("/etc/rc.d/{l}"))).unwrap();
    }
    b.run(&["provision", "--yes", "--no-start"]).success();
    assert!(
        links(&b).iter().all(|l| !l.contains(".d/S")),
        "{:?}",
        links(&b)
    );
    b.run(&["verify", "--offline"])
        .success()
        .stdout_has("pass  provisioned: chkconfig: in sync");
}

/// `chkconfig NAME off` switches off runlevels 2-5 only: an S link in runlevel 1 is left
/// (and noted), so a provision converges instead of planning the same `off` forever.
#[test]
fn an_s_link_outside_2_to_5_is_left_and_the_run_converges() {
    needs!("visudo");
    let b = TestBox::fresh();
    std::fs::remove_file(b.path("/etc/rc.d/rc1.d/K15nginx")).unwrap();
    std::os::unix::fs::symlink("../init.d/nginx", b.path("/etc/rc.d/rc1.d/S85nginx")).unwrap();
    b.run(&["provision", "--yes", "--no-start"])
        .success()
        .stdout_has("chkconfig nginx off (on in runlevels 2,3,4,5)");
    for n in 2..=5 {
        assert!(
            b.path(&format!("/etc/rc.d/rc{n}.d/K15nginx"))
                .symlink_metadata()
                .is_ok(),
            "chkconfig nginx off did not run: no K link in rc{n}.d"
        );
    }
    assert_eq!(
        std::fs::read_link(b.path("/etc/rc.d/rc1.d/S85nginx")).unwrap(),
        std::path::Path::new("../init.d/nginx"),
        "runlevel 1's S link is chkconfig's to leave"
    );
    b.run(&["provision", "--dry-run", "--no-start"])
        .code(0)
        .stdout_has(
            "ok           chkconfig\n  note: nginx: an S link starts it in runlevels 1 (not 2-5",
        );
    b.run(&["verify", "--offline"])
        .success()
        .stdout_has("pass  provisioned: chkconfig: in sync");
}

#[test]
fn a_job_that_dies_at_once_fails_the_run_with_its_last_status() {
    needs!("visudo");
    let b = TestBox::fresh();
    b.write(
        "/etc/blotctl.toml",
        "start_settle_ms = 300\nstart_wait_healthy = false\nstart_timeout = 2\n",
    );
    std::fs::create_dir_all(b.path("/var/lib/fake-upstart/exec")).unwrap();
    // blot's process exits at once, as `sudo` does under `Defaults requiretty`.
    b.write("/var/lib/fake-upstart/exec/blot", "exit 1");
    let out = b.run(&["provision", "--yes"]);
    out.code(1);
    // What was seen: upstart (like 0.6.5) still reports the job running, for a PID that is
    // gone; and where the job's output went.
    let pid = job_pid(&b, "blot").expect("the fake reports the dead process");
    out.has(&format!(
        "job blot did not stay start/running within 2s: upstart still says `blot \
         start/running, process {pid}`, but process {pid}, the one it tracks, no longer \
         exists; the job's output went to /var/log/blot/blot.log (sudo's own messages), \
         /var/www/blot/logs/app.log and /var/www/blot/logs/sys.log"
    ));
}

/// The requiretty case a moment later: blot's process runs long enough for upstart to
/// say start/running (and for blotctl to go on to nginx and monit), then exits. The run's
/// one stability window, held after every job is up, catches it and names it.
#[test]
fn a_job_that_dies_a_moment_after_it_runs_is_caught_by_the_window() {
    needs!("visudo");
    let b = TestBox::fresh();
    b.write(
        "/etc/blotctl.toml",
        "start_settle_ms = 5000\nstart_wait_healthy = false\nstart_timeout = 5\n",
    );
    std::fs::create_dir_all(b.path("/var/lib/fake-upstart/exec")).unwrap();
    b.write("/var/lib/fake-upstart/exec/blot", "sleep 1.5; exit 1");
    let out = b.run(&["provision", "--yes"]);
    out.code(1);
    let pid = job_pid(&b, "blot").expect("the fake reports the dead process");
    out.has(&format!(
        "job blot did not stay start/running for 5000ms after it started: upstart still \
         says `blot start/running, process {pid}`, but process {pid}, the one it tracks, no \
         longer exists; the job's output went to /var/log/blot/blot.log (sudo's own \
         messages), /var/www/blot/logs/app.log and /var/www/blot/logs/sys.log"
    ));
    // Every job was started before the window: the others run.
    let list = b.fake("initctl", &["list"]);
    for job in ["redis", "nginx", "monit"] {
        list.has(&format!("{job} start/running, process "));
    }
}

/// On a converged box a look costs one spawn: SysV state is read from the rc links, and
/// upstart's from one `initctl list`. A no-op provision spawns that alone, and so does
/// verify of a box provision wrote: visudo and `monit -t` accepted the files provision
/// wrote, and the record of that (`crate::validated`) matches what is there.
#[test]
fn a_look_at_a_converged_box_spawns_one_initctl_list() {
    needs!("visudo", "monit", "strace");
    let live = provisioned_live();
    let b = &live.b;
    assert_eq!(spawned_by(b, &["provision", "--yes"]), ["initctl list"]);
    assert_eq!(spawned_by(b, &["verify"]), ["initctl list"]);
    let out = b.run(&["verify"]);
    out.success();
    out.has("/etc/sudoers validated by visudo at run ");
    out.has("/etc/monit.rc validated by monit at run ");
}

/// Sys::query asks chkconfig and initctl once per look at the box (`cargo xtask bench`
/// reports the spawns); that must not mean trusting an old answer: `verify --wait` looks
/// again on every attempt, so a job that comes up while it waits is seen.
#[test]
fn verify_wait_asks_again_on_every_attempt() {
    needs!("visudo");
    let live = provisioned_live();
    let b = &live.b;
    b.fake("initctl", &["stop", "monit"]).success();
    let mut cmd = b.blotctl_std();
    cmd.args(["verify", "--wait", "20"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    b.fake("initctl", &["start", "monit"]).success();
    Run::new(&cmd, child.wait_with_output().unwrap()).success();
}

/// The pid upstart reports for a running job, if it runs.
fn job_pid(b: &TestBox, job: &str) -> Option<u32> {
    let out = b.fake("initctl", &["status", job]);
    out.stdout()
        .trim_end()
        .rsplit_once("process ")
        .and_then(|(_, pid)| pid.parse().ok())
}

/// A running job keeps the definition it started with: when provision changes a job file
/// (or monit's control file, or the copy of a config a job runs), it restarts that job after
/// the reload, and only that job.
#[test]
fn a_changed_job_file_restarts_its_running_job() {
    needs!("visudo", "nginx");
    let live = provisioned_live();
    let b = &live.b;
    let pids = || -> Vec<Option<u32>> {
        ["redis", "blot", "nginx", "monit"]
            .iter()
            .map(|j| job_pid(b, j))
            .collect()
    };
    let before = pids();
    assert!(before.iter().all(Option::is_some), "{before:?}");

    // The app's environment is in blot's job file: blot restarts, nothing else.
    let conf = b.read("/etc/blotctl.toml");
    b.write(
        "/etc/blotctl.toml",
        &format!("{conf}app_env = {{ NODE_ENV = \"staging\" }}\n"),
    );
    // The checkout's nginx config changed too: nginx restarts to run the new copy.
    let nginx_conf = "/var/www/blot/config/nginx.conf";
    b.write(nginx_conf, &format!("{}# edited\n", b.read(nginx_conf)));

    let dry = b.run(&["provision", "--dry-run"]);
    dry.code(2);
    for line in [
        "  - initctl reload-configuration (job files changed)\n",
        "  - restart blot (/etc/init/blot.conf changed)\n",
        "  - restart nginx (/etc/blot/nginx.conf changed)\n",
    ] {
        dry.stdout_has(line);
    }
    dry.stdout_lacks("restart redis")
        .stdout_lacks("restart monit");

    b.run(&["provision", "--yes"]).success();
    let after = pids();
    assert_eq!(after[0], before[0], "redis untouched");
    assert_eq!(after[3], before[3], "monit untouched");
    for (i, job) in [(1, "blot"), (2, "nginx")] {
        assert!(
            after[i].is_some() && after[i] != before[i],
            "{job} restarted: {after:?}"
        );
    }
    assert!(b.read("/etc/blot/nginx.conf").ends_with("# edited\n"));
    b.run(&["provision", "--dry-run"]).success();
}
