//! The engine: the only place that applies changes, each [`Action`] through the concrete
//! [`Sys`] (steps only look, through `sys::Look`), after the journal saved what it alters.
//! It knows actions, not steps: jobs are started and restarted by `crate::jobs`, the
//! checkout fast-forwarded by `crate::git`.

use crate::ctx::Ctx;
use crate::jobs::{self, InitState};
use crate::journal::Journal;
use crate::plan::{Action, Change};
use crate::sys::{command_failure, Look, Sys};
use anyhow::{anyhow, bail, Context, Result};

/// What a run will need of the filesystem that holds one directory it writes.
#[derive(Default)]
struct Need {
    bytes: u64,
    inodes: u64,
}

/// Before anything changes: every directory the run will write (the files' own, the rc
/// link directories chkconfig edits, and the backups) must be on a writable filesystem,
/// not immutable, with room for the new files, their backups and a margin, in bytes *and*
/// inodes, counted per filesystem. A full, read-only or inode-starved filesystem fails the
/// run here, with nothing changed, rather than half-way through.
pub fn preflight<'a>(sys: &Sys, changes: impl IntoIterator<Item = &'a Change>) -> Result<()> {
    const MARGIN_BYTES: u64 = 64 * 1024;
    const MARGIN_INODES: u64 = 16;
    let dir_of = |p: &str| {
        std::path::Path::new(p)
            .parent()
            .map_or("/".to_string(), |d| d.to_string_lossy().into_owned())
    };
    let mut need: std::collections::BTreeMap<String, Need> = Default::default();
    let mut add = |dir: String, bytes: u64, inodes: u64| {
        let n = need.entry(dir).or_default();
        n.bytes += bytes;
        n.inodes += inodes;
    };
    let mut journaled = 0u64;
    let mut validated = false;
    for c in changes {
        journaled += 1;
        validated |= c.validated.is_some();
        match &c.action {
            Action::WriteFile { path, old, new, .. } => {
                // A temp file beside it; a blob of the old contents in the backups.
                add(dir_of(path), new.len() as u64, 1);
                if let Some(old) = old {
                    add(crate::journal::BACKUPS.into(), old.len() as u64, 1);
                }
            }
            Action::SetPerms { path, .. } | Action::RemovePath { path, .. } => {
                add(dir_of(path), 0, 0)
            }
            Action::CreateDir { path, .. } => add(dir_of(path), 4096, 1),
            Action::ChkconfigOff { .. } | Action::RestoreLinks { .. } => {
                for level in 0..=6u8 {
                    add(crate::plan::RcLink::dir(level), 0, 1);
                }
            }
            _ => {}
        }
    }
    if validated {
        // The record of what the validators accepted, beside the backups, is written after
        // a validated file: what is at its path must be replaceable now (no link, FIFO or
        // directory), or the run stops before its first change.
        let record = crate::validated::RECORD;
        let dir = sys
            .meta(record)?
            .is_some_and(|m| m.kind == crate::sys::Kind::Dir);
        sys.ensure_writable(record)
            .and_then(|()| {
                if dir {
                    bail!("{record} is a directory")
                }
                Ok(())
            })
            .with_context(|| {
                format!(
                    "{record} (blotctl's record of what the validators accepted) cannot be \
                     replaced, so this run could not finish; no managed file was changed"
                )
            })?;
        add(dir_of(record), 4096, 1);
    }
    if journaled > 0 {
        // The run's directory, blotctl's own directories, and the manifest rewritten
        // (atomically: a temp file beside it) after every entry.
        add(crate::journal::BACKUPS.into(), 4096 * (journaled + 4), 6);
    }
    // Directories on one filesystem share its room.
    let mut per_fs: Vec<(u64, Vec<String>, Need, crate::sys::Space)> = Vec::new();
    for (dir, n) in need {
        let space = sys.space(&dir)?;
        if space.read_only {
            bail!(
                "{dir} is on a read-only filesystem, so this run could not finish; no managed \
                 file was changed: remount it read-write and run again"
            );
        }
        if space.locked {
            bail!(
                "{dir} is immutable or append-only (chattr +i/+a), so this run could not \
                 finish; no managed file was changed: run `chattr -i -a` on it if that is not deliberate"
            );
        }
        match per_fs.iter_mut().find(|(id, ..)| *id == space.fs_id) {
            Some((_, dirs, total, _)) => {
                dirs.push(dir);
                total.bytes += n.bytes;
                total.inodes += n.inodes;
            }
            None => per_fs.push((space.fs_id, vec![dir], n, space)),
        }
    }
    for (_, dirs, n, space) in per_fs {
        let dirs = dirs.join(", ");
        if space.bytes < n.bytes + MARGIN_BYTES {
            bail!(
                "not enough free space for {dirs}: {} bytes free, {} needed (new files, \
                 backups and a margin); no managed file was changed: free some space and run again",
                space.bytes,
                n.bytes + MARGIN_BYTES
            );
        }
        if space.inodes < n.inodes + MARGIN_INODES {
            bail!(
                "no free inodes for {dirs}: {} free, {} needed (new files, temp files, backups \
                 and a margin); no managed file was changed: remove files there and run again",
                space.inodes,
                n.inodes + MARGIN_INODES
            );
        }
    }
    Ok(())
}

/// Apply one change, after the journal saved what it alters. The world is checked again
/// first: a file that changed since it was planned is not overwritten.
pub fn apply(sys: &Sys, ctx: &Ctx, change: &Change, journal: &mut Journal) -> Result<()> {
    if let Some(why) = &change.blocked {
        bail!("cannot {}: {why}", change.summary);
    }
    journal.record(sys, ctx, change)?;
    crate::sys::fault::point("apply");
    match &change.action {
        Action::WriteFile {
            path,
            old,
            new,
            perms,
            ..
        } => {
            if sys.observe(path)?.map(|(bytes, _)| bytes) != *old {
                bail!("{path} changed while blotctl was running; nothing was written to it (run again)");
            }
            sys.write_atomic(path, new, perms.mode, perms.uid, perms.gid)?;
            match (&change.validated, journal.run_id()) {
                (Some(v), Some(run)) => crate::validated::record(sys, v, run).with_context(|| {
                    format!("{path} was written, but what validated it could not be recorded")
                }),
                _ => Ok(()),
            }
        }
        Action::SetPerms { path, from, to } => sys.set_meta(
            path,
            Some((from.mode, from.uid, from.gid)),
            to.mode,
            to.uid,
            to.gid,
        ),
        Action::CreateDir { path, perms } => sys.create_dir(path, perms.mode, perms.uid, perms.gid),
        Action::RemovePath { path, old } => {
            // A file must still be what was observed; a directory must be empty (removing
            // one that is not fails, leaving it as it is).
            if let Some(old) = old {
                if sys.observe(path)?.map(|(bytes, _)| bytes).as_ref() != Some(old) {
                    bail!("{path} changed while blotctl was running; left as it is (run again)");
                }
            }
            sys.remove(path)
        }
        Action::Run { argv } => {
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            run_ok(sys, &argv)
        }
        Action::ReloadJobs { jobs } => {
            run_ok(sys, &["initctl", "reload-configuration"])?;
            match jobs::observe(ctx)? {
                InitState::Unknown(why) => bail!("init state unknown after reload: {why}"),
                InitState::Known(list) => {
                    match jobs.iter().find(|j| !list.iter().any(|l| &l.name == *j)) {
                        Some(missing) => Err(jobs::not_loaded(missing)),
                        None => Ok(()),
                    }
                }
            }
        }
        Action::ChkconfigOff { service } => run_ok(sys, &["chkconfig", service, "off"]),
        Action::FastForward {
            git,
            dir,
            remote,
            branch,
            from,
            to,
        } => crate::git::fast_forward(
            sys,
            &crate::git::Git::with_prefix(git.clone()),
            dir,
            remote,
            branch,
            from,
            to,
        ),
        Action::RestoreLinks {
            service,
            from,
            links,
        } => {
            let now = crate::journal::service_links(sys, service)?;
            let sorted = |l: &[crate::plan::RcLink]| {
                let mut l = l.to_vec();
                l.sort_by(|a, b| (a.level, &a.name).cmp(&(b.level, &b.name)));
                l
            };
            if sorted(&now) != sorted(from) {
                bail!(
                    "the rc links of {service} changed while blotctl was running; left as they \
                     are (run again)"
                );
            }
            for l in now.iter().filter(|l| !links.contains(l)) {
                sys.remove(&l.path())?;
            }
            for l in links.iter().filter(|l| !now.contains(l)) {
                sys.symlink(&l.path(), &l.target)?;
            }
            Ok(())
        }
        Action::StartJob { job } => jobs::start(sys, ctx, job),
        Action::StopJob { job } => jobs::stop(sys, job),
        Action::RestartJob {
            job,
            dependents,
            probe,
        } => jobs::restart(sys, ctx, job, dependents, *probe),
        Action::SetKernel { path, from, to } => {
            let read = || -> Result<String> {
                let raw = sys
                    .read_text(path)?
                    .ok_or_else(|| anyhow!("{path} does not exist"))?;
                Ok(crate::plan::kernel_value(&raw))
            };
            let now = read()?;
            if now != *from {
                bail!("{path} changed while blotctl was running (now {now}); left as it is (run again)");
            }
            sys.write_kernel_value(path, to)?;
            let after = read()?;
            if after != *to {
                bail!("wrote {to} to {path}, but it reads {after}");
            }
            Ok(())
        }
    }
}

fn run_ok(sys: &Sys, argv: &[&str]) -> Result<()> {
    let out = sys.run(argv)?;
    if out.success() {
        Ok(())
    } else {
        bail!("{}", command_failure(argv, &out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Perms, RcLink};

    /// Apply one change on a scratch root whose state changed after it was planned: the
    /// engine must re-check what was observed and leave the path as it is.
    fn apply_stale(
        setup: impl Fn(&std::path::Path),
        change: Change,
    ) -> (tempfile::TempDir, String) {
        let t = tempfile::tempdir().unwrap();
        setup(t.path());
        let sys = crate::sys::Sys::new(t.path()).unwrap();
        let settings = crate::config::Settings::default();
        let ctx = Ctx {
            sys: &sys,
            settings: &settings,
            no_start: true,
            offline: false,
        };
        let mut journal = Journal::new("test", None);
        let err = apply(&sys, &ctx, &change, &mut journal).unwrap_err();
        (t, format!("{err:#}"))
    }

    #[test]
    fn remove_path_rechecks_the_contents() {
        let (t, err) = apply_stale(
            |r| {
                std::fs::create_dir_all(r.join("etc/init")).unwrap();
                std::fs::write(r.join("etc/init/blot.conf"), "edited since\n").unwrap();
            },
            Change::new(
                "remove",
                Action::RemovePath {
                    path: "/etc/init/blot.conf".into(),
                    old: Some(b"as planned\n".to_vec()),
                },
            ),
        );
        assert!(err.contains("changed while blotctl was running"), "{err}");
        let left = std::fs::read_to_string(t.path().join("etc/init/blot.conf")).unwrap();
        assert_eq!(left, "edited since\n");
    }

    #[test]
    fn create_dir_refuses_one_that_appeared() {
        let (t, err) = apply_stale(
            |r| std::fs::create_dir_all(r.join("var/www/blot/logs")).unwrap(),
            Change::new(
                "create",
                Action::CreateDir {
                    path: "/var/www/blot/logs".into(),
                    perms: Perms {
                        mode: 0o755,
                        uid: 500,
                        gid: 500,
                    },
                },
            ),
        );
        assert!(err.contains("exists already"), "{err}");
        let m = std::fs::metadata(t.path().join("var/www/blot/logs")).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::uid(&m), 0);
    }

    #[test]
    fn restore_links_rechecks_the_links() {
        let link = |name: &str| RcLink {
            level: 3,
            name: name.into(),
            target: "../init.d/redis".into(),
        };
        let (t, err) = apply_stale(
            |r| {
                for l in 0..=6 {
                    std::fs::create_dir_all(r.join(format!("etc/rc.d/rc{l}.d"))).unwrap();
                }
                std::os::unix::fs::symlink("../init.d/redis", r.join("etc/rc.d/rc3.d/K80redis"))
                    .unwrap();
            },
            Change::new(
                "restore",
                Action::RestoreLinks {
                    service: "redis".into(),
                    from: vec![link("S20redis")],
                    links: vec![link("S20redis"), link("S21redis")],
                },
            ),
        );
        assert!(err.contains("rc links of redis changed"), "{err}");
        assert!(t
            .path()
            .join("etc/rc.d/rc3.d/K80redis")
            .symlink_metadata()
            .is_ok());
        assert!(t
            .path()
            .join("etc/rc.d/rc3.d/S21redis")
            .symlink_metadata()
            .is_err());
    }
}
