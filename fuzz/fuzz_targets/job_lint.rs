//! `lint_job` (upstart 0.6.5's job-file grammar) on arbitrary text.
//!
//! Properties: no panic; an error's line is within the file (1 to the number of newlines
//! plus one: upstart reports the line after the last newline for an unterminated quote,
//! block or parenthesis); an accepted job's `exec` is not empty and has no trailing blanks
//! but an escaped one.
#![no_main]

use blotctl::upstart::lint_job;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let last_line = text.bytes().filter(|b| *b == b'\n').count() + 1;
    match lint_job(text) {
        Err(e) => {
            assert!(
                (1..=last_line).contains(&e.line),
                "error line {} outside 1..={last_line}: {e}",
                e.line
            );
            assert!(!e.message.is_empty());
        }
        Ok(job) => {
            if let Some(exec) = &job.exec {
                assert!(!exec.is_empty(), "empty exec accepted");
                // Trailing blanks are dropped unless escaped (`exec foo\ ` keeps `foo\ `).
                let body = exec.trim_end_matches([' ', '\t', '\r']);
                assert!(
                    body.len() == exec.len() || body.ends_with('\\'),
                    "exec keeps trailing blanks: {exec:?}"
                );
            }
        }
    }
});
