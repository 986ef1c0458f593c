//! `blotctl completions SHELL`: the shell's completion script.

use crate::failure::EXIT_OK;
use anyhow::Result;

pub fn run(shell: clap_complete::Shell) -> Result<u8> {
    let mut script = Vec::new();
    crate::cli::completions(shell, &mut script);
    crate::out!("{}", String::from_utf8_lossy(&script));
    Ok(EXIT_OK)
}
