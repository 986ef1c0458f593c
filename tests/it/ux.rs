//! Operator experience: the prompt in a real terminal (tmux), no control characters when
//! piped, machine-readable output, config sources, help and JSON snapshots.

use crate::util::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(args: &[&str]) -> String {
    Command::new("tmux").args(args).run().stdout().to_string()
}

/// Poll the pane until `needle` shows up (bounded).
fn wait_for(session: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let screen = tmux(&["capture-pane", "-p", "-t", session, "-S", "-200"]);
        if screen.contains(needle) || Instant::now() > deadline {
            return screen;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Session(String);
impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

#[test]
fn prompt_in_a_terminal_waits_and_applies_on_y() {
    needs!("tmux", "visudo");
    let b = TestBox::fresh();
    let session = in_tmux(&format!(
        "PATH='{}' '{}' --root '{}' provision; echo EXIT=$?; sleep 60",
        fake_path(),
        blotctl_bin().display(),
        b.root.display()
    ));
    let name = session.0.clone();
    let screen = wait_for(&name, "Apply 26 changes?");
    assert!(screen.contains("Apply 26 changes? [y/N]"), "{screen}");
    assert!(
        screen.contains("would change start jobs"),
        "the plan is shown first:\n{screen}"
    );
    // It waits: nothing was applied yet.
    std::thread::sleep(Duration::from_millis(500));
    assert!(b
        .read("/etc/sudoers")
        .contains("\nDefaults    requiretty\n"));
    // Everything the terminal receives from now on, spinner frames included.
    let raw = b.root.parent().unwrap().join("pane.log");
    tmux(&[
        "pipe-pane",
        "-t",
        &name,
        &format!("cat >> '{}'", raw.display()),
    ]);
    tmux(&["send-keys", "-t", &name, "y"]);
    let screen = wait_for(&name, "EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(screen.contains("provisioned: 26 changes"), "{screen}");
    // A spinner per step, with its elapsed time, on the terminal (never in piped output).
    let raw = String::from_utf8_lossy(&std::fs::read(&raw).unwrap()).into_owned();
    assert!(
        raw.contains("(0s)") && (raw.contains("applying: ") || raw.contains("jobs: start ")),
        "no spinner in {raw:?}"
    );
    assert!(b
        .read("/etc/sudoers")
        .contains("\n#Defaults    requiretty\n"));
}

#[test]
fn piped_output_has_no_control_characters_but_color_always_does() {
    let b = TestBox::fresh();
    b.run(&["provision", "--dry-run"]).lacks("\x1b");
    b.run(&["provision", "--dry-run", "--color", "always"])
        .stdout_has("\x1b");
}

#[test]
fn verify_junit_is_well_formed_with_one_testcase_per_check() {
    let b = TestBox::fresh();
    let doc = b.run(&["verify", "--json"]).code(1).json();
    let checks = doc["steps"].as_array().unwrap().len();
    assert!(checks > 10);
    let junit = b.run(&["verify", "--format", "junit"]);
    let xml = junit.code(1).stdout();
    let tree = roxmltree::Document::parse(xml).expect("JUnit XML is well-formed");
    let cases = tree
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    // One case per check, and one for the error of a verify that failed (as in --json).
    assert_eq!(cases, checks + 1);
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains(" checks failed:"));
    let error = tree
        .descendants()
        .find(|n| n.has_tag_name("error"))
        .expect("an <error> case");
    assert_eq!(error.attribute("type"), Some("failed"));
    let failures = tree
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count();
    assert_eq!(
        failures,
        doc["summary"]["failed"].as_u64().unwrap() as usize
    );
    let skipped = tree
        .descendants()
        .filter(|n| n.has_tag_name("skipped"))
        .count();
    assert_eq!(
        skipped,
        (doc["summary"]["skipped"].as_u64().unwrap()
            + doc["steps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["state"] == "not_checked")
                .count() as u64) as usize
    );
    assert!(skipped > 0, "kernel values are never checked under --root");
}

#[test]
fn config_shows_where_each_setting_came_from() {
    let b = TestBox::fresh();
    b.write("/etc/blotctl.toml", "blot_port = 9000\nuser = \"blot\"\n");
    let extra = b.root.parent().unwrap().join("extra.toml");
    std::fs::write(&extra, "user = \"deploy\"\n").unwrap();
    let out = b
        .blotctl()
        .arg("config")
        .arg("--config")
        .arg(&extra)
        .env("BLOTCTL_NGINX_PORT", "8081")
        .env("BLOTCTL_HEALTH_PATH", "/from-env")
        .args(["--set", "health_path=/from-flag"])
        .run();
    let text = out.success().stdout();
    let line = |k: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{k} =")))
            .unwrap_or_else(|| panic!("{k}: {text}"))
            .to_string()
    };
    assert!(line("blot_port").ends_with("# /etc/blotctl.toml"), "{text}");
    assert!(
        line("user").contains("\"deploy\"")
            && line("user").ends_with(&format!("# --config {}", extra.display())),
        "{text}"
    );
    assert!(
        line("nginx_port").contains("8081") && line("nginx_port").ends_with("# environment"),
        "{text}"
    );
    assert!(
        line("health_path").contains("\"/from-flag\"") && line("health_path").ends_with("# --set"),
        "{text}"
    );
    assert!(line("app_dir").ends_with("# default"), "{text}");

    b.run(&["config", "--set", "helth_path=/x"])
        .code(64)
        .stderr_has("did you mean `health_path`?");
    // A value of the wrong type, or one the settings refuse, is as much a usage error.
    for (set, says) in [
        (
            "blot_port=abc",
            "string \"abc\" is not a whole number from 0 to 65535 (a port: 1 to 65535)",
        ),
        ("blot_port=80", "blot_port and nginx_port are both 80"),
    ] {
        b.run(&["config", "--set", set]).code(64).stderr_has(says);
    }
}

/// The keys `blotctl config` attributes to /etc/blotctl.toml.
fn keys_from_the_file(b: &TestBox) -> Vec<String> {
    b.run(&["config"])
        .success()
        .stdout()
        .lines()
        .filter(|l| l.ends_with("# /etc/blotctl.toml"))
        .map(|l| l.split(" = ").next().unwrap().to_string())
        .collect()
}

#[test]
fn init_writes_a_commented_config_in_which_only_what_differs_is_live() {
    let b = TestBox::fresh();
    std::fs::remove_file(b.path("/etc/blotctl.toml")).unwrap();
    b.run(&["init", "--set", "nginx_port=81"]).success();
    let text = b.read("/etc/blotctl.toml");
    assert!(
        text.contains("# The Blot checkout") && text.contains("\n#app_dir = \"/var/www/blot\"\n"),
        "{text}"
    );
    assert!(text.contains("\nnginx_port = 81\n"), "{text}");
    assert_eq!(keys_from_the_file(&b), ["nginx_port"]);
    // init must not overwrite without --force
    b.run(&["init"]).code(64);
}

/// init is a run like the others: it removes the temp files a killed run left, backs up
/// the file it replaces (the run id printed, a rollback puts the old file back byte for
/// byte), and a second identical init changes nothing and backs up nothing.
#[test]
fn init_is_a_run_that_rollback_undoes() {
    needs!(root);
    let b = TestBox::fresh();
    let old = "# by hand\nblot_port = 9000\n";
    b.write("/etc/blotctl.toml", old);
    b.write("/etc/.blotctl-Xk2p9q~", "half a file");
    let out = b.run(&["init", "--force", "--set", "nginx_port=81"]);
    out.success()
        .stdout_has("removed /etc/.blotctl-Xk2p9q~")
        .stdout_has("wrote /etc/blotctl.toml: 1 change");
    assert!(!b.path("/etc/.blotctl-Xk2p9q~").exists());
    let text = b.read("/etc/blotctl.toml");
    assert!(
        text.contains("\nblot_port = 9000\n") && text.contains("\nnginx_port = 81\n"),
        "{text}"
    );
    let id = out
        .stdout()
        .lines()
        .find_map(|l| l.split("`blotctl rollback ").nth(1))
        .map(|r| r.trim_end_matches("`)").to_string())
        .unwrap_or_else(|| panic!("no backup named:\n{}", out.stdout()));

    let backups = || {
        std::fs::read_dir(b.path("/var/lib/blotctl/backups"))
            .unwrap()
            .count()
    };
    let (before, runs) = (b.managed_state(), backups());
    b.run(&["init", "--force", "--set", "nginx_port=81"])
        .success()
        .stdout_has("/etc/blotctl.toml is already as it would be written: 0 changes");
    assert_same_state(
        &before,
        &b.managed_state(),
        "an identical init changed the box",
    );
    assert_eq!(backups(), runs, "an identical init made a backup");

    b.run(&["rollback", &id, "--yes"]).success();
    assert_eq!(b.read("/etc/blotctl.toml"), old);
}

/// Run `command` in a fresh tmux session (160x50); the session ends with the test.
fn in_tmux(command: &str) -> Session {
    static SESSIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("blotctl-ux-{}-{n}", std::process::id());
    let st = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            "160",
            "-y",
            "50",
            command,
        ])
        .status()
        .unwrap();
    assert!(st.success());
    Session(name)
}

#[test]
fn init_on_a_terminal_writes_only_the_answers_that_differ() {
    needs!("tmux");
    let b = TestBox::fresh();
    std::fs::remove_file(b.path("/etc/blotctl.toml")).unwrap();
    let session = in_tmux(&format!(
        "'{}' --root '{}' init; echo EXIT=$?; sleep 60",
        blotctl_bin().display(),
        b.root.display()
    ));
    let name = &session.0;
    let answer = |prompt: &str, keys: &[&str]| {
        let screen = wait_for(name, prompt);
        assert!(screen.contains(prompt), "{screen}");
        for k in keys {
            tmux(&["send-keys", "-t", name, k]);
        }
    };
    answer("Blot checkout (app_dir)", &["Enter"]);
    answer("app user (user)", &["C-u", "deploy", "Enter"]);
    answer("site names", &["Enter"]);
    answer("Blot port (blot_port)", &["C-u", "abc", "Enter"]);
    // Not a port: asked again.
    std::thread::sleep(Duration::from_millis(300));
    tmux(&["send-keys", "-t", name, "C-u", "9000", "Enter"]);
    let screen = wait_for(name, "EXIT=");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(b
        .read("/etc/blotctl.toml")
        .contains("\nuser = \"deploy\"\n"));
    let mut keys = keys_from_the_file(&b);
    keys.sort();
    assert_eq!(
        keys,
        ["blot_port", "user"],
        "only the answers that changed a default"
    );
}

/// Not root: init says so before it asks anything, on a terminal too.
#[test]
fn init_checks_root_before_asking() {
    needs!("tmux", "setpriv");
    let b = TestBox::fresh();
    std::fs::remove_file(b.path("/etc/blotctl.toml")).unwrap();
    let tools = ForEveryone::new();
    let session = in_tmux(&format!(
        "setpriv --reuid=65534 --regid=65534 --clear-groups '{}' --root '{}' init; \
         echo EXIT=$?; sleep 60",
        tools.blotctl.display(),
        b.root.display()
    ));
    let screen = wait_for(&session.0, "EXIT=");
    assert!(screen.contains("EXIT=1"), "{screen}");
    assert!(
        screen.contains("error: init must run as root to write /etc/blotctl.toml"),
        "{screen}"
    );
    assert!(!screen.contains("Blot checkout"), "asked first:\n{screen}");
    assert!(!b.path("/etc/blotctl.toml").exists());
}

/// `blotctl completions bash` loaded into a real bash, asked as the shell asks on TAB:
/// `words...` with the last one being completed. Returns the sorted candidates.
fn bash_complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\n\
         COMP_WORDS=({})\n\
         COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n\
         COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}\n\
         _blotctl blotctl \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" ")
    );
    let out = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(&program)
        .run();
    let mut words: Vec<String> = out.success().stdout().lines().map(String::from).collect();
    words.sort();
    words
}

#[test]
fn completions_offer_no_hidden_flag_and_complete_keys_and_names() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = Cmd::new(blotctl_bin()).args(["completions", shell]).run();
        let text = out
            .success()
            .stdout_has("provision")
            .stdout_has("rollback")
            // no hidden flag
            .stdout_lacks("remote-root")
            .stdout_lacks("remote-env")
            // the setting keys
            .stdout_has("blot_port=")
            .stdout();
        std::fs::write(dir.path().join(shell), text).unwrap();
    }
    let bash = dir.path().join("bash");
    let provision = bash_complete(&bash, &["blotctl", "provision", "--"]);
    for flag in ["--dry-run", "--host", "--set", "--root", "--quiet"] {
        assert!(
            provision.contains(&flag.to_string()),
            "{flag}: {provision:?}"
        );
    }
    assert!(
        !provision.iter().any(|w| w.starts_with("--remote")),
        "{provision:?}"
    );
    for local in ["config", "init", "completions", "render"] {
        let words = bash_complete(&bash, &["blotctl", local, "--"]);
        assert!(words.contains(&"--root".to_string()), "{local}: {words:?}");
        assert!(
            !words
                .iter()
                .any(|w| w.starts_with("--host") || w.starts_with("--remote")),
            "{local} offers a remote option: {words:?}"
        );
    }
    assert_eq!(
        bash_complete(&bash, &["blotctl", "verify", "--set", "blot_"]),
        ["blot_port="]
    );
    let names = bash_complete(&bash, &["blotctl", "render", ""]);
    for name in ["blot", "monit.rc", "redis-host-settings", "logrotate"] {
        assert!(names.contains(&name.to_string()), "{name}: {names:?}");
    }
    // Run ids live on the box and change with every run: no file names offered instead.
    let runs = bash_complete(&bash, &["blotctl", "rollback", ""]);
    assert!(runs.iter().all(|w| w.starts_with('-')), "{runs:?}");
}

/// Help of every command, wrapped at 100 columns whatever the terminal says beyond that.
fn help(args: &[&str]) -> String {
    let out = Cmd::new(blotctl_bin())
        .args(args)
        .env("COLUMNS", "200")
        .run();
    let text = out.success().stdout();
    for line in text.lines() {
        out.check(
            line.chars().count() <= 100,
            format_args!("longer than 100 columns: {line}"),
        );
    }
    text.to_string()
}

#[test]
fn help_snapshots() {
    for cmd in [
        "--help",
        "provision",
        "verify",
        "rollback",
        "config",
        "render",
        "init",
        "completions",
        "deploy",
        "restart",
        "capture",
    ] {
        let text = if cmd == "--help" {
            help(&[cmd])
        } else {
            help(&[cmd, "--help"])
        };
        let name = format!("help_{}", cmd.trim_start_matches('-'));
        insta::assert_snapshot!(name, text);
    }
}

/// Global and remote options have headings of their own; the remote ones only where they
/// apply, and given anywhere else they are a usage error.
#[test]
fn remote_options_only_where_they_apply() {
    for cmd in ["provision", "verify", "rollback", "deploy", "restart"] {
        let text = help(&[cmd, "--help"]);
        assert!(
            text.contains("\nGlobal options:\n") && text.contains("\nRemote boxes (over ssh):\n"),
            "{cmd}:\n{text}"
        );
        assert!(text.contains("--host <[USER@]HOST>"), "{cmd}:\n{text}");
    }
    for cmd in ["config", "init", "completions", "render"] {
        let text = help(&[cmd, "--help"]);
        assert!(text.contains("\nGlobal options:\n"), "{cmd}:\n{text}");
        assert!(
            !text.contains("--host") && !text.contains("Remote boxes"),
            "{cmd}:\n{text}"
        );
        for args in [vec![cmd, "--host", "h"], vec!["--hosts-file", "/f", cmd]] {
            Cmd::new(blotctl_bin())
                .args(&args)
                .arg(if cmd == "completions" {
                    "bash"
                } else {
                    "--root=/nonexistent"
                })
                .run()
                .code(64)
                .stderr_has("--host and --hosts-file apply to provision, verify");
        }
    }
}

#[test]
fn provision_json_snapshot() {
    needs!("visudo");
    let b = TestBox::fresh();
    let out = b.run(&["provision", "--dry-run", "--json"]);
    let doc = out.code(2).json();
    assert_eq!(doc["exit_code"], 2);
    assert_eq!(doc["summary"]["changes"], 26);
    insta::assert_snapshot!("provision_dry_run_json", out.stdout());

    let doc = b.run(&["provision", "--yes", "--json"]).success().json();
    assert_eq!(doc["steps"][0]["state"], "changed");
    assert!(doc["backup"].is_string());
}

/// blotctl run as `nobody` on a copy of the box (whose sudoers is root's, 0440), from a
/// copy of the binary and the fakes that `nobody` can reach wherever the clone lives.
fn as_nobody(b: &TestBox, args: &[&str]) -> Run {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let tools = ForEveryone::new();
    let parent = b.root.parent().unwrap();
    std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = std::process::Command::new(&tools.blotctl);
    c.arg("--root")
        .arg(&b.root)
        .args(args)
        .env("PATH", &tools.path)
        .env_remove("BLOTCTL_ROOT")
        .env_remove("BLOTCTL_CONFIG")
        .uid(65534)
        .gid(65534);
    c.run()
}

/// Errors an operator can fix end in a `hint:` that says how; the message comes first.
#[test]
fn known_failures_end_with_a_hint() {
    let b = TestBox::fresh();
    assert_eq!(b.mode("/etc/sudoers"), 0o440);

    let out = as_nobody(&b, &["provision", "--yes"]);
    out.code(1)
        .check(
            out.stderr()
                .starts_with("error: provision must run as root to change the box\n"),
            "stderr starts with the error",
        )
        .stderr_has("\nhint: run it with sudo;");

    let out = as_nobody(&b, &["provision", "--dry-run"]);
    out.code(1)
        .stdout_has("/etc/sudoers: Permission denied")
        .stderr_has("hint: blotctl reads root-only files (/etc/sudoers is 0440): run it with sudo")
        .check(out.stderr().matches("hint:").count() == 1, "each hint once");

    b.run(&["provision"])
        .code(64)
        .stderr_has("hint: add --yes to apply without asking");
}

/// `--quiet` leaves out what is fine: steps that are ok, notes, passing checks; what would
/// change, failures and the summary stay.
#[test]
fn quiet_prints_only_what_changes_or_fails() {
    needs!("visudo");
    let b = TestBox::fresh();
    b.run(&["provision", "--dry-run"])
        .stdout_has("  ? set /sys/kernel/");
    b.run(&["provision", "--dry-run", "-q"])
        .code(2)
        .stdout_has("would change sudoers: 1 change")
        // Live kernel values are not checked under --root: counted, not listed.
        .stdout_has("\ndry run: 26 changes, 2 not checked here;")
        .stdout_lacks("note:")
        .stdout_lacks("  ? ");

    b.run(&["verify", "--quiet"])
        .stdout_has("FAIL  ")
        .stdout_lacks("pass  ")
        .stdout_has("\nverify: ");
    // A converged box: only the summary.
    b.run(&["provision", "--yes"]).success();
    let quiet = b.run(&["provision", "--dry-run", "--quiet"]);
    quiet.check(
        quiet
            .stdout()
            .starts_with("dry run: 0 changes, 2 not checked here;")
            && quiet.stdout().lines().count() == 1,
        "only the summary line",
    );
}

/// The README's usage table has a row for every command, with its exit codes, and each
/// command's `--help` ends with its exit status.
#[test]
fn every_command_has_its_exit_codes_in_the_readme_and_its_help() {
    let readme = std::fs::read_to_string(project().join("README.md")).unwrap();
    let rows: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| command | what it does | exit codes |"))
        .take_while(|l| l.starts_with('|'))
        .collect();
    let cmd = blotctl::cli::command();
    for sub in cmd.get_subcommands() {
        let name = sub.get_name();
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("| `{name}")))
            .unwrap_or_else(|| panic!("no README row for `{name}`"));
        let codes = row.trim_end_matches('|').rsplit('|').next().unwrap();
        assert!(
            codes.contains('0') || codes.contains("as `"),
            "`{name}`: no exit codes in {row}"
        );
        let help = help(&[name, "--help"]);
        assert!(help.contains("\nExit status:\n  0 "), "{name}:\n{help}");
    }
}

/// `completions` prints a shell script, which has no JSON form: its help does not offer
/// --json or --format, and given anyway they are a usage error (one document with --json).
#[test]
fn completions_offer_no_output_format() {
    let text = help(&["completions", "--help"]);
    assert!(
        !text.contains("--json") && !text.contains("--format"),
        "{text}"
    );
    for flags in [&["--json"][..], &["--format", "junit"]] {
        Cmd::new(blotctl_bin())
            .args(["completions", "bash"])
            .args(flags)
            .run()
            .code(64)
            .stderr_has("drop --json/--format");
    }
}

/// `--help` and `--version` are for people: text, exit 0, even with --json (as documented
/// in the README's "JSON output"): they are not a command's outcome.
#[test]
fn help_and_version_are_text_even_with_json() {
    for args in [
        &["--json", "--help"][..],
        &["--json", "--version"],
        &["provision", "--help", "--json"],
    ] {
        let out = Cmd::new(blotctl_bin()).args(args).run();
        let text = out.success().stdout();
        out.check(
            text.starts_with("blotctl")
                || text.starts_with("Bring")
                || text.starts_with("Provision"),
            "text for people",
        )
        .check(
            serde_json::from_str::<serde_json::Value>(text).is_err(),
            "not JSON",
        );
    }
    let readme = std::fs::read_to_string(project().join("README.md")).unwrap();
    assert!(
        readme.contains("`--help` and `--version` print text"),
        "README"
    );
}

/// `rollback --list` counts in words a person reads: "1 entry", "22 entries".
#[test]
fn rollback_list_counts_entries_in_english() {
    needs!(root, "visudo");
    let b = TestBox::fresh();
    b.run(&["init", "--force"]).success();
    b.run(&["provision", "--yes", "--no-start"]).success();
    let out = b.run(&["rollback", "--list"]);
    let list = out.stdout();
    let line = |cmd: &str| {
        list.lines()
            .find(|l| l.contains(&format!("  {cmd} ")))
            .unwrap_or_else(|| panic!("no {cmd} run:\n{list}"))
            .to_string()
    };
    assert!(line("init").contains("  1 entry  "), "{list}");
    assert!(line("provision").contains(" entries  "), "{list}");
}
