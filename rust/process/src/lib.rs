//! Child processes, the one way sfcrime runs them (after cargo-util's
//! `ProcessBuilder`/`ProcessError`): every crate and the integration tests
//! spawn, inspect and stop processes through here.
//!
//! - [`run`]: starting a child and waiting for it; a failure is a
//!   [`ProcessError`] naming the command line, its exit status or signal,
//!   and the last lines of its stderr (and stdout).
//! - [`procfs`]: `/proc/<pid>/stat` (state, parent, process group, CPU
//!   time), command lines, and whether a process or a group still lives.
//! - [`stop`]: signals to a process or a process group, and stopping them
//!   gracefully: SIGTERM, a grace period, then SIGKILL.
//! - [`interrupt`]: this process's own SIGINT/SIGTERM (Ctrl-C), counted
//!   for the caller to act on.

pub mod interrupt;
pub mod procfs;
pub mod run;
pub mod stop;

pub use procfs::{group_alive, is_alive, pids, runs_arg, stat, status_kib, Stat};
pub use run::{command_line, output, spawn, spawn_piped, Failure, Piped, ProcessError};
pub use stop::{signal, signal_group, stop, stop_all, stop_group};
