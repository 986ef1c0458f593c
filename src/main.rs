//! blotctl: parse → run → print the error chain → exit code.

use std::process::ExitCode;

use blotctl::{app, cli};

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`blotctl ... | head`), like other Unix tools.
    // SAFETY: setting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(app::EXIT_USAGE),
            };
        }
    };
    match app::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            if let Some(hint) = app::hint(&err) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(app::exit_code(&err))
        }
    }
}
