//! The house rules ARCHITECTURE.md states, held by tests (rust-analyzer's tidy): they read
//! `src/` as text, so a rule broken anywhere fails `cargo xtask test`.
//!
//! - only `sys` (and `main`, which reads the command line) touches `std::fs`, `std::process`
//!   or `std::env`;
//! - the modules' imports point down: no circle between two modules of the crate, nor
//!   between two steps; no step imports the engine, the run pipeline, the report, an
//!   outcome or a command; the engine imports no step;
//! - every command file is small, the upstart parsers' files too;
//! - every step has an in-memory unit test (`steps::check`);
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

/// A file's code without its comments (`//` to the end of a line; a `//` inside a string
/// cuts the line there, which only hides the rest of that line).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path that starts with `root` (`crate`, `super`, `std`) in `code`, as its segments
/// after `root`, with the byte offset where it starts. A `use` group is expanded, nested
/// and over several lines as rustfmt writes it: `use crate::{a::{b, c}, d}` is `a::b`,
/// `a::c` and `d`.
fn paths(code: &str, root: &str) -> Vec<(usize, Vec<String>)> {
    let prefix = format!("{root}::");
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = code[from..].find(&prefix) {
        let at = from + i;
        from = at + prefix.len();
        // A whole word: not `foo_crate::`, `x::crate::`.
        if code[..at].ends_with(|c: char| ident(c) || c == ':') {
            continue;
        }
        out.extend(tree(&code[from..]).into_iter().map(|p| (at, p)));
    }
    out
}

/// The paths of one use tree (`a::b`, `a::{b, c::d}`, `{a, b}`), each as its segments;
/// `self` and `*` segments and `as` renames are dropped.
fn tree(s: &str) -> Vec<Vec<String>> {
    let s = s.trim_start();
    if let Some(inner) = s.strip_prefix('{') {
        // The members of the group: split at the commas outside inner braces.
        let (mut depth, mut start, mut out) = (0, 0, Vec::new());
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    out.extend(tree(&inner[start..i]));
                    return out;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.extend(tree(&inner[start..i]));
                    start = i + 1;
                }
                _ => {}
            }
        }
        return out;
    }
    let name: String = s
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if name.is_empty() {
        return vec![Vec::new()];
    }
    let rest = &s[name.len()..];
    let mut subs = match rest.trim_start().strip_prefix("::") {
        Some(more) => tree(more),
        None => vec![Vec::new()],
    };
    if name != "self" {
        for p in &mut subs {
            p.insert(0, name.clone());
        }
    }
    subs
}

/// The modules a file names: `crate::a::b` and `super::b` paths, and the members of a
/// `use crate::a::{b, c::{d, e}}` group, each taken as deep as a module of that name exists.
fn imports(name: &str, text: &str, all: &BTreeSet<String>) -> BTreeSet<String> {
    let parent = match name.rsplit_once('/') {
        Some((p, _)) => p.to_string(),
        None => String::new(),
    };
    let deepest = |segs: &[String]| -> Option<String> {
        (1..=segs.len())
            .rev()
            .map(|n| segs[..n].join("/"))
            .find(|m| all.contains(m))
    };
    let code = code(text);
    let mut out = BTreeSet::new();
    for (root, base) in [("crate", String::new()), ("super", parent)] {
        for (_, path) in paths(&code, root) {
            let mut segs: Vec<String> = base
                .split('/')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            segs.extend(path);
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
        found.extend(
            doors(&text)
                .into_iter()
                .map(|(line, door)| format!("src/{name}.rs:{line}: std::{door}")),
        );
    }
    assert!(
        found.is_empty(),
        "files, processes and the environment go through sys (or main):\n{}",
        found.join("\n")
    );
}

/// Where a file names `std::fs`, `std::process` or `std::env` (in a path or a `use`
/// group, however nested or wrapped): (line, which).
fn doors(text: &str) -> Vec<(usize, String)> {
    let code = code(text);
    paths(&code, "std")
        .into_iter()
        .filter_map(|(at, p)| {
            let first = p.first()?;
            ["fs", "process", "env"]
                .contains(&first.as_str())
                .then(|| (code[..at].matches('\n').count() + 1, first.clone()))
        })
        .collect()
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

#[test]
fn every_step_has_an_in_memory_unit_test() {
    let mut missing = Vec::new();
    for e in std::fs::read_dir(src().join("steps")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".rs") || ["mod.rs", "check.rs"].contains(&name.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap();
        missing.extend(
            untested_steps(&text)
                .into_iter()
                .map(|step| format!("src/steps/{name}: {step}")),
        );
    }
    assert!(
        missing.is_empty(),
        "steps without an in-memory unit test (`steps::check::check(&Step, ..)` in the \
         file's tests):\n{}",
        missing.join("\n")
    );
}

/// The steps a file implements (`impl Step for X`) that its unit tests do not plan with
/// `check` or `check_after` (the step named in the tests, which call one of them).
fn untested_steps(text: &str) -> Vec<String> {
    let (code, tests) = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let tests = self::code(tests);
    let plans = tests.contains("check(") || tests.contains("check_after(");
    code.split("impl Step for ")
        .skip(1)
        .filter_map(|rest| {
            let step: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let named = tests.match_indices(step.as_str()).any(|(i, _)| {
                let before = tests[..i].chars().next_back();
                let after = tests[i + step.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            (!(plans && named)).then_some(step)
        })
        .collect()
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
    // Groups nested and wrapped as rustfmt writes them: every member counts, also the
    // ones after an inner group.
    assert_eq!(
        imports(
            "steps/init",
            "use crate::{\n    jobs::{self, Job},\n    engine,\n};\nuse super::{templates as t};",
            &all
        ),
        ["engine", "jobs", "steps/templates"]
            .map(String::from)
            .into()
    );
    assert_eq!(
        imports(
            "engine",
            "// use crate::jobs;\nlet x = my_crate::jobs::f();",
            &all
        ),
        BTreeSet::new()
    );
    assert_eq!(doors("use std::{env, io};"), [(1, "env".to_string())]);
    assert_eq!(
        doors("use std::{\n    io::{self, Read},\n    fs::File,\n};\nstd::process::exit(1);"),
        [(1, "fs".to_string()), (5, "process".to_string())]
    );
    let step = "impl Step for Hosts {}\nimpl Step for Sites {}\n";
    assert_eq!(
        untested_steps(&format!(
            "{step}#[cfg(test)]\nmod tests {{ check(&Hosts, |_, _| {{}}, e) }}"
        )),
        ["Sites"]
    );
    assert_eq!(
        untested_steps(&format!(
            "{step}#[cfg(test)]\nmod tests {{ // check(&Sites)\n Hosts }}"
        )),
        ["Hosts", "Sites"]
    );
    assert!(
        doors("use std::{io, path::Path};\n// std::fs::read(p)\nuse rustix::std::fs;").is_empty()
    );
}
