//! `blotctl deploy` and `blotctl restart` on a provisioned fixture box whose app directory
//! is a real git clone of a bare repository in a temp dir, with the fake initctl running a
//! real HTTP server as the blot job (it serves the VERSION it found when it started, so a
//! restart that happened after the fast-forward is visible from outside).

use crate::util::*;
use std::path::{Path, PathBuf};

fn git(dir: &Path, args: &[&str]) -> String {
    std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .run()
        .success()
        .stdout()
        .trim_end()
        .to_string()
}

/// A provisioned box whose app directory is a clone of `remote`; `dev` is another clone
/// that pushes new commits. Its tests need visudo, git and python3.
struct DeployBox {
    b: TestBox,
    _repos: tempfile::TempDir,
    dev: PathBuf,
    blot_port: u16,
}

impl DeployBox {
    fn new() -> DeployBox {
        DeployBox::with_config(None)
    }

    /// With `nginx_port`: the setting, and the checkout's nginx config listening there.
    fn with_config(nginx_port: Option<u16>) -> DeployBox {
        let b = TestBox::fresh();
        let repos = tempfile::tempdir().unwrap();
        let remote = repos.path().join("blot.git");
        let dev = repos.path().join("dev");
        git(
            repos.path(),
            &[
                "init",
                "--quiet",
                "--bare",
                "--initial-branch=master",
                "blot.git",
            ],
        );
        git(
            repos.path(),
            &["clone", "--quiet", remote.to_str().unwrap(), "dev"],
        );
        std::fs::write(dev.join("VERSION"), "v1\n").unwrap();
        // The fixture checkout (the app, its configs; nginx's upstream at the app's port)
        // is what the repository holds.
        let [blot_port] = free_ports::<1>();
        b.set_nginx_upstream(blot_port);
        if let Some(port) = nginx_port {
            b.set_nginx_listen(port);
        }
        let extra = nginx_port.map_or(String::new(), |p| format!("nginx_port = {p}\n"));
        std::process::Command::new("cp")
            .arg("-R")
            .arg(format!("{}/.", b.path("/var/www/blot").display()))
            .arg(&dev)
            .run()
            .success();
        git(&dev, &["checkout", "--quiet", "-b", "master"]);
        git(&dev, &["add", "."]);
        git(&dev, &["commit", "--quiet", "-m", "v1"]);
        git(&dev, &["push", "--quiet", "origin", "master"]);

        // The box's app directory becomes a clone (provision then adds the untracked logs).
        let app = b.path("/var/www/blot");
        std::fs::remove_dir_all(&app).unwrap();
        git(
            repos.path(),
            &[
                "clone",
                "--quiet",
                remote.to_str().unwrap(),
                app.to_str().unwrap(),
            ],
        );

        b.write(
            "/etc/blotctl.toml",
            &format!("start_settle_ms = 0\nstart_wait_healthy = false\nstart_timeout = 10\nblot_port = {blot_port}\n{extra}"),
        );
        // blot: serve the VERSION the checkout had when the job started, as /health.
        let served = b.path("/var/lib/blot-served");
        std::fs::create_dir_all(&served).unwrap();
        std::fs::create_dir_all(b.path("/var/lib/fake-upstart/exec")).unwrap();
        b.write(
            "/var/lib/fake-upstart/exec/blot",
            &format!(
                "cp {app}/VERSION {served}/health && exec python3 -m http.server {blot_port} \
                 --bind 127.0.0.1 --directory {served}",
                app = app.display(),
                served = served.display()
            ),
        );
        b.run(&["provision", "--yes"]).success();
        DeployBox {
            b,
            _repos: repos,
            dev,
            blot_port,
        }
    }

    fn app(&self) -> PathBuf {
        self.b.path("/var/www/blot")
    }

    /// Commit a new VERSION upstream; its full hash.
    fn push_version(&self, v: &str) -> String {
        std::fs::write(self.dev.join("VERSION"), format!("{v}\n")).unwrap();
        git(&self.dev, &["commit", "--quiet", "-am", v]);
        git(&self.dev, &["push", "--quiet", "origin", "master"]);
        git(&self.dev, &["rev-parse", "HEAD"])
    }

    /// Commit new contents of a file of the repository upstream; its full hash.
    fn push_file(&self, rel: &str, text: &str) -> String {
        std::fs::write(self.dev.join(rel), text).unwrap();
        git(
            &self.dev,
            &["commit", "--quiet", "-am", &format!("edit {rel}")],
        );
        git(&self.dev, &["push", "--quiet", "origin", "master"]);
        git(&self.dev, &["rev-parse", "HEAD"])
    }

    fn head(&self) -> String {
        git(&self.app(), &["rev-parse", "HEAD"])
    }

    /// The PID of a job's process, `None` when it is not running.
    fn pid(&self, job: &str) -> Option<u32> {
        let status = self.b.fake("initctl", &["status", job]);
        status
            .stdout()
            .trim()
            .strip_prefix(&format!("{job} start/running, process "))
            .map(|p| p.parse().unwrap())
    }

    /// What the running blot serves as its health page.
    fn served_version(&self) -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.blot_port)).unwrap();
        s.write_all(b"GET /health HTTP/1.0\r\n\r\n").unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        resp.rsplit("\r\n\r\n").next().unwrap().trim().to_string()
    }

    fn deploy(&self, args: &[&str]) -> Run {
        self.b.blotctl().arg("deploy").args(args).run()
    }
}

#[test]
fn deploy_fast_forwards_restarts_blot_and_a_second_deploy_does_nothing() {
    needs!("visudo", "git", "python3");
    let d = DeployBox::new();
    let old = d.head();
    let pid = d.pid("blot").expect("blot runs after provision");
    assert_eq!(d.served_version(), "v1");
    d.push_version("v2");
    let new = d.push_version("v3");

    // Dry run: shows both changes, exit 2, changes nothing.
    d.deploy(&["--dry-run"])
        .code(2)
        .stdout_has(&format!(
            "fetch origin/master, then fast-forward /var/www/blot: {} -> {} (its commits are \
             not here yet; a dry run does not fetch them)",
            &old[..7],
            &new[..7]
        ))
        .stdout_has("  - restart blot (the checkout moved)\n");
    assert_eq!(d.head(), old);
    assert_eq!(d.pid("blot"), Some(pid));

    // Deploy: fast-forward, then blot restarted and serving the new version.
    d.deploy(&[]).success().stdout_has("deployed: 2 changes");
    assert_eq!(d.head(), new);
    let pid2 = d.pid("blot").expect("blot runs after deploy");
    assert_ne!(pid2, pid, "blot was not restarted");
    assert_eq!(d.served_version(), "v3");
    assert!(
        git(&d.app(), &["status", "--porcelain", "--untracked-files=no"]).is_empty(),
        "the checkout is clean after a fast-forward"
    );
    // A deploy journals nothing it would have to undo.
    d.b.run(&["rollback", "--list"]).stdout_lacks("deploy");

    // Second deploy: already up to date, nothing restarted.
    d.deploy(&[]).success().stdout_has("already up to date");
    assert_eq!(d.pid("blot"), Some(pid2));
    d.deploy(&["--dry-run"]).success();

    // --restart restarts anyway.
    d.deploy(&["--restart"]).success();
    let pid3 = d.pid("blot").expect("blot runs after deploy --restart");
    assert_ne!(pid3, pid2);
    assert_eq!(d.head(), new);
}

/// deploy refreshes the root-owned copies of the checkout's configs from the commit it
/// deploys (shown and validated first), and restarts what runs them.
#[test]
fn deploy_refreshes_the_config_copies_and_restarts_nginx() {
    needs!("nginx", "visudo", "git", "python3");
    // Something answering nginx's health check where nginx would listen.
    let nginx = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = nginx.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut c in nginx.incoming().flatten() {
            let mut buf = [0u8; 512];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nOK\n");
        }
    });
    let d = DeployBox::with_config(Some(port));
    let (redis, blot, nginx) = (d.pid("redis"), d.pid("blot"), d.pid("nginx"));
    let conf = std::fs::read_to_string(d.dev.join("config/nginx.conf")).unwrap();
    let size = |n: u32| format!("client_max_body_size {n}m;");
    let edited = conf.replace(&size(25), &size(50));
    assert_ne!(conf, edited);
    d.push_file("config/nginx.conf", &edited);

    // A dry run does not fetch: what the new commit's configs hold is not known yet, and
    // says so; nothing changes.
    let dry = d.deploy(&["--dry-run"]);
    dry.code(2);
    for line in [
        "  ? refresh the copies of the checkout's configs in /etc/blot\n",
        "  - restart blot (the checkout moved)\n",
    ] {
        dry.stdout_has(line);
    }
    assert_eq!(
        d.b.read("/etc/blot/nginx.conf"),
        conf,
        "a dry run changed the copy"
    );

    // The deploy fetches, fast-forwards, then refreshes the copy and restarts nginx.
    d.deploy(&[])
        .success()
        .stdout_has("restart nginx (/etc/blot/nginx.conf changed)");
    assert_eq!(d.b.read("/etc/blot/nginx.conf"), edited);
    assert_eq!(d.b.owner("/etc/blot/nginx.conf"), (0, 0));
    assert_eq!(d.pid("redis"), redis, "redis untouched");
    assert_ne!(d.pid("blot"), blot);
    let nginx2 = d.pid("nginx");
    assert_ne!(nginx2, nginx);

    // With the commit fetched already, the dry run shows the copy's diff and the restart.
    let again = edited.replace(&size(50), &size(60));
    d.push_file("config/nginx.conf", &again);
    git(&d.app(), &["fetch", "--quiet", "origin"]);
    let dry = d.deploy(&["--dry-run"]);
    dry.code(2);
    for line in [
        "  - refresh (the checkout's config changed) in /etc/blot/nginx.conf\n",
        "-        client_max_body_size 50m;\n+        client_max_body_size 60m;\n",
        "  - restart nginx (/etc/blot/nginx.conf changed)\n",
    ] {
        dry.stdout_has(line);
    }
    d.deploy(&[]).success();
    assert_eq!(d.b.read("/etc/blot/nginx.conf"), again);
    assert_ne!(d.pid("nginx"), nginx2);
    d.deploy(&["--dry-run"]).success();
}

#[test]
fn a_dirty_checkout_is_refused_with_nothing_changed() {
    needs!("visudo", "git", "python3");
    let d = DeployBox::new();
    let old = d.head();
    let pid = d.pid("blot");
    d.push_version("v2");
    std::fs::write(d.app().join("VERSION"), "hand-edited\n").unwrap();
    for args in [&["--dry-run"][..], &[][..]] {
        d.deploy(args)
            .code(1)
            .has("/var/www/blot has local changes, so deploy changed nothing")
            .has(" M VERSION");
    }
    assert_eq!(d.head(), old);
    assert_eq!(d.b.read("/var/www/blot/VERSION"), "hand-edited\n");
    assert_eq!(d.pid("blot"), pid, "blot was restarted");
}

#[test]
fn a_diverged_or_ahead_branch_is_refused() {
    needs!("visudo", "git", "python3");
    let d = DeployBox::new();
    git(
        &d.app(),
        &["commit", "--quiet", "--allow-empty", "-m", "local"],
    );
    let local = d.head();
    d.deploy(&[]).code(1).has("1 commit ahead of origin/master");

    d.push_version("v2");
    d.deploy(&[])
        .code(1)
        .has("have diverged (1 commit only here, 1 commit only there)");
    assert_eq!(d.head(), local);
}

#[test]
fn a_blot_that_never_answers_fails_the_deploy_with_its_status() {
    needs!("visudo", "git", "python3");
    let d = DeployBox::new();
    d.b.write(
        "/etc/blotctl.toml",
        &format!(
            "start_settle_ms = 0\nstart_wait_healthy = false\nstart_timeout = 2\nblot_port = {}\n",
            d.blot_port
        ),
    );
    // The new blot runs but never listens.
    d.b.write("/var/lib/fake-upstart/exec/blot", "exec sleep 1000");
    let new = d.push_version("v2");
    d.deploy(&[])
        .code(1)
        .has("blot runs, but its health probe did not answer within 2s")
        .has("`initctl status blot`: blot start/running, process ");
    assert_eq!(d.head(), new, "the fast-forward itself was applied");
}

#[test]
fn an_unreachable_remote_fails_the_dry_run() {
    needs!("visudo", "git", "python3");
    let d = DeployBox::new();
    git(
        &d.app(),
        &["remote", "set-url", "origin", "/nonexistent/blot.git"],
    );
    d.deploy(&["--dry-run"])
        .code(1)
        .has("cannot reach origin to ask for master");
}

#[test]
fn restart_redis_brings_blot_back_too() {
    needs!("visudo", "git", "python3");
    let d = DeployBox::new();
    // Something answering PING where the config redis runs (the installed copy) says.
    let redis = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = redis.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut c in redis.incoming().flatten() {
            let mut buf = [0u8; 64];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"+PONG\r\n");
        }
    });
    let conf =
        d.b.read("/etc/blot/redis.conf")
            .replace("port 6379", &format!("port {port}"));
    d.b.write("/etc/blot/redis.conf", &conf);
    let (redis_pid, blot_pid) = (d.pid("redis").unwrap(), d.pid("blot").unwrap());

    d.b.run(&["restart", "redis", "--dry-run"])
        .code(2)
        .stdout_has("restart redis (upstart restarts blot with it)");
    assert_eq!(d.pid("redis"), Some(redis_pid));

    d.b.run(&["restart", "redis"]).success();
    let (r2, b2) = (d.pid("redis").unwrap(), d.pid("blot").unwrap());
    assert_ne!(r2, redis_pid);
    assert_ne!(b2, blot_pid, "upstart stops blot with redis");
    assert_eq!(d.served_version(), "v1");
}

#[test]
fn restart_blot_starts_a_stopped_redis_first() {
    needs!("visudo", "git", "python3");
    let d = DeployBox::new();
    d.b.fake("initctl", &["stop", "redis"]).success();
    assert_eq!(d.pid("blot"), None, "blot stops with redis");
    let out = d.b.run(&["restart", "blot"]);
    // redis has no real server here: its start is checked by its status only.
    out.success();
    let text = out.stdout();
    let start = text.find("  - start redis (blot depends on it)\n");
    let restart = text.find("  - restart blot\n");
    out.check(
        start.is_some() && restart.is_some() && start < restart,
        "start redis, then restart blot",
    );
    assert!(d.pid("redis").is_some() && d.pid("blot").is_some());
    assert_eq!(d.served_version(), "v1");
}

#[test]
fn restart_needs_a_known_job_name() {
    let b = TestBox::fresh();
    b.run(&["restart", "postgres"]).code(64);
}

#[test]
fn restart_nginx_starts_the_chain_it_needs_in_order() {
    needs!("visudo", "git", "python3");
    let d = DeployBox::new();
    d.b.fake("initctl", &["stop", "redis"]).success();
    assert_eq!(d.pid("blot"), None, "blot stops with redis");
    let dry = d.b.run(&["restart", "nginx", "--dry-run"]);
    dry.code(2);
    let at = |line: &str| {
        dry.stdout_has(line);
        dry.stdout().find(line).unwrap()
    };
    let (redis, blot, nginx) = (
        at("  - start redis (nginx depends on it)\n"),
        at("  - start blot (nginx depends on it)\n"),
        at("  - restart nginx\n"),
    );
    dry.check(
        redis < blot && blot < nginx,
        "start redis, start blot, restart nginx, in order",
    );
    assert_eq!(d.pid("redis"), None, "a dry run starts nothing");
}
