//! `blotctl capture DEST`: a copy of the box for CI, holding exactly what planning and
//! `verify --offline` look at.
//!
//! What to copy is not a list kept by hand: `verify --offline` runs once on the box with
//! `sys` recording every path it reads, lists or `lstat`s ([`Seen`]). Each path is then
//! copied into DEST by resolving it one component at a time, the way the kernel would but
//! under the root: a link is copied as a link and its target followed as a box path (an
//! absolute target resolves under the root, `..` never climbs above it), so nothing outside
//! the tree is ever read. Files keep their mode and owner (owners only when run as root),
//! links their target. A file that was read is copied whole; one only looked at (e.g. a
//! log's owner) is created empty with its metadata; a listed directory gets its entries.
//!
//! Left out, and listed in DEST/blotctl-capture.json with the reason: secrets (shadow,
//! gshadow, keys: planning never needs them), what is neither file, directory nor link
//! among the entries of a listed directory, and links too deep. A box that planning cannot
//! read (a step fails), or a file planning read that cannot be copied whole, fails the
//! capture: a partial copy would give a false plan in CI. The copy is built beside DEST
//! and put there whole (renamed, or a tarball created exclusively, mode 0600), or not at
//! all.

use crate::config::{Settings, DEFAULT_CONFIG};
use crate::ctx::Ctx;
use crate::failure::{kinded, ErrorKind, UsageError, EXIT_OK};
use crate::outcome::Outcome;
use crate::printer::Printer;
use crate::sys::{Kind, Meta, Seen, Sys};
use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The capture's own record, at the top of the copy (a box path nothing else uses).
pub const MANIFEST: &str = "/blotctl-capture.json";
/// The largest file copied (planning reads configs of a few kB).
pub const MAX_FILE: usize = 4 << 20;
/// How the manifest names a file copied empty: planning looks only at its metadata.
const METADATA_ONLY: &str = "file, metadata only (contents never read)";
/// Links followed in one path before giving up (as the kernel's ELOOP).
const MAX_LINKS: usize = 40;

/// Secrets: never copied, even when a setting or a link points at them.
fn secret(path: &str) -> bool {
    const FILES: [&str; 5] = [
        "/etc/shadow",
        "/etc/shadow-",
        "/etc/gshadow",
        "/etc/gshadow-",
        "/etc/security/opasswd",
    ];
    let name = path.rsplit('/').next().unwrap_or("");
    FILES.contains(&path)
        || path
            .split('/')
            .any(|c| matches!(c, ".ssh" | ".gnupg" | ".aws" | "ssl" | "pki"))
        || name.starts_with("ssh_host_")
        || name.starts_with("id_")
        || [".key", "_key", ".pem", ".p12", ".pfx"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// What the capture did, as written to [`MANIFEST`] (and `capture` in `--json`).
#[derive(Debug, Default, Serialize)]
pub struct Manifest {
    /// The tree captured: `/` on the box, or the `--root` directory.
    pub from: String,
    pub blotctl: String,
    /// Whether files keep their owners (only a capture run as root can set them).
    pub owners_kept: bool,
    /// Box paths in the copy, with what each is (`file`, `dir`, `link -> TARGET`,
    /// `file, metadata only`).
    pub copied: BTreeMap<String, String>,
    /// Box paths not copied, and why.
    pub left_out: BTreeMap<String, String>,
}

struct Copier<'a> {
    from: &'a Sys,
    to: &'a Sys,
    owner: Option<(u32, u32)>,
    m: Manifest,
}

/// A box path's components, `..` resolved without climbing above the root.
fn normalize(parts: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in parts {
        match p.as_str() {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            _ => out.push(p),
        }
    }
    out
}

fn box_path(parts: &[String]) -> String {
    format!("/{}", parts.join("/"))
}

impl Copier<'_> {
    fn owners(&self, m: Meta) -> (u32, u32) {
        self.owner.unwrap_or((m.uid, m.gid))
    }

    fn leave_out(&mut self, path: &str, why: impl Into<String>) {
        self.m.left_out.insert(path.to_string(), why.into());
    }

    /// Copy `path` as it was seen: every directory on the way, every link met (and what it
    /// points to), then the path itself.
    fn copy(&mut self, path: &str, seen: Seen) -> Result<()> {
        let mut done: Vec<String> = Vec::new();
        let mut rest: Vec<String> = normalize(path.split('/').map(String::from));
        rest.reverse();
        let mut links = 0;
        while let Some(part) = rest.pop() {
            let mut parts = done.clone();
            parts.push(part);
            let p = box_path(&parts);
            if secret(&p) {
                self.leave_out(&p, "a secret: planning never needs it");
                return Ok(());
            }
            let Some(meta) = self.from.meta(&p)? else {
                return Ok(()); // absent on the box, so absent in the copy
            };
            let last = rest.is_empty();
            match meta.kind {
                Kind::Symlink => {
                    let target = self
                        .from
                        .read_link(&p)?
                        .ok_or_else(|| anyhow!("{p} disappeared while being copied"))?;
                    self.link(&p, &target)?;
                    // A link only looked at is copied as itself; one read or listed through
                    // is followed, as the program did, but under the root.
                    if last && seen == Seen::Meta {
                        return Ok(());
                    }
                    links += 1;
                    if links > MAX_LINKS {
                        self.leave_out(&p, "too many levels of links");
                        return Ok(());
                    }
                    let base = if target.starts_with('/') {
                        Vec::new()
                    } else {
                        done.clone()
                    };
                    let mut next: Vec<String> = base;
                    next.extend(target.split('/').map(String::from));
                    next.extend(rest.drain(..).rev());
                    rest = normalize(next);
                    rest.reverse();
                    done.clear();
                }
                Kind::Dir => {
                    self.dir(&p, meta)?;
                    if last && seen == Seen::Listed {
                        for name in self.from.list_dir(&p)?.unwrap_or_default() {
                            self.copy(&format!("{p}/{name}"), Seen::Meta)?;
                        }
                    }
                    done = parts;
                }
                Kind::File if last => return self.file(&p, meta, seen),
                Kind::File => return Ok(()), // not a directory: the path does not resolve
                Kind::Other if last && seen == Seen::Read => {
                    bail!("{p} is neither a file, a directory nor a link")
                }
                Kind::Other => {
                    self.leave_out(&p, "neither a file, a directory nor a link");
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn dir(&mut self, p: &str, meta: Meta) -> Result<()> {
        if self.m.copied.contains_key(p) || p == "/" {
            return Ok(());
        }
        let (uid, gid) = self.owners(meta);
        self.to.create_dir(p, meta.mode, uid, gid)?;
        self.m.copied.insert(p.to_string(), "dir".into());
        Ok(())
    }

    fn link(&mut self, p: &str, target: &str) -> Result<()> {
        if self.m.copied.contains_key(p) {
            return Ok(());
        }
        self.to.symlink(p, target)?;
        self.m
            .copied
            .insert(p.to_string(), format!("link -> {target}"));
        Ok(())
    }

    fn file(&mut self, p: &str, meta: Meta, seen: Seen) -> Result<()> {
        // Copied already; unless only its metadata was, and now its contents were read
        // (a file in a listed directory, e.g. /etc/sudoers.d, read through sudoers).
        match self.m.copied.get(p) {
            Some(what) if !(what == METADATA_ONLY && seen == Seen::Read) => return Ok(()),
            _ => {}
        }
        let (uid, gid) = self.owners(meta);
        let (bytes, what) = if seen == Seen::Read {
            // Planning read it: a copy without it would plan falsely, so a file that cannot
            // be copied whole fails the capture.
            match self.from.read(p)? {
                Some(b) if b.len() > MAX_FILE => {
                    bail!("{p} is larger than {} MiB", MAX_FILE >> 20)
                }
                Some(b) => (b, "file"),
                None => return Ok(()),
            }
        } else {
            (Vec::new(), METADATA_ONLY)
        };
        self.to.write_atomic(p, &bytes, meta.mode, uid, gid)?;
        self.m.copied.insert(p.to_string(), what.into());
        Ok(())
    }
}

/// Where the copy goes: a directory (new, or empty), or a tarball (`.tar`, `.tar.gz`,
/// `.tgz`; `-z` when compressed).
enum Dest<'a> {
    Dir(&'a Path),
    Tar(&'a Path, bool),
}

fn dest_of(dest: &Path) -> Result<Dest<'_>> {
    let name = dest.to_string_lossy();
    let d = if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Dest::Tar(dest, true)
    } else if name.ends_with(".tar") {
        Dest::Tar(dest, false)
    } else {
        Dest::Dir(dest)
    };
    let meta = Sys::host_meta(dest)?;
    if meta.is_some_and(|m| m.kind == Kind::Symlink) {
        return Err(UsageError(format!(
            "{} is a symlink: capture writes only where it is told, not where a link points",
            dest.display()
        ))
        .into());
    }
    let empty_dir = || {
        meta.is_some_and(|m| m.kind == Kind::Dir) && Sys::host_dir_is_empty(dest).unwrap_or(false)
    };
    match d {
        Dest::Tar(..) if meta.is_some() => Err(UsageError(format!(
            "{} already exists: capture never overwrites",
            dest.display()
        ))
        .into()),
        Dest::Dir(_) if meta.is_some() && !empty_dir() => Err(UsageError(format!(
            "{} exists and is not an empty directory: capture writes a new tree",
            dest.display()
        ))
        .into()),
        d => Ok(d),
    }
}

/// `blotctl capture DEST`.
pub fn run(sys: &Sys, settings: &Settings, dest: &Path, printer: Printer) -> Result<u8> {
    let kind = dest_of(dest)?;
    // What planning and `verify --offline` look at, recorded on a files-only look.
    let ctx = Ctx {
        sys,
        settings,
        no_start: false,
        offline: true,
    };
    sys.record();
    let planned = crate::steps::plan_all(&ctx, &crate::steps::all());
    // A step that could not read the box stopped reading there: what it would have read
    // next is not recorded, so a capture would be incomplete and plan falsely in CI.
    let unreadable: Vec<String> = planned
        .iter()
        .filter_map(|p| p.plan.as_ref().err().map(|e| format!("{}: {e:#}", p.name)))
        .collect();
    drop(crate::verify::checks_of(&ctx, planned));
    let mut seen = sys.recorded();
    // blotctl's own state is not the box's: verify reads what the validators accepted
    // here (`crate::validated`), but a copy's files are checked by the validators there.
    let state = format!("{}/", crate::journal::STATE);
    seen.retain(|p, _| !p.starts_with(&state) && p != crate::journal::STATE);
    if !unreadable.is_empty() {
        return Err(kinded(
            ErrorKind::Refused,
            anyhow!(
                "cannot capture {}: planning cannot read it, so a copy would be incomplete \
                 and give a false plan; nothing was written to {}:\n  {}",
                sys.root().display(),
                dest.display(),
                unreadable.join("\n  ")
            ),
        ));
    }
    // Read before the recording began (settings come first); and what the box is checked by.
    seen.insert(DEFAULT_CONFIG.into(), Seen::Read);

    // Built beside DEST and put there whole at the end, or not at all.
    let staging = Sys::staging_beside(dest)?;
    let root_meta = sys.meta("/")?.ok_or_else(|| anyhow!("the root has gone"))?;
    let owner = (!sys.is_root()).then(|| (sys.euid(), rustix::process::getegid().as_raw()));
    let mut c = Copier {
        from: sys,
        to: &staging.sys,
        owner,
        m: Manifest {
            from: sys.root().display().to_string(),
            blotctl: env!("BLOTCTL_BUILD_VERSION").to_string(),
            owners_kept: owner.is_none(),
            ..Manifest::default()
        },
    };
    let (uid, gid) = c.owners(root_meta);
    c.to.set_meta("/", None, root_meta.mode, uid, gid)?;
    for (path, how) in &seen {
        c.copy(path, *how).with_context(|| {
            format!(
                "cannot capture {path}, which planning reads; nothing was written to {}",
                dest.display()
            )
        })?;
    }
    let manifest = c.m;
    let text = serde_json::to_vec_pretty(&manifest)?;
    staging.sys.write_atomic(MANIFEST, &text, 0o644, uid, gid)?;
    match kind {
        Dest::Dir(d) => staging.place_dir(d)?,
        Dest::Tar(file, gz) => staging.place_tar(file, gz)?,
    }

    let mut o = Outcome::new("capture", false);
    o.extra.insert(
        "capture".into(),
        serde_json::json!({"dest": dest.display().to_string(), "manifest": manifest}),
    );
    if !crate::report::print_document(&o, printer.format) {
        crate::outln!(
            "captured {} paths of {} into {} ({})",
            manifest.copied.len(),
            manifest.from,
            dest.display(),
            if manifest.owners_kept {
                "modes, owners and links kept"
            } else {
                "modes and links kept; owners are yours: run it as root to keep them"
            }
        );
        for (p, why) in &manifest.left_out {
            crate::outln!("  left out {p}: {why}");
        }
        crate::outln!(
            "the list is in {MANIFEST} inside it; check a change with `blotctl --root DIR \
             provision --dry-run`"
        );
    }
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_named_by_path() {
        for s in [
            "/etc/shadow",
            "/etc/gshadow",
            "/etc/ssh/ssh_host_rsa_key",
            "/home/ec2-user/.ssh/authorized_keys",
            "/root/.ssh/id_ed25519",
            "/etc/pki/tls/private/site.key",
            "/etc/nginx/site.pem",
        ] {
            assert!(secret(s), "{s}");
        }
        for s in [
            "/etc/passwd",
            "/etc/sudoers",
            "/etc/init/blot.conf",
            "/etc/group",
        ] {
            assert!(!secret(s), "{s}");
        }
    }

    #[test]
    fn dot_dot_never_climbs_above_the_root() {
        let n = |s: &str| box_path(&normalize(s.split('/').map(String::from)));
        assert_eq!(n("/etc/../../../shadow"), "/shadow");
        assert_eq!(
            n("/etc/rc.d/./rc3.d/../init.d/redis"),
            "/etc/rc.d/init.d/redis"
        );
        assert_eq!(n("/"), "/");
    }
}
