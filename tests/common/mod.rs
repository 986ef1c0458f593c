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
        apply_owners(&root);
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

    /// Every path under the box with its kind, mode, owner, link count and contents (or
    /// link target).
    pub fn state(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        walk(&self.root, &self.root, &mut out, Contents::Text);
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

/// Whether this process runs as root.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The owners git does not keep (fixtures/boxes/<box>.owners, `UID:GID PATH`); as root
/// only (a user cannot give files away: the copy stays theirs, which the tests that need
/// the app user's ownership check for with `is_root`).
fn apply_owners(root: &Path) {
    if !is_root() {
        return;
    }
    let owners =
        std::fs::read_to_string(project().join("fixtures/boxes/amazon-linux-2018.03.owners"))
            .unwrap();
    for line in owners
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (ids, path) = line.split_once(' ').expect("UID:GID PATH");
        let (uid, gid) = ids.split_once(':').expect("UID:GID");
        std::os::unix::fs::lchown(
            root.join(path),
            Some(uid.parse().unwrap()),
            Some(gid.parse().unwrap()),
        )
        .unwrap();
    }
}

/// The built blotctl and the fakes, copied to a fresh directory every user can enter: a
/// test that runs blotctl as another user (uid 65534) must not depend on where the clone
/// lives (under /root or a `mktemp -d` directory, nobody else can reach target/ or
/// fixtures/).
pub struct ForEveryone {
    _dir: tempfile::TempDir,
    /// The copy of blotctl.
    pub blotctl: PathBuf,
    /// PATH with the copied fakes first, then /usr/bin and this PATH.
    pub path: String,
}

impl ForEveryone {
    pub fn new() -> ForEveryone {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // Copied by `cp`, not in this process: a file this process had open for writing
        // could be inherited by a child another test thread forks at that moment, and
        // running it would then fail with "Text file busy".
        let blotctl = dir.path().join("blotctl");
        let bin = dir.path().join("bin");
        for (from, to) in [
            (assert_cmd::cargo::cargo_bin("blotctl"), &blotctl),
            (project().join("fixtures/bin"), &bin),
        ] {
            let st = std::process::Command::new("cp")
                .arg("-a")
                .arg(&from)
                .arg(to)
                .status()
                .unwrap();
            assert!(st.success(), "cp -a {}", from.display());
        }
        let path = format!(
            "{}:/usr/bin:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        ForEveryone {
            _dir: dir,
            blotctl,
            path,
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

/// Whether a program is installed. Under `cargo xtask test` (which installs every one) and
/// in CI a missing one fails the test instead: only a bare `cargo test` may skip.
pub fn require(program: &str) -> bool {
    let found = which_in_path(program);
    let strict =
        std::env::var_os("CI").is_some() || std::env::var_os("XTASK_TEST_PROGRAMS").is_some();
    if !found && strict {
        panic!("{program} is required here (cargo xtask test installs it)");
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

// ---------------------------------------------------------------------------------------
// Helpers for the tests that run the real programs (tests/live.rs, tests/real_programs.rs).

/// Absolute path of an installed program: PATH first, then /usr/sbin and /sbin.
pub fn program_path(program: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

/// `require` for several programs; names every missing one before skipping (or failing in CI).
pub fn require_all(programs: &[&str]) -> bool {
    let found: Vec<bool> = programs.iter().map(|p| require(p)).collect();
    found.into_iter().all(|f| f)
}

/// `N` distinct ports on 127.0.0.1 that were free a moment ago: bind port 0 `N` times,
/// keeping every listener open until all are chosen, then close them.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

impl TestBox {
    /// `blotctl render NAME` on this box, without the `# ---- PATH` header line.
    pub fn render(&self, name: &str) -> String {
        let out = self.blotctl().args(["render", name]).output().unwrap();
        assert!(
            out.status.success(),
            "blotctl render {name}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let text = stdout(&out);
        match text.split_once('\n') {
            Some((first, rest)) if first.starts_with("# ---- ") => rest.to_string(),
            _ => text,
        }
    }

    /// Point the upstream of the nginx config nginx runs (the checkout's
    /// config/nginx.conf, the fixture's `server 127.0.0.1:8080;`) at `port`: blotctl refuses
    /// a `blot_port` that nginx does not send requests to.
    pub fn set_nginx_upstream(&self, port: u16) {
        let path = "/var/www/blot/config/nginx.conf";
        let conf = self.read(path);
        assert_eq!(
            conf.matches("server 127.0.0.1:8080;").count(),
            1,
            "the checkout's nginx.conf no longer has one `server 127.0.0.1:8080;`"
        );
        self.write(
            path,
            &conf.replace(
                "server 127.0.0.1:8080;",
                &format!("server 127.0.0.1:{port};"),
            ),
        );
    }

    /// Make the nginx config nginx runs (the checkout's config/nginx.conf, the fixture's
    /// `listen 80 default_server;`) listen on 127.0.0.1:`port`: blotctl refuses an
    /// `nginx_port` that nginx does not listen on (monit would restart it for ever).
    pub fn set_nginx_listen(&self, port: u16) {
        let path = "/var/www/blot/config/nginx.conf";
        let conf = self.read(path);
        let listen = "listen 80 default_server;";
        assert_eq!(
            conf.matches(listen).count(),
            1,
            "the checkout's nginx.conf no longer has one `{listen}`"
        );
        self.write(
            path,
            &conf.replace(listen, &format!("listen 127.0.0.1:{port} default_server;")),
        );
    }

    /// Replace the box's /etc/nginx/nginx.conf (the fixture's, which blotctl reads and
    /// relies on) by the same file made runnable here, unprivileged and on loopback: every
    /// path it names is moved under this box (error_log, pid, access_log, mime.types, the
    /// stock `conf.d/*.conf` include, plus
    /// the temp paths Debian's nginx would otherwise put in /var/lib/nginx), `user nginx`
    /// is dropped (no such user here), it listens on 127.0.0.1:`nginx_port` only and
    /// proxies to 127.0.0.1:`blot_port`. Everything else is the fixture's text. Also writes
    /// a minimal /etc/nginx/mime.types and creates the prefix /var/lib/nginx.
    /// Run nginx with `nginx_args` (prefix, startup error log, this file).
    pub fn install_test_nginx_conf(&self, nginx_port: u16, blot_port: u16) {
        let root = self.root.display().to_string();
        let mut conf = self.read("/etc/nginx/nginx.conf");
        let temp_paths: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
            .iter()
            .map(|t| format!("    {t}_temp_path {root}/var/lib/nginx/{t};\n"))
            .collect();
        let edits = [
            (
                "user nginx;\n".to_string(),
                "# (test) user nginx; -- dropped: no such user here\n".to_string(),
            ),
            (
                "error_log /var/log/nginx/error.log;".into(),
                format!("error_log {root}/var/log/nginx/error.log;"),
            ),
            (
                "pid /var/run/nginx.pid;".into(),
                format!("pid {root}/var/run/nginx.pid;"),
            ),
            (
                "access_log  /var/log/nginx/access.log  main;".into(),
                format!("access_log  {root}/var/log/nginx/access.log  main;"),
            ),
            (
                "include             /etc/nginx/mime.types;".into(),
                format!("include             {root}/etc/nginx/mime.types;"),
            ),
            (
                "include /etc/nginx/conf.d/*.conf;".into(),
                format!("include {root}/etc/nginx/conf.d/*.conf;"),
            ),
            (
                "server 127.0.0.1:8080;".into(),
                format!("server 127.0.0.1:{blot_port};"),
            ),
            (
                "listen       80 default_server;".into(),
                format!("listen       127.0.0.1:{nginx_port} default_server;"),
            ),
            (
                "        listen       [::]:80 default_server;\n".into(),
                "        # (test) loopback IPv4 only\n".into(),
            ),
            (
                "http {\n".into(),
                format!("http {{\n    # (test) temp paths under the box\n{temp_paths}"),
            ),
        ];
        for (from, to) in edits {
            assert_eq!(
                conf.matches(from.as_str()).count(),
                1,
                "the fixture's nginx.conf no longer has exactly one {from:?}: update \
                 TestBox::install_test_nginx_conf"
            );
            conf = conf.replacen(from.as_str(), &to, 1);
        }
        std::fs::create_dir_all(self.path("/var/lib/nginx")).unwrap();
        self.write(
            "/etc/nginx/mime.types",
            "types {\n    text/html  html;\n    text/plain txt;\n}\n",
        );
        self.write("/etc/nginx/nginx.conf", &conf);
    }

    /// nginx's arguments for the file `install_test_nginx_conf` wrote: prefix, startup
    /// error log (before the file is read) and the file, all under this box.
    pub fn nginx_args(&self) -> Vec<String> {
        vec![
            "-p".into(),
            format!("{}/", self.path("/var/lib/nginx").display()),
            "-e".into(),
            self.path("/var/log/nginx/error.log").display().to_string(),
            "-c".into(),
            self.path("/etc/nginx/nginx.conf").display().to_string(),
        ]
    }
}

/// Run monit's syntax check (`monit -t`) on a control file without touching anything
/// outside `dir`: monit 5.x stores its id in `~/.monit.id` (the home from /etc/passwd)
/// unless the control file says `set idfile`, so the check runs on a wrapper in `dir` that
/// sets the id file and `include`s `control_file` verbatim; `-l` keeps the log in `dir`.
/// Both files must be mode 0700 or tighter, as monit demands.
pub fn monit_syntax_check(control_file: &Path, dir: &Path) -> std::process::Output {
    let wrapper = write_monit_wrapper(control_file, dir);
    std::process::Command::new("monit")
        .arg("-t")
        .arg("-c")
        .arg(&wrapper)
        .arg("-l")
        .arg(dir.join("monit-check.log"))
        .output()
        .unwrap()
}

/// The wrapper control file described at `monit_syntax_check`; returns its path.
pub fn write_monit_wrapper(control_file: &Path, dir: &Path) -> PathBuf {
    let wrapper = dir.join("monit-wrapper.rc");
    std::fs::write(
        &wrapper,
        format!(
            "# (test) keeps monit's id file out of $HOME; the control file under test is \
             included verbatim\nset idfile {}\ninclude {}\n",
            dir.join("monit.id").display(),
            control_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o700)).unwrap();
    wrapper
}

// ---------------------------------------------------------------------------------------
// The hostile-box checksum: every path under the box with its type, mode, owner, link
// count and contents (a sha256) or link target or device number.

/// The run lock: the one trace a run that changes nothing may leave.
pub const LOCK_FILE: &str = "var/lock/blotctl.lock";

impl TestBox {
    /// Every path under the box, and the box's root itself (as `.`) -> what it is, in
    /// full. The run lock is left out only while it is what blotctl makes of it, a regular
    /// file with one link (the one trace a refused run may leave): a link, a FIFO or a hard
    /// link there is described like any other path, so a case can see what became of it.
    pub fn fingerprint(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        walk(&self.root, &self.root, &mut out, Contents::Digest);
        let root = std::fs::symlink_metadata(&self.root).unwrap();
        out.insert(
            ".".into(),
            format!("dir {:o} {}:{}", root.mode(), root.uid(), root.gid()),
        );
        if out
            .get(LOCK_FILE)
            .is_some_and(|l| l.starts_with("file ") && l.contains(" links=1 "))
        {
            out.remove(LOCK_FILE);
        }
        out
    }

    /// [`TestBox::fingerprint`] with the run lock too, whatever it is (its pid contents
    /// aside): for what must not even take the lock.
    pub fn fingerprint_with_lock(&self) -> BTreeMap<String, String> {
        let mut all = self.fingerprint();
        if let Ok(m) = std::fs::symlink_metadata(self.root.join(LOCK_FILE)) {
            all.insert(
                LOCK_FILE.into(),
                format!(
                    "lock {:o} {}:{} links={}",
                    m.mode(),
                    m.uid(),
                    m.gid(),
                    m.nlink()
                ),
            );
        }
        all
    }

    /// A box path under this box, checked to stay under it (for tests that make links,
    /// FIFOs and devices, or remove things).
    pub fn inside(&self, box_path: &str) -> PathBuf {
        assert!(
            box_path.starts_with('/') && !box_path.split('/').any(|c| c == ".." || c == "."),
            "not a plain box path: {box_path}"
        );
        let p = self.path(box_path);
        let tmp = std::env::temp_dir();
        assert!(
            p.starts_with(&self.root) && self.root.starts_with(&tmp),
            "{} is not under the test's temp box",
            p.display()
        );
        p
    }
}

/// How [`walk`] records a regular file's contents.
#[derive(Clone, Copy)]
enum Contents {
    /// As text (lossy), for messages that show what changed.
    Text,
    /// Size and sha256.
    Digest,
}

/// Every path under `dir` with its type, mode, owner, link count and contents (or link
/// target, or device number). FIFOs, devices and sockets are described, never opened.
fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>, contents: Contents) {
    use sha2::Digest;
    use std::os::unix::fs::FileTypeExt;
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let m = std::fs::symlink_metadata(&p).unwrap();
        let ft = m.file_type();
        let head = format!("{:o} {}:{}", m.mode(), m.uid(), m.gid());
        // A directory's link count follows from its subdirectories, listed anyway.
        let head_links = format!("{head} links={}", m.nlink());
        let head = if ft.is_dir() { head } else { head_links };
        let what = if ft.is_symlink() {
            // A link's own mode is always 777; its owner is what `lchown` changes.
            format!(
                "link {}:{} -> {}",
                m.uid(),
                m.gid(),
                std::fs::read_link(&p).unwrap().display()
            )
        } else if ft.is_dir() {
            walk(root, &p, out, contents);
            format!("dir {head}")
        } else if ft.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            match contents {
                Contents::Text => format!("file {head} {}", String::from_utf8_lossy(&bytes)),
                Contents::Digest => format!(
                    "file {head} {} bytes sha256 {:x}",
                    bytes.len(),
                    sha2::Sha256::digest(&bytes)
                ),
            }
        } else if ft.is_fifo() {
            format!("fifo {head}")
        } else if ft.is_char_device() || ft.is_block_device() {
            format!("device {head} rdev={:x}", m.rdev())
        } else {
            format!("socket {head}")
        };
        out.insert(rel, what);
    }
}

/// The message of a caught panic (a failed assert in one case of a table).
pub fn panic_text(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Another process holding the run lock of a box: `flock` on the lock file, with its pid
/// written in it as blotctl writes its own. Returned only once the lock is held (the
/// command `flock` runs after taking it says so on a pipe), so no test waits on a guess.
/// Released (the holder killed and reaped) when dropped.
pub struct LockHolder {
    child: std::process::Child,
}

impl LockHolder {
    pub fn new(lock: &Path) -> LockHolder {
        use std::io::BufRead;
        let mut child = std::process::Command::new("flock")
            .arg(lock)
            .args(["sh", "-c", "echo held; exec sleep 60"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "held\n", "flock did not take {}", lock.display());
        std::fs::write(lock, format!("{}\n", child.id())).unwrap();
        LockHolder { child }
    }

    /// The pid of the process that holds the lock (`flock`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
