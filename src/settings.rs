//! Where the settings come from, lowest first: the defaults, the box's /etc/blotctl.toml,
//! `--config FILE` or `BLOTCTL_CONFIG`, `BLOTCTL_*` variables, `--set KEY=VALUE` flags. Read
//! through `sys`; merged and checked by `config`.

use crate::config::{self, Effective, Layer, DEFAULT_CONFIG};
use crate::failure::UsageError;
use crate::sys::{self, Look, Sys};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// defaults < /etc/blotctl.toml (under the root) < `--config FILE` or `BLOTCTL_CONFIG`
/// < `BLOTCTL_*` variables < `--set KEY=VALUE` flags.
pub fn load(sys: &Sys, flag: Option<&Path>, sets: &[String]) -> Result<Effective> {
    let mut layers = Vec::new();
    if let Some(text) = sys.read_text(DEFAULT_CONFIG)? {
        layers.push(Layer::parse(&text, DEFAULT_CONFIG)?);
    }
    layers.extend(local_layers(sys, flag, sets)?);
    let passwd = sys.read_text("/etc/passwd")?;
    resolve_layers(layers, passwd.as_deref())
}

/// Merge and check the layers (`passwd`: the box's /etc/passwd, when there is one). A
/// value that is wrong only with the `--set` layer on top (`blot_port=abc`) is a usage
/// error, fixed on the command line like an unknown key.
pub fn resolve_layers(layers: Vec<Layer>, passwd: Option<&str>) -> Result<Effective> {
    let below = match layers.split_last() {
        Some((top, below)) if top.origin == "--set" => below.to_vec(),
        _ => return config::resolve(layers, passwd),
    };
    config::resolve(layers, passwd).map_err(|e| match config::resolve(below, passwd) {
        Ok(_) => UsageError(format!("{e:#}")).into(),
        Err(_) => e,
    })
}

/// The layers that come from where blotctl is started rather than from the box: `--config
/// FILE` (or `BLOTCTL_CONFIG`), `BLOTCTL_*` variables, `--set` flags. `--host` sends them
/// to every box.
pub fn local_layers(sys: &Sys, flag: Option<&Path>, sets: &[String]) -> Result<Vec<Layer>> {
    let mut layers = Vec::new();
    let env_file = sys::env_var("BLOTCTL_CONFIG").map(PathBuf::from);
    let file = match (flag, &env_file) {
        (Some(p), _) => Some((p.to_path_buf(), format!("--config {}", p.display()))),
        (None, Some(p)) => Some((p.clone(), format!("BLOTCTL_CONFIG {}", p.display()))),
        (None, None) => None,
    };
    if let Some((path, origin)) = file {
        let text = sys
            .read_host_text(&path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        layers.push(Layer::parse(&text, &origin)?);
    }
    if let Some(env) = Layer::from_env(sys::env_vars())? {
        layers.push(env);
    }
    if let Some(flags) = Layer::from_flags(sets).map_err(|e| UsageError(format!("{e:#}")))? {
        layers.push(flags);
    }
    Ok(layers)
}
