//! Dry run in CI: a captured box, planned off the box with nothing but /usr/bin:/bin on
//! PATH (no initctl, no chkconfig, no visudo), honestly: what cannot be observed there is
//! "not checked here", never a change and never "in sync". Plus the plans that must tell
//! the truth (blot_port vs nginx's upstream, rollback's restarts), one JSON document
//! whatever happens, and one error for a --root that is not a box.

use crate::util::*;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// blotctl as a CI runner has it: an empty environment, PATH=/usr/bin:/bin.
fn off_box(root: &Path) -> Cmd<'static> {
    let mut c = Cmd::new(blotctl_bin());
    c.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .arg("--root")
        .arg(root);
    c
}

/// A fixture box provisioned (fake init), and a capture of it in `dest`. Needs visudo.
struct Captured {
    b: TestBox,
    dir: tempfile::TempDir,
}

impl Captured {
    fn new() -> Captured {
        let b = TestBox::fresh();
        b.run(&["provision", "--yes"]).success();
        let dir = tempfile::tempdir().unwrap();
        let c = Captured { b, dir };
        c.b.blotctl().arg("capture").arg(c.dest()).run().success();
        c
    }

    fn dest(&self) -> PathBuf {
        self.dir.path().join("box")
    }

    fn path(&self, box_path: &str) -> PathBuf {
        self.dest().join(box_path.trim_start_matches('/'))
    }
}

fn steps(doc: &serde_json::Value) -> &Vec<serde_json::Value> {
    doc["steps"].as_array().unwrap()
}

/// Every change of a plan document, as (kind, path).
fn changes(doc: &serde_json::Value) -> Vec<(String, String)> {
    steps(doc)
        .iter()
        .flat_map(|s| s["changes"].as_array().unwrap())
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn not_checked(doc: &serde_json::Value) -> Vec<String> {
    steps(doc)
        .iter()
        .flat_map(|s| s["not_checked"].as_array().unwrap())
        .map(|n| n["summary"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_captured_box_plans_honestly_off_the_box() {
    needs!("visudo");
    let c = Captured::new();
    let dest = c.dest();

    // In sync: exit 0, no change, and what could not be observed counted apart.
    off_box(&dest)
        .args(["provision", "--dry-run"])
        .run()
        .success()
        .stdout_has(
            "dry run: 0 changes, 7 not checked here; 8 ok, 0 absent, 0 skipped, 0 failed\n",
        )
        .stdout_lacks("would change")
        // The reload is planned only when job files change: none do.
        .stdout_lacks("reload-configuration")
        .stdout_has(
            "not checked  start jobs: 4 not checked here (init state unknown: initctl is not on PATH)\n",
        );
    let doc = off_box(&dest)
        .args(["provision", "--dry-run", "--json"])
        .run()
        .json();
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(doc["summary"]["changes"], 0);
    assert_eq!(doc["summary"]["not_checked"], 7);
    assert!(steps(&doc).iter().all(|s| s["state"] != "would_change"));

    // A settings change: exactly the monit.rc change, and monit's restart not checked.
    let out = off_box(&dest)
        .args([
            "provision",
            "--dry-run",
            "--json",
            "--set",
            "monit_interval=15",
        ])
        .run();
    let doc = out.code(2).json();
    assert_eq!(
        changes(&doc),
        vec![("write_file".to_string(), "/etc/monit.rc".to_string())]
    );
    let diff = steps(&doc)
        .iter()
        .flat_map(|s| s["changes"].as_array().unwrap())
        .map(|c| c["diff"].as_str().unwrap().to_string())
        .collect::<String>();
    assert!(
        diff.contains("-set daemon 30 with start delay 60\n+set daemon 15 with start delay 60\n"),
        "{diff}"
    );
    assert!(
        not_checked(&doc)
            .contains(&"restart monit (/etc/monit.rc changed) if it runs, else start it".into()),
        "{:?}",
        not_checked(&doc)
    );
    assert_eq!(doc["summary"]["changes"], 1);

    // --strict: what could not be checked is an error.
    let out = off_box(&dest)
        .args(["provision", "--dry-run", "--strict", "--json"])
        .run();
    assert_eq!(out.code(1).json()["error"]["kind"], "not_checked");
    // The error counts as the summary line does: a plan's items, verify's checks.
    let out = off_box(&dest)
        .args(["provision", "--dry-run", "--strict"])
        .run();
    let n: Option<usize> = out
        .stdout()
        .lines()
        .last()
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|p| p.split(' ').next())
        .and_then(|n| n.parse().ok());
    out.check(n.is_some(), "a not-checked count on the summary line");
    let n = n.unwrap();
    out.stdout_has(&format!(", {n} not checked here;"))
        .stderr_has(&format!("error: {n} things not checked here, and --strict"));
    let out = off_box(&dest)
        .args(["verify", "--offline", "--strict"])
        .run();
    let skipped: Option<usize> = out
        .stdout()
        .lines()
        .last()
        .and_then(|l| l.split(", ").find(|p| p.ends_with(" skipped")))
        .and_then(|p| p.trim_end_matches(" skipped").parse().ok());
    out.check(skipped.is_some(), "a skipped count on the summary line");
    out.stderr_has(&format!(
        "error: {} checks skipped, and --strict",
        skipped.unwrap()
    ));

    // JUnit for the plan: a pending change fails its step, not-checked steps are skipped.
    let out = off_box(&dest)
        .args(["provision", "--dry-run", "--format", "junit"])
        .args(["--set", "monit_interval=15"])
        .run();
    let xml = out.code(2).stdout();
    let tree = roxmltree::Document::parse(xml).expect("JUnit XML is well-formed");
    let case = |name: &str| {
        tree.descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no test case {name}:\n{xml}"))
    };
    let has = |n: roxmltree::Node, tag: &str| n.children().any(|c| c.has_tag_name(tag));
    assert!(has(case("monit control file"), "failure"), "{xml}");
    assert!(has(case("start jobs"), "skipped"), "{xml}");
    assert!(!has(case("sudoers"), "failure") && !has(case("sudoers"), "skipped"));
}

#[test]
fn capture_copies_what_planning_reads_with_modes_owners_and_links() {
    needs!("visudo");
    let c = Captured::new();
    let meta = |p: PathBuf| std::fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
    for p in [
        "/etc/sudoers",
        "/etc/monit.rc",
        "/etc/init/blot.conf",
        "/etc/passwd",
        "/etc/rc.d/rc3.d",
        "/var/www/blot/logs/app.log",
        "/etc/sudoers.d",
    ] {
        let (a, b) = (meta(c.b.path(p)), meta(c.path(p)));
        assert_eq!(
            (a.mode(), a.uid(), a.gid()),
            (b.mode(), b.uid(), b.gid()),
            "{p}: mode and owner kept"
        );
    }
    assert_eq!(c.b.owner("/var/www/blot/logs/app.log"), (500, 500));
    // rc links as links, the /etc/rcN.d links to rc.d/rcN.d too.
    for (link, target) in [
        ("/etc/rc3.d", "rc.d/rc3.d"),
        ("/etc/rc.d/rc3.d/K80redis", "../init.d/redis"),
    ] {
        assert_eq!(
            std::fs::read_link(c.path(link)).unwrap(),
            PathBuf::from(target),
            "{link}"
        );
    }
    // What planning reads, byte for byte: a file read through a listed directory too
    // (sudoers includes /etc/sudoers.d, which is also listed).
    for p in [
        "/etc/monit.rc",
        "/etc/sudoers",
        "/etc/sudoers.d/cloud-init",
        "/etc/passwd",
    ] {
        assert_eq!(
            std::fs::read(c.path(p)).unwrap(),
            std::fs::read(c.b.path(p)).unwrap(),
            "{p}"
        );
    }
    // Only what planning looks at: not the app, not the box's other jobs, not blotctl's own
    // state (verify reads the record of what the validators accepted on the box; a copy's
    // files are checked by the validators where it is used).
    assert!(!c.path("/var/www/blot/app.js").exists());
    assert!(!c.path("/etc/init/tty.conf").exists());
    assert!(c.b.path("/var/lib/blotctl/validated.json").exists());
    assert!(!c.path("/var/lib/blotctl").exists());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(c.path("/blotctl-capture.json")).unwrap()).unwrap();
    assert_eq!(manifest["owners_kept"], true);
    assert_eq!(manifest["copied"]["/etc/sudoers"], "file");

    // No side file needed: verify --offline passes on the copy as it is.
    off_box(&c.dest())
        .args(["verify", "--offline"])
        .run()
        .success();
}

#[test]
fn capture_leaves_out_secrets_and_never_follows_a_link_out_of_the_tree() {
    needs!("visudo");
    let b = TestBox::fresh();
    b.write("/etc/shadow", "root:$6$SHADOW-MARKER:19000:0:99999:7:::\n");
    // An rc link (listed, so copied as a link) and a setting's file (read) aimed at secrets.
    std::os::unix::fs::symlink("/etc/shadow", b.path("/etc/rc.d/rc3.d/K99shadow")).unwrap();
    std::fs::create_dir_all(b.path("/etc/ssh")).unwrap();
    b.write("/etc/ssh/ssh_host_rsa_key", "KEY-MARKER\n");
    // The redis config is a link to a path that exists on this machine but not in the box:
    // followed by the kernel, it would copy this machine's file.
    let redis = b.read("/etc/redis.conf");
    b.write("/etc/redis-real.conf", &redis);
    std::fs::remove_file(b.path("/etc/redis.conf")).unwrap();
    std::os::unix::fs::symlink("/../../../etc/redis-real.conf", b.path("/etc/redis.conf")).unwrap();
    let settings = "start_settle_ms = 0\nstart_wait_healthy = false\nstart_timeout = 5\nredis_config = \"/etc/redis.conf\"\n";
    b.write("/etc/blotctl.toml", settings);
    // A FIFO among the rc links: never opened (it would block), left out.
    let fifo = b.path("/etc/rc.d/rc3.d/S50fifo");
    Command::new("mkfifo").arg(&fifo).run().success();
    let before = b.state();
    let dir = tempfile::tempdir().unwrap();
    // Written only where it is told: not through a link, not over anything.
    std::os::unix::fs::symlink(dir.path(), dir.path().join("link")).unwrap();
    std::fs::write(dir.path().join("taken.tar"), "x").unwrap();
    for taken in ["link", "taken.tar"] {
        b.blotctl()
            .arg("capture")
            .arg(dir.path().join(taken))
            .run()
            .code(64);
    }
    let dest = dir.path().join("box");
    let out = b.blotctl().arg("capture").arg(&dest).run();
    out.success();
    assert_same_state(&before, &b.state(), "capture changed the box");
    out.stdout_has("left out /etc/rc.d/rc3.d/S50fifo: neither a file, a directory nor a link");
    assert!(!dest.join("etc/shadow").exists());
    assert!(!dest.join("etc/ssh/ssh_host_rsa_key").exists());
    // The link itself is kept as it was; what it points at is not copied.
    assert_eq!(
        std::fs::read_link(dest.join("etc/rc.d/rc3.d/K99shadow")).unwrap(),
        PathBuf::from("/etc/shadow")
    );
    // The redis config link is resolved under the root: the box's file, and nothing else.
    assert_eq!(
        std::fs::read_to_string(dest.join("etc/redis-real.conf")).unwrap(),
        redis
    );
    let mut copied = String::new();
    for e in walk(&dest) {
        copied.push_str(&e);
        copied.push('\n');
    }
    assert!(
        !copied.contains("SHADOW-MARKER") && !copied.contains("KEY-MARKER"),
        "{copied}"
    );

    // A setting aimed at a key: planning cannot read it as nginx's config, so there is no
    // capture at all (never a partial one), and the key's text is shown nowhere.
    b.write(
        "/etc/blotctl.toml",
        &format!("{settings}nginx_config = \"/etc/ssh/ssh_host_rsa_key\"\n"),
    );
    let before = b.state();
    let dest = dir.path().join("box2");
    b.blotctl()
        .arg("capture")
        .arg(&dest)
        .run()
        .code(1)
        .has("planning cannot read it")
        .has("/etc/ssh/ssh_host_rsa_key")
        .lacks("KEY-MARKER");
    assert!(!dest.exists());
    assert_same_state(&before, &b.state(), "capture changed the box");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.is_dir() {
            out.extend(walk(&p));
        } else if m.is_file() {
            out.push(std::fs::read_to_string(&p).unwrap_or_default());
        }
    }
    out
}

#[test]
fn verify_offline_junit_passes_on_the_capture_and_fails_after_an_edit() {
    needs!("visudo");
    let c = Captured::new();
    let run = || {
        off_box(&c.dest())
            .args(["verify", "--offline", "--format", "junit"])
            .run()
    };
    let out = run();
    let xml = out.success().stdout();
    let tree = roxmltree::Document::parse(xml).expect("JUnit XML is well-formed");
    let suite = tree
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("failures"), Some("0"), "{xml}");
    let skipped: Vec<&str> = tree
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter(|n| n.children().any(|c| c.has_tag_name("skipped")))
        .map(|n| n.attribute("name").unwrap())
        .collect();
    // Live checks are skipped, never passed.
    for name in [
        "job redis running",
        "redis answers PING",
        "blot answers HTTP",
        "nginx answers HTTP",
        "transparent huge pages never",
        "vm.overcommit_memory = 1",
    ] {
        assert!(skipped.contains(&name), "{name} not skipped:\n{xml}");
    }
    assert_eq!(
        suite.attribute("skipped"),
        Some(skipped.len().to_string().as_str())
    );

    // A managed file edited by hand: drift, a failure naming the file.
    let rc = c.path("/etc/monit.rc");
    let text = std::fs::read_to_string(&rc).unwrap() + "# edited by hand\n";
    std::fs::write(&rc, text).unwrap();
    let out = run();
    let xml = out.code(1).stdout();
    let tree = roxmltree::Document::parse(xml).unwrap();
    let case = tree
        .descendants()
        .find(|n| n.attribute("name") == Some("provisioned: monit control file"))
        .unwrap();
    let failure = case
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap_or_else(|| panic!("no failure:\n{xml}"));
    assert!(
        failure
            .attribute("message")
            .unwrap()
            .contains("/etc/monit.rc"),
        "{xml}"
    );
}

#[test]
fn json_is_one_document_whatever_happens() {
    let b = TestBox::fresh();
    let one = |out: &Run, kind: &str, code: i32| {
        let doc = out.code(code).json();
        assert_eq!(doc["error"]["kind"], kind, "{doc}");
        assert!(
            doc["error"]["message"].as_str().unwrap().len() > 10,
            "{doc}"
        );
        assert_eq!(doc["exit_code"], code);
        doc
    };
    // A settings error.
    let out = b
        .blotctl()
        .args(["provision", "--dry-run", "--json"])
        .env("BLOTCTL_BLOT_PORT", "abc")
        .run();
    let doc = one(&out, "settings", 1);
    assert_eq!(doc["command"], "provision");
    assert_eq!(doc["dry_run"], true);
    // Usage errors: clap's own, and --json with --format junit.
    for args in [
        vec!["provision", "--dry-run", "--json", "--frobnicate"],
        vec!["provision", "--dry-run", "--json", "--format", "junit"],
        vec!["--json", "completions", "bash"],
    ] {
        let out = b.blotctl().args(&args).run();
        let doc = out.json();
        assert_eq!(doc["error"]["kind"], "usage", "{args:?}: {doc}");
        out.code(64);
    }
    // ... in the format asked for: JUnit, with the error as a test case.
    let out = b.run(&["--format", "junit", "config"]);
    let xml = out.code(64).stdout();
    let tree = roxmltree::Document::parse(xml).expect("JUnit XML is well-formed");
    assert!(
        tree.descendants()
            .any(|n| n.has_tag_name("error") && n.attribute("type") == Some("usage")),
        "{xml}"
    );
    // A held lock.
    let holder = LockHolder::new(&b.path("/var/lock/blotctl.lock"));
    let out = b.run(&["provision", "--yes", "--json"]);
    drop(holder);
    one(&out, "lock", 1);
    // Every command has a document.
    for args in [
        vec!["config", "--json"],
        vec!["render", "monit.rc", "--json"],
        vec!["rollback", "--list", "--json"],
        vec!["rollback", "--dry-run", "--json"],
        vec!["restart", "blot", "--dry-run", "--json"],
    ] {
        let doc = b.blotctl().args(&args).run().json();
        assert_eq!(doc["command"], args[0], "{args:?}");
    }
}

#[test]
fn blot_port_against_nginx_upstream_is_refused_naming_both() {
    let b = TestBox::fresh();
    let before = b.managed_state();
    for args in [
        vec!["provision", "--dry-run", "--set", "blot_port=9000"],
        vec!["provision", "--yes", "--set", "blot_port=9000"],
    ] {
        b.blotctl().args(&args).run().code(1).has(
            "blot_port is 9000, but /var/www/blot/config/nginx.conf sends requests to \
             127.0.0.1:8080 (line 22) on this machine",
        );
    }
    assert_same_state(
        &before,
        &b.managed_state(),
        "a refused run changed the tree",
    );
    // With nginx sending requests to the new port, the plan is fine.
    b.set_nginx_upstream(9000);
    b.run(&["provision", "--dry-run", "--set", "blot_port=9000"])
        .code(2)
        .stdout_has("+  if failed port 9000 protocol http request \"/health\"");
}

#[test]
fn rollback_plans_the_restarts_provision_would() {
    needs!("visudo");
    let b = TestBox::fresh();
    b.run(&["provision", "--yes"]).success();
    b.run(&["provision", "--yes", "--set", "monit_interval=15"])
        .success()
        .stdout_has("restart monit (/etc/monit.rc changed)");
    let pid = |b: &TestBox| b.fake("initctl", &["status", "monit"]).stdout().to_string();
    let before = pid(&b);

    b.run(&["rollback", "--dry-run"])
        .code(2)
        .stdout_has("in /etc/monit.rc")
        .stdout_has("  - restart monit (/etc/monit.rc changed)\n");
    // Off the box: the same restart, not checked.
    off_box(&b.root)
        .args(["rollback", "--dry-run"])
        .run()
        .stdout_has("  ? restart monit (/etc/monit.rc changed) if it runs\n");

    b.run(&["rollback", "--yes"]).success();
    assert!(b.read("/etc/monit.rc").contains("set daemon 30 "));
    let after = pid(&b);
    assert!(after.starts_with("monit start/running"), "{after}");
    assert_ne!(after, before, "monit runs the restored control file");
    b.run(&["rollback", "--dry-run"]).success();
}

#[test]
fn a_root_that_is_not_a_box_gets_one_error_naming_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    for args in [vec!["provision", "--dry-run"], vec!["verify"]] {
        let out = off_box(dir.path()).args(&args).run();
        out.code(1)
            .check(out.stdout().is_empty(), "nothing planned")
            .check(out.stderr().matches("error:").count() == 1, "one error")
            .stderr_has(&format!(
                "error: --root {} is not an Amazon Linux box (upstart, SysV rc, sudo): \
                 /etc/init, /etc/rc.d, /etc/sudoers and /etc/passwd do not exist\n",
                dir.path().display()
            ));
    }
    let wrong = dir.path().join("no-such-box");
    let doc = off_box(&wrong)
        .args(["verify", "--json"])
        .run()
        .code(1)
        .json();
    assert_eq!(doc["error"]["kind"], "not_a_box");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{} does not exist", wrong.display())),
        "{doc}"
    );
}

#[test]
fn a_capture_as_a_tarball_keeps_owners_and_plans_the_same() {
    needs!("visudo");
    let c = Captured::new();
    let tar = c.dir.path().join("box.tar.gz");
    c.b.blotctl().arg("capture").arg(&tar).run().success();
    // It holds sudoers (0440 on the box): root's alone, whatever the umask.
    let m = std::fs::symlink_metadata(&tar).unwrap();
    assert_eq!(
        (m.mode() & 0o7777, m.uid()),
        (0o600, 0),
        "the tarball is readable by others"
    );
    // never overwrites
    c.b.blotctl().arg("capture").arg(&tar).run().code(64);
    // Nothing is left beside it: the tree it was made from is gone.
    let beside: Vec<String> = std::fs::read_dir(c.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".blotctl-"))
        .collect();
    assert!(beside.is_empty(), "{beside:?}");
    let unpacked = c.dir.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    Command::new("tar")
        .args(["--same-owner", "-xpzf"])
        .arg(&tar)
        .arg("-C")
        .arg(&unpacked)
        .run()
        .success();
    let m = std::fs::metadata(unpacked.join("var/www/blot/logs/app.log")).unwrap();
    assert_eq!((m.uid(), m.gid()), (500, 500));
    off_box(&unpacked)
        .args(["provision", "--dry-run"])
        .run()
        .success();
}

/// The CI recipe's script on a capture, as CI runs it: the plan in three forms, blotctl's
/// exit code. The README's workflow and this repository's .ci/run call this same script.
#[test]
fn the_ci_recipe_script_plans_a_capture() {
    needs!("visudo");
    let c = Captured::new();
    let script = project().join("examples/ci/check-plan.sh");
    for file in [".ci/run", "examples/ci/blotctl-plan.yml"] {
        let text = std::fs::read_to_string(project().join(file)).unwrap();
        assert!(text.contains("examples/ci/check-plan.sh"), "{file}");
    }
    let readme = std::fs::read_to_string(project().join("README.md")).unwrap();
    assert!(
        readme.contains("## Checking changes in CI")
            && readme.contains("examples/ci/blotctl-plan.yml"),
        "README documents the recipe"
    );
    let run = |out: &str, extra: &[&str]| {
        Command::new("bash")
            .arg(&script)
            .arg(blotctl_bin())
            .arg(c.dest())
            .arg(c.dir.path().join(out))
            .args(extra)
            .run()
    };
    run("plan", &[]).success();
    run("plan-change", &["--set", "monit_interval=15"]).code(2);
    let dir = c.dir.path().join("plan-change");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("plan.json")).unwrap()).unwrap();
    assert_eq!(
        changes(&doc),
        vec![("write_file".into(), "/etc/monit.rc".into())]
    );
    let xml = std::fs::read_to_string(dir.join("plan.xml")).unwrap();
    roxmltree::Document::parse(&xml).expect("JUnit XML is well-formed");
    assert!(std::fs::read_to_string(dir.join("plan.txt"))
        .unwrap()
        .contains("dry run: 1 change, 7 not checked here;"));
}

/// `capture --help`'s examples, run as written in a scratch directory: as root with `sudo`
/// a pass-through, `blotctl` this build (its `capture` takes the provisioned fixture box for
/// this machine), nothing but /usr/bin:/bin besides. Each must succeed; the dry run on the
/// unpacked copy finds the box as planned.
#[test]
fn capture_help_examples_run_as_written() {
    // As root: the examples run with sudo.
    needs!(root, "visudo");
    let c = Captured::new();
    let help = c.b.run(&["capture", "--help"]);
    let help = help.stdout();
    let examples: Vec<&str> = help
        .split_once("Examples")
        .expect("capture --help has examples")
        .1
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    assert!(examples.len() >= 3, "{help}");
    let work = tempfile::tempdir().unwrap();
    let shims = work.path().join("bin");
    std::fs::create_dir(&shims).unwrap();
    let bin = blotctl_bin();
    for (name, text) in [
        ("sudo", "#!/bin/sh\nexec \"$@\"\n".to_string()),
        (
            "blotctl",
            format!(
                "#!/bin/sh\nif [ \"$1\" = capture ]; then exec '{}' --root '{}' \"$@\"; fi\nexec '{}' \"$@\"\n",
                bin.display(),
                c.b.root.display(),
                bin.display()
            ),
        ),
    ] {
        write_program(&shims.join(name), &text);
    }
    for line in examples {
        Command::new("sh")
            .args(["-c", line])
            .current_dir(work.path())
            .env("PATH", format!("{}:/usr/bin:/bin", shims.display()))
            .env_remove("BLOTCTL_ROOT")
            .env_remove("BLOTCTL_CONFIG")
            .run()
            .success();
    }
}
