//! The settings the project knows: every key with its default, the
//! `SFCRIME_*` variable each key is read from, the other `SFCRIME_*`
//! variables the project uses for something else, and the "did you mean"
//! hint for a name that is none of them.

use crate::suggest::nearest;

/// Every setting's key and default; a key not here is refused.
pub(crate) const DEFAULTS: &[(&str, &str)] = &[
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
    // `spark server`: a Spark Connect server for `spark run --remote`.
    ("connect.dir", ".stack/spark-connect"),
    ("connect.port", "15002"),
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

/// The prefix of every environment variable of the project.
pub(crate) const ENV_PREFIX: &str = "SFCRIME_";

/// The `SFCRIME_*` variables that are not settings: the project reads them
/// for other purposes, so the environment layer lets them pass instead of
/// refusing them. None may be a setting's variable too (a test checks), so
/// that each name has one meaning.
pub(crate) const OTHER_ENV_VARS: &[&str] = &[
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
pub(crate) fn is_setting(key: &str) -> bool {
    DEFAULTS.iter().any(|(known, _)| *known == key)
}

/// True for a variable that [`env_name`] makes of some setting's key.
pub(crate) fn is_setting_env(name: &str) -> bool {
    DEFAULTS.iter().any(|(key, _)| env_name(key) == name)
}

/// " (did you mean 'SFCRIME_…'?)" naming the known variable nearest to the
/// unknown `name`, or nothing. The shared prefix is left out of the
/// comparison: it would make every name look close to every other.
pub(crate) fn env_hint(name: &str) -> String {
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

/// `SFCRIME_` + key upper-cased with '.' and '-' as '_'.
pub fn env_name(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        key.to_uppercase().replace(['.', '-'], "_")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_env_var_has_one_meaning() {
        let mut names: Vec<String> = DEFAULTS.iter().map(|(key, _)| env_name(key)).collect();
        names.extend(OTHER_ENV_VARS.iter().map(|name| name.to_string()));
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "two meanings share a variable");
    }
}
