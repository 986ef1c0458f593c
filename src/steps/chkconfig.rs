//! chkconfig: the SysV services redis, nginx and monit must be off in every runlevel, so
//! that only upstart starts them.
//!
//! With `chkconfig` on PATH its answers are used (`--list NAME`); without it (a dry run in
//! CI under `--root`), or under `--offline`, the state is read from `<root>/etc/rcN.d`, the
//! data chkconfig itself reads, and the change is reported but cannot be applied.

use super::{Ctx, Step};
use crate::chkconfig::{
    classify_stderr, levels_from_links, parse_list_line, ChkconfigError, ServiceLevels,
};
use crate::plan::{Action, Change, StepPlan};
use crate::sys::command_failure;
use anyhow::{anyhow, Result};

pub struct Chkconfig;

/// What was found for one service.
#[derive(Debug)]
pub enum Found {
    /// The init script is not there (or does not support chkconfig).
    Absent(String),
    /// Its runlevels.
    Levels(ServiceLevels),
}

/// The services and the init script names to try for each.
pub fn services(ctx: &Ctx) -> Vec<(&'static str, Vec<String>)> {
    vec![
        ("redis", ctx.settings.redis_services.clone()),
        ("nginx", vec!["nginx".into()]),
        ("monit", vec!["monit".into()]),
    ]
}

/// Every init script name blotctl may turn off with these settings.
pub fn services_of(settings: &crate::config::Settings) -> Vec<String> {
    let mut out = settings.redis_services.clone();
    out.extend(["nginx".to_string(), "monit".to_string()]);
    out
}

/// Whether chkconfig is asked (else the rc links are read: `--offline`, or no chkconfig).
fn chkconfig_here(ctx: &Ctx) -> bool {
    !ctx.offline && ctx.sys.which("chkconfig").is_some()
}

/// Find a service's real init script name and its runlevels.
pub fn observe(ctx: &Ctx, candidates: &[String]) -> Result<Found> {
    let mut name = None;
    for c in candidates {
        if ctx.sys.meta(&format!("/etc/rc.d/init.d/{c}"))?.is_some() {
            name = Some(c.clone());
            break;
        }
    }
    let Some(name) = name else {
        return Ok(Found::Absent(format!(
            "not installed (no /etc/rc.d/init.d/{})",
            candidates.join(" or ")
        )));
    };
    if chkconfig_here(ctx) {
        let argv = ["chkconfig", "--list", name.as_str()];
        let out = ctx.sys.query(&argv)?;
        if out.success() {
            return parse_list_line(&out.stdout)
                .map(Found::Levels)
                .map_err(|e| {
                    anyhow!(
                        "cannot understand `{}`: {e} (it printed {:?})",
                        argv.join(" "),
                        out.stdout
                    )
                });
        }
        return match classify_stderr(&out.stderr) {
            ChkconfigError::NoSuchService(_) => Ok(Found::Absent(format!("{name}: not installed"))),
            ChkconfigError::NotSupported(_) => Ok(Found::Absent(format!(
                "{name}: init script does not support chkconfig"
            ))),
            ChkconfigError::NotReferenced(_) => Ok(Found::Levels(ServiceLevels {
                name,
                levels: [false; 7],
            })),
            ChkconfigError::Other(_) => Err(anyhow!("{}", command_failure(&argv, &out))),
        };
    }
    let mut links = Vec::new();
    for level in 0..=6u8 {
        let dir = format!("/etc/rc{level}.d");
        let names = ctx.sys.list_dir(&dir)?.ok_or_else(|| {
            anyhow!("{dir} does not exist: cannot tell which runlevels {name} starts in")
        })?;
        links.extend(names.into_iter().map(|n| (level, n)));
    }
    Ok(Found::Levels(levels_from_links(&links, &name).unwrap_or(
        ServiceLevels {
            name,
            levels: [false; 7],
        },
    )))
}

fn on_levels(l: &ServiceLevels) -> String {
    l.levels
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
        let have_chkconfig = chkconfig_here(ctx);
        let mut changes = Vec::new();
        let mut notes = Vec::new();
        let mut absent = 0;
        for (label, candidates) in services(ctx) {
            match observe(ctx, &candidates)? {
                Found::Absent(why) => {
                    absent += 1;
                    notes.push(format!("{label}: {why}"));
                }
                Found::Levels(l) if l.any_on() => {
                    let c = Change::new(
                        format!(
                            "chkconfig {} off (on in runlevels {})",
                            l.name,
                            on_levels(&l)
                        ),
                        Action::ChkconfigOff {
                            service: l.name.clone(),
                        },
                    );
                    changes.push(if have_chkconfig {
                        c
                    } else {
                        c.blocked("chkconfig is not run here (the state was read from /etc/rcN.d)")
                    });
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

    const ON: &str = "\t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off\n";

    #[test]
    fn sysv_services_off_as_chkconfig_lists_them() {
        check(
            &Chkconfig,
            |b, _| {
                b.on_path("chkconfig")
                    .answer(
                        "chkconfig --list redis",
                        0,
                        &format!("redis          {ON}"),
                        "",
                    )
                    .answer(
                        "chkconfig --list nginx",
                        0,
                        &format!("nginx          {ON}"),
                        "",
                    )
                    .answer(
                        "chkconfig --list monit",
                        0,
                        "monit          \t0:off\t1:off\t2:off\t3:off\t4:off\t5:off\t6:off\n",
                        "",
                    );
            },
            expect![[r#"
            - chkconfig redis off (on in runlevels 2,3,4,5)
            - chkconfig nginx off (on in runlevels 2,3,4,5)
        "#]],
        );
        // Without chkconfig (a copy of the box), the rc links say the same.
        check(
            &Chkconfig,
            |_, _| {},
            expect![[r#"
            - chkconfig redis off (on in runlevels 2,3,4,5)
              blocked: chkconfig is not run here (the state was read from /etc/rcN.d)
            - chkconfig nginx off (on in runlevels 2,3,4,5)
              blocked: chkconfig is not run here (the state was read from /etc/rcN.d)
            - chkconfig monit off (on in runlevels 2,3,4,5)
              blocked: chkconfig is not run here (the state was read from /etc/rcN.d)
        "#]],
        );
    }
}
