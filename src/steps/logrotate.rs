//! Log rotation: Amazon Linux already runs logrotate daily (`/etc/cron.daily/logrotate`,
//! which reads `/etc/logrotate.d/*`). `/etc/logrotate.d/blot` rotates the app's logs by
//! copy-then-truncate (the runbook's rule: a writer is never interrupted, it keeps its open
//! file), as the app user who owns them (`su`), and root's own log of each job in
//! /var/log/blot (what nginx and monit print, what sudo prints for blot and redis) as root;
//! compressed, `log_keep` of them kept.

use super::{plan_managed, Ctx, Step, ROOT_0644};
use crate::plan::{Change, StepPlan};
use crate::render::render_with;
use crate::sys::Kind;
use anyhow::{anyhow, bail, Result};
use serde::Serialize;

pub const DIR: &str = "/etc/logrotate.d";
pub const PATH: &str = crate::paths::LOGROTATE;

#[derive(Serialize)]
struct Data<'a> {
    log_files: Vec<String>,
    root_log_files: Vec<String>,
    user: &'a str,
    group: String,
    log_rotate: &'a str,
    log_keep: u32,
}

/// The text of `/etc/logrotate.d/blot` for this box (the `su` group is the app user's
/// primary group, by name, from the box's own /etc/group).
pub fn render(ctx: &Ctx) -> Result<String> {
    let s = ctx.settings;
    let acct = ctx.app_account()?;
    let groups = ctx
        .sys
        .read_text("/etc/group")?
        .ok_or_else(|| anyhow!("/etc/group does not exist"))?;
    let group = crate::accounts::group_name(&groups, acct.gid).ok_or_else(|| {
        anyhow!(
            "the group of {} (gid {}) is not in /etc/group: logrotate's `su` line needs its name",
            s.user,
            acct.gid
        )
    })?;
    render_with(
        "logrotate",
        &Data {
            log_files: s.log_files(),
            root_log_files: crate::jobs::Job::ALL.map(|j| j.root_log()).to_vec(),
            user: &s.user,
            group,
            log_rotate: &s.log_rotate,
            log_keep: s.log_keep,
        },
    )
}

pub struct Logrotate;

impl Step for Logrotate {
    fn name(&self) -> &'static str {
        "log rotation"
    }

    fn plan(&self, ctx: &Ctx, _earlier: &[Change]) -> Result<StepPlan> {
        ctx.sys.ensure_writable(DIR)?;
        match ctx.sys.meta(DIR)? {
            Some(m) if m.kind == Kind::Dir => {}
            Some(_) => bail!("{DIR} is not a directory"),
            None => bail!(
                "{DIR} does not exist, so logrotate is not installed and nothing would rotate \
                 the app's logs: install it (yum install logrotate) and run again"
            ),
        }
        let text = render(ctx)?;
        Ok(StepPlan::changes(plan_managed(
            ctx,
            PATH,
            text.as_bytes(),
            ROOT_0644,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::check::check;
    use expect_test::expect;

    #[test]
    fn rotates_the_app_users_logs_as_that_user() {
        check(
            &Logrotate,
            |_, _| {},
            expect![[r#"
            - create /etc/logrotate.d/blot (mode 0644, owner 0:0)
            --- /dev/null
            +++ /etc/logrotate.d/blot
            @@ -0,0 +1,34 @@
            +# Blot's logs: rotated by copy-then-truncate, so the writers (node and redis through the
            +# jobs' `>>`, nginx's stderr, monit's logfile, sudo's stderr) keep writing to the same open
            +# file and are never interrupted.
            +#
            +# Managed by blotctl: `blotctl provision` rewrites this file; edit blotctl's settings instead.
            +# The app's logs belong to ec2-user, so logrotate rotates them as ec2-user (`su`); root's own
            +# logs (what nginx's master, monit and the jobs' sudo print) stay root's.
            +
            +/var/www/blot/logs/app.log
            +/var/www/blot/logs/sys.log
            +{
            +    su ec2-user ec2-user
            +    daily
            +    rotate 14
            +    copytruncate
            +    compress
            +    delaycompress
            +    missingok
            +    notifempty
            +}
            +
            +/var/log/blot/redis.log
            +/var/log/blot/blot.log
            +/var/log/blot/nginx.log
            +/var/log/blot/monit.log
            +{
            +    daily
            +    rotate 14
            +    copytruncate
            +    compress
            +    delaycompress
            +    missingok
            +    notifempty
            +}
        "#]],
        );
        check(
            &Logrotate,
            |b, _| {
                b.write("/etc/group", "root:x:0:\n");
            },
            expect![[r#"
            error: the group of ec2-user (gid 500) is not in /etc/group: logrotate's `su` line needs its name
        "#]],
        );
    }
}
