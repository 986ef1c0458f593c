//! initctl's output parsers on arbitrary text.
//!
//! Properties:
//! - `parse_list` / `parse_status`: the parsed jobs display (continuation lines included)
//!   as exactly the lines they were parsed from;
//! - `classify_stderr`: a recognised job error, shown after `initctl: `, classifies again
//!   to the same error.
#![no_main]

use blotctl::upstart::{classify_stderr, parse_list, parse_status, InitctlError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = text.split_terminator('\n').collect();

    if let Ok(jobs) = parse_list(text) {
        let shown: Vec<String> = jobs.iter().map(|j| j.to_string()).collect();
        assert_eq!(
            shown.join("\n"),
            lines.join("\n"),
            "initctl list round trip"
        );
    }

    if let Ok(job) = parse_status(text) {
        assert_eq!(
            job.to_string(),
            lines.join("\n"),
            "initctl status round trip"
        );
        assert_eq!(parse_list(text).map(|l| l.len()), Ok(1));
    }

    match classify_stderr(text) {
        InitctlError::Other(msg) => assert_eq!(msg, text.trim()),
        InitctlError::UnknownInstance => {}
        known => {
            let again = classify_stderr(&format!("initctl: {known}\n"));
            assert_eq!(again, known, "stderr round trip");
        }
    }
});
