//! The engine: plans every step, and is the only place that applies changes.
//!
//! `provision --dry-run`, `provision` and `verify` all start from [`plan_all`]. A real run
//! applies only after every step planned without error and nothing is blocked (so a bad
//! input fails with nothing changed), then plans again: whatever is left "did not converge".

use crate::journal::Journal;
use crate::plan::{Action, Change, StepPlan};
use crate::steps::init::InitState;
use crate::steps::{Ctx, Step};
use crate::sys::command_failure;
use crate::upstart::{classify_stderr, parse_status, InitctlError};
use anyhow::{anyhow, bail, Result};
use std::time::{Duration, Instant};

/// One step's plan, or why it could not observe.
pub struct Planned {
    pub name: &'static str,
    pub plan: Result<StepPlan>,
}

impl Planned {
    pub fn changes(&self) -> &[Change] {
        match &self.plan {
            Ok(p) => &p.changes,
            Err(_) => &[],
        }
    }
}

/// Plan every step in order; each sees the changes planned before it.
pub fn plan_all(ctx: &Ctx, steps: &[Box<dyn Step>]) -> Vec<Planned> {
    plan_all_with(ctx, steps, |_| {})
}

/// [`plan_all`], telling `progress` which step it is planning.
pub fn plan_all_with(
    ctx: &Ctx,
    steps: &[Box<dyn Step>],
    mut progress: impl FnMut(&'static str),
) -> Vec<Planned> {
    // A new look at the box: nothing remembered from an earlier pass counts.
    ctx.sys.forget();
    let mut earlier: Vec<Change> = Vec::new();
    let mut out = Vec::new();
    for step in steps {
        progress(step.name());
        let plan = step.plan(ctx, &earlier);
        if let Ok(p) = &plan {
            earlier.extend(p.changes.iter().cloned());
        }
        out.push(Planned {
            name: step.name(),
            plan,
        });
    }
    out
}

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
pub fn preflight<'a>(ctx: &Ctx, changes: impl IntoIterator<Item = &'a Change>) -> Result<()> {
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
    for c in changes {
        journaled += 1;
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
    if journaled > 0 {
        // The run's directory, blotctl's own directories, and the manifest rewritten
        // (atomically: a temp file beside it) after every entry.
        add(crate::journal::BACKUPS.into(), 4096 * (journaled + 4), 6);
    }
    // Directories on one filesystem share its room.
    let mut per_fs: Vec<(u64, Vec<String>, Need, crate::sys::Space)> = Vec::new();
    for (dir, n) in need {
        let space = ctx.sys.space(&dir)?;
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
pub fn apply(ctx: &Ctx, change: &Change, journal: &mut Journal) -> Result<()> {
    if let Some(why) = &change.blocked {
        bail!("cannot {}: {why}", change.summary);
    }
    journal.record(ctx, change)?;
    crate::fault::point("apply");
    let sys = ctx.sys;
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
            sys.write_atomic(path, new, perms.mode, perms.uid, perms.gid)
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
            run_ok(ctx, &argv)
        }
        Action::ReloadJobs { jobs } => {
            run_ok(ctx, &["initctl", "reload-configuration"])?;
            match crate::steps::init::observe(ctx)? {
                InitState::Unknown(why) => bail!("init state unknown after reload: {why}"),
                InitState::Known(list) => {
                    match jobs.iter().find(|j| !list.iter().any(|l| &l.name == *j)) {
                        Some(missing) => Err(crate::steps::init::not_loaded(missing)),
                        None => Ok(()),
                    }
                }
            }
        }
        Action::ChkconfigOff { service } => run_ok(ctx, &["chkconfig", service, "off"]),
        Action::FastForward {
            git,
            dir,
            remote,
            branch,
            from,
            to,
        } => crate::deploy::fast_forward(
            ctx,
            &crate::deploy::Git::with_prefix(git.clone()),
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
        Action::StartJob { job } => start_job(ctx, job),
        Action::StopJob { job } => stop_job(ctx, job),
        Action::RestartJob {
            job,
            dependents,
            probe,
        } => restart_job(ctx, job, dependents, *probe),
        Action::SetKernel { path, from, to } => {
            let read = || -> Result<String> {
                let raw = sys
                    .read_text(path)?
                    .ok_or_else(|| anyhow!("{path} does not exist"))?;
                Ok(crate::steps::hostsettings::kernel_value(&raw))
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

/// `initctl stop JOB`; "Unknown instance" means it was stopped already.
fn stop_job(ctx: &Ctx, job: &str) -> Result<()> {
    let argv = ["initctl", "stop", job];
    let out = ctx.sys.run(&argv)?;
    match classify_stderr(&out.stderr) {
        _ if out.success() => Ok(()),
        InitctlError::UnknownInstance => Ok(()), // already stopped
        _ => bail!("{}", command_failure(&argv, &out)),
    }
}

/// Stop, start, then wait until the job and each dependent runs (and, with `probe`, answers
/// its probe). A failure says which job and what `initctl status` shows for it.
fn restart_job(ctx: &Ctx, job: &str, dependents: &[String], probe: bool) -> Result<()> {
    stop_job(ctx, job)?;
    for j in std::iter::once(job).chain(dependents.iter().map(String::as_str)) {
        let up = start_job(ctx, j).and_then(|()| if probe { wait_healthy(ctx, j) } else { Ok(()) });
        if let Err(e) = up {
            let status = match ctx.sys.run(&["initctl", "status", j]) {
                Ok(out) if out.success() => out.stdout.trim_end().to_string(),
                Ok(out) => out.stderr.trim_end().to_string(),
                Err(e) => format!("{e:#}"),
            };
            bail!("{j} did not come back: {e:#}\n`initctl status {j}`: {status}");
        }
    }
    Ok(())
}

/// Wait (up to `start_timeout`) until a job's health probe answers: redis PING, blot's and
/// nginx's health checks (`crate::health`, as monit asks them). monit has no probe of its own.
fn wait_healthy(ctx: &Ctx, job: &str) -> Result<()> {
    let s = ctx.settings;
    let each = Duration::from_secs(2);
    let probe = || -> Result<()> {
        match job {
            "redis" => {
                let port = crate::steps::templates::running_redis_config(ctx)?.port;
                ctx.sys.probe_redis(port, each)
            }
            "blot" => crate::health::app(ctx).probe(ctx, each).map(drop),
            "nginx" => crate::health::nginx(ctx)?.probe(ctx, each).map(drop),
            _ => Ok(()),
        }
    };
    let deadline = deadline_after(Duration::from_secs(s.start_timeout));
    loop {
        if ctx.sys.interrupted().is_some() {
            bail!("interrupted while waiting for {job}'s health probe");
        }
        match probe() {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(e.context(format!(
                    "{job} runs, but its health probe did not answer within {}s",
                    s.start_timeout
                )))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Now plus `d`, or as far as the clock goes (a huge timeout must not overflow and panic).
pub(crate) fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

fn run_ok(ctx: &Ctx, argv: &[&str]) -> Result<()> {
    let out = ctx.sys.run(argv)?;
    if out.success() {
        Ok(())
    } else {
        bail!("{}", command_failure(argv, &out))
    }
}

/// `initctl start JOB` ("already running" is success: upstart chains our jobs), then wait
/// until it is start/running with a process, and still is after a settle time (a job whose
/// process dies at once shows start/running first, FACTS.md).
fn start_job(ctx: &Ctx, job: &str) -> Result<()> {
    let argv = ["initctl", "start", job];
    let out = ctx.sys.run(&argv)?;
    if !out.success() {
        match classify_stderr(&out.stderr) {
            InitctlError::AlreadyRunning(_) => {} // upstart chained it from the job before
            InitctlError::UnknownJob(_) => return Err(crate::steps::init::not_loaded(job)),
            _ => bail!("{}", command_failure(&argv, &out)),
        }
    }
    let timeout = Duration::from_secs(ctx.settings.start_timeout);
    let settle = Duration::from_millis(ctx.settings.start_settle_ms);
    let begun = Instant::now();
    let mut last;
    let mut gone;
    let mut running_since: Option<Instant> = None;
    loop {
        if ctx.sys.interrupted().is_some() {
            bail!("interrupted while waiting for {job} to run");
        }
        let argv = ["initctl", "status", job];
        let out = ctx.sys.run(&argv)?;
        if !out.success() {
            bail!("{}", command_failure(&argv, &out));
        }
        last = out.stdout.trim_end().to_string();
        let status = parse_status(&out.stdout)
            .map_err(|e| anyhow!("cannot understand `initctl status {job}`: {e}"))?;
        let alive = status.is_running() && status.pid.is_some_and(|p| ctx.sys.process_exists(p));
        // upstart 0.6.5 goes on saying start/running for a job whose tracked process died.
        gone = status.pid.filter(|_| status.is_running() && !alive);
        if alive {
            if running_since.get_or_insert_with(Instant::now).elapsed() >= settle {
                return Ok(());
            }
        } else {
            running_since = None;
        }
        if begun.elapsed() >= timeout {
            break;
        }
        std::thread::sleep(Duration::from_millis(100).min(settle.max(Duration::from_millis(10))));
    }
    let seen = match gone {
        Some(pid) => format!(
            "upstart still says `{last}`, but process {pid}, the one it tracks, no longer exists"
        ),
        None => format!("last status: {last}"),
    };
    let output = crate::steps::templates::job_output(ctx.settings, job);
    let whereto = if output.is_empty() {
        String::new()
    } else {
        format!("; the job's output went to {}", output.join(" and "))
    };
    Err(anyhow!(
        "job {job} did not stay start/running within {}s: {seen}{whereto} (upstart logs how \
         its process ended to /var/log/messages)",
        timeout.as_secs()
    ))
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
        let err = apply(&ctx, &change, &mut journal).unwrap_err();
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
