//! `nginx::localhost_upstream` (nginx config scan) on arbitrary text.
//!
//! Properties: no panic; a reported line exists in the file; adding a comment line in
//! front moves it down by exactly one.
#![no_main]

use blotctl::nginx::localhost_upstream;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(conf) = std::str::from_utf8(data) else {
        return;
    };
    let found = localhost_upstream(conf);
    if let Some(line) = found {
        assert!(
            (1..=conf.lines().count()).contains(&line),
            "line {line} is not in the file"
        );
    }
    let shifted = localhost_upstream(&format!("# blotctl\n{conf}"));
    assert_eq!(shifted, found.map(|l| l + 1), "a comment line in front");
});
