//! Configuration in one place, layered: built-in defaults < a properties file
//! (`config/sfcrime.properties`) < `SFCRIME_*` environment variables < flags.
//!
//! Every value remembers which layer set it, so `--verbose` dumps can say
//! where a setting came from, and secrets are redacted when shown. A file key
//! or `SFCRIME_*` variable the project does not know is refused, with the
//! nearest known one suggested, because a silently ignored typo leaves the
//! default in force unnoticed.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a setting's value came from, lowest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    Default,
    File,
    Env,
    Flag,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Default => "default",
            Layer::File => "file",
            Layer::Env => "env",
            Layer::Flag => "flag",
        })
    }
}

const DEFAULTS: &[(&str, &str)] = &[
    ("bootstrap.servers", ""),
    ("topic", "sf.police.calls"),
    ("topic.partitions", "3"),
    ("topic.replication.factor", ""),
    ("kafka.mode", "kraft"),
    ("kafka.brokers", "1"),
    ("kafka.port", "9092"),
    ("kafka.controller.port", "9093"),
    ("zookeeper.port", "2181"),
    ("stack.dir", ".stack/broker"),
    ("cache.dir", ".stack/cache"),
    ("java", ""),
    // Security of the local broker's client listener: plaintext or sasl_ssl.
    ("kafka.security", "plaintext"),
    // With sasl_ssl: where the CA and broker certificates live (empty:
    // <stack.dir>/tls), and the SCRAM user the broker, `stack` and the
    // generated client.properties use. The password has no default and,
    // being a secret, no flag: a properties file or the environment.
    ("kafka.tls.dir", ""),
    ("kafka.admin.user", "sfcrime-admin"),
    ("kafka.admin.password", ""),
    // With sasl_ssl the brokers run an authorizer: the admin is their super
    // user, and `stack up` creates these two users (passwords generated, in
    // <stack.dir>/<producer|consumer>.properties) with only what each needs.
    // The consumer may read as the groups that start with one of the
    // comma-separated prefixes (sfcrime's consumers, spark-sql-kafka's).
    ("kafka.producer.user", "sfcrime-producer"),
    ("kafka.consumer.user", "sfcrime-consumer"),
    ("kafka.consumer.groups", "sfcrime-,spark-kafka-"),
    // `spark ui`: Spark's History Server over the runs' event logs.
    ("history.dir", ".stack/spark-history"),
    ("history.port", "18080"),
    ("standalone.dir", ".stack/spark-standalone"),
    ("standalone.master.port", "7077"),
    ("standalone.master.ui.port", "8080"),
    ("standalone.worker.ui.port", "8081"),
    ("standalone.worker.cores", "2"),
    ("standalone.worker.memory", "2g"),
    (
        "data.file",
        "data/police-department-calls-for-service.json.gz",
    ),
    ("radio.codes", "data/radio_code.json"),
];

/// Most brokers `stack up` starts on one machine.
pub const MAX_LOCAL_BROKERS: u16 = 9;

/// One node (broker and controller in one JVM) of the local stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalNode {
    /// KRaft `node.id`, 1..N.
    pub id: u32,
    pub port: u16,
    pub controller_port: u16,
}

/// The project's settings: an ordered map of key -> (value, layer).
#[derive(Debug, Clone)]
pub struct Settings {
    home: PathBuf,
    values: BTreeMap<String, (String, Layer)>,
}

impl Settings {
    /// Loads defaults, then `file` (if it exists, or `config/sfcrime.properties`
    /// under `home`), then the environment. Flags are applied by the caller
    /// with [`Settings::set`].
    pub fn load(home: &Path, file: Option<&Path>) -> Result<Self> {
        Self::load_with_env(home, file, std::env::vars())
    }

    /// As [`Settings::load`] with an explicit environment, for tests.
    pub fn load_with_env(
        home: &Path,
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        let mut settings = Settings {
            home: home.to_path_buf(),
            values: DEFAULTS
                .iter()
                .map(|(k, v)| (k.to_string(), (v.to_string(), Layer::Default)))
                .collect(),
        };
        let default_file = home.join("config/sfcrime.properties");
        match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                settings.merge_properties(&text, path)?;
            }
            None if default_file.exists() => {
                let text = std::fs::read_to_string(&default_file)
                    .with_context(|| format!("cannot read {}", default_file.display()))?;
                settings.merge_properties(&text, &default_file)?;
            }
            None => {}
        }
        let env: BTreeMap<String, String> = env
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX))
            .collect();
        if let Some(unknown) = env
            .keys()
            .find(|name| !OTHER_ENV_VARS.contains(&name.as_str()) && !is_setting_env(name))
        {
            bail!(
                "unknown setting variable '{unknown}' in the environment{}",
                env_hint(unknown)
            );
        }
        for (key, _) in DEFAULTS {
            if let Some(value) = env.get(&env_name(key)) {
                settings.set(key, value, Layer::Env);
            }
        }
        Ok(settings)
    }

    fn merge_properties(&mut self, text: &str, path: &Path) -> Result<()> {
        for (line, key, value) in parse_numbered_properties(text)
            .with_context(|| format!("in config file {}", path.display()))?
        {
            if !is_setting(&key) {
                let hint = match nearest(&key, DEFAULTS.iter().map(|(known, _)| *known)) {
                    Some(known) => format!(" (did you mean '{known}'?)"),
                    None => String::new(),
                };
                bail!("{}:{line}: unknown setting '{key}'{hint}", path.display());
            }
            self.set(&key, &value, Layer::File);
        }
        Ok(())
    }

    /// Sets `key` if `layer` is at least as strong as the current value's.
    pub fn set(&mut self, key: &str, value: &str, layer: Layer) {
        let entry = self
            .values
            .entry(key.to_string())
            .or_insert_with(|| (String::new(), Layer::Default));
        if layer >= entry.1 {
            *entry = (value.to_string(), layer);
        }
    }

    /// Applies a flag value when the flag was given.
    pub fn set_flag<T: ToString>(&mut self, key: &str, value: Option<T>) {
        if let Some(value) = value {
            self.set(key, &value.to_string(), Layer::Flag);
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str())
    }

    pub fn layer(&self, key: &str) -> Option<Layer> {
        self.values.get(key).map(|(_, l)| *l)
    }

    /// A required string setting.
    pub fn string(&self, key: &str) -> Result<String> {
        self.get(key)
            .map(str::to_string)
            .with_context(|| format!("setting '{key}' is missing"))
    }

    /// A required setting parsed as `T`, with an error naming key and layer.
    pub fn parse<T>(&self, key: &str) -> Result<T>
    where
        T: std::str::FromStr,
        T::Err: fmt::Display,
    {
        let raw = self.string(key)?;
        raw.trim().parse::<T>().map_err(|e| {
            anyhow::anyhow!(
                "setting '{key}' = '{raw}' (from {}) is invalid: {e}",
                self.layer(key).unwrap_or(Layer::Default)
            )
        })
    }

    /// A path setting; relative paths are relative to the project home.
    pub fn path(&self, key: &str) -> Result<PathBuf> {
        let raw = PathBuf::from(self.string(key)?);
        Ok(if raw.is_absolute() {
            raw
        } else {
            self.home.join(raw)
        })
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The brokers clients connect to: the configured list, or every broker
    /// of the local stack that `stack up` runs.
    pub fn bootstrap_servers(&self) -> Result<String> {
        let configured = self.string("bootstrap.servers")?;
        if configured.trim().is_empty() {
            Ok(self
                .local_nodes()?
                .iter()
                .map(|node| format!("127.0.0.1:{}", node.port))
                .collect::<Vec<_>>()
                .join(","))
        } else {
            Ok(configured.trim().to_string())
        }
    }

    /// The ports of the local stack's `kafka.brokers` nodes. Node n (1..N)
    /// listens on `kafka.port + 2(n-1)` and `kafka.controller.port + 2(n-1)`:
    /// a stride of 2 keeps the default pairs 9092/9093, 9094/9095, 9096/9097
    /// apart, where a stride of 1 would put broker 2 on controller 1's port.
    pub fn local_nodes(&self) -> Result<Vec<LocalNode>> {
        let count: u16 = self.parse("kafka.brokers")?;
        if !(1..=MAX_LOCAL_BROKERS).contains(&count) {
            bail!(
                "setting 'kafka.brokers' = {count} (from {}) is invalid: the local stack runs \
                 1 to {MAX_LOCAL_BROKERS} brokers",
                self.layer("kafka.brokers").unwrap_or(Layer::Default)
            );
        }
        self.local_nodes_of(count)
    }

    /// As [`Settings::local_nodes`] for `count` nodes, whatever
    /// `kafka.brokers` says (for a stack dir that holds another number).
    pub fn local_nodes_of(&self, count: u16) -> Result<Vec<LocalNode>> {
        let port: u16 = self.parse("kafka.port")?;
        let controller_port: u16 = self.parse("kafka.controller.port")?;
        let span = 2 * count.saturating_sub(1);
        for (key, base) in [
            ("kafka.port", port),
            ("kafka.controller.port", controller_port),
        ] {
            if base.checked_add(span).is_none() {
                bail!(
                    "setting '{key}' = {base} leaves no room for {count} brokers (ports {base}+2n)"
                );
            }
        }
        let nodes: Vec<LocalNode> = (0..count)
            .map(|n| LocalNode {
                id: u32::from(n) + 1,
                port: port + 2 * n,
                controller_port: controller_port + 2 * n,
            })
            .collect();
        if let Some(clash) = nodes
            .iter()
            .find(|a| nodes.iter().any(|b| a.port == b.controller_port))
        {
            bail!(
                "kafka.port {port} and kafka.controller.port {controller_port} clash for {count} \
                 brokers (port {} would be both a broker and a controller port): node n uses \
                 kafka.port + 2(n-1) and kafka.controller.port + 2(n-1), so pick bases that \
                 differ by an odd number, or by more than {span}",
                clash.port
            );
        }
        Ok(nodes)
    }

    /// All settings as `key = value  (layer)` lines, secrets redacted.
    pub fn dump(&self) -> String {
        self.values
            .iter()
            .map(|(k, (v, layer))| format!("{k} = {}  ({layer})\n", redact(k, v)))
            .collect()
    }
}

/// The prefix of every environment variable of the project.
const ENV_PREFIX: &str = "SFCRIME_";

/// The `SFCRIME_*` variables that are not settings: the project reads them
/// for other purposes, so the environment layer lets them pass instead of
/// refusing them. None may be a setting's variable too (a test checks), so
/// that each name has one meaning.
const OTHER_ENV_VARS: &[&str] = &[
    // The project root, for sfcrime, spark/submit.sh and python/data_stream.py.
    "SFCRIME_HOME",
    // Where spark/submit.sh caches Spark's Kafka connector jars.
    "SFCRIME_SPARK_JARS_DIR",
    // JSON Kafka client settings that `spark run` hands to python/data_stream.py.
    "SFCRIME_KAFKA_CLIENT_SETTINGS",
    // The TrueType font file sweep charts are drawn with (rust/sweep).
    "SFCRIME_FONT",
    // Tests only: seconds the long fuzz run of rust/records/tests lasts.
    "SFCRIME_FUZZ_SECONDS",
    // Tests only: rust/spark/tests' marker that a run passes its environment on.
    "SFCRIME_FAKE",
];

/// True for the keys of the project's settings (those with a default).
fn is_setting(key: &str) -> bool {
    DEFAULTS.iter().any(|(known, _)| *known == key)
}

/// True for a variable that [`env_name`] makes of some setting's key.
fn is_setting_env(name: &str) -> bool {
    DEFAULTS.iter().any(|(key, _)| env_name(key) == name)
}

/// " (did you mean 'SFCRIME_…'?)" naming the known variable nearest to the
/// unknown `name`, or nothing. The shared prefix is left out of the
/// comparison: it would make every name look close to every other.
fn env_hint(name: &str) -> String {
    let known: Vec<String> = DEFAULTS
        .iter()
        .map(|(key, _)| env_name(key))
        .chain(OTHER_ENV_VARS.iter().map(|other| other.to_string()))
        .map(|known| known[ENV_PREFIX.len()..].to_string())
        .collect();
    match nearest(&name[ENV_PREFIX.len()..], known.iter().map(String::as_str)) {
        Some(suffix) => format!(" (did you mean '{ENV_PREFIX}{suffix}'?)"),
        None => String::new(),
    }
}

/// The candidate closest to `typed` when it is close enough to be a typo of
/// it: at most one edit for every three characters of the candidate (at
/// least one), so short keys are not "corrected" into unrelated ones. Ties go
/// to the first candidate.
fn nearest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(typed, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.chars().count() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Optimal-string-alignment distance: inserting, deleting or replacing a
/// character, or swapping two neighbouring ones, each cost one edit. Swaps
/// count once, not twice as in plain Levenshtein, because transposed letters
/// are among the commonest typos.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // table[i][j]: the distance between a[..i] and b[..j].
    let mut table = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, cells) in table.iter_mut().enumerate() {
        cells[0] = i;
    }
    for (j, cell) in table[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let replace = table[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = replace.min(table[i - 1][j] + 1).min(table[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[i - 2][j - 2] + 1);
            }
            table[i][j] = best;
        }
    }
    table[a.len()][b.len()]
}

/// `SFCRIME_` + key upper-cased with '.' and '-' as '_'.
pub fn env_name(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        key.to_uppercase().replace(['.', '-'], "_")
    )
}

/// True for keys whose values must never be printed (passwords, keys, JAAS).
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "jaas",
        "token",
        "key.pem",
        // Java's PEM private key given inline (ssl.keystore.key).
        "keystore.key",
        "credentials",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// The value as it may be shown to a user.
pub fn redact<'a>(key: &str, value: &'a str) -> &'a str {
    if is_secret(key) && !value.is_empty() {
        "[redacted]"
    } else {
        value
    }
}

/// Parses Java-style `.properties` text: `key=value` or `key: value`, `#`/`!`
/// comments, blank lines. Line continuations are not supported (and rejected).
pub fn parse_properties(text: &str) -> Result<Vec<(String, String)>> {
    Ok(parse_numbered_properties(text)?
        .into_iter()
        .map(|(_, key, value)| (key, value))
        .collect())
}

/// As [`parse_properties`], each pair with its 1-based line number, so that
/// a refused key can be pointed at.
fn parse_numbered_properties(text: &str) -> Result<Vec<(usize, String, String)>> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        if line.ends_with('\\') {
            bail!("line {}: line continuations are not supported", index + 1);
        }
        let Some(split) = line.find(['=', ':']) else {
            bail!("line {}: expected key=value, got '{line}'", index + 1);
        };
        let key = line[..split].trim();
        if key.is_empty() {
            bail!("line {}: empty key", index + 1);
        }
        out.push((
            index + 1,
            key.to_string(),
            line[split + 1..].trim().to_string(),
        ));
    }
    Ok(out)
}

/// Parses a `key=value` flag (as in `-X key=value` or `--conf key=value`).
pub fn parse_key_value(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected key=value, got '{raw}'")),
    }
}

/// Finds the project home: `SFCRIME_HOME`, else the nearest ancestor of the
/// current directory holding `config/sfcrime.properties`, else `fallback`.
pub fn find_home(fallback: &Path) -> PathBuf {
    if let Ok(home) = std::env::var("SFCRIME_HOME") {
        return PathBuf::from(home);
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            if dir.join("config/sfcrime.properties").is_file() {
                return dir.to_path_buf();
            }
        }
    }
    fallback.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.properties");
        std::fs::write(&file, "topic = from-file\nkafka.port=19092\n# c\n").unwrap();
        let env = vec![("SFCRIME_KAFKA_PORT".to_string(), "29092".to_string())];
        let mut s = Settings::load_with_env(dir.path(), Some(&file), env).unwrap();
        assert_eq!(s.get("topic"), Some("from-file"));
        assert_eq!(s.layer("topic"), Some(Layer::File));
        assert_eq!(s.parse::<u16>("kafka.port").unwrap(), 29092);
        assert_eq!(s.layer("kafka.port"), Some(Layer::Env));
        s.set_flag("kafka.port", Some(39092));
        assert_eq!(s.bootstrap_servers().unwrap(), "127.0.0.1:39092");
        // A weaker layer never overrides a stronger one.
        s.set("kafka.port", "1", Layer::File);
        assert_eq!(s.get("kafka.port"), Some("39092"));
        assert_eq!(s.get("topic.partitions"), Some("3"));
    }

    #[test]
    fn local_nodes_take_every_second_port() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::load_with_env(dir.path(), None, Vec::new()).unwrap();
        assert_eq!(s.bootstrap_servers().unwrap(), "127.0.0.1:9092");
        s.set_flag("kafka.brokers", Some(3));
        let ports: Vec<_> = s
            .local_nodes()
            .unwrap()
            .iter()
            .map(|n| (n.id, n.port, n.controller_port))
            .collect();
        assert_eq!(ports, [(1, 9092, 9093), (2, 9094, 9095), (3, 9096, 9097)]);
        assert_eq!(
            s.bootstrap_servers().unwrap(),
            "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"
        );
        s.set_flag("kafka.controller.port", Some(9094));
        let err = s.local_nodes().unwrap_err().to_string();
        assert!(err.contains("clash") && err.contains("9094"), "{err}");
        s.set_flag("kafka.controller.port", Some(9098));
        assert!(s.local_nodes().is_ok());
        s.set_flag("kafka.brokers", Some(0));
        let err = s.local_nodes().unwrap_err().to_string();
        assert!(
            err.contains("kafka.brokers") && err.contains("flag"),
            "{err}"
        );
        s.set_flag("kafka.brokers", Some(2));
        s.set_flag("kafka.port", Some(65535));
        assert!(s.local_nodes().is_err());
    }

    #[test]
    fn invalid_values_name_key_and_layer() {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![("SFCRIME_KAFKA_PORT".to_string(), "http".to_string())];
        let s = Settings::load_with_env(dir.path(), None, env).unwrap();
        let err = s.parse::<u16>("kafka.port").unwrap_err().to_string();
        assert!(err.contains("kafka.port") && err.contains("env"), "{err}");
    }

    #[test]
    fn bad_properties_lines_are_rejected_with_line_number() {
        let err = parse_properties("a=1\nnovalue\n").unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert_eq!(
            parse_properties("a: b=c\n").unwrap(),
            vec![("a".into(), "b=c".into())]
        );
    }

    #[test]
    fn unknown_file_key_is_refused_with_file_line_and_suggestion() {
        let home = tempfile::tempdir().unwrap();
        let file = home.path().join("config/sfcrime.properties");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "# brokers\n\ntopic=t\nbootstrap.server=h:9092\n").unwrap();
        let err = Settings::load_with_env(home.path(), None, Vec::new())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "{}:4: unknown setting 'bootstrap.server' (did you mean 'bootstrap.servers'?)",
                file.display()
            )
        );
    }

    #[test]
    fn swapped_letters_in_a_file_key_are_one_edit_away() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.properties");
        std::fs::write(&file, "kafka.prot=1\n").unwrap();
        let err = Settings::load_with_env(dir.path(), Some(&file), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with(
                "p.properties:1: unknown setting 'kafka.prot' (did you mean 'kafka.port'?)"
            ),
            "{err}"
        );
        assert_eq!(edit_distance("topci", "topic"), 1);
        assert_eq!(edit_distance("", "java"), 4);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn the_shipped_properties_file_holds_only_known_settings() {
        let home = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let s = Settings::load_with_env(&home, None, Vec::new()).unwrap();
        assert_eq!(s.layer("topic"), Some(Layer::File));
    }

    #[test]
    fn far_off_file_key_gets_no_suggestion() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.properties");
        std::fs::write(&file, "topic=t\ncolour: blue\n").unwrap();
        let err = Settings::load_with_env(dir.path(), Some(&file), Vec::new())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("{}:2: unknown setting 'colour'", file.display())
        );
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn unknown_env_var_is_refused_with_suggestion() {
        let dir = tempfile::tempdir().unwrap();
        let err = Settings::load_with_env(
            dir.path(),
            None,
            env(&[("SFCRIME_KAFKA_PORT", "1"), ("SFCRIME_KAFKA_PROT", "2")]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "unknown setting variable 'SFCRIME_KAFKA_PROT' in the environment \
             (did you mean 'SFCRIME_KAFKA_PORT'?)"
        );
        // The allow-list is among the suggestions too.
        let err = Settings::load_with_env(dir.path(), None, env(&[("SFCRIME_HOM", "/x")]))
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("(did you mean 'SFCRIME_HOME'?)"), "{err}");
        let err = Settings::load_with_env(dir.path(), None, env(&[("SFCRIME_COLOUR", "blue")]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "unknown setting variable 'SFCRIME_COLOUR' in the environment"
        );
    }

    #[test]
    fn allow_listed_and_foreign_env_vars_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let mut pairs: Vec<(&str, &str)> = OTHER_ENV_VARS.iter().map(|name| (*name, "x")).collect();
        // Not ours: no SFCRIME_ prefix (and names are case-sensitive).
        pairs.extend([("PATH", "/bin"), ("sfcrime_colour", "blue")]);
        let s = Settings::load_with_env(dir.path(), None, env(&pairs)).unwrap();
        assert!(s.dump().lines().all(|line| line.ends_with("(default)")));
    }

    #[test]
    fn each_env_var_has_one_meaning() {
        let mut names: Vec<String> = DEFAULTS.iter().map(|(key, _)| env_name(key)).collect();
        names.extend(OTHER_ENV_VARS.iter().map(|name| name.to_string()));
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "two meanings share a variable");
    }

    #[test]
    fn every_known_key_works_in_every_layer() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.properties");
        let text: String = DEFAULTS
            .iter()
            .map(|(key, _)| format!("{key}=file\n"))
            .collect();
        std::fs::write(&file, text).unwrap();
        let s = Settings::load_with_env(dir.path(), None, Vec::new()).unwrap();
        for (key, default) in DEFAULTS {
            assert_eq!(s.get(key), Some(*default), "{key}");
            assert_eq!(s.layer(key), Some(Layer::Default), "{key}");
        }
        let s = Settings::load_with_env(dir.path(), Some(&file), Vec::new()).unwrap();
        for (key, _) in DEFAULTS {
            assert_eq!(s.get(key), Some("file"), "{key}");
            assert_eq!(s.layer(key), Some(Layer::File), "{key}");
        }
        let names: Vec<String> = DEFAULTS.iter().map(|(key, _)| env_name(key)).collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "env")).collect();
        let mut s = Settings::load_with_env(dir.path(), Some(&file), env(&pairs)).unwrap();
        for (key, _) in DEFAULTS {
            assert_eq!(s.get(key), Some("env"), "{key}");
            assert_eq!(s.layer(key), Some(Layer::Env), "{key}");
            s.set_flag(key, Some("flag"));
            assert_eq!(s.get(key), Some("flag"), "{key}");
            assert_eq!(s.layer(key), Some(Layer::Flag), "{key}");
        }
    }

    #[test]
    fn secrets_are_redacted_in_dumps() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::load_with_env(dir.path(), None, Vec::new()).unwrap();
        s.set("sasl.password", "hunter2", Layer::Flag);
        s.set("kafka.admin.password", "hunter3", Layer::Env);
        let dump = s.dump();
        assert!(!dump.contains("hunter2") && !dump.contains("hunter3"));
        assert!(dump.contains("sasl.password = [redacted]  (flag)"));
        assert!(dump.contains("kafka.admin.password = [redacted]  (env)"));
        for key in ["sasl.jaas.config", "ssl.keystore.key", "ssl.key.password"] {
            assert!(is_secret(key), "{key}");
        }
        assert!(!is_secret("ssl.ca.location") && !is_secret("sasl.username"));
        assert_eq!(
            parse_key_value("a=b=c").unwrap(),
            ("a".into(), "b=c".into())
        );
        assert!(parse_key_value("=x").is_err());
    }
}
