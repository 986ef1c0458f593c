//! deploy's first step: the app checkout, observed as the app user without changing a byte
//! of it (a dry run leaves refs, FETCH_HEAD, objects and the index as they are): the branch,
//! local changes (`git --no-optional-locks status`), the remote's head (`git ls-remote`),
//! and, when that commit is here already, whether it is a fast-forward. The change is the
//! fast-forward ([`crate::git::fast_forward`], applied by the engine). Refusals (local
//! changes, a diverged or ahead branch, another branch checked out) are planning errors.

use super::{Ctx, Step};
use crate::git::{commits, judge, short, Git};
use crate::plan::{Action, Change, StepPlan};
use crate::sys::Kind;
use anyhow::{anyhow, bail, Context, Result};

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

        let (_, head) = git.run(ctx.sys, &["symbolic-ref", "--quiet", "--short", "HEAD"])?;
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
            ctx.sys,
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
            .ok(ctx.sys, &["ls-remote", "--exit-code", remote, &head_ref])
            .with_context(|| format!("cannot reach {remote} to ask for {branch}"))?;
        let new = listed
            .lines()
            .find_map(|l| l.split_once('\t').filter(|(_, r)| *r == head_ref))
            .map(|(sha, _)| sha.to_string())
            .ok_or_else(|| anyhow!("`git ls-remote {remote} {head_ref}` printed {listed:?}"))?;
        let old = git.ok(ctx.sys, &["rev-parse", "--verify", "HEAD^{commit}"])?;
        let upstream = format!("{remote}/{branch}");
        if old == new {
            return Ok(StepPlan::changes(Vec::new()).note(format!(
                "already up to date at {} ({upstream})",
                short(&old)
            )));
        }
        let (_, here) = git.run(ctx.sys, &["cat-file", "-e", &format!("{new}^{{commit}}")])?;
        let summary = if here.success() {
            let behind = judge(ctx.sys, &git, dir, &old, &new, &upstream)?;
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
                git: git.prefix().to_vec(),
                dir: dir.clone(),
                remote: remote.clone(),
                branch: branch.clone(),
                from: old,
                to: new,
            },
        )]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::check::check;
    use expect_test::expect;

    fn repo(b: &mut crate::sys::fake::FakeBox, head: &str, remote: &str) {
        let git = "git -C /fake-box/var/www/blot";
        b.mkdir("/var/www/blot/.git", 0o755, 500, 500)
            .answer(
                &format!("{git} symbolic-ref --quiet --short HEAD"),
                0,
                "master\n",
                "",
            )
            .answer(
                &format!("{git} --no-optional-locks status --porcelain --untracked-files=no"),
                0,
                "",
                "",
            )
            .answer(
                &format!("{git} ls-remote --exit-code origin refs/heads/master"),
                0,
                &format!("{remote}\trefs/heads/master\n"),
                "",
            )
            .answer(
                &format!("{git} rev-parse --verify HEAD^{{commit}}"),
                0,
                &format!("{head}\n"),
                "",
            )
            .answer(&format!("{git} cat-file -e {remote}^{{commit}}"), 1, "", "");
    }

    #[test]
    fn a_fast_forward_of_the_app_checkout() {
        let (a, b2) = ("a".repeat(40), "b".repeat(40));
        check(
            &Checkout,
            |b, _| repo(b, &a, &a),
            expect![[r#"
            in sync
            note: already up to date at aaaaaaa (origin/master)
        "#]],
        );
        check(
            &Checkout,
            |b, _| repo(b, &a, &b2),
            expect![[r#"
            - fetch origin/master, then fast-forward /var/www/blot: aaaaaaa -> bbbbbbb (its commits are not here yet; a dry run does not fetch them)
        "#]],
        );
        check(
            &Checkout,
            |_, _| {},
            expect![[r#"
            error: /var/www/blot is not a git checkout (no /var/www/blot/.git): clone Blot there first
        "#]],
        );
    }
}
