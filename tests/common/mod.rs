//! Test support: a scratch copy of the fixture box, the real blotctl binary, the fakes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture_box() -> PathBuf {
    project().join("fixtures/boxes/amazon-linux-2018.03")
}

/// PATH with the fake chkconfig/initctl first.
/// /usr/bin comes next so that `python3` is the system one, not a slow version-manager shim.
pub fn fake_path() -> String {
    format!(
        "{}:/usr/bin:{}",
        project().join("fixtures/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A scratch copy of the fixture box with the real modes applied. Processes that the fake
/// initctl started for it are killed when it is dropped, also when a test fails.
pub struct TestBox {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl TestBox {
    pub fn fresh() -> TestBox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("box");
        let st = std::process::Command::new("cp")
            .arg("-a")
            .arg(fixture_box())
            .arg(&root)
            .status()
            .unwrap();
        assert!(st.success());
        let modes =
            std::fs::read_to_string(project().join("fixtures/boxes/amazon-linux-2018.03.modes"))
                .unwrap();
        for line in modes
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let mut it = line.split_whitespace();
            let mode = u32::from_str_radix(it.next().unwrap(), 8).unwrap();
            let path = root.join(it.next().unwrap());
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let tb = TestBox { _dir: dir, root };
        // Fake jobs have no daemon to wait for.
        tb.write(
            "/etc/blotctl.toml",
            "start_settle_ms = 0\nstart_timeout = 5\n",
        );
        tb
    }

    pub fn path(&self, box_path: &str) -> PathBuf {
        self.root.join(box_path.trim_start_matches('/'))
    }

    pub fn read(&self, box_path: &str) -> String {
        std::fs::read_to_string(self.path(box_path)).unwrap()
    }

    pub fn write(&self, box_path: &str, text: &str) {
        std::fs::write(self.path(box_path), text).unwrap();
    }

    pub fn mode(&self, box_path: &str) -> u32 {
        std::fs::symlink_metadata(self.path(box_path))
            .unwrap()
            .mode()
            & 0o7777
    }

    pub fn owner(&self, box_path: &str) -> (u32, u32) {
        let m = std::fs::symlink_metadata(self.path(box_path)).unwrap();
        (m.uid(), m.gid())
    }

    /// blotctl on this box, with the fakes first on PATH.
    pub fn blotctl(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::cargo_bin("blotctl").unwrap();
        c.arg("--root").arg(&self.root).env("PATH", fake_path());
        c.env_remove("BLOTCTL_ROOT").env_remove("BLOTCTL_CONFIG");
        c
    }

    /// blotctl on this box with nothing of the fakes on PATH (as in CI without an init).
    pub fn blotctl_without_fakes(&self) -> assert_cmd::Command {
        let mut c = self.blotctl();
        c.env("PATH", std::env::var("PATH").unwrap_or_default());
        c
    }

    /// Run a fake (chkconfig, initctl) against this box.
    pub fn fake(&self, program: &str, args: &[&str]) -> std::process::Output {
        std::process::Command::new(project().join("fixtures/bin").join(program))
            .args(args)
            .env("BLOTCTL_ROOT", &self.root)
            .output()
            .unwrap()
    }

    /// Every path under the box with its kind, mode, owner and contents (or link target).
    pub fn state(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        walk(&self.root, &self.root, &mut out);
        out
    }

    /// blotctl on this box as a std Command (to spawn and kill it).
    pub fn blotctl_std(&self) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("blotctl"));
        c.arg("--root").arg(&self.root).env("PATH", fake_path());
        c.env_remove("BLOTCTL_ROOT").env_remove("BLOTCTL_CONFIG");
        c
    }

    /// The tree minus blotctl's own state (backups, lock) and the fake init's runtime state.
    pub fn managed_state(&self) -> BTreeMap<String, String> {
        self.state()
            .into_iter()
            .filter(|(p, _)| {
                !p.starts_with("var/lib/blotctl")
                    && !p.starts_with("var/lib/fake-upstart")
                    && p != "var/lock/blotctl.lock"
            })
            .collect()
    }

    /// PIDs of processes started for this box: the fake initctl gives every job process
    /// `BLOTCTL_ROOT=<this box>` in its environment.
    pub fn box_pids(&self) -> Vec<i32> {
        let needle = format!("BLOTCTL_ROOT={}\0", self.root.display());
        let mut pids = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if pid == std::process::id() as i32 {
                continue;
            }
            if let Ok(env) = std::fs::read(e.path().join("environ")) {
                if String::from_utf8_lossy(&env).contains(&needle) {
                    pids.push(pid);
                }
            }
        }
        pids
    }
}

impl Drop for TestBox {
    fn drop(&mut self) {
        for pid in self.box_pids() {
            let _ = std::process::Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let m = std::fs::symlink_metadata(&p).unwrap();
        let head = format!("{:o} {}:{}", m.mode(), m.uid(), m.gid());
        if m.file_type().is_symlink() {
            out.insert(
                rel,
                format!("link -> {}", std::fs::read_link(&p).unwrap().display()),
            );
        } else if m.is_dir() {
            out.insert(rel, format!("dir {head}"));
            walk(root, &p, out);
        } else {
            let bytes = std::fs::read(&p).unwrap();
            out.insert(
                rel,
                format!("file {head} {}", String::from_utf8_lossy(&bytes)),
            );
        }
    }
}

/// Assert two tree states are equal, naming only the paths that differ.
#[track_caller]
pub fn assert_same_state(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>, what: &str) {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let diff: Vec<String> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let short = |v: Option<&String>| v.map(|s| s.chars().take(80).collect::<String>());
            format!("{k}: {:?} -> {:?}", short(a.get(k)), short(b.get(k)))
        })
        .collect();
    assert!(diff.is_empty(), "{what}:\n  {}", diff.join("\n  "));
}

/// Output of a finished command as text.
pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Whether a program is installed; in CI a missing one fails the test instead.
pub fn require(program: &str) -> bool {
    let found = which_in_path(program);
    if !found && std::env::var_os("CI").is_some() {
        panic!("{program} is required in CI (cargo xtask test installs it)");
    }
    if !found {
        eprintln!("skipping: {program} is not installed (cargo xtask test installs it)");
    }
    found
}

fn which_in_path(program: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .any(|d| Path::new(d).join(program).is_file())
}
