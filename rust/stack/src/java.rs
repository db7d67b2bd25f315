//! Finds a Java runtime new enough for the Kafka 4 broker (Java 17+).

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

pub struct Java {
    pub path: PathBuf,
}

const MIN_JAVA: u32 = 17;

/// `setting` (the `java` key) if set, else `$JAVA_HOME/bin/java`, else `java`
/// on PATH; checks that it runs and is at least Java 17.
pub fn find(setting: &str) -> Result<Java> {
    let path = if !setting.trim().is_empty() {
        PathBuf::from(setting.trim())
    } else if let Some(home) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        PathBuf::from(home).join("bin/java")
    } else {
        PathBuf::from("java")
    };
    let out = sfcrime_process::output(Command::new(&path).arg("-version")).map_err(|err| {
        if err.not_started() {
            anyhow::anyhow!(
                "Java {MIN_JAVA}+ is needed to run the Kafka broker, but {err}. Install a JDK \
                 (e.g. `apt-get install openjdk-17-jre-headless`), or set JAVA_HOME or SFCRIME_JAVA"
            )
        } else {
            anyhow::anyhow!(
                "{err}\nthe Kafka broker needs a working Java {MIN_JAVA}+; set JAVA_HOME or \
                 SFCRIME_JAVA to one"
            )
        }
    })?;
    let banner = String::from_utf8_lossy(&out.stderr);
    let major = parse_major(&banner).with_context(|| {
        format!(
            "cannot tell the version of {} from: {banner}",
            path.display()
        )
    })?;
    if major < MIN_JAVA {
        bail!(
            "the Kafka 4 broker needs Java {MIN_JAVA}+, but {} is Java {major}; set JAVA_HOME \
             or SFCRIME_JAVA to a newer one",
            path.display()
        );
    }
    Ok(Java { path })
}

/// The major version in a `java -version` banner: `"17.0.15"` -> 17,
/// `"1.8.0_392"` -> 8.
fn parse_major(banner: &str) -> Option<u32> {
    let quoted = banner.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '_', '-', '+']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_old_and_new_version_banners() {
        assert_eq!(
            parse_major("openjdk version \"17.0.15\" 2025-04-15"),
            Some(17)
        );
        assert_eq!(parse_major("java version \"1.8.0_392\""), Some(8));
        assert_eq!(parse_major("openjdk version \"25\" 2025-09-16"), Some(25));
        assert_eq!(parse_major("garbage"), None);
    }

    #[test]
    fn missing_java_is_a_clear_error() {
        let err = find("/nonexistent/bin/java").err().unwrap().to_string();
        assert!(err.contains("Java 17+ is needed") && err.contains("/nonexistent/bin/java"));
    }
}
