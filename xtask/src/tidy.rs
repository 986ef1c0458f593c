//! The house rules ARCHITECTURE.md states, held by tests (rust-analyzer's tidy): they read
//! `src/` as text, so a rule broken anywhere fails `cargo xtask test`.
//!
//! - only `sys` (and `main`, which reads the command line) touches `std::fs`, `std::process`
//!   or `std::env`;
//! - the modules' imports point down: no circle between two modules of the crate, nor
//!   between two steps; no step imports the engine, the run pipeline, the report, an
//!   outcome or a command; the engine imports no step;
//! - every command file is small, the upstart parsers' files too;
//! - every setting has documentation: a line in README's settings and a doc comment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../src")
}

/// Every source file of the crate, by its module path (`steps/init`, `sys/look`, `app`),
/// with its text up to its unit tests (`#[cfg(test)] mod tests`). Test-only files (a
/// `tests.rs`, `steps/check.rs`, `sys/fake.rs`) are left out.
fn modules() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![src()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(src()).unwrap().with_extension("");
            let name = rel.to_string_lossy().trim_end_matches("/mod").to_string();
            if TEST_ONLY.contains(&name.as_str()) || name.ends_with("tests") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let text = match text.find("#[cfg(test)]\nmod tests") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            out.insert(name, text);
        }
    }
    out
}

const TEST_ONLY: &[&str] = &["steps/check", "sys/fake"];

/// The modules a file names: `crate::a::b` and `super::b` paths, and the names inside a
/// `use crate::a::{b, c::d}` group, each taken as deep as a module of that name exists.
fn imports(name: &str, text: &str, all: &BTreeSet<String>) -> BTreeSet<String> {
    let parent = match name.rsplit_once('/') {
        Some((p, _)) => p.to_string(),
        None => String::new(),
    };
    let deepest = |segs: &[&str]| -> Option<String> {
        (1..=segs.len())
            .rev()
            .map(|n| segs[..n].join("/"))
            .find(|m| all.contains(m))
    };
    let mut out = BTreeSet::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for (prefix, base) in [("crate::", String::new()), ("super::", parent.clone())] {
        let mut rest = code.as_str();
        while let Some(i) = rest.find(prefix) {
            rest = &rest[i + prefix.len()..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut segs: Vec<&str> = base.split('/').filter(|s| !s.is_empty()).collect();
            segs.extend(path.split("::").filter(|s| !s.is_empty()));
            let group = rest[path.len()..].starts_with('{');
            if group {
                // `use crate::a::{b, c::d}`: each member, one level of braces.
                let end = rest.find('}').unwrap_or(rest.len());
                for member in rest[path.len() + 1..end].split(',') {
                    let member = member.trim().split("::").next().unwrap_or("");
                    let mut s = segs.clone();
                    if !member.is_empty() && member != "self" {
                        s.push(member);
                    }
                    out.extend(deepest(&s));
                }
            }
            out.extend(deepest(&segs));
        }
    }
    out.remove(name);
    out
}

/// The top module of a module path (`steps/init` -> `steps`).
fn top(m: &str) -> &str {
    m.split('/').next().unwrap()
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules();
    let all: BTreeSet<String> = mods.keys().cloned().collect();
    mods.iter()
        .map(|(n, t)| (n.clone(), imports(n, t, &all)))
        .collect()
}

/// A circle in `edges`, as the path that closes it.
fn circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

#[test]
fn only_sys_and_main_touch_the_outside() {
    let mut found = Vec::new();
    for (name, text) in modules() {
        if top(&name) == "sys" || name == "main" {
            continue;
        }
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for door in ["std::fs", "std::process", "std::env", "use std::{"] {
                if code.contains(door) && (door != "use std::{" || has_door_in_group(code)) {
                    found.push(format!("src/{name}.rs:{}: {}", i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "files, processes and the environment go through sys (or main):\n{}",
        found.join("\n")
    );
}

fn has_door_in_group(code: &str) -> bool {
    let group = code.split("use std::{").nth(1).unwrap_or("");
    group
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| ["fs", "process", "env"].contains(&w))
}

#[test]
fn the_modules_of_the_crate_make_no_circle() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in graph() {
        let e = edges.entry(top(&from).to_string()).or_default();
        e.extend(
            to.iter()
                .map(|t| top(t).to_string())
                .filter(|t| t != top(&from)),
        );
    }
    if let Some(c) = circle(&edges) {
        panic!("the imports make a circle: {}", c.join(" -> "));
    }
}

#[test]
fn steps_make_no_circle_and_import_down() {
    let g = graph();
    let is_step = |m: &str| m.starts_with("steps/");
    let steps: BTreeMap<String, BTreeSet<String>> = g
        .iter()
        .filter(|(n, _)| is_step(n))
        .map(|(n, to)| {
            (
                n.clone(),
                to.iter().filter(|t| is_step(t)).cloned().collect(),
            )
        })
        .collect();
    if let Some(c) = circle(&steps) {
        panic!("the steps' imports make a circle: {}", c.join(" -> "));
    }
    const ABOVE_STEPS: &[&str] = &[
        "engine", "run", "report", "outcome", "commands", "app", "verify", "remote", "capture",
        "rollback", "journal", "printer", "cli", "main",
    ];
    let mut wrong = Vec::new();
    for (n, to) in &g {
        for t in to {
            if top(n) == "steps" && ABOVE_STEPS.contains(&top(t)) {
                wrong.push(format!("step {n} imports {t}"));
            }
            if n == "engine" && top(t) == "steps" {
                wrong.push(format!("the engine imports {t}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn command_files_and_parsers_stay_small() {
    let mut big = Vec::new();
    for (name, text) in modules() {
        let n = text.lines().count();
        let limit = match top(&name) {
            // Each command's own file (mod.rs dispatches).
            "commands" if name != "commands" => 120,
            "upstart" => 900,
            _ => continue,
        };
        if n > limit {
            big.push(format!("src/{name}.rs has {n} lines (at most {limit})"));
        }
    }
    assert!(big.is_empty(), "{}", big.join("\n"));
}

#[test]
fn every_setting_is_documented() {
    let readme = std::fs::read_to_string(src().join("../README.md")).unwrap();
    let section = readme
        .split("\n### Settings\n")
        .nth(1)
        .and_then(|s| s.split("\n### ").next())
        .expect("README.md has a ### Settings section");
    let commented = blotctl::config::commented_toml(&blotctl::config::Settings::default()).unwrap();
    let mut missing = Vec::new();
    for key in blotctl::config::known_keys() {
        if !section.contains(&format!("\n{key} = ")) {
            missing.push(format!("{key}: no line in README.md's settings"));
        }
        // `blotctl init` writes each key under its doc line: `# DOC\n#key = ...`.
        let documented = commented.lines().collect::<Vec<_>>().windows(2).any(|w| {
            w[0].len() > 2
                && w[1]
                    .trim_start_matches('#')
                    .starts_with(&format!("{key} = "))
        });
        if !documented {
            missing.push(format!("{key}: no doc comment (config.rs DOCS)"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// The rules catch what they are for.
#[test]
fn the_rules_can_fail() {
    let all: BTreeSet<String> = ["steps", "steps/init", "steps/templates", "engine", "jobs"]
        .map(String::from)
        .into();
    assert_eq!(
        imports(
            "steps/init",
            "use super::templates::{job_path};\nuse crate::jobs::Job;",
            &all
        ),
        ["jobs", "steps/templates"].map(String::from).into()
    );
    assert_eq!(
        imports("engine", "use crate::steps::{init, Ctx};", &all),
        ["steps", "steps/init"].map(String::from).into()
    );
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), ["b".to_string()].into()),
        ("b".to_string(), ["a".to_string()].into()),
    ]
    .into();
    assert_eq!(circle(&edges).unwrap(), ["a", "b", "a"]);
    assert!(has_door_in_group("use std::{env, io};"));
    assert!(!has_door_in_group("use std::{io, path::Path};"));
}
