//! The local Apache Kafka broker (KRaft, broker and controller in one JVM):
//! resolving its jars from Maven Central once, formatting storage, starting
//! it in the background (its client listener PLAINTEXT or SASL_SSL), waiting
//! until it answers, creating the project's topic, and stopping it by its
//! recorded pid.

mod jars;
pub mod java;
mod process;
pub mod security;

use anyhow::{bail, Context, Result};
use security::{write_private, Credentials, Security, Tls};
use sfcrime_config::Settings;
use sfcrime_kafka::admin::{self, TopicState};
use sfcrime_kafka::client::{KafkaSettings, Refused};
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Everything needed to run the local broker, resolved from [`Settings`].
#[derive(Debug, Clone)]
pub struct Stack {
    pub home: PathBuf,
    /// Runtime directory: pid file, log, generated config, data.
    pub stack_dir: PathBuf,
    /// Jar cache shared by every stack dir.
    pub cache_dir: PathBuf,
    pub port: u16,
    pub controller_port: u16,
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
            port: settings.parse("kafka.port")?,
            controller_port: settings.parse("kafka.controller.port")?,
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

    fn pid_file(&self) -> PathBuf {
        self.stack_dir.join("kafka.pid")
    }

    fn data_dir(&self) -> PathBuf {
        self.stack_dir.join("data")
    }

    /// Resolves the broker jars (downloading them once) and returns the
    /// directory that holds them.
    pub fn install(&self, progress: &mut dyn FnMut(&str)) -> Result<PathBuf> {
        jars::ensure_kafka_jars(
            &self.home.join("config/kafka-pom.xml"),
            &self.cache_dir,
            progress,
        )
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
            let topic = self.ensure_topic()?;
            return Ok(format!(
                "Kafka broker already running at {} (pid {pid}); {topic}{}",
                self.bootstrap(),
                self.write_client_properties()?
            ));
        }
        let java = java::find(&self.java_setting)?;
        for (what, port) in [("broker", self.port), ("controller", self.controller_port)] {
            ensure_port_free(what, port)?;
        }
        let client = self.client(self.port, self.security)?;
        let lib = self.install(progress)?;
        fs::create_dir_all(&self.stack_dir)
            .with_context(|| format!("cannot create {}", self.stack_dir.display()))?;
        if self.security == Security::SaslSsl {
            self.tls.ensure(progress)?;
        }
        let server_properties = self.write_server_properties()?;
        let classpath = format!("{}/*", lib.display());
        if !self.data_dir().join("meta.properties").exists() {
            progress("formatting broker storage");
            self.format_storage(&java, &classpath, &server_properties)?;
        }
        progress("starting the broker");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_file())
            .with_context(|| format!("cannot open {}", self.log_file().display()))?;
        let mut child = process::spawn_detached(
            Command::new(&java.path)
                .args([
                    "-Xms256m",
                    "-Xmx768m",
                    "-XX:+UseG1GC",
                    "-Djava.awt.headless=true",
                ])
                .arg(format!(
                    "-Dlog4j2.configurationFile={}",
                    self.home.join("config/broker-log4j2.properties").display()
                ))
                .args(["-cp", &classpath, "kafka.Kafka"])
                .arg(&server_properties)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log),
        )
        .with_context(|| format!("cannot start {}", java.path.display()))?;
        let pid = child.id();
        fs::write(
            self.pid_file(),
            format!("{pid} {} {}\n", self.port, self.security),
        )
        .with_context(|| format!("cannot write {}", self.pid_file().display()))?;
        progress("waiting for the broker to answer");
        let ready = admin::wait_ready(&client, READY_TIMEOUT, || {
            matches!(child.try_wait(), Ok(None))
        });
        if let Err(err) = ready {
            let _ = process::stop(pid, STOP_TIMEOUT);
            let _ = child.wait();
            let _ = fs::remove_file(self.pid_file());
            if err.is::<Refused>() {
                bail!(
                    "{err:#}\nThe SCRAM user '{}' is created when the storage is formatted: by \
                     the first `stack up --security sasl_ssl` on an empty stack dir, with the \
                     password of that moment. If {} was formatted before, or with another \
                     password, delete {} to format it anew (its topics are lost).",
                    self.credentials()?.user,
                    self.stack_dir.display(),
                    self.data_dir().display()
                );
            }
            bail!(
                "{err:#}\nlast lines of {}:\n{}",
                self.log_file().display(),
                process::tail_interesting(&self.log_file(), 15)
            );
        }
        let topic = self.ensure_topic()?;
        Ok(format!(
            "Kafka {} broker up at {} (pid {pid}, log {}); {topic}{}",
            jars::kafka_version(&self.home.join("config/kafka-pom.xml"))?,
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

    /// Stops the broker recorded in the pid file, waiting for it to exit.
    pub fn down(&self) -> Result<String> {
        let Some(pid) = self.running_pid()? else {
            let _ = fs::remove_file(self.pid_file());
            return Ok("no Kafka broker is running".to_string());
        };
        process::stop(pid, STOP_TIMEOUT)?;
        fs::remove_file(self.pid_file()).ok();
        Ok(format!("Kafka broker stopped (pid {pid})"))
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

    /// The pid in the pid file if that process is alive and is a Kafka broker
    /// (a pid can be reused by an unrelated process after a reboot).
    fn running_pid(&self) -> Result<Option<u32>> {
        let Ok(text) = fs::read_to_string(self.pid_file()) else {
            return Ok(None);
        };
        let pid: u32 = text
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("corrupt pid file {}", self.pid_file().display()))?;
        Ok(process::is_kafka_broker(pid).then_some(pid))
    }

    /// The port and security the running broker was started with (the pid
    /// file's second and third words), else the configured ones.
    fn recorded(&self) -> (u16, Security) {
        let text = fs::read_to_string(self.pid_file()).unwrap_or_default();
        let mut words = text.split_whitespace().skip(1);
        (
            words
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(self.port),
            words
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(self.security),
        )
    }

    /// config/server.properties with the sfcrime-owned keys filled in. With
    /// SASL_SSL it holds the admin user's password (the broker's own login
    /// on its inter-broker listener), so it is written with mode 0600.
    fn write_server_properties(&self) -> Result<PathBuf> {
        let template_path = self.home.join("config/server.properties");
        let template = fs::read_to_string(&template_path)
            .with_context(|| format!("cannot read {}", template_path.display()))?;
        let (port, cport) = (self.port, self.controller_port);
        // The client listener is named after its protocol.
        let name = match self.security {
            Security::Plaintext => "PLAINTEXT",
            Security::SaslSsl => "SASL_SSL",
        };
        let mut owned = vec![
            ("controller.quorum.voters", format!("1@127.0.0.1:{cport}")),
            (
                "listeners",
                format!("{name}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}"),
            ),
            ("advertised.listeners", format!("{name}://127.0.0.1:{port}")),
            ("inter.broker.listener.name", name.to_string()),
            (
                "listener.security.protocol.map",
                format!("{name}:{name},CONTROLLER:PLAINTEXT"),
            ),
            ("log.dirs", self.data_dir().display().to_string()),
        ];
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
        let mut text = format!(
            "# Generated by sfcrime from {}; edit that file, not this one.\n",
            template_path.display()
        );
        for line in template.lines() {
            let key = line.split('=').next().unwrap_or("").trim();
            if !owned.iter().any(|(k, _)| *k == key) {
                text.push_str(line);
                text.push('\n');
            }
        }
        for (key, value) in owned {
            text.push_str(&format!("{key}={value}\n"));
        }
        let path = self.stack_dir.join("server.properties");
        write_private(&path, &text)?;
        Ok(path)
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

fn ensure_port_free(what: &str, port: u16) -> Result<()> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(err) => bail!(
            "the {what} port {port} on 127.0.0.1 is already in use ({err}); \
             is another Kafka running? Pick another port with --port / --controller-port \
             or SFCRIME_KAFKA_PORT / SFCRIME_KAFKA_CONTROLLER_PORT"
        ),
    }
}
