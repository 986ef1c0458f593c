//! What every step (and every look at the box) gets: the box to look at, through
//! [`Look`] only, and the settings.

use crate::config::Settings;
use crate::sys::Look;
use anyhow::Result;

/// What every step may look at.
pub struct Ctx<'a> {
    /// The box, to look at: a step never changes it (the engine holds the [`crate::sys::Sys`]).
    pub sys: &'a dyn Look,
    pub settings: &'a Settings,
    /// `provision --no-start`.
    pub no_start: bool,
    /// `verify --offline`: look at files only. Job state, processes, kernel values and
    /// network answers are reported as not checked, even where they could be observed.
    pub offline: bool,
}

impl Ctx<'_> {
    /// The app user's uid and gid, from the box's own /etc/passwd.
    pub fn app_account(&self) -> Result<crate::accounts::Account> {
        let passwd = self
            .sys
            .read_text("/etc/passwd")?
            .ok_or_else(|| anyhow::anyhow!("/etc/passwd does not exist"))?;
        crate::accounts::lookup_user(&passwd, &self.settings.user)
    }
}
