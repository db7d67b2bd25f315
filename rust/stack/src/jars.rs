//! Resolves the Kafka broker's jars from Maven Central with
//! `mvn dependency:copy-dependencies` on the mode's pom (config/kafka-pom.xml,
//! or config/kafka-zookeeper-pom.xml for ZooKeeper mode), once: the jars land
//! in <cache.dir>/kafka-<version>/ and later runs need no network.

use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `<kafka.version>` property of the pom.
pub fn kafka_version(pom: &Path) -> Result<String> {
    let text = fs::read_to_string(pom).with_context(|| format!("cannot read {}", pom.display()))?;
    let start = text
        .find("<kafka.version>")
        .map(|i| i + "<kafka.version>".len())
        .with_context(|| format!("{} has no <kafka.version> property", pom.display()))?;
    let end = text[start..]
        .find("</kafka.version>")
        .with_context(|| format!("{}: unterminated <kafka.version>", pom.display()))?;
    Ok(text[start..start + end].trim().to_string())
}

/// The directory holding every jar of the broker, downloading it if absent.
/// The download goes to a temporary directory renamed into place at the end,
/// so an interrupted download never leaves a half-filled cache behind.
pub fn ensure_kafka_jars(
    pom: &Path,
    cache_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf> {
    let version = kafka_version(pom)?;
    let lib = cache_dir.join(format!("kafka-{version}"));
    if lib.join(format!("kafka_2.13-{version}.jar")).is_file() {
        return Ok(lib);
    }
    fs::create_dir_all(cache_dir)
        .with_context(|| format!("cannot create {}", cache_dir.display()))?;
    let partial = cache_dir.join(format!("kafka-{version}.partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    progress(&format!(
        "downloading Apache Kafka {version} jars from Maven Central (once) into {}",
        lib.display()
    ));
    let downloaded = sfcrime_process::output(
        Command::new("mvn")
            .args(["-B", "-q", "-f"])
            .arg(pom)
            .arg("dependency:copy-dependencies")
            .arg(format!("-DoutputDirectory={}", partial.display()))
            .arg("-DincludeScope=runtime"),
    );
    let failure = match downloaded {
        Err(err) if err.not_started() => bail!(
            "Maven (`mvn`) is needed once to download Kafka's jars from Maven Central, \
             but {err}; install it (e.g. `apt-get install maven`)"
        ),
        Err(err) => Some(err.to_string()),
        Ok(_) if !partial.join(format!("kafka_2.13-{version}.jar")).is_file() => Some(format!(
            "Maven succeeded but left no kafka_2.13-{version}.jar"
        )),
        Ok(_) => None,
    };
    if let Some(failure) = failure {
        let _ = fs::remove_dir_all(&partial);
        bail!(
            "downloading Kafka {version} jars with Maven failed (pom {}):\n{failure}",
            pom.display()
        );
    }
    fs::rename(&partial, &lib)
        .with_context(|| format!("cannot move {} to {}", partial.display(), lib.display()))?;
    Ok(lib)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kafka_version_from_the_project_pom() {
        let pom = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/kafka-pom.xml");
        let version = kafka_version(&pom).unwrap();
        assert!(version.starts_with("4."), "{version}");
    }
}
