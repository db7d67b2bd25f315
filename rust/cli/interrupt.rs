//! Ctrl-C and SIGTERM for a command that stops gracefully (`produce`): the
//! first sets a flag the library polls, so the command can finish what is
//! in flight and report; a second exits at once with 130.
//!
//! (`spark run` and `sweep` get theirs from sfcrime_spark's runner, which
//! also forwards the stop to the job's process group.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();

extern "C" fn on_signal(_signal: libc::c_int) {
    // Only atomics and _exit: what a signal handler may safely do.
    if let Some(stop) = STOP.get() {
        if stop.swap(true, Ordering::SeqCst) {
            // SAFETY: _exit(2) is async-signal-safe and ends the process.
            unsafe { libc::_exit(130) };
        }
    }
}

/// Installs the handlers (once per process) and returns the flag they set.
pub fn stop_flag() -> Arc<AtomicBool> {
    let stop = STOP
        .get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone();
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler touches only atomics (and _exit).
        unsafe { libc::signal(signal, handler) };
    }
    stop
}
