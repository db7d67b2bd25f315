//! When to send each record: as fast as possible, at a fixed rate, or
//! replaying the calls' own event-time gaps sped up by a factor.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// No pacing: librdkafka's batching decides.
    Fastest,
    /// A fixed number of records per second.
    Rate(f64),
    /// Event-time order, gaps between calls divided by `speedup`.
    Replay { speedup: f64 },
}

/// When a record is due. Deadlines are computed from the start, not from
/// the previous send, so pacing errors do not accumulate.
pub struct Pacer {
    start: Instant,
}

impl Pacer {
    pub fn new() -> Self {
        Pacer {
            start: Instant::now(),
        }
    }

    /// How long until `offset` after the start (zero once it has passed):
    /// the caller waits that long, doing what it must meanwhile.
    pub fn time_until(&self, offset: Duration) -> Duration {
        (self.start + offset).saturating_duration_since(Instant::now())
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new()
    }
}

/// The send offset of the `n`-th record (0-based) at `rate` records/s.
pub fn rate_offset(n: u64, rate: f64) -> Duration {
    Duration::from_secs_f64(n as f64 / rate)
}

/// The send offset of a call at `event_secs`, when the first replayed call
/// happened at `first_event_secs`.
pub fn replay_offset(event_secs: i64, first_event_secs: i64, speedup: f64) -> Duration {
    Duration::from_secs_f64((event_secs - first_event_secs).max(0) as f64 / speedup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        assert_eq!(rate_offset(1500, 500.0), Duration::from_secs(3));
        assert_eq!(replay_offset(3600, 0, 3600.0), Duration::from_secs(1));
        assert_eq!(replay_offset(0, 10, 1.0), Duration::ZERO);
    }

    #[test]
    fn time_until_counts_from_the_start_and_stops_at_zero() {
        let pacer = Pacer::new();
        let wait = pacer.time_until(Duration::from_secs(60));
        assert!(wait > Duration::from_secs(59) && wait <= Duration::from_secs(60));
        assert_eq!(pacer.time_until(Duration::ZERO), Duration::ZERO);
    }
}
