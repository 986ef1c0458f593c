//! The steps of `provision`. Each observes the box through `sys` and returns a plan; none
//! acts. The engine runs them in the order of [`all`].

use crate::config::Settings;
pub use crate::ctx::Ctx;
use crate::jobs::Job;
use crate::plan::{plan_file, Action, Change, Perms, Planned, StepPlan};
use anyhow::Result;

#[cfg(test)]
pub mod check;
pub mod checkout;
pub mod chkconfig;
pub mod configs;
pub mod hosts;
pub mod hostsettings;
pub mod init;
pub mod logrotate;
pub mod logs;
pub mod restart;
pub mod sudoers;
pub mod templates;

/// One step of provisioning.
pub trait Step {
    /// Short name shown on its output line (`sudoers`, `upstart jobs`, ...).
    fn name(&self) -> &'static str;
    /// Observe and plan. `earlier` holds the changes that steps before this one planned,
    /// so that e.g. the initctl step knows job files are about to change.
    fn plan(&self, ctx: &Ctx, earlier: &[Change]) -> Result<StepPlan>;
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

/// Every step, in the order they are planned and applied.
pub fn all() -> Vec<Box<dyn Step>> {
    vec![
        Box::new(sudoers::Sudoers),
        // Before the jobs, which run the copies it installs.
        Box::new(configs::Configs { read: None }),
        Box::new(templates::Jobs),
        Box::new(templates::MonitRc),
        Box::new(hosts::Hosts),
        Box::new(logs::Logs),
        Box::new(logrotate::Logrotate),
        // Before the reload, so that upstart loads its task.
        Box::new(hostsettings::HostSettings),
        Box::new(chkconfig::Chkconfig),
        Box::new(init::Reload),
        Box::new(init::Start),
    ]
}

pub const ROOT_0644: Perms = Perms {
    mode: 0o644,
    uid: 0,
    gid: 0,
};

/// The files blotctl writes at fixed places, each with what it is (no setting may aim
/// another file at one of them).
pub fn fixed_paths() -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = crate::paths::FIXED
        .iter()
        .map(|(p, what)| (p.to_string(), *what))
        .collect();
    for job in Job::ALL.map(Job::name).iter().chain([&hostsettings::JOB]) {
        out.push((crate::jobs::path(job), "an upstart job file"));
    }
    out
}

/// Every path a run may change with these settings: the fixed files, the monit control
/// file, the app's logs directory and its log files, root's log directory, and the
/// directory of the config copies (see [`manages`] for what is in it). A backup that names
/// anything else is not restored.
pub fn managed_paths(s: &Settings) -> Vec<String> {
    let mut out: Vec<String> = fixed_paths().into_iter().map(|(p, _)| p).collect();
    out.push(s.monit_rc.clone());
    out.push(s.logs_dir());
    out.extend(s.log_files());
    out.push(crate::config::ROOT_LOG_DIR.to_string());
    out.push(crate::jobconf::DIR.to_string());
    out
}

/// Whether a run may change `path`: one of [`managed_paths`], or anything under the
/// directory of the config copies (the copies of what the checkout's nginx config includes
/// have the names the checkout gives them).
pub fn manages(s: &Settings, path: &str) -> bool {
    managed_paths(s).iter().any(|p| p == path)
        || path
            .strip_prefix(crate::jobconf::DIR)
            .and_then(|r| r.strip_prefix('/'))
            .is_some_and(|r| {
                !r.is_empty() && r.split('/').all(|c| !c.is_empty() && c != ".." && c != ".")
            })
}

/// A directory of root's, 0755 root:root, holding `holds` (for the plan's line): created
/// when missing, its mode and owner set when they differ. Refused when it is not a
/// directory, or when a user other than root could change it or a directory above it
/// (whatever it already holds could have been planted).
pub fn plan_root_dir(ctx: &Ctx, dir: &str, holds: &str) -> Result<Vec<Change>> {
    const PERMS: Perms = Perms {
        mode: 0o755,
        uid: 0,
        gid: 0,
    };
    if let Some(why) = ctx.sys.nonroot_writer(dir)? {
        anyhow::bail!("refusing to manage {dir}: {why} (a user other than root could change what root keeps there)");
    }
    Ok(match ctx.sys.meta(dir)? {
        None => vec![Change::new(
            format!("create {dir}/ (root's, {holds})"),
            Action::CreateDir {
                path: dir.to_string(),
                perms: PERMS,
            },
        )],
        Some(m) if m.kind == crate::sys::Kind::Dir => {
            crate::plan::plan_perms(dir, m, PERMS).into_iter().collect()
        }
        Some(_) => anyhow::bail!("{dir} exists but is not a directory"),
    })
}

/// Plan a file blotctl owns entirely: any difference is replaced.
pub fn plan_managed(ctx: &Ctx, path: &str, desired: &[u8], perms: Perms) -> Result<Vec<Change>> {
    plan_managed_as(
        ctx,
        path,
        desired,
        perms,
        "replace (differs from the template)",
    )
}

/// [`plan_managed`], saying `what` the replacement is.
pub fn plan_managed_as(
    ctx: &Ctx,
    path: &str,
    desired: &[u8],
    perms: Perms,
    what: &str,
) -> Result<Vec<Change>> {
    let current = observe_file(ctx, path)?;
    Ok(plan_file(
        path,
        current.as_ref().map(|(b, m)| (b.as_slice(), *m)),
        desired,
        perms,
        what,
    ))
}

/// Every file `blotctl render` prints, by the name it takes.
pub const RENDERED: [&str; 7] = [
    "redis",
    "blot",
    "nginx",
    "monit",
    "monit.rc",
    hostsettings::JOB,
    "logrotate",
];

/// The box path and text of a rendered file, by its `render` name; `None` for an unknown
/// name.
pub fn render_file(ctx: &Ctx, name: &str) -> Result<Option<(String, String)>> {
    Ok(Some(match name {
        "monit.rc" => (ctx.settings.monit_rc.clone(), templates::render(ctx, name)?),
        "logrotate" => (logrotate::PATH.to_string(), logrotate::render(ctx)?),
        hostsettings::JOB => (crate::jobs::path(name), hostsettings::render_task(ctx)?),
        n => match Job::named(n) {
            Some(job) => (job.path(), templates::render_job(ctx, job)?),
            None => return Ok(None),
        },
    }))
}

/// Paths that earlier steps are about to write.
pub fn pending_writes(earlier: &[Change]) -> impl Iterator<Item = &str> {
    earlier.iter().filter_map(|c| match &c.action {
        Action::WriteFile { path, .. } => Some(path.as_str()),
        _ => None,
    })
}

/// Read a file blotctl may replace: its contents and metadata (`None` when missing), after
/// making sure it can be replaced at all (no symlink, not immutable), and that no user but
/// root can change it (root writes it, and root's programs read it).
pub fn observe_file(ctx: &Ctx, path: &str) -> Result<Option<(Vec<u8>, crate::sys::Meta)>> {
    ctx.sys.ensure_writable(path)?;
    if let Some(why) = ctx.sys.nonroot_writer(path)? {
        anyhow::bail!(
            "refusing to manage {path}: {why}, so a user other than root could change a file \
             that root writes and reads (make it and its directories root's, or change the \
             setting that names it)"
        );
    }
    ctx.sys.observe(path)
}
