//! The one door to the outside world.
//!
//! Every file read or write, every process spawn and every network probe that blotctl does goes
//! through [`Sys`]. Box paths (`/etc/sudoers`) are always resolved under the `--root` prefix
//! here and nowhere else, so the rest of the program speaks only in box paths.
//!
//! Rules this module keeps:
//! - every box path is opened by walking from the root directory's handle, one component at
//!   a time, with `openat(..., O_NOFOLLOW)`: the kernel never follows a link for blotctl,
//!   and what was checked is what is used (no check-by-path, use-by-path race). Paths that
//!   blotctl changes (and its own backups) never pass a symlink: one is refused, naming it.
//!   Reads of the box's own configuration resolve links the way the box would, but inside
//!   `--root` only (an absolute link target starts again at the root, `..` stops there);
//! - a file is read only after `fstat` says it is a regular file (a FIFO, a device, a
//!   socket is refused, naming the path, before anything is read), and never more than
//!   [`MAX_READ`] bytes; opening uses `O_NONBLOCK | O_NOCTTY`, so even a file swapped for a
//!   FIFO at the last moment cannot hang it;
//! - owner and mode are changed through the open handle (`fchown`/`fchmod`), never by path,
//!   and never on a file with more than one hard link (the other name could be
//!   /etc/shadow);
//! - writes are atomic: temp file created exclusively in the held directory (named so
//!   upstart and logrotate ignore it), write, owner and mode, fsync, `renameat` within that
//!   directory, fsync of the directory;
//! - commands run as argv (never through a shell) with `BLOTCTL_ROOT` in their environment,
//!   and a failure names the command, its exit status and its stderr;
//! - a command that only reports state ([`Sys::query`]: `initctl list`, `chkconfig --list`)
//!   runs once per observation: its answer is remembered until anything is changed (any
//!   write, any other command) or [`Sys::forget`] starts a new observation.
//!
//! The walk is written on rustix rather than cap-std: cap-std confines paths to a directory
//! but follows symlinks inside it (and on the box's 4.14 kernel, without `openat2`, resolves
//! them by hand), while blotctl must *refuse* a link on any component of a path it changes
//! and resolve an absolute link as the box would (from the box's root, where cap-std's
//! `RESOLVE_BENEATH` semantics fail). Both need the per-component walk anyway; rustix (already
//! a dependency) gives the raw `openat`/`fstat`/`renameat` calls without new glibc symbols.

use anyhow::{anyhow, bail, Context, Result};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[cfg(test)]
pub mod fake;
pub mod fault;
mod look;
pub use look::{Look, Wrap};

/// An environment variable of blotctl's own process.
pub fn env_var(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// Every environment variable of blotctl's own process.
pub fn env_vars() -> Vec<(OsString, OsString)> {
    std::env::vars_os().collect()
}

/// The command line blotctl was started with, its program name first.
pub fn args() -> Vec<OsString> {
    std::env::args_os().collect()
}

/// The most blotctl reads of any one file: far above any config it manages, far below what
/// would hurt (a sparse or endless file is refused, not read into memory).
pub const MAX_READ: u64 = 16 << 20;

/// What kind of thing sits at a path (from `lstat`, links are not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// A FIFO, a device or a socket: blotctl reads and writes none of these.
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
    /// Hard links (a managed file must have exactly one).
    pub nlink: u64,
}

impl Meta {
    fn of(st: &Stat) -> Meta {
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        };
        Meta {
            kind,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            nlink: st.st_nlink,
        }
    }
}

/// Which program file a validator is (`stat`, links followed): a program replaced (a new
/// inode) or changed in place (size, mtime, ctime) is another one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProgramId {
    pub path: String,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

/// Free room and writability of the filesystem that holds a directory ([`Sys::space`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Bytes an unprivileged writer may still use (`f_bavail * f_frsize`).
    pub bytes: u64,
    /// Inodes (new files, directories) still available (`f_favail`).
    pub inodes: u64,
    /// Mounted read-only (`ST_RDONLY`).
    pub read_only: bool,
    /// The directory itself is immutable or append-only (`chattr +i`/`+a`).
    pub locked: bool,
    /// Which filesystem (the directory's `st_dev`): directories on one share its room.
    pub fs_id: u64,
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

    /// stdout then stderr on one line: each line trimmed, blank ones left out, `; ` between.
    pub fn one_line(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ")
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

/// How a walk treats a symlink on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Links {
    /// A path blotctl changes (or its own backups): any symlink is refused.
    Refuse,
    /// The box's own configuration: links resolve as on the box, inside `--root` only.
    InRoot,
}

/// Where a walk ended.
enum Walked {
    /// The directory holding the last component (held open), and that component's name.
    Leaf { dir: OwnedFd, name: String },
    /// The path is a directory with no last name of its own (`/`, or a link to `.`).
    Dir(OwnedFd),
}

/// A termination signal received while a real run held the lock ([`Sys::lock`]): the
/// signal number, 0 for none.
static SIGNAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// Set with [`SIGNAL`]; a second signal then ends blotctl at once.
static SIGNALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// The first write of blotctl's own output that failed ([`note_output_failure`]).
static OUTPUT_LOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Why a real run stops at its next safe point ([`Sys::interrupted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT, SIGTERM, SIGHUP (the terminal or ssh session went away) or SIGPIPE (stdout
    /// was closed, e.g. `| head`).
    Signal(i32),
    /// Writing blotctl's own output failed (a full disk, a terminal gone): what failed.
    Output(String),
}

/// Note that writing blotctl's output to `stream` failed: a real run stops at its next
/// safe point rather than going on unseen (or, as `print!` would, panicking half-way).
pub fn note_output_failure(stream: &str, e: &std::io::Error) {
    let _ = OUTPUT_LOST.set(format!("cannot write to {stream}: {e}"));
}

/// The first failed write of blotctl's own output, if any.
pub fn output_failure() -> Option<&'static str> {
    OUTPUT_LOST.get().map(String::as_str)
}

/// Symlinks followed in one walk before it gives up (as the kernel's `ELOOP`).
const MAX_HOPS: usize = 40;

/// Access to the box, rooted at `--root`.
#[derive(Debug)]
pub struct Sys {
    root: PathBuf,
    /// The root directory, held open: every walk starts here.
    root_fd: Arc<OwnedFd>,
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
            root_fd: self.root_fd.clone(),
            queries: Mutex::default(),
            seen: Mutex::default(),
        }
    }
}

fn io(e: Errno) -> std::io::Error {
    std::io::Error::from(e)
}

/// "a FIFO (named pipe)", "a character device", ...: for messages.
fn describe(st: &Stat) -> &'static str {
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symlink",
        FileType::Fifo => "a FIFO (named pipe)",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Socket => "a socket",
        FileType::Unknown => "of an unknown type",
    }
}

fn is_type(st: &Stat, t: FileType) -> bool {
    FileType::from_raw_mode(st.st_mode) == t
}

/// Whose a path is, for what an error advises: a path blotctl manages (changes, or keeps
/// as its own) may be removed and put right; one it only reads (the box's configuration, a
/// file named on the command line) is named by a setting or an option, which is what to
/// fix: never advise removing it (it may be /dev/null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whose {
    Managed,
    Read,
}

/// Refuse anything but a regular file, naming what it is instead.
fn want_regular(st: &Stat, shown: &str, whose: Whose) -> Result<()> {
    if is_type(st, FileType::RegularFile) {
        return Ok(());
    }
    let advice = match whose {
        Whose::Managed => "remove it, or put the real file there",
        Whose::Read if shown.starts_with("/dev/") || shown.starts_with("/proc/") => {
            "point the setting or option that names it at a regular file"
        }
        Whose::Read => {
            "point the setting or option that names it at a regular file, or put the real \
             file there"
        }
    };
    bail!(
        "{shown} is {}, not a regular file: blotctl reads and replaces only regular files \
         ({advice})",
        describe(st)
    )
}

/// Refuse a file that has other names too (a hard link to it elsewhere, e.g. /etc/shadow).
fn want_one_link(st: &Stat, shown: &str) -> Result<()> {
    if is_type(st, FileType::Directory) || st.st_nlink <= 1 {
        return Ok(());
    }
    bail!(
        "{shown} has {} hard links: blotctl never changes a file that is also reachable under \
         another name (it could be /etc/shadow); remove the other links, or the file",
        st.st_nlink
    )
}

fn symlink_refused(box_path: &str, shown: &str) -> anyhow::Error {
    anyhow!(
        "refusing to manage {box_path}: {shown} is a symlink (blotctl never follows links for \
         files it writes; replace the link with the real file)"
    )
}

/// Read at most [`MAX_READ`] bytes of an open regular file of the size `fstat` said.
fn read_capped(file: fs::File, st: &Stat, shown: &str, cap: u64) -> Result<Vec<u8>> {
    let size = u64::try_from(st.st_size).unwrap_or(0);
    let too_big = || {
        anyhow!(
            "{shown} is larger than {cap} bytes, more than blotctl reads of one file: that is \
             not the file it expects"
        )
    };
    if size > cap {
        return Err(too_big());
    }
    let mut buf = Vec::with_capacity(size as usize);
    file.take(cap + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {shown}"))?;
    if buf.len() as u64 > cap {
        return Err(too_big());
    }
    Ok(buf)
}

/// A temp file beside the one it will replace, removed unless it was renamed into place.
struct Temp<'a> {
    dir: &'a OwnedFd,
    name: String,
    file: fs::File,
    placed: bool,
}

impl<'a> Temp<'a> {
    /// `.blotctl-XXXXXX~`, created exclusively (never through a link): not `*.conf`
    /// (upstart loads those by inotify), and ending in `~` (logrotate and sudo's includedir
    /// skip those).
    fn create(dir: &'a OwnedFd) -> std::io::Result<Temp<'a>> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQ: AtomicU64 = AtomicU64::new(0);
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut seed = nanos ^ (u64::from(std::process::id()) << 32);
        loop {
            seed = seed
                .wrapping_add(SEQ.fetch_add(1, Ordering::Relaxed))
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut x = seed;
            let suffix: String = (0..6)
                .map(|_| {
                    let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
                    x /= ALPHABET.len() as u64;
                    c
                })
                .collect();
            let name = format!(".blotctl-{suffix}~");
            match rustix::fs::openat(
                dir,
                name.as_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            ) {
                Ok(fd) => {
                    return Ok(Temp {
                        dir,
                        name,
                        file: fs::File::from(fd),
                        placed: false,
                    })
                }
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(io(e)),
            }
        }
    }
}

impl Drop for Temp<'_> {
    fn drop(&mut self) {
        if !self.placed {
            let _ = rustix::fs::unlinkat(self.dir, self.name.as_str(), AtFlags::empty());
        }
    }
}

impl Sys {
    pub fn new(root: &Path) -> Result<Sys> {
        let root = fs::canonicalize(root)
            .with_context(|| format!("cannot use --root {}", root.display()))?;
        let root_fd = rustix::fs::openat(
            rustix::fs::CWD,
            &root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)
        .with_context(|| format!("--root {} is not a directory", root.display()))?;
        Ok(Sys {
            root,
            root_fd: Arc::new(root_fd),
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

    /// The host path of a box path, for programs blotctl runs (`git -C DIR`). Refuses
    /// relative paths and `..`. blotctl itself never opens a box path by this name.
    pub fn host_path(&self, box_path: &str) -> Result<PathBuf> {
        let mut out = self.root.clone();
        for c in components(box_path)? {
            out.push(c);
        }
        Ok(out)
    }

    fn root_dup(&self) -> Result<OwnedFd> {
        rustix::io::fcntl_dupfd_cloexec(&*self.root_fd, 0)
            .map_err(io)
            .context("cannot use the root directory")
    }

    /// Walk `box_path` from the root, one `openat(O_PATH | O_NOFOLLOW)` per directory.
    /// `None` when a component does not exist. With `follow_leaf`, a last component that is
    /// a symlink is resolved too (only with [`Links::InRoot`]).
    fn walk(&self, box_path: &str, links: Links, follow_leaf: bool) -> Result<Option<Walked>> {
        let mut queue: VecDeque<String> = components(box_path)?
            .into_iter()
            .map(String::from)
            .collect();
        let mut stack: Vec<OwnedFd> = vec![self.root_dup()?];
        let mut shown = String::new();
        let mut hops = 0;
        while let Some(c) = queue.pop_front() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    if stack.len() > 1 {
                        stack.pop();
                    }
                    shown.truncate(shown.rfind('/').unwrap_or(0));
                    continue;
                }
                _ => {}
            }
            let top = stack.last().expect("the root is never popped");
            let here = format!("{shown}/{c}");
            let last = queue.is_empty();
            let link = |top: &OwnedFd| -> Result<bool> {
                match rustix::fs::statat(top, c.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => Ok(is_type(&st, FileType::Symlink)),
                    Err(Errno::NOENT) => Ok(false),
                    Err(e) => Err(io(e)).with_context(|| format!("cannot inspect {here}")),
                }
            };
            if last && !(follow_leaf && links == Links::InRoot && link(top)?) {
                let dir = stack.pop().expect("the root is never popped");
                return Ok(Some(Walked::Leaf { dir, name: c }));
            }
            if !last {
                match rustix::fs::openat(
                    top,
                    c.as_str(),
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => {
                        stack.push(fd);
                        shown = here;
                        continue;
                    }
                    Err(Errno::NOENT) => return Ok(None),
                    Err(Errno::NOTDIR) | Err(Errno::LOOP) => {
                        if !link(top)? {
                            bail!("{here} is not a directory (on the way to {box_path})");
                        }
                    }
                    Err(e) => return Err(io(e)).with_context(|| format!("cannot open {here}")),
                }
            }
            // A symlink on the way.
            if links == Links::Refuse {
                return Err(symlink_refused(box_path, &here));
            }
            hops += 1;
            if hops > MAX_HOPS {
                bail!("{box_path}: too many levels of symbolic links");
            }
            let target = rustix::fs::readlinkat(top, c.as_str(), Vec::new())
                .map_err(io)
                .with_context(|| format!("cannot read the link {here}"))?;
            let target = target
                .to_str()
                .map_err(|_| anyhow!("the link {here} points to a name that is not UTF-8"))?
                .to_string();
            if target.starts_with('/') {
                stack.truncate(1);
                shown.clear();
            }
            for part in target.split('/').rev().filter(|p| !p.is_empty()) {
                queue.push_front(part.to_string());
            }
        }
        Ok(Some(Walked::Dir(
            stack.pop().expect("the root is never popped"),
        )))
    }

    /// The directory holding `box_path`'s last component, held open (readable, so it can
    /// be fsynced), and that name; `None` when the directory does not exist.
    fn parent(&self, box_path: &str, links: Links) -> Result<Option<(OwnedFd, String)>> {
        match self.walk(box_path, links, false)? {
            None => Ok(None),
            Some(Walked::Dir(_)) => bail!("internal error: {box_path} names no file"),
            Some(Walked::Leaf { dir, name }) => {
                let dir = rustix::fs::openat(
                    &dir,
                    ".",
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(io)
                .with_context(|| format!("cannot open the directory of {box_path}"))?;
                Ok(Some((dir, name)))
            }
        }
    }

    /// The directory of a path blotctl changes: it must exist, and no symlink on the way.
    fn parent_for_change(&self, box_path: &str) -> Result<(OwnedFd, String)> {
        self.parent(box_path, Links::Refuse)?.ok_or_else(|| {
            anyhow!(
                "cannot change {box_path}: its directory {} does not exist",
                Path::new(box_path)
                    .parent()
                    .unwrap_or(Path::new("/"))
                    .display()
            )
        })
    }

    /// Open a box directory for listing; `None` when it does not exist.
    fn open_dir(&self, box_path: &str, links: Links) -> Result<Option<OwnedFd>> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let (dir, name) = match self.walk(box_path, links, true)? {
            None => return Ok(None),
            Some(Walked::Dir(fd)) => (fd, ".".to_string()),
            Some(Walked::Leaf { dir, name }) => (dir, name),
        };
        match rustix::fs::openat(&dir, name.as_str(), flags | OFlags::NOFOLLOW, Mode::empty()) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::NOENT) => Ok(None),
            Err(Errno::NOTDIR) | Err(Errno::LOOP) => {
                match rustix::fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if is_type(&st, FileType::Symlink) => {
                        Err(symlink_refused(box_path, box_path))
                    }
                    Ok(st) => bail!("{box_path} is {}, not a directory", describe(&st)),
                    Err(e) => Err(io(e)).with_context(|| format!("cannot open {box_path}")),
                }
            }
            Err(e) => Err(io(e)).with_context(|| format!("cannot open {box_path}")),
        }
    }

    /// Open a regular file for reading: `lstat` first (anything else is refused before it
    /// is opened), then `openat(O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)`, then `fstat` to make
    /// sure the handle is the file that was checked. `None` when it does not exist.
    fn open_regular(
        dir: rustix::fd::BorrowedFd<'_>,
        name: &str,
        shown: &str,
        follow: bool,
        whose: Whose,
    ) -> Result<Option<(fs::File, Stat)>> {
        let at = if follow {
            AtFlags::empty()
        } else {
            AtFlags::SYMLINK_NOFOLLOW
        };
        let before = match rustix::fs::statat(dir, name, at) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(io(e)).with_context(|| format!("cannot inspect {shown}")),
        };
        if is_type(&before, FileType::Symlink) {
            bail!("{shown} is a symlink; blotctl does not follow it here (replace the link with the real file)");
        }
        want_regular(&before, shown, whose)?;
        let mut flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        if !follow {
            flags |= OFlags::NOFOLLOW;
        }
        let fd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP) => bail!("{shown} became a symlink while blotctl was reading it"),
            Err(e) => return Err(io(e)).with_context(|| format!("cannot read {shown}")),
        };
        let st = rustix::fs::fstat(&fd)
            .map_err(io)
            .with_context(|| format!("cannot inspect {shown}"))?;
        if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino) {
            bail!("{shown} was replaced while blotctl was reading it; run again");
        }
        want_regular(&st, shown, whose)?;
        Ok(Some((fs::File::from(fd), st)))
    }

    /// Read a file of the box's own configuration (links resolved inside the root);
    /// `None` when it does not exist. Anything but a regular file is an error.
    pub fn read(&self, box_path: &str) -> Result<Option<Vec<u8>>> {
        self.saw(box_path, Seen::Read);
        let (dir, name) = match self.walk(box_path, Links::InRoot, true)? {
            None => return Ok(None),
            Some(Walked::Dir(_)) => bail!("{box_path} is a directory, not a regular file"),
            Some(Walked::Leaf { dir, name }) => (dir, name),
        };
        match Self::open_regular(dir.as_fd(), &name, box_path, false, Whose::Read)? {
            None => Ok(None),
            Some((file, st)) => read_capped(file, &st, box_path, MAX_READ).map(Some),
        }
    }

    /// Read a file blotctl manages or keeps (its backups): no symlink anywhere on the way,
    /// a regular file with one link; its contents and metadata from the one handle.
    /// `None` when it does not exist.
    pub fn observe(&self, box_path: &str) -> Result<Option<(Vec<u8>, Meta)>> {
        self.saw(box_path, Seen::Read);
        let Some((dir, name)) = self.parent(box_path, Links::Refuse)? else {
            return Ok(None);
        };
        let Some((file, st)) =
            Self::open_regular(dir.as_fd(), &name, box_path, false, Whose::Managed)?
        else {
            return Ok(None);
        };
        want_one_link(&st, box_path)?;
        let bytes = read_capped(file, &st, box_path, MAX_READ)?;
        Ok(Some((bytes, Meta::of(&st))))
    }

    /// Fail unless blotctl may replace or re-own `box_path`: no symlink on the way; if it
    /// exists, a regular file with one link (a directory is fine too); and neither it nor
    /// its directory is immutable or append-only (`chattr +i`/`+a`), so that such a file
    /// stops the run while planning, before anything was changed.
    pub fn ensure_writable(&self, box_path: &str) -> Result<()> {
        self.saw(box_path, Seen::Meta);
        let Some((dir, name)) = self.parent(box_path, Links::Refuse)? else {
            return Ok(()); // the directory does not exist yet: planned by its step
        };
        check_flags(&dir, &format!("the directory of {box_path}"))?;
        let st = match rustix::fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(io(e)).with_context(|| format!("cannot inspect {box_path}")),
        };
        if is_type(&st, FileType::Symlink) {
            return Err(symlink_refused(box_path, box_path));
        }
        if !is_type(&st, FileType::Directory) {
            want_regular(&st, box_path, Whose::Managed)?;
        }
        want_one_link(&st, box_path)?;
        let fd = rustix::fs::openat(
            &dir,
            name.as_str(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)
        .with_context(|| format!("cannot open {box_path}"))?;
        check_flags(&fd, box_path)
    }

    /// Free bytes and inodes, and whether it is writable at all, of the filesystem that
    /// holds the box directory `box_path` (or its nearest existing ancestor, for a
    /// directory a run will create).
    pub fn space(&self, box_path: &str) -> Result<Space> {
        let mut p = box_path.trim_end_matches('/').to_string();
        let fd = loop {
            if p.is_empty() {
                break self.root_dup()?;
            }
            if let Some(fd) = self.open_dir(&p, Links::Refuse)? {
                break fd;
            }
            p.truncate(p.rfind('/').unwrap_or(0));
        };
        let shown = if p.is_empty() { "/" } else { p.as_str() };
        let st = rustix::fs::fstatvfs(&fd)
            .map_err(io)
            .with_context(|| format!("cannot tell the free space for {shown}"))?;
        let locked = check_flags(&fd, shown).is_err();
        Ok(Space {
            bytes: st.f_bavail.saturating_mul(st.f_frsize),
            inodes: st.f_favail,
            read_only: st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY),
            locked,
            fs_id: rustix::fs::fstat(&fd).map_err(io)?.st_dev,
        })
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
        let (dir, name) = self
            .parent(box_path, Links::Refuse)?
            .ok_or_else(|| anyhow!("{box_path} does not exist"))?;
        let fd = rustix::fs::openat(
            &dir,
            name.as_str(),
            OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)
        .with_context(|| format!("cannot open {box_path} for writing"))?;
        fs::File::from(fd)
            .write_all(format!("{value}\n").as_bytes())
            .with_context(|| format!("cannot write {value:?} to {box_path}"))
    }

    /// `lstat` a box path (the last component is not followed); `None` when it does not
    /// exist.
    pub fn meta(&self, box_path: &str) -> Result<Option<Meta>> {
        self.saw(box_path, Seen::Meta);
        let (dir, name) = match self.walk(box_path, Links::InRoot, false)? {
            None => return Ok(None),
            Some(Walked::Dir(fd)) => (fd, ".".to_string()),
            Some(Walked::Leaf { dir, name }) => (dir, name),
        };
        match rustix::fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Meta::of(&st))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(io(e)).with_context(|| format!("cannot inspect {box_path}")),
        }
    }

    /// Names in a directory, sorted (links resolved inside the root to reach it, as
    /// programs on the box do); `None` when it does not exist.
    pub fn list_dir(&self, box_path: &str) -> Result<Option<Vec<String>>> {
        let mut names = self.list_dir_unsorted(box_path)?;
        if let Some(n) = names.as_mut() {
            n.sort();
        }
        Ok(names)
    }

    /// [`Sys::list_dir`] in the directory's own order (what `readdir`, and so an unsorted
    /// glob, sees: chkconfig decides by the first of a service's links).
    pub fn list_dir_unsorted(&self, box_path: &str) -> Result<Option<Vec<String>>> {
        self.saw(box_path, Seen::Listed);
        let Some(fd) = self.open_dir(box_path, Links::InRoot)? else {
            return Ok(None);
        };
        let mut dir = rustix::fs::Dir::new(fd)
            .map_err(io)
            .with_context(|| format!("cannot list {box_path}"))?;
        let mut names = Vec::new();
        while let Some(ent) = dir.read() {
            let ent = ent
                .map_err(io)
                .with_context(|| format!("cannot list {box_path}"))?;
            let name = ent.file_name().to_string_lossy();
            if name != "." && name != ".." {
                names.push(name.into_owned());
            }
        }
        Ok(Some(names))
    }

    /// The target of a symlink; `None` when the path does not exist.
    pub fn read_link(&self, box_path: &str) -> Result<Option<String>> {
        self.saw(box_path, Seen::Meta);
        let Some(Walked::Leaf { dir, name }) = self.walk(box_path, Links::InRoot, false)? else {
            return Ok(None);
        };
        match rustix::fs::readlinkat(&dir, name.as_str(), Vec::new()) {
            Ok(t) => Ok(Some(t.to_string_lossy().into_owned())),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(io(e)).with_context(|| format!("cannot read the link {box_path}")),
        }
    }

    /// Replace (or create) a file atomically with the given contents, mode and owner. What
    /// is there now must be a regular file with one link (or nothing).
    pub fn write_atomic(
        &self,
        box_path: &str,
        contents: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<()> {
        self.forget();
        let (dir, name) = self.parent_for_change(box_path)?;
        match rustix::fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if is_type(&st, FileType::Symlink) => {
                return Err(symlink_refused(box_path, box_path))
            }
            Ok(st) => {
                want_regular(&st, box_path, Whose::Managed)?;
                want_one_link(&st, box_path)?;
            }
            Err(Errno::NOENT) => {}
            Err(e) => return Err(io(e)).with_context(|| format!("cannot inspect {box_path}")),
        }
        let ctx = || format!("cannot write {box_path}");
        let mut tmp = Temp::create(&dir)
            .with_context(|| format!("cannot create a temp file beside {box_path}"))?;
        crate::sys::fault::point("write: temp created");
        tmp.file.write_all(contents).with_context(ctx)?;
        crate::sys::fault::point("write: temp written");
        // Owner and mode before the fsync, so the one fsync makes data and metadata durable.
        rustix::fs::fchown(
            &tmp.file,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .map_err(io)
        .with_context(|| format!("cannot set owner {uid}:{gid} on {box_path}"))?;
        rustix::fs::fchmod(&tmp.file, Mode::from_raw_mode(mode))
            .map_err(io)
            .with_context(ctx)?;
        tmp.file.sync_all().with_context(ctx)?;
        crate::sys::fault::point("write: before rename");
        rustix::fs::renameat(&dir, tmp.name.as_str(), &dir, name.as_str())
            .map_err(io)
            .with_context(|| format!("cannot replace {box_path}"))?;
        tmp.placed = true;
        crate::sys::fault::point("write: renamed");
        rustix::fs::fsync(&dir).map_err(io).with_context(ctx)?;
        Ok(())
    }

    /// Set mode and owner of an existing file or directory, through a handle opened
    /// without following links. With `expect` (mode, uid, gid as observed), a path that
    /// changed since is left alone. A file with more than one link is refused.
    pub fn set_meta(
        &self,
        box_path: &str,
        expect: Option<(u32, u32, u32)>,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<()> {
        self.forget();
        let fd = if components(box_path)?.is_empty() {
            // The root itself (`blotctl capture` gives its copy the box's root's owner).
            rustix::fs::openat(
                &*self.root_fd,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(io)
            .context("cannot open the root directory")?
        } else {
            let (dir, name) = self.parent_for_change(box_path)?;
            self.open_for_meta(&dir, &name, box_path)?
        };
        let st = rustix::fs::fstat(&fd)
            .map_err(io)
            .with_context(|| format!("cannot inspect {box_path}"))?;
        want_one_link(&st, box_path)?;
        if let Some(was) = expect {
            if (st.st_mode & 0o7777, st.st_uid, st.st_gid) != was {
                bail!("{box_path} changed while blotctl was running; left as it is (run again)");
            }
        }
        rustix::fs::fchown(
            &fd,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .map_err(io)
        .with_context(|| format!("cannot set owner {uid}:{gid} on {box_path}"))?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))
            .map_err(io)
            .with_context(|| format!("cannot set mode {mode:04o} on {box_path}"))
    }

    /// Open a regular file or a directory to change its metadata (never a link, a FIFO, a
    /// device: checked before opening, and the handle checked to be what was checked).
    fn open_for_meta(&self, dir: &OwnedFd, name: &str, box_path: &str) -> Result<OwnedFd> {
        let before = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => bail!("{box_path} disappeared while blotctl was running"),
            Err(e) => return Err(io(e)).with_context(|| format!("cannot inspect {box_path}")),
        };
        if is_type(&before, FileType::Symlink) {
            return Err(symlink_refused(box_path, box_path));
        }
        if !is_type(&before, FileType::Directory) {
            want_regular(&before, box_path, Whose::Managed)?;
        }
        let fd = rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)
        .with_context(|| format!("cannot open {box_path}"))?;
        let st = rustix::fs::fstat(&fd).map_err(io)?;
        if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino) {
            bail!(
                "{box_path} was replaced while blotctl was changing it; left as it is (run again)"
            );
        }
        Ok(fd)
    }

    /// Create a directory (its parent must exist) with mode and owner. One that exists
    /// already is an error: it appeared after blotctl looked, and is left as it is.
    pub fn create_dir(&self, box_path: &str, mode: u32, uid: u32, gid: u32) -> Result<()> {
        self.forget();
        let (dir, name) = self.parent_for_change(box_path)?;
        match rustix::fs::mkdirat(&dir, name.as_str(), Mode::from_raw_mode(0o700)) {
            Ok(()) => {}
            Err(Errno::EXIST) => bail!(
                "{box_path} exists already (it appeared after blotctl looked); left as it is \
                 (run again)"
            ),
            Err(e) => {
                return Err(io(e)).with_context(|| format!("cannot create directory {box_path}"))
            }
        }
        let fd = self.open_for_meta(&dir, &name, box_path)?;
        rustix::fs::fchown(
            &fd,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .and_then(|()| rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)))
        .and_then(|()| rustix::fs::fsync(&dir))
        .map_err(io)
        .with_context(|| format!("cannot create directory {box_path}"))
    }

    /// Create a symlink (its directory must be a managed path).
    pub fn symlink(&self, box_path: &str, target: &str) -> Result<()> {
        self.forget();
        let (dir, name) = self.parent_for_change(box_path)?;
        rustix::fs::symlinkat(target, &dir, name.as_str())
            .and_then(|()| rustix::fs::fsync(&dir))
            .map_err(io)
            .with_context(|| format!("cannot create the link {box_path} -> {target}"))
    }

    /// Remove a file, a symlink (not what it points to) or an empty directory.
    pub fn remove(&self, box_path: &str) -> Result<()> {
        self.forget();
        let (dir, name) = self.parent_for_change(box_path)?;
        let st = match rustix::fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => bail!("{box_path} disappeared while blotctl was running"),
            Err(e) => return Err(io(e)).with_context(|| format!("cannot inspect {box_path}")),
        };
        let flags = if is_type(&st, FileType::Directory) {
            AtFlags::REMOVEDIR
        } else {
            AtFlags::empty()
        };
        rustix::fs::unlinkat(&dir, name.as_str(), flags)
            .and_then(|()| rustix::fs::fsync(&dir))
            .map_err(io)
            .with_context(|| format!("cannot remove {box_path}"))
    }

    /// Take the run lock (`flock` on a file in an existing directory under the root; the
    /// file is the one trace a run that changes nothing leaves, as apt's lock is): waits up
    /// to `wait`, then fails naming the holder's pid. Released when the guard drops.
    pub fn lock(&self, box_path: &str, wait: Duration) -> Result<RunLock> {
        use rustix::fs::{flock, FlockOperation};
        let dir_path = Path::new(box_path)
            .parent()
            .map_or("/".into(), |d| d.display().to_string());
        let name = Path::new(box_path)
            .file_name()
            .ok_or_else(|| anyhow!("internal error: bad lock path {box_path}"))?
            .to_string_lossy()
            .into_owned();
        let dir = self.open_dir(&dir_path, Links::InRoot)?.ok_or_else(|| {
            anyhow!(
                "cannot take the run lock: {dir_path} does not exist (blotctl creates its lock \
                 file only in an existing directory); no managed file was changed"
            )
        })?;
        if let Ok(st) = rustix::fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            if is_type(&st, FileType::Symlink) {
                return Err(symlink_refused(box_path, box_path));
            }
            want_regular(&st, box_path, Whose::Managed)?;
        }
        let fd = rustix::fs::openat(
            &dir,
            name.as_str(),
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map_err(io)
        .with_context(|| format!("cannot open the lock file {box_path}"))?;
        let st = rustix::fs::fstat(&fd).map_err(io)?;
        want_regular(&st, box_path, Whose::Managed)?;
        want_one_link(&st, box_path)?;
        let file = fs::File::from(fd);
        let deadline = std::time::Instant::now() + wait;
        loop {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(Errno::WOULDBLOCK) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(Errno::WOULDBLOCK) => {
                    let mut holder = String::new();
                    let _ = (&file).take(64).read_to_string(&mut holder);
                    let pid = holder.trim();
                    bail!(
                        "another blotctl run holds the lock (pid {}); no managed file was \
                         changed: wait for it to finish, then run again",
                        if pid.is_empty() { "unknown" } else { pid }
                    );
                }
                Err(e) => return Err(io(e)).with_context(|| format!("cannot lock {box_path}")),
            }
        }
        file.set_len(0)?;
        rustix::io::pwrite(&file, format!("{}\n", std::process::id()).as_bytes(), 0)
            .map_err(io)
            .with_context(|| format!("cannot write the lock file {box_path}"))?;
        defer_signals()?;
        Ok(RunLock { _file: file })
    }

    /// Why the run must stop at its next safe point, if it must: a signal received since it
    /// took the lock (SIGINT, SIGTERM, SIGHUP, SIGPIPE), or its output could not be written.
    pub fn interrupted(&self) -> Option<Stop> {
        match SIGNAL.load(std::sync::atomic::Ordering::SeqCst) {
            0 => output_failure().map(|e| Stop::Output(e.to_string())),
            n => Some(Stop::Signal(n as i32)),
        }
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
                if self.meta(&p)?.is_some_and(|m| m.kind == Kind::File) {
                    self.remove(&p)?;
                    removed.push(p);
                }
            }
        }
        Ok(removed)
    }

    /// The bytes of a host file named on the command line (not under `--root`; links
    /// followed, as the operator named it): a regular file of at most `cap` bytes; `None`
    /// when it does not exist.
    pub fn read_host_bytes(&self, path: &Path, cap: u64) -> Result<Option<Vec<u8>>> {
        let shown = path.display().to_string();
        match Self::open_regular(rustix::fs::CWD, &shown, &shown, true, Whose::Read)? {
            None => Ok(None),
            Some((file, st)) => read_capped(file, &st, &shown, cap).map(Some),
        }
    }

    /// A text file named on the command line (a host path, not under `--root`).
    pub fn read_host_text(&self, path: &Path) -> Result<String> {
        let bytes = self
            .read_host_bytes(path, MAX_READ)?
            .ok_or_else(|| anyhow!("{} does not exist", path.display()))?;
        String::from_utf8(bytes).map_err(|_| anyhow!("{} is not valid UTF-8 text", path.display()))
    }

    /// What sits at a host path named on the command line (`lstat`: a link is not
    /// followed); `None` when nothing does.
    pub fn host_meta(path: &Path) -> Result<Option<Meta>> {
        match rustix::fs::statat(rustix::fs::CWD, path, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Meta::of(&st))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(io(e)).with_context(|| format!("cannot inspect {}", path.display())),
        }
    }

    /// Whether the host directory `path` has no entries (it is opened without following a
    /// link at its own name).
    pub fn host_dir_is_empty(path: &Path) -> Result<bool> {
        let fd = rustix::fs::openat(
            rustix::fs::CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)
        .with_context(|| format!("cannot open {}", path.display()))?;
        let mut dir = rustix::fs::Dir::new(fd)
            .map_err(io)
            .with_context(|| format!("cannot list {}", path.display()))?;
        while let Some(ent) = dir.read() {
            let ent = ent.map_err(io)?;
            if ![&b"."[..], b".."].contains(&ent.file_name().to_bytes()) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A private directory beside the host path `dest` (created exclusively, mode 0700) to
    /// build a tree in, and a `Sys` rooted there. Removed when dropped, unless placed at
    /// `dest` ([`Staging::place_dir`], [`Staging::place_tar`]): nothing half-made is ever
    /// left at `dest`.
    pub fn staging_beside(dest: &Path) -> Result<Staging> {
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dir = tempfile::Builder::new()
            .prefix(".blotctl-capture-")
            .tempdir_in(parent)
            .with_context(|| {
                format!("cannot create a scratch directory in {}", parent.display())
            })?;
        let sys = Sys::new(dir.path())?;
        Ok(Staging { dir, sys })
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
        use std::os::unix::fs::OpenOptionsExt;
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
        self.ask(&argv)
    }

    /// Validate candidate files the way a program on the box would read them together:
    /// `files` (box path, contents) are written, mode 0440, into a private temp directory
    /// that mirrors the box's layout, and `argv` runs with the copy of `main` appended
    /// (e.g. `visudo -c -f`). The temp directory's prefix is taken out of the output, so
    /// it names box paths. Includes between the files must be relative for the copy to
    /// find them. `{dir}` in an argument stands for the temp directory (the root of the
    /// mirrored layout).
    pub fn check_tree(
        &self,
        argv: &[&str],
        files: &[(String, Vec<u8>)],
        main: &str,
    ) -> Result<Output> {
        let tmp = tempfile::Builder::new()
            .prefix("blotctl-check-")
            .tempdir()
            .context("cannot create a temp directory for validation")?;
        let place = |box_path: &str| -> Result<PathBuf> {
            let mut p = tmp.path().to_path_buf();
            for c in components(box_path)? {
                p.push(c);
            }
            Ok(p)
        };
        for (path, bytes) in files {
            let host = place(path)?;
            if let Some(d) = host.parent() {
                fs::create_dir_all(d).context("cannot create a temp directory for validation")?;
            }
            use std::os::unix::fs::OpenOptionsExt;
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o440)
                .open(&host)
                .and_then(|mut f| f.write_all(bytes))
                .context("cannot write a temp file for validation")?;
        }
        let main = place(main)?.display().to_string();
        let prefix = tmp.path().display().to_string();
        let mut full: Vec<String> = argv.iter().map(|a| a.replace("{dir}", &prefix)).collect();
        full.push(main);
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        let mut out = self.ask(&full)?;
        out.stdout = out.stdout.replace(&prefix, "");
        out.stderr = out.stderr.replace(&prefix, "");
        Ok(out)
    }

    /// Find a program on PATH.
    pub fn which(&self, program: &str) -> Option<PathBuf> {
        which::which(program).ok()
    }

    /// The program `program` on PATH runs, as a [`ProgramId`]; `None` when it is not on
    /// PATH or cannot be inspected.
    pub fn program_id(&self, program: &str) -> Option<ProgramId> {
        let path = self.which(program)?;
        let st = rustix::fs::stat(&path).ok()?;
        Some(ProgramId {
            path: path.to_string_lossy().into_owned(),
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size as u64,
            mtime: (st.st_mtime, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime, st.st_ctime_nsec as i64),
        })
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

    /// Run a command that reads and changes nothing on the box (a validator on a private
    /// copy, `git show`): remembered [`Sys::query`] answers stay, as the box is unchanged.
    pub fn ask(&self, argv: &[&str]) -> Result<Output> {
        self.capture(argv, None)
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

    /// GET http://127.0.0.1:port{path} with the given `Host` header; Ok(status) when it
    /// answers 2xx (the health definition in `crate::health`).
    pub fn probe_http(&self, port: u16, path: &str, host: &str, timeout: Duration) -> Result<u16> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let url = format!("http://127.0.0.1:{port}{path}");
        let resp = agent
            .get(&url)
            .header("Host", host)
            .call()
            .with_context(|| format!("no HTTP answer from {url} (Host: {host})"))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            bail!("{url} (Host: {host}) answered HTTP {status}");
        }
        Ok(status)
    }

    /// Who other than root could change what is at `box_path`: the first existing component
    /// of the path (from `/` down, the path itself included) that a user other than root
    /// owns, that a group other than root's or everyone may write, or that is a symlink
    /// (which its directory's owner could repoint). `None`: only root can. "root" is uid and
    /// gid 0, and whoever owns `--root` itself (a copy of a box made by a user belongs to that
    /// user).
    pub fn nonroot_writer(&self, box_path: &str) -> Result<Option<String>> {
        let top = rustix::fs::stat(&self.root)
            .map_err(io)
            .with_context(|| format!("cannot inspect --root {}", self.root.display()))?;
        let judge = |shown: &str, m: Meta| -> Option<String> {
            let trusted = |id: u32, of_root: u32| id == 0 || id == of_root;
            if m.kind == Kind::Symlink {
                Some(format!("{shown} is a symlink"))
            } else if !trusted(m.uid, top.st_uid) {
                Some(format!("{shown} belongs to uid {}", m.uid))
            } else if m.mode & 0o020 != 0 && !trusted(m.gid, top.st_gid) {
                Some(format!(
                    "{shown} is writable by group {} (mode {:04o})",
                    m.gid, m.mode
                ))
            } else if m.mode & 0o002 != 0 {
                Some(format!(
                    "{shown} is writable by everyone (mode {:04o})",
                    m.mode
                ))
            } else {
                None
            }
        };
        if let Some(why) = judge("/", Meta::of(&top)) {
            return Ok(Some(why));
        }
        let mut prefix = String::new();
        for c in components(box_path)? {
            prefix.push('/');
            prefix.push_str(c);
            // Each component is looked at before the next: a symlink is reported, never
            // followed.
            let Some(m) = self.meta(&prefix)? else {
                break;
            };
            if let Some(why) = judge(&prefix, m) {
                return Ok(Some(why));
            }
        }
        Ok(None)
    }

    /// What is at a program's box path: links are followed (within `--root`, as on the box,
    /// at most 40); `Ok(final box path)` when it is a regular file someone may execute.
    pub fn program(&self, box_path: &str) -> Result<std::result::Result<String, String>> {
        let mut cur = box_path.to_string();
        for _ in 0..40 {
            let meta = match self.meta(&cur)? {
                None => return Ok(Err(format!("{cur} does not exist"))),
                Some(m) => m,
            };
            match meta.kind {
                Kind::Symlink => {
                    let target = self
                        .read_link(&cur)?
                        .ok_or_else(|| anyhow!("{cur} disappeared"))?;
                    let base = Path::new(&cur).parent().unwrap_or(Path::new("/"));
                    let joined = if target.starts_with('/') {
                        PathBuf::from(&target)
                    } else {
                        base.join(&target)
                    };
                    // Lexical `..` handling, as the kernel does under a chroot.
                    let mut norm = PathBuf::from("/");
                    for c in joined.components() {
                        match c {
                            Component::ParentDir => {
                                norm.pop();
                            }
                            Component::Normal(n) => norm.push(n),
                            _ => {}
                        }
                    }
                    cur = norm.to_string_lossy().into_owned();
                }
                Kind::File if meta.mode & 0o111 != 0 => return Ok(Ok(cur)),
                Kind::File => {
                    return Ok(Err(format!(
                        "{cur} is not executable (mode {:04o})",
                        meta.mode
                    )))
                }
                Kind::Dir => return Ok(Err(format!("{cur} is a directory"))),
                Kind::Other => return Ok(Err(format!("{cur} is not a regular file"))),
            }
        }
        Ok(Err(format!(
            "{box_path}: too many levels of symbolic links"
        )))
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

/// The components of an absolute box path; refuses relative paths, `.` and `..`.
fn components(box_path: &str) -> Result<Vec<&str>> {
    let p = Path::new(box_path);
    if !p.is_absolute() {
        bail!("internal error: box path {box_path} is not absolute");
    }
    let mut out = Vec::new();
    for c in p.components() {
        match c {
            Component::RootDir => {}
            Component::Normal(n) => out.push(
                n.to_str()
                    .ok_or_else(|| anyhow!("{box_path} is not valid UTF-8"))?,
            ),
            _ => bail!("refusing path {box_path}: it contains `..` or `.`"),
        }
    }
    Ok(out)
}

/// From the moment a real run holds the lock, SIGINT, SIGTERM and SIGHUP (an ssh session
/// that dropped) no longer kill blotctl at once: a signal-safe handler notes them
/// ([`Sys::interrupted`]) and the run stops at its next safe point, between two atomic
/// changes or in a wait, having finished the change under way (so no temp file is left,
/// and the journal is whole). A second one ends blotctl at once, with the shell's exit
/// status for it (128 + N). SIGPIPE (stdout closed, `| head`) is noted the same way but
/// never ends it: every later write to the pipe fails with EPIPE, which the printer ignores.
fn defer_signals() -> Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGPIPE, SIGTERM};
    use signal_hook::flag;
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        // The order matters: the shutdown looks at the flag before the first signal sets it.
        flag::register_conditional_shutdown(sig, 128 + sig, &SIGNALLED)
            .and_then(|_| flag::register_usize(sig, &SIGNAL, sig as usize))
            .and_then(|_| flag::register(sig, &SIGNALLED))
            .context("cannot install the signal handlers")?;
    }
    // A SIGPIPE after another signal keeps that one (its exit status).
    // SAFETY: the action only does atomic loads and stores, which are async-signal-safe.
    unsafe {
        signal_hook::low_level::register(SIGPIPE, || {
            use std::sync::atomic::Ordering::SeqCst;
            if !SIGNALLED.load(SeqCst) {
                SIGNAL.store(SIGPIPE as usize, SeqCst);
            }
        })
    }
    .context("cannot install the signal handlers")?;
    Ok(())
}

/// Refuse a file or directory that is immutable or append-only (`chattr +i`/`+a`).
/// Filesystems without attribute support answer ENOTTY: nothing to refuse.
fn check_flags(fd: &OwnedFd, shown: &str) -> Result<()> {
    if let Ok(flags) = rustix::fs::ioctl_getflags(fd) {
        use rustix::fs::IFlags;
        if flags.intersects(IFlags::IMMUTABLE | IFlags::APPEND) {
            bail!(
                "{shown} is immutable or append-only (chattr +i/+a), so blotctl cannot \
                 replace it; if that is not deliberate, run `chattr -i -a` on it"
            );
        }
    }
    Ok(())
}

/// A tree being built beside its destination ([`Sys::staging_beside`]).
pub struct Staging {
    dir: tempfile::TempDir,
    /// The tree, as a box.
    pub sys: Sys,
}

impl Staging {
    /// Put the tree at `dest` by renaming it there (a new name, or an empty directory it
    /// replaces; a link swapped in at `dest` is replaced, never followed).
    pub fn place_dir(self, dest: &Path) -> Result<()> {
        let tree = self.dir.keep();
        rustix::fs::renameat(rustix::fs::CWD, &tree, rustix::fs::CWD, dest)
            .map_err(io)
            .with_context(|| format!("cannot put the capture at {}", dest.display()))
            .inspect_err(|_| {
                let _ = fs::remove_dir_all(&tree);
            })
    }

    /// Write the tree as a tarball (gzipped with `gz`) to `dest`: a new file, created
    /// exclusively without following a link (`O_CREAT | O_EXCL | O_NOFOLLOW`), mode 0600
    /// (it holds root-only files such as sudoers); `tar` writes to its stdout, which is
    /// that file. A tarball that could not be made whole is removed.
    pub fn place_tar(self, dest: &Path, gz: bool) -> Result<()> {
        let shown = dest.display().to_string();
        let fd = rustix::fs::openat(
            rustix::fs::CWD,
            dest,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(io)
        .with_context(|| format!("cannot create {shown} (it must not exist yet)"))?;
        let file = fs::File::from(fd);
        let tree = self.dir.path().display().to_string();
        let argv = [
            "tar",
            "--numeric-owner",
            "-C",
            tree.as_str(),
            if gz { "-czf" } else { "-cf" },
            "-",
            ".",
        ];
        let made = (|| -> Result<()> {
            let out = duct::cmd(argv[0], &argv[1..])
                .stdout_file(file.try_clone()?)
                .stderr_capture()
                .stdin_null()
                .unchecked()
                .run()
                .with_context(|| format!("cannot run `{}`", argv.join(" ")))?;
            let out = Output {
                status: out.status.code().unwrap_or(-1),
                stdout: String::new(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            };
            if !out.success() {
                bail!("{}", command_failure(&argv, &out));
            }
            file.sync_all()
                .with_context(|| format!("cannot write {shown}"))
        })();
        if made.is_err() {
            // The name is ours: created exclusively above.
            let _ = fs::remove_file(dest);
        }
        made
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

    #[test]
    fn reads_resolve_links_inside_the_root_only() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("etc/rc.d/rc3.d")).unwrap();
        fs::write(r.join("etc/real.conf"), "inside\n").unwrap();
        // An absolute target starts again at the box's root, not the host's.
        std::os::unix::fs::symlink("/etc/real.conf", r.join("etc/abs.conf")).unwrap();
        std::os::unix::fs::symlink("rc.d/rc3.d", r.join("etc/rc3.d")).unwrap();
        std::os::unix::fs::symlink("../../../../../../etc/real.conf", r.join("etc/up.conf"))
            .unwrap();
        std::os::unix::fs::symlink("loop", r.join("etc/loop")).unwrap();
        let sys = Sys::new(r).unwrap();
        assert_eq!(sys.read("/etc/abs.conf").unwrap().unwrap(), b"inside\n");
        assert_eq!(sys.read("/etc/up.conf").unwrap().unwrap(), b"inside\n");
        assert_eq!(
            sys.list_dir("/etc/rc3.d").unwrap().unwrap(),
            Vec::<String>::new()
        );
        let e = sys.read("/etc/loop").unwrap_err();
        assert!(e.to_string().contains("too many levels"), "{e}");
        // A file blotctl manages never passes a link.
        let e = sys.observe("/etc/abs.conf").unwrap_err();
        assert!(e.to_string().contains("is a symlink"), "{e}");
        let e = sys.observe("/etc/rc3.d/x").unwrap_err();
        assert!(e.to_string().contains("/etc/rc3.d is a symlink"), "{e}");
    }

    #[test]
    fn special_files_are_refused_before_reading() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir(r.join("etc")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            r.join("etc/hosts"),
            FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let sys = Sys::new(r).unwrap();
        // A FIFO would block an open without O_NONBLOCK and a read forever.
        let e = sys.read("/etc/hosts").unwrap_err();
        assert!(e.to_string().contains("/etc/hosts is a FIFO"), "{e}");
        let e = sys.observe("/etc/hosts").unwrap_err();
        assert!(e.to_string().contains("/etc/hosts is a FIFO"), "{e}");
        let e = sys
            .write_atomic("/etc/hosts", b"x", 0o644, 0, 0)
            .unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let e = sys.read("/etc").unwrap_err();
        assert!(e.to_string().contains("/etc is a directory"), "{e}");
        // What blotctl only reads is named by a setting or option: never "remove it".
        let e = sys.read_host_bytes(Path::new("/dev/null"), 1).unwrap_err();
        assert!(
            e.to_string().contains("point the setting or option")
                && !e.to_string().contains("remove"),
            "{e}"
        );
        let e = sys.observe("/etc/hosts").unwrap_err();
        assert!(
            e.to_string()
                .contains("remove it, or put the real file there"),
            "{e}"
        );
    }

    #[test]
    fn hard_linked_files_are_never_changed() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir(r.join("etc")).unwrap();
        fs::write(r.join("etc/shadow"), "secret\n").unwrap();
        fs::hard_link(r.join("etc/shadow"), r.join("etc/app.log")).unwrap();
        let sys = Sys::new(r).unwrap();
        let e = sys
            .set_meta("/etc/app.log", None, 0o644, 500, 500)
            .unwrap_err();
        assert!(e.to_string().contains("has 2 hard links"), "{e}");
        assert!(sys.observe("/etc/app.log").is_err());
        assert!(sys.ensure_writable("/etc/app.log").is_err());
        let m = sys.meta("/etc/shadow").unwrap().unwrap();
        assert_eq!((m.uid, m.nlink), (0, 2));
    }

    #[test]
    fn reads_are_capped() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let f = fs::File::create(r.join("big")).unwrap();
        f.set_len(MAX_READ + 1).unwrap(); // sparse: costs no disk
        let sys = Sys::new(r).unwrap();
        let e = sys.read("/big").unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
    }
}
