//! blotctl: parse → run → report the error (chain, hint, and the document with --json) →
//! exit code.

use std::process::ExitCode;

use blotctl::{cli, commands};

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`blotctl ... | head`), like other Unix tools; a real
    // run, once it holds the lock, notes SIGPIPE instead and stops between two changes.
    // SAFETY: setting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match cli::parse(&args) {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(commands::parse_failed(&e, &args)),
    };
    let inv = commands::Invocation::of(&cli);
    let code = match commands::exec(cli) {
        Ok(code) => code,
        Err(err) => commands::fail(&err, inv),
    };
    ExitCode::from(commands::output_written(code))
}
