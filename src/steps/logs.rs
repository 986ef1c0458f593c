//! Log files: `<app_dir>/logs/{app,sys}.log` exist and belong to the app user (users
//! resolved from the box's /etc/passwd, not the host's), who writes them: the jobs open them
//! after `sudo -u USER`. What programs running as root print (nginx's master, monit, and
//! sudo itself before the app user's shell runs) goes to root's own directory,
//! /var/log/blot: root never opens a file in the app user's checkout, where it could be a
//! link to anywhere.

use super::{Ctx, Step};
use crate::plan::{plan_perms, Action, Change, Perms, StepPlan};
use crate::sys::Kind;
use anyhow::{bail, Result};

pub struct Logs;

impl Step for Logs {
    fn name(&self) -> &'static str {
        "log files"
    }

    fn plan(&self, ctx: &Ctx, _earlier: &[Change]) -> Result<StepPlan> {
        let s = ctx.settings;
        let acct = ctx.app_account()?;
        match ctx.sys.meta(&s.app_dir)? {
            Some(m) if m.kind == Kind::Dir => {}
            Some(m) if m.kind == Kind::Symlink => bail!(
                "the app directory {} is a symlink (to {}): blotctl creates the app's logs \
                 under it and never follows a link for files it writes; set `app_dir` to the \
                 real directory",
                s.app_dir,
                ctx.sys.read_link(&s.app_dir)?.unwrap_or_default()
            ),
            Some(_) => bail!(
                "the app directory {} is not a directory: clone Blot there, or set `app_dir`",
                s.app_dir
            ),
            None => bail!(
                "the app directory {} does not exist: clone Blot there first, or set `app_dir`",
                s.app_dir
            ),
        }
        let dir_perms = Perms {
            mode: 0o755,
            uid: acct.uid,
            gid: acct.gid,
        };
        let mut changes = Vec::new();
        let logs = s.logs_dir();
        ctx.sys.ensure_writable(&logs)?;
        match ctx.sys.meta(&logs)? {
            None => changes.push(Change::new(
                format!("create {logs}/ (mode 0755, owner {})", s.user),
                Action::CreateDir {
                    path: logs.clone(),
                    perms: dir_perms,
                },
            )),
            Some(m) if m.kind == Kind::Dir => changes.extend(plan_perms(
                &logs,
                m,
                Perms {
                    mode: m.mode,
                    ..dir_perms
                },
            )),
            Some(_) => bail!("{logs} exists but is not a directory"),
        }
        for file in s.log_files() {
            ctx.sys.ensure_writable(&file)?;
            let want = Perms {
                mode: 0o644,
                uid: acct.uid,
                gid: acct.gid,
            };
            match ctx.sys.meta(&file)? {
                None => changes.push(Change::new(
                    format!("create {file} (mode 0644, owner {})", s.user),
                    Action::WriteFile {
                        path: file.clone(),
                        old: None,
                        new: Vec::new(),
                        perms: want,
                        old_perms: None,
                    },
                )),
                // An existing log keeps its mode and contents; only the owner is ours.
                Some(m) if m.kind == Kind::File => changes.extend(plan_perms(
                    &file,
                    m,
                    Perms {
                        mode: m.mode,
                        ..want
                    },
                )),
                Some(_) => bail!("{file} exists but is not a regular file"),
            }
        }
        changes.extend(super::plan_root_dir(
            ctx,
            crate::config::ROOT_LOG_DIR,
            "for sudo's, nginx's and monit's logs",
        )?);
        Ok(StepPlan::changes(changes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::check::check;
    use expect_test::expect;

    #[test]
    fn the_app_users_logs_and_roots_log_directory() {
        check(
            &Logs,
            |_, _| {},
            expect![[r#"
            - create /var/www/blot/logs/ (mode 0755, owner ec2-user)
            - create /var/www/blot/logs/app.log (mode 0644, owner ec2-user)
            - create /var/www/blot/logs/sys.log (mode 0644, owner ec2-user)
            - create /var/log/blot/ (root's, for sudo's, nginx's and monit's logs)
        "#]],
        );
        check(
            &Logs,
            |b, _| {
                b.remove("/var/www/blot")
                    .symlink("/var/www/blot", "/srv/blot");
            },
            expect![[r#"
                error: the app directory /var/www/blot is a symlink (to /srv/blot): blotctl creates the app's logs under it and never follows a link for files it writes; set `app_dir` to the real directory
            "#]],
        );
    }
}
