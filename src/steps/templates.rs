//! Rendered files: the four upstart jobs and the monit control file.
//!
//! Templates are compiled into the binary. Every rendered job is linted against upstart
//! 0.6.5's grammar before it may be installed: upstart silently skips a job it cannot parse.

use super::{Ctx, Step, ROOT_0644};
use crate::plan::{plan_file, Change, Perms, StepPlan};
use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

/// The upstart jobs blotctl owns, in start order.
pub const JOBS: [&str; 4] = ["redis", "blot", "nginx", "monit"];

const TEMPLATES: [(&str, &str); 7] = [
    ("redis.conf", include_str!("../../templates/redis.conf.hbs")),
    ("blot.conf", include_str!("../../templates/blot.conf.hbs")),
    ("nginx.conf", include_str!("../../templates/nginx.conf.hbs")),
    ("monit.conf", include_str!("../../templates/monit.conf.hbs")),
    ("monit.rc", include_str!("../../templates/monit.rc.hbs")),
    (
        "redis-host-settings.conf",
        include_str!("../../templates/redis-host-settings.conf.hbs"),
    ),
    ("logrotate", include_str!("../../templates/logrotate.hbs")),
];

const MONIT_RC_PERMS: Perms = Perms {
    mode: 0o700,
    uid: 0,
    gid: 0,
};

pub fn job_path(job: &str) -> String {
    format!("/etc/init/{job}.conf")
}

/// What the templates see: the settings plus facts derived from the box.
#[derive(Serialize)]
struct Data<'a> {
    #[serde(flatten)]
    settings: &'a crate::config::Settings,
    /// redis config says `daemonize yes`: the job needs `expect fork`. Derived only when
    /// rendering redis's job.
    redis_forks: bool,
    /// nginx config leaves `daemon` on (its default): the job needs `expect fork`.
    /// Derived only when rendering nginx's job (other files do not need nginx's config).
    nginx_forks: bool,
}

/// The nginx config the nginx job runs: its box path and text. Everything blotctl derives
/// from nginx's config (the job's `expect`, the upstream checks) reads it through here.
pub fn nginx_config(ctx: &Ctx) -> Result<(String, String)> {
    let path = &ctx.settings.nginx_config;
    let text = read_expect_source(ctx, "nginx", path, "nginx_config")?;
    Ok((path.clone(), text))
}

/// Read the nginx config the job runs: does nginx fork?
pub fn nginx_forks(ctx: &Ctx) -> Result<bool> {
    let (path, text) = nginx_config(ctx)?;
    crate::nginx::daemon(&text).with_context(|| format!("cannot use {path}"))
}

/// What blotctl reads from the box's redis config (it never writes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisConfig {
    pub daemonize: bool,
    pub port: u16,
}

/// Parse the directives blotctl depends on; the last occurrence wins, as in redis.
pub fn parse_redis_config(text: &str) -> Result<RedisConfig> {
    let mut cfg = RedisConfig {
        daemonize: false,
        port: 6379,
    };
    for (i, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        let Some(key) = words.next() else { continue };
        let val = words.next();
        match (key.to_ascii_lowercase().as_str(), val) {
            ("daemonize", Some(v)) => {
                cfg.daemonize = match v.trim_matches('"').to_ascii_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    other => bail!("line {}: daemonize {other:?} is neither yes nor no", i + 1),
                }
            }
            ("port", Some(v)) => {
                cfg.port = v
                    .parse()
                    .map_err(|_| anyhow!("line {}: port {v:?} is not a port number", i + 1))?
            }
            _ => {}
        }
    }
    if cfg.port == 0 {
        bail!("port 0 (redis does not listen on TCP): blotctl needs a TCP port to check redis");
    }
    Ok(cfg)
}

/// Read and parse the box's redis config named in the settings.
pub fn redis_config(ctx: &Ctx) -> Result<RedisConfig> {
    let path = &ctx.settings.redis_config;
    let text = read_expect_source(ctx, "redis", path, "redis_config")?;
    parse_redis_config(&text).with_context(|| format!("cannot use {path}"))
}

/// The text of a program's config that its job's `expect` is derived from; a missing one
/// is an error (`key`: the setting that names it).
fn read_expect_source(ctx: &Ctx, program: &str, path: &str, key: &str) -> Result<String> {
    ctx.sys.read_text(path)?.ok_or_else(|| {
        anyhow!(
            "the {program} config {path} does not exist: blotctl derives the {program} job's \
             `expect` from it and never guesses (install {program}, or set `{key}`)"
        )
    })
}

/// Render one template by file name (`blot.conf`, `monit.rc`).
pub fn render(ctx: &Ctx, name: &str) -> Result<String> {
    // Each program's config is read only for the file derived from it.
    let data = Data {
        settings: ctx.settings,
        redis_forks: name == "redis.conf" && redis_config(ctx)?.daemonize,
        nginx_forks: name == "nginx.conf" && nginx_forks(ctx)?,
    };
    render_with(name, &data)
}

/// Render one template with data of the caller's choosing (strict: a missing value is an
/// error, never an empty string).
pub fn render_with(name: &str, data: &impl Serialize) -> Result<String> {
    let mut hb = handlebars::Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    let (_, tpl) = TEMPLATES
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| anyhow!("no template named {name}"))?;
    hb.render_template(tpl, data)
        .with_context(|| format!("cannot render template {name}"))
}

/// Render a job and make sure upstart 0.6.5 would load it and that its `expect` matches.
pub fn render_job(ctx: &Ctx, job: &str) -> Result<String> {
    let text = render(ctx, &format!("{job}.conf"))?;
    let path = job_path(job);
    let parsed = crate::upstart::lint_job(&text).map_err(|e| {
        anyhow!(
            "the rendered {path} would not load under upstart 0.6.5 ({}); refusing to install it",
            e.display_with_path(&path)
        )
    })?;
    let derived = match job {
        "redis" => Some((
            redis_config(ctx)?.daemonize,
            &ctx.settings.redis_config,
            ["daemonize yes", "daemonize no"],
        )),
        "nginx" => Some((
            nginx_forks(ctx)?,
            &ctx.settings.nginx_config,
            ["daemon on", "daemon off"],
        )),
        _ => None,
    };
    if let Some((forks, config, [on, off])) = derived {
        let expect_fork = parsed.expect == Some(crate::upstart::Expect::Fork);
        if forks != expect_fork {
            bail!(
                "the rendered {path} does not match {config}: {} needs {}",
                if forks { on } else { off },
                if forks {
                    "`expect fork`"
                } else {
                    "no expect stanza"
                }
            );
        }
    }
    Ok(text)
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
/// its first redirection, then sudo's options skipped.
fn sudo_command_of(job: &str) -> Option<(String, String, String)> {
    let line = job
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with("exec ") && l.contains("sudo"))?;
    let words = shlex::split(line.strip_prefix("exec ")?)?;
    let mut words = words
        .into_iter()
        .take_while(|w| !w.contains(['>', '<', '|', ';', '&']));
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

/// Every file `blotctl render` prints, by the name it takes.
pub const RENDERED: [&str; 7] = [
    "redis",
    "blot",
    "nginx",
    "monit",
    "monit.rc",
    super::hostsettings::JOB,
    "logrotate",
];

/// The box path and text of a rendered file, by its `render` name; `None` for an unknown
/// name.
pub fn render_file(ctx: &Ctx, name: &str) -> Result<Option<(String, String)>> {
    Ok(Some(match name {
        "monit.rc" => (ctx.settings.monit_rc.clone(), render(ctx, name)?),
        "logrotate" => (
            super::logrotate::PATH.to_string(),
            super::logrotate::render(ctx)?,
        ),
        n if JOBS.contains(&n) || n == super::hostsettings::JOB => {
            (job_path(n), render_job(ctx, n)?)
        }
        _ => return Ok(None),
    }))
}

/// The blot job listens on `blot_port`; nginx must send requests there. When the nginx
/// config the nginx job runs proxies to this machine's loopback and none of those
/// addresses is `blot_port`, the site would answer 502 after the run: a planning error
/// naming both places (blotctl does not own that config, so it cannot change both).
pub fn check_blot_upstream(ctx: &Ctx) -> Result<()> {
    let (path, text) = nginx_config(ctx)?;
    let port = ctx.settings.blot_port;
    let ups = crate::nginx::upstreams(&text);
    let local: Vec<String> = ups
        .iter()
        .filter_map(|u| {
            u.loopback_port()
                .map(|(_, p)| (p, format!("{} (line {})", u.addr, u.line)))
        })
        .filter_map(|(p, shown)| (p != port).then_some(shown))
        .collect();
    let matches = ups
        .iter()
        .any(|u| u.loopback_port().is_some_and(|(_, p)| p == port));
    if local.is_empty() || matches {
        return Ok(());
    }
    bail!(
        "blot_port is {port}, but {path} sends requests to {} on this machine, not to port \
         {port}: after the run nginx would answer 502. Set blot_port to the port in {path}, \
         or change that upstream first",
        local.join(", ")
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
        for job in JOBS {
            let text = render_job(ctx, job)?;
            let path = job_path(job);
            changes.extend(plan_managed(ctx, &path, text.as_bytes(), ROOT_0644)?);
        }
        Ok(StepPlan::changes(changes))
    }
}

/// The monit control file.
pub struct MonitRc;

impl Step for MonitRc {
    fn name(&self) -> &'static str {
        "monit control file"
    }

    fn plan(&self, ctx: &Ctx, _earlier: &[Change]) -> Result<StepPlan> {
        let text = render(ctx, "monit.rc")?;
        let path = &ctx.settings.monit_rc;
        Ok(StepPlan::changes(plan_managed(
            ctx,
            path,
            text.as_bytes(),
            MONIT_RC_PERMS,
        )?))
    }
}

/// Plan a file blotctl owns entirely: any difference is replaced.
pub fn plan_managed(ctx: &Ctx, path: &str, desired: &[u8], perms: Perms) -> Result<Vec<Change>> {
    let current = super::observe_file(ctx, path)?;
    Ok(plan_file(
        path,
        current.as_ref().map(|(b, m)| (b.as_slice(), *m)),
        desired,
        perms,
        "replace (differs from the template)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_config_last_wins() {
        let c = parse_redis_config("daemonize no\nport 7000\n# daemonize yes\ndaemonize yes\n")
            .unwrap();
        assert_eq!(
            c,
            RedisConfig {
                daemonize: true,
                port: 7000
            }
        );
        assert!(!parse_redis_config("").unwrap().daemonize);
        assert!(parse_redis_config("daemonize maybe\n").is_err());
        assert!(parse_redis_config("port 0\n").is_err());
    }

    #[test]
    fn the_command_the_blot_job_runs_through_sudo() {
        let data = Data {
            settings: &crate::config::Settings::default(),
            redis_forks: true,
            nginx_forks: true,
        };
        let job = render_with("blot.conf", &data).unwrap();
        assert_eq!(
            sudo_command_of(&job),
            Some((
                "ec2-user".into(),
                "/usr/bin/node".into(),
                "/var/www/blot/app/index.js".into()
            ))
        );
        assert_eq!(
            sudo_command_of("  exec /usr/bin/sudo -n -u ec2-user /bin/sh -c 'exec node x' >> l\n"),
            Some(("ec2-user".into(), "/bin/sh".into(), "-c exec node x".into()))
        );
    }
}
