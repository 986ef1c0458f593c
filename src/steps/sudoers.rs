//! sudoers: no `Defaults requiretty` may apply to root, because upstart 0.6.5 jobs run
//! `sudo -u USER` without a tty.
//!
//! The edit keeps every other byte: a `Defaults` line whose only option is requiretty is
//! commented out (`#` in front); a line listing requiretty among other options loses only
//! that option. The result is validated with `visudo -c -f` before it may replace anything.

use super::{Ctx, Step};
use crate::plan::{plan_file, plan_perms, Change, Perms, StepPlan};
use anyhow::{bail, Result};

pub const PATH: &str = "/etc/sudoers";
const PERMS: Perms = Perms {
    mode: 0o440,
    uid: 0,
    gid: 0,
};

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
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow::anyhow!("{PATH} is not valid UTF-8 text"))?;
        let edit = remove_requiretty(&text, &ctx.settings.user)?;
        for inc in includes(&text) {
            check_included(ctx, &inc)?;
        }
        let Some(edit) = edit else {
            return Ok(StepPlan::changes(
                plan_perms(PATH, meta, PERMS).into_iter().collect(),
            ));
        };
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
            let why = "visudo is not installed, so the new /etc/sudoers cannot be validated \
                       (install sudo's visudo; blotctl never writes an unvalidated sudoers)";
            warnings.push(why.to_string());
            changes = changes.into_iter().map(|c| c.blocked(why)).collect();
        } else {
            let out = sys.check_tree(
                &["visudo", "-c", "-f"],
                &[(PATH.to_string(), edit.text.clone().into_bytes())],
                PATH,
            )?;
            if !out.success() {
                let msg = format!("{}{}", out.stdout, out.stderr);
                bail!(
                    "visudo rejects {PATH} as blotctl would write it, so it was left unchanged; \
                     fix the file by hand with `visudo` first:\n{}",
                    msg.trim_end()
                );
            }
        }
        let mut plan = StepPlan::changes(changes);
        plan.warnings = warnings;
        Ok(plan)
    }
}

/// The result of editing sudoers text.
#[derive(Debug, PartialEq)]
pub struct Edit {
    pub text: String,
    /// 1-based numbers of the lines that changed.
    pub lines: Vec<usize>,
}

/// Remove `requiretty` from every active `Defaults` entry whose scope covers root running
/// `sudo -u <app_user>`. `Ok(None)` when there is nothing to remove.
pub fn remove_requiretty(text: &str, app_user: &str) -> Result<Option<Edit>> {
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
                    "{PATH} line {lineno}: requiretty sits on a continued (backslash) Defaults \
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
        if hits.is_empty() || !covers_root(&entry.scope, app_user) {
            out.push_str(raw);
            continue;
        }
        if continued {
            bail!(
                "{PATH} line {lineno}: requiretty sits on a continued (backslash) Defaults \
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

/// Whether requiretty in this scope applies when root runs `sudo -u app_user ...`.
fn covers_root(scope: &Scope, app_user: &str) -> bool {
    match scope {
        Scope::Global | Scope::Host => true,
        Scope::User(l) => l.iter().any(|u| u == "root" || u == "ALL" || u == "#0"),
        Scope::Runas(l) => l.iter().any(|u| u == app_user || u == "ALL"),
        Scope::Command(l) => l.iter().any(|c| c == "ALL"),
    }
}

/// `#include`/`#includedir` (and sudo 1.9's `@include`) targets named in sudoers.
fn includes(text: &str) -> Vec<Include> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
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
            Some(Include {
                dir,
                path: rest.trim().to_string(),
            })
        })
        .collect()
}

struct Include {
    dir: bool,
    path: String,
}

/// A requiretty in an included file is not ours to edit: fail naming the file.
fn check_included(ctx: &Ctx, inc: &Include) -> Result<()> {
    if !inc.path.starts_with('/') {
        return Ok(()); // relative includes are resolved by sudo against sudoers' dir; rare
    }
    let files: Vec<String> = if inc.dir {
        match ctx.sys.list_dir(&inc.path)? {
            None => return Ok(()),
            // sudo skips names ending in `~` or containing a `.`
            Some(names) => names
                .into_iter()
                .filter(|n| !n.ends_with('~') && !n.contains('.'))
                .map(|n| format!("{}/{n}", inc.path))
                .collect(),
        }
    } else {
        vec![inc.path.clone()]
    };
    for f in files {
        let Some(text) = ctx.sys.read_text(&f)? else {
            continue;
        };
        if remove_requiretty(&text, &ctx.settings.user)?.is_some() {
            bail!(
                "{f} (included from {PATH}) sets requiretty for root: blotctl edits only \
                 {PATH}; remove it from {f} by hand with `visudo -f {f}`"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let inc = includes("#includedir /etc/sudoers.d\n#include /etc/x\n#includes\n## c\n");
        assert_eq!(inc.len(), 2);
        assert!(inc[0].dir && inc[0].path == "/etc/sudoers.d");
        assert!(!inc[1].dir && inc[1].path == "/etc/x");
    }
}
