//! Delivery bookkeeping of `produce`, shared with librdkafka's callback
//! thread: what was acknowledged or failed, and the confirmed prefix (the
//! longest run of records from the start, all acknowledged) that a resume
//! starts after.

use crate::acl;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::ClientContext;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Delivery bookkeeping shared with librdkafka's callback thread.
#[derive(Default)]
pub(crate) struct Deliveries {
    /// The first index sent (`ProduceOptions::start_at`); `acked` is relative to it.
    pub(crate) start_at: u64,
    pub(crate) delivered: AtomicU64,
    pub(crate) failed: AtomicU64,
    /// Acknowledged indexes relative to `start_at`, for the confirmed prefix.
    pub(crate) acked: Mutex<Vec<u64>>,
    pub(crate) failures: Mutex<Vec<(u64, String)>>,
    /// The first delivery the broker refused for want of a permission:
    /// every other one will be refused too.
    pub(crate) refused: Mutex<Option<RDKafkaErrorCode>>,
}

const MAX_REPORTED_FAILURES: usize = 20;

pub(crate) struct TrackingContext(pub(crate) Arc<Deliveries>);

/// What a delivery report is about: a record of the file by its index, sent
/// to the topic or to the dead-letter topic. A bad record acknowledged in the
/// dead-letter topic counts towards the confirmed prefix too, or a resume
/// would send every record after the first bad one again. It travels through
/// librdkafka as one integer, not a boxed value: an allocation and a free per
/// record showed in the producer's profile.
#[derive(Clone, Copy)]
pub(crate) struct Tracked {
    pub(crate) index: u64,
    pub(crate) dead_letter: bool,
}

impl Tracked {
    pub(crate) fn opaque(self) -> usize {
        (self.index as usize) << 1 | usize::from(self.dead_letter)
    }

    fn from_opaque(opaque: usize) -> Self {
        Tracked {
            index: (opaque >> 1) as u64,
            dead_letter: opaque & 1 == 1,
        }
    }
}

impl ClientContext for TrackingContext {}

impl ProducerContext for TrackingContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let Tracked { index, dead_letter } = Tracked::from_opaque(opaque);
        match result {
            Ok(_) => {
                if !dead_letter {
                    self.0.delivered.fetch_add(1, Ordering::Relaxed);
                }
                set_bit(&mut self.0.acked.lock().unwrap(), index - self.0.start_at);
            }
            Err((err, _)) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
                if let Some(code) = acl::authorization_failure(err) {
                    self.0.refused.lock().unwrap().get_or_insert(code);
                }
                let mut failures = self.0.failures.lock().unwrap();
                if failures.len() < MAX_REPORTED_FAILURES {
                    failures.push((index, err.to_string()));
                }
            }
        }
    }
}

pub(crate) fn set_bit(bits: &mut Vec<u64>, i: u64) {
    let word = (i / 64) as usize;
    if bits.len() <= word {
        bits.resize(word + 1, 0);
    }
    bits[word] |= 1 << (i % 64);
}

/// Number of leading set bits: the contiguous acknowledged prefix.
pub(crate) fn leading_ones(bits: &[u64]) -> u64 {
    let mut n = 0;
    for word in bits {
        if *word == u64::MAX {
            n += 64;
        } else {
            return n + word.trailing_ones() as u64;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmed_prefix_stops_at_the_first_gap() {
        let mut bits = Vec::new();
        for i in (0..130).filter(|i| *i != 100) {
            set_bit(&mut bits, i);
        }
        assert_eq!(leading_ones(&bits), 100);
        set_bit(&mut bits, 100);
        assert_eq!(leading_ones(&bits), 130);
        assert_eq!(leading_ones(&[]), 0);
    }
}
