//! Fault injection for the crash suite: with `BLOTCTL_CRASH_AT=N` in the environment, the
//! Nth crash point reached kills the process with SIGKILL (no cleanup, no unwinding), as a
//! power cut or OOM kill would. Points sit before and after every step of a write.

use std::sync::atomic::{AtomicU64, Ordering};

static COUNT: AtomicU64 = AtomicU64::new(0);

/// A place where the process may die.
pub fn point(_name: &str) {
    let Some(at) = std::env::var("BLOTCTL_CRASH_AT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    if COUNT.fetch_add(1, Ordering::SeqCst) + 1 == at {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
}
