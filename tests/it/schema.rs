//! schema/blotctl.schema.json describes what `--json` prints: checked here against the
//! real output of every command, its errors included, and against one change of every kind
//! the engine knows (a new kind without a schema entry fails here).

use crate::util::*;

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(project().join("schema/blotctl.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

/// The document must parse and follow the schema.
#[track_caller]
fn check(v: &jsonschema::Validator, what: &str, out: &Run) -> serde_json::Value {
    let doc = out.json();
    let errors: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}:\n{}\n{doc:#}", errors.join("\n"));
    out.check(
        doc["exit_code"].as_i64().map(|c| c as i32) == out.exit(),
        format_args!("{what}: exit_code is the exit status"),
    );
    // A command that failed says why in its document; one that did not has no error.
    let failed = !matches!(doc["exit_code"].as_i64(), Some(0 | 2));
    assert_eq!(
        doc["error"].is_object(),
        failed,
        "{what}: exit {} with error {}",
        doc["exit_code"],
        doc["error"]
    );
    doc
}

#[test]
fn every_command_prints_what_the_schema_describes() {
    needs!("visudo");
    let v = validator();
    let b = TestBox::fresh();
    let run = |args: &[&str]| b.blotctl().args(args).arg("--json").run();
    let doc = check(&v, "provision --dry-run", &run(&["provision", "--dry-run"]));
    assert_eq!(doc["summary"]["changes"], 26);
    check(
        &v,
        "restart --dry-run",
        &run(&["restart", "blot", "--dry-run"]),
    );
    let doc = check(&v, "verify, fresh box", &run(&["verify"]));
    assert_eq!(doc["error"]["kind"], "failed", "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("checks failed:\n  provisioned: sudoers: drift"),
        "{doc}"
    );
    check(
        &v,
        "rollback --dry-run, nothing",
        &run(&["rollback", "--dry-run"]),
    );
    let doc = check(&v, "provision --yes", &run(&["provision", "--yes"]));
    assert!(doc["backup"].is_string());
    check(&v, "verify", &run(&["verify"]));
    check(&v, "verify --offline", &run(&["verify", "--offline"]));
    check(&v, "rollback --list", &run(&["rollback", "--list"]));
    let doc = check(&v, "rollback --dry-run", &run(&["rollback", "--dry-run"]));
    assert_eq!(doc["exit_code"], 2);
    let doc = check(&v, "deploy --dry-run", &run(&["deploy", "--dry-run"]));
    assert_eq!(
        doc["exit_code"], 1,
        "the fixture's app_dir is no checkout: {doc}"
    );
    check(&v, "config", &run(&["config"]));
    check(&v, "render", &run(&["render"]));
    check(&v, "init --force", &run(&["init", "--force"]));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("copy");
    let doc = check(&v, "capture", &run(&["capture", dest.to_str().unwrap()]));
    assert!(doc["capture"]["manifest"]["copied"]["/etc/sudoers"].is_string());
    check(&v, "rollback --yes", &run(&["rollback", "--yes"]));

    // Errors: one document each.
    let errs: Vec<(&str, Run)> = vec![
        ("usage (clap)", run(&["provision", "--frobnicate"])),
        ("usage (--set)", run(&["config", "--set", "nope=1"])),
        (
            "settings",
            b.blotctl()
                .args(["verify", "--json"])
                .env("BLOTCTL_MONIT_INTERVAL", "often")
                .run(),
        ),
        (
            "refused",
            run(&["provision", "--yes", "--set", "blot_port=9000"]),
        ),
        (
            "not_checked",
            b.blotctl_without_fakes()
                .args(["verify", "--offline", "--strict", "--json"])
                .run(),
        ),
        (
            "not_a_box",
            Cmd::new(blotctl_bin())
                .args(["--root", dir.path().to_str().unwrap(), "verify", "--json"])
                .run(),
        ),
    ];
    for (what, out) in &errs {
        let doc = check(&v, what, out);
        let kind = what.split(' ').next().unwrap();
        assert_eq!(doc["error"]["kind"], kind, "{what}: {doc}");
    }
    let holder = LockHolder::new(&b.path("/var/lock/blotctl.lock"));
    let out = run(&["provision", "--yes"]);
    drop(holder);
    assert_eq!(check(&v, "lock", &out)["error"]["kind"], "lock");
}

/// One change of every kind of action, rendered as the commands render them.
#[test]
fn every_kind_of_change_is_in_the_schema() {
    use blotctl::outcome::{Outcome, State, StepOutcome};
    use blotctl::plan::{Action, Change, NotChecked, Perms, RcLink};
    let p = Perms {
        mode: 0o644,
        uid: 0,
        gid: 0,
    };
    let actions = vec![
        Action::WriteFile {
            path: "/etc/x".into(),
            old: Some(b"a\n".to_vec()),
            new: b"b\n".to_vec(),
            perms: p,
            old_perms: Some(Perms { mode: 0o600, ..p }),
        },
        Action::SetPerms {
            path: "/etc/x".into(),
            from: p,
            to: Perms { mode: 0o600, ..p },
        },
        Action::CreateDir {
            path: "/var/x".into(),
            perms: p,
        },
        Action::Run {
            argv: vec!["initctl".into(), "reload-configuration".into()],
        },
        Action::StartJob { job: "blot".into() },
        Action::ReloadJobs {
            jobs: vec!["blot".into()],
        },
        Action::StopJob { job: "blot".into() },
        Action::ChkconfigOff {
            service: "nginx".into(),
        },
        Action::RestoreLinks {
            service: "nginx".into(),
            from: Vec::new(),
            links: vec![RcLink {
                level: 3,
                name: "S85nginx".into(),
                target: "../init.d/nginx".into(),
            }],
        },
        Action::RemovePath {
            path: "/etc/x".into(),
            old: Some(b"a\n".to_vec()),
        },
        Action::FastForward {
            git: vec!["git".into(), "-C".into(), "/var/www/blot".into()],
            dir: "/var/www/blot".into(),
            remote: "origin".into(),
            branch: "master".into(),
            from: "1111111".into(),
            to: "2222222".into(),
        },
        Action::SetKernel {
            path: "/proc/sys/vm/overcommit_memory".into(),
            from: "0".into(),
            to: "1".into(),
        },
        Action::RestartJob {
            job: "redis".into(),
            dependents: vec!["blot".into()],
            probe: false,
        },
    ];
    let kinds: Vec<String> = actions
        .iter()
        .map(|a| {
            serde_json::to_value(a).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project().join("schema/blotctl.schema.json")).unwrap(),
    )
    .unwrap();
    let mut in_schema: Vec<String> = schema["$defs"]["change"]["properties"]["kind"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    in_schema.sort();
    let mut sorted = kinds.clone();
    sorted.sort();
    assert_eq!(
        sorted, in_schema,
        "the schema lists exactly the kinds of change"
    );

    let mut step = StepOutcome::check("every kind", State::WouldChange, "");
    step.reason = None;
    step.changes = actions
        .into_iter()
        .map(|a| Change::new("a change", a))
        .collect();
    step.changes[0] = step.changes[0].clone().blocked("no visudo here");
    step.not_checked = vec![NotChecked::new("start blot unless it runs", "no initctl")];
    let mut o = Outcome::new("provision", true);
    o.exit_code = 2;
    o.steps = vec![step];
    let doc = blotctl::report::json(&o);
    let v = validator();
    let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{}\n{doc:#}", errors.join("\n"));
    // And what the schema refuses, it refuses: a change without its path.
    let mut bad = doc.clone();
    bad["steps"][0]["changes"][0]
        .as_object_mut()
        .unwrap()
        .remove("path");
    assert!(!v.is_valid(&bad), "a write_file without a path is refused");
}
