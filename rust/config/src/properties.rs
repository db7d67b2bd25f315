//! Java-style `.properties` text (the settings file, Kafka client
//! properties) and `key=value` flags.

use anyhow::{bail, Result};

/// Parses Java-style `.properties` text: `key=value` or `key: value`, `#`/`!`
/// comments, blank lines. Line continuations are not supported (and rejected).
pub fn parse_properties(text: &str) -> Result<Vec<(String, String)>> {
    Ok(parse_numbered_properties(text)?
        .into_iter()
        .map(|(_, key, value)| (key, value))
        .collect())
}

/// As [`parse_properties`], each pair with its 1-based line number, so that
/// a refused key can be pointed at.
pub(crate) fn parse_numbered_properties(text: &str) -> Result<Vec<(usize, String, String)>> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        if line.ends_with('\\') {
            bail!("line {}: line continuations are not supported", index + 1);
        }
        let Some(split) = line.find(['=', ':']) else {
            bail!("line {}: expected key=value, got '{line}'", index + 1);
        };
        let key = line[..split].trim();
        if key.is_empty() {
            bail!("line {}: empty key", index + 1);
        }
        out.push((
            index + 1,
            key.to_string(),
            line[split + 1..].trim().to_string(),
        ));
    }
    Ok(out)
}

/// Parses a `key=value` flag (as in `-X key=value` or `--conf key=value`).
pub fn parse_key_value(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected key=value, got '{raw}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_properties_lines_are_rejected_with_line_number() {
        let err = parse_properties("a=1\nnovalue\n").unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert_eq!(
            parse_properties("a: b=c\n").unwrap(),
            vec![("a".into(), "b=c".into())]
        );
    }

    #[test]
    fn key_value_flags_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_key_value("a=b=c").unwrap(),
            ("a".into(), "b=c".into())
        );
        assert!(parse_key_value("=x").is_err());
    }
}
