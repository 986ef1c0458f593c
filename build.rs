//! Build facts for `blotctl --version`: the git commit and the target.
//!
//! Sets `BLOTCTL_BUILD_VERSION` to `<pkg version> (commit <hash>, target <triple>)`. Without git
//! (a source tarball, no `git` program) the commit is "unknown"; the build never fails here.
//! `cargo xtask dist` sets `BLOTCTL_BUILD_TARGET` to the full zig target
//! (`x86_64-unknown-linux-gnu.2.17`), which names the glibc floor that cargo's `TARGET` lacks.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=BLOTCTL_BUILD_TARGET");

    let commit = git_commit().unwrap_or_else(|| "unknown".to_string());
    let target = std::env::var("BLOTCTL_BUILD_TARGET")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .or_else(|| std::env::var("TARGET").ok())
        .unwrap_or_else(|| "unknown".to_string());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_else(|_| "0.0.0".to_string());
    println!("cargo:rustc-env=BLOTCTL_BUILD_VERSION={version} (commit {commit}, target {target})");
}

/// The short hash of HEAD, and the git files to watch so a new commit rebuilds.
fn git_commit() -> Option<String> {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(&manifest_dir)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (!s.is_empty()).then_some(s)
    };
    let hash = git(&["rev-parse", "--short=12", "HEAD"])?;
    // Watch only files that exist: a missing rerun-if-changed path rebuilds every time.
    // HEAD lives in the git dir, refs in the common dir (they differ in a worktree).
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let git_dir = Path::new(&git_dir);
        let common = git(&["rev-parse", "--git-common-dir"])
            .map(|c| manifest_dir.join(c))
            .unwrap_or_else(|| git_dir.to_path_buf());
        let mut watch = vec![git_dir.join("HEAD"), common.join("packed-refs")];
        if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch.push(common.join(head_ref));
        }
        for path in watch.iter().filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    Some(hash)
}
