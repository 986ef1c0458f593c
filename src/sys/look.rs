//! The read side of [`Sys`]: everything a step may do to observe the box. Steps see the box
//! only through `&dyn Look` ([`crate::steps::Ctx::sys`]); writes, spawns that change the
//! box, locks and signals stay on the concrete [`Sys`], which the engine holds. A step can
//! so be planned against an in-memory box in a unit test (`sys::fake`).

use super::{Meta, Output, ProgramId, Sys};
use anyhow::{anyhow, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// For [`Look::check_in_scratch`]: given the scratch directory, one more file (name, text)
/// and the argv to run.
pub type Wrap<'a> = dyn Fn(&Path) -> (&'static str, String, Vec<String>) + 'a;

/// What observing the box may do. Every method means what the [`Sys`] method of the same
/// name means.
pub trait Look {
    /// A file of the box's own configuration, links resolved inside the root.
    fn read(&self, box_path: &str) -> Result<Option<Vec<u8>>>;
    /// A file blotctl manages: no link on the way, one hard link; contents and metadata.
    fn observe(&self, box_path: &str) -> Result<Option<(Vec<u8>, Meta)>>;
    /// Fail unless blotctl may replace or re-own `box_path`.
    fn ensure_writable(&self, box_path: &str) -> Result<()>;
    /// `lstat`.
    fn meta(&self, box_path: &str) -> Result<Option<Meta>>;
    fn list_dir(&self, box_path: &str) -> Result<Option<Vec<String>>>;
    fn list_dir_unsorted(&self, box_path: &str) -> Result<Option<Vec<String>>>;
    fn read_link(&self, box_path: &str) -> Result<Option<String>>;
    /// Who other than root could change what is at `box_path`.
    fn nonroot_writer(&self, box_path: &str) -> Result<Option<String>>;
    /// A program's final box path, or why it cannot be run.
    fn program(&self, box_path: &str) -> Result<std::result::Result<String, String>>;
    /// The host path of a box path, for programs blotctl runs (`git -C DIR`).
    fn host_path(&self, box_path: &str) -> Result<PathBuf>;
    fn is_live(&self) -> bool;
    fn is_root(&self) -> bool;
    fn euid(&self) -> u32;
    fn which(&self, program: &str) -> Option<PathBuf>;
    /// Which file the program on PATH is (a validator's identity).
    fn program_id(&self, program: &str) -> Option<ProgramId>;
    /// A state-only command (`initctl list`), asked once per look at the box.
    fn query(&self, argv: &[&str]) -> Result<Output>;
    /// A command that reads and changes nothing on the box (`git show`, `git ls-remote`).
    fn ask(&self, argv: &[&str]) -> Result<Output>;
    /// A new look at the box: remembered [`Look::query`] answers are dropped.
    fn forget(&self);
    /// Validate files in a private copy of their tree (`visudo -c -f`, `nginx -t`).
    fn check_tree(&self, argv: &[&str], files: &[(String, Vec<u8>)], main: &str) -> Result<Output>;
    /// Validate files that go together in a private scratch directory (`monit -t`).
    fn check_in_scratch(&self, files: &[(&str, &[u8], u32)], wrap: &Wrap) -> Result<Output>;
    fn process_exists(&self, pid: u32) -> bool;
    fn probe_redis(&self, port: u16, timeout: Duration) -> Result<()>;
    fn probe_http(&self, port: u16, path: &str, host: &str, timeout: Duration) -> Result<u16>;

    /// A text file; `None` when it does not exist.
    fn read_text(&self, box_path: &str) -> Result<Option<String>> {
        match self.read(box_path)? {
            None => Ok(None),
            Some(b) => String::from_utf8(b)
                .map(Some)
                .map_err(|_| anyhow!("{box_path} is not valid UTF-8 text")),
        }
    }
}

impl Look for Sys {
    fn read(&self, p: &str) -> Result<Option<Vec<u8>>> {
        Sys::read(self, p)
    }
    fn observe(&self, p: &str) -> Result<Option<(Vec<u8>, Meta)>> {
        Sys::observe(self, p)
    }
    fn ensure_writable(&self, p: &str) -> Result<()> {
        Sys::ensure_writable(self, p)
    }
    fn meta(&self, p: &str) -> Result<Option<Meta>> {
        Sys::meta(self, p)
    }
    fn list_dir(&self, p: &str) -> Result<Option<Vec<String>>> {
        Sys::list_dir(self, p)
    }
    fn list_dir_unsorted(&self, p: &str) -> Result<Option<Vec<String>>> {
        Sys::list_dir_unsorted(self, p)
    }
    fn read_link(&self, p: &str) -> Result<Option<String>> {
        Sys::read_link(self, p)
    }
    fn nonroot_writer(&self, p: &str) -> Result<Option<String>> {
        Sys::nonroot_writer(self, p)
    }
    fn program(&self, p: &str) -> Result<std::result::Result<String, String>> {
        Sys::program(self, p)
    }
    fn host_path(&self, p: &str) -> Result<PathBuf> {
        Sys::host_path(self, p)
    }
    fn is_live(&self) -> bool {
        Sys::is_live(self)
    }
    fn is_root(&self) -> bool {
        Sys::is_root(self)
    }
    fn euid(&self) -> u32 {
        Sys::euid(self)
    }
    fn which(&self, program: &str) -> Option<PathBuf> {
        Sys::which(self, program)
    }
    fn program_id(&self, program: &str) -> Option<ProgramId> {
        Sys::program_id(self, program)
    }
    fn query(&self, argv: &[&str]) -> Result<Output> {
        Sys::query(self, argv)
    }
    fn ask(&self, argv: &[&str]) -> Result<Output> {
        Sys::ask(self, argv)
    }
    fn forget(&self) {
        Sys::forget(self)
    }
    fn check_tree(&self, argv: &[&str], files: &[(String, Vec<u8>)], main: &str) -> Result<Output> {
        Sys::check_tree(self, argv, files, main)
    }
    fn check_in_scratch(&self, files: &[(&str, &[u8], u32)], wrap: &Wrap) -> Result<Output> {
        Sys::check_in_scratch(self, files, wrap)
    }
    fn process_exists(&self, pid: u32) -> bool {
        Sys::process_exists(self, pid)
    }
    fn probe_redis(&self, port: u16, timeout: Duration) -> Result<()> {
        Sys::probe_redis(self, port, timeout)
    }
    fn probe_http(&self, port: u16, path: &str, host: &str, timeout: Duration) -> Result<u16> {
        Sys::probe_http(self, port, path, host, timeout)
    }
}
