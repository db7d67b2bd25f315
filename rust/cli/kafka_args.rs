//! Flags shared by the commands that talk to Kafka, after kcat: `-b`
//! brokers, `-t` topic, `-X key=value` for any librdkafka setting, `-F` a
//! librdkafka properties file; and `--timeout`, for the commands that wait
//! on the broker themselves.

use anyhow::{Context, Result};
use clap::Args;
use sfcrime_config::{parse_key_value, parse_properties, Settings};
use sfcrime_kafka::client::KafkaSettings;
use sfcrime_spark::job::{parse_kafka_settings_env, KAFKA_SETTINGS_ENV};
use sfcrime_stack::security::{Role, Security};
use sfcrime_stack::Stack;
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
    /// librdkafka properties file [default: the settings in
    /// $SFCRIME_KAFKA_CLIENT_SETTINGS (a JSON object: how sweep and bench
    /// hand theirs to the producer they start), else
    /// config/<producer|consumer>.properties if present, else on the local
    /// SASL_SSL stack the producer's or consumer's file that `stack up`
    /// wrote, <stack.dir>/<producer|consumer>.properties].
    #[arg(short = 'F', long = "client-config", value_name = "FILE")]
    pub client_config: Option<PathBuf>,
}

impl KafkaArgs {
    pub fn apply(&self, settings: &mut Settings) {
        settings.set_flag("bootstrap.servers", self.brokers.as_ref());
        settings.set_flag("topic", self.topic.as_ref());
    }

    /// Bootstrap list plus librdkafka overrides: the properties file given,
    /// else a parent sfcrime's settings from the environment, else
    /// `config/<role>.properties`, else the role's user's file of the local
    /// SASL_SSL stack; then `-X` flags.
    pub fn kafka_settings(&self, settings: &Settings, role: Role) -> Result<KafkaSettings> {
        let mut kafka = KafkaSettings::new(settings.bootstrap_servers()?);
        let default_file = settings
            .home()
            .join(format!("config/{}.properties", role.name()));
        let file = match (&self.client_config, std::env::var(KAFKA_SETTINGS_ENV)) {
            (Some(path), _) => Some(path.clone()),
            (None, Ok(text)) => {
                kafka.overrides = parse_kafka_settings_env(&text).map_err(anyhow::Error::msg)?;
                None
            }
            (None, Err(_)) if default_file.is_file() => Some(default_file),
            (None, Err(_)) => local_stack_user_file(settings, role)?,
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

    /// The settings of the commands that run the Spark job (`spark run`,
    /// `sweep`, `bench connector|latency`): the job reads, so the default
    /// file is the consumer's; the same settings serve their topic admin
    /// and the producers they start.
    pub fn job_kafka_settings(&self, settings: &Settings) -> Result<KafkaSettings> {
        self.kafka_settings(settings, Role::Consumer)
    }

    /// Whether -X or -F was given (a command that cannot pass them on
    /// refuses them).
    pub fn has_client_settings(&self) -> bool {
        !self.librdkafka.is_empty() || self.client_config.is_some()
    }
}

/// The file `stack up` wrote for `role`'s user, when the clients talk to
/// the local brokers (no bootstrap.servers) and those run SASL_SSL.
fn local_stack_user_file(settings: &Settings, role: Role) -> Result<Option<PathBuf>> {
    let local = settings.string("bootstrap.servers")?.trim().is_empty();
    if !local || settings.parse::<Security>("kafka.security")? != Security::SaslSsl {
        return Ok(None);
    }
    let file = Stack::from_settings(settings)?.client_settings_file(role);
    Ok(Some(file).filter(|p| p.is_file()))
}

#[derive(Args, Clone)]
pub struct TimeoutArgs {
    /// How long to wait for the broker (and, when consuming, for the next
    /// message) before giving up, in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    timeout: f64,
}

impl TimeoutArgs {
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout.max(0.1))
    }
}
