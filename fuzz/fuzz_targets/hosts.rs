//! `ensure_names` on arbitrary /etc/hosts text, for a few addresses and site lists.
//!
//! Properties of an edit: the output is the input, then at most one added line ending
//! (when the input's last line had none), then exactly one line naming only missing
//! names; a second call on the output returns `None`. An edit happens only when a name is
//! missing.
#![no_main]

use blotctl::steps::hosts::ensure_names;
use libfuzzer_sys::fuzz_target;

const ADDRESSES: &[&str] = &["127.0.0.1", "::1", "10.1.2.3"];
const SITES: &[&[&str]] = &[
    &["blot.im", "www.blot.im"],
    &["localhost"],
    &["BLOT.IM", "blot.im"],
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for address in ADDRESSES {
        for sites in SITES {
            let names: Vec<String> = sites.iter().map(|s| s.to_string()).collect();
            check(text, address, &names);
        }
    }
});

fn check(text: &str, address: &str, names: &[String]) {
    let Ok(Some(out)) = ensure_names(text, address, names) else {
        return;
    };
    let added = out
        .strip_prefix(text)
        .unwrap_or_else(|| panic!("the output does not start with the input: {out:?}"));
    let added = if text.is_empty() || text.ends_with('\n') {
        added
    } else {
        added
            .strip_prefix("\r\n")
            .or_else(|| added.strip_prefix('\n'))
            .unwrap_or_else(|| panic!("no line ending before the new line: {added:?}"))
    };
    let line = added
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("the new line has no line ending: {added:?}"));
    let line = line.strip_suffix('\r').unwrap_or(line);
    assert!(
        !line.contains(['\n', '\r']),
        "more than one line added: {added:?}"
    );
    let mut fields = line.split_whitespace();
    assert_eq!(
        fields.next(),
        Some(address),
        "the new line's address: {line:?}"
    );
    let new: Vec<&str> = fields.collect();
    assert!(!new.is_empty(), "a line with no names: {line:?}");
    assert!(
        new.iter().all(|n| names.iter().any(|m| m == n)),
        "a name that was not asked for: {line:?}"
    );
    match ensure_names(&out, address, names) {
        Ok(None) => {}
        other => panic!("not idempotent for {address} {names:?}: {other:?}\n{out:?}"),
    }
}
