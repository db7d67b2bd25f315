//! Running a benchmark child process and measuring its peak memory.

use anyhow::{bail, Context, Result};
use sfcrime_process::{Piped, ProcessError};
use sfcrime_stats::Spread;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::Instant;

/// What one child run produced.
pub struct Measured {
    pub stdout: String,
    pub seconds: f64,
    /// Peak resident set size of the child, in kilobytes.
    pub peak_rss_kb: u64,
}

/// Runs `command` to completion, capturing stdout and the child's own peak
/// RSS (from wait4's rusage, so other processes do not count). A failure
/// names the command, its status and its last lines.
pub fn run_measured(command: &mut Command) -> Result<Measured> {
    let started = Instant::now();
    let Piped { child, command } = sfcrime_process::spawn_piped(command)?;
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.expect("piped");
    let mut stderr = child.stderr.expect("piped");
    let err_reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut bytes);
        bytes
    });
    let mut out = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut out)
        .with_context(|| format!("cannot read the output of `{command}`"))?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, not yet reaped (we never called wait).
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let seconds = started.elapsed().as_secs_f64();
    let err = err_reader.join().unwrap_or_default();
    if reaped != pid {
        bail!(
            "cannot wait for `{command}`: {}",
            std::io::Error::last_os_error()
        );
    }
    let status = ExitStatus::from_raw(status);
    if let Some(failure) = ProcessError::check(command, status, out.as_bytes(), &err) {
        return Err(failure.into());
    }
    Ok(Measured {
        stdout: out,
        seconds,
        peak_rss_kb: usage.ru_maxrss as u64,
    })
}

/// `sfcrime` (normally the running binary) with the project home set.
pub fn sfcrime_command(binary: &Path, home: &Path) -> Command {
    let mut command = Command::new(binary);
    command.env("SFCRIME_HOME", home);
    command
}

/// "median [low–high]" (the median's 95% bootstrap interval) with
/// `decimals` digits, "-" when there is nothing.
pub fn format_spread(spread: Option<Spread>, decimals: usize) -> String {
    match spread {
        Some(s) => format!(
            "{:.*} [{:.*}–{:.*}]",
            decimals, s.median, decimals, s.low, decimals, s.high
        ),
        None => "-".to_string(),
    }
}

/// The bench reports' sentence about runs left out as noisy, "" for none.
pub fn noisy_note(noisy: usize, max_load: f64) -> String {
    match noisy {
        0 => String::new(),
        n => format!("; {n} noisy runs (started above load average {max_load}) left out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_read_median_then_interval() {
        let s = Spread::of([3.0, 1.0, 2.5]);
        assert_eq!(format_spread(s, 1), "2.5 [1.0–3.0]");
        assert_eq!(format_spread(None, 0), "-");
        assert_eq!(noisy_note(0, 1.5), "");
        assert_eq!(
            noisy_note(2, 1.5),
            "; 2 noisy runs (started above load average 1.5) left out"
        );
    }

    #[test]
    fn measures_a_real_child() {
        let m = run_measured(Command::new("sh").args(["-c", "echo hi"])).unwrap();
        assert_eq!(m.stdout, "hi\n");
        assert!(m.peak_rss_kb > 0);
        let err = run_measured(Command::new("sh").args(["-c", "echo boom >&2; exit 3"]))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("`sh -c 'echo boom >&2; exit 3'` failed (exit status 3)")
                && err.ends_with("  boom"),
            "{err}"
        );
    }
}
