//! Configuration in one place, layered: built-in defaults < a properties file
//! (`config/sfcrime.properties`) < `SFCRIME_*` environment variables < flags.
//!
//! Every value remembers which layer set it, so `--verbose` dumps can say
//! where a setting came from, and secrets are redacted when shown. A file key
//! or `SFCRIME_*` variable the project does not know is refused, with the
//! nearest known one suggested, because a silently ignored typo leaves the
//! default in force unnoticed.
//!
//! This file owns the layered [`Settings`] and what is derived from them
//! (paths, the local stack's nodes); `known.rs` the keys and variables,
//! `suggest.rs` the typo hints, `properties.rs` the file format and
//! `secret.rs` what is never shown.

mod known;
mod properties;
mod secret;
mod suggest;

pub use known::env_name;
pub use properties::{parse_key_value, parse_properties};
pub use secret::{is_secret, redact};

use anyhow::{bail, Context, Result};
use known::{env_hint, is_setting, is_setting_env, DEFAULTS, ENV_PREFIX, OTHER_ENV_VARS};
use properties::parse_numbered_properties;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use suggest::nearest;

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
    }
}
