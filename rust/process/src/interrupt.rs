//! This process's own SIGINT and SIGTERM (a terminal's Ctrl-C, `kill`):
//! one handler for the whole process, which only counts them, for the
//! caller to act on in its own time. Two ways to use it:
//!
//! - [`InterruptGuard`], while a child runs that the caller stops in its
//!   own way (the Spark runner forwards the stop to the job's process
//!   group); the previous handlers return when the last guard goes.
//! - [`stop_flag`], for a command that stops gracefully (`produce`): the
//!   first interrupt raises a flag the library polls, and a second one
//!   exits at once with 130, for when the graceful stop takes too long.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Interrupts counted by the handler.
static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

/// Set by [`stop_flag`]: raised by the first interrupt; a second one exits.
static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// How many guards are alive and the handlers the first one displaced, so
/// the handlers go back only when the last concurrent guard ends.
static HANDLERS: Mutex<(usize, [libc::sighandler_t; 2])> = Mutex::new((0, [0; 2]));

const CAUGHT_SIGNALS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

/// The exit status of a process ended by a second interrupt (128 + SIGINT,
/// as a shell reports it).
pub const EXIT_ON_SECOND_INTERRUPT: i32 = 130;

extern "C" fn on_interrupt(_signal: libc::c_int) {
    // Only atomics and _exit: all a signal handler may safely do.
    INTERRUPTS.fetch_add(1, Ordering::SeqCst);
    if let Some(stop) = STOP.get() {
        if stop.swap(true, Ordering::SeqCst) {
            // SAFETY: _exit(2) is async-signal-safe and ends the process.
            unsafe { libc::_exit(EXIT_ON_SECOND_INTERRUPT) };
        }
    }
}

/// Points SIGINT and SIGTERM at [`on_interrupt`]; the previous handlers.
fn install() -> [libc::sighandler_t; 2] {
    CAUGHT_SIGNALS.map(|signal| {
        let handler = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler only touches atomics (and _exit), which is
        // async-signal-safe.
        unsafe { libc::signal(signal, handler) }
    })
}

/// Catches SIGINT/SIGTERM while it lives, restoring the previous handlers
/// when the last guard is dropped.
pub struct InterruptGuard;

impl InterruptGuard {
    pub fn install() -> Self {
        let mut handlers = HANDLERS.lock().unwrap_or_else(|e| e.into_inner());
        if handlers.0 == 0 {
            INTERRUPTS.store(0, Ordering::SeqCst);
            handlers.1 = install();
        }
        handlers.0 += 1;
        InterruptGuard
    }

    /// SIGINT/SIGTERM received since the first concurrent guard began.
    pub fn count(&self) -> usize {
        INTERRUPTS.load(Ordering::SeqCst)
    }
}

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        let mut handlers = HANDLERS.lock().unwrap_or_else(|e| e.into_inner());
        handlers.0 -= 1;
        if handlers.0 == 0 {
            for (signal, previous) in CAUGHT_SIGNALS.into_iter().zip(handlers.1) {
                // SAFETY: puts back the disposition signal() returned earlier.
                unsafe { libc::signal(signal, previous) };
            }
        }
    }
}

/// Catches SIGINT/SIGTERM for the rest of the process and returns the flag
/// the first one raises; a second one exits with
/// [`EXIT_ON_SECOND_INTERRUPT`].
pub fn stop_flag() -> Arc<AtomicBool> {
    let stop = STOP
        .get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone();
    install();
    stop
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupts_are_counted_while_a_guard_lives() {
        let guard = InterruptGuard::install();
        let nested = InterruptGuard::install();
        // SAFETY: raise(3) takes a plain integer; the guard's handler runs.
        unsafe { libc::raise(libc::SIGINT) };
        assert_eq!(guard.count(), 1);
        drop(nested);
        // SAFETY: as above; the outer guard still catches it.
        unsafe { libc::raise(libc::SIGTERM) };
        assert_eq!(guard.count(), 2);
        drop(guard);
        // SAFETY: signal(2) with SIG_IGN only reads the disposition back.
        let restored = unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
        assert_eq!(restored, libc::SIG_DFL);
    }
}
