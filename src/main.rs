//! blotctl: parse → run → report the error (chain, hint, and the document with --json) →
//! exit code.

use std::process::ExitCode;

use blotctl::{app, cli};

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`blotctl ... | head`), like other Unix tools.
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
    match app::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => ExitCode::from(app::fail(&err, inv)),
    }
}
