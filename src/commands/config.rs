//! `blotctl config`: the effective settings, each with where its value came from.

use crate::config::Effective;
use crate::failure::EXIT_OK;
use crate::outcome::Outcome;
use crate::printer::Printer;
use crate::report;
use anyhow::Result;

/// `blotctl config`: the effective settings as TOML, each with its source.
pub fn run(e: &Effective, printer: Printer) -> Result<u8> {
    let table = toml::Table::try_from(&e.settings)?;
    let source = |k: &str| {
        e.sources
            .get(k)
            .map_or("default", |s| s.as_str())
            .to_string()
    };
    if !printer.text() {
        let settings: serde_json::Map<String, serde_json::Value> = table
            .iter()
            .map(|(k, v)| {
                let value = serde_json::to_value(v).expect("TOML values are JSON values");
                (
                    k.clone(),
                    serde_json::json!({"value": value, "source": source(k)}),
                )
            })
            .collect();
        let mut o = Outcome::new("config", false);
        o.extra.insert("settings".into(), settings.into());
        report::print_document(&o, printer.format);
        return Ok(EXIT_OK);
    }
    let lines: Vec<(String, String)> = table
        .iter()
        .map(|(k, v)| (format!("{k} = {v}"), source(k)))
        .collect();
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    crate::outln!("# effective settings; after each, where its value came from");
    for (line, source) in lines {
        crate::outln!("{line:<width$}  # {source}");
    }
    Ok(EXIT_OK)
}
