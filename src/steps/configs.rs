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

use super::{Ctx, Step, ROOT_0644};
use crate::config::AUTO;
use crate::nginx;
use crate::plan::{Action, Change, NotChecked, StepPlan};
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
fn dirs_for<'a>(dests: impl IntoIterator<Item = &'a str>) -> Vec<String> {
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
                Err(e) => match e.downcast_ref::<crate::deploy::NotFetched>() {
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
                mine.extend(super::templates::plan_managed_as(
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
    fn dirs_for_nested_copies() {
        assert_eq!(
            dirs_for(["/etc/blot/nginx.conf", "/etc/blot/a/b/x.conf"]),
            ["/etc/blot", "/etc/blot/a", "/etc/blot/a/b"]
        );
        assert!(dirs_for([]).is_empty());
    }
}
