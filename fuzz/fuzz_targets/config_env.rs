//! `Layer::from_env` + `resolve` on arbitrary environments: NUL-separated `KEY=VALUE`
//! entries (as in /proc/PID/environ), each becoming `BLOTCTL_KEY=VALUE`.
//!
//! Only known keys and the reserved names are passed: an unknown key is a warning on
//! stderr, which would flood the fuzzer's log (and `config` covers key checking).
//!
//! Properties: no panic; every variable taken is reported with `environment` as its
//! source; a value that is not TOML is taken as the string itself.
#![no_main]

use blotctl::config::{known_keys, resolve, Layer};
use libfuzzer_sys::fuzz_target;

const RESERVED: &[&str] = &["ROOT", "CONFIG", "CRASH_AT", "CRASH_RUNS", "BUILD_TARGET"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let known = known_keys();
    let vars: Vec<(String, String)> = text
        .split('\0')
        .filter_map(|e| e.split_once('='))
        .filter(|(k, _)| RESERVED.contains(k) || known.iter().any(|n| n.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (format!("BLOTCTL_{k}"), v.to_string()))
        .collect();
    let os: Vec<(std::ffi::OsString, std::ffi::OsString)> = vars
        .iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let Ok(layer) = Layer::from_env(os) else {
        return;
    };
    let Some(layer) = layer else {
        return;
    };
    for (name, value) in &vars {
        let key = name["BLOTCTL_".len()..].to_ascii_lowercase();
        let Some(v) = layer.table.get(&key) else {
            assert!(RESERVED.iter().any(|r| name.ends_with(r)), "{name} dropped");
            continue;
        };
        if format!("v = {value}").parse::<toml::Table>().is_err() {
            // The last of repeated variables wins (`BLOTCTL_SITES`, `BLOTCTL_sites`...).
            let last = vars
                .iter()
                .rev()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .unwrap();
            if last.1 == *value {
                assert_eq!(
                    v.as_str(),
                    Some(value.as_str()),
                    "{name} not taken as a string"
                );
            }
        }
    }
    let keys: Vec<String> = layer.table.keys().cloned().collect();
    if let Ok(eff) = resolve(vec![layer], None) {
        for k in &keys {
            assert_eq!(
                eff.sources.get(k).map(String::as_str),
                Some("environment"),
                "source of {k}"
            );
        }
    }
});
