//! Which settings are secrets, and how their values may be shown.

/// True for keys whose values must never be printed (passwords, keys, JAAS).
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "jaas",
        "token",
        "key.pem",
        // Java's PEM private key given inline (ssl.keystore.key).
        "keystore.key",
        "credentials",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// The value as it may be shown to a user.
pub fn redact<'a>(key: &str, value: &'a str) -> &'a str {
    if is_secret(key) && !value.is_empty() {
        "[redacted]"
    } else {
        value
    }
}
