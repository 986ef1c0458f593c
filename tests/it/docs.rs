//! ARCHITECTURE.md stays true: its codemap names every module under src/, each test its
//! invariants cite exists, and the integration tests leave the process they share alone.

use crate::util::project;

#[test]
fn every_module_has_a_codemap_entry() {
    let arch = std::fs::read_to_string(project().join("ARCHITECTURE.md")).unwrap();
    let mut missing = Vec::new();
    for e in std::fs::read_dir(project().join("src")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let entry = if e.path().is_dir() {
            format!("`src/{name}/`")
        } else if name.ends_with(".rs") {
            format!("`src/{name}`")
        } else {
            continue;
        };
        // An entry may name several modules: `src/upstart.rs`, `src/chkconfig.rs`.
        let named = arch.contains(&entry) || arch.contains(&format!("`src/{name}`,"));
        if !named {
            missing.push(entry);
        }
    }
    missing.sort();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's codemap has no entry for {}",
        missing.join(", ")
    );
}

/// Every test an invariant of ARCHITECTURE.md cites (a backticked `name` or `module::name`
/// in its Invariants section) is a `fn`, a `mod` or a file of the project: an invariant
/// whose test was renamed or removed is no longer held by anything.
#[test]
fn every_invariant_names_a_test_that_exists() {
    let arch = std::fs::read_to_string(project().join("ARCHITECTURE.md")).unwrap();
    let invariants = arch
        .split("\n## Invariants")
        .nth(1)
        .expect("ARCHITECTURE.md has an Invariants section");
    let mut sources = String::new();
    let mut names = Vec::new();
    let mut todo = ["src", "tests", "xtask/src"]
        .map(|d| project().join(d))
        .to_vec();
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                names.push(p.file_stem().unwrap().to_string_lossy().into_owned());
                sources.push_str(&std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let cited: Vec<&str> = invariants
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| t.contains('_') || t.contains("::") || !t.contains(' ') && t.len() > 3)
        .filter(|t| {
            t.chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c == ':')
        })
        .collect();
    assert!(cited.len() >= 20, "too few tests cited: {cited:?}");
    let missing: Vec<&&str> = cited
        .iter()
        .filter(|t| {
            let name = t.rsplit("::").next().unwrap();
            !(names.iter().any(|n| n == name)
                || sources.contains(&format!("fn {name}("))
                || sources.contains(&format!("mod {name} "))
                || sources.contains(&format!("mod {name};")))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's invariants cite tests that do not exist: {missing:?}"
    );
}

/// The integration tests are one process (tests/it): what a test changes for the whole
/// process would change it under every other test running beside it. None may set or
/// remove environment variables, change the current directory or the umask, install signal
/// handlers, or enter other namespaces or credentials in-process; a test gives a child
/// process what it needs instead (`Command::env`, `current_dir`, `uid`, `unshare` run as a
/// program).
#[test]
fn the_tests_leave_the_process_alone() {
    let calls = [
        "set_var(",
        "remove_var(",
        "set_current_dir(",
        "umask(",
        "sigaction(",
        "libc::signal(",
        "signal_hook",
        "unshare(",
        "setns(",
        "chroot(",
        "setuid(",
        "setgid(",
        "seteuid(",
        "setegid(",
    ];
    let dir = project().join("tests/it");
    let this = std::path::Path::new(file!()).file_name().unwrap();
    let mut found = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        if e.file_name() == this || e.path().extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap();
            for call in calls.iter().filter(|c| code.contains(*c)) {
                found.push(format!(
                    "{}:{}: {call}",
                    e.file_name().to_string_lossy(),
                    n + 1
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "process-wide changes in the tests:\n  {}",
        found.join("\n  ")
    );
}
