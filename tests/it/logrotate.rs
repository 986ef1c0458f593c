//! Log rotation: `provision` installs /etc/logrotate.d/blot, and Debian's real logrotate
//! (`-f`, its own state file) rotates the three logs of a fixture box by copy-then-truncate:
//! a writer holding the live file open keeps appending to it, as the `su` user.

use crate::util::*;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The name of uid/gid `id` in a passwd or group file of this machine.
fn host_name(file: &str, id: u32) -> Option<String> {
    std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2] == id.to_string()).then(|| f[0].to_string())
    })
}

fn logrotate(conf: &Path, state: &Path) -> Run {
    std::process::Command::new(program_path("logrotate").unwrap())
        .arg("-f")
        .arg("-s")
        .arg(state)
        .arg(conf)
        .run()
}

#[test]
fn real_logrotate_rotates_the_app_and_root_logs_with_copytruncate() {
    needs!("logrotate", "visudo", "gzip");
    // The box's nfsnobody is uid/gid 65534, which is nobody/nogroup here: the logs are
    // owned by a user that exists on both sides, so the `su` line can really be used.
    let (Some(host_user), Some(host_group)) = (
        host_name("/etc/passwd", 65534),
        host_name("/etc/group", 65534),
    ) else {
        skipped("all of it (no uid/gid 65534 on this machine)");
        return;
    };
    let b = TestBox::fresh();
    b.write(
        "/etc/blotctl.toml",
        "start_settle_ms = 0\nstart_wait_healthy = false\nstart_timeout = 5\nuser = \"nfsnobody\"\nlog_keep = 3\n\
         node = \"/home/ec2-user/.nvm/v4.4.2/bin/node\"\n",
    );
    b.run(&["provision", "--yes", "--no-start"]).success();

    // What provision installed.
    let conf_text = b.read("/etc/logrotate.d/blot");
    assert_eq!(b.mode("/etc/logrotate.d/blot"), 0o644);
    assert_eq!(b.owner("/etc/logrotate.d/blot"), (0, 0));
    let body: Vec<&str> = conf_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        body,
        [
            "/var/www/blot/logs/app.log",
            "/var/www/blot/logs/sys.log",
            "{",
            "su nfsnobody nfsnobody",
            "daily",
            "rotate 3",
            "copytruncate",
            "compress",
            "delaycompress",
            "missingok",
            "notifempty",
            "}",
            "/var/log/blot/redis.log",
            "/var/log/blot/blot.log",
            "/var/log/blot/nginx.log",
            "/var/log/blot/monit.log",
            "{",
            "daily",
            "rotate 3",
            "copytruncate",
            "compress",
            "delaycompress",
            "missingok",
            "notifempty",
            "}",
        ],
        "{conf_text}"
    );

    // Run it for real on this tree: box paths become host paths, box names host names.
    let logs = b.path("/var/www/blot/logs");
    let root_logs = b.path("/var/log/blot");
    let work = tempfile::tempdir().unwrap();
    let conf = work.path().join("blot");
    std::fs::write(
        &conf,
        conf_text
            .replace("/var/www/blot/logs/", &format!("{}/", logs.display()))
            .replace("/var/log/blot/", &format!("{}/", root_logs.display()))
            .replace(
                "su nfsnobody nfsnobody",
                &format!("su {host_user} {host_group}"),
            ),
    )
    .unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    let state = work.path().join("state");
    // The su user must be able to reach the logs: the temp dir holding the box is 0700.
    std::fs::set_permissions(
        b.root.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();

    let open = |path: std::path::PathBuf| {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap()
    };
    // Writers hold the live files open in append mode, as the jobs' `>>` and monit do.
    let mut app = open(logs.join("app.log"));
    let mut sys = open(logs.join("sys.log"));
    let mut monit = open(root_logs.join("monit.log"));
    // sudo's stderr in the blot job, as `2>> /var/log/blot/blot.log` holds it.
    let mut sudo = open(root_logs.join("blot.log"));
    let inode = std::fs::metadata(logs.join("app.log")).unwrap().ino();
    app.write_all(b"before 1\nbefore 2\n").unwrap();
    sys.write_all(b"sys before\n").unwrap();
    monit.write_all(b"monit before\n").unwrap();
    sudo.write_all(b"sudo before\n").unwrap();

    logrotate(&conf, &state).success();
    let read = |name: &str| std::fs::read_to_string(logs.join(name)).unwrap();
    for (dir, log, before, owner) in [
        (&logs, "app.log", "before 1\nbefore 2\n", (65534, 65534)),
        (&logs, "sys.log", "sys before\n", (65534, 65534)),
        (&root_logs, "monit.log", "monit before\n", (0, 0)),
        (&root_logs, "blot.log", "sudo before\n", (0, 0)),
    ] {
        let rotated = dir.join(format!("{log}.1"));
        assert_eq!(
            std::fs::read_to_string(&rotated).unwrap(),
            before,
            "{log}.1"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join(log)).unwrap(),
            "",
            "{log} was not truncated"
        );
        let m = std::fs::metadata(&rotated).unwrap();
        assert_eq!(
            (m.uid(), m.gid()),
            owner,
            "{log}.1 not written as its owner"
        );
    }
    // The writer was not interrupted: same file, and its next line lands at the start
    // of the live file (append mode: no hole of NULs where the old data was).
    app.write_all(b"after\n").unwrap();
    assert_eq!(
        std::fs::metadata(logs.join("app.log")).unwrap().ino(),
        inode
    );
    assert_eq!(read("app.log"), "after\n");

    // Second rotation: the first rotated log is compressed now (delaycompress); an empty
    // log is left alone (notifempty) and a missing one is no error (missingok).
    std::fs::remove_file(root_logs.join("monit.log")).unwrap();
    logrotate(&conf, &state).success();
    assert_eq!(read("app.log.1"), "after\n");
    assert_eq!(read("app.log"), "");
    let gz = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(logs.join("app.log.2.gz"))
        .run();
    assert_eq!(gz.success().stdout(), "before 1\nbefore 2\n");
    assert!(
        !logs.join("sys.log.2.gz").exists(),
        "an empty sys.log was rotated"
    );
    assert_eq!(read("sys.log.1"), "sys before\n");
    app.write_all(b"still here\n").unwrap();
    assert_eq!(read("app.log"), "still here\n");
}

#[test]
fn rendered_logrotate_follows_the_settings() {
    let b = TestBox::fresh();
    b.write(
        "/etc/blotctl.toml",
        "log_rotate = \"weekly\"\nlog_keep = 8\napp_dir = \"/srv/blot\"\n",
    );
    std::fs::create_dir_all(b.path("/srv/blot")).unwrap();
    let text = b.render("logrotate");
    assert!(text.contains("\n/srv/blot/logs/app.log\n"), "{text}");
    assert!(
        text.contains("\n    su ec2-user ec2-user\n    weekly\n    rotate 8\n"),
        "{text}"
    );
    b.run(&["provision", "--dry-run"])
        .stdout_has("+++ /etc/logrotate.d/blot");
}

#[test]
fn a_box_without_logrotate_fails_the_plan_naming_it() {
    let b = TestBox::fresh();
    std::fs::remove_dir_all(b.path("/etc/logrotate.d")).unwrap();
    b.run(&["provision", "--dry-run"])
        .code(1)
        .stdout_has("/etc/logrotate.d does not exist, so logrotate is not installed");
}
