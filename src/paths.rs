//! The files blotctl writes at fixed places, whatever the settings say. The steps that
//! manage them take their paths from here, and the settings are checked against them: no
//! setting may aim another file at one. (The job files in /etc/init are fixed too; no
//! setting may name anything there: `config`'s `NEVER_WRITE_DIRS`.)

pub const SUDOERS: &str = "/etc/sudoers";
pub const HOSTS: &str = "/etc/hosts";
pub const LOGROTATE: &str = "/etc/logrotate.d/blot";
pub const SYSCTL_CONF: &str = "/etc/sysctl.conf";
/// blotctl's own config file.
pub const CONFIG: &str = "/etc/blotctl.toml";

/// Each of them, with what it is.
pub const FIXED: [(&str, &str); 5] = [
    (SUDOERS, "the sudoers file"),
    (HOSTS, "the hosts file"),
    (LOGROTATE, "the app's logrotate file"),
    (SYSCTL_CONF, "sysctl.conf"),
    (CONFIG, "blotctl's own config file"),
];
