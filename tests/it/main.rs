//! The integration tests, as one test binary (ripgrep's layout): one module per area, all
//! sharing `util` (a fresh fixture box, the blotctl binary, `Run`, `needs!`). One binary
//! links once and lets libtest spread every test over the machine's threads; a test must
//! therefore never change what the whole process shares (environment variables, the
//! current directory, the umask, signal dispositions, its mount namespace): it gives a
//! child process what it needs instead.
//!
//! Run one area with a filter: `cargo test --test it provision::`.

#[macro_use]
mod util;

mod app_configs;
mod bad_input;
mod deploy;
mod docs;
mod fakes;
mod fsync;
mod host_settings;
mod hostile;
mod live;
mod logrotate;
mod offline;
mod provision;
mod real_programs;
mod remote;
mod safety;
mod schema;
mod services;
mod ux;
mod validated;
