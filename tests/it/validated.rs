//! The record of what the validators accepted (`crate::validated`): verify runs visudo and
//! `monit -t` again exactly when what they read, or the validator, is not what a run
//! recorded; a damaged or untrustworthy record counts as none; a broken file still fails.

use crate::util::*;
use std::os::unix::fs::PermissionsExt;

const RECORD: &str = "/var/lib/blotctl/validated.json";

/// A fresh box provisioned without its jobs (verify `--offline` checks its files alone).
fn provisioned() -> TestBox {
    let b = TestBox::fresh();
    b.run(&["provision", "--yes", "--no-start"]).success();
    b
}

/// The validators `verify --offline` spawned (by program name), and its result.
fn verify(b: &TestBox) -> (Vec<String>, Run) {
    let spawned = spawned_by(b, &["verify", "--offline"])
        .into_iter()
        .map(|a| a.split(' ').next().unwrap().to_string())
        .collect();
    (spawned, b.run(&["verify", "--offline"]))
}

#[test]
fn provision_records_what_visudo_and_monit_accepted() {
    needs!("visudo", "monit", "strace");
    let b = provisioned();
    let run: Vec<String> = std::fs::read_dir(b.path("/var/lib/blotctl/backups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(run.len(), 1, "{run:?}");
    let run = &run[0];
    assert_eq!(b.owner(RECORD), (0, 0));
    assert_eq!(b.mode(RECORD), 0o600);
    let record: serde_json::Value = serde_json::from_str(&b.read(RECORD)).unwrap();
    let sha = |p: &str| blotctl::journal::sha256(&std::fs::read(b.path(p)).unwrap());
    let entries = record["validations"].as_array().unwrap();
    let of = |v: &str| entries.iter().find(|e| e["validator"] == v).unwrap();
    assert_eq!(of("visudo")["run_id"], run.as_str());
    assert_eq!(
        of("visudo")["files"],
        serde_json::json!([
            ["/etc/sudoers", sha("/etc/sudoers")],
            [
                "/etc/sudoers.d/cloud-init",
                sha("/etc/sudoers.d/cloud-init")
            ]
        ])
    );
    assert_eq!(
        of("monit")["files"],
        serde_json::json!([["/etc/monit.rc", sha("/etc/monit.rc")]])
    );
    assert_eq!(of("monit")["program"]["path"], "/usr/bin/monit");

    let (spawned, out) = verify(&b);
    assert!(spawned.is_empty(), "{spawned:?}");
    out.success()
        .has(&format!(
            "/etc/sudoers validated by visudo at run {run}, unchanged since"
        ))
        .has(&format!(
            "/etc/monit.rc validated by monit at run {run}, unchanged since"
        ));
}

#[test]
fn a_changed_sudoers_tree_runs_visudo_again() {
    needs!("visudo", "monit", "strace");
    // sudoers itself edited (a comment: still as provisioned).
    let b = provisioned();
    let text = b.read("/etc/sudoers");
    b.write("/etc/sudoers", &format!("{text}# edited by hand\n"));
    let (spawned, out) = verify(&b);
    assert_eq!(spawned, ["visudo"]);
    out.success().has("visudo -c accepts /etc/sudoers");

    // A file included by an includedir, added, then broken.
    let b = provisioned();
    b.write("/etc/sudoers.d/ops", "ec2-user ALL=(ALL) NOPASSWD: ALL\n");
    let (spawned, out) = verify(&b);
    assert_eq!(spawned, ["visudo"]);
    out.success().has("visudo -c accepts /etc/sudoers");
    b.write("/etc/sudoers.d/ops", "ec2-user ALL=(ALL NOPASSWD ALL\n");
    let (spawned, out) = verify(&b);
    assert_eq!(spawned, ["visudo"]);
    out.code(1).has("visudo rejects /etc/sudoers");

    // An included file changed.
    let b = provisioned();
    let inc = b.read("/etc/sudoers.d/cloud-init");
    b.write("/etc/sudoers.d/cloud-init", &format!("{inc}# edited\n"));
    let (spawned, out) = verify(&b);
    assert_eq!(spawned, ["visudo"]);
    out.success();
}

#[test]
fn a_changed_monit_control_file_runs_monit_again() {
    needs!("visudo", "monit", "strace");
    let b = provisioned();
    let text = b.read("/etc/monit.rc");
    // Drift: the plan checks what provision would write (the first monit -t), the check
    // the file as it is (the second).
    b.write("/etc/monit.rc", &text.replace("set daemon", "set daemn"));
    let (spawned, out) = verify(&b);
    assert_eq!(spawned, ["monit", "monit"]);
    out.code(1).has("monit -t rejects /etc/monit.rc");
    b.write("/etc/monit.rc", &format!("{text}# edited\n"));
    let (spawned, out) = verify(&b);
    assert_eq!(spawned, ["monit", "monit"]);
    out.code(1)
        .has("monit control file: drift")
        .has("monit -t accepts /etc/monit.rc");
}

#[test]
fn a_missing_or_untrustworthy_record_runs_both_validators() {
    needs!("visudo", "monit", "strace");
    type Tamper<'a> = (&'a str, &'a dyn Fn(&TestBox));
    let tampered: [Tamper; 7] = [
        ("removed", &|b| {
            std::fs::remove_file(b.inside(RECORD)).unwrap()
        }),
        ("another owner", &|b| {
            std::os::unix::fs::chown(b.inside(RECORD), Some(500), Some(500)).unwrap()
        }),
        ("group-writable", &|b| {
            std::fs::set_permissions(b.inside(RECORD), PermissionsExt::from_mode(0o620)).unwrap()
        }),
        ("world-writable", &|b| {
            std::fs::set_permissions(b.inside(RECORD), PermissionsExt::from_mode(0o602)).unwrap()
        }),
        ("garbage", &|b| {
            std::fs::write(b.inside(RECORD), "{\"validations\": [garbage").unwrap()
        }),
        ("in a directory the app user owns", &|b| {
            std::os::unix::fs::chown(b.inside("/var/lib/blotctl"), Some(500), Some(500)).unwrap()
        }),
        ("a link to a good copy", &|b| {
            let copy = b.inside("/var/lib/blotctl/copy.json");
            std::fs::rename(b.inside(RECORD), &copy).unwrap();
            std::os::unix::fs::symlink(&copy, b.inside(RECORD)).unwrap();
        }),
    ];
    for (what, tamper) in tampered {
        let b = provisioned();
        tamper(&b);
        let before = b.state();
        let (spawned, out) = verify(&b);
        assert_eq!(spawned, ["visudo", "monit"], "record {what}");
        out.success()
            .has("visudo -c accepts /etc/sudoers")
            .has("monit -t accepts /etc/monit.rc");
        assert_eq!(b.state(), before, "record {what}: verify changed the tree");
    }
}

#[test]
fn a_changed_validator_runs_again() {
    needs!("visudo", "monit", "strace");
    let b = TestBox::fresh();
    let bin = b.root.parent().unwrap().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::copy(program_path("visudo").unwrap(), bin.join("visudo")).unwrap();
    let path = format!("{}:{}", bin.display(), fake_path());
    b.blotctl()
        .args(["provision", "--yes", "--no-start"])
        .env("PATH", &path)
        .run()
        .success();
    let visudo = |p: &str| -> Vec<String> {
        spawned_with(&b, &["verify", "--offline"], p)
            .into_iter()
            .filter(|a| a.starts_with("visudo"))
            .collect()
    };
    assert!(visudo(&path).is_empty());
    // Another visudo on PATH; the same one changed in place.
    assert_eq!(visudo(&fake_path()).len(), 1);
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(bin.join("visudo"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();
    drop(f); // a program open for writing cannot run (ETXTBSY)
    assert_eq!(visudo(&path).len(), 1);
}

#[test]
fn only_a_run_that_writes_a_validated_file_writes_the_record() {
    needs!("visudo", "monit");
    let b = TestBox::fresh();
    let before = b.state();
    b.run(&["provision", "--dry-run"]).code(2);
    assert_eq!(b.state(), before, "a dry run changed the tree");
    assert!(!b.path(RECORD).exists());

    b.run(&["provision", "--yes", "--no-start"]).success();
    let before = b.state();
    b.run(&["provision", "--yes", "--no-start"]).success();
    let mut after = b.state();
    // The run lock holds the pid of the last real run.
    after.insert(
        "var/lock/blotctl.lock".into(),
        before["var/lock/blotctl.lock"].clone(),
    );
    assert_eq!(after, before, "a no-op provision changed the tree");
}
