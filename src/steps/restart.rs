//! Restart one job (`restart`, and deploy's restarts): stop then start through upstart,
//! then wait until it is start/running and its health probe answers. A job whose needs are
//! not running gets them started first ([`Job::needs`]); a restart of redis waits for blot
//! too, which upstart stops with redis and starts again after ([`Job::dependents`]).

use super::{Ctx, Step};
use crate::jobconf::job_reading;
use crate::jobs::{observe, InitState, Job};
use crate::plan::{Action, Change, StepPlan};
use anyhow::{bail, Result};

/// Restart one job: always (`restart`, `deploy --restart`), or when an earlier step of
/// `deploy` planned what it runs: blot after the checkout's fast-forward, nginx and redis
/// after a change to the copies of their configs. A job that a restart planned before it
/// takes with it (blot with redis) is not restarted twice.
pub struct Restart {
    pub job: Job,
    pub always: bool,
}

impl Restart {
    /// Why this job must run something new, if it must.
    fn reason(&self, earlier: &[Change]) -> Option<String> {
        earlier.iter().find_map(|c| match &c.action {
            Action::FastForward { .. } if self.job == Job::Blot => {
                Some("the checkout moved".to_string())
            }
            Action::WriteFile { path, .. } if job_reading(path) == Some(self.job.name()) => {
                Some(format!("{path} changed"))
            }
            _ => None,
        })
    }
}

impl Step for Restart {
    fn name(&self) -> &'static str {
        match self.job {
            Job::Redis => "restart redis",
            Job::Blot => "restart blot",
            Job::Nginx => "restart nginx",
            Job::Monit => "restart monit",
        }
    }

    fn plan(&self, ctx: &Ctx, earlier: &[Change]) -> Result<StepPlan> {
        let job = self.job.name();
        let taken = earlier.iter().any(|c| {
            matches!(&c.action, Action::RestartJob { dependents, .. }
                if dependents.iter().any(|d| d == job))
        });
        if taken {
            return Ok(StepPlan::skipped("restarted with the job it depends on"));
        }
        let reason = self.reason(earlier);
        if !self.always && reason.is_none() {
            return Ok(StepPlan::skipped(if self.job == Job::Blot {
                "nothing new to run (--restart restarts it anyway)"
            } else {
                "nothing new to run"
            }));
        }
        let mut changes = Vec::new();
        let deps: Vec<String> = self
            .job
            .dependents()
            .iter()
            .map(|d| d.to_string())
            .collect();
        let mut why: Vec<String> = reason.into_iter().collect();
        if !deps.is_empty() {
            why.push(format!("upstart restarts {} with it", deps.join(", ")));
        }
        let what = if why.is_empty() {
            format!("restart {job}")
        } else {
            format!("restart {job} ({})", why.join("; "))
        };
        let restart = Change::new(
            what,
            Action::RestartJob {
                job: job.into(),
                dependents: deps,
                probe: true,
            },
        );
        match observe(ctx)? {
            InitState::Unknown(why) => {
                changes.push(restart.blocked(crate::jobs::unknown_reason(&why)));
            }
            state @ InitState::Known(_) => {
                if state.job(job).is_none() {
                    bail!(
                        "upstart has no job `{job}` (is {} installed? run `blotctl provision` \
                         first)",
                        crate::jobs::path(job)
                    );
                }
                for dep in self.job.needs() {
                    if !state.job(dep.name()).is_some_and(|j| j.is_running()) {
                        changes.push(Change::new(
                            format!("start {dep} ({job} depends on it)"),
                            Action::StartJob {
                                job: dep.to_string(),
                            },
                        ));
                    }
                }
                changes.push(restart);
            }
        }
        Ok(StepPlan::changes(changes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::check::check;
    use expect_test::expect;

    #[test]
    fn a_restart_starts_what_the_job_needs_first() {
        let blot = Restart {
            job: Job::Blot,
            always: true,
        };
        let upstart = |b: &mut crate::sys::fake::FakeBox, list: &str| {
            b.on_path("initctl").answer("initctl list", 0, list, "");
        };
        check(
            &blot,
            |b, _| upstart(b, "redis stop/waiting\nblot stop/waiting\n"),
            expect![[r#"
            - start redis (blot depends on it)
            - restart blot
        "#]],
        );
        check(
            &Restart {
                job: Job::Redis,
                always: true,
            },
            |b, _| {
                upstart(
                    b,
                    "redis start/running, process 7\nblot start/running, process 8\n",
                )
            },
            expect![[r#"
            - restart redis (upstart restarts blot with it)
        "#]],
        );
        check(
            &Restart {
                job: Job::Nginx,
                always: false,
            },
            |b, _| upstart(b, "nginx start/running, process 9\n"),
            expect![[r#"
            skipped: nothing new to run
        "#]],
        );
        check(
            &blot,
            |_, _| {},
            expect![[r#"
            - restart blot
              blocked: init state unknown: initctl is not on PATH
        "#]],
        );
    }
}
