//! The two statistics sfcrime reports everywhere, defined once so every
//! report means the same thing by them: nearest-rank percentiles (always an
//! observed value, never an interpolation) of latencies and rates, and the
//! median with min..max range of a measure over repeated runs.

use serde::Serialize;

/// The `p`-th percentile (0..=100) of `sorted` (ascending) by nearest rank:
/// the value at 1-based rank `ceil(p/100 * n)`, with rank 1 for `p = 0`.
/// `None` for an empty slice. Computed as `ceil(p * n / 100)` so that whole
/// percentages of whole counts stay exact (0.95 * 20 is not 19 in floats).
pub fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = (p.clamp(0.0, 100.0) * n as f64 / 100.0).ceil() as usize;
    Some(sorted[rank.clamp(1, n) - 1])
}

/// Median and range of one measure over a point's successful repeats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Spread {
    /// `None` for no values.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }

    /// Whether the two ranges are disjoint.
    pub fn separated_from(&self, other: &Spread) -> bool {
        self.min > other.max || self.max < other.min
    }
}

/// How many times faster `a` is than `b` by median throughput, with the
/// range that the repeats allow (worst pairing to best pairing).
pub fn speedup_with_range(a: &Spread, b: &Spread) -> (f64, f64, f64) {
    (a.median / b.median, a.min / b.max, a.max / b.min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_matches_the_textbook_definition() {
        // The worked example of the nearest-rank method: 15, 20, 35, 40, 50.
        let v = [15, 20, 35, 40, 50];
        assert_eq!(nearest_rank(&v, 5.0), Some(15));
        assert_eq!(nearest_rank(&v, 30.0), Some(20));
        assert_eq!(nearest_rank(&v, 40.0), Some(20));
        assert_eq!(nearest_rank(&v, 50.0), Some(35));
        assert_eq!(nearest_rank(&v, 100.0), Some(50));
        assert_eq!(nearest_rank(&v, 0.0), Some(15));
        assert_eq!(nearest_rank::<i32>(&[], 50.0), None);
    }

    #[test]
    fn nearest_rank_is_exact_on_whole_percentages() {
        let v: Vec<i64> = (1..=20).collect();
        assert_eq!(nearest_rank(&v, 95.0), Some(19));
        assert_eq!(nearest_rank(&v, 50.0), Some(10));
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(nearest_rank(&v, 95.0), Some(95));
        assert_eq!(nearest_rank(&v, 99.0), Some(99));
        // Out-of-range requests clamp instead of indexing out of bounds.
        assert_eq!(nearest_rank(&v, 250.0), Some(100));
        assert_eq!(nearest_rank(&v, -3.0), Some(1));
    }

    #[test]
    fn spread_has_the_middle_and_the_ends() {
        let s = Spread::of([3.0, f64::NAN, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.5, 1.0, 10.0, 4));
        assert!(Spread::of([]).is_none());
        assert!(!s.separated_from(&Spread::of([9.0]).unwrap()));
        assert!(s.separated_from(&Spread::of([11.0]).unwrap()));
    }

    #[test]
    fn speedup_ranges_pair_the_worst_and_the_best_repeats() {
        let fast = Spread::of([4.0, 6.0, 8.0]).unwrap();
        let slow = Spread::of([1.0, 2.0, 4.0]).unwrap();
        assert_eq!(speedup_with_range(&fast, &slow), (3.0, 1.0, 8.0));
    }
}
