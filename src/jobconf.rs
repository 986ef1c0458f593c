//! Which config each job runs, read safely: nginx and redis run Blot's own configs (the
//! checkout's `config/nginx.conf` and `config/redis.conf`) as root-owned copies in /etc/blot,
//! or a config in place. The one answer for the job files, the copies step, health, the
//! engine's probes and verify.
//!
//! Blot's own configs: nginx and redis run the checkout's `config/nginx.conf` and
//! `config/redis.conf` (Blot's port, upstream, `/health` location, dataset), not the box's
//! stock files, which point elsewhere (another data directory: Blot on an empty dataset).
//!
//! Root reads only root's files. The checkout belongs to the app user (deploy pulls as that
//! user), and nginx's master reads its config as root: `-c <checkout>/config/nginx.conf`
//! would hand the app user root (`load_module`, a log or pid file aimed at /etc, ...). So
//! the jobs run root-owned copies in /etc/blot, with the files the nginx config includes
//! from the checkout's `config/` beside them. `provision` (and `deploy`, from the commit it
//! deploys) shows their diffs and validates the candidates with `nginx -t` before replacing
//! anything: an edit in the checkout changes nothing root runs until an operator provisions.
//! redis runs as the app user (never root), from its copy as well.
//!
//! Every other file nginx's master opens as root (an `include` outside the checkout, a
//! certificate, its logs and pid file) must be one that no other user can change: not
//! owned by one, not in a directory one can write. A config without a checkout copy (the
//! box's own, or one a setting names) is used in place under the same rule.

use crate::config::AUTO;
use crate::ctx::Ctx;
use crate::nginx;
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Component, Path, PathBuf};

/// The root-owned directory of the copies.
pub const DIR: &str = "/etc/blot";
/// The most blotctl reads of a config file (Blot's are a few KiB).
pub const MAX_CONFIG: u64 = 1 << 20;
/// How deep `include`s may nest.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Nginx,
    Redis,
}

impl Program {
    pub fn name(self) -> &'static str {
        match self {
            Program::Nginx => "nginx",
            Program::Redis => "redis",
        }
    }
    fn file(self) -> &'static str {
        match self {
            Program::Nginx => "nginx.conf",
            Program::Redis => "redis.conf",
        }
    }
    fn setting(self) -> &'static str {
        match self {
            Program::Nginx => "nginx_config",
            Program::Redis => "redis_config",
        }
    }
    fn box_default(self) -> &'static str {
        match self {
            Program::Nginx => "/etc/nginx/nginx.conf",
            Program::Redis => "/etc/redis.conf",
        }
    }
}

/// Where a checkout config's text comes from: the working tree (`provision`), or the
/// commit `deploy` is about to fast-forward to (read by git, as the app user).
pub type Reader<'a> = dyn Fn(&str) -> Result<Option<Vec<u8>>> + 'a;

/// The config a program's job runs, and what it takes to run it.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub program: Program,
    /// The box path the job gives the program (`-c`, redis's first argument).
    pub run: String,
    /// What the program reads: `(box path, contents)`, the main file first. When `copied`,
    /// these are the copies blotctl installs in /etc/blot (main config plus the checkout
    /// files it includes); otherwise only the main file, read where it is.
    pub files: Vec<(String, Vec<u8>)>,
    /// The files nginx also reads where they are: what its config includes from outside
    /// the checkout (`include /etc/nginx/conf.d/*.conf;`, globs expanded), never copied.
    pub included: Vec<(String, Vec<u8>)>,
    pub copied: bool,
    /// Where `run` comes from, in a few words (for the job file's comment).
    pub origin: String,
    /// Which file, and why, for the plan.
    pub note: String,
}

impl Resolved {
    /// The text of the main config.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.files[0].1).unwrap_or("")
    }

    /// Everything the program reads of its configuration: the files it runs (or their
    /// copies) and, for nginx, what they include from elsewhere. What nginx does (where it
    /// listens, where it sends requests, which paths it answers) is told by all of them.
    pub fn read_by_program(&self) -> impl Iterator<Item = &(String, Vec<u8>)> {
        self.files.iter().chain(&self.included)
    }

    /// Where a file of `files` comes from: for a copy, the checkout file to change (a copy
    /// of `DIR/REL` comes from `<app_dir>/config/REL`); otherwise the file itself.
    pub fn source_of(&self, ctx: &Ctx, path: &str) -> String {
        match path.strip_prefix(&format!("{DIR}/")) {
            Some(rel) if self.copied => format!("{}/config/{rel}", ctx.settings.app_dir),
            _ => path.to_string(),
        }
    }
}

fn checkout_config(ctx: &Ctx, p: Program) -> String {
    format!("{}/config/{}", ctx.settings.app_dir, p.file())
}

/// The config the job of `p` runs, reading the checkout's through `read`.
pub fn resolve_with(ctx: &Ctx, p: Program, read: &Reader) -> Result<Resolved> {
    let setting = match p {
        Program::Nginx => &ctx.settings.nginx_config,
        Program::Redis => &ctx.settings.redis_config,
    };
    if setting != AUTO {
        let origin = format!("named by the setting `{}`", p.setting());
        return in_place(ctx, p, setting, origin);
    }
    let src = checkout_config(ctx, p);
    if let Some(bytes) = read(&src)? {
        let mut files = vec![(format!("{DIR}/{}", p.file()), Vec::new())];
        let mut included = Vec::new();
        let main = String::from_utf8(bytes).map_err(|_| anyhow!("{src} is not UTF-8 text"))?;
        files[0].1 = match p {
            Program::Redis => main.into_bytes(),
            Program::Nginx => {
                let mut extra = Vec::new();
                let text = nginx_copy(ctx, &src, &main, read, &mut extra, &mut included, 0)?;
                files.extend(extra);
                text.into_bytes()
            }
        };
        return Ok(Resolved {
            program: p,
            run: files[0].0.clone(),
            origin: format!("a root-owned copy of the checkout's config/{}", p.file()),
            note: format!(
                "{} runs {}: a root-owned copy of the checkout's {src} (provision and deploy \
                 refresh it; the checkout belongs to {})",
                p.name(),
                files[0].0,
                ctx.settings.user
            ),
            files,
            included,
            copied: true,
        });
    }
    let origin = format!("the box's own (the checkout has no config/{})", p.file());
    in_place(ctx, p, p.box_default(), origin)
}

/// A checkout file, read so that it can only be that file (the app user controls the
/// checkout): no symlink anywhere on the path (a link could reach a file only root may
/// read, which the copy would make world-readable and the plan print), a regular file with
/// one link, at most [`MAX_CONFIG`] bytes; `None` when it does not exist.
pub fn read_checkout(ctx: &Ctx, path: &str) -> Result<Option<Vec<u8>>> {
    let Some((bytes, _)) = ctx
        .sys
        .observe(path)
        .with_context(|| format!("refusing to read {path}, which the app user controls"))?
    else {
        return Ok(None);
    };
    if bytes.len() as u64 > MAX_CONFIG {
        bail!("{path} is larger than the {MAX_CONFIG} bytes blotctl reads of a config");
    }
    Ok(Some(bytes))
}

/// [`resolve_with`] reading the checkout's working tree.
pub fn resolve(ctx: &Ctx, p: Program) -> Result<Resolved> {
    resolve_with(ctx, p, &|path| read_checkout(ctx, path))
}

/// A config used where it is. nginx's (read by its master, as root) must be root's, and so
/// must everything it includes or opens; redis reads its own as the app user.
fn in_place(ctx: &Ctx, p: Program, path: &str, origin: String) -> Result<Resolved> {
    let text = ctx.sys.read_text(path)?.ok_or_else(|| {
        anyhow!(
            "the {} config {path} does not exist (install {}, or set `{}`)",
            p.name(),
            p.name(),
            p.setting()
        )
    })?;
    let mut included = Vec::new();
    if p == Program::Nginx {
        let prefix = parent(path);
        check_in_place(ctx, path, &text, &prefix, &mut included, 0)?;
    }
    Ok(Resolved {
        program: p,
        run: path.to_string(),
        files: vec![(path.to_string(), text.into_bytes())],
        included,
        copied: false,
        note: format!("{} runs {path}: {origin}", p.name()),
        origin,
    })
}

fn parent(path: &str) -> String {
    Path::new(path)
        .parent()
        .map_or("/".into(), |d| d.to_string_lossy().into_owned())
}

/// `path` made absolute against `base` and normalised; `None` when `..` would leave `/`.
fn absolute(base: &str, path: &str) -> Option<String> {
    let joined = if path.starts_with('/') {
        PathBuf::from(path)
    } else {
        Path::new(base).join(path)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::ParentDir if !out.pop() => return None,
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    Some(out.to_string_lossy().into_owned())
}

/// Refuse a file that root reads or writes when another user could change it.
fn must_be_roots(ctx: &Ctx, path: &str, what: &str) -> Result<()> {
    if let Some(why) = ctx.sys.nonroot_writer(path)? {
        bail!(
            "{what} {path}, but {why}: a user other than root could change what root reads or \
             writes there; move it to a directory only root can write (e.g. {DIR}), owned by root"
        );
    }
    Ok(())
}

/// Check the files nginx's master opens (as root) for one config file's statements.
fn check_root_opened(ctx: &Ctx, file: &str, stmts: &[nginx::Stmt]) -> Result<()> {
    for (line, directive, path) in nginx::root_opened(stmts) {
        if !path.starts_with('/') {
            bail!(
                "{file} line {line}: `{directive} {path}` is a relative path; nginx's master \
                 opens it as root, and blotctl checks such files only by absolute path"
            );
        }
        must_be_roots(
            ctx,
            path,
            &format!("nginx's master (root) opens {file} line {line}'s `{directive}`"),
        )?;
    }
    Ok(())
}

/// The files a glob `include` matches (nginx expands `*` and `?` in the last component).
fn glob_files(ctx: &Ctx, pattern: &str) -> Result<Vec<String>> {
    let dir = parent(pattern);
    let name = Path::new(pattern)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if nginx::has_glob(&dir) {
        bail!("include {pattern}: blotctl follows a glob only in the file name");
    }
    let names = ctx.sys.list_dir(&dir)?.unwrap_or_default();
    Ok(names
        .into_iter()
        .filter(|n| nginx::glob_match(&name, n))
        .map(|n| format!("{}/{n}", dir.trim_end_matches('/')))
        .collect())
}

/// An nginx config read in place: it, everything it includes and every file its master
/// opens must be root's. What it includes is added to `included`.
fn check_in_place(
    ctx: &Ctx,
    path: &str,
    text: &str,
    prefix: &str,
    included: &mut Vec<(String, Vec<u8>)>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        bail!("{path}: includes nest deeper than {MAX_DEPTH}");
    }
    must_be_roots(ctx, path, "nginx's master (root) reads")?;
    let stmts = nginx::statements(text).with_context(|| format!("cannot read {path}"))?;
    check_root_opened(ctx, path, &stmts)?;
    for (line, w) in nginx::includes(&stmts) {
        let Some(abs) = absolute(prefix, &w.text) else {
            bail!("{path} line {line}: include {} leaves /", w.text);
        };
        check_include(ctx, path, line, &abs, prefix, included, depth)?;
    }
    Ok(())
}

/// An include read where it is (outside the checkout): the files it names (a glob in the
/// last component expanded, its directory root's) must exist and pass [`check_in_place`];
/// each is added to `included` (once).
fn check_include(
    ctx: &Ctx,
    from: &str,
    line: usize,
    abs: &str,
    prefix: &str,
    included: &mut Vec<(String, Vec<u8>)>,
    depth: usize,
) -> Result<()> {
    let files = if nginx::has_glob(abs) {
        must_be_roots(ctx, &parent(abs), "nginx's master (root) lists")?;
        glob_files(ctx, abs)?
    } else {
        vec![abs.to_string()]
    };
    for f in files {
        let inc = ctx
            .sys
            .read_text(&f)?
            .ok_or_else(|| anyhow!("{from} line {line} includes {f}, which does not exist"))?;
        if included.iter().any(|(p, _)| *p == f) {
            continue;
        }
        included.push((f.clone(), inc.clone().into_bytes()));
        check_in_place(ctx, &f, &inc, prefix, included, depth + 1)?;
    }
    Ok(())
}

/// The copy of one checkout nginx config file: includes from the checkout's `config/`
/// become relative paths (nginx resolves those against the directory of the main config,
/// /etc/blot for the copy) with their files copied beside it (into `extra`); includes from
/// outside the checkout stay, and must be root's.
fn nginx_copy(
    ctx: &Ctx,
    src: &str,
    text: &str,
    read: &Reader,
    extra: &mut Vec<(String, Vec<u8>)>,
    included: &mut Vec<(String, Vec<u8>)>,
    depth: usize,
) -> Result<String> {
    if depth > MAX_DEPTH {
        bail!("{src}: includes nest deeper than {MAX_DEPTH}");
    }
    let s = ctx.settings;
    let config_dir = format!("{}/config", s.app_dir);
    let stmts = nginx::statements(text).with_context(|| format!("cannot read {src}"))?;
    check_root_opened(ctx, src, &stmts)?;
    let mut edits = Vec::new();
    for (line, w) in nginx::includes(&stmts) {
        let Some(abs) = absolute(&config_dir, &w.text) else {
            bail!("{src} line {line}: include {} leaves /", w.text);
        };
        let inside = |dir: &str| abs.strip_prefix(dir).and_then(|r| r.strip_prefix('/'));
        if let Some(rel) = inside(&config_dir) {
            if nginx::has_glob(rel) {
                bail!(
                    "{src} line {line}: include {}: blotctl copies the checkout's included \
                     files one by one; name each file instead of a glob",
                    w.text
                );
            }
            let dest = format!("{DIR}/{rel}");
            if !extra.iter().any(|(d, _)| *d == dest) {
                let bytes = read(&abs)?.ok_or_else(|| {
                    anyhow!("{src} line {line} includes {abs}, which does not exist")
                })?;
                let inc =
                    String::from_utf8(bytes).map_err(|_| anyhow!("{abs} is not UTF-8 text"))?;
                extra.push((dest.clone(), Vec::new()));
                let copy = nginx_copy(ctx, &abs, &inc, read, extra, included, depth + 1)?;
                extra
                    .iter_mut()
                    .find(|(d, _)| *d == dest)
                    .expect("pushed above")
                    .1 = copy.into_bytes();
            }
            if w.text != rel {
                edits.push((w, rel.to_string()));
            }
        } else if inside(&s.app_dir).is_some() || abs == s.app_dir {
            bail!(
                "{src} line {line} includes {abs}, a checkout file outside config/: blotctl \
                 copies only what the checkout's config/ holds"
            );
        } else {
            check_include(ctx, src, line, &abs, DIR, included, depth)?;
        }
    }
    Ok(nginx::replace_words(text, &edits))
}

/// The pid file nginx writes (monit watches nginx by it).
pub fn nginx_pidfile(r: &Resolved) -> Result<String> {
    let stmts = nginx::statements(r.text())?;
    match nginx::pid(&stmts) {
        Some((_, p)) if p.starts_with('/') => Ok(p.to_string()),
        Some((line, p)) => bail!(
            "{} line {line}: pid {p} is relative; monit needs the absolute path",
            r.files[0].0
        ),
        None => bail!(
            "{} names no `pid` file: monit watches nginx by its pid file (add `pid \
             /var/run/nginx.pid;`)",
            r.files[0].0
        ),
    }
}

/// Whether nginx forks (its `daemon`, on by default) under this config.
pub fn nginx_forks(r: &Resolved) -> Result<bool> {
    let stmts =
        nginx::statements(r.text()).with_context(|| format!("cannot use {}", r.files[0].0))?;
    Ok(nginx::daemon(&stmts)
        .with_context(|| format!("cannot use {}", r.files[0].0))?
        .unwrap_or(true))
}

/// The job whose program reads a copy in /etc/blot (`redis` for its config, `nginx` for
/// its config and what that includes); `None` for any other path.
pub fn job_reading(path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix(DIR)?.strip_prefix('/')?;
    Some(if rest == Program::Redis.file() {
        "redis"
    } else {
        "nginx"
    })
}

/// The directories the copies live in (where a killed run may have left temp files):
/// /etc/blot and those under it that the checkout's configs need.
pub fn copy_dirs(ctx: &Ctx) -> Vec<String> {
    let mut dests = Vec::new();
    for p in [Program::Nginx, Program::Redis] {
        if let Ok(r) = resolve(ctx, p) {
            dests.extend(r.files.into_iter().filter(|_| r.copied).map(|(d, _)| d));
        }
    }
    let mut dirs = dirs_for(dests.iter().map(String::as_str));
    if dirs.is_empty() {
        dirs.push(DIR.to_string());
    }
    dirs
}

/// The directories under /etc/blot that the copies need, outermost first (none without
/// copies).
pub fn dirs_for<'a>(dests: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut dirs = Vec::new();
    for dest in dests {
        if dirs.is_empty() {
            dirs.push(DIR.to_string());
        }
        let mut d = parent(dest);
        let mut chain = Vec::new();
        while d != DIR && d.starts_with(DIR) {
            chain.push(d.clone());
            d = parent(&d);
        }
        for c in chain.into_iter().rev() {
            if !dirs.contains(&c) {
                dirs.push(c);
            }
        }
    }
    dirs
}

/// What redis's job needs from its config (blotctl never writes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    pub port: u16,
    /// `dir`, the data directory, when the config names one.
    pub dir: Option<String>,
}

/// Parse the directives blotctl depends on; the last occurrence wins, as in redis.
pub fn parse_redis_config(text: &str) -> Result<RedisConfig> {
    let mut cfg = RedisConfig {
        port: 6379,
        dir: None,
    };
    for (i, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        let Some(key) = words.next() else { continue };
        let val = words.next();
        match (key.to_ascii_lowercase().as_str(), val) {
            ("port", Some(v)) => {
                cfg.port = v
                    .parse()
                    .map_err(|_| anyhow!("line {}: port {v:?} is not a port number", i + 1))?
            }
            ("dir", Some(v)) => cfg.dir = Some(v.trim_matches('"').to_string()),
            _ => {}
        }
    }
    if cfg.port == 0 {
        bail!("port 0 (redis does not listen on TCP): blotctl needs a TCP port to check redis");
    }
    Ok(cfg)
}

/// The redis config the job is to run (as planned), parsed.
pub fn redis_config(ctx: &Ctx) -> Result<RedisConfig> {
    let r = resolve(ctx, Program::Redis)?;
    parse_redis_config(r.text()).with_context(|| format!("cannot use {}", r.files[0].0))
}

/// The redis config redis runs now: the installed copy when there is one (the checkout's
/// may have changed since provision), parsed. What verify and a restart probe.
pub fn running_redis_config(ctx: &Ctx) -> Result<RedisConfig> {
    let r = resolve(ctx, Program::Redis)?;
    let installed = match r.copied {
        true => ctx.sys.read_text(&r.run)?,
        false => None,
    };
    let text = installed.as_deref().unwrap_or(r.text());
    parse_redis_config(text).with_context(|| format!("cannot use {}", r.run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_job_reads_a_copy() {
        assert_eq!(job_reading("/etc/blot/redis.conf"), Some("redis"));
        assert_eq!(job_reading("/etc/blot/nginx.conf"), Some("nginx"));
        assert_eq!(job_reading("/etc/blot/nginx/proxy.conf"), Some("nginx"));
        assert_eq!(job_reading("/etc/blotx/nginx.conf"), None);
        assert_eq!(job_reading("/etc/monit.rc"), None);
    }

    #[test]
    fn absolute_paths() {
        assert_eq!(absolute("/a/b", "c.conf").as_deref(), Some("/a/b/c.conf"));
        assert_eq!(absolute("/a/b", "../c").as_deref(), Some("/a/c"));
        assert_eq!(absolute("/a/b", "/x/./y").as_deref(), Some("/x/y"));
        assert_eq!(absolute("/", "../../x"), None);
    }

    #[test]
    fn redis_config_last_wins() {
        let c =
            parse_redis_config("port 7000\n# port 1\ndir /a\ndir \"/var/www/blot/db/\"\n").unwrap();
        assert_eq!(
            c,
            RedisConfig {
                port: 7000,
                dir: Some("/var/www/blot/db/".into())
            }
        );
        assert_eq!(parse_redis_config("").unwrap().port, 6379);
        assert!(parse_redis_config("port 0\n").is_err());
        assert!(parse_redis_config("port x\n").is_err());
    }

    #[test]
    fn dirs_for_nested_copies() {
        assert_eq!(
            dirs_for(["/etc/blot/nginx.conf", "/etc/blot/a/b/x.conf"]),
            ["/etc/blot", "/etc/blot/a", "/etc/blot/a/b"]
        );
        assert!(dirs_for([]).is_empty());
    }
}
