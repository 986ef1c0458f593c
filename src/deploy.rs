//! `blotctl deploy` and `blotctl restart`: the runbook's deploy, through the same plan/apply
//! model as `provision`.
//!
//! deploy plans its steps like provision. `app checkout` observes the checkout as the app
//! user, without changing a byte of it (a dry run leaves refs, FETCH_HEAD, objects and the
//! index as they are): the branch, local changes (`git --no-optional-locks status`), the
//! remote's head (`git ls-remote`), and, when that commit is here already, whether it is a
//! fast-forward. The change is the fast-forward: fetch the branch when its commits are not
//! here yet, check again that it is a fast-forward of what was observed, `git merge
//! --ff-only`. `app configs` refreshes the root-owned copies in /etc/blot of the checkout's
//! nginx and redis configs as the deployed commit has them (read by git, as the app user;
//! validated with `nginx -t`, as in provision). Then the restarts: redis when its copy
//! changes (it takes blot with it), blot when the checkout moves (or with `--restart`),
//! nginx when its copies change. When the deployed commit is not here yet, the copies are
//! "not checked" in the plan (a dry run does not fetch), and a real deploy plans and applies
//! them in a second round, after the fast-forward. Refusals (local changes, a diverged or
//! ahead branch, another branch checked out) are planning errors: nothing is changed.
//!
//! A restart is `stop` then `start` through upstart ("Unknown instance" from stop means it
//! was already stopped), then a wait until the job is start/running and its health probe
//! answers; blot depends on redis, so a stopped redis is started first, and a restart of
//! redis waits for blot too (upstart stops blot with redis and starts it again after).

use crate::app::{self, NotRoot};
use crate::cli::{DeployArgs, RestartArgs};
use crate::config::Settings;
use crate::engine::{self, Planned};
use crate::journal::Journal;
use crate::outcome::Outcome;
use crate::plan::{Action, Change, StepPlan};
use crate::printer::Printer;
use crate::report;
use crate::steps::configs;
use crate::steps::init::{self, InitState};
use crate::steps::{Ctx, Step};
use crate::sys::{command_failure, Kind, Output, Sys};
use anyhow::{anyhow, bail, Context, Result};

/// git in the checkout, as the app user.
pub struct Git {
    prefix: Vec<String>,
}

impl Git {
    /// git with this argv in front (`sudo -n -H -u USER git -C DIR`, or `git -C DIR`).
    pub fn with_prefix(prefix: Vec<String>) -> Git {
        Git { prefix }
    }

    fn new(ctx: &Ctx) -> Result<Git> {
        let s = ctx.settings;
        let dir = ctx.sys.host_path(&s.app_dir)?.display().to_string();
        // On the box, root runs git as the app user (`sudo -n -H -u USER`): the checkout's
        // files stay the user's, git's ownership check (safe.directory) is satisfied, and
        // the user's own ssh keys and git config are used. When blotctl already runs as
        // that user, sudo is not needed. Under --root (tests, a copy of a box) the box's
        // users do not exist on this machine, so git runs directly, as the caller.
        let as_user = ctx.sys.is_live() && ctx.sys.euid() != ctx.app_account()?.uid;
        let mut prefix: Vec<String> = Vec::new();
        if as_user {
            prefix.extend(["sudo", "-n", "-H", "-u", &s.user].map(String::from));
        }
        prefix.extend(["git".to_string(), "-C".into(), dir]);
        Ok(Git { prefix })
    }

    fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut v = self.prefix.clone();
        v.extend(args.iter().map(|a| a.to_string()));
        v
    }

    /// Run git; a non-zero exit is data.
    fn run(&self, ctx: &Ctx, args: &[&str]) -> Result<(Vec<String>, Output)> {
        let argv = self.argv(args);
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = ctx.sys.run(&refs)?;
        Ok((argv, out))
    }

    /// Run git; its trimmed stdout, or an error naming the command.
    fn ok(&self, ctx: &Ctx, args: &[&str]) -> Result<String> {
        let (argv, out) = self.run(ctx, args)?;
        if !out.success() {
            let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
            bail!("{}", command_failure(&refs, &out));
        }
        Ok(out.stdout.trim_end().to_string())
    }

    fn count(&self, ctx: &Ctx, range: &str) -> Result<u64> {
        let n = self.ok(ctx, &["rev-list", "--count", range])?;
        n.parse()
            .map_err(|_| anyhow!("`git rev-list --count {range}` printed {n:?}"))
    }
}

/// The deployed commit is not in the checkout yet (a dry run does not fetch it).
#[derive(Debug)]
pub struct NotFetched(pub String);

impl std::fmt::Display for NotFetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "commit {} is not here yet", short(&self.0))
    }
}
impl std::error::Error for NotFetched {}

/// A checkout file as the commit `deploy` deploys has it: the fast-forward's target planned
/// by `app checkout` (in `earlier`), or the checkout's HEAD when it is up to date; read by
/// git as the app user. `None` when that commit has no such file; [`NotFetched`] when its
/// commits are not here yet. How deploy's `app configs` step reads the checkout.
pub fn deployed_file(ctx: &Ctx, earlier: &[Change], box_path: &str) -> Result<Option<Vec<u8>>> {
    let s = ctx.settings;
    let rel = box_path
        .strip_prefix(s.app_dir.as_str())
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| anyhow!("internal error: {box_path} is not in {}", s.app_dir))?;
    let rev = earlier
        .iter()
        .find_map(|c| match &c.action {
            Action::FastForward { to, .. } => Some(to.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "HEAD".into());
    let git = Git::new(ctx)?;
    let (_, here) = git.run(ctx, &["cat-file", "-e", &format!("{rev}^{{commit}}")])?;
    if !here.success() {
        return Err(NotFetched(rev).into());
    }
    let spec = format!("{rev}:{rel}");
    let (argv, out) = git.run(ctx, &["show", &spec])?;
    if !out.success() {
        if out.stderr.contains("does not exist in")
            || out.stderr.contains("exists on disk, but not in")
        {
            return Ok(None);
        }
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        bail!("{}", command_failure(&refs, &out));
    }
    if out.stdout.contains('\u{FFFD}') {
        bail!("{rel} in {} is not UTF-8 text", short(&rev));
    }
    if out.stdout.len() as u64 > configs::MAX_CONFIG {
        bail!(
            "{rel} in {} is larger than blotctl reads of a config",
            short(&rev)
        );
    }
    Ok(Some(out.stdout.into_bytes()))
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

fn commits(n: u64) -> String {
    report::plural(n as usize, "commit")
}

/// The app checkout: fetch, then fast-forward only.
pub struct Checkout;

impl Step for Checkout {
    fn name(&self) -> &'static str {
        "app checkout"
    }

    fn plan(&self, ctx: &Ctx, _earlier: &[Change]) -> Result<StepPlan> {
        let s = ctx.settings;
        let dir = &s.app_dir;
        match ctx.sys.meta(dir)? {
            Some(m) if m.kind == Kind::Dir => {}
            Some(_) => bail!("{dir} is not a directory"),
            None => bail!(
                "the app directory {dir} does not exist: clone Blot there first, or set `app_dir`"
            ),
        }
        if ctx.sys.meta(&format!("{dir}/.git"))?.is_none() {
            bail!("{dir} is not a git checkout (no {dir}/.git): clone Blot there first");
        }
        let git = Git::new(ctx)?;
        let (remote, branch) = (&s.app_repo_remote, &s.app_repo_branch);

        let (_, head) = git.run(ctx, &["symbolic-ref", "--quiet", "--short", "HEAD"])?;
        let on = head.stdout.trim();
        if !head.success() || on.is_empty() {
            bail!(
                "{dir} has a detached HEAD, not the branch {branch}: deploy changed nothing \
                 (check out {branch} there first)"
            );
        }
        if on != branch {
            bail!(
                "{dir} is on the branch {on}, not {branch}: deploy changed nothing (check out \
                 {branch} there, or set `app_repo_branch`)"
            );
        }
        // Tracked files only: the logs (and anything else untracked) never block a deploy;
        // git itself refuses a fast-forward that would overwrite an untracked file.
        // --no-optional-locks: a look must not refresh (write) the index.
        let status = git.ok(
            ctx,
            &[
                "--no-optional-locks",
                "status",
                "--porcelain",
                "--untracked-files=no",
            ],
        )?;
        if !status.is_empty() {
            bail!(
                "{dir} has local changes, so deploy changed nothing:\n{}\ncommit or discard \
                 them first (e.g. `git -C {dir} stash`), then deploy again",
                status
                    .lines()
                    .map(|l| format!("    {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }

        // The remote's head, asked without fetching: a dry run leaves the checkout (refs,
        // FETCH_HEAD, objects) exactly as it is; fetching is part of the change.
        let head_ref = format!("refs/heads/{branch}");
        let listed = git
            .ok(ctx, &["ls-remote", "--exit-code", remote, &head_ref])
            .with_context(|| format!("cannot reach {remote} to ask for {branch}"))?;
        let new = listed
            .lines()
            .find_map(|l| l.split_once('\t').filter(|(_, r)| *r == head_ref))
            .map(|(sha, _)| sha.to_string())
            .ok_or_else(|| anyhow!("`git ls-remote {remote} {head_ref}` printed {listed:?}"))?;
        let old = git.ok(ctx, &["rev-parse", "--verify", "HEAD^{commit}"])?;
        let upstream = format!("{remote}/{branch}");
        if old == new {
            return Ok(StepPlan::changes(Vec::new()).note(format!(
                "already up to date at {} ({upstream})",
                short(&old)
            )));
        }
        let (_, here) = git.run(ctx, &["cat-file", "-e", &format!("{new}^{{commit}}")])?;
        let summary = if here.success() {
            let behind = judge(ctx, &git, dir, &old, &new, &upstream)?;
            format!(
                "fast-forward {dir}: {} -> {} ({} from {upstream})",
                short(&old),
                short(&new),
                commits(behind)
            )
        } else {
            format!(
                "fetch {upstream}, then fast-forward {dir}: {} -> {} (its commits are not here \
                 yet; a dry run does not fetch them)",
                short(&old),
                short(&new)
            )
        };
        Ok(StepPlan::changes(vec![Change::new(
            summary,
            Action::FastForward {
                git: git.prefix.clone(),
                dir: dir.clone(),
                remote: remote.clone(),
                branch: branch.clone(),
                from: old,
                to: new,
            },
        )]))
    }
}

/// Whether `new` is a fast-forward of `old` (both commits must be here): how many commits
/// behind, or the refusal (ahead, diverged) naming both sides.
pub fn judge(ctx: &Ctx, git: &Git, dir: &str, old: &str, new: &str, upstream: &str) -> Result<u64> {
    let ahead = git.count(ctx, &format!("{new}..{old}"))?;
    let behind = git.count(ctx, &format!("{old}..{new}"))?;
    if ahead > 0 && behind == 0 {
        bail!(
            "{dir} is {} ahead of {upstream} ({} there): nothing to deploy, and deploy never \
             pushes or resets; push those commits, or reset the checkout by hand",
            commits(ahead),
            short(new)
        );
    }
    if ahead > 0 {
        bail!(
            "{dir} and {upstream} have diverged ({} only here, {} only there): not a \
             fast-forward, so deploy changed nothing; reconcile the branch by hand",
            commits(ahead),
            commits(behind)
        );
    }
    Ok(behind)
}

/// The change of a deploy (applied by the engine only): fetch the branch unless its head
/// is here already, make sure the checkout is still at `from` and `to` a fast-forward of
/// it, then `git merge --ff-only`.
pub fn fast_forward(
    ctx: &Ctx,
    git: &Git,
    dir: &str,
    remote: &str,
    branch: &str,
    from: &str,
    to: &str,
) -> Result<()> {
    let upstream = format!("{remote}/{branch}");
    let (_, here) = git.run(ctx, &["cat-file", "-e", &format!("{to}^{{commit}}")])?;
    if !here.success() {
        let tracking = format!("refs/remotes/{remote}/{branch}");
        git.ok(
            ctx,
            &[
                "fetch",
                "--quiet",
                remote,
                &format!("+refs/heads/{branch}:{tracking}"),
            ],
        )
        .with_context(|| format!("cannot fetch {branch} from {remote}"))?;
    }
    let now = git.ok(ctx, &["rev-parse", "--verify", "HEAD^{commit}"])?;
    if now != from {
        bail!(
            "{dir} moved to {} while blotctl was running; left as it is (run again)",
            short(&now)
        );
    }
    judge(ctx, git, dir, from, to, &upstream)?;
    git.ok(ctx, &["merge", "--ff-only", "--quiet", to])
        .map(drop)
}

/// The jobs a job needs running first, in start order: the chain of its `start on started
/// JOB` stanzas (blot after redis, nginx after blot, monit after nginx).
fn needs(job: &str) -> &'static [&'static str] {
    match job {
        "blot" => &["redis"],
        "nginx" => &["redis", "blot"],
        "monit" => &["redis", "blot", "nginx"],
        _ => &[],
    }
}

/// Restart one job: always (`restart`, `deploy --restart`), or when an earlier step of
/// `deploy` planned what it runs: blot after the checkout's fast-forward, nginx and redis
/// after a change to the copies of their configs. A job that a restart planned before it
/// takes with it (blot with redis) is not restarted twice.
pub struct Restart {
    pub job: &'static str,
    pub always: bool,
}

impl Restart {
    /// Why this job must run something new, if it must.
    fn reason(&self, earlier: &[Change]) -> Option<String> {
        earlier.iter().find_map(|c| match &c.action {
            Action::FastForward { .. } if self.job == "blot" => {
                Some("the checkout moved".to_string())
            }
            Action::WriteFile { path, .. } if configs::job_reading(path) == Some(self.job) => {
                Some(format!("{path} changed"))
            }
            _ => None,
        })
    }
}

impl Step for Restart {
    fn name(&self) -> &'static str {
        match self.job {
            "redis" => "restart redis",
            "blot" => "restart blot",
            "nginx" => "restart nginx",
            _ => "restart monit",
        }
    }

    fn plan(&self, ctx: &Ctx, earlier: &[Change]) -> Result<StepPlan> {
        let job = self.job;
        let taken = earlier.iter().any(|c| {
            matches!(&c.action, Action::RestartJob { dependents, .. }
                if dependents.iter().any(|d| d == job))
        });
        if taken {
            return Ok(StepPlan::skipped("restarted with the job it depends on"));
        }
        let reason = self.reason(earlier);
        if !self.always && reason.is_none() {
            return Ok(StepPlan::skipped(if job == "blot" {
                "nothing new to run (--restart restarts it anyway)"
            } else {
                "nothing new to run"
            }));
        }
        let mut changes = Vec::new();
        let deps = init::dependents(job);
        let mut why: Vec<String> = reason.into_iter().collect();
        if !deps.is_empty() {
            why.push(format!("upstart restarts {} with it", deps.join(", ")));
        }
        let what = if why.is_empty() {
            format!("restart {job}")
        } else {
            format!("restart {job} ({})", why.join("; "))
        };
        let restart = Change::new(
            what,
            Action::RestartJob {
                job: job.into(),
                dependents: deps,
                probe: true,
            },
        );
        match init::observe(ctx)? {
            InitState::Unknown(why) => {
                changes.push(restart.blocked(format!("init state unknown: {why}")));
            }
            state @ InitState::Known(_) => {
                if state.job(job).is_none() {
                    bail!(
                        "upstart has no job `{job}` (is /etc/init/{job}.conf installed? run \
                         `blotctl provision` first)"
                    );
                }
                for &dep in needs(job) {
                    if !state.job(dep).is_some_and(|j| j.is_running()) {
                        changes.push(Change::new(
                            format!("start {dep} ({job} depends on it)"),
                            Action::StartJob { job: dep.into() },
                        ));
                    }
                }
                changes.push(restart);
            }
        }
        Ok(StepPlan::changes(changes))
    }
}

/// What follows the checkout: the copies of its configs as the deployed commit has them,
/// then what runs them: redis (which takes blot with it), blot (`Some(always)`; `None`: not
/// at all), nginx.
fn refresh_steps(blot: Option<bool>) -> Vec<Box<dyn Step>> {
    let mut steps: Vec<Box<dyn Step>> = vec![
        Box::new(configs::Configs {
            read: Some(deployed_file),
        }),
        Box::new(Restart {
            job: "redis",
            always: false,
        }),
    ];
    if let Some(always) = blot {
        steps.push(Box::new(Restart {
            job: "blot",
            always,
        }));
    }
    steps.push(Box::new(Restart {
        job: "nginx",
        always: false,
    }));
    steps
}

/// deploy's steps: the checkout, then [`refresh_steps`].
fn deploy_steps(restart_blot: bool) -> Vec<Box<dyn Step>> {
    let mut steps: Vec<Box<dyn Step>> = vec![Box::new(Checkout)];
    steps.extend(refresh_steps(Some(restart_blot)));
    steps
}

/// `blotctl deploy`.
pub fn deploy(sys: &Sys, settings: &Settings, args: &DeployArgs, printer: Printer) -> Result<u8> {
    // When the deployed commit was not here to read its configs from, the second round
    // (after the fast-forward fetched it) refreshes the copies and restarts what runs them
    // (blot restarted in the first round already, for the checkout's move).
    let second = |first: &[Planned]| -> Option<Vec<Box<dyn Step>>> {
        let unread = first
            .iter()
            .filter(|p| p.name == "app configs")
            .any(|p| p.plan.as_ref().is_ok_and(|pl| !pl.not_checked.is_empty()));
        unread.then(|| refresh_steps(None))
    };
    // After applying, the checkout and the copies must be up to date (a forced restart is
    // not "left").
    run(
        sys,
        settings,
        "deploy",
        args.dry_run,
        deploy_steps(args.restart),
        || deploy_steps(false),
        second,
        printer,
    )
}

/// `blotctl restart JOB`.
pub fn restart(sys: &Sys, settings: &Settings, args: &RestartArgs, printer: Printer) -> Result<u8> {
    let job = args.job.as_str();
    let steps: Vec<Box<dyn Step>> = vec![Box::new(Restart { job, always: true })];
    run(
        sys,
        settings,
        "restart",
        args.dry_run,
        steps,
        Vec::new,
        |_| None,
        printer,
    )
}

/// Plan, show, and (unless a dry run) apply under the run lock, like `provision`; then,
/// when `then` asks for them after the first round was applied, plan and apply its steps as
/// part of the same run.
#[allow(clippy::too_many_arguments)]
fn run(
    sys: &Sys,
    settings: &Settings,
    command: &str,
    dry_run: bool,
    steps: Vec<Box<dyn Step>>,
    replan: impl Fn() -> Vec<Box<dyn Step>>,
    then: impl Fn(&[Planned]) -> Option<Vec<Box<dyn Step>>>,
    printer: Printer,
) -> Result<u8> {
    let _lock = if dry_run {
        None
    } else {
        if !sys.is_root() {
            return Err(NotRoot(format!(
                "{command} must run as root (git as the app user, upstart)"
            ))
            .into());
        }
        Some(app::take_lock(sys)?)
    };
    let ctx = Ctx {
        sys,
        settings,
        no_start: false,
        offline: false,
    };
    let planned = {
        let spinner = printer.spinner("planning");
        engine::plan_all_with(&ctx, &steps, |name| {
            spinner.step(format!("planning: {name}"))
        })
    };
    let plan = Outcome::new(command, dry_run).with_planned(&planned, false);
    if dry_run {
        return app::end_dry_run(plan, "dry run", false, printer);
    }
    if let Some(err) = app::refusal(&plan) {
        return app::refuse(plan, err, printer);
    }
    let counts = plan.counts();
    if counts.changes == 0 {
        let what = if command == "deploy" {
            "already up to date, nothing restarted"
        } else {
            "nothing to do"
        };
        return app::end_nothing_to_do(plan, what, printer);
    }
    app::not_interrupted(sys, command, counts.changes)?;
    engine::preflight(&ctx, planned.iter().flat_map(|p| p.changes()))?;
    let mut journal = Journal::new(command, None);
    let (mut applied, mut result) =
        app::apply_all(&ctx, &planned, counts.changes, &mut journal, printer);
    let mut planned = planned;
    if let (Ok(()), Some(more)) = (&result, then(&planned)) {
        let second = engine::plan_all(&ctx, &more);
        let outcome = Outcome::new(command, false).with_planned(&second, false);
        result = match app::refusal(&outcome) {
            Some(err) => Err(err),
            None => {
                let n = outcome.counts().changes;
                engine::preflight(&ctx, second.iter().flat_map(|p| p.changes()))?;
                let (more_applied, r) = app::apply_all(&ctx, &second, n, &mut journal, printer);
                let offset = planned.len();
                applied.per_step.extend(more_applied.per_step);
                applied.failed = more_applied.failed.map(|(i, e)| (i + offset, e));
                r
            }
        };
        planned.extend(second);
    }
    let result = result.and_then(|()| {
        app::converged(
            &ctx,
            |ctx| Ok::<Vec<Planned>, anyhow::Error>(engine::plan_all(ctx, &replan())),
            applied.changes(),
        )
    });
    let done = if command == "deploy" {
        "deployed"
    } else {
        "restarted"
    };
    let backup = journal.run_id().map(String::from);
    app::end_run(command, &planned, &applied, result, backup, done, printer)
}
