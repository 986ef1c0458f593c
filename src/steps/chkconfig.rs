//! chkconfig: the SysV services redis, nginx and monit must be off in every runlevel, so
//! that only upstart starts them.
//!
//! Their state is read as chkconfig reads it, with no spawn: the init script
//! `/etc/init.d/NAME` and the links in `/etc/rc0.d` .. `/etc/rc6.d`, with chkconfig's own
//! rules and errors ([`crate::chkconfig::list_line`], held to the real transcript). A
//! service is off when no runlevel starts it at boot; `chkconfig NAME off` is the one way
//! it is changed (the engine runs it), so without chkconfig on PATH the change is reported
//! but cannot be applied. A script whose header blotctl does not take as chkconfig's does
//! not hide its `S` links: `/etc/rc.d/rc` runs them all the same, so `chkconfig NAME off`
//! is planned, and fails loudly if chkconfig refuses the script too.

use super::{Ctx, Step};
use crate::chkconfig::{list_line, started_at_boot, ChkconfigError, Runlevels, ServiceLevels};
use crate::plan::{Action, Change, StepPlan};
use anyhow::{anyhow, Result};

pub struct Chkconfig;

/// What was found for one service.
#[derive(Debug)]
pub enum Found {
    /// The init script is not there (or does not support chkconfig).
    Absent(String),
    /// Its runlevels.
    Levels(Runlevels),
    /// Its init script has no header chkconfig's rules accept (as blotctl reads them), yet
    /// `S` links start it at boot in these runlevels.
    Unlisted { name: String, at_boot: [bool; 7] },
}

/// The services and the init script names to try for each.
fn services(settings: &crate::config::Settings) -> Vec<(&'static str, Vec<String>)> {
    vec![
        ("redis", settings.redis_services.clone()),
        ("nginx", vec!["nginx".into()]),
        ("monit", vec!["monit".into()]),
    ]
}

/// Every init script name blotctl may turn off with these settings.
pub fn services_of(settings: &crate::config::Settings) -> Vec<String> {
    services(settings)
        .into_iter()
        .flat_map(|(_, c)| c)
        .collect()
}

/// The names in /etc/rc0.d … rc6.d, listed once per plan (when some service has a script).
type RcDirs = [Vec<String>; 7];

/// Find a service's real init script name (the first candidate with an `/etc/init.d`
/// script) and its runlevels, as `chkconfig --list NAME` would tell them.
fn observe(ctx: &Ctx, candidates: &[String], listed: &mut Option<RcDirs>) -> Result<Found> {
    let mut found = None;
    for c in candidates {
        if let Some(script) = ctx.sys.read(&format!("/etc/init.d/{c}"))? {
            found = Some((c.clone(), script));
            break;
        }
    }
    let Some((name, script)) = found else {
        return Ok(Found::Absent(format!(
            "not installed (no /etc/init.d/{})",
            candidates.join(" or ")
        )));
    };
    if listed.is_none() {
        let mut dirs = RcDirs::default();
        for (level, names) in dirs.iter_mut().enumerate() {
            let dir = format!("/etc/rc{level}.d");
            *names = ctx.sys.list_dir_unsorted(&dir)?.ok_or_else(|| {
                anyhow!(
                    "{dir} does not exist, so chkconfig cannot tell (nor change) which \
                     runlevels {name} starts in; restore the /etc/rcN.d -> rc.d/rcN.d links"
                )
            })?;
        }
        *listed = Some(dirs);
    }
    let dirs = listed.as_ref().expect("listed just above");
    match list_line(&name, Some(&script), dirs) {
        Ok(levels) => Ok(Found::Levels(levels)),
        Err(ChkconfigError::NotSupported(_)) => {
            let at_boot = started_at_boot(&name, dirs);
            Ok(if at_boot.contains(&true) {
                Found::Unlisted { name, at_boot }
            } else {
                Found::Absent(format!("{name}: init script does not support chkconfig"))
            })
        }
        // No link in any runlevel: nothing starts it at boot.
        Err(ChkconfigError::NotReferenced(_)) => Ok(Found::Levels(Runlevels {
            listed: ServiceLevels {
                name,
                levels: [false; 7],
            },
            at_boot: [false; 7],
        })),
        Err(e) => Err(anyhow!(
            "{e} (reading /etc/init.d/{name} as chkconfig does)"
        )),
    }
}

/// The runlevels `chkconfig NAME off` (no `--level`) switches off: 2, 3, 4 and 5. The
/// runbook's "off" is exactly that; an S link in 0, 1 or 6 is left as chkconfig leaves it
/// (planning a change there would never converge) and only noted.
const OFF_LEVELS: std::ops::RangeInclusive<usize> = 2..=5;

/// `levels` with only [`OFF_LEVELS`] kept.
fn off_levels(levels: &[bool; 7]) -> [bool; 7] {
    std::array::from_fn(|i| levels[i] && OFF_LEVELS.contains(&i))
}

/// An S link in a runlevel `chkconfig NAME off` switches off.
fn booting(at_boot: &[bool; 7]) -> bool {
    off_levels(at_boot).contains(&true)
}

/// The note for S links only in runlevels 0, 1 or 6.
fn beyond_off(name: &str, at_boot: &[bool; 7]) -> String {
    format!(
        "{name}: an S link starts it in runlevels {} (not 2-5, which `chkconfig {name} off` \
         switches off); left as chkconfig leaves it",
        levels_text(at_boot)
    )
}

/// Runlevels as `2,3,4,5`.
fn levels_text(levels: &[bool; 7]) -> String {
    levels
        .iter()
        .enumerate()
        .filter(|(_, on)| **on)
        .map(|(i, _)| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

impl Step for Chkconfig {
    fn name(&self) -> &'static str {
        "chkconfig"
    }

    fn plan(&self, ctx: &Ctx, _earlier: &[Change]) -> Result<StepPlan> {
        let can_change = ctx.sys.which("chkconfig").is_some();
        let mut changes = Vec::new();
        let mut notes = Vec::new();
        let mut absent = 0;
        let mut off = |name: &str, why: String| {
            let c = Change::new(
                format!("chkconfig {name} off ({why})"),
                Action::ChkconfigOff {
                    service: name.to_string(),
                },
            );
            changes.push(if can_change {
                c
            } else {
                c.blocked("chkconfig is not on PATH here, so this cannot be changed")
            });
        };
        let mut listed = None;
        for (label, candidates) in services(ctx.settings) {
            match observe(ctx, &candidates, &mut listed)? {
                Found::Absent(why) => {
                    absent += 1;
                    notes.push(format!("{label}: {why}"));
                }
                Found::Unlisted { name, at_boot } if !booting(&at_boot) => {
                    notes.push(beyond_off(&name, &at_boot))
                }
                Found::Unlisted { name, at_boot } => off(
                    &name,
                    format!(
                        "an S link starts it at boot in runlevels {}, though its init script \
                         has no chkconfig header blotctl recognises; if chkconfig refuses it \
                         too, remove those rc links by hand",
                        levels_text(&off_levels(&at_boot))
                    ),
                ),
                Found::Levels(l) if booting(&l.at_boot) => {
                    let name = &l.listed.name;
                    let (at_boot, listed) = (off_levels(&l.at_boot), off_levels(&l.listed.levels));
                    let why = if listed == at_boot {
                        format!("on in runlevels {}", levels_text(&at_boot))
                    } else {
                        format!(
                            "an S link starts it at boot in runlevels {}, though chkconfig \
                             lists it on in {}",
                            levels_text(&at_boot),
                            match levels_text(&listed) {
                                t if t.is_empty() => "none".to_string(),
                                t => t,
                            }
                        )
                    };
                    off(name, why);
                }
                Found::Levels(l) if l.at_boot.contains(&true) => {
                    notes.push(beyond_off(&l.listed.name, &l.at_boot))
                }
                Found::Levels(_) => {}
            }
        }
        let mut plan = if absent == 3 {
            StepPlan::absent("none of redis, nginx, monit has a SysV init script")
        } else {
            StepPlan::changes(changes)
        };
        plan.notes = notes;
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::check::check;
    use expect_test::expect;

    #[test]
    fn sysv_services_off_as_their_links_say() {
        // The fixture box: each service has S links in 2-5 (chkconfig NAME on).
        check(
            &Chkconfig,
            |b, _| {
                b.on_path("chkconfig");
            },
            expect![[r#"
            - chkconfig redis off (on in runlevels 2,3,4,5)
            - chkconfig nginx off (on in runlevels 2,3,4,5)
            - chkconfig monit off (on in runlevels 2,3,4,5)
        "#]],
        );
        // Without chkconfig the state is the same; it cannot be changed.
        check(
            &Chkconfig,
            |_, _| {},
            expect![[r#"
            - chkconfig redis off (on in runlevels 2,3,4,5)
              blocked: chkconfig is not on PATH here, so this cannot be changed
            - chkconfig nginx off (on in runlevels 2,3,4,5)
              blocked: chkconfig is not on PATH here, so this cannot be changed
            - chkconfig monit off (on in runlevels 2,3,4,5)
              blocked: chkconfig is not on PATH here, so this cannot be changed
        "#]],
        );
    }

    /// A script whose header blotctl does not take as chkconfig's (no `description:`
    /// line) does not hide the S links rc runs at boot; with no S link it is only noted.
    #[test]
    fn s_links_count_whatever_the_header() {
        let headless = |b: &mut crate::sys::fake::FakeBox| {
            b.on_path("chkconfig");
            let script = b.text("/etc/rc.d/init.d/nginx").unwrap();
            let cut: String = script
                .split_inclusive('\n')
                .filter(|l| !l.contains("description:") && !l.contains("proxy and IMAP"))
                .collect();
            assert_ne!(cut, script);
            b.write("/etc/rc.d/init.d/nginx", &cut);
        };
        check(
            &Chkconfig,
            |b, _| headless(b),
            expect![[r#"
            - chkconfig redis off (on in runlevels 2,3,4,5)
            - chkconfig nginx off (an S link starts it at boot in runlevels 2,3,4,5, though its init script has no chkconfig header blotctl recognises; if chkconfig refuses it too, remove those rc links by hand)
            - chkconfig monit off (on in runlevels 2,3,4,5)
        "#]],
        );
        check(
            &Chkconfig,
            |b, _| {
                headless(b);
                for level in 2..=5 {
                    b.remove(&format!("/etc/rc.d/rc{level}.d/S85nginx"));
                }
            },
            expect![[r#"
            - chkconfig redis off (on in runlevels 2,3,4,5)
            - chkconfig monit off (on in runlevels 2,3,4,5)
            note: nginx: nginx: init script does not support chkconfig
        "#]],
        );
    }

    /// `chkconfig NAME off` switches off runlevels 2-5 only: an S link in 0, 1 or 6 is
    /// noted, not planned (a change there would never converge).
    #[test]
    fn s_links_beyond_2_to_5_are_noted_not_planned() {
        check(
            &Chkconfig,
            |b, _| {
                b.on_path("chkconfig");
                for level in 2..=5 {
                    b.remove(&format!("/etc/rc.d/rc{level}.d/S85nginx"))
                        .symlink(
                            &format!("/etc/rc.d/rc{level}.d/K15nginx"),
                            "../init.d/nginx",
                        );
                }
                b.remove("/etc/rc.d/rc1.d/K15nginx")
                    .symlink("/etc/rc.d/rc1.d/S85nginx", "../init.d/nginx");
            },
            expect![[r#"
                - chkconfig redis off (on in runlevels 2,3,4,5)
                - chkconfig monit off (on in runlevels 2,3,4,5)
                note: nginx: an S link starts it in runlevels 1 (not 2-5, which `chkconfig nginx off` switches off); left as chkconfig leaves it
            "#]],
        );
    }
}
