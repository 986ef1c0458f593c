//! `Layer::parse` + `resolve` on arbitrary TOML.
//!
//! Properties: no panic; every key of an accepted file is reported with the file as its
//! source; settings that resolve, written out as `blotctl init` writes them
//! (`commented_toml`), parse and resolve again to the same settings.
#![no_main]

use blotctl::config::{commented_toml, resolve, Layer};
use libfuzzer_sys::fuzz_target;

const ORIGIN: &str = "/etc/blotctl.toml";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(layer) = Layer::parse(text, ORIGIN) else {
        return;
    };
    let keys: Vec<String> = layer.table.keys().cloned().collect();
    let Ok(eff) = resolve(vec![layer], None) else {
        return;
    };
    for k in &keys {
        assert_eq!(
            eff.sources.get(k).map(String::as_str),
            Some(ORIGIN),
            "source of {k}"
        );
    }
    let written = commented_toml(&eff.settings).expect("settings serialize");
    let again = Layer::parse(&written, "written")
        .and_then(|l| resolve(vec![l], None))
        .unwrap_or_else(|e| panic!("written settings do not load: {e:#}\n{written}"));
    assert_eq!(
        again.settings, eff.settings,
        "settings round trip\n{written}"
    );
});
