//! `blotctl verify`: read-only proof that the box is as provisioned and healthy.
//!
//! Checks: the provision plan is empty (same engine, no drift), every job is
//! `start/running, process N` with N alive, redis answers PING, blot and nginx answer HTTP
//! (the probes the monit control file uses), nginx has no `localhost` upstream.

use crate::app::{EXIT_FAILED, EXIT_OK};
use crate::cli::{VerifyArgs, VerifyFormat};
use crate::config::Settings;
use crate::engine;
use crate::plan::Status;
use crate::printer::Printer;
use crate::steps::{self, init, templates, Ctx};
use crate::sys::Sys;
use anyhow::Result;
use serde::Serialize;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

fn check(name: impl Into<String>, r: Result<String>) -> Check {
    match r {
        Ok(detail) => Check {
            name: name.into(),
            ok: true,
            detail,
        },
        Err(e) => Check {
            name: name.into(),
            ok: false,
            detail: format!("{e:#}"),
        },
    }
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Run every check once.
pub fn checks(ctx: &Ctx) -> Vec<Check> {
    let mut out = Vec::new();
    for p in engine::plan_all(ctx, &steps::all()) {
        let name = format!("provisioned: {}", p.name);
        out.push(check(
            name,
            match p.plan {
                Err(e) => Err(e),
                Ok(plan) if !plan.changes.is_empty() => Err(anyhow::anyhow!(
                    "drift: {}",
                    plan.changes
                        .iter()
                        .map(|c| c.summary.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
                Ok(plan) => Ok(match plan.status {
                    Status::Absent { reason } => format!("absent: {reason}"),
                    Status::Skipped { reason } => format!("skipped: {reason}"),
                    Status::Planned => "in sync".into(),
                }),
            },
        ));
    }
    let state = init::observe(ctx);
    for job in templates::JOBS {
        out.push(check(
            format!("job {job} running"),
            match &state {
                Err(e) => Err(anyhow::anyhow!("{e:#}")),
                Ok(init::InitState::Unknown(why)) => {
                    Err(anyhow::anyhow!("init state unknown: {why}"))
                }
                Ok(s @ init::InitState::Known(_)) => match s.job(job) {
                    None => Err(anyhow::anyhow!("{job} is not a job upstart knows")),
                    Some(j) if !j.is_running() => Err(anyhow::anyhow!("{j}")),
                    Some(j) => {
                        let pid = j.pid.unwrap_or(0);
                        if ctx.sys.process_exists(pid) {
                            Ok(j.to_string())
                        } else {
                            Err(anyhow::anyhow!("{j}, but process {pid} does not exist"))
                        }
                    }
                },
            },
        ));
    }
    // The host-settings task is not a long-running job: check the values it sets.
    for (name, r) in steps::hostsettings::live_checks(ctx) {
        out.push(check(name, r));
    }
    let s = ctx.settings;
    out.push(check(
        "redis answers PING",
        (|| {
            let port = templates::redis_config(ctx)?.port;
            ctx.sys.probe_redis(port, PROBE_TIMEOUT)?;
            Ok(format!("PONG on 127.0.0.1:{port}"))
        })(),
    ));
    out.push(check(
        "blot answers HTTP",
        ctx.sys
            .probe_http(s.blot_port, &s.health_path, PROBE_TIMEOUT)
            .map(|st| format!("HTTP {st} from 127.0.0.1:{}{}", s.blot_port, s.health_path)),
    ));
    out.push(check(
        "nginx answers HTTP",
        ctx.sys
            .probe_http(s.nginx_port, "/", PROBE_TIMEOUT)
            .map(|st| format!("HTTP {st} from 127.0.0.1:{}/", s.nginx_port)),
    ));
    out.push(check(
        "nginx upstreams use 127.0.0.1",
        (|| {
            let text = ctx
                .sys
                .read_text(&s.nginx_config)?
                .ok_or_else(|| anyhow::anyhow!("{} does not exist", s.nginx_config))?;
            match localhost_upstream(&text) {
                Some(line) => Err(anyhow::anyhow!(
                    "{} line {line} names `localhost` in an upstream; nginx fails at boot with \
                 `host not found in upstream \"localhost\"`: use 127.0.0.1",
                    s.nginx_config
                )),
                None => Ok("no localhost upstream".into()),
            }
        })(),
    ));
    out
}

/// The 1-based line of a `server localhost...` inside an `upstream { }` block, or of a
/// `proxy_pass http://localhost...`. nginx statements end in `;`, `{` or `}`.
pub fn localhost_upstream(conf: &str) -> Option<usize> {
    let mut blocks: Vec<String> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    let mut first_line = 0;
    let is_localhost = |w: &str| {
        let host = w.strip_prefix("http://").unwrap_or(w);
        host == "localhost" || host.starts_with("localhost:") || host.starts_with("localhost/")
    };
    for (i, raw) in conf.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        let mut rest = line;
        while !rest.is_empty() {
            let cut = rest.find([';', '{', '}']).unwrap_or(rest.len());
            let (text, tail) = rest.split_at(cut);
            for w in text.split_whitespace() {
                if words.is_empty() {
                    first_line = i + 1;
                }
                words.push(w);
            }
            let Some(delim) = tail.chars().next() else {
                break;
            };
            let in_upstream = blocks.last().is_some_and(|b| b == "upstream");
            match (words.first(), words.get(1)) {
                (Some(&"server"), Some(h)) if in_upstream && is_localhost(h) => {
                    return Some(first_line)
                }
                (Some(&"proxy_pass"), Some(u)) if u.starts_with("http://") && is_localhost(u) => {
                    return Some(first_line)
                }
                _ => {}
            }
            match delim {
                '{' => blocks.push(words.first().copied().unwrap_or("").to_string()),
                '}' => {
                    blocks.pop();
                }
                _ => {}
            }
            words.clear();
            rest = &tail[1..];
        }
    }
    None
}

#[derive(Serialize)]
struct Doc<'a> {
    ok: bool,
    passed: usize,
    failed: usize,
    checks: &'a [Check],
}

pub fn run(sys: &Sys, settings: &Settings, args: &VerifyArgs, printer: Printer) -> Result<u8> {
    let ctx = Ctx {
        sys,
        settings,
        no_start: false,
    };
    let wait = args.wait.unwrap_or(0);
    let begun = Instant::now();
    let deadline = begun + Duration::from_secs(wait);
    let results = {
        let spinner = printer.spinner("checking");
        let mut results = checks(&ctx);
        if wait > 0 && results.iter().any(|c| !c.ok) {
            drop(spinner);
            let bar = printer.seconds_bar(wait, "waiting for the box to become healthy");
            while results.iter().any(|c| !c.ok) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_secs(1));
                bar.set_position(begun.elapsed().as_secs().min(wait));
                let failing = results.iter().filter(|c| !c.ok).count();
                bar.set_message(format!("{failing} check(s) failing"));
                results = checks(&ctx);
            }
        }
        results
    };
    let failed = results.iter().filter(|c| !c.ok).count();
    let passed = results.len() - failed;
    let format = if args.json {
        VerifyFormat::Json
    } else {
        args.format
    };
    match format {
        VerifyFormat::Json => {
            let doc = Doc {
                ok: failed == 0,
                passed,
                failed,
                checks: &results,
            };
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        VerifyFormat::Junit => print!("{}", junit(&results)),
        VerifyFormat::Text => {
            for c in results.iter().filter(|c| !c.ok || !printer.quiet()) {
                let mark = if c.ok {
                    console::style("pass").green()
                } else {
                    console::style("FAIL").red().bold()
                };
                println!("{mark}  {}: {}", c.name, c.detail);
            }
            println!(
                "verify: {passed} passed, {failed} failed{}",
                if failed == 0 {
                    ""
                } else {
                    " (the box is not as provisioned or not healthy)"
                }
            );
            crate::app::print_hints(results.iter().filter(|c| !c.ok).map(|c| c.detail.clone()));
        }
    }
    Ok(if failed == 0 { EXIT_OK } else { EXIT_FAILED })
}

/// JUnit XML: one testcase per check, for CI systems.
pub fn junit(checks: &[Check]) -> String {
    fn esc(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;")
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"blotctl verify\" tests=\"{n}\" failures=\"{failed}\">\n  <testsuite name=\"blotctl verify\" tests=\"{n}\" failures=\"{failed}\">\n",
        n = checks.len()
    );
    for c in checks {
        out.push_str(&format!(
            "    <testcase classname=\"blotctl.verify\" name=\"{}\"",
            esc(&c.name)
        ));
        if c.ok {
            out.push_str(&format!(
                ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                esc(&c.detail)
            ));
        } else {
            out.push_str(&format!(
                ">\n      <failure message=\"{0}\">{0}</failure>\n    </testcase>\n",
                esc(&c.detail)
            ));
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::localhost_upstream;

    #[test]
    fn finds_localhost_upstreams() {
        assert_eq!(
            localhost_upstream("upstream b {\n  server localhost:8080;\n}\n"),
            Some(2)
        );
        assert_eq!(
            localhost_upstream("upstream b {\n  server 127.0.0.1:8080;\n}\nserver {\n}\n"),
            None
        );
        assert_eq!(
            localhost_upstream("location / { proxy_pass http://localhost:8080; }\n"),
            Some(1)
        );
        assert_eq!(
            localhost_upstream("# upstream b { server localhost; }\n"),
            None
        );
    }
}
