//! An in-memory box for the steps' unit tests: files, directories and links with modes and
//! owners, and the answers of the commands a step asks (`initctl list`, `visudo -c`, git).
//! It keeps [`Sys`]'s rules where a step can tell (a link on the way of a managed file is
//! refused, only root's files are trusted, a link is resolved inside the box) and is no
//! kinder: a command it has no answer for fails, nothing listens on the network.
//!
//! [`FakeBox::fixture`] is the fixture box (`fixtures/boxes/amazon-linux-2018.03`, with
//! its `.modes` and `.owners`), read once through a real [`Sys`].

use super::{Kind, Look, Meta, Output, Sys, Wrap};
use anyhow::{anyhow, bail, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

#[derive(Debug, Clone)]
enum Node {
    File(Vec<u8>),
    Dir,
    Link(String),
}

/// A box in memory.
#[derive(Debug, Clone, Default)]
pub struct FakeBox {
    nodes: BTreeMap<String, (Node, Meta)>,
    answers: BTreeMap<String, Output>,
    on_path: Vec<String>,
}

fn meta(kind: Kind, mode: u32, uid: u32, gid: u32) -> Meta {
    Meta {
        kind,
        mode,
        uid,
        gid,
        nlink: 1,
    }
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// `..` and `.` taken out lexically, as the kernel does under a chroot.
fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

impl FakeBox {
    /// The fixture box, as the tests copy it: its tree with the modes and owners git does
    /// not keep.
    pub fn fixture() -> FakeBox {
        static FIXTURE: OnceLock<FakeBox> = OnceLock::new();
        FIXTURE.get_or_init(load_fixture).clone()
    }

    /// Put `text` at `path` (its directories must exist): a new file is root's, 0644; an
    /// existing one keeps its mode and owner.
    pub fn write(&mut self, path: &str, text: &str) -> &mut Self {
        assert!(
            matches!(self.nodes.get(parent(path)), Some((Node::Dir, _))) || parent(path) == "/",
            "fake box: no directory {}",
            parent(path)
        );
        let m = match self.nodes.get(path) {
            Some((Node::File(_), m)) => *m,
            _ => meta(Kind::File, 0o644, 0, 0),
        };
        self.nodes
            .insert(path.into(), (Node::File(text.as_bytes().to_vec()), m));
        self
    }

    pub fn mkdir(&mut self, path: &str, mode: u32, uid: u32, gid: u32) -> &mut Self {
        self.nodes
            .insert(path.into(), (Node::Dir, meta(Kind::Dir, mode, uid, gid)));
        self
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        self.nodes.insert(
            path.into(),
            (Node::Link(target.into()), meta(Kind::Symlink, 0o777, 0, 0)),
        );
        self
    }

    pub fn chmod(&mut self, path: &str, mode: u32, uid: u32, gid: u32) -> &mut Self {
        let (_, m) = self
            .nodes
            .get_mut(path)
            .unwrap_or_else(|| panic!("fake box: no {path}"));
        (m.mode, m.uid, m.gid) = (mode, uid, gid);
        self
    }

    /// Remove a path and everything under it.
    pub fn remove(&mut self, path: &str) -> &mut Self {
        let under = format!("{path}/");
        self.nodes
            .retain(|p, _| p != path && !p.starts_with(&under));
        self
    }

    /// What the command `argv` (words joined by spaces) answers; for `check_tree` and
    /// `check_in_scratch`, the program's name alone.
    pub fn answer(&mut self, argv: &str, status: i32, stdout: &str, stderr: &str) -> &mut Self {
        self.answers.insert(
            argv.into(),
            Output {
                status,
                stdout: stdout.into(),
                stderr: stderr.into(),
            },
        );
        self
    }

    /// A program `which` finds (as /usr/bin/NAME).
    pub fn on_path(&mut self, program: &str) -> &mut Self {
        self.on_path.push(program.into());
        self
    }

    /// The text at `path`, for assertions.
    pub fn text(&self, path: &str) -> Option<String> {
        match self.nodes.get(path) {
            Some((Node::File(b), _)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    fn node(&self, path: &str) -> Option<&(Node, Meta)> {
        self.nodes.get(path)
    }

    /// Resolve links inside the box: every component but the last always, the last when
    /// `follow`. `Ok(None)` when something on the way does not exist.
    fn resolve(&self, path: &str, follow: bool) -> Result<Option<String>> {
        let mut todo: Vec<String> = normalize(path)
            .split('/')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .rev()
            .collect();
        let mut cur = String::new();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            let next = format!("{cur}/{c}");
            let last = todo.is_empty();
            match self.node(&next) {
                None => return Ok(None),
                Some((Node::Link(target), _)) if !last || follow => {
                    hops += 1;
                    if hops > 40 {
                        bail!("{path}: too many levels of symbolic links");
                    }
                    let joined = if target.starts_with('/') {
                        target.clone()
                    } else {
                        format!("{cur}/{target}")
                    };
                    todo.extend(
                        normalize(&joined)
                            .split('/')
                            .filter(|c| !c.is_empty())
                            .map(String::from)
                            .rev(),
                    );
                    cur = String::new();
                }
                Some(_) => cur = next,
            }
        }
        Ok(Some(if cur.is_empty() { "/".into() } else { cur }))
    }

    /// A managed path: no link anywhere on the way.
    fn unlinked(&self, path: &str) -> Result<()> {
        let mut prefix = String::new();
        for c in path.split('/').filter(|c| !c.is_empty()) {
            prefix = format!("{prefix}/{c}");
            if let Some((Node::Link(_), _)) = self.node(&prefix) {
                bail!("{prefix} is a symlink; blotctl does not follow links on a path it manages");
            }
        }
        Ok(())
    }

    fn asked(&self, argv: &[&str]) -> Result<Output> {
        let cmd = argv.join(" ");
        self.answers
            .get(&cmd)
            .cloned()
            .ok_or_else(|| anyhow!("cannot run `{cmd}`: the fake box has no answer for it"))
    }
}

impl Look for FakeBox {
    fn read(&self, box_path: &str) -> Result<Option<Vec<u8>>> {
        let Some(real) = self.resolve(box_path, true)? else {
            return Ok(None);
        };
        match self.node(&real) {
            Some((Node::File(b), _)) => Ok(Some(b.clone())),
            Some(_) => bail!("{box_path} is a directory, not a regular file"),
            None => Ok(None),
        }
    }

    fn observe(&self, box_path: &str) -> Result<Option<(Vec<u8>, Meta)>> {
        self.unlinked(box_path)?;
        match self.node(box_path) {
            None => Ok(None),
            Some((Node::File(b), m)) if m.nlink == 1 => Ok(Some((b.clone(), *m))),
            Some((Node::File(_), m)) => bail!("{box_path} has {} hard links", m.nlink),
            Some(_) => bail!("{box_path} is not a regular file"),
        }
    }

    fn ensure_writable(&self, box_path: &str) -> Result<()> {
        self.unlinked(box_path)
    }

    fn meta(&self, box_path: &str) -> Result<Option<Meta>> {
        Ok(self
            .resolve(box_path, false)?
            .and_then(|p| self.node(&p).map(|(_, m)| *m))
            .or_else(|| (box_path == "/").then(|| meta(Kind::Dir, 0o755, 0, 0))))
    }

    fn list_dir(&self, box_path: &str) -> Result<Option<Vec<String>>> {
        let Some(real) = self.resolve(box_path, true)? else {
            return Ok(None);
        };
        let under = if real == "/" {
            "/".to_string()
        } else {
            format!("{real}/")
        };
        Ok(Some(
            self.nodes
                .keys()
                .filter_map(|p| p.strip_prefix(&under))
                .filter(|rest| !rest.is_empty() && !rest.contains('/'))
                .map(String::from)
                .collect(),
        ))
    }

    /// The fake box keeps no directory order of its own: sorted.
    fn list_dir_unsorted(&self, box_path: &str) -> Result<Option<Vec<String>>> {
        self.list_dir(box_path)
    }

    fn read_link(&self, box_path: &str) -> Result<Option<String>> {
        Ok(match self.node(box_path) {
            Some((Node::Link(t), _)) => Some(t.clone()),
            _ => None,
        })
    }

    fn nonroot_writer(&self, box_path: &str) -> Result<Option<String>> {
        let mut prefix = String::new();
        for c in box_path.split('/').filter(|c| !c.is_empty()) {
            prefix = format!("{prefix}/{c}");
            let Some((_, m)) = self.node(&prefix) else {
                break;
            };
            let why = if m.kind == Kind::Symlink {
                format!("{prefix} is a symlink")
            } else if m.uid != 0 {
                format!("{prefix} belongs to uid {}", m.uid)
            } else if m.mode & 0o020 != 0 && m.gid != 0 {
                format!(
                    "{prefix} is writable by group {} (mode {:04o})",
                    m.gid, m.mode
                )
            } else if m.mode & 0o002 != 0 {
                format!("{prefix} is writable by everyone (mode {:04o})", m.mode)
            } else {
                continue;
            };
            return Ok(Some(why));
        }
        Ok(None)
    }

    fn program(&self, box_path: &str) -> Result<std::result::Result<String, String>> {
        let Some(real) = self.resolve(box_path, true)? else {
            return Ok(Err(format!("{box_path} does not exist")));
        };
        Ok(match self.node(&real) {
            Some((Node::File(_), m)) if m.mode & 0o111 != 0 => Ok(real),
            Some((Node::File(_), m)) => {
                Err(format!("{real} is not executable (mode {:04o})", m.mode))
            }
            _ => Err(format!("{real} is not a regular file")),
        })
    }

    fn host_path(&self, box_path: &str) -> Result<PathBuf> {
        Ok(Path::new("/fake-box").join(box_path.trim_start_matches('/')))
    }

    fn is_live(&self) -> bool {
        false
    }

    fn is_root(&self) -> bool {
        true
    }

    fn euid(&self) -> u32 {
        0
    }

    fn which(&self, program: &str) -> Option<PathBuf> {
        self.on_path
            .iter()
            .any(|p| p == program)
            .then(|| PathBuf::from(format!("/usr/bin/{program}")))
    }

    fn program_id(&self, program: &str) -> Option<crate::sys::ProgramId> {
        self.which(program).map(|p| crate::sys::ProgramId {
            path: p.to_string_lossy().into_owned(),
            dev: 0,
            ino: 0,
            size: 0,
            mtime: (0, 0),
            ctime: (0, 0),
        })
    }

    fn query(&self, argv: &[&str]) -> Result<Output> {
        self.asked(argv)
    }

    fn ask(&self, argv: &[&str]) -> Result<Output> {
        self.asked(argv)
    }

    fn forget(&self) {}

    fn check_tree(&self, argv: &[&str], _: &[(String, Vec<u8>)], _: &str) -> Result<Output> {
        self.asked(&argv[..1])
    }

    fn check_in_scratch(&self, _: &[(&str, &[u8], u32)], wrap: &Wrap) -> Result<Output> {
        let (_, _, argv) = wrap(Path::new("/scratch"));
        self.asked(&[argv[0].as_str()])
    }

    fn process_exists(&self, _: u32) -> bool {
        false
    }

    fn probe_redis(&self, port: u16, _: Duration) -> Result<()> {
        bail!("connection refused: nothing listens on 127.0.0.1:{port} (fake box)")
    }

    fn probe_http(&self, port: u16, _: &str, _: &str, _: Duration) -> Result<u16> {
        bail!("connection refused: nothing listens on 127.0.0.1:{port} (fake box)")
    }
}

/// The fixture box, read through a real [`Sys`]; modes and owners from its `.modes` and
/// `.owners` (`MODE PATH`, `UID:GID PATH`, paths relative to the box).
fn load_fixture() -> FakeBox {
    let boxes = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/boxes");
    let sys = Sys::new(&boxes.join("amazon-linux-2018.03")).expect("the fixture box");
    let mut b = FakeBox::default();
    let mut todo = vec!["/".to_string()];
    while let Some(dir) = todo.pop() {
        for name in sys.list_dir(&dir).unwrap().unwrap_or_default() {
            let path = normalize(&format!("{dir}/{name}"));
            let m = sys.meta(&path).unwrap().expect("listed");
            let node = match m.kind {
                Kind::Dir => {
                    todo.push(path.clone());
                    Node::Dir
                }
                Kind::Symlink => Node::Link(sys.read_link(&path).unwrap().unwrap()),
                _ => Node::File(sys.read(&path).unwrap().unwrap()),
            };
            let mode = if m.kind == Kind::Symlink {
                0o777
            } else {
                0o644
            };
            let mode = if m.kind == Kind::Dir { 0o755 } else { mode };
            b.nodes.insert(path, (node, meta(m.kind, mode, 0, 0)));
        }
    }
    let listed = |file: &str| {
        let text = sys.read_host_text(&boxes.join(file)).unwrap();
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    for line in listed("amazon-linux-2018.03.modes") {
        let (mode, path) = line.split_once(' ').expect("MODE PATH");
        let path = normalize(path);
        if let Some((_, m)) = b.nodes.get_mut(&path) {
            m.mode = u32::from_str_radix(mode, 8).expect("octal mode");
        }
    }
    for line in listed("amazon-linux-2018.03.owners") {
        let (ids, path) = line.split_once(' ').expect("UID:GID PATH");
        let (uid, gid) = ids.split_once(':').expect("UID:GID");
        if let Some((_, m)) = b.nodes.get_mut(&normalize(path)) {
            (m.uid, m.gid) = (uid.parse().unwrap(), gid.parse().unwrap());
        }
    }
    b
}
