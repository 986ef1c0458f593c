//! sudoers, as sudo reads it: nothing may make root's `sudo -u USER COMMAND` (what the blot
//! job runs; upstart 0.6.5 jobs have no tty and no `setuid`) need a tty, and root must have
//! the right to run it at all.
//!
//! The whole tree sudo reads is read: /etc/sudoers and what it includes (`#include`,
//! `#includedir`, sudo 1.9's `@include`), followed inside the box (a relative include is
//! relative to the including file's directory), in sudo's order; an includedir's files
//! that sudo ignores (a name with a `.` or ending in `~`) are noted, ones it would refuse
//! (world-writable, not root's) are an error. `Defaults requiretty` counts wherever its
//! scope applies: everywhere, any host, a user list matching root (by name, `#0`, a group
//! root is in, a `User_Alias`), a run-as list matching the app user (name, uid, group,
//! `Runas_Alias`) or a command list matching the command (path, directory, wildcard,
//! `Cmnd_Alias`); a list's last matching item decides, `!` negates, as in sudo.
//!
//! The edit keeps every other byte: a `Defaults` line of /etc/sudoers whose only option is
//! requiretty is commented out (`#` in front); a line listing requiretty among other
//! options loses only that option. One in an included file is not blotctl's to edit: the
//! run refuses, naming file and line. The result is validated with `visudo -c -f` on a
//! copy of the box's whole tree (the includes rewritten to relative paths, so visudo reads
//! the box's files and not the host's) before it may replace anything. A UTF-8 byte-order
//! mark (sudo reads it as part of the first line) and a tree that gives root no right to
//! run the command as the app user are refused, saying so.

use super::{Ctx, Step};
use crate::plan::{plan_file, plan_perms, Change, Perms, StepPlan};
use crate::validated::Validation;
use anyhow::{anyhow, bail, Result};
use std::collections::HashMap;

pub const PATH: &str = crate::paths::SUDOERS;
const PERMS: Perms = Perms {
    mode: 0o440,
    uid: 0,
    gid: 0,
};
/// sudo's limit on nested includes.
const MAX_INCLUDE_DEPTH: usize = 128;

pub struct Sudoers;

impl Step for Sudoers {
    fn name(&self) -> &'static str {
        "sudoers"
    }

    fn plan(&self, ctx: &Ctx, _earlier: &[Change]) -> Result<StepPlan> {
        let sys = ctx.sys;
        let Some((bytes, meta)) = super::observe_file(ctx, PATH)? else {
            bail!(
                "{PATH} does not exist: this does not look like an Amazon Linux box (check --root)"
            );
        };
        let text =
            String::from_utf8(bytes).map_err(|_| anyhow!("{PATH} is not valid UTF-8 text"))?;
        let tree = Tree::load(ctx, &text)?;
        let sudo = Sudo::for_box(ctx, &tree)?;
        for f in &tree.files[1..] {
            if let Some(e) = remove_requiretty_in(&f.text, &f.path, &sudo)? {
                bail!(
                    "{} line {} (included from {}) makes root's `{}` need a tty: blotctl edits \
                     only {PATH}; remove it from {} by hand with `visudo -f {}`",
                    f.path,
                    e.lines[0],
                    f.from,
                    sudo.shown(),
                    f.path,
                    f.path
                );
            }
        }
        let edit = remove_requiretty_in(&text, PATH, &sudo)?;
        sudo.check_right(&tree)?;
        let mut plan = match edit {
            None => StepPlan::changes(plan_perms(PATH, meta, PERMS).into_iter().collect()),
            Some(edit) => {
                let lines: Vec<String> = edit.lines.iter().map(|l| l.to_string()).collect();
                let what = format!("remove requiretty (line {})", lines.join(", "));
                let mut changes = plan_file(
                    PATH,
                    Some((text.as_bytes(), meta)),
                    edit.text.as_bytes(),
                    PERMS,
                    &what,
                );
                let mut warnings = Vec::new();
                if sys.which("visudo").is_none() {
                    let why = "visudo is not installed, so the new /etc/sudoers cannot be \
                               validated (install sudo's visudo; blotctl never writes an \
                               unvalidated sudoers)";
                    warnings.push(why.to_string());
                    changes = changes.into_iter().map(|c| c.blocked(why)).collect();
                } else {
                    let out =
                        sys.check_tree(&["visudo", "-c", "-f"], &tree.copies(&edit.text), PATH)?;
                    let v = tree.validation(ctx, &edit.text);
                    changes = changes
                        .into_iter()
                        .map(|c| c.validated_by(v.clone()))
                        .collect();
                    if !out.success() {
                        let msg = format!("{}{}", out.stdout, out.stderr);
                        bail!(
                            "visudo rejects {PATH} as blotctl would write it (with the files it \
                             includes), so it was left unchanged; fix the file by hand with \
                             `visudo` first:\n{}",
                            msg.trim_end()
                        );
                    }
                }
                let mut plan = StepPlan::changes(changes);
                plan.warnings = warnings;
                plan
            }
        };
        plan.notes = tree.notes;
        Ok(plan)
    }
}

/// The box's sudoers as it is, with the files it includes, as `visudo -c` checks it.
pub struct AsItIs {
    text: String,
    tree: Tree,
}

impl AsItIs {
    pub fn load(ctx: &Ctx) -> Result<AsItIs> {
        let text = ctx
            .sys
            .read_text(PATH)?
            .ok_or_else(|| anyhow!("{PATH} does not exist"))?;
        let tree = Tree::load(ctx, &text)?;
        Ok(AsItIs { text, tree })
    }

    /// What visudo's acceptance of it would be (see `crate::validated`).
    pub fn validation(&self, ctx: &Ctx) -> Option<Validation> {
        self.tree.validation(ctx, &self.text)
    }

    /// `visudo -c` on a copy of the tree (so under `--root` visudo reads the box's files and
    /// not this machine's).
    pub fn visudo(&self, ctx: &Ctx) -> Result<crate::sys::Output> {
        let copies = self.tree.copies(&self.text);
        ctx.sys.check_tree(&["visudo", "-c", "-f"], &copies, PATH)
    }
}

/// The result of editing sudoers text.
#[derive(Debug, PartialEq)]
pub struct Edit {
    pub text: String,
    /// 1-based numbers of the lines that changed.
    pub lines: Vec<usize>,
}

/// Remove `requiretty` from every active `Defaults` entry of /etc/sudoers whose scope covers
/// root running `sudo -u <app_user> /usr/bin/node` (no aliases, no groups but root's own).
/// `Ok(None)` when there is nothing to remove. The step uses [`remove_requiretty_in`] with
/// what it learned from the box.
pub fn remove_requiretty(text: &str, app_user: &str) -> Result<Option<Edit>> {
    remove_requiretty_in(text, PATH, &Sudo::simple(app_user))
}

/// Remove `requiretty` from every active `Defaults` entry of `file` whose scope applies to
/// `sudo`'s invocation. `Ok(None)` when there is nothing to remove.
pub fn remove_requiretty_in(text: &str, file: &str, sudo: &Sudo) -> Result<Option<Edit>> {
    let mut out = String::with_capacity(text.len());
    let mut changed = Vec::new();
    let mut continued = false; // the previous physical line ended with a backslash
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let lineno = i + 1;
        let (content, eol) = split_eol(raw);
        let was_continued = continued;
        continued = content.ends_with('\\');
        // A line continuing the previous one is not the start of an entry.
        let entry = if was_continued {
            None
        } else {
            parse_defaults(content)
        };
        let Some(entry) = entry else {
            if was_continued && has_requiretty_word(content) {
                bail!(
                    "{file} line {lineno}: requiretty sits on a continued (backslash) Defaults \
                     line; blotctl will not guess how to edit it: put it on its own line"
                );
            }
            out.push_str(raw);
            continue;
        };
        let hits: Vec<usize> = entry
            .options
            .iter()
            .enumerate()
            .filter(|(_, o)| content[o.0..o.1].trim() == "requiretty")
            .map(|(k, _)| k)
            .collect();
        if hits.is_empty() || !sudo.scope_applies(&entry.scope) {
            out.push_str(raw);
            continue;
        }
        if continued {
            bail!(
                "{file} line {lineno}: requiretty sits on a continued (backslash) Defaults \
                 line; blotctl will not guess how to edit it: put it on its own line"
            );
        }
        changed.push(lineno);
        if hits.len() == entry.options.len() {
            out.push('#');
            out.push_str(raw);
            continue;
        }
        // Drop each requiretty option with one adjacent comma, keep every other byte.
        // Options after the last kept one go with the comma before them, others with the
        // comma after them: `a, requiretty, requiretty` -> `a`, not `a,`.
        let last_kept = (0..entry.options.len()).rev().find(|k| !hits.contains(k));
        let mut keep = vec![true; content.len()];
        for &k in &hits {
            let (s, e) = entry.options[k];
            let (from, to) = if last_kept.is_some_and(|last| k < last) {
                // "requiretty, next" -> "next": up to the next option's first non-blank.
                let (ns, _) = entry.options[k + 1];
                let next_start = ns + content[ns..].len() - content[ns..].trim_start().len();
                (
                    s + content[s..e].len() - content[s..e].trim_start().len(),
                    next_start,
                )
            } else {
                // "prev, requiretty" -> "prev": from the comma after the last kept option.
                let (_, pe) = entry.options[last_kept.expect("not every option is requiretty")];
                (pe, e)
            };
            keep[from..to].iter_mut().for_each(|b| *b = false);
        }
        let kept: Vec<u8> = content
            .bytes()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(b, _)| b)
            .collect();
        out.push_str(&String::from_utf8(kept).expect("cut at ASCII boundaries"));
        out.push_str(eol);
    }
    Ok((!changed.is_empty()).then_some(Edit {
        text: out,
        lines: changed,
    }))
}

fn split_eol(raw: &str) -> (&str, &str) {
    if let Some(c) = raw.strip_suffix("\r\n") {
        (c, "\r\n")
    } else if let Some(c) = raw.strip_suffix('\n') {
        (c, "\n")
    } else {
        (raw, "")
    }
}

fn has_requiretty_word(s: &str) -> bool {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .any(|w| w == "requiretty")
}

/// The scope of a `Defaults` entry.
#[derive(Debug, PartialEq)]
enum Scope {
    Global,
    /// `Defaults:users`
    User(Vec<String>),
    /// `Defaults@hosts`
    Host,
    /// `Defaults>runas`
    Runas(Vec<String>),
    /// `Defaults!commands`
    Command(Vec<String>),
}

struct Entry {
    scope: Scope,
    /// Byte ranges (in the line) of each comma-separated option, blanks included.
    options: Vec<(usize, usize)>,
}

/// Parse an active `Defaults` line; `None` for anything else (comments, rules, blank).
fn parse_defaults(line: &str) -> Option<Entry> {
    let start = line.len() - line.trim_start().len();
    let rest = &line[start..];
    let after = rest.strip_prefix("Defaults")?;
    let (scope, opts_at) = match after.chars().next() {
        None => return None,
        Some(c) if c == ' ' || c == '\t' => (Scope::Global, start + 8),
        Some(c @ (':' | '@' | '>' | '!')) => {
            let list_end = after[1..]
                .find([' ', '\t'])
                .map(|n| n + 1)
                .unwrap_or(after.len());
            let list: Vec<String> = after[1..list_end]
                .split(',')
                .map(|s| s.trim().to_string())
                .collect();
            let scope = match c {
                ':' => Scope::User(list),
                '@' => Scope::Host,
                '>' => Scope::Runas(list),
                _ => Scope::Command(list),
            };
            (scope, start + 8 + list_end)
        }
        Some(_) => return None, // e.g. "Defaultsfoo": not a Defaults entry
    };
    // Options run to the end of the line, or to a `#` comment outside quotes.
    let mut options = Vec::new();
    let mut seg_start = opts_at;
    let mut in_quote = false;
    let mut end = line.len();
    for (i, ch) in line[opts_at..].char_indices() {
        let i = i + opts_at;
        match ch {
            '"' => in_quote = !in_quote,
            ',' if !in_quote => {
                options.push((seg_start, i));
                seg_start = i + 1;
            }
            '#' if !in_quote => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    options.push((seg_start, end));
    Some(Entry { scope, options })
}

/// A user as sudo matches them: name, uid, groups (name, gid).
#[derive(Debug, Clone)]
pub struct Who {
    pub name: String,
    pub uid: Option<u32>,
    pub groups: Vec<(String, u32)>,
}

/// Root running `sudo -u TARGET COMMAND ARGS`, with the aliases of the box's sudoers.
#[derive(Debug, Clone)]
pub struct Sudo {
    pub root: Who,
    pub target: Who,
    pub command: String,
    pub args: String,
    aliases: HashMap<(AliasKind, String), Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AliasKind {
    User,
    Runas,
    Cmnd,
}

/// What one user spec line decides for the invocation.
#[derive(Debug, PartialEq)]
enum Decision {
    Allow,
    Deny,
    Unrelated,
    /// The line could not be understood: it might grant the right.
    Unknown,
}

const TAGS: &[&str] = &[
    "NOPASSWD",
    "PASSWD",
    "SETENV",
    "NOSETENV",
    "EXEC",
    "NOEXEC",
    "LOG_INPUT",
    "NOLOG_INPUT",
    "LOG_OUTPUT",
    "NOLOG_OUTPUT",
    "MAIL",
    "NOMAIL",
    "FOLLOW",
    "NOFOLLOW",
    "INTERCEPT",
    "NOINTERCEPT",
];

impl Sudo {
    /// Root (uid 0, group root) running `sudo -u app_user /usr/bin/node`, no aliases.
    pub fn simple(app_user: &str) -> Sudo {
        Sudo {
            root: Who {
                name: "root".into(),
                uid: Some(0),
                groups: vec![("root".into(), 0)],
            },
            target: Who {
                name: app_user.into(),
                uid: None,
                groups: Vec::new(),
            },
            command: "/usr/bin/node".into(),
            args: String::new(),
            aliases: HashMap::new(),
        }
    }

    /// What the blot job runs through sudo (from the rendered job), the users' groups from
    /// the box's /etc/passwd and /etc/group, and the aliases of the whole tree.
    fn for_box(ctx: &Ctx, tree: &Tree) -> Result<Sudo> {
        let (user, command, args) = super::templates::blot_sudo_command(ctx)?;
        let passwd = ctx.sys.read_text("/etc/passwd")?.unwrap_or_default();
        let group = ctx.sys.read_text("/etc/group")?.unwrap_or_default();
        let who = |name: &str| {
            let acct = crate::accounts::lookup_user(&passwd, name).ok();
            Who {
                name: name.to_string(),
                uid: acct.as_ref().map(|a| a.uid),
                groups: crate::accounts::groups_of(&group, name, acct.as_ref().map(|a| a.gid)),
            }
        };
        let mut root = who("root");
        root.uid = Some(0);
        let mut sudo = Sudo {
            root,
            target: who(&user),
            command,
            args,
            aliases: HashMap::new(),
        };
        for (_, _, line) in &tree.lines {
            sudo.learn_alias(line);
        }
        Ok(sudo)
    }

    /// `sudo -u USER COMMAND ARGS`, for messages.
    fn shown(&self) -> String {
        let mut s = format!("sudo -u {} {}", self.target.name, self.command);
        if !self.args.is_empty() {
            s.push_str(" ...");
        }
        s
    }

    /// `User_Alias NAME = a, b : NAME2 = c` (and Runas_Alias, Cmnd_Alias / Cmd_Alias).
    fn learn_alias(&mut self, line: &str) {
        let mut words = line.splitn(2, char::is_whitespace);
        let kind = match words.next() {
            Some("User_Alias") => AliasKind::User,
            Some("Runas_Alias") => AliasKind::Runas,
            Some("Cmnd_Alias") | Some("Cmd_Alias") => AliasKind::Cmnd,
            _ => return,
        };
        let rest = words.next().unwrap_or("");
        for def in split_alias_defs(rest) {
            if let Some((name, list)) = def.split_once('=') {
                let items = split_top(list, ',')
                    .into_iter()
                    .map(|i| i.trim().to_string())
                    .filter(|i| !i.is_empty())
                    .collect();
                self.aliases.insert((kind, name.trim().to_string()), items);
            }
        }
    }

    /// sudo's list rule: the last item that matches decides; `!` negates it.
    fn list_matches(&self, items: &[String], one: &dyn Fn(&str) -> bool) -> bool {
        for item in items.iter().rev() {
            let mut it = item.trim();
            let mut negated = false;
            while let Some(r) = it.strip_prefix('!') {
                negated = !negated;
                it = r.trim_start();
            }
            if one(it) {
                return !negated;
            }
        }
        false
    }

    fn user_matches(&self, item: &str, who: &Who, kind: AliasKind, depth: usize) -> bool {
        if item == "ALL" {
            return true;
        }
        if let Some(list) = self.aliases.get(&(kind, item.to_string())) {
            return depth < 16
                && self.list_matches(list, &|i| self.user_matches(i, who, kind, depth + 1));
        }
        if let Some(uid) = item.strip_prefix('#') {
            return who.uid.is_some_and(|u| uid.parse() == Ok(u));
        }
        if let Some(gid) = item.strip_prefix("%#") {
            return who.groups.iter().any(|(_, g)| gid.parse() == Ok(*g));
        }
        if let Some(g) = item.strip_prefix("%:").or_else(|| item.strip_prefix('%')) {
            return who.groups.iter().any(|(n, _)| n == g);
        }
        if item.starts_with('+') {
            return false; // a netgroup: not on these boxes
        }
        item.trim_matches('"') == who.name
    }

    fn command_matches(&self, item: &str, depth: usize) -> bool {
        if item == "ALL" {
            return true;
        }
        if let Some(list) = self.aliases.get(&(AliasKind::Cmnd, item.to_string())) {
            return depth < 16 && self.list_matches(list, &|i| self.command_matches(i, depth + 1));
        }
        let mut item = item;
        // A digest in front (`sha224:HASH /path`) pins the binary; the path still decides.
        if let Some((first, rest)) = item.split_once(char::is_whitespace) {
            if first.contains(':') && first.starts_with("sha") {
                item = rest.trim_start();
            }
        }
        let (path, args) = match item.split_once(char::is_whitespace) {
            Some((p, a)) => (p, Some(a.trim())),
            None => (item, None),
        };
        let path_ok = if path.ends_with('/') {
            self.command
                .rsplit_once('/')
                .is_some_and(|(dir, _)| format!("{dir}/") == path)
        } else {
            glob(path, &self.command, true)
        };
        path_ok
            && match args {
                None => true,
                Some("\"\"") => self.args.is_empty(),
                Some(a) => glob(a, &self.args, false),
            }
    }

    /// Whether a `Defaults` entry of this scope applies to this invocation.
    fn scope_applies(&self, scope: &Scope) -> bool {
        match scope {
            // A host list: blotctl cannot tell the box's name; count it.
            Scope::Global | Scope::Host => true,
            Scope::User(l) => {
                self.list_matches(l, &|i| self.user_matches(i, &self.root, AliasKind::User, 0))
            }
            Scope::Runas(l) => self.list_matches(l, &|i| {
                self.user_matches(i, &self.target, AliasKind::Runas, 0)
            }),
            Scope::Command(l) => self.list_matches(l, &|i| self.command_matches(i, 0)),
        }
    }

    /// What one user spec line decides for root running the command as the target.
    fn decide(&self, line: &str) -> Decision {
        let first = line.split_whitespace().next().unwrap_or("");
        let keyword = first.starts_with("Defaults")
            || first.ends_with("_Alias")
            || first.starts_with("#include")
            || first.starts_with("@include");
        if line.trim().is_empty() || keyword {
            return Decision::Unrelated;
        }
        let Some(eq) = find_top(line, '=') else {
            return Decision::Unknown;
        };
        let left = normalize_commas(&line[..eq]);
        let words: Vec<&str> = left.split_whitespace().collect();
        let [users, _hosts] = words[..] else {
            return Decision::Unknown;
        };
        let users: Vec<String> = users.split(',').map(String::from).collect();
        if !self.list_matches(&users, &|i| {
            self.user_matches(i, &self.root, AliasKind::User, 0)
        }) {
            return Decision::Unrelated;
        }
        let mut decision = Decision::Unrelated;
        for group in split_host_groups(&line[eq + 1..]) {
            let mut runas: Option<Vec<String>> = None;
            for spec in split_top(group, ',') {
                let mut spec = spec.trim();
                if let Some(r) = spec.strip_prefix('(') {
                    let Some(close) = r.find(')') else {
                        return Decision::Unknown;
                    };
                    let users_part = r[..close].split(':').next().unwrap_or("");
                    runas = Some(
                        normalize_commas(users_part)
                            .split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                    );
                    spec = r[close + 1..].trim_start();
                }
                while let Some((tag, rest)) = spec.split_once(':') {
                    if TAGS.contains(&tag.trim()) {
                        spec = rest.trim_start();
                    } else {
                        break;
                    }
                }
                let as_target = match &runas {
                    // No run-as list: root only.
                    None => self.target.name == "root",
                    Some(l) if l.is_empty() => self.target.name == "root",
                    Some(l) => self.list_matches(l, &|i| {
                        self.user_matches(i, &self.target, AliasKind::Runas, 0)
                    }),
                };
                if !as_target {
                    continue;
                }
                let (negated, cmnd) = match spec.strip_prefix('!') {
                    Some(c) => (true, c.trim_start()),
                    None => (false, spec),
                };
                if self.command_matches(cmnd, 0) {
                    decision = if negated {
                        Decision::Deny
                    } else {
                        Decision::Allow
                    };
                }
            }
        }
        decision
    }

    /// Root must be allowed to run the command as the target, or the job cannot start
    /// (the last matching rule decides, as in sudo). A line blotctl cannot parse might
    /// allow it: then nothing is refused.
    fn check_right(&self, tree: &Tree) -> Result<()> {
        let mut last = None;
        let mut unknown = false;
        for (_, _, line) in &tree.lines {
            match self.decide(line) {
                Decision::Allow => last = Some(true),
                Decision::Deny => last = Some(false),
                Decision::Unknown => unknown = true,
                Decision::Unrelated => {}
            }
        }
        if last == Some(true) || (last.is_none() && unknown) {
            return Ok(());
        }
        bail!(
            "{PATH} (with the files it includes) gives root no right to run `{}`, so the blot \
             job cannot start (sudo refuses it); add the stock rule `root ALL=(ALL) ALL` with \
             `visudo`",
            self.shown()
        )
    }
}

/// `a, b` -> `a,b`: sudo allows blanks around the commas of a list.
fn normalize_commas(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split(',').enumerate() {
        if i > 0 {
            out.push(',');
            out.push_str(part.trim_start());
        } else {
            out.push_str(part.trim_end());
        }
    }
    out
}

/// Positions of `sep` outside parentheses and double quotes, not escaped with `\`.
fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0i32, false, false, 0);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            c if c == sep && !quoted && depth <= 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn find_top(s: &str, c: char) -> Option<usize> {
    let first = split_top(s, c);
    (first.len() > 1).then(|| first[0].len())
}

/// `NAME = list : NAME2 = list`: split where a `:` is followed by `NAME =`.
fn split_alias_defs(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, _) in s.match_indices(':') {
        let after = s[i + 1..].trim_start();
        let name_len = after
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].trim_start().starts_with('=') {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

/// The command groups of a user spec's right side: `cmnds : host = cmnds ...` (a `:`
/// after a tag such as `NOPASSWD` is not a separator).
fn split_host_groups(s: &str) -> Vec<&str> {
    let parts = split_top(s, ':');
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0;
    for p in &parts {
        let start = pos;
        pos += p.len() + 1;
        let tag_before = spans.last().is_some_and(|(a, b)| {
            let prev = &s[*a..*b];
            let word = prev
                .rsplit(|c: char| c.is_whitespace() || c == ',' || c == ')')
                .next()
                .unwrap_or("");
            TAGS.contains(&word)
        });
        match spans.last_mut() {
            Some(last) if tag_before => last.1 = start + p.len(),
            _ => spans.push((start, start + p.len())),
        }
    }
    spans
        .into_iter()
        .enumerate()
        .map(|(i, (a, b))| {
            let seg = &s[a..b];
            // Every group after the first starts with `hosts =`.
            if i == 0 {
                seg
            } else {
                seg.split_once('=').map_or(seg, |(_, r)| r)
            }
        })
        .collect()
}

/// fnmatch(3) for sudoers: `*`, `?`, `[...]` (`!`/`^` negate, ranges); with `path`, the
/// wildcards do not match `/`.
fn glob(pat: &str, s: &str, path: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    fn go(p: &[char], t: &[char], path: bool) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len())
                .take_while(|&k| k == 0 || !(path && t[k - 1] == '/'))
                .any(|k| go(&p[1..], &t[k..], path)),
            Some('?') => {
                t.first().is_some_and(|c| !(path && *c == '/')) && go(&p[1..], &t[1..], path)
            }
            Some('[') => {
                let Some(end) = p.iter().skip(2).position(|c| *c == ']').map(|n| n + 2) else {
                    return t.first() == Some(&'[') && go(&p[1..], &t[1..], path);
                };
                let Some(&c) = t.first() else { return false };
                let mut set = &p[1..end];
                let negate = matches!(set.first(), Some('!') | Some('^'));
                if negate {
                    set = &set[1..];
                }
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= set[i] <= c && c <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == c;
                        i += 1;
                    }
                }
                hit != negate && go(&p[end + 1..], &t[1..], path)
            }
            Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && go(&p[2..], &t[1..], path),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..], path),
        }
    }
    go(&p, &t, path)
}

/// One file of the tree sudo reads.
struct SudoFile {
    path: String,
    text: String,
    /// `FILE line N`, or `-` for /etc/sudoers itself.
    from: String,
}

/// /etc/sudoers and everything it includes, in sudo's order.
struct Tree {
    files: Vec<SudoFile>,
    /// (file index, line number, logical line without comments), in the order sudo reads
    /// them (an include's lines where the include is).
    lines: Vec<(usize, usize, String)>,
    /// Each include directive: (file index, line number, the box path it resolved to).
    includes: Vec<(usize, usize, String)>,
    notes: Vec<String>,
}

impl Tree {
    fn load(ctx: &Ctx, main: &str) -> Result<Tree> {
        let mut tree = Tree {
            files: Vec::new(),
            lines: Vec::new(),
            includes: Vec::new(),
            notes: Vec::new(),
        };
        let mut chain = Vec::new();
        tree.visit(ctx, PATH, main.to_string(), "-".into(), &mut chain)?;
        Ok(tree)
    }

    fn visit(
        &mut self,
        ctx: &Ctx,
        path: &str,
        text: String,
        from: String,
        chain: &mut Vec<String>,
    ) -> Result<()> {
        if text.starts_with('\u{feff}') {
            bail!(
                "{path} line 1 starts with a UTF-8 byte-order mark, which sudo reads as part of \
                 the line (visudo: syntax error); remove it with `visudo -f {path}`"
            );
        }
        if chain.iter().any(|p| p == path) {
            bail!(
                "{path} includes itself (through {}): sudo refuses that",
                chain.join(" -> ")
            );
        }
        if chain.len() >= MAX_INCLUDE_DEPTH {
            bail!("{path}: includes nested deeper than sudo allows ({MAX_INCLUDE_DEPTH})");
        }
        chain.push(path.to_string());
        let idx = self.files.len();
        self.files.push(SudoFile {
            path: path.to_string(),
            text: text.clone(),
            from,
        });
        for (lineno, raw, logical) in logical_lines(&text) {
            let Some(inc) = include_directive(&raw) else {
                self.lines.push((idx, lineno, logical));
                continue;
            };
            let target = resolve_include(path, &inc.path);
            self.includes.push((idx, lineno, target.clone()));
            let from = format!("{path} line {lineno}");
            if inc.dir {
                let Some(names) = ctx.sys.list_dir(&target)? else {
                    self.notes
                        .push(format!("{from}: includedir {target} does not exist"));
                    continue;
                };
                for name in names {
                    let f = format!("{}/{name}", target.trim_end_matches('/'));
                    if name.ends_with('~') || name.contains('.') {
                        self.notes.push(format!(
                            "{f}: ignored by sudo (a name in an includedir with a `.` or ending \
                             in `~`), so not read"
                        ));
                        continue;
                    }
                    let meta = ctx.sys.meta(&f)?;
                    if meta.is_some_and(|m| m.kind == crate::sys::Kind::Dir) {
                        self.notes
                            .push(format!("{f}: a directory, skipped by sudo"));
                        continue;
                    }
                    if let Some(m) = meta.filter(|m| m.kind == crate::sys::Kind::File) {
                        if m.mode & 0o002 != 0 || m.uid != 0 {
                            bail!(
                                "{f} is {}: sudo refuses to run at all with such a file in \
                                 {target} (so the blot job could not start): `chown root:root \
                                 {f}; chmod 0440 {f}`, or remove it",
                                if m.uid != 0 {
                                    format!("owned by uid {}, not root", m.uid)
                                } else {
                                    format!("world-writable (mode {:04o})", m.mode)
                                }
                            );
                        }
                    }
                    let Some(text) = ctx.sys.read_text(&f)? else {
                        continue;
                    };
                    self.visit(ctx, &f, text, from.clone(), chain)?;
                }
            } else {
                let Some(text) = ctx.sys.read_text(&target)? else {
                    bail!(
                        "{from} includes {target}, which does not exist: sudo refuses to run \
                         with a missing include (create it, or remove the line with `visudo`)"
                    );
                };
                self.visit(ctx, &target, text, from, chain)?;
            }
        }
        chain.pop();
        Ok(())
    }

    /// What visudo reads of the tree, /etc/sudoers being `main`, as a validation by the
    /// visudo on PATH (`None` when there is none).
    fn validation(&self, ctx: &Ctx, main: &str) -> Option<Validation> {
        let read = self.files.iter().enumerate().map(|(i, f)| {
            let text = if i == 0 { main } else { f.text.as_str() };
            (f.path.as_str(), text.as_bytes())
        });
        Validation::of(ctx.sys, "visudo", read)
    }

    /// The files as visudo must see them in a private copy: /etc/sudoers as blotctl would
    /// write it, every include rewritten to the relative path of its target (so the copy
    /// reads the copy, never the host's files), line numbers unchanged.
    fn copies(&self, main: &str) -> Vec<(String, Vec<u8>)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let text = if i == 0 { main } else { f.text.as_str() };
                let mut out = String::with_capacity(text.len());
                for (n, raw) in text.split_inclusive('\n').enumerate() {
                    let target = self
                        .includes
                        .iter()
                        .find(|(fi, ln, _)| *fi == i && *ln == n + 1)
                        .map(|(_, _, t)| t);
                    match (target, include_directive(raw)) {
                        (Some(t), Some(inc)) => {
                            let (content, eol) = split_eol(raw);
                            let at = content.rfind(inc.path.as_str()).unwrap_or(content.len());
                            out.push_str(&content[..at]);
                            out.push_str(&relative(&f.path, t));
                            out.push_str(&content[(at + inc.path.len()).min(content.len())..]);
                            out.push_str(eol);
                        }
                        _ => out.push_str(raw),
                    }
                }
                (f.path.clone(), out.into_bytes())
            })
            .collect()
    }
}

/// Physical lines joined at a trailing backslash, with comments removed: (number of the
/// first physical line, the first physical line as it is, the logical line).
fn logical_lines(text: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut acc: Option<(usize, String, String)> = None;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let (content, _) = split_eol(raw);
        let (first, raw0, mut joined) =
            acc.take()
                .unwrap_or((i + 1, content.to_string(), String::new()));
        let (body, more) = match content.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (content, false),
        };
        joined.push_str(body);
        if more {
            joined.push(' ');
            acc = Some((first, raw0, joined));
        } else {
            let logical = strip_comment(&joined);
            out.push((first, raw0, logical));
        }
    }
    if let Some((first, raw0, joined)) = acc {
        out.push((first, raw0, strip_comment(&joined)));
    }
    out
}

/// A sudoers line without its comment: `#` starts one unless it is a uid (`#0`, `%#10`)
/// or inside double quotes. Include directives are recognised before this.
fn strip_comment(line: &str) -> String {
    let mut quoted = false;
    let b = line.as_bytes();
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted && !b.get(i + 1).is_some_and(|n| n.is_ascii_digit()) => {
                return line[..i].trim().to_string();
            }
            _ => {}
        }
    }
    line.trim().to_string()
}

struct Include {
    dir: bool,
    path: String,
}

/// `#include PATH`, `#includedir DIR` (and sudo 1.9's `@include`, `@includedir`; a path
/// in double quotes).
fn include_directive(line: &str) -> Option<Include> {
    let l = line.trim();
    let (dir, rest) = if let Some(r) = l
        .strip_prefix("#includedir")
        .or_else(|| l.strip_prefix("@includedir"))
    {
        (true, r)
    } else if let Some(r) = l
        .strip_prefix("#include")
        .or_else(|| l.strip_prefix("@include"))
    {
        (false, r)
    } else {
        return None;
    };
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let path = rest.trim().trim_matches('"').to_string();
    (!path.is_empty()).then_some(Include { dir, path })
}

/// An include's box path: absolute as written, or relative to the including file's
/// directory; `.` and `..` resolved by name.
fn resolve_include(file: &str, target: &str) -> String {
    let base = if target.starts_with('/') {
        String::new()
    } else {
        file.rsplit_once('/')
            .map_or(String::new(), |(d, _)| d.to_string())
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in base.split('/').chain(target.split('/')) {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The path of `target` relative to the directory of `file` (both box paths).
fn relative(file: &str, target: &str) -> String {
    let from: Vec<&str> = file
        .rsplit_once('/')
        .map_or("", |(d, _)| d)
        .split('/')
        .filter(|c| !c.is_empty())
        .collect();
    let to: Vec<&str> = target.split('/').filter(|c| !c.is_empty()).collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::check::check;
    use expect_test::expect;

    #[test]
    fn requiretty_comes_out_once_visudo_accepts_the_result() {
        check(
            &Sudoers,
            |b, _| {
                b.on_path("visudo")
                    .answer("visudo", 0, "/etc/sudoers: parsed OK\n", "");
            },
            expect![[r#"
                - remove requiretty (line 56) in /etc/sudoers
                --- /etc/sudoers
                +++ /etc/sudoers
                @@ -53,7 +53,7 @@
                 # Disable "ssh hostname sudo <cmd>", because it will show the password in clear.
                 #         You have to run "ssh -t hostname sudo <cmd>".
                 #
                -Defaults    requiretty
                +#Defaults    requiretty

                 #
                 # Refuse to run if unable to disable echo on the tty. This setting should also be
            "#]],
        );
        check(
            &Sudoers,
            |b, _| {
                b.on_path("visudo").answer(
                    "visudo",
                    1,
                    "",
                    ">>> /etc/sudoers: syntax error near line 3 <<<\n",
                );
            },
            expect![[r#"
            error: visudo rejects /etc/sudoers as blotctl would write it (with the files it includes), so it was left unchanged; fix the file by hand with `visudo` first:
            >>> /etc/sudoers: syntax error near line 3 <<<
        "#]],
        );
        check(
            &Sudoers,
            |_, _| {},
            expect![[r#"
                - remove requiretty (line 56) in /etc/sudoers
                  blocked: visudo is not installed, so the new /etc/sudoers cannot be validated (install sudo's visudo; blotctl never writes an unvalidated sudoers)
                --- /etc/sudoers
                +++ /etc/sudoers
                @@ -53,7 +53,7 @@
                 # Disable "ssh hostname sudo <cmd>", because it will show the password in clear.
                 #         You have to run "ssh -t hostname sudo <cmd>".
                 #
                -Defaults    requiretty
                +#Defaults    requiretty

                 #
                 # Refuse to run if unable to disable echo on the tty. This setting should also be
                warning: visudo is not installed, so the new /etc/sudoers cannot be validated (install sudo's visudo; blotctl never writes an unvalidated sudoers)
            "#]],
        );
    }

    fn edit(t: &str) -> Option<String> {
        remove_requiretty(t, "ec2-user").unwrap().map(|e| e.text)
    }

    #[test]
    fn comments_out_the_stock_line() {
        let t = "a\nDefaults    requiretty\nDefaults   !visiblepw\n";
        assert_eq!(
            edit(t).unwrap(),
            "a\n#Defaults    requiretty\nDefaults   !visiblepw\n"
        );
        assert_eq!(remove_requiretty(t, "u").unwrap().unwrap().lines, vec![2]);
    }

    #[test]
    fn tabs_crlf_and_no_final_newline() {
        assert_eq!(
            edit("Defaults\trequiretty\r\nx\r\n").unwrap(),
            "#Defaults\trequiretty\r\nx\r\n"
        );
        assert_eq!(
            edit("x\n  Defaults requiretty").unwrap(),
            "x\n#  Defaults requiretty"
        );
    }

    #[test]
    fn removes_only_the_option() {
        assert_eq!(
            edit("Defaults env_reset, requiretty, !visiblepw\n").unwrap(),
            "Defaults env_reset, !visiblepw\n"
        );
        assert_eq!(
            edit("Defaults requiretty,env_reset\n").unwrap(),
            "Defaults env_reset\n"
        );
        assert_eq!(
            edit("Defaults env_reset,requiretty\n").unwrap(),
            "Defaults env_reset\n"
        );
        assert_eq!(
            edit("Defaults requiretty, env_keep = \"A,B\" # note\n").unwrap(),
            "Defaults env_keep = \"A,B\" # note\n"
        );
    }

    #[test]
    fn leaves_what_does_not_cover_root() {
        for t in [
            "Defaults !requiretty\n",
            "# Defaults requiretty\n",
            "Defaults:ec2-user requiretty\n",
            "Defaults>nobody requiretty\n",
            "Defaults!/bin/ls requiretty\n",
            "Defaults env_reset\n",
            "Defaultsrequiretty\n",
            "root ALL=(ALL) ALL\n",
        ] {
            assert_eq!(edit(t), None, "{t:?}");
        }
    }

    #[test]
    fn edits_root_scopes() {
        assert_eq!(
            edit("Defaults:root requiretty\n").unwrap(),
            "#Defaults:root requiretty\n"
        );
        assert_eq!(
            edit("Defaults:ALL requiretty\n").unwrap(),
            "#Defaults:ALL requiretty\n"
        );
        assert_eq!(
            edit("Defaults:bob,root requiretty\n").unwrap(),
            "#Defaults:bob,root requiretty\n"
        );
        assert_eq!(
            edit("Defaults>ec2-user requiretty\n").unwrap(),
            "#Defaults>ec2-user requiretty\n"
        );
        assert_eq!(
            edit("Defaults@box requiretty\n").unwrap(),
            "#Defaults@box requiretty\n"
        );
    }

    #[test]
    fn continued_lines_are_refused() {
        assert!(remove_requiretty("Defaults requiretty, \\\n  env_reset\n", "u").is_err());
        assert!(remove_requiretty("Defaults env_reset, \\\n  requiretty\n", "u").is_err());
        // Found by `cargo xtask fuzz` (sudoers): a continuation line that starts with
        // `Defaults` was edited as an entry of its own (commented out, which also cut the
        // rule it continues), and the next run refused the result.
        let t = "root ALL=(ALL) ALL, \\\n  Defaults requiretty\n";
        assert!(remove_requiretty(t, "u").is_err());
    }

    /// Found by `cargo xtask fuzz` (sudoers): two requiretty at the end of the options
    /// left a dangling comma (`Defaults env_reset,`), which visudo rejects.
    #[test]
    fn repeated_requiretty_leaves_no_dangling_comma() {
        assert_eq!(
            edit("Defaults env_reset,requiretty,requiretty\n").unwrap(),
            "Defaults env_reset\n"
        );
        assert_eq!(
            edit("Defaults requiretty, requiretty, env_reset, requiretty\n").unwrap(),
            "Defaults env_reset\n"
        );
        assert_eq!(
            edit("Defaults a, requiretty, b,requiretty,requiretty\n").unwrap(),
            "Defaults a, b\n"
        );
    }

    #[test]
    fn idempotent() {
        let once = edit("Defaults    requiretty\n").unwrap();
        assert_eq!(edit(&once), None);
    }

    #[test]
    fn finds_includes() {
        let text =
            "#includedir /etc/sudoers.d\n#include /etc/x\n#includes\n## c\n@include \"y z\"\n";
        let inc: Vec<Include> = text.lines().filter_map(include_directive).collect();
        assert_eq!(inc.len(), 3);
        assert!(inc[0].dir && inc[0].path == "/etc/sudoers.d");
        assert!(!inc[1].dir && inc[1].path == "/etc/x");
        assert_eq!(inc[2].path, "y z");
        assert_eq!(
            resolve_include("/etc/sudoers", "sudoers.local"),
            "/etc/sudoers.local"
        );
        assert_eq!(resolve_include("/etc/sudoers.d/a", "../b"), "/etc/b");
        assert_eq!(resolve_include("/etc/sudoers.d/a", "/x/./y"), "/x/y");
        assert_eq!(relative("/etc/sudoers", "/etc/sudoers.d"), "sudoers.d");
        assert_eq!(relative("/etc/sudoers.d/a", "/etc/b"), "../b");
        assert_eq!(relative("/etc/sudoers", "/opt/s/x"), "../opt/s/x");
    }

    fn sudo() -> Sudo {
        let mut s = Sudo::simple("ec2-user");
        s.target.uid = Some(500);
        s.target.groups = vec![("ec2-user".into(), 500), ("wheel".into(), 10)];
        s.root.groups = vec![("root".into(), 0), ("admins".into(), 20)];
        s.args = "/var/www/blot/app/index.js".into();
        s
    }

    fn covered(text: &str) -> bool {
        let mut s = sudo();
        for (_, _, l) in logical_lines(text) {
            s.learn_alias(&l);
        }
        remove_requiretty_in(text, PATH, &s).unwrap().is_some()
    }

    #[test]
    fn requiretty_through_every_scope_that_applies() {
        for t in [
            "Defaults!/usr/bin/node requiretty\n",
            "Defaults!/usr/bin/ requiretty\n",
            "Defaults!/usr/bin/n* requiretty\n",
            "Cmnd_Alias NODE = /usr/bin/node\nDefaults!NODE requiretty\n",
            "Cmnd_Alias A = /bin/ls : B = /usr/bin/node, /bin/cat\nDefaults!B requiretty\n",
            "Defaults>ec2-user requiretty\n",
            "Defaults>#500 requiretty\n",
            "Defaults>%wheel requiretty\n",
            "Runas_Alias APP = ec2-user\nDefaults>APP requiretty\n",
            "User_Alias ADMINS = bob, root\nDefaults:ADMINS requiretty\n",
            "Defaults:%admins requiretty\n",
            "Defaults:%#0 requiretty\n",
            "Defaults:bob,!carol requiretty\nDefaults:ALL,!bob requiretty\n",
        ] {
            assert!(covered(t), "not seen: {t:?}");
        }
        for t in [
            "Defaults!/usr/bin/nodejs requiretty\n",
            "Defaults!/usr/bin/node other-args requiretty\n",
            "Defaults!/usr/sbin/ requiretty\n",
            "Defaults>nobody requiretty\n",
            "Defaults:ALL,!root requiretty\n",
            "User_Alias ADMINS = bob\nDefaults:ADMINS requiretty\n",
            "Defaults:%wheel requiretty\n",
        ] {
            assert!(!covered(t), "wrongly seen: {t:?}");
        }
    }

    fn decide(t: &str) -> Decision {
        let mut s = sudo();
        for (_, _, l) in logical_lines(t) {
            s.learn_alias(&l);
        }
        let mut last = Decision::Unrelated;
        for (_, _, l) in logical_lines(t) {
            let d = s.decide(&l);
            if d != Decision::Unrelated {
                last = d;
            }
        }
        last
    }

    #[test]
    fn roots_right_to_run_the_command() {
        assert_eq!(decide("root ALL=(ALL) ALL\n"), Decision::Allow);
        assert_eq!(
            decide("root\tALL = (ALL:ALL) NOPASSWD: ALL\n"),
            Decision::Allow
        );
        assert_eq!(
            decide("%admins ALL=(ec2-user) /usr/bin/node\n"),
            Decision::Allow
        );
        assert_eq!(
            decide("User_Alias A = root\nA ALL=(ALL) ALL\n"),
            Decision::Allow
        );
        assert_eq!(
            decide("root ALL=(ALL) ALL, !/usr/bin/node\n"),
            Decision::Deny
        );
        assert_eq!(
            decide("root ALL=ALL\n"),
            Decision::Unrelated,
            "as root only"
        );
        assert_eq!(decide("bob ALL=(ALL) ALL\n"), Decision::Unrelated);
        assert_eq!(decide(""), Decision::Unrelated);
        assert_eq!(decide("this is not sudoers\n"), Decision::Unknown);
    }

    #[test]
    fn globs() {
        assert!(glob("/usr/bin/*", "/usr/bin/node", true));
        assert!(!glob("/usr/*", "/usr/bin/node", true));
        assert!(glob("/usr/bin/no[a-z]e", "/usr/bin/node", true));
        assert!(!glob("/usr/bin/no[!d]e", "/usr/bin/node", true));
        assert!(glob("*", "a b/c", false));
    }
}
