//! From run records to what the report says: per-point medians with their
//! spread over repeats, each factor's effect against its center, and the
//! ranking of factors by effect size.
//!
//! Only runs that succeeded on a quiet machine count ([`RunRecord::counts`]):
//! failed and noisy runs are counted per point, never used. Conventions
//! (sfcrime-stats' [`Spread`]): the median is the middle value (mean of the
//! middle two for an even count), with the min..max range and its 95%
//! bootstrap interval. An effect is *clear* when the level's and the
//! center's intervals do not overlap.

use serde::Serialize;
use sfcrime_stats::Spread;

use crate::grid::{Expansion, Factor};
use crate::results::{RunRecord, RunStatus};

/// One point's successful runs, summarised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointStats {
    pub point: String,
    pub label: String,
    /// Indexes into the records of the runs that count (successful, not
    /// noisy), by repeat.
    pub runs: Vec<usize>,
    pub failed: usize,
    /// Successful runs left out because they started on a busy machine.
    pub noisy: usize,
    pub wall_s: Option<Spread>,
    pub query_s: Option<Spread>,
    /// Launch to the first trigger's start: the start-up.
    pub first_trigger_s: Option<Spread>,
    pub rows_per_s: Option<Spread>,
    pub batch_ms_p50: Option<Spread>,
    pub batch_ms_p95: Option<Spread>,
    pub batches: Option<Spread>,
    pub driver_peak_rss_mib: Option<Spread>,
    pub driver_xmx: Option<String>,
    pub driver_cpu_s: Option<Spread>,
    pub state_rows: Option<Spread>,
    pub state_disk_mib: Option<Spread>,
    pub state_memory_mib: Option<Spread>,
    /// Latency sweeps: pooled end-to-end latency percentiles, ms.
    pub e2e_ms_p50: Option<Spread>,
    pub e2e_ms_p95: Option<Spread>,
    pub e2e_ms_p99: Option<Spread>,
}

/// A factor level against its center.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    pub key: String,
    pub value: String,
    pub center_value: String,
    pub center_label: String,
    pub point: String,
    pub center: String,
    /// Median rows/s of the level over that of the center (>1: faster).
    pub throughput_ratio: f64,
    /// Median query time of the center over that of the level (>1: faster).
    pub query_speedup: f64,
    /// Median wall time of the center over that of the level (>1: faster).
    pub wall_speedup: f64,
    /// The 95% intervals of the two median throughputs do not overlap.
    pub clear: bool,
}

impl Effect {
    /// Size of the effect whichever its direction: |ln ratio|.
    pub fn size(&self) -> f64 {
        self.throughput_ratio.ln().abs()
    }
}

/// Statistics for every point of the expansion, in its order.
pub fn point_stats(expansion: &Expansion, records: &[RunRecord]) -> Vec<PointStats> {
    expansion
        .points
        .iter()
        .map(|point| {
            let mut runs: Vec<usize> = records
                .iter()
                .enumerate()
                .filter(|(_, r)| r.point == point.id && r.counts())
                .map(|(i, _)| i)
                .collect();
            runs.sort_by_key(|&i| records[i].repeat);
            let of_point = || records.iter().filter(|r| r.point == point.id);
            let failed = of_point().filter(|r| r.status != RunStatus::Ok).count();
            let noisy = of_point()
                .filter(|r| r.status == RunStatus::Ok && r.noisy)
                .count();
            let ok = || runs.iter().map(|&i| &records[i]);
            PointStats {
                point: point.id.clone(),
                label: point.label.clone(),
                failed,
                noisy,
                wall_s: Spread::of(ok().map(|r| r.wall_s)),
                first_trigger_s: Spread::of(ok().filter_map(|r| r.first_trigger_s)),
                query_s: Spread::of(ok().filter_map(|r| r.query_s)),
                rows_per_s: Spread::of(ok().filter_map(|r| r.rows_per_s)),
                batch_ms_p50: Spread::of(ok().filter_map(|r| r.batch_ms_p50.map(|v| v as f64))),
                batch_ms_p95: Spread::of(ok().filter_map(|r| r.batch_ms_p95.map(|v| v as f64))),
                batches: Spread::of(ok().map(|r| r.batches as f64)),
                driver_peak_rss_mib: Spread::of(ok().filter_map(|r| r.driver_peak_rss_mib)),
                driver_xmx: ok().find_map(|r| r.driver_xmx.clone()),
                driver_cpu_s: Spread::of(ok().filter_map(|r| r.driver_cpu_s)),
                state_rows: Spread::of(ok().filter_map(|r| r.state_rows.map(|n| n as f64))),
                state_disk_mib: Spread::of(ok().filter_map(|r| r.state_disk_mib)),
                state_memory_mib: Spread::of(ok().filter_map(|r| r.state_memory_mib)),
                e2e_ms_p50: Spread::of(ok().filter_map(|r| r.e2e_ms_p50)),
                e2e_ms_p95: Spread::of(ok().filter_map(|r| r.e2e_ms_p95)),
                e2e_ms_p99: Spread::of(ok().filter_map(|r| r.e2e_ms_p99)),
                runs,
            }
        })
        .collect()
}

/// Every factor level with results on both sides, ranked by effect size,
/// largest first.
pub fn ranked_effects(factors: &[Factor], stats: &[PointStats]) -> Vec<Effect> {
    let find = |id: &str| stats.iter().find(|s| s.point == id);
    let mut effects: Vec<Effect> = factors
        .iter()
        .flat_map(|factor| {
            factor.levels.iter().filter_map(move |level| {
                let center = find(&factor.center)?;
                let this = find(&level.point)?;
                if center.point == this.point {
                    return None;
                }
                let (rate, center_rate) = (this.rows_per_s?, center.rows_per_s?);
                let (query, center_query) = (this.query_s?, center.query_s?);
                let (wall, center_wall) = (this.wall_s?, center.wall_s?);
                Some(Effect {
                    key: factor.key.clone(),
                    value: level.value.clone(),
                    center_value: factor.center_value.clone(),
                    center_label: factor.center_label.clone(),
                    point: this.point.clone(),
                    center: center.point.clone(),
                    throughput_ratio: rate.median / center_rate.median,
                    query_speedup: center_query.median / query.median,
                    wall_speedup: center_wall.median / wall.median,
                    clear: rate.separated_from(&center_rate),
                })
            })
        })
        .collect();
    effects.sort_by(|a, b| b.size().total_cmp(&a.size()));
    effects
}

/// The point with the highest median throughput.
pub fn best_point(stats: &[PointStats]) -> Option<&PointStats> {
    stats
        .iter()
        .filter(|s| s.rows_per_s.is_some())
        .max_by(|a, b| median(a.rows_per_s).total_cmp(&median(b.rows_per_s)))
}

fn median(spread: Option<Spread>) -> f64 {
    spread.map_or(f64::NAN, |s| s.median)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::SweepSpec;
    use crate::results::tests::record;

    /// Three points: the baseline, a factor level 3x as fast (clearly), and
    /// one that is the same within noise.
    fn fixture() -> (Expansion, Vec<RunRecord>) {
        let spec = SweepSpec::from_toml(
            "name = \"t\"\n[[vary]]\nkey = \"spark.sql.shuffle.partitions\"\nvalues = [2]\n\
             [[vary]]\nkey = \"spark.streaming.kafka.maxRatePerPartition\"\nvalues = [100]",
        )
        .unwrap();
        let ex = spec.expand().unwrap();
        let mut records = Vec::new();
        let rates = [
            [100.0, 110.0, 90.0],
            [300.0, 310.0, 290.0],
            [105.0, 95.0, 99.0],
        ];
        for (point, rates) in ex.points.iter().zip(rates) {
            for (repeat, rate) in rates.into_iter().enumerate() {
                let mut r = record(&point.id, repeat as u32, RunStatus::Ok);
                r.rows_per_s = Some(rate);
                r.query_s = Some(1000.0 / rate);
                r.wall_s = 30.0 + 1000.0 / rate;
                records.push(r);
            }
        }
        records.push(record(&ex.points[1].id, 3, RunStatus::Failed));
        // Noisy runs that would move the baseline's median and make the
        // clear effect unclear, were they counted.
        for (repeat, rate) in [(3, 1000.0), (4, 900.0)] {
            let mut r = record(&ex.points[0].id, repeat, RunStatus::Ok);
            r.rows_per_s = Some(rate);
            r.load_before = 4.0;
            r.judge_noise(1.5);
            records.push(r);
        }
        (ex, records)
    }

    #[test]
    fn effects_rank_by_size_and_flag_noise() {
        let (ex, records) = fixture();
        let stats = point_stats(&ex, &records);
        assert_eq!(stats[1].runs.len(), 3);
        assert_eq!(stats[1].failed, 1);
        assert_eq!(stats[1].rows_per_s.unwrap().median, 300.0);
        assert_eq!((stats[0].runs.len(), stats[0].noisy), (3, 2));
        assert_eq!(stats[0].rows_per_s.unwrap().median, 100.0);
        assert_eq!((stats[1].noisy, stats[0].failed), (0, 0));

        let effects = ranked_effects(&ex.factors, &stats);
        assert_eq!(effects.len(), 2);
        let first = &effects[0];
        assert_eq!(first.key, "spark.sql.shuffle.partitions");
        assert_eq!(
            (first.value.as_str(), first.center_value.as_str()),
            ("2", "200")
        );
        assert!((first.throughput_ratio - 3.0).abs() < 1e-9);
        assert!((first.query_speedup - 3.0).abs() < 1e-9);
        assert!(first.wall_speedup > 1.0 && first.wall_speedup < 3.0);
        assert!(first.clear);
        let second = &effects[1];
        assert_eq!(second.key, "spark.streaming.kafka.maxRatePerPartition");
        assert!((second.throughput_ratio - 0.99).abs() < 1e-9);
        assert!(!second.clear);

        let best = best_point(&stats).unwrap();
        assert_eq!(best.point, ex.points[1].id);
        let (mid, low, high) = sfcrime_stats::speedup_with_range(
            &best.rows_per_s.unwrap(),
            &stats[0].rows_per_s.unwrap(),
        );
        assert!((mid - 3.0).abs() < 1e-9);
        assert!((low - 290.0 / 110.0).abs() < 1e-9 && (high - 310.0 / 90.0).abs() < 1e-9);
    }
}
