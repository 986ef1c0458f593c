//! ARCHITECTURE.md stays true: its codemap names every module under src/, and the
//! integration tests leave the process they share alone.

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
