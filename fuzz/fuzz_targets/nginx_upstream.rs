//! `nginx::upstreams` and `nginx::localhost_upstream` (nginx config scan) on arbitrary text.
//!
//! Properties: no panic; every reported line exists in the file; adding a comment line in
//! front moves it down by exactly one.
#![no_main]

use blotctl::nginx::{localhost_upstream, upstreams};
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
    for u in upstreams(conf) {
        assert!(
            (1..=conf.lines().count()).contains(&u.line),
            "upstream line {} is not in the file",
            u.line
        );
    }
    let shifted = localhost_upstream(&format!("# blotctl\n{conf}"));
    assert_eq!(shifted, found.map(|l| l + 1), "a comment line in front");
});
