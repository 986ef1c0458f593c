//! Test support: a fresh copy of the fixture box (set up by the `fixture` crate, as the
//! xtasks do), the real blotctl binary, the fakes first on PATH; [`Run`], a finished
//! command that dumps itself (command line, exit status, output, the box paths it changed)
//! when an assertion on it fails; and [`needs!`], for the tests that run a real program.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};

pub fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fixture box as git keeps it (read it; [`TestBox::fresh`] makes a copy to change).
pub fn fixture_box() -> PathBuf {
    fixture::box_tree()
}

/// The blotctl binary under test.
pub fn blotctl_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_blotctl"))
}

/// PATH with the fake chkconfig/initctl first.
/// /usr/bin comes next so that `python3` is the system one, not a slow version-manager shim.
pub fn fake_path() -> String {
    format!(
        "{}:/usr/bin:{}",
        fixture::fake_bin().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

// ---------------------------------------------------------------------------------------
// Programs a test needs

/// Skip the test (return from it, with the reason printed) unless each program named is
/// installed — or, as `needs!(root, ...)`, unless this process runs as root too. Under
/// `cargo xtask test` (which installs every program) and in CI, a missing program fails
/// the test instead; not being root fails it in CI (CI runs as root).
macro_rules! needs {
    (root $(, $program:expr)* $(,)?) => {
        if !$crate::util::is_root_or_skip() || !$crate::util::installed(&[$($program),*]) {
            return;
        }
    };
    ($($program:expr),+ $(,)?) => {
        if !$crate::util::installed(&[$($program),+]) {
            return;
        }
    };
}

/// Whether every program is installed; names each missing one, then fails (under `cargo
/// xtask test` or in CI) or says the test is skipped. For a test that runs part of itself
/// only with the program, as `needs!` for a test that needs it whole.
pub fn installed(programs: &[&str]) -> bool {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| program_path(p).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let strict =
        std::env::var_os("CI").is_some() || std::env::var_os("XTASK_TEST_PROGRAMS").is_some();
    let missing = missing.join(", ");
    if strict {
        panic!("{missing} not installed: required here (cargo xtask test installs it)");
    }
    skipped(&format!(
        "what needs {missing} (not installed; cargo xtask test installs it)"
    ));
    false
}

/// Whether this process runs as root; if not, fails in CI, else says the test is skipped.
pub fn is_root_or_skip() -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "this test needs root; CI runs as root"
    );
    skipped("all of it (it needs root)");
    false
}

/// "TEST: skipped WHAT", on stderr as it happens (not captured with the test's output,
/// which libtest shows only for a failure).
pub fn skipped(what: &str) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr(), "{test}: skipped {what}");
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

// ---------------------------------------------------------------------------------------
// Commands and what they did

/// A command to run, on a box or not: std's `Command` that knows its box (to name the
/// paths a run changed) and returns a [`Run`]. Stdin is /dev/null.
pub struct Cmd<'b> {
    cmd: Command,
    on: Option<&'b TestBox>,
}

impl<'b> Cmd<'b> {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd<'b> {
        Cmd {
            cmd: Command::new(program),
            on: None,
        }
    }

    /// Run on this box: [`Run`] names the box paths the run changed.
    pub fn on(&mut self, b: &'b TestBox) -> &mut Self {
        self.on = Some(b);
        self
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.arg(arg);
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Self {
        self.cmd.args(args);
        self
    }
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env(key, value);
        self
    }
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env_remove(key);
        self
    }
    pub fn env_clear(&mut self) -> &mut Self {
        self.cmd.env_clear();
        self
    }
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cmd.current_dir(dir);
        self
    }

    /// Run it to the end, its output captured, and the box's paths compared before and
    /// after when it runs on a box.
    pub fn run(&mut self) -> Run {
        let before = self.on.map(TestBox::run_fingerprint);
        let mut run = self.cmd.run();
        if let (Some(b), Some(before)) = (self.on, before) {
            run.changed = Some(before.and_then(|a| Ok(differing(&a, &b.run_fingerprint()?))));
        }
        run
    }
}

/// `cmd.run()` for any std `Command` (git, visudo, nginx -t, ...): a [`Run`].
pub trait Runs {
    fn run(&mut self) -> Run;
}

impl Runs for Command {
    fn run(&mut self) -> Run {
        let out = self
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", command_line(self)));
        Run::new(self, out)
    }
}

/// A finished command. Each assertion method checks one thing and, when it does not hold,
/// panics with the whole run: its command line, exit status, stdout, stderr, and on a box
/// the paths it changed (added, removed or altered: type, mode, owner, links, contents).
pub struct Run {
    /// What the test calls this run (a case, an attempt), first in the dump.
    about: Option<String>,
    line: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
    /// `path: before -> after` of every box path that differs; `None` off a box, and
    /// `Some(Err)` when the box could not be read.
    changed: Option<Result<Vec<String>, String>>,
}

impl Run {
    /// A run from a command's `Output` (a child spawned and waited for by the test).
    pub fn new(cmd: &Command, out: Output) -> Run {
        Run {
            about: None,
            line: command_line(cmd),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            changed: None,
        }
    }

    /// The same run, named `what` first in its dump (the case or attempt it belongs to).
    pub fn about(mut self, what: impl std::fmt::Display) -> Run {
        self.about = Some(what.to_string());
        self
    }

    /// The exit code; `None` when a signal ended it.
    pub fn exit(&self) -> Option<i32> {
        self.status.code()
    }
    /// The signal that ended it, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }
    pub fn stdout(&self) -> &str {
        &self.stdout
    }
    pub fn stderr(&self) -> &str {
        &self.stderr
    }
    /// stdout as one JSON document.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| self.fail(&format!("stdout is not one JSON document ({e})")))
    }

    /// It exited with `code`.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        self.check(
            self.exit() == Some(code),
            format_args!("expected exit code {code}"),
        )
    }
    /// It exited 0.
    #[track_caller]
    pub fn success(&self) -> &Self {
        self.code(0)
    }
    #[track_caller]
    pub fn stdout_has(&self, text: &str) -> &Self {
        self.check(
            self.stdout.contains(text),
            format_args!("stdout lacks {text:?}"),
        )
    }
    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Self {
        self.check(
            self.stderr.contains(text),
            format_args!("stderr lacks {text:?}"),
        )
    }
    /// stdout or stderr has it.
    #[track_caller]
    pub fn has(&self, text: &str) -> &Self {
        self.check(
            self.stdout.contains(text) || self.stderr.contains(text),
            format_args!("neither stdout nor stderr has {text:?}"),
        )
    }
    #[track_caller]
    pub fn stdout_lacks(&self, text: &str) -> &Self {
        self.check(
            !self.stdout.contains(text),
            format_args!("stdout has {text:?}"),
        )
    }
    #[track_caller]
    pub fn stderr_lacks(&self, text: &str) -> &Self {
        self.check(
            !self.stderr.contains(text),
            format_args!("stderr has {text:?}"),
        )
    }
    /// Neither stdout nor stderr has it.
    #[track_caller]
    pub fn lacks(&self, text: &str) -> &Self {
        self.check(
            !self.stdout.contains(text) && !self.stderr.contains(text),
            format_args!("the output has {text:?}"),
        )
    }
    /// Any other condition on this run, `what` naming it.
    #[track_caller]
    pub fn check(&self, holds: bool, what: impl std::fmt::Display) -> &Self {
        if !holds {
            self.fail(&what.to_string());
        }
        self
    }

    /// Fail the test: `what`, then the dump.
    #[track_caller]
    pub fn fail(&self, what: &str) -> ! {
        panic!("{what}\n{self}")
    }
}

/// The dump of a run.
impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = match (self.exit(), self.signal()) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            _ => self.status.to_string(),
        };
        if let Some(about) = &self.about {
            writeln!(f, "---- {about}")?;
        }
        writeln!(f, "---- $ {}\n---- {status}", self.line)?;
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            if text.is_empty() {
                writeln!(f, "---- {name}: empty")?;
            } else {
                write!(f, "---- {name}\n{text}")?;
                if !text.ends_with('\n') {
                    writeln!(f)?;
                }
            }
        }
        match &self.changed {
            None => Ok(()),
            Some(Err(e)) => writeln!(f, "---- the box could not be read: {e}"),
            Some(Ok(paths)) if paths.is_empty() => writeln!(f, "---- box paths changed: none"),
            Some(Ok(paths)) => {
                writeln!(f, "---- box paths changed ({}):", paths.len())?;
                paths.iter().try_for_each(|p| writeln!(f, "  {p}"))
            }
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// A command line as a shell would take it: the environment it sets (but PATH), program,
/// arguments; words with anything but plain characters single-quoted.
fn command_line(cmd: &Command) -> String {
    let word = |w: &OsStr| {
        let w = w.to_string_lossy();
        if !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
        {
            w.into_owned()
        } else {
            format!("'{}'", w.replace('\'', r"'\''"))
        }
    };
    let mut line = String::new();
    for (k, v) in cmd.get_envs() {
        if let (Some(v), false) = (v, k == "PATH") {
            let _ = write!(line, "{}={} ", word(k), word(v));
        }
    }
    line.push_str(&word(cmd.get_program()));
    for a in cmd.get_args() {
        line.push(' ');
        line.push_str(&word(a));
    }
    line
}

/// The keys whose values differ, as `key: before -> after` (each side cut at 80
/// characters, `None` for a missing key).
pub fn differing(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let short = |v: Option<&String>| v.map(|s| s.chars().take(80).collect::<String>());
            format!("{k}: {:?} -> {:?}", short(a.get(k)), short(b.get(k)))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The box

/// A scratch copy of the fixture box with the real modes (and as root the owners) applied.
/// Processes that the fake initctl started for it are killed when it is dropped, also when
/// a test fails.
pub struct TestBox {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl TestBox {
    pub fn fresh() -> TestBox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("box");
        fixture::fresh_box(&root).unwrap_or_else(|e| panic!("the fixture box: {e}"));
        let tb = TestBox { _dir: dir, root };
        // Fake jobs have no daemon to wait for.
        tb.write(
            "/etc/blotctl.toml",
            "start_settle_ms = 0\nstart_wait_healthy = false\nstart_timeout = 5\n",
        );
        tb
    }

    /// An empty root, for trees built by hand.
    pub fn empty() -> TestBox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("box");
        std::fs::create_dir(&root).unwrap();
        TestBox { _dir: dir, root }
    }

    pub fn path(&self, box_path: &str) -> PathBuf {
        self.root.join(box_path.trim_start_matches('/'))
    }

    pub fn read(&self, box_path: &str) -> String {
        std::fs::read_to_string(self.path(box_path)).unwrap()
    }

    /// Write a box file, creating the directories above it.
    pub fn write(&self, box_path: &str, text: &str) {
        let p = self.path(box_path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
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
    pub fn blotctl(&self) -> Cmd<'_> {
        let mut c = Cmd {
            cmd: self.blotctl_std(),
            on: Some(self),
        };
        c.env_remove("BLOTCTL_ROOT").env_remove("BLOTCTL_CONFIG");
        c
    }

    /// `blotctl --root BOX ARGS...`, run to the end.
    pub fn run(&self, args: &[&str]) -> Run {
        self.blotctl().args(args).run()
    }

    /// blotctl on this box with nothing of the fakes on PATH (as in CI without an init).
    pub fn blotctl_without_fakes(&self) -> Cmd<'_> {
        let mut c = self.blotctl();
        c.env("PATH", std::env::var("PATH").unwrap_or_default());
        c
    }

    /// Run a fake (chkconfig, initctl) against this box.
    pub fn fake(&self, program: &str, args: &[&str]) -> Run {
        Cmd::new(fixture::fake_bin().join(program))
            .on(self)
            .args(args)
            .env("BLOTCTL_ROOT", &self.root)
            .run()
    }

    /// Every path under the box with its kind, mode, owner, link count and contents (or
    /// link target).
    pub fn state(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        walk(&self.root, &self.root, &mut out, Contents::Text).expect("the box's tree");
        out
    }

    /// blotctl on this box as a std Command (to spawn and kill it).
    pub fn blotctl_std(&self) -> Command {
        let mut c = Command::new(blotctl_bin());
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

    /// PIDs of processes started for this box (zombies too).
    pub fn box_pids(&self) -> Vec<i32> {
        fixture::box_pids(&self.root)
    }
}

impl Drop for TestBox {
    /// SIGKILL every process started for this box, and the process group it leads, if it
    /// leads one (a job's own processes, which may not carry the box in their environment).
    fn drop(&mut self) {
        for pid in self.box_pids() {
            for target in [format!("-{pid}"), pid.to_string()] {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &target])
                    .stderr(Stdio::null())
                    .status();
            }
        }
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
        let blotctl = dir.path().join("blotctl");
        let bin = dir.path().join("bin");
        copy_by_cp(&blotctl_bin(), &blotctl);
        copy_by_cp(&fixture::fake_bin(), &bin);
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

/// `cp -a FROM TO`, for a program that is run next: copied by `cp`, not in this process,
/// because a file this process had open for writing could be inherited by a child another
/// test thread forks at that moment, and running it would then fail with "Text file busy".
pub fn copy_by_cp(from: &Path, to: &Path) {
    Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .run()
        .success();
}

/// Write a program (a script another program runs next) with mode 0755, through `sh`: see
/// [`copy_by_cp`] for why not in this process.
pub fn write_program(path: &Path, text: &str) {
    use std::io::Write;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    Run::new(&cmd, child.wait_with_output().unwrap()).success();
}

/// Assert two tree states are equal, naming only the paths that differ.
#[track_caller]
pub fn assert_same_state(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>, what: &str) {
    let diff = differing(a, b);
    assert!(diff.is_empty(), "{what}:\n  {}", diff.join("\n  "));
}

// ---------------------------------------------------------------------------------------
// Helpers for the tests that run the real programs (live, real_programs).

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
        let out = self.run(&["render", name]);
        let text = out.success().stdout();
        match text.split_once('\n') {
            Some((first, rest)) if first.starts_with("# ---- ") => rest.to_string(),
            _ => text.to_string(),
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
pub fn monit_syntax_check(control_file: &Path, dir: &Path) -> Run {
    let wrapper = write_monit_wrapper(control_file, dir);
    Command::new("monit")
        .arg("-t")
        .arg("-c")
        .arg(&wrapper)
        .arg("-l")
        .arg(dir.join("monit-check.log"))
        .run()
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
        self.try_fingerprint().expect("the box's tree")
    }

    /// [`TestBox::fingerprint`], or why the tree could not be read.
    fn try_fingerprint(&self) -> std::io::Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        walk(&self.root, &self.root, &mut out, Contents::Digest)?;
        let root = std::fs::symlink_metadata(&self.root)?;
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
        Ok(out)
    }

    /// What [`Cmd::run`] compares before and after a run on this box.
    fn run_fingerprint(&self) -> Result<BTreeMap<String, String>, String> {
        self.try_fingerprint().map_err(|e| e.to_string())
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
fn walk(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, String>,
    contents: Contents,
) -> std::io::Result<()> {
    use sha2::Digest;
    use std::os::unix::fs::FileTypeExt;
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let m = std::fs::symlink_metadata(&p)?;
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
                std::fs::read_link(&p)?.display()
            )
        } else if ft.is_dir() {
            walk(root, &p, out, contents)?;
            format!("dir {head}")
        } else if ft.is_file() {
            let bytes = std::fs::read(&p)?;
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
    Ok(())
}

/// The message of a caught panic (a failed assert in one case of a table).
pub fn panic_text(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// The end of a table-driven suite: every case ran (one failing case does not hide the
/// next), and the test fails listing each failure.
pub fn assert_all_cases_passed(failures: &[String], total: usize) {
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        total,
        failures.join("\n\n")
    );
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

/// The programs blotctl itself spawned in one run (its children's first successful
/// `execve`, by base name, with their arguments), from `strace -f`: every spawn is seen,
/// whichever program it runs.
pub fn spawned_by(b: &TestBox, args: &[&str]) -> Vec<String> {
    spawned_with(b, args, &fake_path())
}

/// [`spawned_by`], with this PATH.
pub fn spawned_with(b: &TestBox, args: &[&str], path: &str) -> Vec<String> {
    let trace = b
        .root
        .parent()
        .unwrap()
        .join(format!("spawns-{}.txt", args.join("-")));
    let _ = std::fs::remove_file(&trace);
    Cmd::new("strace")
        .args(["-f", "-s", "512", "-o"])
        .arg(&trace)
        .args(["-e", "trace=execve,clone,clone3,fork,vfork", "--"])
        .arg(blotctl_bin())
        .arg("--root")
        .arg(&b.root)
        .args(args)
        .env("PATH", path)
        .on(b)
        .run();
    let text = std::fs::read_to_string(&trace).unwrap();
    let pid = |l: &str| l.split_whitespace().next().unwrap_or("").to_string();
    let blotctl = pid(text.lines().next().unwrap());
    let ret = |l: &str| l.rsplit("= ").next().unwrap_or("").trim().to_string();
    // blotctl's children, from every line first: strace may print a child's execve before
    // the `= PID` of the clone that made it (a vfork child runs while its parent waits).
    let children: std::collections::HashSet<String> = text
        .lines()
        .filter(|l| (l.contains("clone") || l.contains("fork")) && pid(l) == blotctl)
        .filter_map(|l| ret(l).parse::<u32>().ok())
        .map(|child| child.to_string())
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut pending = std::collections::HashMap::new();
    let mut out = Vec::new();
    for l in text.lines() {
        let ret = ret(l);
        let p = pid(l);
        // `execve(...) = 0`, or its `<unfinished ...>` and `<... execve resumed>) = 0`.
        if let Some((_, args)) = l.split_once("execve(") {
            pending.insert(p.clone(), args.to_string());
        }
        let done = ret == "0" && (l.contains("execve(") || l.contains("execve resumed"));
        if done && children.contains(&p) && seen.insert(p.clone()) {
            let args = &pending[&p];
            let argv = args.split_once("[").unwrap().1.split_once("]").unwrap().0;
            let words: Vec<String> = argv
                .split(", ")
                .map(|w| w.trim_matches('"').to_string())
                .collect();
            let prog = words[0].rsplit('/').next().unwrap().to_string();
            out.push(
                std::iter::once(prog)
                    .chain(words[1..].iter().cloned())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
    }
    out
}
