//! SASL_SSL for the local broker's client listener: the mode setting, the
//! SCRAM-SHA-512 users (the admin's name and password from the settings,
//! the password checked so that it survives every format it is written in;
//! the producer's and consumer's names from the settings, their passwords
//! generated), what each client user may do under the brokers' authorizer,
//! the TLS material (a private CA and a broker certificate for
//! 127.0.0.1/localhost, made with `openssl` when missing), and files only
//! their owner may read.

use anyhow::{bail, Context, Result};
use sfcrime_config::Settings;
use sfcrime_kafka::acl::{Acl, Operation, Resource};
use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// How clients reach the broker's client port (`kafka.security`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Plaintext,
    /// TLS with the generated CA, and a SCRAM-SHA-512 login.
    SaslSsl,
}

impl std::str::FromStr for Security {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "plaintext" => Ok(Security::Plaintext),
            "sasl_ssl" => Ok(Security::SaslSsl),
            other => Err(format!("expected plaintext or sasl_ssl, got '{other}'")),
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Security::Plaintext => "plaintext",
            Security::SaslSsl => "sasl_ssl",
        })
    }
}

/// The one SASL mechanism the broker enables.
pub const MECHANISM: &str = "SCRAM-SHA-512";

/// The SCRAM user of the broker (inter-broker traffic, `stack`'s admin
/// client and the generated client.properties): the authorizer's super
/// user, who may do anything.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Credentials {{ user: {:?}, password: [redacted] }}",
            self.user
        )
    }
}

impl Credentials {
    /// `kafka.admin.user` and `kafka.admin.password`, checked.
    pub fn from_settings(settings: &Settings) -> Result<Credentials> {
        let user = user_name(settings, "kafka.admin.user")?;
        let password = settings.string("kafka.admin.password")?.trim().to_string();
        if password.is_empty() {
            bail!(
                "kafka.security=sasl_ssl needs the SCRAM password of user '{user}': set \
                 SFCRIME_KAFKA_ADMIN_PASSWORD, or kafka.admin.password in a copy of \
                 config/sfcrime.properties that only you can read (--config FILE)"
            );
        }
        // It goes into a JAAS line, a Java argument file, StorageTool's
        // comma-separated SCRAM spec and .properties files; these characters
        // would need a different escape in each.
        if let Some(bad) = password
            .chars()
            .find(|c| !c.is_ascii_graphic() || "\"\\,".contains(*c))
        {
            let what = if bad.is_ascii_graphic() {
                format!("'{bad}'")
            } else {
                "a space, a control or a non-ASCII character".to_string()
            };
            bail!(
                "setting 'kafka.admin.password' (from {}) contains {what}; use printable ASCII \
                 without spaces, '\"', '\\' or ','",
                settings
                    .layer("kafka.admin.password")
                    .unwrap_or(sfcrime_config::Layer::Default)
            );
        }
        Ok(Credentials { user, password })
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The broker's own login, for its listener's `sasl.jaas.config`.
    pub fn jaas(&self) -> String {
        format!(
            "org.apache.kafka.common.security.scram.ScramLoginModule required \
             username=\"{}\" password=\"{}\";",
            self.user, self.password
        )
    }

    /// StorageTool's `--add-scram` value.
    pub fn scram_spec(&self) -> String {
        format!(
            "{MECHANISM}=[name={},password={}]",
            self.user, self.password
        )
    }
}

/// A SCRAM user name from the setting `key`: it goes into JAAS lines,
/// properties files and ACL principals unquoted.
fn user_name(settings: &Settings, key: &str) -> Result<String> {
    let user = settings.string(key)?.trim().to_string();
    if user.is_empty()
        || !user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        bail!("setting '{key}' = '{user}' must be letters, digits, '.', '_' or '-'");
    }
    Ok(user)
}

/// Whose settings a client uses on the secured brokers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Producer,
    Consumer,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Producer => "producer",
            Role::Consumer => "consumer",
        }
    }
}

/// The principal the brokers' TLS client certificates map to on the
/// controller listener: the brokers themselves (only they hold a key the
/// CA signed), a super user as the admin is.
pub const BROKER_PRINCIPAL: &str = "sfcrime-broker";

/// The two client users `up` makes besides the admin, and the consumer
/// groups (name prefixes) the consumer may read as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    pub producer: String,
    pub consumer: String,
    pub groups: Vec<String>,
}

impl Grants {
    /// `kafka.producer.user`, `kafka.consumer.user` and
    /// `kafka.consumer.groups`, checked against each other and the admin.
    pub fn from_settings(settings: &Settings) -> Result<Grants> {
        let producer = user_name(settings, "kafka.producer.user")?;
        let consumer = user_name(settings, "kafka.consumer.user")?;
        let admin = user_name(settings, "kafka.admin.user")?;
        if producer == consumer || producer == admin || consumer == admin {
            bail!(
                "the admin, producer and consumer users must differ, but kafka.admin.user = \
                 '{admin}', kafka.producer.user = '{producer}', kafka.consumer.user = '{consumer}'"
            );
        }
        let groups: Vec<String> = settings
            .string("kafka.consumer.groups")?
            .split(',')
            .map(|g| g.trim().to_string())
            .filter(|g| !g.is_empty())
            .collect();
        if groups.is_empty() {
            bail!(
                "setting 'kafka.consumer.groups' names no group prefix: the consumer user could \
                 read as no consumer group (sfcrime's start with 'sfcrime-', Spark's with \
                 'spark-kafka-')"
            );
        }
        Ok(Grants {
            producer,
            consumer,
            groups,
        })
    }

    pub fn user(&self, role: Role) -> Option<&str> {
        match role {
            Role::Admin => None,
            Role::Producer => Some(&self.producer),
            Role::Consumer => Some(&self.consumer),
        }
    }

    /// What each user may do with `topic`: the producer writes it and its
    /// dead-letter topic (which it creates on its first bad record), the
    /// consumer reads the topic as its groups.
    pub fn acls(&self, topic: &str) -> Vec<Acl> {
        let dead_letters = format!("{topic}.dlq");
        let acl = |user: &str, resource, name: &str, prefixed, operation| Acl {
            user: user.to_string(),
            resource,
            name: name.to_string(),
            prefixed,
            operation,
        };
        let mut acls = Vec::new();
        for name in [topic, &dead_letters] {
            for operation in [Operation::Write, Operation::Describe] {
                acls.push(acl(&self.producer, Resource::Topic, name, false, operation));
            }
        }
        acls.push(acl(
            &self.producer,
            Resource::Topic,
            &dead_letters,
            false,
            Operation::Create,
        ));
        acls.push(acl(
            &self.producer,
            Resource::Cluster,
            "kafka-cluster",
            false,
            Operation::IdempotentWrite,
        ));
        for operation in [Operation::Read, Operation::Describe] {
            acls.push(acl(
                &self.consumer,
                Resource::Topic,
                topic,
                false,
                operation,
            ));
        }
        for group in &self.groups {
            acls.push(acl(
                &self.consumer,
                Resource::Group,
                group,
                true,
                Operation::Read,
            ));
        }
        acls
    }
}

/// A new password for a client user: 32 letters and digits from
/// /dev/urandom (about 190 bits), safe in every format a password is
/// written in.
pub fn generated_password() -> Result<String> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut urandom = fs::File::open("/dev/urandom").context("cannot open /dev/urandom")?;
    let mut password = String::with_capacity(32);
    while password.len() < 32 {
        let mut byte = [0u8];
        urandom
            .read_exact(&mut byte)
            .context("cannot read /dev/urandom")?;
        // 248 = 4 * 62: no letter is likelier than another.
        if byte[0] < 248 {
            password.push(ALPHABET[(byte[0] % 62) as usize] as char);
        }
    }
    Ok(password)
}

/// The broker's TLS files in `dir`: `ca.pem` (the CA certificate clients
/// trust) and `broker.pem` (private key, certificate, CA: Kafka's PEM key
/// store). Files put there by hand are used as they are.
#[derive(Debug, Clone)]
pub struct Tls {
    pub dir: PathBuf,
}

/// openssl's configuration for the two certificates: a CA that can sign
/// only, and a server certificate for the addresses the broker listens on.
const OPENSSL_CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = sfcrime
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[broker]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid
";

const VALID_DAYS: &str = "825";

impl Tls {
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn key_store(&self) -> PathBuf {
        self.dir.join("broker.pem")
    }

    /// Makes a new CA and broker certificate unless both files exist. The
    /// CA's key is thrown away once it has signed: nothing else can be
    /// signed with it.
    pub fn ensure(&self, progress: &mut dyn FnMut(&str)) -> Result<()> {
        if self.ca().is_file() && self.key_store().is_file() {
            return Ok(());
        }
        progress(&format!(
            "generating a CA and a broker certificate (127.0.0.1, localhost) in {}",
            self.dir.display()
        ));
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let work = self.dir.join(format!(".new-{}", std::process::id()));
        let _ = fs::remove_dir_all(&work);
        fs::create_dir(&work).with_context(|| format!("cannot create {}", work.display()))?;
        fs::set_permissions(&work, fs::Permissions::from_mode(0o700))?;
        let made = self.generate(&work);
        let _ = fs::remove_dir_all(&work);
        made
    }

    fn generate(&self, work: &Path) -> Result<()> {
        fs::write(work.join("openssl.cnf"), OPENSSL_CONFIG)?;
        let openssl = |args: &[&str]| -> Result<()> {
            sfcrime_process::output(Command::new("openssl").args(args).current_dir(work)).map_err(
                |err| {
                    if err.not_started() {
                        anyhow::anyhow!(
                            "`openssl` is needed to make the broker's TLS certificate but {err}; \
                             install it (apt-get install openssl) or put your own ca.pem and \
                             broker.pem (key, certificate, CA) into {}",
                            self.dir.display()
                        )
                    } else {
                        err.into()
                    }
                },
            )?;
            Ok(())
        };
        let key = ["-newkey", "rsa:2048", "-nodes", "-config", "openssl.cnf"];
        openssl(
            &[
                &["req", "-x509", "-extensions", "ca", "-days", VALID_DAYS][..],
                &key,
                &[
                    "-subj",
                    "/CN=sfcrime local CA",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                ],
            ]
            .concat(),
        )?;
        openssl(
            &[
                &["req", "-new"][..],
                &key,
                &[
                    "-subj",
                    "/CN=localhost",
                    "-keyout",
                    "broker.key",
                    "-out",
                    "broker.csr",
                ],
            ]
            .concat(),
        )?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            "broker.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            VALID_DAYS,
            "-extfile",
            "openssl.cnf",
            "-extensions",
            "broker",
            "-out",
            "broker.crt",
        ])?;
        let read = |name: &str| {
            fs::read_to_string(work.join(name)).with_context(|| format!("openssl wrote no {name}"))
        };
        let ca = read("ca.pem")?;
        write_private(
            &work.join("broker.pem"),
            &format!("{}{}{ca}", read("broker.key")?, read("broker.crt")?),
        )?;
        // ca.pem first: broker.pem is the last file to appear, so both
        // existing means both are complete.
        for name in ["ca.pem", "broker.pem"] {
            fs::rename(work.join(name), self.dir.join(name))
                .with_context(|| format!("cannot move {name} into {}", self.dir.display()))?;
        }
        Ok(())
    }
}

/// Writes `text` to `path` readable and writable by its owner only (mode
/// 0600, also when the file existed with wider permissions).
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfcrime_config::Layer;

    fn settings(password: &str) -> Settings {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::load_with_env(dir.path(), None, Vec::new()).unwrap();
        s.set("kafka.admin.password", password, Layer::Env);
        s
    }

    #[test]
    fn passwords_are_checked_and_never_shown() {
        let ok = Credentials::from_settings(&settings("S3cret!#=[x]")).unwrap();
        assert_eq!(ok.user, "sfcrime-admin");
        assert!(!format!("{ok:?}").contains("S3cret"));
        assert_eq!(
            ok.scram_spec(),
            "SCRAM-SHA-512=[name=sfcrime-admin,password=S3cret!#=[x]]"
        );
        let missing = Credentials::from_settings(&settings(""))
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("SFCRIME_KAFKA_ADMIN_PASSWORD"),
            "{missing}"
        );
        for bad in ["a,b", "a b", "a\"b", "a\\b", "pä"] {
            let err = Credentials::from_settings(&settings(bad))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("kafka.admin.password") && !err.contains(bad),
                "{err}"
            );
        }
    }

    #[test]
    fn client_users_get_only_what_they_need() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::load_with_env(dir.path(), None, Vec::new()).unwrap();
        let grants = Grants::from_settings(&s).unwrap();
        let granted: Vec<String> = grants
            .acls("t")
            .iter()
            .map(|a| {
                let pattern = if a.prefixed { "*" } else { "" };
                format!(
                    "{} {:?} {:?} {}{pattern}",
                    a.user, a.operation, a.resource, a.name
                )
            })
            .collect();
        assert_eq!(
            granted,
            [
                "sfcrime-producer Write Topic t",
                "sfcrime-producer Describe Topic t",
                "sfcrime-producer Write Topic t.dlq",
                "sfcrime-producer Describe Topic t.dlq",
                "sfcrime-producer Create Topic t.dlq",
                "sfcrime-producer IdempotentWrite Cluster kafka-cluster",
                "sfcrime-consumer Read Topic t",
                "sfcrime-consumer Describe Topic t",
                "sfcrime-consumer Read Group sfcrime-*",
                "sfcrime-consumer Read Group spark-kafka-*",
            ]
        );
        s.set("kafka.consumer.user", "sfcrime-admin", Layer::Env);
        let err = Grants::from_settings(&s).unwrap_err().to_string();
        assert!(err.contains("must differ"), "{err}");
        s.set("kafka.consumer.user", "bad name", Layer::Env);
        let err = Grants::from_settings(&s).unwrap_err().to_string();
        assert!(err.contains("'kafka.consumer.user' = 'bad name'"), "{err}");
        s.set("kafka.consumer.user", "c", Layer::Env);
        s.set("kafka.consumer.groups", " , ", Layer::Env);
        let err = Grants::from_settings(&s).unwrap_err().to_string();
        assert!(err.contains("names no group prefix"), "{err}");
    }

    #[test]
    fn generated_passwords_are_long_plain_and_new() {
        let (a, b) = (generated_password().unwrap(), generated_password().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn security_modes_parse() {
        assert_eq!("SASL_SSL".parse::<Security>(), Ok(Security::SaslSsl));
        assert_eq!("plaintext".parse::<Security>(), Ok(Security::Plaintext));
        assert!("ssl".parse::<Security>().is_err());
    }

    #[test]
    fn private_files_are_owner_only_even_when_they_existed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, "new").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
    }

    #[test]
    fn generated_certificates_name_the_broker_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let tls = Tls {
            dir: dir.path().join("tls"),
        };
        tls.ensure(&mut |_| {}).unwrap();
        let store = fs::read_to_string(tls.key_store()).unwrap();
        assert!(
            store.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{store:.40}"
        );
        assert_eq!(store.matches("BEGIN CERTIFICATE").count(), 2);
        let mode = fs::metadata(tls.key_store()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Only the two files are left: the CA key is gone.
        let mut names: Vec<_> = fs::read_dir(&tls.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["broker.pem", "ca.pem"]);
        let out = Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(tls.ca())
            .arg("-verify_ip")
            .arg("127.0.0.1")
            .arg(tls.key_store())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
