//! `parse_redis_config` on arbitrary text.
//!
//! Properties: no panic; an accepted config has a TCP port (not 0), and its `port` and
//! `dir` are those of the last such directive (as redis reads it), which appending
//! `port P` / `dir D` lines confirms.
#![no_main]

use blotctl::jobconf::parse_redis_config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = parse_redis_config(text) else {
        return;
    };
    assert_ne!(cfg.port, 0);
    let sep = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    let flipped = format!("{text}{sep}port 7001\ndir /fuzz/db\n");
    let last = parse_redis_config(&flipped).expect("appending valid directives");
    assert_eq!(last.port, 7001);
    assert_eq!(last.dir.as_deref(), Some("/fuzz/db"));
});
