//! The local Apache Kafka broker (KRaft, broker and controller in one JVM):
//! resolving its jars from Maven Central once, formatting storage, starting
//! it in the background, waiting until it answers, creating the project's
//! topic, and stopping it by its recorded pid.

mod jars;
pub mod java;
mod process;

use anyhow::{bail, Context, Result};
use sfcrime_config::Settings;
use sfcrime_kafka::admin::{self, TopicState};
use sfcrime_kafka::client::KafkaSettings;
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
        Ok(Stack {
            home: settings.home().to_path_buf(),
            stack_dir: settings.path("stack.dir")?,
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
            let recorded_port = self.recorded_port().unwrap_or(self.port);
            if recorded_port != self.port {
                bail!(
                    "a broker from {} already runs on port {recorded_port} (pid {pid}), not {}; \
                     run `sfcrime stack down` first",
                    self.stack_dir.display(),
                    self.port
                );
            }
            let topic = self.ensure_topic()?;
            return Ok(format!(
                "Kafka broker already running at {} (pid {pid}); {topic}",
                self.bootstrap()
            ));
        }
        let java = java::find(&self.java_setting)?;
        for (what, port) in [("broker", self.port), ("controller", self.controller_port)] {
            ensure_port_free(what, port)?;
        }
        let lib = self.install(progress)?;
        fs::create_dir_all(&self.stack_dir)
            .with_context(|| format!("cannot create {}", self.stack_dir.display()))?;
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
        fs::write(self.pid_file(), format!("{pid} {}\n", self.port))
            .with_context(|| format!("cannot write {}", self.pid_file().display()))?;
        progress("waiting for the broker to answer");
        let kafka = KafkaSettings::new(self.bootstrap());
        let ready = admin::wait_ready(&kafka, READY_TIMEOUT, || {
            matches!(child.try_wait(), Ok(None))
        });
        if let Err(err) = ready {
            let _ = process::stop(pid, STOP_TIMEOUT);
            let _ = child.wait();
            let _ = fs::remove_file(self.pid_file());
            bail!(
                "{err:#}\nlast lines of {}:\n{}",
                self.log_file().display(),
                process::tail_interesting(&self.log_file(), 15)
            );
        }
        let topic = self.ensure_topic()?;
        Ok(format!(
            "Kafka {} broker up at {} (pid {pid}, log {}); {topic}",
            jars::kafka_version(&self.home.join("config/kafka-pom.xml"))?,
            self.bootstrap(),
            self.log_file().display()
        ))
    }

    fn ensure_topic(&self) -> Result<String> {
        let kafka = KafkaSettings::new(self.bootstrap());
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
        let port = self.recorded_port().unwrap_or(self.port);
        let kafka = KafkaSettings::new(format!("127.0.0.1:{port}"));
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

    fn recorded_port(&self) -> Option<u16> {
        fs::read_to_string(self.pid_file())
            .ok()?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// config/server.properties with the sfcrime-owned keys filled in.
    fn write_server_properties(&self) -> Result<PathBuf> {
        let template_path = self.home.join("config/server.properties");
        let template = fs::read_to_string(&template_path)
            .with_context(|| format!("cannot read {}", template_path.display()))?;
        let (port, cport) = (self.port, self.controller_port);
        let owned = [
            ("controller.quorum.voters", format!("1@127.0.0.1:{cport}")),
            (
                "listeners",
                format!("PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}"),
            ),
            (
                "advertised.listeners",
                format!("PLAINTEXT://127.0.0.1:{port}"),
            ),
            ("log.dirs", self.data_dir().display().to_string()),
        ];
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
        fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    fn format_storage(&self, java: &java::Java, classpath: &str, config: &Path) -> Result<()> {
        let run = |args: &[&str]| -> Result<String> {
            let out = Command::new(&java.path)
                .args(["-cp", classpath, "kafka.tools.StorageTool"])
                .args(args)
                .output()
                .context("cannot run Kafka's StorageTool")?;
            if !out.status.success() {
                bail!(
                    "Kafka's StorageTool {} failed:\n{}{}",
                    args[0],
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let cluster_id = run(&["random-uuid"])?;
        let config = config.display().to_string();
        run(&[
            "format",
            "-t",
            &cluster_id,
            "-c",
            &config,
            "--ignore-formatted",
        ])?;
        Ok(())
    }
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
