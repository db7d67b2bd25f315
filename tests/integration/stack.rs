//! The local broker's life cycle against a real Kafka: up creates the topic,
//! records make a round trip intact, down leaves nothing running.

use crate::common::{Broker, TOPIC};
use predicates::str::contains;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[test]
fn up_round_trip_down_leaves_nothing_running() {
    let _turn = crate::common::broker_turn();
    let broker = Broker::start();
    broker
        .stack(&["status"])
        .assert()
        .success()
        .stdout(contains(format!("topic {TOPIC}: 3 partitions")));

    // A second `up` is idempotent: it finds the running broker.
    broker
        .stack(&["up"])
        .assert()
        .success()
        .stdout(contains("already running"));

    let sent = produce(&broker.bootstrap(), 1000);
    let received = consume_all(&broker.bootstrap(), sent.len());
    assert_eq!(received.len(), 1000, "every record must come back once");
    assert_eq!(received, sent, "keys and payloads must come back intact");

    let pid = broker.pid().expect("stack up records a pid");
    broker
        .stack(&["down"])
        .assert()
        .success()
        .stdout(contains("stopped"));
    assert!(
        !sfcrime_process::is_alive(pid),
        "broker pid {pid} still alive after down"
    );
    broker
        .stack(&["status"])
        .assert()
        .code(3)
        .stdout(contains("no Kafka broker running"));
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    crate::common::sfcrime()
        .args(["stack", "up", "--port", &port.to_string(), "--stack-dir"])
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(contains(format!(
            "port {port} on 127.0.0.1 is already in use"
        )));
}

#[test]
fn missing_java_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let ports = crate::common::ports::reserve();
    crate::common::sfcrime()
        .env("SFCRIME_JAVA", "/nonexistent/java")
        .args(["stack", "up", "--port", &ports.port(0).to_string()])
        .args([
            "--controller-port",
            &ports.port(1).to_string(),
            "--stack-dir",
        ])
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(contains("Java 17+ is needed"));
}

/// A child that fails is reported by its command line, its exit status and
/// its last lines of stderr: here the `java -version` check of `stack up`.
#[test]
fn a_failing_java_is_reported_with_its_command_status_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let java = dir.path().join("java");
    std::fs::write(
        &java,
        "#!/bin/sh\necho 'Error: Could not create the Java Virtual Machine.' >&2\n\
         echo 'Error: A fatal exception has occurred. Program will exit.' >&2\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&java, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let ports = crate::common::ports::reserve();
    crate::common::sfcrime()
        .env("SFCRIME_JAVA", &java)
        .args(["stack", "up", "--port", &ports.port(0).to_string()])
        .args([
            "--controller-port",
            &ports.port(1).to_string(),
            "--stack-dir",
        ])
        .arg(dir.path().join("stack"))
        .assert()
        .failure()
        .stderr(contains(format!(
            "`{} -version` failed (exit status 3)\nlast lines of its stderr:\n  \
             Error: Could not create the Java Virtual Machine.\n  \
             Error: A fatal exception has occurred. Program will exit.\n",
            java.display()
        )))
        .stderr(contains("set JAVA_HOME or SFCRIME_JAVA"));
}

/// Sends `n` distinct keyed records and returns them as key -> value.
fn produce(bootstrap: &str, n: usize) -> BTreeMap<String, String> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .create()
        .unwrap();
    let mut sent = BTreeMap::new();
    for i in 0..n {
        let key = format!("crime-{i:05}");
        let value = format!(
            r#"{{"crime_id":"{key}","n":{i},"text":"é ✓ {}"}}"#,
            "x".repeat(i % 97)
        );
        producer
            .send(BaseRecord::to(TOPIC).key(&key).payload(&value))
            .map_err(|(e, _)| e)
            .unwrap();
        sent.insert(key, value);
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    sent
}

fn consume_all(bootstrap: &str, expected: usize) -> BTreeMap<String, String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "stack-test")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[TOPIC]).unwrap();
    let mut received = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut count = 0;
    while count < expected && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(500)) {
            let message = message.unwrap();
            let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
            let value = message.payload_view::<str>().unwrap().unwrap().to_string();
            assert!(
                received.insert(key.clone(), value).is_none(),
                "duplicate {key}"
            );
            count += 1;
        }
    }
    received
}
