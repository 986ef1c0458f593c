//! redis's host settings: redis warns at start when transparent huge pages (THP) are on and
//! when memory overcommit is off (its background save forks). Both are made to hold at boot:
//!
//! - `vm.overcommit_memory = 1` in /etc/sysctl.conf (rc.sysinit applies it early at boot).
//!   The edit keeps every other byte: the line is added, or a conflicting value changed.
//! - the upstart task `redis-host-settings` (`start on starting redis`, `task`) writes
//!   `never` to THP's `enabled` before redis starts. It is not one of the long-running jobs:
//!   nothing checks its status, `verify` checks the values it sets.
//!
//! On the live box (root `/`) both values are also set now, so that `verify` right after
//! `provision` passes; under `--root` (or `--offline`) they are reported as not checked.

use super::{observe_file, plan_managed, Ctx, Step, ROOT_0644};
use crate::plan::{plan_file, Action, Change, NotChecked, Perms, StepPlan};
use anyhow::{anyhow, Result};

/// The upstart task (a job name; its file is /etc/init/redis-host-settings.conf).
pub const JOB: &str = "redis-host-settings";
pub const SYSCTL_CONF: &str = crate::paths::SYSCTL_CONF;
pub const THP: &str = "/sys/kernel/mm/transparent_hugepage/enabled";
pub const OVERCOMMIT: &str = "/proc/sys/vm/overcommit_memory";
const KEY: &str = "vm.overcommit_memory";
/// The first lines of every file blotctl renders say so.
const MANAGED: &str = "Managed by blotctl";

/// Why the live kernel values cannot be looked at, if they cannot: they exist only on the
/// box itself (root `/`), and `--offline` looks at files only.
pub fn not_live(ctx: &Ctx) -> Option<String> {
    if ctx.offline {
        Some(crate::jobs::OFFLINE.into())
    } else if !ctx.sys.is_live() {
        Some("live kernel values exist only on the box itself, not under --root".into())
    } else {
        None
    }
}

/// The task's job file (it runs before redis starts), linted as upstart 0.6.5 reads it.
pub fn render_task(ctx: &Ctx) -> Result<String> {
    let mut data = serde_json::to_value(ctx.settings)?;
    data["start_on"] = crate::jobs::before_redis().into();
    let text = crate::render::render_with(&format!("{JOB}.conf"), &data)?;
    crate::jobs::lint(JOB, &text)?;
    Ok(text)
}

pub struct HostSettings;

impl Step for HostSettings {
    fn name(&self) -> &'static str {
        "redis host settings"
    }

    fn plan(&self, ctx: &Ctx, _earlier: &[Change]) -> Result<StepPlan> {
        let s = ctx.settings;
        let mut changes = Vec::new();
        let mut notes = Vec::new();

        if s.overcommit_memory {
            changes.extend(plan_sysctl_conf(ctx)?);
        }

        let path = crate::jobs::path(JOB);
        if s.thp_never {
            let text = render_task(ctx)?;
            changes.extend(plan_managed(ctx, &path, text.as_bytes(), ROOT_0644)?);
        } else if let Some((bytes, _)) = observe_file(ctx, &path)? {
            if String::from_utf8_lossy(&bytes).contains(MANAGED) {
                changes.push(Change::new(
                    format!("remove {path} (thp_never = false)"),
                    Action::RemovePath {
                        path,
                        old: Some(bytes),
                    },
                ));
            } else {
                notes.push(format!(
                    "{path} is not blotctl's; left as it is although thp_never = false"
                ));
            }
        }

        let mut not_checked = Vec::new();
        for (on, path, want) in [
            (s.thp_never, THP, "never"),
            (s.overcommit_memory, OVERCOMMIT, "1"),
        ] {
            if !on {
                continue;
            }
            if let Some(why) = not_live(ctx) {
                let what = format!("set {path} to {want} now unless it is");
                not_checked.push(if ctx.sys.is_live() {
                    NotChecked::new(what, why)
                } else {
                    NotChecked::beyond_this_run(what, why)
                });
                continue;
            }
            match live_value(ctx, path)? {
                None => notes.push(format!("{path} does not exist on this kernel")),
                Some(v) if v == want => {}
                Some(v) => changes.push(Change::new(
                    format!("set {path} to {want} now (it is {v})"),
                    Action::SetKernel {
                        path: path.into(),
                        from: v,
                        to: want.into(),
                    },
                )),
            }
        }
        let mut plan = StepPlan::changes(changes);
        plan.notes = notes;
        plan.not_checked = not_checked;
        Ok(plan)
    }
}

/// /etc/sysctl.conf with `vm.overcommit_memory = 1`: kept as it is when it says so already.
fn plan_sysctl_conf(ctx: &Ctx) -> Result<Vec<Change>> {
    let observed = observe_file(ctx, SYSCTL_CONF)?;
    let text = match &observed {
        Some((b, _)) => String::from_utf8(b.clone())
            .map_err(|_| anyhow!("{SYSCTL_CONF} is not valid UTF-8 text"))?,
        None => String::new(),
    };
    let Some(edit) = ensure_overcommit(&text) else {
        return Ok(Vec::new());
    };
    // An edited file keeps its own mode and owner; a missing one is created 0644 root.
    let perms = observed.as_ref().map_or(ROOT_0644, |(_, m)| Perms {
        mode: m.mode,
        uid: m.uid,
        gid: m.gid,
    });
    let current = observed.as_ref().map(|(b, m)| (b.as_slice(), *m));
    Ok(plan_file(
        SYSCTL_CONF,
        current,
        edit.text.as_bytes(),
        perms,
        &edit.what,
    ))
}

/// A sysctl.conf edit and what it does, for people.
#[derive(Debug, PartialEq)]
pub struct Edit {
    pub text: String,
    pub what: String,
}

/// The value of an active `key = value` line for `vm.overcommit_memory` (sysctl also
/// accepts `/` for `.`; `#` and `;` start comments).
fn overcommit_value(line: &str) -> Option<&str> {
    let l = line.trim_start();
    if l.starts_with('#') || l.starts_with(';') {
        return None;
    }
    let (key, value) = l.split_once('=')?;
    let key = key.trim().trim_start_matches('-').replace('/', ".");
    (key == KEY).then(|| value.trim())
}

/// `text` with `vm.overcommit_memory = 1` in force: every active line that sets another
/// value is changed to it, or the line is appended. `None` when nothing needs to change.
pub fn ensure_overcommit(text: &str) -> Option<Edit> {
    let want = format!("{KEY} = 1");
    let mut out = String::with_capacity(text.len() + want.len() + 1);
    let mut found = false;
    let mut fixed = Vec::new();
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let (content, eol) = match raw.strip_suffix("\r\n") {
            Some(c) => (c, "\r\n"),
            None => match raw.strip_suffix('\n') {
                Some(c) => (c, "\n"),
                None => (raw, ""),
            },
        };
        match overcommit_value(content) {
            Some(v) => {
                found = true;
                if v == "1" {
                    out.push_str(raw);
                } else {
                    fixed.push(format!("line {}: was {v}", i + 1));
                    out.push_str(&want);
                    out.push_str(eol);
                }
            }
            None => out.push_str(raw),
        }
    }
    if found && fixed.is_empty() {
        return None;
    }
    let what = if found {
        format!("set {want} ({})", fixed.join(", "))
    } else {
        let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(eol);
        }
        out.push_str(&want);
        out.push_str(eol);
        format!("add {want}")
    };
    Some(Edit { text: out, what })
}

/// A live kernel value; `None` when this kernel does not have the file.
pub fn live_value(ctx: &Ctx, path: &str) -> Result<Option<String>> {
    Ok(ctx
        .sys
        .read_text(path)?
        .map(|raw| crate::plan::kernel_value(&raw)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::check::check;
    use expect_test::expect;

    #[test]
    fn overcommit_in_sysctl_conf_and_the_thp_task() {
        check(
            &HostSettings,
            |_, _| {},
            expect![[r#"
                - add vm.overcommit_memory = 1 in /etc/sysctl.conf
                --- /etc/sysctl.conf
                +++ /etc/sysctl.conf
                @@ -33,3 +33,4 @@
 
                 # Controls the maximum number of shared memory segments, in pages
                 kernel.shmall = 4294967296
                +vm.overcommit_memory = 1
                - create /etc/init/redis-host-settings.conf (mode 0644, owner 0:0)
                --- /dev/null
                +++ /etc/init/redis-host-settings.conf
                @@ -0,0 +1,18 @@
                +# redis-host-settings - kernel settings redis wants, applied before it starts
                +#
                +# Managed by blotctl: `blotctl provision` rewrites this file; edit blotctl's settings instead.
                +# redis warns at start when transparent huge pages are on (latency and memory spikes when it
                +# forks to save). This task runs on `starting redis`: upstart holds redis back until it has
                +# finished. (vm.overcommit_memory = 1 is in /etc/sysctl.conf, applied by rc.sysinit.)
                +
                +description "kernel settings for redis: transparent huge pages off"
                +
                +start on starting redis
                +task
                +
                +script
                +    thp=/sys/kernel/mm/transparent_hugepage/enabled
                +    if [ -w "$thp" ]; then
                +        echo never > "$thp"
                +    fi
                +end script
                ? set /sys/kernel/mm/transparent_hugepage/enabled to never now unless it is (live kernel values exist only on the box itself, not under --root)
                ? set /proc/sys/vm/overcommit_memory to 1 now unless it is (live kernel values exist only on the box itself, not under --root)
            "#]],
        );
        check(
            &HostSettings,
            |b, s| {
                (s.thp_never, s.overcommit_memory) = (false, false);
                b.write(&crate::jobs::path(JOB), "# Managed by blotctl\ntask\n");
            },
            expect![[r#"
                - remove /etc/init/redis-host-settings.conf (thp_never = false)
            "#]],
        );
    }
    use crate::plan::kernel_value;

    const STOCK: &str = "# Kernel sysctl configuration file\n\nkernel.sysrq = 0\n";

    #[test]
    fn appends_once_and_keeps_every_other_byte() {
        let e = ensure_overcommit(STOCK).unwrap();
        assert_eq!(e.text, format!("{STOCK}vm.overcommit_memory = 1\n"));
        assert_eq!(e.what, "add vm.overcommit_memory = 1");
        assert_eq!(ensure_overcommit(&e.text), None);
        assert_eq!(
            ensure_overcommit("a = 1").unwrap().text,
            "a = 1\nvm.overcommit_memory = 1\n"
        );
        assert_eq!(
            ensure_overcommit("").unwrap().text,
            "vm.overcommit_memory = 1\n"
        );
    }

    #[test]
    fn a_conflicting_value_is_changed_in_place() {
        let t = "a = 1\n  vm.overcommit_memory=0 \n# vm.overcommit_memory = 2\nb = 2\n";
        let e = ensure_overcommit(t).unwrap();
        assert_eq!(
            e.text,
            "a = 1\nvm.overcommit_memory = 1\n# vm.overcommit_memory = 2\nb = 2\n"
        );
        assert_eq!(e.what, "set vm.overcommit_memory = 1 (line 2: was 0)");
        assert_eq!(ensure_overcommit("vm/overcommit_memory = 1\n"), None);
        assert_eq!(ensure_overcommit("vm.overcommit_memory\t=\t1\r\n"), None);
        assert_eq!(
            ensure_overcommit("x = 1\r\nvm.overcommit_memory = 2\r\n")
                .unwrap()
                .text,
            "x = 1\r\nvm.overcommit_memory = 1\r\n"
        );
    }

    #[test]
    fn kernel_values() {
        assert_eq!(kernel_value("always madvise [never]\n"), "never");
        assert_eq!(kernel_value("[always] madvise never\n"), "always");
        assert_eq!(kernel_value("0\n"), "0");
    }
}
