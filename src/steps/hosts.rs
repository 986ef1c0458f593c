//! /etc/hosts: `localhost` resolves to 127.0.0.1, so that monit reaches the app and nginx
//! (its port tests connect to `localhost`, whose name opens Blot's health route); a box
//! whose hosts file lost that line gets it back. Site names are mapped to `hosts_address`
//! only when the `sites` setting lists some (default none: mapping them sends the box's
//! own requests for the site to itself). A line with the missing names is appended; every
//! other byte is kept, and no line is removed (a box provisioned when site names were
//! mapped by default keeps its line). A name that already maps to another address is an
//! error, not an edit.

use super::{Ctx, Step, ROOT_0644};
use crate::plan::{plan_file, Change, StepPlan};
use anyhow::{bail, Result};
use std::net::IpAddr;

pub const PATH: &str = crate::paths::HOSTS;
/// Where `localhost` must resolve (monit's port tests connect to it).
const LOCALHOST: &str = "127.0.0.1";

pub struct Hosts;

impl Step for Hosts {
    fn name(&self) -> &'static str {
        "hosts"
    }

    fn plan(&self, ctx: &Ctx, _earlier: &[Change]) -> Result<StepPlan> {
        let s = ctx.settings;
        let observed = super::observe_file(ctx, PATH)?;
        let current = match &observed {
            Some((b, _)) => Some(
                String::from_utf8(b.clone())
                    .map_err(|_| anyhow::anyhow!("{PATH} is not valid UTF-8 text"))?,
            ),
            None => None,
        };
        let text = current.clone().unwrap_or_default();
        let mut wanted: Vec<(&str, Vec<String>)> = vec![(LOCALHOST, vec!["localhost".into()])];
        if !s.sites.is_empty() {
            wanted.push((&s.hosts_address, s.sites.clone()));
        }
        let mut new = text.clone();
        let mut what = Vec::new();
        for (address, names) in &wanted {
            let missing = missing_names(&new, address, names);
            if let Some(edited) = ensure_names(&new, address, names)? {
                what.push(format!("map {} to {address}", missing.join(" ")));
                new = edited;
            }
        }
        if what.is_empty() {
            return Ok(StepPlan::changes(Vec::new()));
        }
        let meta = observed.map(|(_, m)| m);
        // A file we edit keeps its own mode and owner; a missing one is created 0644 root.
        let perms = meta.map_or(ROOT_0644, |m| crate::plan::Perms {
            mode: m.mode,
            uid: m.uid,
            gid: m.gid,
        });
        let cur = current.as_deref().zip(meta).map(|(t, m)| (t.as_bytes(), m));
        Ok(StepPlan::changes(plan_file(
            PATH,
            cur,
            new.as_bytes(),
            perms,
            &what.join("; "),
        )))
    }
}

/// The address each name resolves to (first match wins, as in glibc), per address family.
fn lookup<'a>(text: &'a str, name: &str, v4: bool) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let addr = fields.next()?;
        let ip: IpAddr = addr.parse().ok()?;
        (ip.is_ipv4() == v4 && fields.any(|n| n.eq_ignore_ascii_case(name))).then_some(addr)
    })
}

fn missing_names<'a>(text: &str, address: &str, names: &'a [String]) -> Vec<&'a str> {
    let v4 = address
        .parse::<IpAddr>()
        .map(|ip| ip.is_ipv4())
        .unwrap_or(true);
    names
        .iter()
        .filter(|n| lookup(text, n, v4).is_none())
        .map(|n| n.as_str())
        .collect()
}

/// The hosts text with a line added for the names that do not resolve yet; `None` when all
/// do. Errors when a name resolves to another address of the same family.
pub fn ensure_names(text: &str, address: &str, names: &[String]) -> Result<Option<String>> {
    let want: IpAddr = address.parse()?;
    for n in names {
        if let Some(addr) = lookup(text, n, want.is_ipv4()) {
            if addr.parse::<IpAddr>().ok() != Some(want) {
                bail!(
                    "{PATH} maps {n} to {addr}, not {address}: blotctl will not move a name \
                     (fix that line by hand, or change `sites`/`hosts_address` in the config)"
                );
            }
        }
    }
    let missing = missing_names(text, address, names);
    if missing.is_empty() {
        return Ok(None);
    }
    let mut out = text.to_string();
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(eol);
    }
    // Pad the address like the stock file does (`127.0.0.1   localhost ...`).
    out.push_str(&format!("{address:<11} {}{eol}", missing.join(" ")));
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::check::check;
    use expect_test::expect;

    #[test]
    fn plans_the_localhost_line_a_box_lost_and_only_that() {
        check(
            &Hosts,
            |_, _| {},
            expect![[r#"
            in sync
        "#]],
        );
        check(
            &Hosts,
            |b, _| {
                b.write(PATH, "::1 localhost6\n");
            },
            expect![[r#"
            - map localhost to 127.0.0.1 in /etc/hosts
            --- /etc/hosts
            +++ /etc/hosts
            @@ -1 +1,2 @@
             ::1 localhost6
            +127.0.0.1   localhost
        "#]],
        );
        check(
            &Hosts,
            |b, s| {
                b.write(PATH, "127.0.0.1 localhost\n10.0.0.1 blot.im\n");
                s.sites = vec!["blot.im".into(), "www.blot.im".into()];
            },
            expect![[r#"
            error: /etc/hosts maps blot.im to 10.0.0.1, not 127.0.0.1: blotctl will not move a name (fix that line by hand, or change `sites`/`hosts_address` in the config)
        "#]],
        );
        // The app user could redirect localhost: refused, not edited.
        check(
            &Hosts,
            |b, _| {
                b.chmod(PATH, 0o644, 500, 500);
            },
            expect![[r#"
            error: refusing to manage /etc/hosts: /etc/hosts belongs to uid 500, so a user other than root could change a file that root writes and reads (make it and its directories root's, or change the setting that names it)
        "#]],
        );
    }

    const STOCK: &str = "127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4\n::1         localhost6 localhost6.localdomain6\n";

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn appends_one_line_once() {
        let n = names(&["blot.im", "www.blot.im"]);
        let once = ensure_names(STOCK, "127.0.0.1", &n).unwrap().unwrap();
        assert_eq!(once, format!("{STOCK}127.0.0.1   blot.im www.blot.im\n"));
        assert_eq!(ensure_names(&once, "127.0.0.1", &n).unwrap(), None);
    }

    #[test]
    fn adds_only_missing_names() {
        let t = "127.0.0.1 localhost blot.im\n";
        let out = ensure_names(t, "127.0.0.1", &names(&["blot.im", "www.blot.im"]))
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            "127.0.0.1 localhost blot.im\n127.0.0.1   www.blot.im\n"
        );
    }

    #[test]
    fn no_final_newline_empty_and_comments() {
        assert_eq!(
            ensure_names("127.0.0.1 localhost", "127.0.0.1", &names(&["a"]))
                .unwrap()
                .unwrap(),
            "127.0.0.1 localhost\n127.0.0.1   a\n"
        );
        assert_eq!(
            ensure_names("", "127.0.0.1", &names(&["a"]))
                .unwrap()
                .unwrap(),
            "127.0.0.1   a\n"
        );
        assert!(ensure_names("# 127.0.0.1 a\n", "127.0.0.1", &names(&["a"]))
            .unwrap()
            .is_some());
    }

    #[test]
    fn other_address_is_an_error_but_ipv6_is_another_family() {
        assert!(ensure_names("10.0.0.1 a\n", "127.0.0.1", &names(&["a"])).is_err());
        assert!(ensure_names("::1 a\n", "127.0.0.1", &names(&["a"]))
            .unwrap()
            .is_some());
    }
}
