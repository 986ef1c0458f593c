//! redis's host settings: `vm.overcommit_memory = 1` in /etc/sysctl.conf (every other byte
//! kept) and the upstart task that turns transparent huge pages off before redis starts.
//! Under `--root` the live kernel values are never touched: the plan and verify say so.

mod common;
use common::*;

const TASK: &str = "/etc/init/redis-host-settings.conf";

fn provision(b: &TestBox) -> std::process::Output {
    let out = b.blotctl().args(["provision", "--yes"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

#[test]
fn dry_run_shows_the_sysctl_line_and_the_task_and_skips_live_values() {
    let b = TestBox::fresh();
    let stock = b.read("/etc/sysctl.conf");
    let out = b
        .blotctl()
        .args(["provision", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(
        text.contains("  - add vm.overcommit_memory = 1 in /etc/sysctl.conf\n"),
        "{text}"
    );
    assert!(
        text.contains(" kernel.shmall = 4294967296\n+vm.overcommit_memory = 1\n"),
        "{text}"
    );
    assert!(text.contains(&format!("+++ {TASK}")), "{text}");
    assert!(text.contains("+start on starting redis\n+task\n"), "{text}");
    // Live kernel values belong to the box itself: not checked under --root, never a change.
    assert!(
        text.contains(
            "redis host settings: 2 changes, 2 not checked here (live kernel values exist only \
             on the box itself, not under --root)\n"
        ),
        "{text}"
    );
    for line in [
        "  ? set /sys/kernel/mm/transparent_hugepage/enabled to never now unless it is\n",
        "  ? set /proc/sys/vm/overcommit_memory to 1 now unless it is\n",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    assert_eq!(b.read("/etc/sysctl.conf"), stock);
}

#[test]
fn provision_adds_the_line_once_keeps_the_rest_and_upstart_loads_the_task() {
    if !require("visudo") {
        return;
    }
    let b = TestBox::fresh();
    let stock = b.read("/etc/sysctl.conf");
    provision(&b);
    assert_eq!(
        b.read("/etc/sysctl.conf"),
        format!("{stock}vm.overcommit_memory = 1\n")
    );
    assert_eq!(b.mode("/etc/sysctl.conf"), 0o644);
    assert_eq!(b.mode(TASK), 0o644);
    let list = stdout(&b.fake("initctl", &["list"]));
    assert!(
        list.lines()
            .any(|l| l == "redis-host-settings stop/waiting"),
        "the task is loaded, and not a running job:\n{list}"
    );
    let verify = b.blotctl().args(["verify", "--json"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&verify.stdout).unwrap();
    for name in ["transparent huge pages never", "vm.overcommit_memory = 1"] {
        let c = doc["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {doc}"));
        // Not passed: not checked (a skip in JUnit), and counted apart.
        assert_eq!(c["state"], "not_checked", "{c}");
        assert_eq!(
            c["reason"], "live kernel values exist only on the box itself, not under --root",
            "{c}"
        );
    }
    assert!(
        doc["summary"]["not_checked"].as_u64().unwrap() >= 2,
        "{doc}"
    );
    assert!(!doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "job redis-host-settings running"));
}

#[test]
fn a_conflicting_overcommit_value_is_changed_in_place() {
    if !require("visudo") {
        return;
    }
    let b = TestBox::fresh();
    let conf = b.read("/etc/sysctl.conf").replace(
        "kernel.sysrq = 0\n",
        "kernel.sysrq = 0\nvm.overcommit_memory = 2\n",
    );
    b.write("/etc/sysctl.conf", &conf);
    let dry = b
        .blotctl()
        .args(["provision", "--dry-run"])
        .output()
        .unwrap();
    let text = stdout(&dry);
    assert!(
        text.contains("-vm.overcommit_memory = 2\n+vm.overcommit_memory = 1\n"),
        "{text}"
    );
    assert!(
        text.contains("set vm.overcommit_memory = 1 (line 17: was 2)"),
        "{text}"
    );
    provision(&b);
    assert_eq!(
        b.read("/etc/sysctl.conf"),
        conf.replace("vm.overcommit_memory = 2", "vm.overcommit_memory = 1")
    );
}

#[test]
fn turning_thp_never_off_removes_the_task_and_reloads() {
    if !require("visudo") {
        return;
    }
    let b = TestBox::fresh();
    provision(&b);
    let sysctl = b.read("/etc/sysctl.conf");
    b.write(
        "/etc/blotctl.toml",
        "start_settle_ms = 0\nstart_timeout = 5\nthp_never = false\novercommit_memory = false\n",
    );
    let dry = b
        .blotctl()
        .args(["provision", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(2), "{}", stdout(&dry));
    let text = stdout(&dry);
    assert!(
        text.contains(&format!("  - remove {TASK} (thp_never = false)\n")),
        "{text}"
    );
    assert!(text.contains("initctl reload-configuration"), "{text}");
    assert!(
        !text.contains("/sys/kernel/mm/transparent_hugepage"),
        "{text}"
    );
    provision(&b);
    assert!(!b.path(TASK).exists());
    assert_eq!(
        b.read("/etc/sysctl.conf"),
        sysctl,
        "sysctl.conf is no longer managed"
    );
    let list = stdout(&b.fake("initctl", &["list"]));
    assert!(!list.contains("redis-host-settings"), "{list}");
    let again = b
        .blotctl()
        .args(["provision", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}

#[test]
fn a_task_upstart_rejects_fails_provision_naming_it() {
    if !require("visudo") {
        return;
    }
    let b = TestBox::fresh();
    let out = b
        .blotctl()
        .args(["provision", "--yes"])
        .env("FAKE_UPSTART_REJECT", "redis-host-settings")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        format!("{}{}", stdout(&out), stderr(&out))
            .contains("upstart did not load the job `redis-host-settings`"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}
