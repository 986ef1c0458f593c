//! Rendered files: the four upstart jobs and the monit control file.
//!
//! Templates are compiled into the binary. Every rendered job is linted against upstart
//! 0.6.5's grammar before it may be installed: upstart silently skips a job it cannot parse.

use super::{plan_managed, Ctx, Step, ROOT_0644};
use crate::config::AUTO;
use crate::jobconf::{self, redis_config, Program};
use crate::jobs::Job;
use crate::plan::{Action, Change, Perms, StepPlan};
use crate::render::render_with;
use crate::validated::Validation;
use anyhow::{anyhow, bail, Result};

const MONIT_RC_PERMS: Perms = Perms {
    mode: 0o700,
    uid: 0,
    gid: 0,
};

/// The absolute path of `sudo` on the box (Amazon Linux's).
pub const SUDO: &str = "/usr/bin/sudo";

/// The node the blot job runs: the `node` setting, else (`auto`) the app user's nvm node,
/// when exactly one is installed (`~/.nvm/versions/node/vX/bin/node`, or nvm's old layout
/// `~/.nvm/vX/bin/node`): Blot pins its node, whose native modules were built for it.
pub fn node(ctx: &Ctx) -> Result<String> {
    let s = ctx.settings;
    if s.node != AUTO {
        return Ok(s.node.clone());
    }
    let home = ctx.app_account()?.home;
    let nvm = format!("{}/.nvm", home.trim_end_matches('/'));
    let mut found = Vec::new();
    for base in [format!("{nvm}/versions/node"), nvm.clone()] {
        for v in ctx.sys.list_dir(&base)?.unwrap_or_default() {
            let path = format!("{base}/{v}/bin/node");
            if v.starts_with('v') && ctx.sys.meta(&path)?.is_some() {
                found.push(path);
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!(
            "node = \"auto\": {} has no nvm node ({nvm}/versions/node/vX/bin/node or \
             {nvm}/vX/bin/node); install Blot's node with nvm as {}, or set `node`",
            s.user,
            s.user
        ),
        _ => bail!(
            "node = \"auto\": {} has several nvm nodes ({}); set `node` to the one Blot's \
             native modules were built for",
            s.user,
            found.join(", ")
        ),
    }
}

/// Render one template by file name (`blot.conf`, `monit.rc`): the settings, plus what each
/// file needs from the box.
pub fn render(ctx: &Ctx, name: &str) -> Result<String> {
    let s = ctx.settings;
    let mut data = serde_json::to_value(s)?;
    let extra = match name {
        "blot.conf" => {
            let acct = ctx.app_account()?;
            if !acct.home.starts_with('/')
                || acct
                    .home
                    .contains(|c: char| !(c.is_ascii_alphanumeric() || "/._-".contains(c)))
            {
                bail!(
                    "the home of {} in /etc/passwd, {:?}, is not a plain absolute path: it would \
                     be written into the job",
                    s.user,
                    acct.home
                );
            }
            serde_json::json!({
                "node": node(ctx)?,
                "home": acct.home,
                "sudo": SUDO,
                "pidfile": crate::health::BLOT_PIDFILE,
                "app_log": s.app_log(),
                "sys_log": s.sys_log(),
            })
        }
        "redis.conf" => {
            let r = jobconf::resolve(ctx, Program::Redis)?;
            serde_json::json!({
                "config": r.run,
                "config_origin": r.origin,
                "sudo": SUDO,
                "sys_log": s.sys_log(),
            })
        }
        "nginx.conf" => {
            let r = jobconf::resolve(ctx, Program::Nginx)?;
            serde_json::json!({
                "config": r.run,
                "config_origin": r.origin,
                "nginx_forks": jobconf::nginx_forks(&r)?,
            })
        }
        "monit.rc" => serde_json::json!({
            "root_log": crate::config::root_log("monit"),
            "checks": crate::health::checks(ctx)?,
            "timeout": crate::health::TIMEOUT_SECONDS,
            "cycles": crate::health::CYCLES,
        }),
        _ => serde_json::json!({}),
    };
    if let (Some(d), serde_json::Value::Object(e)) = (data.as_object_mut(), extra) {
        d.extend(e);
    }
    // The graph's edges, in the job files upstart reads them from; and root's own log of
    // each job, which root opens (what nginx and monit print, what sudo prints).
    if let Some(job) = name.strip_suffix(".conf").and_then(Job::named) {
        data["start_on"] = job.start_on().into();
        data["stop_on"] = job.stop_on().into();
        data["root_log"] = job.root_log().into();
    }
    render_with(name, &data)
}

/// Render a job and make sure upstart 0.6.5 would load it and that its `expect` matches.
pub fn render_job(ctx: &Ctx, job: Job) -> Result<String> {
    let text = render(ctx, &format!("{job}.conf"))?;
    let path = job.path();
    let parsed = crate::jobs::lint(job.name(), &text)?;
    let expect_fork = parsed.expect == Some(crate::upstart::Expect::Fork);
    match job {
        // Under sudo, which stays its parent, redis must stay in the foreground and the
        // job must expect no fork (see the job's comment).
        Job::Redis => {
            let exec = parsed.exec.as_deref().unwrap_or("");
            let words: Vec<&str> = exec
                .split(|c: char| c.is_whitespace() || c == '\'')
                .filter(|w| !w.is_empty())
                .collect();
            let daemonize = words
                .windows(2)
                .rev()
                .find(|w| w[0] == "--daemonize")
                .map(|w| w[1]);
            if parsed.expect.is_some() || daemonize != Some("no") {
                bail!(
                    "the rendered {path} would not track redis: under sudo, redis must run \
                     with `--daemonize no` as its last word on daemonizing, and the job with no \
                     expect stanza"
                );
            }
        }
        Job::Nginx => {
            let r = jobconf::resolve(ctx, Program::Nginx)?;
            let forks = jobconf::nginx_forks(&r)?;
            if forks != expect_fork {
                bail!(
                    "the rendered {path} does not match {}: {} needs {}",
                    r.run,
                    if forks { "daemon on" } else { "daemon off" },
                    if forks {
                        "`expect fork`"
                    } else {
                        "no expect stanza"
                    }
                );
            }
        }
        _ => {}
    }
    Ok(text)
}

/// The programs a job execs, each with the setting that names it and whether it runs as
/// root: (program, path, setting, as root).
fn programs(ctx: &Ctx, job: &str) -> Result<Vec<(&'static str, String, &'static str, bool)>> {
    let s = ctx.settings;
    Ok(match job {
        "redis" => vec![
            ("sudo", SUDO.into(), "", true),
            (
                "redis-server",
                s.redis_server.clone(),
                "redis_server",
                false,
            ),
        ],
        "blot" => vec![
            ("sudo", SUDO.into(), "", true),
            ("node", node(ctx)?, "node", false),
        ],
        "nginx" => vec![("nginx", s.nginx.clone(), "nginx", true)],
        "monit" => vec![
            ("monit", s.monit.clone(), "monit", true),
            (
                "monit's start program",
                s.start_program.clone(),
                "start_program",
                true,
            ),
            (
                "monit's stop program",
                s.stop_program.clone(),
                "stop_program",
                true,
            ),
        ],
        _ => Vec::new(),
    })
}

/// Every program a job will exec must be on the box and executable (else it would be
/// written anyway and respawn until upstart gives up); one that runs as root must be one
/// no other user can change.
fn check_programs(ctx: &Ctx, job: &str) -> Result<()> {
    for (what, path, key, as_root) in programs(ctx, job)? {
        let fix = if key.is_empty() {
            format!("install {what}")
        } else {
            format!("install it, or set `{key}`")
        };
        let real = ctx.sys.program(&path)?.map_err(|why| {
            anyhow!(
                "the {job} job would run {what} {path}, but {why} on this box: nothing was \
                 changed ({fix})"
            )
        })?;
        if as_root {
            if let Some(why) = ctx.sys.nonroot_writer(&real)? {
                bail!(
                    "the {job} job would run {what} {real} as root, but {why}: a user other \
                     than root could change what root runs; nothing was changed"
                );
            }
        }
    }
    Ok(())
}

/// What the jobs need from the box that is not a program: the app's environment file
/// (an error when missing), redis's data directory (a warning when redis, as the app user,
/// could not save there).
fn job_needs(ctx: &Ctx) -> Result<Vec<String>> {
    let s = ctx.settings;
    let mut out = Vec::new();
    if !s.app_env_file.is_empty() && ctx.sys.meta(&s.app_env_file)?.is_none() {
        bail!(
            "app_env_file {} does not exist: the app's shell would fail to source it and the \
             app would not start",
            s.app_env_file
        );
    }
    // redis runs as the app user: it must be able to save where its config says.
    if let Some(dir) = redis_config(ctx)?.dir.filter(|d| d.starts_with('/')) {
        let acct = ctx.app_account()?;
        match ctx.sys.meta(dir.trim_end_matches('/'))? {
            Some(m) if m.uid == acct.uid => {}
            Some(m) => out.push(format!(
                "redis runs as {} (never root), but its data directory {dir} belongs to uid \
                 {}: redis cannot save there",
                s.user, m.uid
            )),
            None => out.push(format!(
                "redis's data directory {dir} does not exist: redis will not start"
            )),
        }
    }
    Ok(out)
}

/// What the blot job runs through sudo, from its rendered `exec` line: (the `-u` user, the
/// command, its arguments). The sudoers step checks that root may run exactly that
/// without a tty.
pub fn blot_sudo_command(ctx: &Ctx) -> Result<(String, String, String)> {
    let text = render(ctx, "blot.conf")?;
    sudo_command_of(&text).ok_or_else(|| {
        anyhow!("internal error: cannot find the `exec ... sudo -u USER COMMAND` line of blot.conf")
    })
}

/// [`blot_sudo_command`] of a job's text: the `exec` line split as the shell would, up to
/// its first redirection or operator (a word of its own: `>>`, `2>&1`, `|`; a quoted
/// argument that contains one, like `sh -c '... >> log'`, is an argument), then sudo's
/// options skipped.
fn sudo_command_of(job: &str) -> Option<(String, String, String)> {
    let line = job
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with("exec ") && l.contains("sudo"))?;
    let words = shlex::split(line.strip_prefix("exec ")?)?;
    let operator = |w: &str| {
        w.trim_start_matches(|c: char| c.is_ascii_digit())
            .starts_with(['>', '<', '|', ';', '&'])
    };
    let mut words = words.into_iter().take_while(|w| !operator(w));
    words.find(|w| w.rsplit('/').next() == Some("sudo"))?;
    let mut user = "root".to_string();
    let mut rest = Vec::new();
    let mut options = true;
    while let Some(w) = words.next() {
        if options && w == "--" {
            options = false;
        } else if options
            && ["-u", "-g", "-C", "-h", "-p", "-r", "-t", "-U", "-D"].contains(&w.as_str())
        {
            let v = words.next()?;
            if w == "-u" {
                user = v;
            }
        } else if options && w.starts_with('-') {
        } else {
            options = false;
            rest.push(w);
        }
    }
    let (command, args) = rest.split_first()?;
    Some((user, command.clone(), args.join(" ")))
}

/// The blot job listens on `blot_port`; nginx must send requests there. When the nginx
/// config the nginx job runs (or a file it includes, wherever it is) proxies to this machine's loopback and
/// none of those addresses is `blot_port`, the site would answer 502 after the run: a
/// planning error naming both places (blotctl does not own that config, so it cannot change
/// both).
pub fn check_blot_upstream(ctx: &Ctx) -> Result<()> {
    let conf = jobconf::resolve(ctx, Program::Nginx)?;
    let port = ctx.settings.blot_port;
    let mut local = Vec::new();
    let mut matches = false;
    let mut at = Vec::new();
    for (path, bytes) in conf.read_by_program() {
        let path = conf.source_of(ctx, path);
        for u in crate::nginx::upstreams(&String::from_utf8_lossy(bytes)) {
            match u.loopback_port() {
                Some((_, p)) if p == port => matches = true,
                Some(_) => {
                    local.push(format!("{} (line {})", u.addr, u.line));
                    if !at.contains(&path) {
                        at.push(path.clone());
                    }
                }
                None => {}
            }
        }
    }
    if local.is_empty() || matches {
        return Ok(());
    }
    let path = at.join(", ");
    bail!(
        "blot_port is {port}, but {path} sends requests to {} on this machine, not to port \
         {port}: after the run nginx would answer 502. Set blot_port to the port in {path} \
         (where the app listens), or change that upstream first",
        local.join(", ")
    )
}

/// monit (and verify) ask nginx on `nginx_port`; nginx must listen there. When the nginx
/// config the nginx job runs (or any file it includes) listens, but on no address that
/// 127.0.0.1:`nginx_port` reaches, monit would find nginx down at every cycle and restart
/// it for ever: a planning error naming both places.
pub fn check_nginx_listen(ctx: &Ctx) -> Result<()> {
    let conf = jobconf::resolve(ctx, Program::Nginx)?;
    let port = ctx.settings.nginx_port;
    let mut elsewhere = Vec::new();
    let mut at = Vec::new();
    for (path, bytes) in conf.read_by_program() {
        let Ok(stmts) = crate::nginx::statements(&String::from_utf8_lossy(bytes)) else {
            continue; // not nginx's syntax: reported where the config is read
        };
        let path = conf.source_of(ctx, path);
        for l in crate::nginx::listens(&stmts) {
            if l.port == port && l.on_loopback_v4() {
                return Ok(());
            }
            elsewhere.push(format!("{}:{} (line {})", l.host, l.port, l.line));
            if !at.contains(&path) {
                at.push(path.clone());
            }
        }
    }
    if elsewhere.is_empty() {
        return Ok(()); // no http server at all: nothing it says contradicts the setting
    }
    let path = at.join(", ");
    bail!(
        "nginx_port is {port}, but {path} has nginx listen on {}, not on 127.0.0.1:{port}: \
         monit would find nginx down at every cycle and restart it for ever. Set nginx_port \
         to the port in {path}, or change that listen first",
        elsewhere.join(", ")
    )
}

/// The four upstart jobs.
pub struct Jobs;

impl Step for Jobs {
    fn name(&self) -> &'static str {
        "upstart jobs"
    }

    fn plan(&self, ctx: &Ctx, _earlier: &[Change]) -> Result<StepPlan> {
        if ctx.sys.meta("/etc/init")?.is_none() {
            bail!("/etc/init does not exist: this box does not run upstart (check --root)");
        }
        check_blot_upstream(ctx)?;
        let mut changes = Vec::new();
        for job in Job::ALL {
            let text = render_job(ctx, job)?;
            check_programs(ctx, job.name())?;
            let path = job.path();
            changes.extend(plan_managed(ctx, &path, text.as_bytes(), ROOT_0644)?);
        }
        let mut plan = StepPlan::changes(changes);
        plan.warnings = job_needs(ctx)?;
        Ok(plan)
    }
}

/// The monit control file.
pub struct MonitRc;

impl Step for MonitRc {
    fn name(&self) -> &'static str {
        "monit control file"
    }

    fn plan(&self, ctx: &Ctx, _earlier: &[Change]) -> Result<StepPlan> {
        check_nginx_listen(ctx)?;
        let text = render(ctx, "monit.rc")?;
        let path = &ctx.settings.monit_rc;
        let mut changes = plan_managed(ctx, path, text.as_bytes(), MONIT_RC_PERMS)?;
        let writes = |c: &Change| matches!(c.action, Action::WriteFile { .. });
        // The new contents are checked by the monit that will read them, where it is
        // installed, before they may replace anything.
        if changes.iter().any(writes) && ctx.sys.which("monit").is_some() {
            let out = monit_check(ctx, text.as_bytes())?;
            if !out.success() {
                bail!(
                    "`monit -t` rejects {path} as blotctl would write it, so it was left \
                     unchanged: {}",
                    out.one_line()
                );
            }
            let v = monit_validation(ctx, path, text.as_bytes());
            changes = changes
                .into_iter()
                .map(|c| {
                    if writes(&c) {
                        c.validated_by(v.clone())
                    } else {
                        c
                    }
                })
                .collect();
        }
        Ok(StepPlan::changes(changes))
    }
}

/// `monit -t` on a control file's contents, in a private scratch directory: a wrapper keeps
/// monit's id and state files there and includes the copy.
pub fn monit_check(ctx: &Ctx, bytes: &[u8]) -> Result<crate::sys::Output> {
    ctx.sys
        .check_in_scratch(&[("monit.rc", bytes, 0o700)], &|dir| {
            let d = dir.display();
            (
                "wrapper.rc",
                format!(
                    "set idfile {d}/monit.id\nset statefile {d}/monit.state\ninclude {d}/monit.rc\n"
                ),
                vec![
                    "monit".into(),
                    "-t".into(),
                    "-c".into(),
                    format!("{d}/wrapper.rc"),
                    "-l".into(),
                    format!("{d}/monit.log"),
                ],
            )
        })
}

/// What [`monit_check`] reads of the control file at `path`, as a validation by the monit
/// on PATH (see `crate::validated`): the file alone. `None` for a file that may include
/// others: monit reads an include at its path on this machine (under --root not the box's),
/// which no read of the box can stand for, so such a file is checked every time.
pub fn monit_validation(ctx: &Ctx, path: &str, bytes: &[u8]) -> Option<Validation> {
    let text = String::from_utf8_lossy(bytes).to_ascii_lowercase();
    if text.contains("include") {
        return None;
    }
    Validation::of(ctx.sys, "monit", [(path, bytes)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::steps::check::check;
    use crate::sys::fake::FakeBox;
    use expect_test::expect;

    /// The box with the job files and monit's control file as provision writes them.
    fn provisioned(b: &mut FakeBox, s: &mut Settings) {
        let ctx = Ctx {
            sys: &*b,
            settings: s,
            no_start: false,
            offline: false,
        };
        let mut files: Vec<(String, String)> = Job::ALL
            .map(|j| (j.path(), render_job(&ctx, j).unwrap()))
            .to_vec();
        files.push((s.monit_rc.clone(), render(&ctx, "monit.rc").unwrap()));
        for (path, text) in files {
            b.write(&path, &text);
        }
        b.chmod(&s.monit_rc, 0o700, 0, 0);
    }

    #[test]
    fn job_files_edited_by_hand_are_replaced() {
        check(
            &Jobs,
            provisioned,
            expect![[r#"
            in sync
        "#]],
        );
        check(
            &Jobs,
            |b, s| {
                provisioned(b, s);
                let blot = b.text("/etc/init/blot.conf").unwrap();
                b.write(
                    "/etc/init/blot.conf",
                    &blot.replace("respawn limit 10 5\n", ""),
                );
            },
            expect![[r#"
                - replace (differs from the template) in /etc/init/blot.conf
                --- /etc/init/blot.conf
                +++ /etc/init/blot.conf
                @@ -20,6 +20,7 @@
                 stop on stopping redis
 
                 respawn
                +respawn limit 10 5
 
                 chdir /var/www/blot
 
            "#]],
        );
        check(
            &Jobs,
            |b, s| {
                provisioned(b, s);
                b.chmod("/usr/sbin/nginx", 0o755, 500, 500);
            },
            expect![[r#"
                error: the nginx job would run nginx /usr/sbin/nginx as root, but /usr/sbin/nginx belongs to uid 500: a user other than root could change what root runs; nothing was changed
            "#]],
        );
    }

    #[test]
    fn monits_control_file_is_roots_alone() {
        check(
            &MonitRc,
            provisioned,
            expect![[r#"
            in sync
        "#]],
        );
        check(
            &MonitRc,
            |b, s| {
                provisioned(b, s);
                b.chmod(&s.monit_rc, 0o644, 0, 0);
            },
            expect![[r#"
                - set /etc/monit.rc to mode 0700, owner 0:0
                  /etc/monit.rc: mode 0644 -> 0700
            "#]],
        );
    }

    /// The graph's edges are what upstart reads from the rendered job files.
    #[test]
    fn rendered_start_and_stop_stanzas_are_the_job_graph() {
        let b = FakeBox::fixture();
        let settings = Settings::default();
        let ctx = Ctx {
            sys: &b,
            settings: &settings,
            no_start: false,
            offline: false,
        };
        for job in Job::ALL {
            let parsed = crate::upstart::lint_job(&render_job(&ctx, job).unwrap()).unwrap();
            assert_eq!(parsed.start_on, Some(job.start_on()), "{job}");
            assert_eq!(parsed.stop_on, Some(job.stop_on()), "{job}");
        }
        assert_eq!(
            crate::jobs::Job::Nginx.start_on(),
            "started blot",
            "nginx proxies to the app"
        );
    }

    #[test]
    fn the_command_the_blot_job_runs_through_sudo() {
        let mut data = serde_json::to_value(crate::config::Settings::default()).unwrap();
        let extra = serde_json::json!({
            "node": "/home/ec2-user/.nvm/v4.4.2/bin/node",
            "home": "/home/ec2-user",
            "sudo": SUDO,
            "pidfile": "/var/run/blot.pid",
            "app_log": "/var/www/blot/logs/app.log",
            "sys_log": "/var/www/blot/logs/sys.log",
            "root_log": "/var/log/blot/blot.log",
            "start_on": "started redis",
            "stop_on": "stopping redis",
        });
        if let (Some(d), serde_json::Value::Object(e)) = (data.as_object_mut(), extra) {
            d.extend(e);
        }
        let job = render_with("blot.conf", &data).unwrap();
        let (user, command, args) = sudo_command_of(&job).unwrap();
        assert_eq!((user.as_str(), command.as_str()), ("ec2-user", "/bin/sh"));
        assert!(args.starts_with("-c echo"), "{args}");
        assert!(
            args.ends_with("exec /home/ec2-user/.nvm/v4.4.2/bin/node /var/www/blot/app/index.js"),
            "{args}"
        );
        assert_eq!(
            sudo_command_of("  exec /usr/bin/sudo -n -u ec2-user /bin/sh -c 'exec node x' >> l\n"),
            Some(("ec2-user".into(), "/bin/sh".into(), "-c exec node x".into()))
        );
    }
}
