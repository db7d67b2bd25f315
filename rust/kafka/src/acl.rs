//! Users and their permissions on a cluster that runs an authorizer: SCRAM
//! credentials and ACLs, created through librdkafka's C admin API
//! (AlterUserScramCredentials, CreateAcls), which the rdkafka crate does
//! not wrap; and the one line that says what a refused user lacked.

use crate::client::KafkaSettings;
use anyhow::{bail, Context, Result};
use rdkafka::admin::AdminClient;
use rdkafka::bindings as rd;
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::ffi::{CStr, CString};
use std::io::Read;
use std::os::raw::c_char;
use std::time::Duration;

/// What an ACL grants access to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Topic,
    Group,
    Cluster,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Read,
    Write,
    Create,
    Describe,
    IdempotentWrite,
}

/// One allow rule: `user` may do `operation` on the `resource` named
/// `name` (every name that starts with it when `prefixed`), from any host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    pub user: String,
    pub resource: Resource,
    pub name: String,
    pub prefixed: bool,
    pub operation: Operation,
}

/// SCRAM iterations per credential (Kafka's minimum is 4096).
const SCRAM_ITERATIONS: i32 = 8192;

/// An admin client's handle, its own result queue and request options;
/// freed on drop.
struct Request {
    admin: AdminClient<DefaultClientContext>,
    queue: *mut rd::rd_kafka_queue_t,
    options: *mut rd::rd_kafka_AdminOptions_t,
    timeout: Duration,
}

impl Request {
    fn new(settings: &KafkaSettings, timeout: Duration) -> Result<Request> {
        let admin: AdminClient<DefaultClientContext> = settings
            .client_config(&[])
            .create()
            .context("cannot create a Kafka admin client")?;
        let rk = admin.inner().native_ptr();
        let millis = timeout.as_millis().min(i32::MAX as u128) as i32;
        let mut errstr = [0 as c_char; 256];
        // SAFETY: rk lives as long as `admin`, which the Request owns and
        // drops after the queue and options (see Drop).
        unsafe {
            let queue = rd::rd_kafka_queue_new(rk);
            let options =
                rd::rd_kafka_AdminOptions_new(rk, rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_ANY);
            rd::rd_kafka_AdminOptions_set_request_timeout(
                options,
                millis,
                errstr.as_mut_ptr(),
                errstr.len(),
            );
            Ok(Request {
                admin,
                queue,
                options,
                timeout,
            })
        }
    }

    fn rk(&self) -> *mut rd::rd_kafka_t {
        self.admin.inner().native_ptr()
    }

    /// Waits for the request's result event; fails on a request-level error.
    fn result(&self, what: &str) -> Result<Event> {
        // A little past the request timeout: librdkafka answers by then.
        let millis = (self.timeout + Duration::from_secs(5)).as_millis() as i32;
        // SAFETY: the queue is ours until drop.
        let event = unsafe { rd::rd_kafka_queue_poll(self.queue, millis) };
        if event.is_null() {
            bail!("{what}: no answer within {:?}", self.timeout);
        }
        let event = Event(event);
        // SAFETY: a live event.
        let code = unsafe { rd::rd_kafka_event_error(event.0) };
        if code != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            let text = unsafe { text(rd::rd_kafka_event_error_string(event.0)) };
            bail!("{what}: {text} ({:?})", RDKafkaErrorCode::from(code));
        }
        Ok(event)
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        // SAFETY: created in new() and freed once, before the client.
        unsafe {
            rd::rd_kafka_AdminOptions_destroy(self.options);
            rd::rd_kafka_queue_destroy(self.queue);
        }
    }
}

struct Event(*mut rd::rd_kafka_event_t);

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: polled from our queue, destroyed once.
        unsafe { rd::rd_kafka_event_destroy(self.0) }
    }
}

/// # Safety
/// `ptr` is null or a NUL-terminated string.
unsafe fn text(ptr: *const c_char) -> String {
    if ptr.is_null() {
        String::new()
    } else {
        CStr::from_ptr(ptr).to_string_lossy().into_owned()
    }
}

/// The error of one result, if it failed.
///
/// # Safety
/// `error` is null or a live `rd_kafka_error_t`.
unsafe fn failure(error: *const rd::rd_kafka_error_t) -> Option<String> {
    if error.is_null() {
        return None;
    }
    let code = rd::rd_kafka_error_code(error);
    if code == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return None;
    }
    Some(format!(
        "{} ({:?})",
        text(rd::rd_kafka_error_string(error)),
        RDKafkaErrorCode::from(code)
    ))
}

fn cstring(what: &str, value: &str) -> Result<CString> {
    CString::new(value).with_context(|| format!("{what} contains a NUL byte"))
}

/// Creates each user, or sets its password when it exists, as a
/// SCRAM-SHA-512 credential (with a random salt).
pub fn upsert_scram_users(
    settings: &KafkaSettings,
    users: &[(&str, &str)],
    timeout: Duration,
) -> Result<()> {
    let request = Request::new(settings, timeout)?;
    let mut salt = [0u8; 32];
    let mut urandom = std::fs::File::open("/dev/urandom").context("cannot open /dev/urandom")?;
    let mut alterations = Vec::new();
    for (user, password) in users {
        urandom
            .read_exact(&mut salt)
            .context("cannot read /dev/urandom")?;
        let name = cstring("a user name", user)?;
        // SAFETY: every pointer is valid for the call, which copies them.
        alterations.push(unsafe {
            rd::rd_kafka_UserScramCredentialUpsertion_new(
                name.as_ptr(),
                rd::rd_kafka_ScramMechanism_t::RD_KAFKA_SCRAM_MECHANISM_SHA_512,
                SCRAM_ITERATIONS,
                password.as_ptr(),
                password.len(),
                salt.as_ptr(),
                salt.len(),
            )
        });
    }
    // SAFETY: the call copies the alterations, which are freed right after.
    unsafe {
        rd::rd_kafka_AlterUserScramCredentials(
            request.rk(),
            alterations.as_mut_ptr(),
            alterations.len(),
            request.options,
            request.queue,
        );
        rd::rd_kafka_UserScramCredentialAlteration_destroy_array(
            alterations.as_mut_ptr(),
            alterations.len(),
        );
    }
    let event = request.result("cannot create the SCRAM users")?;
    let mut failures = Vec::new();
    // SAFETY: the responses live as long as `event`.
    unsafe {
        let result = rd::rd_kafka_event_AlterUserScramCredentials_result(event.0);
        let mut count = 0;
        let responses = rd::rd_kafka_AlterUserScramCredentials_result_responses(result, &mut count);
        for i in 0..count {
            let response = *responses.add(i);
            if let Some(err) =
                failure(rd::rd_kafka_AlterUserScramCredentials_result_response_error(response))
            {
                let user = text(rd::rd_kafka_AlterUserScramCredentials_result_response_user(
                    response,
                ));
                failures.push(format!("user '{user}': {err}"));
            }
        }
    }
    if !failures.is_empty() {
        bail!("cannot create the SCRAM users: {}", failures.join("; "));
    }
    Ok(())
}

/// Adds `acls` (an ACL that exists already is left as it is).
pub fn create_acls(settings: &KafkaSettings, acls: &[Acl], timeout: Duration) -> Result<()> {
    let request = Request::new(settings, timeout)?;
    let mut bindings = Vec::new();
    let mut made = Ok(());
    for acl in acls {
        let resource = match acl.resource {
            Resource::Topic => rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
            Resource::Group => rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_GROUP,
            Resource::Cluster => rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_BROKER,
        };
        let pattern = match acl.prefixed {
            true => rd::rd_kafka_ResourcePatternType_t::RD_KAFKA_RESOURCE_PATTERN_PREFIXED,
            false => rd::rd_kafka_ResourcePatternType_t::RD_KAFKA_RESOURCE_PATTERN_LITERAL,
        };
        use rd::rd_kafka_AclOperation_t as Op;
        let operation = match acl.operation {
            Operation::Read => Op::RD_KAFKA_ACL_OPERATION_READ,
            Operation::Write => Op::RD_KAFKA_ACL_OPERATION_WRITE,
            Operation::Create => Op::RD_KAFKA_ACL_OPERATION_CREATE,
            Operation::Describe => Op::RD_KAFKA_ACL_OPERATION_DESCRIBE,
            Operation::IdempotentWrite => Op::RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE,
        };
        let name = cstring("a resource name", &acl.name)?;
        let principal = cstring("a user name", &format!("User:{}", acl.user))?;
        let mut errstr = [0 as c_char; 256];
        // SAFETY: the strings live across the call, which copies them.
        let binding = unsafe {
            rd::rd_kafka_AclBinding_new(
                resource,
                name.as_ptr(),
                pattern,
                principal.as_ptr(),
                c"*".as_ptr(),
                operation,
                rd::rd_kafka_AclPermissionType_t::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
                errstr.as_mut_ptr(),
                errstr.len(),
            )
        };
        if binding.is_null() {
            made = Err(anyhow::anyhow!("invalid ACL {acl:?}: {}", unsafe {
                text(errstr.as_ptr())
            }));
            break;
        }
        bindings.push(binding);
    }
    if made.is_ok() {
        // SAFETY: the call copies the bindings.
        unsafe {
            rd::rd_kafka_CreateAcls(
                request.rk(),
                bindings.as_mut_ptr(),
                bindings.len(),
                request.options,
                request.queue,
            );
        }
    }
    // SAFETY: ours, freed once.
    unsafe { rd::rd_kafka_AclBinding_destroy_array(bindings.as_mut_ptr(), bindings.len()) };
    made?;
    let event = request.result("cannot create the ACLs")?;
    let mut failures = Vec::new();
    // SAFETY: the results live as long as `event`, in the order given.
    unsafe {
        let result = rd::rd_kafka_event_CreateAcls_result(event.0);
        let mut count = 0;
        let results = rd::rd_kafka_CreateAcls_result_acls(result, &mut count);
        for (i, acl) in acls.iter().enumerate().take(count) {
            if let Some(err) = failure(rd::rd_kafka_acl_result_error(*results.add(i))) {
                failures.push(format!(
                    "{:?} on {:?} '{}' for '{}': {err}",
                    acl.operation, acl.resource, acl.name, acl.user
                ));
            }
        }
    }
    if !failures.is_empty() {
        bail!("cannot create the ACLs: {}", failures.join("; "));
    }
    Ok(())
}

/// The error code of `err` when it says that the user lacks a permission.
pub fn authorization_failure(err: &KafkaError) -> Option<RDKafkaErrorCode> {
    err.rdkafka_error_code()
        .filter(|code| is_authorization(*code))
}

pub fn is_authorization(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::GroupAuthorizationFailed
            | RDKafkaErrorCode::ClusterAuthorizationFailed
            | RDKafkaErrorCode::TransactionalIdAuthorizationFailed
    )
}

/// One line for a user who lacks a permission: who tried to do what
/// (`operation`: Read, Write or Describe) with `topic`, where, and which
/// permission the broker's `code` says was missing.
pub fn not_authorized(
    settings: &KafkaSettings,
    operation: Operation,
    topic: &str,
    code: RDKafkaErrorCode,
) -> anyhow::Error {
    let user = settings
        .overrides
        .iter()
        .rev()
        .find(|(k, _)| k == "sasl.username")
        .map_or("ANONYMOUS", |(_, v)| v.as_str());
    let action = match operation {
        Operation::Write => "write to",
        Operation::Describe => "see",
        _ => "read",
    };
    let needs = match code {
        RDKafkaErrorCode::GroupAuthorizationFailed => "Read on its consumer group".to_string(),
        RDKafkaErrorCode::ClusterAuthorizationFailed => {
            "IdempotentWrite on the cluster, or Write on a topic".to_string()
        }
        RDKafkaErrorCode::TransactionalIdAuthorizationFailed => {
            "Write on its transactional id".to_string()
        }
        _ => format!("{operation:?} on the topic"),
    };
    anyhow::anyhow!(
        "user '{user}' is not authorized to {action} topic '{topic}' at {} ({code:?}: it needs \
         {needs}); use the settings of a user who may (-F), or ask the cluster's admin for \
         that ACL",
        settings.bootstrap_servers
    )
}
