//! Pure parsers for upstart 0.6.5, the init of Amazon Linux AMI 2018.03.
//!
//! * [`lint_job`] checks a job file (`/etc/init/NAME.conf`) the way upstart's
//!   own parser does, and reports errors in upstart's words and line numbers.
//! * [`parse_list`] / [`parse_status`] read `initctl list` / `initctl status`
//!   output (also what `start`, `stop` and `restart` print).
//! * [`classify_stderr`] turns initctl's error messages into an enum.
//!
//! Nothing here does I/O: strings in, data out. `job.rs` and `nih.rs` are the lint,
//! `initctl.rs` the output and errors; `tests.rs` holds them against the fixture box's stock
//! jobs and the real transcript in `fixtures/`.
//!
//! # How faithful is the linter?
//!
//! Upstart 0.6.5 parses job files with libnih's config parser
//! (`nih/config.c`) plus the stanza handlers of `init/parse_job.c`. The
//! functions below are a port of that code, including the exact places
//! where the position/line number is (or is *not*) written back before an
//! error is raised, because that decides the line upstart reports. Two
//! consequences worth knowing:
//!
//! * An unterminated quote, an unterminated `script` block, or an unclosed
//!   `(` in `start on` makes upstart read to the end of the file, so the
//!   reported line is the one *after* the last newline, not the line where
//!   the quote, block or parenthesis was opened.
//! * A bad argument to a stanza with keyword arguments (`expect`, `console`,
//!   `kill`, `respawn`, `normal`, `limit`, `start`/`stop`, `pre-start`, ...)
//!   is reported as "Unknown stanza" on the stanza's own line.
//!
//! A job file with an error is not loaded at all: it is missing from
//! `initctl list`, and the reason only goes to the console/syslog as
//! `init: /etc/init/X.conf:4: Unknown stanza`.

mod initctl;
mod job;
mod nih;
#[cfg(test)]
mod tests;

pub use initctl::*;
pub use job::*;
