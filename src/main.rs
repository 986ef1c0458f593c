//! blotctl: parse → run → report the error (chain, hint, and the document with --json) →
//! exit code.

use std::process::ExitCode;

use blotctl::{app, cli};

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`blotctl ... | head`), like other Unix tools; a real
    // run, once it holds the lock, notes SIGPIPE instead and stops between two changes.
    // SAFETY: setting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(app::parse_failed(&e, &args)),
    };
    let inv = app::Invocation::of(&cli);
    let code = match app::run(cli) {
        Ok(code) => code,
        Err(err) => app::fail(&err, inv),
    };
    ExitCode::from(app::output_written(code))
}
