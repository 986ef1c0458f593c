//! `blotctl render [NAME]`: the files blotctl writes, as it would write them on this box.

use crate::config::Settings;
use crate::ctx::Ctx;
use crate::failure::{UsageError, EXIT_OK};
use crate::outcome::Outcome;
use crate::printer::Printer;
use crate::report;
use crate::steps;
use crate::sys::Sys;
use anyhow::Result;

pub fn run(sys: &Sys, settings: &Settings, name: Option<&str>, printer: Printer) -> Result<u8> {
    let ctx = Ctx {
        sys,
        settings,
        no_start: true,
        offline: false,
    };
    let names: Vec<&str> = match name {
        None => steps::RENDERED
            .iter()
            .copied()
            .filter(|n| settings.thp_never || *n != steps::hostsettings::JOB)
            .collect(),
        Some(n) => vec![n],
    };
    let mut files = Vec::new();
    for n in names {
        let Some((path, text)) = steps::render_file(&ctx, n)? else {
            return Err(UsageError(format!(
                "unknown file {n:?}: expected one of {}",
                steps::RENDERED.join(", ")
            ))
            .into());
        };
        files.push(serde_json::json!({"name": n, "path": path, "text": text}));
    }
    if !printer.text() {
        let mut o = Outcome::new("render", false);
        o.extra.insert("files".into(), files.into());
        report::print_document(&o, printer.format);
        return Ok(EXIT_OK);
    }
    for f in files {
        crate::outln!("# ---- {}", f["path"].as_str().unwrap_or(""));
        crate::out!("{}", f["text"].as_str().unwrap_or(""));
    }
    Ok(EXIT_OK)
}
