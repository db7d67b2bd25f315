//! Flags shared by the commands that talk to Kafka, after kcat: `-b`
//! brokers, `-t` topic, `-X key=value` for any librdkafka setting, `-F` a
//! librdkafka properties file.

use anyhow::{Context, Result};
use clap::Args;
use sfcrime_config::{parse_key_value, parse_properties, Settings};
use sfcrime_kafka::client::KafkaSettings;
use std::path::PathBuf;

#[derive(Args, Clone)]
pub struct KafkaArgs {
    /// Bootstrap brokers, host:port[,host:port...] [setting bootstrap.servers;
    /// default: the local broker of `sfcrime stack up`].
    #[arg(short = 'b', long = "brokers", value_name = "HOST:PORT,...")]
    pub brokers: Option<String>,
    /// Topic [setting topic, default sf.police.calls].
    #[arg(short = 't', long)]
    pub topic: Option<String>,
    /// A librdkafka setting, e.g. -X security.protocol=SASL_SSL (repeatable;
    /// wins over -F and the defaults).
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub librdkafka: Vec<(String, String)>,
    /// librdkafka properties file [default: config/<producer|consumer>.properties if present].
    #[arg(short = 'F', long = "client-config", value_name = "FILE")]
    pub client_config: Option<PathBuf>,
    /// How long to wait for the broker (and, when consuming, for the next
    /// message) before giving up, in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub timeout: f64,
}

impl KafkaArgs {
    pub fn apply(&self, settings: &mut Settings) {
        settings.set_flag("bootstrap.servers", self.brokers.as_ref());
        settings.set_flag("topic", self.topic.as_ref());
    }

    /// Bootstrap list plus librdkafka overrides: the properties file (the
    /// given one, or `config/<role>.properties`), then `-X` flags.
    pub fn kafka_settings(&self, settings: &Settings, role: &str) -> Result<KafkaSettings> {
        let mut kafka = KafkaSettings::new(settings.bootstrap_servers()?);
        let file = match &self.client_config {
            Some(path) => Some(path.clone()),
            None => Some(settings.home().join(format!("config/{role}.properties")))
                .filter(|p| p.is_file()),
        };
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read librdkafka settings {}", path.display()))?;
            kafka.overrides = parse_properties(&text)
                .with_context(|| format!("in librdkafka settings {}", path.display()))?;
        }
        kafka.overrides.extend(self.librdkafka.iter().cloned());
        Ok(kafka)
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout.max(0.1))
    }
}
