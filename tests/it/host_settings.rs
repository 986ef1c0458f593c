//! redis's host settings: `vm.overcommit_memory = 1` in /etc/sysctl.conf (every other byte
//! kept) and the upstart task that turns transparent huge pages off before redis starts.
//! Under `--root` the live kernel values are never touched: the plan and verify say so.

use crate::util::*;

const TASK: &str = "/etc/init/redis-host-settings.conf";

fn provision(b: &TestBox) {
    b.run(&["provision", "--yes"]).success();
}

#[test]
fn dry_run_shows_the_sysctl_line_and_the_task_and_skips_live_values() {
    let b = TestBox::fresh();
    let stock = b.read("/etc/sysctl.conf");
    let out = b.run(&["provision", "--dry-run"]);
    out.code(2)
        .stdout_has("  - add vm.overcommit_memory = 1 in /etc/sysctl.conf\n")
        .stdout_has(" kernel.shmall = 4294967296\n+vm.overcommit_memory = 1\n")
        .stdout_has(&format!("+++ {TASK}"))
        .stdout_has("+start on starting redis\n+task\n")
        // Live kernel values belong to the box itself: not checked under --root, never a
        // change.
        .stdout_has(
            "redis host settings: 2 changes, 2 not checked here (live kernel values exist only \
             on the box itself, not under --root)\n",
        );
    for line in [
        "  ? set /sys/kernel/mm/transparent_hugepage/enabled to never now unless it is\n",
        "  ? set /proc/sys/vm/overcommit_memory to 1 now unless it is\n",
    ] {
        out.stdout_has(line);
    }
    assert_eq!(b.read("/etc/sysctl.conf"), stock);
}

#[test]
fn provision_adds_the_line_once_keeps_the_rest_and_upstart_loads_the_task() {
    needs!("visudo");
    let b = TestBox::fresh();
    let stock = b.read("/etc/sysctl.conf");
    provision(&b);
    assert_eq!(
        b.read("/etc/sysctl.conf"),
        format!("{stock}vm.overcommit_memory = 1\n")
    );
    assert_eq!(b.mode("/etc/sysctl.conf"), 0o644);
    assert_eq!(b.mode(TASK), 0o644);
    let list = b.fake("initctl", &["list"]);
    list.check(
        list.stdout()
            .lines()
            .any(|l| l == "redis-host-settings stop/waiting"),
        "the task is loaded, and not a running job",
    );
    let doc = b.run(&["verify", "--json"]).json();
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
    needs!("visudo");
    let b = TestBox::fresh();
    let conf = b.read("/etc/sysctl.conf").replace(
        "kernel.sysrq = 0\n",
        "kernel.sysrq = 0\nvm.overcommit_memory = 2\n",
    );
    b.write("/etc/sysctl.conf", &conf);
    b.run(&["provision", "--dry-run"])
        .stdout_has("-vm.overcommit_memory = 2\n+vm.overcommit_memory = 1\n")
        .stdout_has("set vm.overcommit_memory = 1 (line 17: was 2)");
    provision(&b);
    assert_eq!(
        b.read("/etc/sysctl.conf"),
        conf.replace("vm.overcommit_memory = 2", "vm.overcommit_memory = 1")
    );
}

#[test]
fn turning_thp_never_off_removes_the_task_and_reloads() {
    needs!("visudo");
    let b = TestBox::fresh();
    provision(&b);
    let sysctl = b.read("/etc/sysctl.conf");
    b.write(
        "/etc/blotctl.toml",
        "start_settle_ms = 0\nstart_wait_healthy = false\nstart_timeout = 5\nthp_never = false\novercommit_memory = false\n",
    );
    b.run(&["provision", "--dry-run"])
        .code(2)
        .stdout_has(&format!("  - remove {TASK} (thp_never = false)\n"))
        .stdout_has("initctl reload-configuration")
        .stdout_lacks("/sys/kernel/mm/transparent_hugepage");
    provision(&b);
    assert!(!b.path(TASK).exists());
    assert_eq!(
        b.read("/etc/sysctl.conf"),
        sysctl,
        "sysctl.conf is no longer managed"
    );
    b.fake("initctl", &["list"])
        .stdout_lacks("redis-host-settings");
    b.run(&["provision", "--dry-run"]).success();
}

#[test]
fn a_task_upstart_rejects_fails_provision_naming_it() {
    needs!("visudo");
    let b = TestBox::fresh();
    b.blotctl()
        .args(["provision", "--yes"])
        .env("FAKE_UPSTART_REJECT", "redis-host-settings")
        .run()
        .code(1)
        .has("upstart did not load the job `redis-host-settings`");
}
