//! `blotctl capture DEST`: a copy of the box for CI (`crate::capture`).

use crate::config::Settings;
use crate::printer::Printer;
use crate::sys::Sys;
use anyhow::Result;
use std::path::Path;

pub fn run(sys: &Sys, settings: &Settings, dest: &Path, printer: Printer) -> Result<u8> {
    crate::capture::run(sys, settings, dest, printer)
}
