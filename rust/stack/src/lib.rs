//! The local Apache Kafka broker (KRaft, broker and controller in one JVM;
//! or, in ZooKeeper mode, a Kafka 3.9 broker beside a ZooKeeper server):
//! resolving its jars from Maven Central once, formatting storage, starting
//! it in the background (its client listener PLAINTEXT or SASL_SSL), waiting
//! until it answers, creating the project's topic, and stopping it by its
//! recorded pid.

mod jars;
pub mod java;
mod mode;
mod process;
pub mod security;
mod zookeeper;

pub use mode::Mode;
pub use zookeeper::ZookeeperStatus;

use anyhow::{bail, Context, Result};
use security::{write_private, Credentials, Security, Tls};
use sfcrime_config::Settings;
use sfcrime_kafka::admin::{self, TopicState};
use sfcrime_kafka::client::{KafkaSettings, Refused};
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Everything needed to run the local broker, resolved from [`Settings`].
#[derive(Debug, Clone)]
pub struct Stack {
    pub home: PathBuf,
    /// Runtime directory: pid file, log, generated config, data.
    pub stack_dir: PathBuf,
    /// Jar cache shared by every stack dir.
    pub cache_dir: PathBuf,
    pub mode: Mode,
    pub port: u16,
    pub controller_port: u16,
    /// ZooKeeper's client port (ZooKeeper mode only).
    pub zookeeper_port: u16,
    pub topic: String,
    pub partitions: i32,
    pub replication: i32,
    /// Delete and recreate the topic on `up`, for a run from a clean slate.
    pub recreate_topic: bool,
    /// The client listener's security (`kafka.security`).
    pub security: Security,
    /// CA and broker certificate for SASL_SSL (`kafka.tls.dir`).
    pub tls: Tls,
    /// The SCRAM user, or why there is none (only needed for SASL_SSL).
    admin: Result<Credentials, String>,
    java_setting: String,
}

/// What `status` found.
#[derive(Debug)]
pub enum Status {
    Running {
        pid: u32,
        port: u16,
        brokers: Vec<String>,
        topics: Vec<(String, usize)>,
    },
    /// The process runs but did not answer a metadata request.
    Unresponsive {
        pid: u32,
        port: u16,
    },
    Stopped,
}

const READY_TIMEOUT: Duration = Duration::from_secs(90);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

impl Stack {
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        let stack_dir = settings.path("stack.dir")?;
        let tls_dir = match settings.string("kafka.tls.dir")?.trim() {
            "" => stack_dir.join("tls"),
            _ => settings.path("kafka.tls.dir")?,
        };
        Ok(Stack {
            home: settings.home().to_path_buf(),
            security: settings.parse("kafka.security")?,
            tls: Tls { dir: tls_dir },
            admin: Credentials::from_settings(settings).map_err(|e| format!("{e:#}")),
            stack_dir,
            cache_dir: settings.path("cache.dir")?,
            mode: settings.parse("kafka.mode")?,
            port: settings.parse("kafka.port")?,
            controller_port: settings.parse("kafka.controller.port")?,
            zookeeper_port: settings.parse("zookeeper.port")?,
            topic: settings.string("topic")?,
            partitions: settings.parse("topic.partitions")?,
            replication: settings.parse("topic.replication.factor")?,
            recreate_topic: false,
            java_setting: settings.string("java")?,
        })
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log_file(&self) -> PathBuf {
        self.stack_dir.join("kafka.log")
    }

    /// librdkafka settings for the admin user, written by `up` when the
    /// listener is SASL_SSL: `sfcrime produce -F <this file>` etc.
    pub fn client_properties(&self) -> PathBuf {
        self.stack_dir.join("client.properties")
    }

    fn credentials(&self) -> Result<&Credentials> {
        self.admin.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The librdkafka settings that reach a broker run with `security` as
    /// the admin user.
    fn client_overrides(&self, security: Security) -> Result<Vec<(String, String)>> {
        Ok(match security {
            Security::Plaintext => Vec::new(),
            Security::SaslSsl => {
                let admin = self.credentials()?;
                [
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanisms", security::MECHANISM),
                    ("sasl.username", &admin.user),
                    ("sasl.password", admin.password()),
                    ("ssl.ca.location", &self.tls.ca().display().to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
            }
        })
    }

    /// A client of the broker on `port` run with `security`.
    fn client(&self, port: u16, security: Security) -> Result<KafkaSettings> {
        let mut kafka = KafkaSettings::new(format!("127.0.0.1:{port}"));
        kafka.overrides = self.client_overrides(security)?;
        Ok(kafka)
    }

    /// The broker process; its pid file records `<pid> <port> <mode> <security>`.
    fn broker(&self) -> process::Daemon {
        process::Daemon {
            name: "Kafka broker",
            main_class: "kafka.Kafka",
            pid_file: self.stack_dir.join("kafka.pid"),
            log_file: self.log_file(),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.stack_dir.join(self.mode.data_dir())
    }

    /// Resolves the broker jars of the mode (downloading them once) and
    /// returns the directory that holds them.
    pub fn install(&self, progress: &mut dyn FnMut(&str)) -> Result<PathBuf> {
        jars::ensure_kafka_jars(&self.home.join(self.mode.pom()), &self.cache_dir, progress)
    }

    /// Installs if needed, starts the broker and creates the topic. Returns a
    /// human-readable account of what it did.
    pub fn up(&self, progress: &mut dyn FnMut(&str)) -> Result<String> {
        if let Some(pid) = self.running_pid()? {
            let (recorded_port, recorded_security) = self.recorded();
            if (recorded_port, recorded_security) != (self.port, self.security) {
                bail!(
                    "a broker from {} already runs on port {recorded_port} with \
                     {recorded_security} (pid {pid}), not on {} with {}; run `sfcrime stack \
                     down` first",
                    self.stack_dir.display(),
                    self.port,
                    self.security
                );
            }
            let running_mode = self.recorded_mode();
            if running_mode != self.mode {
                bail!(
                    "a {running_mode}-mode broker from {} already runs (pid {pid}); run \
                     `sfcrime stack down` before starting one in {} mode",
                    self.stack_dir.display(),
                    self.mode
                );
            }
            let topic = self.ensure_topic()?;
            return Ok(format!(
                "Kafka broker already running at {} (pid {pid}); {topic}{}",
                self.bootstrap(),
                self.write_client_properties()?
            ));
        }
        if self.security == Security::SaslSsl && self.mode == Mode::Zookeeper {
            bail!(
                "SASL_SSL is offered for the KRaft broker only (its SCRAM user is made when the \
                 KRaft storage is formatted); use --mode kraft or --security plaintext"
            );
        }
        let java = java::find(&self.java_setting)?;
        ensure_port_free("broker", self.port, "--port", "kafka.port")?;
        if self.mode == Mode::Kraft {
            ensure_port_free(
                "controller",
                self.controller_port,
                "--controller-port",
                "kafka.controller.port",
            )?;
        }
        // Fails early when SASL_SSL has no admin password.
        self.client(self.port, self.security)?;
        let lib = self.install(progress)?;
        fs::create_dir_all(&self.stack_dir)
            .with_context(|| format!("cannot create {}", self.stack_dir.display()))?;
        if self.security == Security::SaslSsl {
            self.tls.ensure(progress)?;
        }
        let classpath = format!("{}/*", lib.display());
        // In ZooKeeper mode the broker registers in ZooKeeper, so that starts first.
        let zookeeper = self.zookeeper_up(&java, &classpath, progress)?;
        let pid = self
            .start_broker(&java, &classpath, progress)
            .inspect_err(|_| self.zookeeper_abandon(&zookeeper))?;
        let topic = self.ensure_topic()?;
        Ok(format!(
            "{}Kafka {} broker up at {} (pid {pid}, log {}); {topic}{}",
            zookeeper.map(|z| z.summary + "\n").unwrap_or_default(),
            jars::kafka_version(&self.home.join(self.mode.pom()))?,
            self.bootstrap(),
            self.log_file().display(),
            self.write_client_properties()?
        ))
    }

    /// With SASL_SSL, (re)writes the clients' settings and says where they
    /// are; nothing to say for a plaintext listener.
    fn write_client_properties(&self) -> Result<String> {
        if self.security == Security::Plaintext {
            return Ok(String::new());
        }
        let text: String = self
            .client_overrides(self.security)?
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        write_private(
            &self.client_properties(),
            &format!(
                "# librdkafka settings for the local SASL_SSL broker, written by \
                 `sfcrime stack up`.\n{text}"
            ),
        )?;
        Ok(format!(
            "\nclients: SASL_SSL ({}) as '{}', CA {}; settings in {} (-F)",
            security::MECHANISM,
            self.credentials()?.user,
            self.tls.ca().display(),
            self.client_properties().display()
        ))
    }

    /// A refused login while waiting for our own broker means the SCRAM user
    /// in its storage is not the configured one: say how that happens.
    fn explain_refusal(&self, err: anyhow::Error) -> anyhow::Error {
        if !err.is::<Refused>() {
            return err;
        }
        let user = self
            .credentials()
            .map(|c| c.user.clone())
            .unwrap_or_default();
        err.context(format!(
            "The SCRAM user '{user}' is created when the storage is formatted: by the first \
             `stack up --security sasl_ssl` on an empty stack dir, with the password of that \
             moment. If {} was formatted before, or with another password, delete {} to format \
             it anew (its topics are lost).",
            self.stack_dir.display(),
            self.data_dir().display()
        ))
    }

    /// Formats storage (KRaft, once), starts the broker and waits until it
    /// answers; returns its pid.
    fn start_broker(
        &self,
        java: &java::Java,
        classpath: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<u32> {
        let server_properties = self.write_server_properties()?;
        if self.mode == Mode::Kraft && !self.data_dir().join("meta.properties").exists() {
            progress("formatting broker storage");
            self.format_storage(java, classpath, &server_properties)?;
        }
        progress("starting the broker");
        let jvm_args = [
            "-Xms256m".to_string(),
            "-Xmx768m".to_string(),
            "-XX:+UseG1GC".to_string(),
            "-Djava.awt.headless=true".to_string(),
            self.mode.logging_flag(&self.home),
        ];
        let broker = self.broker();
        let mut child = broker.start(
            &java.path,
            &jvm_args,
            classpath,
            &server_properties,
            &format!("{} {} {}", self.port, self.mode, self.security),
        )?;
        progress("waiting for the broker to answer");
        let kafka = self.client(self.port, self.security)?;
        broker.await_ready(&mut child, STOP_TIMEOUT, |alive| {
            admin::wait_ready(&kafka, READY_TIMEOUT, alive).map_err(|e| self.explain_refusal(e))
        })?;
        Ok(child.id())
    }

    fn ensure_topic(&self) -> Result<String> {
        let kafka = self.client(self.port, self.security)?;
        if self.recreate_topic {
            admin::delete_topic(&kafka, &self.topic, Duration::from_secs(30))?;
            admin::wait_deleted(&kafka, &self.topic, Duration::from_secs(30))?;
        }
        let state = admin::ensure_topic(
            &kafka,
            &self.topic,
            self.partitions,
            self.replication,
            &[],
            Duration::from_secs(30),
        )?;
        Ok(match state {
            TopicState::Created { partitions } => {
                format!(
                    "topic '{}' created with {partitions} partitions",
                    self.topic
                )
            }
            TopicState::Existed { partitions } if partitions as i32 != self.partitions => format!(
                "topic '{}' exists with {partitions} partitions (config asks for {}; \
                 delete the stack dir to recreate)",
                self.topic, self.partitions
            ),
            TopicState::Existed { partitions } => {
                format!("topic '{}' exists with {partitions} partitions", self.topic)
            }
        })
    }

    /// Stops the broker recorded in the pid file, waiting for it to exit,
    /// then ZooKeeper if it runs (the broker leaves it on the way down).
    pub fn down(&self) -> Result<String> {
        let broker = match self.broker().stop(STOP_TIMEOUT)? {
            Some(pid) => format!("Kafka broker stopped (pid {pid})"),
            None => "no Kafka broker is running".to_string(),
        };
        Ok(match self.zookeeper_down()? {
            Some(zookeeper) => format!("{broker}\n{zookeeper}"),
            None => broker,
        })
    }

    pub fn status(&self) -> Result<Status> {
        let Some(pid) = self.running_pid()? else {
            return Ok(Status::Stopped);
        };
        let (port, security) = self.recorded();
        let kafka = self.client(port, security)?;
        Ok(match admin::metadata(&kafka, Duration::from_secs(5)) {
            Ok(info) => Status::Running {
                pid,
                port,
                brokers: info.brokers,
                topics: info.topics,
            },
            Err(_) => Status::Unresponsive { pid, port },
        })
    }

    fn running_pid(&self) -> Result<Option<u32>> {
        self.broker().running_pid()
    }

    /// The port and security the running broker was started with (the pid
    /// file's first and third words after the pid), else the configured ones.
    fn recorded(&self) -> (u16, Security) {
        let broker = self.broker();
        (
            broker
                .recorded(0)
                .and_then(|p| p.parse().ok())
                .unwrap_or(self.port),
            broker
                .recorded(2)
                .and_then(|s| s.parse().ok())
                .unwrap_or(self.security),
        )
    }

    /// The mode the running broker was started in (pid files written before
    /// there were modes record none: those brokers are KRaft).
    pub fn recorded_mode(&self) -> Mode {
        self.broker()
            .recorded(1)
            .and_then(|mode| mode.parse().ok())
            .unwrap_or(Mode::Kraft)
    }

    /// The mode's server config template with the sfcrime-owned keys filled
    /// in. With SASL_SSL it holds the admin user's password (the broker's own
    /// login on its inter-broker listener), so it is written with mode 0600.
    fn write_server_properties(&self) -> Result<PathBuf> {
        let (port, cport) = (self.port, self.controller_port);
        // The client listener is named after its protocol.
        let name = match self.security {
            Security::Plaintext => "PLAINTEXT",
            Security::SaslSsl => "SASL_SSL",
        };
        let mut owned = vec![
            ("advertised.listeners", format!("{name}://127.0.0.1:{port}")),
            ("inter.broker.listener.name", name.to_string()),
            ("log.dirs", self.data_dir().display().to_string()),
        ];
        owned.extend(match self.mode {
            Mode::Kraft => [
                ("controller.quorum.voters", format!("1@127.0.0.1:{cport}")),
                (
                    "listeners",
                    format!("{name}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}"),
                ),
                (
                    "listener.security.protocol.map",
                    format!("{name}:{name},CONTROLLER:PLAINTEXT"),
                ),
            ],
            Mode::Zookeeper => [
                (
                    "zookeeper.connect",
                    format!("127.0.0.1:{}", self.zookeeper_port),
                ),
                ("listeners", format!("{name}://127.0.0.1:{port}")),
                ("listener.security.protocol.map", format!("{name}:{name}")),
            ],
        });
        if self.security == Security::SaslSsl {
            let mechanism = security::MECHANISM;
            owned.extend([
                ("sasl.enabled.mechanisms", mechanism.to_string()),
                (
                    "sasl.mechanism.inter.broker.protocol",
                    mechanism.to_string(),
                ),
                (
                    "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config",
                    self.credentials()?.jaas(),
                ),
                ("ssl.keystore.type", "PEM".to_string()),
                (
                    "ssl.keystore.location",
                    self.tls.key_store().display().to_string(),
                ),
                ("ssl.truststore.type", "PEM".to_string()),
                (
                    "ssl.truststore.location",
                    self.tls.ca().display().to_string(),
                ),
            ]);
        }
        write_generated(
            &self.home.join(self.mode.server_template()),
            &owned,
            &self.stack_dir,
        )
    }

    /// Formats the storage with a new cluster id; with SASL_SSL, also adds
    /// the SCRAM user, whose password reaches StorageTool in a 0600 Java
    /// argument file (`java @file`), not on its command line, which any
    /// local user can read in `ps`.
    fn format_storage(&self, java: &java::Java, classpath: &str, config: &Path) -> Result<()> {
        let scram = match self.security {
            Security::Plaintext => None,
            Security::SaslSsl => Some(self.credentials()?),
        };
        let argfile = self.stack_dir.join("storage-tool.args");
        let run = |args: &[&str], scram: Option<&Credentials>| -> Result<String> {
            let mut command = Command::new(&java.path);
            command.args(["-cp", classpath]);
            let mut main = vec!["kafka.tools.StorageTool".to_string()];
            main.extend(args.iter().map(|a| a.to_string()));
            match scram {
                Some(admin) => {
                    main.extend(["--add-scram".to_string(), admin.scram_spec()]);
                    write_private(&argfile, &java_argfile(&main))?;
                    command.arg(format!("@{}", argfile.display()));
                }
                None => {
                    command.args(&main);
                }
            }
            let out = command.output();
            let _ = fs::remove_file(&argfile);
            let out = out.context("cannot run Kafka's StorageTool")?;
            let text = |bytes: &[u8]| {
                let text = String::from_utf8_lossy(bytes).into_owned();
                match scram {
                    Some(admin) => text.replace(admin.password(), "[redacted]"),
                    None => text,
                }
            };
            if !out.status.success() {
                bail!(
                    "Kafka's StorageTool {} failed:\n{}{}",
                    args[0],
                    text(&out.stdout),
                    text(&out.stderr)
                );
            }
            Ok(text(&out.stdout).trim().to_string())
        };
        let cluster_id = run(&["random-uuid"], None)?;
        let config = config.display().to_string();
        run(
            &[
                "format",
                "-t",
                &cluster_id,
                "-c",
                &config,
                "--ignore-formatted",
            ],
            scram,
        )?;
        Ok(())
    }
}

/// A Java launcher argument file: one double-quoted argument per line.
fn java_argfile(args: &[String]) -> String {
    args.iter()
        .map(|a| format!("\"{}\"\n", a.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect()
}

/// Copies `template` into `dir` under its own file name, with the `owned`
/// keys' lines replaced by sfcrime's values; every other line is kept.
fn write_generated(template: &Path, owned: &[(&str, String)], dir: &Path) -> Result<PathBuf> {
    let text = fs::read_to_string(template)
        .with_context(|| format!("cannot read {}", template.display()))?;
    let mut out = format!(
        "# Generated by sfcrime from {}; edit that file, not this one.\n",
        template.display()
    );
    for line in text.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        if !owned.iter().any(|(k, _)| *k == key) {
            out.push_str(line);
            out.push('\n');
        }
    }
    for (key, value) in owned {
        out.push_str(&format!("{key}={value}\n"));
    }
    let path = dir.join(template.file_name().context("a template is a file")?);
    write_private(&path, &out)?;
    Ok(path)
}

/// `flag` and `setting` say how to pick another port.
fn ensure_port_free(what: &str, port: u16, flag: &str, setting: &str) -> Result<()> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(err) => bail!(
            "the {what} port {port} on 127.0.0.1 is already in use ({err}); \
             is another Kafka or ZooKeeper running? Pick another port with {flag} or {}",
            sfcrime_config::env_name(setting)
        ),
    }
}
