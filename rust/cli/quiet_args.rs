//! `--max-load` and `--max-wait`, the noise control that `sweep` and the
//! Spark benches share: the same flags, defaults and checks everywhere.

use clap::Args;
use sfcrime_sweep::sweep::{QuietWait, DEFAULT_MAX_LOAD, DEFAULT_MAX_WAIT};
use std::time::Duration;

#[derive(Args, Clone, Copy)]
pub struct QuietArgs {
    /// The highest 1-minute load average a run may start at and count:
    /// before each run, wait (up to --max-wait) for the load to drop to it;
    /// a run that still starts above it is recorded as noisy and left out
    /// of every answer of the report.
    #[arg(long, default_value_t = DEFAULT_MAX_LOAD, value_name = "LOAD", value_parser = parse_load)]
    pub max_load: f64,
    /// The longest wait for --max-load before each run, in seconds (0: do
    /// not wait, only record).
    #[arg(long, default_value_t = DEFAULT_MAX_WAIT.as_secs(), value_name = "SECONDS")]
    pub max_wait: u64,
}

impl QuietArgs {
    pub fn quiet(&self) -> QuietWait {
        QuietWait {
            max_load: self.max_load,
            max_wait: Duration::from_secs(self.max_wait),
        }
    }
}

/// A load average: a number, zero or more.
pub fn parse_load(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(load) if load.is_finite() && load >= 0.0 => Ok(load),
        _ => Err(format!(
            "{text:?} is not a load average (a number, 0 or more)"
        )),
    }
}
