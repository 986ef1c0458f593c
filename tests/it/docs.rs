//! ARCHITECTURE.md stays true: its codemap names every module under src/.

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
