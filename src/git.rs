//! git in the app checkout, as the app user: what `deploy` observes (through [`Look`]:
//! branch, local changes, the remote's head, whether a commit is a fast-forward, a file as a
//! commit has it) and the one change it makes, the fast-forward (through [`Sys`], applied by
//! the engine only).

use crate::ctx::Ctx;
use crate::plan::{Action, Change};
use crate::sys::{command_failure, Look, Output, Sys};
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

    pub fn new(ctx: &Ctx) -> Result<Git> {
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

    /// The argv in front of git's own arguments.
    pub fn prefix(&self) -> &[String] {
        &self.prefix
    }

    /// Ask git (a look: it changes nothing in the checkout); a non-zero exit is data.
    pub fn run(&self, sys: &dyn Look, args: &[&str]) -> Result<(Vec<String>, Output)> {
        let argv = self.argv(args);
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = sys.ask(&refs)?;
        Ok((argv, out))
    }

    /// Ask git; its trimmed stdout, or an error naming the command.
    pub fn ok(&self, sys: &dyn Look, args: &[&str]) -> Result<String> {
        let (argv, out) = self.run(sys, args)?;
        ok(&argv, out)
    }

    /// Run git to change the checkout (fetch, merge): the engine's part.
    fn act(&self, sys: &Sys, args: &[&str]) -> Result<String> {
        let argv = self.argv(args);
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = sys.run(&refs)?;
        ok(&argv, out)
    }

    fn count(&self, sys: &dyn Look, range: &str) -> Result<u64> {
        let n = self.ok(sys, &["rev-list", "--count", range])?;
        n.parse()
            .map_err(|_| anyhow!("`git rev-list --count {range}` printed {n:?}"))
    }
}

/// Its trimmed stdout, or an error naming the command.
fn ok(argv: &[String], out: Output) -> Result<String> {
    if !out.success() {
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        bail!("{}", command_failure(&refs, &out));
    }
    Ok(out.stdout.trim_end().to_string())
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
    let (_, here) = git.run(ctx.sys, &["cat-file", "-e", &format!("{rev}^{{commit}}")])?;
    if !here.success() {
        return Err(NotFetched(rev).into());
    }
    let spec = format!("{rev}:{rel}");
    let (argv, out) = git.run(ctx.sys, &["show", &spec])?;
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
    if out.stdout.len() as u64 > crate::jobconf::MAX_CONFIG {
        bail!(
            "{rel} in {} is larger than blotctl reads of a config",
            short(&rev)
        );
    }
    Ok(Some(out.stdout.into_bytes()))
}

pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

pub fn commits(n: u64) -> String {
    match n {
        1 => "1 commit".into(),
        n => format!("{n} commits"),
    }
}

/// Whether `new` is a fast-forward of `old` (both commits must be here): how many commits
/// behind, or the refusal (ahead, diverged) naming both sides.
pub fn judge(
    sys: &dyn Look,
    git: &Git,
    dir: &str,
    old: &str,
    new: &str,
    upstream: &str,
) -> Result<u64> {
    let ahead = git.count(sys, &format!("{new}..{old}"))?;
    let behind = git.count(sys, &format!("{old}..{new}"))?;
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
    sys: &Sys,
    git: &Git,
    dir: &str,
    remote: &str,
    branch: &str,
    from: &str,
    to: &str,
) -> Result<()> {
    let upstream = format!("{remote}/{branch}");
    let (_, here) = git.run(sys, &["cat-file", "-e", &format!("{to}^{{commit}}")])?;
    if !here.success() {
        let tracking = format!("refs/remotes/{remote}/{branch}");
        git.act(
            sys,
            &[
                "fetch",
                "--quiet",
                remote,
                &format!("+refs/heads/{branch}:{tracking}"),
            ],
        )
        .with_context(|| format!("cannot fetch {branch} from {remote}"))?;
    }
    let now = git.ok(sys, &["rev-parse", "--verify", "HEAD^{commit}"])?;
    if now != from {
        bail!(
            "{dir} moved to {} while blotctl was running; left as it is (run again)",
            short(&now)
        );
    }
    judge(sys, git, dir, from, to, &upstream)?;
    git.act(sys, &["merge", "--ff-only", "--quiet", to])
        .map(drop)
}
