//! How output looks: colour (only on a terminal, `--color`, `NO_COLOR`) and progress
//! (indicatif spinners on stderr, only when stderr is a terminal and neither `--quiet` nor
//! `--json`/`--format` was given). Plain, greppable lines otherwise. `--quiet` also leaves
//! out what is fine (steps that are ok, notes, passing checks).

use crate::cli::{ColorChoice, Format};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// Write to stdout. A write that fails (a pipe closed by `| head`, a full disk, a terminal
/// gone with the ssh session) never panics, as `print!` would: it is noted
/// ([`crate::sys::note_output_failure`]), and a real run stops at its next safe point,
/// between two changes, with the rollback hint ([`crate::sys::Sys::interrupted`]).
pub fn write_stdout(args: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        crate::sys::note_output_failure("stdout", &e);
    }
}

/// [`write_stdout`] for stderr.
pub fn write_stderr(args: std::fmt::Arguments) {
    if let Err(e) = std::io::stderr().lock().write_fmt(args) {
        crate::sys::note_output_failure("stderr", &e);
    }
}

/// `print!` that never panics: see [`write_stdout`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::printer::write_stdout(format_args!($($arg)*)) };
}

/// `println!` that never panics: see [`write_stdout`].
#[macro_export]
macro_rules! outln {
    () => { $crate::printer::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::printer::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` that never panics: see [`write_stdout`].
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::printer::write_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    progress: bool,
    quiet: bool,
    /// How the command's outcome is printed.
    pub format: Format,
}

impl Printer {
    /// Decide colour and progress once, at start-up.
    pub fn new(color: ColorChoice, quiet: bool, format: Format) -> Printer {
        let json = format != Format::Text;
        let no_color = crate::sys::env_var("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = crate::sys::env_var("TERM").is_some_and(|t| t == "dumb");
        let (out, err) = match color {
            ColorChoice::Always => (true, true),
            ColorChoice::Never => (false, false),
            ColorChoice::Auto => (
                !no_color && !dumb && std::io::stdout().is_terminal(),
                !no_color && !dumb && std::io::stderr().is_terminal(),
            ),
        };
        console::set_colors_enabled(out);
        console::set_colors_enabled_stderr(err);
        Printer {
            progress: !quiet && !json && !dumb && std::io::stderr().is_terminal(),
            quiet,
            format,
        }
    }

    /// Whether the outcome is printed as lines (not as one JSON or JUnit document).
    pub fn text(&self) -> bool {
        self.format == Format::Text
    }

    /// A line for people: on stdout with text output, on stderr when stdout holds the
    /// command's one document.
    pub fn say(&self, line: &str) {
        if self.text() {
            crate::outln!("{line}");
        } else {
            crate::errln!("{line}");
        }
    }

    /// `--quiet`: besides no progress, only what changes, would change or fails is printed
    /// (and the summary): no lines for steps that are ok, absent or skipped, no notes, no
    /// passing checks.
    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// A spinner with elapsed time, or nothing when progress is off.
    pub fn spinner(&self, msg: impl Into<String>) -> Progress {
        if !self.progress {
            return Progress(None);
        }
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"),
        );
        pb.set_message(msg.into());
        pb.enable_steady_tick(Duration::from_millis(100));
        Progress(Some(pb))
    }

    /// A bar counting seconds up to `secs` (for waits such as `verify --wait`).
    pub fn seconds_bar(&self, secs: u64, msg: impl Into<String>) -> Progress {
        if !self.progress {
            return Progress(None);
        }
        let pb = ProgressBar::new(secs);
        pb.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}s").expect("valid template"),
        );
        pb.set_message(msg.into());
        Progress(Some(pb))
    }
}

/// A progress indicator that vanishes when dropped.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    pub fn set_message(&self, msg: impl Into<String>) {
        if let Some(pb) = &self.0 {
            pb.set_message(msg.into());
        }
    }
    /// A new step: its message, and the elapsed time counted from now.
    pub fn step(&self, msg: impl Into<String>) {
        if let Some(pb) = &self.0 {
            pb.reset_elapsed();
            pb.set_message(msg.into());
        }
    }
    pub fn set_position(&self, pos: u64) {
        if let Some(pb) = &self.0 {
            pb.set_position(pos);
        }
    }
    /// Print a line above the progress indicator without tearing it.
    pub fn println(&self, line: &str) {
        match &self.0 {
            Some(pb) => pb.suspend(|| crate::out!("{line}")),
            None => crate::out!("{line}"),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}
