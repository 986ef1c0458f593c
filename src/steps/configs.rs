//! The copies step: the checkout's nginx and redis configs as root-owned copies in /etc/blot
//! ([`crate::jobconf`] says which config each job runs and reads them safely), their diffs
//! shown and the nginx candidates validated with `nginx -t` before anything is replaced.

use super::{Ctx, Step, ROOT_0644};
use crate::jobconf::{
    dirs_for, nginx_pidfile, read_checkout, resolve_with, Program, Reader, Resolved, DIR,
};
use crate::nginx;
use crate::plan::{Action, Change, NotChecked, StepPlan};
use anyhow::{bail, Result};

/// The nginx binary to validate candidates with: the box's own on the box; under --root
/// (whose programs do not run here) the one on PATH.
fn nginx_for_check(ctx: &Ctx) -> Option<String> {
    if ctx.sys.is_live() {
        Some(ctx.settings.nginx.clone())
    } else {
        ctx.sys
            .which("nginx")
            .map(|p| p.to_string_lossy().into_owned())
    }
}

/// `nginx -t` on the candidate copies (in a private temp directory, the pid file moved
/// there, so the check creates nothing on the box that nginx would read).
fn validate_nginx(ctx: &Ctx, r: &Resolved) -> Result<()> {
    let Some(bin) = nginx_for_check(ctx) else {
        bail!("nginx is not on PATH");
    };
    // The candidates, laid out as on the box in a scratch directory; the pid file moved
    // into it (relative: under -p), so that the check creates nothing nginx reads.
    let mut files = Vec::new();
    for (dest, bytes) in &r.files {
        let bytes = if *dest == r.run {
            let text = String::from_utf8_lossy(bytes);
            let stmts = nginx::statements(&text)?;
            let pid: Vec<(&nginx::Word, String)> = stmts
                .iter()
                .filter(|s| s.is_main() && s.name() == "pid")
                .filter_map(|s| s.arg(0).map(|w| (w, "nginx.pid".to_string())))
                .collect();
            nginx::replace_words(&text, &pid).into_bytes()
        } else {
            bytes.clone()
        };
        files.push((dest.clone(), bytes));
    }
    let prefix = format!("{{dir}}{DIR}/");
    let argv = [bin.as_str(), "-t", "-p", prefix.as_str(), "-c"];
    let out = ctx.sys.check_tree(&argv, &files, &r.run)?;
    if !out.success() {
        bail!(
            "`nginx -t` rejects {}/nginx.conf as blotctl would write it, so nothing was \
             changed; fix the checkout's config/nginx.conf:\n{}",
            DIR,
            out.stderr.trim_end()
        );
    }
    Ok(())
}

/// Whether any of nginx's files has a `location` for the health path (Blot's answers
/// `location = /health` itself: monit and verify ask nginx for it).
fn answers_health(r: &Resolved, path: &str) -> bool {
    r.read_by_program().any(|(_, bytes)| {
        nginx::statements(&String::from_utf8_lossy(bytes))
            .map(|st| {
                st.iter().any(|s| {
                    s.name() == "location" && s.words.last().is_some_and(|w| w.text == path)
                })
            })
            .unwrap_or(false)
    })
}

/// How a checkout file is read when it is not read from the working tree: `deploy` reads
/// the commit it deploys (git, as the app user; which commit, from the changes planned
/// before).
pub type ReadAt = fn(&Ctx, &[Change], &str) -> Result<Option<Vec<u8>>>;

/// The copies in /etc/blot, from the checkout's working tree (`provision`) or from the
/// commit being deployed (`deploy`).
pub struct Configs {
    /// `None`: the working tree.
    pub read: Option<ReadAt>,
}

impl Step for Configs {
    fn name(&self) -> &'static str {
        "app configs"
    }

    fn plan(&self, ctx: &Ctx, earlier: &[Change]) -> Result<StepPlan> {
        let tree = |path: &str| read_checkout(ctx, path);
        let at = |path: &str| self.read.expect("checked")(ctx, earlier, path);
        let read: &Reader = match self.read {
            Some(_) => &at,
            None => &tree,
        };
        let mut notes = Vec::new();
        let mut warnings = Vec::new();
        let mut resolved = Vec::new();
        // Both are looked at before either's error stops the step (what planning reads is
        // what `capture` copies).
        let both = [Program::Nginx, Program::Redis].map(|p| (p, resolve_with(ctx, p, read)));
        for (p, r) in both {
            let r = match r {
                Ok(r) => r,
                Err(e) => match e.downcast_ref::<crate::git::NotFetched>() {
                    // deploy plans these again once it has fetched the commit.
                    Some(nf) => {
                        let mut plan = StepPlan::changes(Vec::new());
                        plan.not_checked.push(NotChecked::beyond_this_run(
                            "refresh the copies of the checkout's configs in /etc/blot",
                            format!(
                                "{nf} (a dry run does not fetch); deploy refreshes them after \
                                 the fast-forward"
                            ),
                        ));
                        return Ok(plan);
                    }
                    None => return Err(e),
                },
            };
            notes.push(r.note.clone());
            if p == Program::Nginx {
                nginx_pidfile(&r)?;
                if !answers_health(&r, &ctx.settings.health_path) {
                    warnings.push(format!(
                        "{} has no `location` for {}: monit and verify ask nginx for it, and \
                         would find nginx unhealthy (Blot's config/nginx.conf answers \
                         `location = /health` itself)",
                        r.files[0].0, ctx.settings.health_path
                    ));
                }
            }
            if r.copied {
                resolved.push(r);
            }
        }
        let mut changes = Vec::new();
        let dests = resolved
            .iter()
            .flat_map(|r| r.files.iter().map(|(d, _)| d.as_str()));
        for dir in dirs_for(dests) {
            changes.extend(super::plan_root_dir(
                ctx,
                &dir,
                "for the copies of Blot's configs",
            )?);
        }
        for r in &resolved {
            let mut mine = Vec::new();
            for (dest, bytes) in &r.files {
                mine.extend(super::plan_managed_as(
                    ctx,
                    dest,
                    bytes,
                    ROOT_0644,
                    "refresh (the checkout's config changed)",
                )?);
            }
            let writes = mine
                .iter()
                .any(|c| matches!(c.action, Action::WriteFile { .. }));
            if r.program == Program::Nginx && writes {
                let blocked = if nginx_for_check(ctx).is_none() {
                    Some(
                        "nginx is not installed here, so the new nginx config cannot be \
                         validated (blotctl never installs an unvalidated one)"
                            .to_string(),
                    )
                } else if !ctx.sys.is_root() {
                    Some(
                        "`nginx -t` needs root (it opens the files the config names as \
                         root): run as root to validate the new nginx config"
                            .to_string(),
                    )
                } else {
                    validate_nginx(ctx, r)?;
                    None
                };
                if let Some(why) = blocked {
                    warnings.push(why.clone());
                    mine = mine.into_iter().map(|c| c.blocked(why.clone())).collect();
                }
            }
            changes.extend(mine);
        }
        let mut plan = StepPlan::changes(changes);
        plan.notes = notes;
        plan.warnings = warnings;
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::steps::check::check;
    use crate::sys::fake::FakeBox;
    use expect_test::expect;

    /// nginx -t accepts what it is shown.
    fn nginx(b: &mut FakeBox) -> &mut FakeBox {
        b.on_path("nginx")
            .answer("/usr/bin/nginx", 0, "", "test is successful\n")
    }

    /// The copies as provision writes them.
    fn copied(b: &mut FakeBox, s: &mut Settings) {
        nginx(b);
        for dir in ["/etc/blot", "/etc/blot/nginx"] {
            b.mkdir(dir, 0o755, 0, 0);
        }
        for p in [Program::Nginx, Program::Redis] {
            let ctx = Ctx {
                sys: &*b,
                settings: s,
                no_start: false,
                offline: false,
            };
            let files = crate::jobconf::resolve(&ctx, p).unwrap().files;
            for (path, bytes) in files {
                b.write(&path, &String::from_utf8(bytes).unwrap());
            }
        }
    }

    #[test]
    fn an_edit_in_the_checkout_is_a_refresh_of_roots_copy() {
        let step = Configs { read: None };
        check(
            &step,
            copied,
            expect![[r#"
            in sync
            note: nginx runs /etc/blot/nginx.conf: a root-owned copy of the checkout's /var/www/blot/config/nginx.conf (provision and deploy refresh it; the checkout belongs to ec2-user)
            note: redis runs /etc/blot/redis.conf: a root-owned copy of the checkout's /var/www/blot/config/redis.conf (provision and deploy refresh it; the checkout belongs to ec2-user)
        "#]],
        );
        check(
            &step,
            |b, s| {
                copied(b, s);
                let conf = "/var/www/blot/config/redis.conf";
                let text = b.text(conf).unwrap().replace("port 6379", "port 6380");
                b.write(conf, &text);
            },
            expect![[r#"
                - refresh (the checkout's config changed) in /etc/blot/redis.conf
                --- /etc/blot/redis.conf
                +++ /etc/blot/redis.conf
                @@ -2,7 +2,7 @@
                 # the dataset lives in the checkout. blotctl's redis job runs it with `--daemonize no`.
                 daemonize yes
                 pidfile /var/run/redis.pid
                -port 6379
                +port 6380
                 bind 127.0.0.1
                 logfile /var/www/blot/logs/redis.log
                 dir /var/www/blot/db/
                note: nginx runs /etc/blot/nginx.conf: a root-owned copy of the checkout's /var/www/blot/config/nginx.conf (provision and deploy refresh it; the checkout belongs to ec2-user)
                note: redis runs /etc/blot/redis.conf: a root-owned copy of the checkout's /var/www/blot/config/redis.conf (provision and deploy refresh it; the checkout belongs to ec2-user)
            "#]],
        );
        check(
            &step,
            |b, s| {
                copied(b, s);
                b.answer(
                    "/usr/bin/nginx",
                    1,
                    "",
                    "nginx: [emerg] unknown directive \"lisen\"\n",
                );
                let conf = "/var/www/blot/config/nginx.conf";
                let text = b.text(conf).unwrap().replace("listen 80", "lisen 80");
                b.write(conf, &text);
            },
            expect![[r#"
                error: `nginx -t` rejects /etc/blot/nginx.conf as blotctl would write it, so nothing was changed; fix the checkout's config/nginx.conf:
                nginx: [emerg] unknown directive "lisen"
            "#]],
        );
        // The app user's checkout file through a link: refused.
        check(
            &step,
            |b, s| {
                copied(b, s);
                b.symlink("/var/www/blot/config/redis.conf", "/etc/shadow");
            },
            expect![[r#"
                error: refusing to read /var/www/blot/config/redis.conf, which the app user controls: /var/www/blot/config/redis.conf is a symlink; blotctl does not follow links on a path it manages
            "#]],
        );
    }
}
