//! The two ways `stack up` can run Kafka (setting `kafka.mode`). KRaft, the
//! default, is Kafka 4: one JVM that is both broker and controller.
//! ZooKeeper mode is the original exercise's set-up: a ZooKeeper server and a
//! Kafka 3.9 broker (3.9 is the last line with ZooKeeper). This module owns
//! what differs for the broker between the two; the ZooKeeper server itself
//! is in zookeeper.rs.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Kraft,
    Zookeeper,
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(text: &str) -> Result<Mode, String> {
        match text.trim() {
            "kraft" => Ok(Mode::Kraft),
            "zookeeper" => Ok(Mode::Zookeeper),
            other => Err(format!(
                "unknown Kafka mode '{other}': use 'kraft' (Kafka 4, the default) or \
                 'zookeeper' (Kafka 3.9 with a ZooKeeper server, as in the original exercise)"
            )),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Kraft => "kraft",
            Mode::Zookeeper => "zookeeper",
        })
    }
}

impl Mode {
    /// The pom that resolves the broker's jars (their versions differ, so
    /// they are cached apart).
    pub(crate) fn pom(self) -> &'static str {
        match self {
            Mode::Kraft => "config/kafka-pom.xml",
            Mode::Zookeeper => "config/kafka-zookeeper-pom.xml",
        }
    }

    /// The broker's config template; the generated copy in the stack dir
    /// keeps its file name.
    pub(crate) fn server_template(self) -> &'static str {
        match self {
            Mode::Kraft => "config/server.properties",
            Mode::Zookeeper => "config/server-zookeeper.properties",
        }
    }

    /// The JVM flag that configures logging: Kafka 4 logs through Log4j 2,
    /// Kafka 3.9 and its ZooKeeper through Log4j 1 (reload4j), which ignores
    /// Log4j 2's flag and would warn that it has no appender.
    pub(crate) fn logging_flag(self, home: &Path) -> String {
        match self {
            Mode::Kraft => format!(
                "-Dlog4j2.configurationFile={}",
                home.join("config/broker-log4j2.properties").display()
            ),
            Mode::Zookeeper => format!(
                "-Dlog4j.configuration=file:{}",
                home.join("config/zookeeper-mode-log4j.properties")
                    .display()
            ),
        }
    }

    /// The broker's data dir under the stack dir. Apart per mode: a KRaft
    /// log dir is formatted for a KRaft cluster, which a ZooKeeper-mode
    /// broker refuses, and the other way round.
    pub(crate) fn data_dir(self) -> &'static str {
        match self {
            Mode::Kraft => "data",
            Mode::Zookeeper => "data-zk",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_modes_and_names_the_choices_otherwise() {
        assert_eq!("kraft".parse::<Mode>(), Ok(Mode::Kraft));
        assert_eq!(" zookeeper ".parse::<Mode>(), Ok(Mode::Zookeeper));
        let err = "zk".parse::<Mode>().unwrap_err();
        assert!(
            err.contains("'zk'") && err.contains("'kraft'") && err.contains("'zookeeper'"),
            "{err}"
        );
        assert_eq!(Mode::Zookeeper.to_string(), "zookeeper");
    }
}
