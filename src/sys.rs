//! The one door to the outside world.
//!
//! Every file read or write, every process spawn and every network probe that blotctl does goes
//! through [`Sys`]. Box paths (`/etc/sudoers`) are always resolved under the `--root` prefix
//! here and nowhere else, so the rest of the program speaks only in box paths.
//!
//! Rules this module keeps:
//! - a managed path whose components include a symlink is refused (resolved component by
//!   component with `lstat`, which works on the box's 4.14 kernel, no `openat2`);
//! - writes are atomic: temp file in the same directory (created exclusively, named so
//!   upstart and logrotate ignore it), fsync, final mode and owner, rename, fsync directory;
//! - commands run as argv (never through a shell) with `BLOTCTL_ROOT` in their environment,
//!   and a failure names the command, its exit status and its stderr;
//! - a command that only reports state ([`Sys::query`]: `initctl list`, `chkconfig --list`)
//!   runs once per observation: its answer is remembered until anything is changed (any
//!   write, any other command) or [`Sys::forget`] starts a new observation.

use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// What kind of thing sits at a path (from `lstat`, links are not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// Metadata of a path as blotctl cares about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// Permission bits only (`0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The captured result of a command that ran.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

/// Which output of a command a line came from ([`Sys::spawn_lines`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How a box path was looked at (the strongest way counts): `blotctl capture` copies a
/// file's contents only when they were read, a directory's entries only when it was listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seen {
    /// `lstat` only (kind, mode, owner).
    Meta,
    /// Listed (names of its entries).
    Listed,
    /// Read (contents).
    Read,
}

/// Access to the box, rooted at `--root`.
#[derive(Debug)]
pub struct Sys {
    root: PathBuf,
    /// Answers of [`Sys::query`] since the last change or [`Sys::forget`].
    queries: Mutex<HashMap<Vec<String>, Output>>,
    /// Every box path looked at since [`Sys::record`], when recording.
    seen: Mutex<Option<std::collections::BTreeMap<String, Seen>>>,
}

impl Clone for Sys {
    /// A clone starts with no remembered answers, and does not record.
    fn clone(&self) -> Sys {
        Sys {
            root: self.root.clone(),
            queries: Mutex::default(),
            seen: Mutex::default(),
        }
    }
}

impl Sys {
    pub fn new(root: &Path) -> Result<Sys> {
        let root = fs::canonicalize(root)
            .with_context(|| format!("cannot use --root {}", root.display()))?;
        if !root.is_dir() {
            bail!("--root {} is not a directory", root.display());
        }
        Ok(Sys {
            root,
            queries: Mutex::default(),
            seen: Mutex::default(),
        })
    }

    /// Start recording every box path read, listed or `lstat`ed (for `blotctl capture`).
    pub fn record(&self) {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(Default::default());
    }

    /// Stop recording; what was looked at since [`Sys::record`], and how.
    pub fn recorded(&self) -> std::collections::BTreeMap<String, Seen> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default()
    }

    fn saw(&self, box_path: &str, how: Seen) {
        if let Some(seen) = self.seen.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            let e = seen.entry(box_path.to_string()).or_insert(how);
            *e = (*e).max(how);
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True when acting on the live system rather than a tree under `--root`.
    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// The host path of a box path. Refuses relative paths and `..`.
    pub fn host_path(&self, box_path: &str) -> Result<PathBuf> {
        let p = Path::new(box_path);
        if !p.is_absolute() {
            bail!("internal error: box path {box_path} is not absolute");
        }
        let mut out = self.root.clone();
        for c in p.components() {
            match c {
                Component::RootDir => {}
                Component::Normal(n) => out.push(n),
                _ => bail!("refusing path {box_path}: it contains `..` or `.`"),
            }
        }
        Ok(out)
    }

    /// Resolve a managed box path component by component, refusing any symlink on the way
    /// (the path itself included), so a write can never land outside `--root`.
    fn managed_path(&self, box_path: &str) -> Result<PathBuf> {
        let host = self.host_path(box_path)?;
        let mut cur = self.root.clone();
        let rel = host
            .strip_prefix(&self.root)
            .expect("host path is under root");
        let mut shown = String::new();
        for c in rel.components() {
            cur.push(c);
            shown.push('/');
            shown.push_str(&c.as_os_str().to_string_lossy());
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => bail!(
                    "refusing to manage {box_path}: {shown} is a symlink (blotctl never \
                     follows links for files it writes; replace the link with the real file)"
                ),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(e).with_context(|| format!("cannot inspect {shown}")),
            }
        }
        Ok(host)
    }

    /// Fail unless blotctl may replace `box_path`: no symlink on the way, and neither the
    /// file nor its directory is immutable or append-only (`chattr +i`/`+a`), so that such
    /// a file stops the run while planning, before anything was changed.
    pub fn ensure_writable(&self, box_path: &str) -> Result<()> {
        self.saw(box_path, Seen::Meta);
        let p = self.managed_path(box_path)?;
        let parent = p.parent().unwrap_or(&self.root).to_path_buf();
        for (shown, path) in [
            (box_path.to_string(), p),
            (format!("the directory of {box_path}"), parent),
        ] {
            let file = match fs::OpenOptions::new()
                .read(true)
                .custom_flags(
                    rustix::fs::OFlags::NOFOLLOW.bits() as i32
                        | rustix::fs::OFlags::NONBLOCK.bits() as i32,
                )
                .open(&path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot open {shown}")),
            };
            // Filesystems without attribute support answer ENOTTY: nothing to refuse.
            if let Ok(flags) = rustix::fs::ioctl_getflags(&file) {
                use rustix::fs::IFlags;
                if flags.intersects(IFlags::IMMUTABLE | IFlags::APPEND) {
                    bail!(
                        "{shown} is immutable or append-only (chattr +i/+a), so blotctl cannot \
                         replace it; if that is not deliberate, run `chattr -i -a` on it"
                    );
                }
            }
        }
        Ok(())
    }

    /// Bytes available in the filesystem that holds `box_path` (or its nearest existing
    /// ancestor).
    pub fn free_bytes(&self, box_path: &str) -> Result<u64> {
        let mut p = self.host_path(box_path)?;
        while !p.exists() {
            if !p.pop() {
                break;
            }
        }
        let st = rustix::fs::statvfs(&p)
            .map_err(std::io::Error::from)
            .with_context(|| format!("cannot tell the free space for {box_path}"))?;
        Ok(st.f_bavail.saturating_mul(st.f_frsize))
    }

    /// Read a file; `None` when it does not exist.
    pub fn read(&self, box_path: &str) -> Result<Option<Vec<u8>>> {
        self.saw(box_path, Seen::Read);
        let p = self.host_path(box_path)?;
        match fs::read(&p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {box_path}")),
        }
    }

    /// Read a text file; `None` when it does not exist.
    pub fn read_text(&self, box_path: &str) -> Result<Option<String>> {
        match self.read(box_path)? {
            None => Ok(None),
            Some(b) => String::from_utf8(b)
                .map(Some)
                .map_err(|_| anyhow!("{box_path} is not valid UTF-8 text")),
        }
    }

    /// Read a text file named on the command line (a host path, not under `--root`).
    pub fn read_host_text(&self, path: &Path) -> Result<String> {
        Ok(fs::read_to_string(path)?)
    }

    /// Whether blotctl runs as root.
    pub fn is_root(&self) -> bool {
        rustix::process::geteuid().is_root()
    }

    /// The effective uid blotctl runs as.
    pub fn euid(&self) -> u32 {
        rustix::process::geteuid().as_raw()
    }

    /// Write a live kernel value (`/proc/sys/...`, `/sys/...`): in place, as `echo VALUE >
    /// FILE` does, because such files can be neither created nor replaced by rename.
    pub fn write_kernel_value(&self, box_path: &str, value: &str) -> Result<()> {
        self.forget();
        if !(box_path.starts_with("/proc/sys/") || box_path.starts_with("/sys/")) {
            bail!("internal error: {box_path} is not a kernel setting");
        }
        let p = self.host_path(box_path)?;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&p)
            .with_context(|| format!("cannot open {box_path} for writing"))?;
        f.write_all(format!("{value}\n").as_bytes())
            .with_context(|| format!("cannot write {value:?} to {box_path}"))
    }

    /// `lstat` a box path; `None` when it does not exist.
    pub fn meta(&self, box_path: &str) -> Result<Option<Meta>> {
        self.saw(box_path, Seen::Meta);
        let p = self.host_path(box_path)?;
        match fs::symlink_metadata(&p) {
            Ok(m) => {
                let ft = m.file_type();
                let kind = if ft.is_symlink() {
                    Kind::Symlink
                } else if ft.is_dir() {
                    Kind::Dir
                } else if ft.is_file() {
                    Kind::File
                } else {
                    Kind::Other
                };
                Ok(Some(Meta {
                    kind,
                    mode: m.mode() & 0o7777,
                    uid: m.uid(),
                    gid: m.gid(),
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot inspect {box_path}")),
        }
    }

    /// Names in a directory (following links to reach it, as programs on the box do);
    /// `None` when it does not exist.
    pub fn list_dir(&self, box_path: &str) -> Result<Option<Vec<String>>> {
        self.saw(box_path, Seen::Listed);
        let p = self.host_path(box_path)?;
        let rd = match fs::read_dir(&p) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot list {box_path}")),
        };
        let mut names = Vec::new();
        for ent in rd {
            let ent = ent.with_context(|| format!("cannot list {box_path}"))?;
            names.push(ent.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(Some(names))
    }

    /// Replace (or create) a file atomically with the given contents, mode and owner.
    pub fn write_atomic(
        &self,
        box_path: &str,
        contents: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<()> {
        self.forget();
        let target = self.managed_path(box_path)?;
        let dir = target
            .parent()
            .ok_or_else(|| anyhow!("cannot write {box_path}: no parent directory"))?;
        if !dir.is_dir() {
            bail!(
                "cannot write {box_path}: directory {} does not exist",
                Path::new(box_path)
                    .parent()
                    .unwrap_or(Path::new("/"))
                    .display()
            );
        }
        // `.blotctl-XXXXXX~`: not `*.conf` (upstart loads those by inotify), ends in `~`
        // (logrotate and sudo's includedir skip those).
        let mut tmp = tempfile::Builder::new()
            .prefix(".blotctl-")
            .suffix("~")
            .permissions(fs::Permissions::from_mode(0o600))
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temp file beside {box_path}"))?;
        let ctx = || format!("cannot write {box_path}");
        crate::fault::point("write: temp created");
        tmp.write_all(contents).with_context(ctx)?;
        crate::fault::point("write: temp written");
        // Owner and mode before the fsync, so the one fsync makes data and metadata durable.
        rustix::fs::fchown(
            tmp.as_file(),
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .map_err(std::io::Error::from)
        .with_context(|| format!("cannot set owner {uid}:{gid} on {box_path}"))?;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))
            .with_context(ctx)?;
        tmp.as_file().sync_all().with_context(ctx)?;
        crate::fault::point("write: before rename");
        tmp.persist(&target)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot replace {box_path}"))?;
        crate::fault::point("write: renamed");
        fsync_dir(dir).with_context(ctx)?;
        Ok(())
    }

    /// Set mode and owner of an existing managed path (never through a symlink).
    pub fn set_meta(&self, box_path: &str, mode: u32, uid: u32, gid: u32) -> Result<()> {
        self.forget();
        let p = self.managed_path(box_path)?;
        rustix::fs::chown(
            &p,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .map_err(std::io::Error::from)
        .with_context(|| format!("cannot set owner {uid}:{gid} on {box_path}"))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set mode {mode:04o} on {box_path}"))?;
        Ok(())
    }

    /// Create a directory (its parent must exist) with mode and owner.
    pub fn create_dir(&self, box_path: &str, mode: u32, uid: u32, gid: u32) -> Result<()> {
        self.forget();
        let p = self.managed_path(box_path)?;
        fs::create_dir(&p).with_context(|| format!("cannot create directory {box_path}"))?;
        self.set_meta(box_path, mode, uid, gid)?;
        if let Some(parent) = p.parent() {
            fsync_dir(parent).with_context(|| format!("cannot create directory {box_path}"))?;
        }
        Ok(())
    }

    /// The target of a symlink; `None` when the path does not exist.
    pub fn read_link(&self, box_path: &str) -> Result<Option<String>> {
        self.saw(box_path, Seen::Meta);
        let p = self.host_path(box_path)?;
        match fs::read_link(&p) {
            Ok(t) => Ok(Some(t.to_string_lossy().into_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read the link {box_path}")),
        }
    }

    /// Create a symlink (its directory must be a managed path).
    pub fn symlink(&self, box_path: &str, target: &str) -> Result<()> {
        self.forget();
        let p = self.managed_path(box_path)?;
        std::os::unix::fs::symlink(target, &p)
            .with_context(|| format!("cannot create the link {box_path} -> {target}"))?;
        fsync_parent(&p).with_context(|| format!("cannot create the link {box_path}"))
    }

    /// Remove a file, a symlink or an empty directory (never following links).
    pub fn remove(&self, box_path: &str) -> Result<()> {
        self.forget();
        let p = self.managed_path_allow_leaf_link(box_path)?;
        let is_dir = fs::symlink_metadata(&p)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        if is_dir {
            fs::remove_dir(&p)
                .with_context(|| format!("cannot remove the directory {box_path}"))?;
        } else {
            fs::remove_file(&p).with_context(|| format!("cannot remove {box_path}"))?;
        }
        fsync_parent(&p).with_context(|| format!("cannot remove {box_path}"))
    }

    /// Like `managed_path`, but the last component may itself be a symlink (to remove it).
    fn managed_path_allow_leaf_link(&self, box_path: &str) -> Result<PathBuf> {
        let p = Path::new(box_path);
        let parent = p.parent().and_then(|d| d.to_str()).unwrap_or("/");
        let dir = self.managed_path(parent)?;
        Ok(dir.join(
            p.file_name()
                .ok_or_else(|| anyhow!("bad path {box_path}"))?,
        ))
    }

    /// Take the run lock (`flock` on a file under the root): waits up to `wait`, then fails
    /// naming the holder's pid. Released when the returned guard drops.
    pub fn lock(&self, box_path: &str, wait: Duration) -> Result<RunLock> {
        use rustix::fs::{flock, FlockOperation};
        let p = self.host_path(box_path)?;
        if let Some(dir) = p.parent() {
            fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the lock directory for {box_path}"))?;
        }
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .mode(0o644)
            .open(&p)
            .with_context(|| format!("cannot open the lock file {box_path}"))?;
        let deadline = std::time::Instant::now() + wait;
        loop {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(rustix::io::Errno::WOULDBLOCK) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    let holder = fs::read_to_string(&p).unwrap_or_default();
                    let pid = holder.trim();
                    bail!(
                        "another blotctl run holds the lock (pid {}); wait for it to finish",
                        if pid.is_empty() { "unknown" } else { pid }
                    );
                }
                Err(e) => {
                    return Err(std::io::Error::from(e))
                        .with_context(|| format!("cannot lock {box_path}"))
                }
            }
        }
        file.set_len(0)?;
        (&file).write_all(format!("{}\n", std::process::id()).as_bytes())?;
        Ok(RunLock { _file: file })
    }

    /// Remove temp files an earlier run left behind when it was killed mid-write
    /// (`.blotctl-XXXXXX~` in `dir`); returns the box paths removed.
    pub fn remove_stale_temps(&self, dir: &str) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        if self.meta(dir)?.map(|m| m.kind) != Some(Kind::Dir) {
            return Ok(removed);
        }
        for name in self.list_dir(dir)?.unwrap_or_default() {
            if name.starts_with(".blotctl-") && name.ends_with('~') {
                let p = format!("{}/{name}", dir.trim_end_matches('/'));
                self.remove(&p)?;
                removed.push(p);
            }
        }
        Ok(removed)
    }

    /// Find a program on PATH.
    pub fn which(&self, program: &str) -> Option<PathBuf> {
        which::which(program).ok()
    }

    /// Run a command (argv, found on PATH) with `BLOTCTL_ROOT` set; capture its output.
    /// A command that cannot be started is an error; a non-zero exit is returned as data.
    /// Any command may change the box, so remembered [`Sys::query`] answers are dropped.
    pub fn run(&self, argv: &[&str]) -> Result<Output> {
        self.run_stdin(argv, None)
    }

    /// [`Sys::run`] for a command that only reports state and changes nothing (`initctl
    /// list`, `chkconfig --list NAME`). Within one observation of the box the answer cannot
    /// differ, so the command runs once and later asks get the remembered answer, until
    /// the box is changed through this `Sys` or [`Sys::forget`] is called. Spawns are
    /// blotctl's main cost on a converged box (`cargo xtask bench`).
    pub fn query(&self, argv: &[&str]) -> Result<Output> {
        let key: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
        if let Some(out) = self.remembered().get(&key) {
            return Ok(out.clone());
        }
        let out = self.capture(argv, None)?;
        self.remembered().insert(key, out.clone());
        Ok(out)
    }

    /// Start a new observation: the next [`Sys::query`] asks again. The engine calls this
    /// before every planning pass (e.g. each retry of `verify --wait`).
    pub fn forget(&self) {
        self.remembered().clear();
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<String>, Output>> {
        // The map holds only finished answers: a panic elsewhere cannot leave it half-made.
        self.queries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run_stdin(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<Output> {
        self.forget();
        self.capture(argv, stdin)
    }

    /// Spawn `argv` and capture its output (what [`Sys::run`] and [`Sys::query`] share).
    fn capture(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<Output> {
        let (prog, args) = argv.split_first().expect("argv is never empty");
        let path = which::which(prog).with_context(|| format!("`{prog}` was not found on PATH"))?;
        let mut expr = duct::cmd(path, args.iter().map(OsString::from))
            .env("BLOTCTL_ROOT", &self.root)
            .stdout_capture()
            .stderr_capture()
            .unchecked();
        expr = match stdin {
            Some(bytes) => expr.stdin_bytes(bytes.to_vec()),
            None => expr.stdin_null(),
        };
        let out = expr
            .run()
            .with_context(|| format!("cannot run `{}`", argv.join(" ")))?;
        Ok(Output {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Write `contents` to a private temp file outside the tree and run `argv` with the
    /// temp file's path appended: how candidate files are validated before they replace
    /// anything (e.g. `visudo -c -f`).
    pub fn check_candidate(&self, argv: &[&str], contents: &[u8], mode: u32) -> Result<Output> {
        let mut tmp = tempfile::Builder::new()
            .prefix("blotctl-check-")
            .permissions(fs::Permissions::from_mode(mode))
            .tempfile()
            .context("cannot create a temp file for validation")?;
        tmp.write_all(contents)
            .and_then(|_| tmp.flush())
            .context("cannot write a temp file for validation")?;
        let path = tmp.path().to_string_lossy().into_owned();
        let mut full: Vec<&str> = argv.to_vec();
        full.push(&path);
        self.run(&full)
    }

    /// Validate files that only make sense together (e.g. a control file and a wrapper
    /// that includes it): each of `files` is written with its mode into a private scratch
    /// directory outside the tree, then `wrap(dir)` gives one more file (name, text, mode
    /// 0700) and the argv to run. The directory is removed afterwards.
    pub fn check_in_scratch(
        &self,
        files: &[(&str, &[u8], u32)],
        wrap: impl FnOnce(&Path) -> (&'static str, String, Vec<String>),
    ) -> Result<Output> {
        let dir = tempfile::Builder::new()
            .prefix("blotctl-check-")
            .tempdir()
            .context("cannot create a scratch directory for validation")?;
        let write = |name: &str, bytes: &[u8], mode: u32| -> Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(dir.path().join(name))
                .with_context(|| format!("cannot write {name} for validation"))?;
            f.write_all(bytes)
                .with_context(|| format!("cannot write {name} for validation"))
        };
        for (name, bytes, mode) in files {
            write(name, bytes, *mode)?;
        }
        let (name, text, argv) = wrap(dir.path());
        write(name, text.as_bytes(), 0o700)?;
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.run(&argv)
    }

    /// Run `argv` (found on PATH) and hand each line of its stdout and stderr to `on_line`
    /// as it arrives, in arrival order, without the line ending (nor the `\r` a remote
    /// terminal adds). Stdin is the host file `stdin`, or /dev/null. Returns the exit
    /// status (-1 when killed by a signal); a command that cannot be started is an error.
    /// Unlike [`Sys::run`], `BLOTCTL_ROOT` is not set: this is for programs that reach
    /// other machines (`ssh`), whose own boxes are not under this `--root`.
    pub fn spawn_lines(
        &self,
        argv: &[String],
        stdin: Option<&Path>,
        mut on_line: impl FnMut(Stream, &str),
    ) -> Result<i32> {
        self.forget();
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let (prog, args) = argv.split_first().expect("argv is never empty");
        let input = match stdin {
            Some(p) => Stdio::from(
                fs::File::open(p).with_context(|| format!("cannot read {}", p.display()))?,
            ),
            None => Stdio::null(),
        };
        let mut child = Command::new(prog)
            .args(args)
            .stdin(input)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| match which::which(prog) {
                Err(_) => format!("`{prog}` was not found on PATH"),
                Ok(_) => format!("cannot run `{}`", argv.join(" ")),
            })?;
        let (tx, rx) = std::sync::mpsc::channel::<(Stream, String)>();
        fn pump(r: impl Read, s: Stream, tx: std::sync::mpsc::Sender<(Stream, String)>) {
            let mut r = std::io::BufReader::new(r);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                            buf.pop();
                        }
                        let line = String::from_utf8_lossy(&buf).into_owned();
                        if tx.send((s, line)).is_err() {
                            break;
                        }
                    }
                }
            }
        }
        let out = child.stdout.take().expect("piped");
        let err = child.stderr.take().expect("piped");
        let (tx2, tx1) = (tx.clone(), tx);
        let t1 = std::thread::spawn(move || pump(out, Stream::Stdout, tx1));
        let t2 = std::thread::spawn(move || pump(err, Stream::Stderr, tx2));
        for (s, line) in rx {
            on_line(s, &line);
        }
        let _ = (t1.join(), t2.join());
        let status = child
            .wait()
            .with_context(|| format!("cannot wait for `{prog}`"))?;
        Ok(status.code().unwrap_or(-1))
    }

    /// The bytes of a host file named on the command line (not under `--root`); `None`
    /// when it does not exist.
    pub fn read_host_bytes(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        match fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// The path of the running blotctl binary.
    pub fn current_exe(&self) -> Result<PathBuf> {
        std::env::current_exe().context("cannot tell where the running blotctl binary is")
    }

    /// Whether a live process with this PID exists on this machine (a zombie, dead but not
    /// yet reaped by its parent, does not count).
    pub fn process_exists(&self, pid: u32) -> bool {
        let exists = match rustix::process::Pid::from_raw(pid as i32) {
            None => false,
            Some(p) => match rustix::process::test_kill_process(p) {
                Ok(()) => true,
                Err(e) => e == rustix::io::Errno::PERM,
            },
        };
        // /proc/PID/stat is "PID (COMM) STATE ..."; COMM may hold spaces and parentheses.
        let zombie = || {
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .map(|(_, rest)| rest.trim_start().starts_with('Z'))
                })
                .unwrap_or(false)
        };
        exists && !zombie()
    }

    /// Send `PING` to redis on 127.0.0.1:port; Ok when it answers `+PONG`.
    pub fn probe_redis(&self, port: u16, timeout: Duration) -> Result<()> {
        use std::net::{SocketAddr, TcpStream};
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut s = TcpStream::connect_timeout(&addr, timeout)
            .with_context(|| format!("cannot connect to redis on 127.0.0.1:{port}"))?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        s.write_all(b"PING\r\n")
            .context("cannot send PING to redis")?;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).context("no answer to PING from redis")?;
        let answer = String::from_utf8_lossy(&buf[..n]);
        if answer.starts_with("+PONG") {
            Ok(())
        } else {
            bail!("redis answered {:?} to PING", answer.trim_end())
        }
    }

    /// GET http://127.0.0.1:port{path}; Ok(status) when it answers with a status below 400
    /// (what monit's `protocol http` accepts).
    pub fn probe_http(&self, port: u16, path: &str, timeout: Duration) -> Result<u16> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("http://127.0.0.1:{port}{path}");
        let resp = agent
            .get(&url)
            .call()
            .with_context(|| format!("no HTTP answer from {url}"))?;
        let status = resp.status().as_u16();
        if status >= 400 {
            bail!("{url} answered HTTP {status}");
        }
        Ok(status)
    }
}

/// One line saying which command failed, how, and what it printed on stderr.
pub fn command_failure(argv: &[&str], out: &Output) -> String {
    let stderr = out.stderr.trim_end();
    let mut msg = format!("`{}` exited with status {}", argv.join(" "), out.status);
    if !stderr.is_empty() {
        msg.push_str(": ");
        msg.push_str(stderr);
    }
    msg
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

fn fsync_parent(p: &Path) -> std::io::Result<()> {
    match p.parent() {
        Some(d) => fsync_dir(d),
        None => Ok(()),
    }
}

/// Holds the run lock until dropped (closing the file releases the `flock`).
pub struct RunLock {
    _file: fs::File,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_path_stays_under_root() {
        let t = tempfile::tempdir().unwrap();
        let sys = Sys::new(t.path()).unwrap();
        let root = sys.root().to_path_buf();
        assert_eq!(sys.host_path("/etc/hosts").unwrap(), root.join("etc/hosts"));
        assert!(sys.host_path("/etc/../../x").is_err());
        assert!(sys.host_path("etc/hosts").is_err());
    }

    #[test]
    fn writes_refuse_symlinks_on_the_way() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), t.path().join("etc")).unwrap();
        let sys = Sys::new(t.path()).unwrap();
        let err = sys
            .write_atomic("/etc/hosts", b"x", 0o644, 0, 0)
            .unwrap_err();
        assert!(err.to_string().contains("/etc is a symlink"), "{err}");
        assert!(!outside.path().join("hosts").exists());
    }

    #[test]
    fn atomic_write_sets_mode_and_leaves_no_temp() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("etc")).unwrap();
        let sys = Sys::new(t.path()).unwrap();
        sys.write_atomic("/etc/sudoers", b"hello\n", 0o440, 0, 0)
            .unwrap();
        let m = sys.meta("/etc/sudoers").unwrap().unwrap();
        assert_eq!(m.mode, 0o440);
        assert_eq!(fs::read(t.path().join("etc/sudoers")).unwrap(), b"hello\n");
        assert_eq!(sys.list_dir("/etc").unwrap().unwrap(), vec!["sudoers"]);
    }
}
