//! chkconfig's output parsers on arbitrary text.
//!
//! Properties:
//! - `parse_list_line` / `parse_list`: a parsed line displays as exactly the line it was
//!   parsed from (chkconfig's own `%-15s\t0:off...` format);
//! - `classify_stderr`: a recognised message displays as its line, and classifying that
//!   again gives the same error;
//! - `parse_header`: a parsed header, written back as `# chkconfig: L S K`, parses again
//!   to the same header.
#![no_main]

use blotctl::chkconfig::{
    classify_stderr, parse_header, parse_list, parse_list_line, ChkconfigError,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(line) = parse_list_line(text) {
        let body = text.strip_suffix('\n').unwrap_or(text);
        assert_eq!(line.to_string(), body, "--list NAME round trip");
    }

    if let Ok(list) = parse_list(text) {
        let shown: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        assert_eq!(shown, lines, "--list round trip");
    }

    let err = classify_stderr(text);
    match &err {
        ChkconfigError::Other(msg) => assert_eq!(msg, text.trim()),
        known => {
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim_end();
            assert_eq!(
                known.to_string(),
                first,
                "a recognised error shows its line"
            );
            assert_eq!(
                &classify_stderr(&known.to_string()),
                known,
                "stderr round trip"
            );
        }
    }

    if let Some(h) = parse_header(text) {
        assert!(
            h.levels == "-" || (h.levels.bytes().all(|b| (b'0'..=b'6').contains(&b))),
            "levels {:?}",
            h.levels
        );
        let again = format!("# chkconfig: {} {} {}\n", h.levels, h.start, h.stop);
        assert_eq!(parse_header(&again), Some(h), "header round trip");
    }
});
