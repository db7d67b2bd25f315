//! The sweep's design: which settings each point runs with, and in which
//! (seeded, recorded) order the runs go.
//!
//! A sweep starts from a baseline, by default Spark's own defaults spelled
//! out explicitly (`spark/submit.sh` would otherwise put in its tuned
//! `spark.sql.shuffle.partitions=8` and `--driver-memory 2g`, and the
//! baseline would not be "all defaults"). Each `[[vary]]` entry varies one
//! parameter over some values, one factor at a time, around the baseline or
//! around a `center` (the baseline plus a few overrides). One factor at a
//! time keeps the run count linear in the number of values instead of their
//! product; the `full` design (every combination) is there for small grids.
//!
//! Parameters are `key=value` strings: keys starting with `spark.` are
//! SparkSession confs (`--conf key=value`; `spark.master` and
//! `spark.driver.memory` too, which `submit.sh` honours like `--master` and
//! `--driver-memory`); the other keys are the Kafka source's options
//! (`maxOffsetsPerTrigger`, ...), the trigger and the `source` (kafka or
//! sfcrime_connector, the job's `--source`), passed as the job's flags;
//! and two keys shape the run itself ([`RUN_KEYS`]): `copies` (the data N
//! times over) and `rate` (a latency run's records/s).
//! The value `none` means "not set", i.e. Spark's default.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sfcrime_spark::job::JOB_OPTIONS;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

/// The value that leaves a parameter unset.
pub const UNSET: &str = "none";

/// Spark's defaults for the parameters `spark/submit.sh` would otherwise
/// set for us; a sweep's baseline starts from these.
pub const SPARK_DEFAULTS: [(&str, &str); 3] = [
    ("spark.master", "local[*]"),
    ("spark.driver.memory", "1g"),
    ("spark.sql.shuffle.partitions", "200"),
];

/// Settings of the driver JVM itself, which a Spark Connect server fixes when
/// it starts: a sweep sent to one (`--remote`) leaves the baseline's to the
/// server and refuses to vary them ([`Expansion::check_remote`]).
pub fn fixed_by_server(key: &str) -> bool {
    key == "spark.master" || key.starts_with("spark.driver.")
}

/// The job options that only a latency sweep's runs use: a processing-time
/// trigger, or the real-time pipeline.
pub const TRIGGER_KEYS: [&str; 2] = ["trigger", "realTime"];

/// Keys that shape a run rather than Spark or the job. `copies` (throughput
/// sweeps): the run reads the data file N times over, as `produce --copies
/// N` writes it, from a topic of its own (`<topic>.x<N>`, produced once by
/// the sweep), and its counts are checked against the N-fold ground truth;
/// for a study of cost against data size. `rate` (latency sweeps): the
/// producer's records/s, in place of `[latency] rate`; for latency against
/// rate.
pub const RUN_KEYS: [&str; 2] = ["copies", "rate"];

/// A parameter value as written in TOML: a string, a number or a boolean,
/// all passed to Spark as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Text(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Text(s) => f.write_str(s),
            ParamValue::Integer(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Parameter name to value, sorted by name so a point has one spelling.
pub type Params = BTreeMap<String, String>;

/// How the points are formed from the `[[vary]]` entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Design {
    /// Each entry's values one at a time, everything else at its center.
    #[default]
    Ofat,
    /// Every combination of every entry's values (and the baseline's).
    Full,
}

/// One parameter varied over some values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vary {
    pub key: String,
    pub values: Vec<ParamValue>,
    /// Overrides on the baseline that this entry varies around (OFAT only):
    /// e.g. vary the master with the shuffle partitions already tuned, so
    /// that the dominant factor does not drown the others.
    #[serde(default)]
    pub center: BTreeMap<String, ParamValue>,
}

/// A sweep as written in `config/sweeps/*.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Runs per point.
    #[serde(default = "default_repeat")]
    pub repeat: u32,
    /// Seeds the run order.
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub design: Design,
    /// Overrides on [`SPARK_DEFAULTS`] that every point starts from.
    #[serde(default)]
    pub baseline: BTreeMap<String, ParamValue>,
    #[serde(default)]
    pub vary: Vec<Vary>,
    /// Extra points, each as overrides on the baseline (e.g. the best
    /// values of several factors together).
    #[serde(default)]
    pub points: Vec<BTreeMap<String, ParamValue>>,
    /// Present for a latency sweep: each run produces to a fresh topic at
    /// this rate while the job runs on a processing-time trigger.
    #[serde(default)]
    pub latency: Option<LatencySpec>,
}

/// The load of a latency sweep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySpec {
    /// Records per second the producer sends.
    pub rate: f64,
    /// How long it sends, in seconds, measured.
    pub duration_s: f64,
    /// Seconds it sends before that, unmeasured: the job's first batches
    /// run on a cold JIT, which is start-up, not the steady state.
    #[serde(default)]
    pub warmup_s: f64,
}

/// Runs per point unless a sweep says otherwise: the least the tuning study
/// accepts (issue 15). A median's 95% bootstrap interval is still about
/// min..max at 5 repeats and narrows inside it from about 7, so small
/// effects need more.
pub const DEFAULT_REPEAT: u32 = 5;

fn default_repeat() -> u32 {
    DEFAULT_REPEAT
}

fn default_seed() -> u64 {
    1
}

impl SweepSpec {
    pub fn from_toml(text: &str) -> Result<Self> {
        let spec: SweepSpec = toml::from_str(text)?;
        spec.validate()?;
        Ok(spec)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read sweep file {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("in sweep file {}", path.display()))
    }

    /// A sweep from command-line flags: `--param key=v1,v2,...` entries
    /// varied around `--base key=value` overrides.
    pub fn from_flags(
        name: &str,
        params: &[String],
        base: &[String],
        repeat: u32,
        seed: u64,
        design: Design,
        latency: Option<LatencySpec>,
    ) -> Result<Self> {
        let mut baseline = BTreeMap::new();
        for raw in base {
            let (key, value) = split_key_value(raw)?;
            baseline.insert(key.to_string(), ParamValue::Text(value.to_string()));
        }
        let vary = params
            .iter()
            .map(|raw| parse_param_flag(raw))
            .collect::<Result<Vec<_>>>()?;
        let spec = SweepSpec {
            name: name.to_string(),
            description: String::new(),
            repeat,
            seed,
            design,
            baseline,
            vary,
            points: Vec::new(),
            latency,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks names, keys and values; `load` and `from_*` call it.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() || !self.name.chars().all(is_slug_char) {
            bail!(
                "sweep name {:?} must be non-empty and use only letters, digits, '-', '_' and '.'",
                self.name
            );
        }
        if self.repeat == 0 {
            bail!("repeat must be at least 1");
        }
        let keys = self
            .baseline
            .keys()
            .chain(self.vary.iter().map(|v| &v.key))
            .chain(self.vary.iter().flat_map(|v| v.center.keys()))
            .chain(self.points.iter().flat_map(|p| p.keys()));
        for key in keys {
            check_key(key)?;
        }
        if let Some(l) = self.latency {
            if !(l.rate > 0.0
                && l.rate.is_finite()
                && l.duration_s > 0.0
                && l.duration_s.is_finite())
            {
                bail!("[latency] needs a positive rate and duration_s");
            }
        }
        for vary in &self.vary {
            if vary.values.is_empty() {
                bail!("[[vary]] {} has no values", vary.key);
            }
            if self.design == Design::Full && !vary.center.is_empty() {
                bail!(
                    "[[vary]] {}: `center` only applies to the ofat design",
                    vary.key
                );
            }
        }
        Ok(())
    }

    /// The baseline: Spark's defaults with the spec's overrides.
    pub fn baseline_params(&self) -> Params {
        let mut params: Params = SPARK_DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        overlay(&mut params, &self.baseline);
        params
    }

    /// Expands the spec into its distinct points, the baseline first, and
    /// the factors that the report ranks.
    pub fn expand(&self) -> Result<Expansion> {
        let baseline = self.baseline_params();
        let mut points = Vec::new();
        let mut ids = BTreeSet::new();
        let mut add = |params: Params, points: &mut Vec<Point>| -> String {
            let point = Point::new(params, &baseline);
            let id = point.id.clone();
            if ids.insert(id.clone()) {
                points.push(point);
            }
            id
        };
        let baseline_id = add(baseline.clone(), &mut points);
        let mut factors = Vec::new();
        match self.design {
            Design::Ofat => {
                for vary in &self.vary {
                    let mut center = baseline.clone();
                    overlay(&mut center, &vary.center);
                    let center_id = add(center.clone(), &mut points);
                    let mut levels = Vec::new();
                    for value in &vary.values {
                        let mut params = center.clone();
                        set(&mut params, &vary.key, &value.to_string());
                        let id = add(params, &mut points);
                        levels.push(Level {
                            value: value.to_string(),
                            point: id,
                        });
                    }
                    factors.push(Factor {
                        key: vary.key.clone(),
                        center: center_id,
                        center_value: shown_value(&center, &vary.key),
                        center_label: Point::new(center, &baseline).label,
                        levels,
                    });
                }
            }
            Design::Full => {
                let mut combos = vec![baseline.clone()];
                for vary in &self.vary {
                    let mut next = Vec::new();
                    for combo in &combos {
                        next.push(combo.clone());
                        for value in &vary.values {
                            let mut params = combo.clone();
                            set(&mut params, &vary.key, &value.to_string());
                            next.push(params);
                        }
                    }
                    combos = next;
                }
                for params in combos {
                    add(params, &mut points);
                }
                // Main effects are read off the points that differ from the
                // baseline in one key only, as in the ofat design.
                for vary in &self.vary {
                    let levels = vary
                        .values
                        .iter()
                        .map(|value| {
                            let mut params = baseline.clone();
                            set(&mut params, &vary.key, &value.to_string());
                            Level {
                                value: value.to_string(),
                                point: Point::new(params, &baseline).id,
                            }
                        })
                        .collect();
                    factors.push(Factor {
                        key: vary.key.clone(),
                        center: baseline_id.clone(),
                        center_value: shown_value(&baseline, &vary.key),
                        center_label: Point::new(baseline.clone(), &baseline).label,
                        levels,
                    });
                }
            }
        }
        for extra in &self.points {
            let mut params = baseline.clone();
            overlay(&mut params, extra);
            add(params, &mut points);
        }
        Ok(Expansion {
            baseline: baseline_id,
            points,
            factors,
        })
    }
}

/// The spec turned into concrete points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expansion {
    /// Id of the all-defaults point.
    pub baseline: String,
    pub points: Vec<Point>,
    pub factors: Vec<Factor>,
}

impl Expansion {
    /// Fails when the points differ in a setting a Spark Connect server
    /// fixes when it starts ([`fixed_by_server`]): sent to one, they would
    /// all run with the server's.
    pub fn check_remote(&self) -> Result<()> {
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for point in &self.points {
            for (key, value) in point.params.iter().filter(|(k, _)| fixed_by_server(k)) {
                if *seen.entry(key).or_insert(value) != value.as_str() {
                    bail!(
                        "the sweep varies {key}, which a Spark Connect server fixes when it \
                         starts: run it without --remote"
                    );
                }
            }
        }
        Ok(())
    }
}

/// One concrete setting of every parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    /// Stable over runs and machines: a slug of the label and a hash of the
    /// full parameter set, usable as a directory name.
    pub id: String,
    /// What differs from the baseline, e.g. `spark.sql.shuffle.partitions=2`;
    /// `baseline` for the baseline itself.
    pub label: String,
    pub params: Params,
}

/// One `[[vary]]` entry, resolved: its values' points and their center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Factor {
    pub key: String,
    /// The point every level is compared with.
    pub center: String,
    /// The key's value at the center (`none` when unset).
    pub center_value: String,
    pub center_label: String,
    pub levels: Vec<Level>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    pub value: String,
    pub point: String,
}

impl Point {
    pub fn new(params: Params, baseline: &Params) -> Self {
        let keys: BTreeSet<&String> = params.keys().chain(baseline.keys()).collect();
        let diff: Vec<String> = keys
            .into_iter()
            .filter(|k| params.get(*k) != baseline.get(*k))
            .map(|k| format!("{k}={}", params.get(k).map_or(UNSET, String::as_str)))
            .collect();
        let label = if diff.is_empty() {
            "baseline".to_string()
        } else {
            diff.join(" ")
        };
        let canonical: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let hash = fnv1a(canonical.join("\n").as_bytes());
        let slug: String = label
            .replace("spark.", "")
            .chars()
            .map(|c| if is_slug_char(c) { c } else { '-' })
            .take(48)
            .collect();
        Point {
            id: format!("{}-{:08x}", slug.trim_matches('-'), hash as u32),
            label,
            params,
        }
    }

    /// `--conf key=value` pairs for spark-submit, in key order.
    pub fn spark_confs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params
            .iter()
            .filter(|(k, _)| k.starts_with("spark."))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The job options of this point (source options, trigger), by the
    /// names of [`JOB_OPTIONS`], in key order.
    pub fn job_options(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params
            .iter()
            .filter(|(k, _)| JOB_OPTIONS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// How many copies of the data file this point reads ([`RUN_KEYS`]);
    /// None: the sweep's own topic.
    pub fn copies(&self) -> Result<Option<u64>> {
        self.get("copies")
            .map(|v| match v.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => bail!(
                    "point {}: copies must be a whole number of at least 1, not '{v}'",
                    self.label
                ),
            })
            .transpose()
    }

    /// The records/s this latency point produces at ([`RUN_KEYS`]); None:
    /// the spec's `[latency] rate`.
    pub fn rate(&self) -> Result<Option<f64>> {
        self.get("rate")
            .map(|v| match v.parse::<f64>() {
                Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
                _ => bail!(
                    "point {}: rate must be a positive number of records/s, not '{v}'",
                    self.label
                ),
            })
            .transpose()
    }
}

/// Sets `key`, or removes it for [`UNSET`].
fn set(params: &mut Params, key: &str, value: &str) {
    if value == UNSET {
        params.remove(key);
    } else {
        params.insert(key.to_string(), value.to_string());
    }
}

fn overlay(params: &mut Params, overrides: &BTreeMap<String, ParamValue>) {
    for (key, value) in overrides {
        set(params, key, &value.to_string());
    }
}

fn shown_value(params: &Params, key: &str) -> String {
    params
        .get(key)
        .cloned()
        .unwrap_or_else(|| UNSET.to_string())
}

fn is_slug_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// A key is a Spark conf, one of the job's options or a run key.
pub fn check_key(key: &str) -> Result<()> {
    if key.starts_with("spark.") && key.len() > "spark.".len() {
        return Ok(());
    }
    if JOB_OPTIONS.contains(&key) || RUN_KEYS.contains(&key) {
        return Ok(());
    }
    bail!(
        "unknown parameter {key:?}: use a Spark conf (spark.*) or one of {}, {}",
        JOB_OPTIONS.join(", "),
        RUN_KEYS.join(", ")
    )
}

fn split_key_value(raw: &str) -> Result<(&str, &str)> {
    match raw.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim(), value.trim())),
        _ => bail!("expected key=value, got {raw:?}"),
    }
}

/// `key=v1,v2,...` as one factor. Values are split on commas, except
/// inside brackets, so `spark.master=local[1],local[*]` has two values.
pub fn parse_param_flag(raw: &str) -> Result<Vary> {
    let (key, values) = split_key_value(raw)?;
    check_key(key)?;
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in values.chars() {
        match c {
            '[' | '(' | '{' => depth += 1,
            ']' | ')' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c == ',' && depth == 0 {
            out.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    out.push(current);
    let values: Vec<ParamValue> = out
        .into_iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .map(ParamValue::Text)
        .collect();
    if values.is_empty() {
        bail!("--param {key}= has no values");
    }
    Ok(Vary {
        key: key.to_string(),
        values,
        center: BTreeMap::new(),
    })
}

/// 64-bit FNV-1a: a tiny, fixed hash, so point ids never change with a
/// library upgrade (a resumed sweep finds its runs by id).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One run of the plan: a point and which repeat of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub point: usize,
    pub repeat: u32,
}

/// Every (point, repeat) pair in a seeded random order, so slow drifts of
/// the machine (other jobs, thermal, page cache) spread over all points
/// instead of biasing the ones that happen to run last. The shuffle is
/// Fisher-Yates driven by sfcrime-stats' SplitMix64, so the same seed
/// gives the same order on any version of any library.
pub fn run_order(points: usize, repeat: u32, seed: u64) -> Vec<Slot> {
    let mut slots: Vec<Slot> = (0..points)
        .flat_map(|point| (0..repeat).map(move |repeat| Slot { point, repeat }))
        .collect();
    let mut state = seed;
    for i in (1..slots.len()).rev() {
        let j = (sfcrime_stats::splitmix64(&mut state) % (i as u64 + 1)) as usize;
        slots.swap(i, j);
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
        name = "t"
        repeat = 2
        seed = 7
        [baseline]
        "spark.sql.adaptive.enabled" = true
        [[vary]]
        key = "spark.sql.shuffle.partitions"
        values = [2, 8]
        [[vary]]
        key = "spark.master"
        values = ["local[1]"]
        center = { "spark.sql.shuffle.partitions" = 2 }
        [[vary]]
        key = "maxOffsetsPerTrigger"
        values = ["50000"]
        [[points]]
        "spark.sql.shuffle.partitions" = 2
        "spark.sql.adaptive.enabled" = "none"
    "#;

    #[test]
    fn ofat_points_share_their_centers() {
        let spec = SweepSpec::from_toml(SPEC).unwrap();
        let ex = spec.expand().unwrap();
        let labels: Vec<&str> = ex.points.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "baseline",
                "spark.sql.shuffle.partitions=2",
                "spark.sql.shuffle.partitions=8",
                "spark.master=local[1] spark.sql.shuffle.partitions=2",
                "maxOffsetsPerTrigger=50000",
                "spark.sql.adaptive.enabled=none spark.sql.shuffle.partitions=2",
            ]
        );
        let base = &ex.points[0];
        assert_eq!(ex.baseline, base.id);
        assert_eq!(base.get("spark.sql.shuffle.partitions"), Some("200"));
        assert_eq!(base.get("spark.driver.memory"), Some("1g"));
        assert_eq!(base.get("spark.sql.adaptive.enabled"), Some("true"));
        // The master factor is measured against shuffle=2, not the baseline.
        let master = &ex.factors[1];
        assert_eq!(master.center, ex.points[1].id);
        assert_eq!(master.center_value, "local[*]");
        assert_eq!(master.levels[0].point, ex.points[3].id);
        assert_eq!(ex.factors[0].center, ex.baseline);
        // `none` unsets: the extra point has no AQE conf at all.
        assert_eq!(ex.points[5].get("spark.sql.adaptive.enabled"), None);
    }

    #[test]
    fn points_map_to_confs_and_job_flags() {
        let spec = SweepSpec::from_toml(SPEC).unwrap();
        let ex = spec.expand().unwrap();
        let p = &ex.points[4];
        let options: Vec<_> = p.job_options().collect();
        assert_eq!(options, [("maxOffsetsPerTrigger", "50000")]);
        let confs: Vec<_> = p.spark_confs().collect();
        assert!(confs.contains(&("spark.master", "local[*]")));
        assert!(!confs.iter().any(|(k, _)| *k == "maxOffsetsPerTrigger"));
    }

    #[test]
    fn the_source_is_a_dimension_passed_as_the_jobs_flag() {
        let spec = SweepSpec::from_flags(
            "sources",
            &["source=sfcrime_connector".to_string()],
            &["source=kafka".to_string()],
            1,
            1,
            Design::Ofat,
            None,
        )
        .unwrap();
        let ex = spec.expand().unwrap();
        let options: Vec<Vec<_>> = ex
            .points
            .iter()
            .map(|p| p.job_options().collect())
            .collect();
        assert_eq!(
            options,
            [[("source", "kafka")], [("source", "sfcrime_connector")]],
            "baseline, then the level"
        );
        assert!(ex.points[1].spark_confs().all(|(k, _)| k != "source"));
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = SweepSpec::from_toml(SPEC).unwrap().expand().unwrap();
        let b = SweepSpec::from_toml(SPEC).unwrap().expand().unwrap();
        assert_eq!(a, b);
        let ids: BTreeSet<_> = a.points.iter().map(|p| &p.id).collect();
        assert_eq!(ids.len(), a.points.len());
        assert!(a.points[1].id.starts_with("sql.shuffle.partitions-2-"));
        assert!(a.points[0].id.starts_with("baseline-"));
    }

    #[test]
    fn full_design_takes_every_combination() {
        let spec = SweepSpec::from_flags(
            "f",
            &[
                "spark.sql.shuffle.partitions=2,8".into(),
                "spark.master=local[1],local[2]".into(),
            ],
            &[],
            1,
            1,
            Design::Full,
            None,
        )
        .unwrap();
        let ex = spec.expand().unwrap();
        assert_eq!(ex.points.len(), 9);
        assert_eq!(ex.factors.len(), 2);
        assert_eq!(ex.factors[1].levels.len(), 2);
        assert_eq!(ex.factors[1].center, ex.baseline);
    }

    #[test]
    fn param_flags_split_outside_brackets() {
        let vary = parse_param_flag("spark.master=local[1],local[*], local[2]").unwrap();
        let values: Vec<String> = vary.values.iter().map(ToString::to_string).collect();
        assert_eq!(values, ["local[1]", "local[*]", "local[2]"]);
        assert!(parse_param_flag("spark.master=").is_err());
        assert!(parse_param_flag("=1").is_err());
        assert!(parse_param_flag("shuffle=1").is_err());
        assert!(parse_param_flag("trigger=1 second,5 seconds").is_ok());
    }

    #[test]
    fn bad_specs_are_refused() {
        assert!(SweepSpec::from_toml("name = \"a b\"").is_err());
        assert!(SweepSpec::from_toml("name = \"a\"\nrepeat = 0").is_err());
        assert!(SweepSpec::from_toml("name = \"a\"\ntypo = 1").is_err());
        assert!(SweepSpec::from_toml("name = \"a\"\n[baseline]\nfoo = 1").is_err());
        let no_values = "name = \"a\"\n[[vary]]\nkey = \"spark.x\"\nvalues = []";
        assert!(SweepSpec::from_toml(no_values).is_err());
        assert!(SweepSpec::from_toml("name = \"a\"\n[latency]\nrate = 0\nduration_s = 5").is_err());
        let latency = SweepSpec::from_toml("name = \"a\"\n[latency]\nrate = 500\nduration_s = 60")
            .unwrap()
            .latency
            .unwrap();
        assert_eq!((latency.rate, latency.duration_s), (500.0, 60.0));
    }

    #[test]
    fn run_order_is_a_seeded_permutation() {
        let order = run_order(4, 3, 42);
        let mut sorted = order.clone();
        sorted.sort_by_key(|s| (s.point, s.repeat));
        let every: Vec<Slot> = (0..4)
            .flat_map(|point| (0..3).map(move |repeat| Slot { point, repeat }))
            .collect();
        assert_eq!(sorted, every);
        assert_eq!(order, run_order(4, 3, 42));
        assert_ne!(order, run_order(4, 3, 43));
        // Shuffled (for 12 slots, the identity is a 1 in 479001600 chance).
        assert_ne!(order, every);
    }

    #[test]
    fn a_sweep_sent_to_a_connect_server_may_not_vary_its_driver() {
        let spec = |vary: &str| {
            SweepSpec::from_flags("remote", &[vary.to_string()], &[], 1, 1, Design::Ofat, None)
                .unwrap()
                .expand()
                .unwrap()
        };
        // The baseline's master and driver memory are the same in every point.
        spec("spark.sql.shuffle.partitions=2")
            .check_remote()
            .unwrap();
        let err = spec("spark.driver.memory=2g").check_remote().unwrap_err();
        assert!(
            err.to_string().contains("varies spark.driver.memory"),
            "{err}"
        );
        assert!(spec("spark.master=local[1]").check_remote().is_err());
    }
}
