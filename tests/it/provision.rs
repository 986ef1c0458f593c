//! The issue-2 bar: dry-run → provision → dry-run on a copy of the fixture box, with the
//! real visudo validating sudoers and the fakes standing in for chkconfig and initctl.

use crate::util::*;

fn visudo_ok(path: &std::path::Path) -> bool {
    std::process::Command::new("visudo")
        .arg("-c")
        .arg("-f")
        .arg(path)
        .run()
        .exit()
        == Some(0)
}

#[test]
fn dry_run_changes_nothing_and_exits_2() {
    let b = TestBox::fresh();
    let before = b.managed_state();
    b.run(&["provision", "--dry-run"])
        .code(2)
        .stdout_has("-Defaults    requiretty\n+#Defaults    requiretty\n")
        .stdout_has("+++ /etc/init/blot.conf")
        .stdout_has("chkconfig redis off (on in runlevels 2,3,4,5)");
    assert_same_state(&b.managed_state(), &before, "a dry run changed the tree");
}

#[test]
fn provision_converges_and_a_second_run_changes_nothing() {
    needs!("visudo", "nginx");
    let b = TestBox::fresh();
    let dry = b.run(&["provision", "--dry-run"]);
    let planned = count_changes(dry.code(2), "dry run");

    let out = b.run(&["provision", "--yes"]);
    let made = count_changes(out.success(), "provisioned");
    assert_eq!(
        planned, made,
        "the dry run counted {planned} changes, the run made {made}"
    );

    // sudoers: valid for the real visudo, no active requiretty, 0440 root.
    assert!(visudo_ok(&b.path("/etc/sudoers")));
    let sudoers = b.read("/etc/sudoers");
    assert!(!sudoers
        .lines()
        .any(|l| l.trim_start().starts_with("Defaults") && l.contains("requiretty")));
    assert!(sudoers.contains("#Defaults    requiretty\n"));
    assert_eq!(b.mode("/etc/sudoers"), 0o440);
    assert_eq!(b.owner("/etc/sudoers"), (0, 0));
    assert_eq!(b.mode("/etc/monit.rc"), 0o700);
    for job in ["redis", "blot", "nginx", "monit"] {
        assert_eq!(b.mode(&format!("/etc/init/{job}.conf")), 0o644);
    }
    for log in ["app", "sys"] {
        assert_eq!(
            b.owner(&format!("/var/www/blot/logs/{log}.log")),
            (500, 500)
        );
    }
    // Root's own logs, and the root-owned copies of the checkout's configs.
    assert_eq!(b.mode("/var/log/blot"), 0o755);
    assert_eq!(b.owner("/var/log/blot"), (0, 0));
    for (copy, source) in [
        ("/etc/blot/nginx.conf", "/var/www/blot/config/nginx.conf"),
        (
            "/etc/blot/nginx/proxy.conf",
            "/var/www/blot/config/nginx/proxy.conf",
        ),
        ("/etc/blot/redis.conf", "/var/www/blot/config/redis.conf"),
    ] {
        assert_eq!(b.read(copy), b.read(source), "{copy}");
        assert_eq!((b.mode(copy), b.owner(copy)), (0o644, (0, 0)), "{copy}");
    }
    assert_eq!(b.owner("/etc/blot"), (0, 0));
    // The stock hosts file maps localhost already: it is left as it was.
    assert_eq!(
        b.read("/etc/hosts"),
        std::fs::read_to_string(fixture_box().join("etc/hosts")).unwrap()
    );

    b.run(&["provision", "--dry-run"])
        .success()
        .stdout_has("dry run: 0 changes");
    let before = b.managed_state();
    b.run(&["provision", "--yes"])
        .success()
        .stdout_has("nothing to do");
    assert_same_state(&b.managed_state(), &before, "the tree changed");
}

/// N of the run's `PREFIX: N changes` summary line.
#[track_caller]
fn count_changes(run: &Run, prefix: &str) -> usize {
    let n = run
        .stdout()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{prefix}: ")))
        .and_then(|rest| rest.split(' ').next()?.parse().ok());
    run.check(n.is_some(), format_args!("no `{prefix}: N ...` summary"));
    n.unwrap()
}

#[test]
fn no_tty_without_yes_is_a_usage_error() {
    let b = TestBox::fresh();
    let before = b.managed_state();
    b.run(&["provision"]).code(64).stderr_has("--yes");
    assert_same_state(&b.managed_state(), &before, "the tree changed");
}

#[test]
fn unknown_flag_is_exit_64() {
    let b = TestBox::fresh();
    b.run(&["provision", "--bogus"]).code(64);
}

#[test]
fn global_options_may_follow_the_command() {
    let b = TestBox::fresh();
    Cmd::new(blotctl_bin())
        .args(["provision", "--dry-run", "--root"])
        .arg(&b.root)
        .env("PATH", fake_path())
        .run()
        .code(2);
}

#[test]
fn sudoers_that_visudo_rejects_is_left_alone() {
    needs!("visudo");
    let b = TestBox::fresh();
    let broken = format!("{}this is not sudoers syntax ((\n", b.read("/etc/sudoers"));
    b.write("/etc/sudoers", &broken);
    let before = b.managed_state();
    b.run(&["provision", "--yes"])
        .code(1)
        .has("visudo rejects /etc/sudoers");
    assert_same_state(&b.managed_state(), &before, "a failed run changed the tree");
}

#[test]
fn bad_config_fails_clearly_and_changes_nothing() {
    let b = TestBox::fresh();
    b.write(
        "/etc/blotctl.toml",
        "user = \"ec2-user\\nALL ALL=(ALL) NOPASSWD: ALL\"\n",
    );
    let before = b.managed_state();
    b.run(&["provision", "--yes"])
        .code(1)
        .stderr_has("invalid config file /etc/blotctl.toml");
    assert_same_state(&b.managed_state(), &before, "the tree changed");
}

/// redis runs as the app user, under sudo, in the foreground whatever its config says about
/// `daemonize` (Blot's says yes): the job expects no fork, tracks sudo, and gives redis
/// `redis_kill_timeout` to save.
#[test]
fn redis_runs_in_the_foreground_under_sudo() {
    let b = TestBox::fresh();
    let job = b.render("redis");
    assert!(b
        .read("/var/www/blot/config/redis.conf")
        .contains("\ndaemonize yes\n"));
    assert!(!job.lines().any(|l| l.starts_with("expect")), "{job}");
    assert!(job.contains("\nkill timeout 300\n"), "{job}");
    assert!(
        job.contains("\nexec /usr/bin/sudo -u ec2-user /bin/sh -c '")
            && job.contains(concat!(
                "exec /usr/sbin/redis-server /etc/blot/redis.conf --daemonize no' ",
                "2>> /var/log/blot/redis.log\n"
            )),
        "{job}"
    );
    b.write("/etc/blotctl.toml", "redis_kill_timeout = 900\n");
    assert!(b.render("redis").contains("\nkill timeout 900\n"));
}

/// The app's environment is set after sudo (whose env_reset drops what the job sets before
/// it), with HOME from the box's passwd; no PORT: Blot's port is in its own config.
#[test]
fn the_app_environment_is_set_after_sudo() {
    let b = TestBox::fresh();
    b.write(
        "/etc/blotctl.toml",
        "app_env = { NODE_ENV = \"production\", NODE_PATH = \"/var/www/blot/app\" }\n\
         app_env_file = \"/var/www/blot/.env\"\n",
    );
    let job = b.render("blot");
    assert!(
        !job.contains("\nenv "),
        "no env stanza (sudo drops it): {job}"
    );
    assert!(!job.contains("PORT"), "{job}");
    assert!(
        job.contains(
            "set -a; . /var/www/blot/.env; set +a; export HOME=/home/ec2-user \
             NODE_ENV=production NODE_PATH=/var/www/blot/app; exec \
             /home/ec2-user/.nvm/v4.4.2/bin/node /var/www/blot/app/index.js'"
        ),
        "{job}"
    );
    // The env file must be there, or the app's shell would fail to source it.
    b.run(&["provision", "--dry-run"])
        .code(1)
        .stdout_has("app_env_file /var/www/blot/.env does not exist");
}

#[test]
fn rendered_files_snapshot() {
    let b = TestBox::fresh();
    let out = b.run(&["render"]);
    insta::assert_snapshot!("rendered", out.success().stdout());
}

#[test]
fn dry_run_plan_snapshot() {
    needs!("visudo", "nginx");
    let b = TestBox::fresh();
    let out = b.run(&["provision", "--dry-run"]);
    insta::assert_snapshot!("fresh_box_plan", out.stdout());
}

/// nginx's `expect` follows the config it runs (the checkout's, copied).
#[test]
fn nginx_in_the_foreground_gets_no_expect() {
    let b = TestBox::fresh();
    assert!(b.render("nginx").lines().any(|l| l == "expect fork"));
    let p = "/var/www/blot/config/nginx.conf";
    let conf = b.read(p);
    b.write(p, &format!("daemon off; # upstart supervises it\n{conf}"));
    let job = b.render("nginx");
    assert!(!job.lines().any(|l| l.starts_with("expect")), "{job}");
    assert!(job.contains("says `daemon off`"), "{job}");
}

/// A sudoers that is 0644 with requiretty: the plan shows the mode change beside the
/// content diff, and the file ends 0440 as planned.
#[test]
fn the_plan_shows_a_mode_change_beside_the_content_change() {
    needs!("visudo");
    use std::os::unix::fs::PermissionsExt;
    let b = TestBox::fresh();
    std::fs::set_permissions(
        b.path("/etc/sudoers"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    b.run(&["provision", "--dry-run"])
        .code(2)
        .stdout_has(
            "  - remove requiretty (line 56) in /etc/sudoers, and mode 0644 -> 0440\n--- /etc/sudoers\n",
        )
        .stdout_has("\n  /etc/sudoers: mode 0644 -> 0440\n");
    b.run(&["provision", "--yes"]).success();
    assert_eq!(b.mode("/etc/sudoers"), 0o440);
}

/// What the real sudo prints, and its exit status, when `Defaults requiretty` is in force
/// and it has no tty (FACTS.md: upstart's jobs have none; the live test sees the real one).
const SUDO_REFUSAL: &str = "sudo: sorry, you must have a tty to run sudo\n";

/// The process a rendered job runs, as upstart 0.6.5 runs it (`/bin/sh -e`): its `script`
/// body, else its `exec` line.
fn job_process(job: &str) -> String {
    match job.split_once("\nscript\n") {
        Some((_, rest)) => rest.split_once("\nend script\n").unwrap().0.to_string(),
        None => job
            .lines()
            .find(|l| l.starts_with("exec "))
            .unwrap()
            .to_string(),
    }
}

/// sudo's own messages in the blot and redis jobs (its refusal under requiretty, which
/// upstart 0.6.5 would send to /dev/null) land in root's log of the job, and only there;
/// what the app prints lands in the app user's logs, never in root's. The jobs' processes
/// run as rendered for the fixture box, with /bin/sh, on a temp tree (only the paths moved
/// into it), with stand-ins for sudo and the programs it runs.
#[test]
fn sudos_own_refusal_lands_in_roots_log_and_the_apps_output_in_its_own() {
    let b = TestBox::fresh();
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    let at = |p: &str| t.join(p.trim_start_matches('/'));
    for d in [
        "/usr/bin",
        "/var/www/blot/logs",
        "/var/log/blot",
        "/var/run",
        "/stand-ins",
    ] {
        std::fs::create_dir_all(at(d)).unwrap();
    }
    // The programs sudo runs: each prints on stdout and stderr.
    let node = at("/home/ec2-user/.nvm/v4.4.2/bin/node");
    let redis = at("/usr/sbin/redis-server");
    for p in [&node, &redis] {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        write_program(p, "#!/bin/sh\necho app out\necho app err >&2\n");
    }
    // sudo as under requiretty with no tty; and sudo that runs the command (as root here:
    // who it runs as is not what this test looks at).
    let refuses = format!("#!/bin/sh\nprintf '%s' '{SUDO_REFUSAL}' >&2\nexit 1\n");
    let runs = "#!/bin/sh\n[ \"$1\" = -u ] && shift 2\nexec \"$@\"\n";
    let sudo = at("/usr/bin/sudo");
    let path = format!("{}:/usr/bin:/bin", at("/usr/bin").display());
    let read = |p: &str| std::fs::read_to_string(at(p)).unwrap_or_default();
    let user_logs = ["/var/www/blot/logs/app.log", "/var/www/blot/logs/sys.log"];

    for job in ["blot", "redis"] {
        let root_log = format!("/var/log/blot/{job}.log");
        let mut process = job_process(&b.render(job));
        for p in [
            "/usr/bin/sudo",
            "/home/ec2-user/",
            "/usr/sbin/redis-server",
            "/var/www/blot/",
            "/var/log/blot/",
            "/var/run/",
        ] {
            process = process.replace(p, &at(p).display().to_string());
        }
        // Nothing of this machine's own /var is written: every such path was moved.
        let moved = format!("{}/var/", t.display());
        assert_eq!(
            process.matches("/var/").count(),
            process.matches(&moved).count(),
            "{process}"
        );
        assert!(
            process.contains(&format!("2>> {}", at(&root_log).display())),
            "{process}"
        );
        let run = |sudo_text: &str| {
            write_program(&sudo, sudo_text);
            std::process::Command::new("/bin/sh")
                .args(["-e", "-c", &process])
                .env("PATH", &path)
                .current_dir(t)
                .stdin(std::process::Stdio::null())
                .run()
        };

        // Refused: the line is in root's log, as sudo printed it; the app user's logs
        // have nothing of it (its shell never ran).
        let before: Vec<String> = user_logs.iter().map(|p| read(p)).collect();
        run(&refuses).code(1);
        assert_eq!(read(&root_log), SUDO_REFUSAL, "{job}: {process}");
        let after: Vec<String> = user_logs.iter().map(|p| read(p)).collect();
        assert_eq!(
            after, before,
            "{job}: sudo's refusal reached the app user's logs"
        );

        // Run: everything the program prints is in the app user's logs; root's log has
        // only the refusal of before.
        run(runs).success();
        assert_eq!(
            read(&root_log),
            SUDO_REFUSAL,
            "{job}: the app wrote to root's log"
        );
        let app_log = if job == "blot" {
            user_logs[0]
        } else {
            user_logs[1]
        };
        let text = read(app_log);
        assert!(
            text.ends_with("app out\napp err\n"),
            "{job}: {app_log}: {text:?}"
        );
        assert!(read(user_logs[1]).contains(&format!(" {job}: starting")));
    }
}
