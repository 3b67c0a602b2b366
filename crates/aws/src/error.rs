//! Errors of the stack, artifact and deploy operations, worded for the user: what happened,
//! where (stack, bucket, key, region) and what to do.

use std::time::Duration;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The first resource that failed in a stack operation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceFailure {
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// Status, e.g. `CREATE_FAILED`.
    pub status: String,
    /// CloudFormation's reason.
    pub reason: String,
}

/// Who holds a stage's deploy lock, for [`AwsError::Locked`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "stage {stage} is being deployed by {owner} since {since} (lock s3://{bucket}/{key}, \
     expires {expires}); wait for that run to finish. If that run was killed, re-run with \
     --force-unlock"
)]
pub struct LockHeld {
    /// Stage.
    pub stage: String,
    /// `user@host (pid N)` of the holder.
    pub owner: String,
    /// When the holder took the lock (RFC 3339).
    pub since: String,
    /// When the lock expires (RFC 3339).
    pub expires: String,
    /// Deployment bucket.
    pub bucket: String,
    /// Lock key.
    pub key: String,
}

/// Everything that can go wrong talking to AWS during deploy, diff, info or remove.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// An AWS call failed (after the SDK's retries).
    #[error("{}", call_message(.action, .message, .kind, .state.as_deref()))]
    Call {
        /// What was being done, e.g. `DescribeStacks on stack "svc-dev"`.
        action: String,
        /// The service's error code and message, or what went wrong on the way.
        message: String,
        /// The error code, when AWS sent one.
        code: Option<String>,
        /// What kind of failure it was (decides the advice).
        kind: FailureKind,
        /// The HTTP status, when a response arrived.
        status: Option<u16>,
        /// Where the deploy stood when the call failed (e.g. "the stack was not changed").
        state: Option<String>,
        /// The SDK's full error chain, for `-vv`.
        raw: String,
    },
    /// The stack operation ended in a failed or rolled-back state.
    #[error("{}", stack_failed_message(.stack, .operation, .status, .failure.as_deref(), .console_url))]
    StackFailed {
        /// Stack name.
        stack: String,
        /// `create`, `update` or `delete`.
        operation: &'static str,
        /// Final stack status.
        status: String,
        /// The first resource that failed, if CloudFormation reported one.
        failure: Option<Box<ResourceFailure>>,
        /// CloudFormation console link for the stack.
        console_url: String,
    },
    /// The stack is in a state only a manual step can fix.
    #[error("stack \"{stack}\" in {region} is in state {status}: {advice}")]
    NeedsRecovery {
        /// Stack name.
        stack: String,
        /// Region.
        region: String,
        /// Current status.
        status: String,
        /// The exact step to run.
        advice: String,
    },
    /// Waiting for the stack took longer than allowed.
    #[error(
        "stack \"{stack}\" is still {status} after {}s; CloudFormation keeps working on it. \
         Check it with `deployer info` and retry when it has finished",
        .waited.as_secs()
    )]
    Timeout {
        /// Stack name.
        stack: String,
        /// Last status seen.
        status: String,
        /// How long we waited.
        waited: Duration,
    },
    /// Another run holds the stage's deploy lock.
    #[error("{0}")]
    Locked(Box<LockHeld>),
    /// The stack does not exist.
    #[error("stack \"{stack}\" does not exist in {region} (account of the current credentials)")]
    StackMissing {
        /// Stack name.
        stack: String,
        /// Region.
        region: String,
    },
    /// The deployment bucket is missing or unusable.
    #[error("{0}")]
    Bucket(String),
    /// A local file could not be read.
    #[error("cannot read {path}: {source}")]
    Local {
        /// File path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Invalid input (for example a stack name CloudFormation would refuse).
    #[error("{0}")]
    Invalid(String),
    /// A plugin hook run inside the flow failed (its own message); the stack was not changed.
    #[error("{0}; the stack was not changed")]
    Hook(String),
    /// The request was never sent: its credentials were refreshed into another account than
    /// the one proven for the stage (see `credentials/proof.rs`).
    #[error("{action} was not sent: {refusal}")]
    Refused {
        /// What was being done, e.g. `UpdateStack on stack "svc-prod"`.
        action: String,
        /// The guard's refusal of the refreshed credentials.
        refusal: Box<crate::credentials::GuardRefusal>,
    },
}

/// The guard's refusal of refreshed credentials, when it is what made `err` fail.
fn refusal_in(err: &(dyn std::error::Error + 'static)) -> Option<crate::credentials::GuardRefusal> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<crate::credentials::GuardRefusal>() {
            return Some(r.clone());
        }
        next = e.source();
    }
    None
}

fn stack_failed_message(
    stack: &str,
    operation: &str,
    status: &str,
    failure: Option<&ResourceFailure>,
    console_url: &str,
) -> String {
    let mut text = format!("stack \"{stack}\" failed to {operation} (final status {status})");
    if let Some(f) = failure {
        text.push_str(&format!(
            ": {} ({}) {}: {}",
            f.logical_id, f.resource_type, f.status, f.reason
        ));
    }
    text.push_str(&format!("\nView the full error: {console_url}"));
    text
}

/// What kind of failure an AWS call ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureKind {
    /// The service refused the request (4xx with an error code).
    Service,
    /// The service was throttling.
    Throttled,
    /// The service answered 5xx.
    ServerError,
    /// The endpoint could not be reached or the connection broke.
    Connection,
    /// No answer within the time allowed.
    Timeout,
    /// Anything else (an answer that could not be read, a local problem).
    Other,
}

fn call_message(action: &str, message: &str, kind: &FailureKind, state: Option<&str>) -> String {
    let advice = match kind {
        FailureKind::Connection => " — check the network, proxy and endpoint (AWS_ENDPOINT_URL)",
        FailureKind::Timeout => " — AWS did not answer in time; check the network and endpoint",
        FailureKind::Throttled | FailureKind::ServerError => {
            " — AWS kept failing after the SDK's retries"
        }
        FailureKind::Service => service_advice(message),
        FailureKind::Other => "",
    };
    let mut text = format!("{action} failed: {message}{advice}");
    match state {
        Some(state) => text.push_str(&format!("; {state}")),
        None if !advice.is_empty() && *kind != FailureKind::Service => {
            text.push_str("; re-running is safe")
        }
        None => {}
    }
    text
}

/// What to do about a refusal whose code says it (`AccessDenied: …`, `ExpiredToken: …`).
fn service_advice(message: &str) -> &'static str {
    let code = message.split(':').next().unwrap_or("");
    match code {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthorizationError" => {
            " — the credentials lack this permission: grant it to the principal `deployer whoami` \
             shows"
        }
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
            " — the credentials have expired: refresh them and re-run"
        }
        "InvalidClientTokenId" | "SignatureDoesNotMatch" | "UnrecognizedClientException" => {
            " — the credentials were rejected: check the profile's keys with `deployer whoami`"
        }
        _ => "",
    }
}

fn failure_kind<E, R>(
    err: &SdkError<E, R>,
    code: Option<&str>,
    status: Option<u16>,
    raw: &str,
) -> FailureKind
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    match err {
        SdkError::TimeoutError(_) => return FailureKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => return FailureKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_io() || d.is_other() => {
            return FailureKind::Connection;
        }
        _ => {}
    }
    if matches!(
        code,
        Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "SlowDown")
    ) {
        return FailureKind::Throttled;
    }
    match status {
        Some(s) if s >= 500 => FailureKind::ServerError,
        Some(_) if code.is_some() => FailureKind::Service,
        // A 2xx answer that arrived but could not be parsed: its body (in `raw`) may say anything.
        Some(200..=299) if is_unparsed(err) => FailureKind::Other,
        // A response that broke off mid-body: the connection failed.
        _ if is_connection_text(raw) => FailureKind::Connection,
        Some(403) => FailureKind::Service,
        _ => FailureKind::Other,
    }
}

/// An answer the SDK received but could not read: a service error without code (the
/// deserializer failed) or a response error whose causes (their own words, not the response's
/// body) name no broken transfer.
fn is_unparsed<E, R>(err: &SdkError<E, R>) -> bool
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(_) => true,
        SdkError::ResponseError(_) => {
            let mut causes = String::new();
            let mut cause: Option<&dyn std::error::Error> = Some(err);
            while let Some(c) = cause {
                causes.push_str(&format!("{c}: "));
                cause = c.source();
            }
            !is_connection_text(&causes)
        }
        _ => false,
    }
}

fn is_connection_text(raw: &str) -> bool {
    let raw = raw.to_ascii_lowercase();
    [
        "connection reset",
        "connection refused",
        "connection closed",
        "broken pipe",
        "incompletemessage",
        "unexpected eof",
        "connection aborted",
    ]
    .iter()
    .any(|needle| raw.contains(needle))
}

/// "could not reach <endpoint> (connection refused) during S3 PutObject ..." from the chain.
fn transport_message(action: &str, kind: FailureKind, raw: &str) -> String {
    let lower = raw.to_ascii_lowercase();
    let why = if kind == FailureKind::Timeout || lower.contains("timed out") {
        "timed out"
    } else if lower.contains("refused") {
        "connection refused"
    } else if lower.contains("reset") {
        "connection reset"
    } else {
        "connection broken"
    };
    // The SDK says how long it waited: "... occurred after 16s".
    let after = raw
        .split("occurred after ")
        .nth(1)
        .and_then(|t| t.split([' ', ')', ',']).next())
        .map(|t| format!(" after {t}"))
        .unwrap_or_default();
    let (service, operation) = service_and_operation(action);
    format!(
        "could not reach {} ({why}{after}) during {service} {operation}",
        endpoint_for(action),
    )
}

fn endpoint_for(action: &str) -> String {
    let noted = crate::endpoint::noted();
    let service = service_and_operation(action).0;
    let host = match service {
        "S3" => "s3",
        "SSM" => "ssm",
        "Lambda" => "lambda",
        "CloudWatch" => "monitoring",
        "CloudWatch Logs" => "logs",
        _ => "cloudformation",
    };
    match noted {
        Some((Some(url), _)) => url,
        Some((None, region)) => format!("https://{host}.{region}.amazonaws.com"),
        None => format!("the {service} endpoint"),
    }
}

/// The service and operation of an action: `Lambda Invoke "f"` and `CloudWatch GetMetricData`
/// name their service first; S3, SSM, Lambda version and CloudFormation calls only the
/// operation.
fn service_and_operation(action: &str) -> (&'static str, &str) {
    let mut words = action.split_whitespace();
    let first = words.next().unwrap_or("");
    let named = match first {
        "Lambda" => Some("Lambda"),
        "CloudWatch" => Some("CloudWatch"),
        "Logs" => Some("CloudWatch Logs"),
        _ => None,
    };
    match named {
        Some(service) => (service, words.next().unwrap_or("")),
        None => (service_of(first), first),
    }
}

fn service_of(op: &str) -> &'static str {
    match op {
        "GetParameter" => "SSM",
        "DeleteFunction"
        | "DeleteLayerVersion"
        | "ListAliases"
        | "ListLayerVersions"
        | "ListVersionsByFunction" => "Lambda",
        op if op.ends_with("Object")
            || op.starts_with("ListObjects")
            || op.ends_with("Objects")
            || op.ends_with("Bucket") =>
        {
            "S3"
        }
        _ => "CloudFormation",
    }
}

impl AwsError {
    /// Wrap an SDK error with the action that failed.
    pub fn call<E, R>(action: impl Into<String>, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + HttpStatus + 'static,
    {
        let action = action.into();
        if let Some(refusal) = refusal_in(&err) {
            return AwsError::Refused {
                action,
                refusal: Box::new(refusal),
            };
        }
        let code = err.code().map(str::to_string);
        let status = err.raw_response().map(HttpStatus::status_code);
        let raw = DisplayErrorContext(&err).to_string();
        let kind = failure_kind(&err, code.as_deref(), status, &raw);
        let message = match kind {
            FailureKind::Connection | FailureKind::Timeout => {
                transport_message(&action, kind, &raw)
            }
            _ => sdk_message(&err),
        };
        AwsError::Call {
            action,
            message,
            code,
            kind,
            status,
            state: None,
            raw,
        }
    }

    /// A failure that did not come from the SDK's error types (a change set AWS refused, a
    /// body that broke off).
    pub fn failed(
        action: impl Into<String>,
        message: impl Into<String>,
        kind: FailureKind,
    ) -> Self {
        AwsError::Call {
            action: action.into(),
            message: message.into(),
            code: None,
            kind,
            status: None,
            state: None,
            raw: String::new(),
        }
    }

    /// Add where the deploy stood when this call failed ("the stack was not changed", ...).
    pub fn with_state(mut self, text: impl Into<String>) -> Self {
        if let AwsError::Call { state, .. } = &mut self {
            *state = Some(text.into());
        }
        self
    }

    /// The SDK's full error chain (for `-vv`); `None` for errors that did not come from the SDK.
    pub fn raw_chain(&self) -> Option<&str> {
        match self {
            AwsError::Call { raw, .. } if !raw.is_empty() => Some(raw),
            _ => None,
        }
    }

    /// True when the failure may go away by itself (throttling, 5xx, a dropped connection, a
    /// timeout): read calls are retried, and the outcome of a write must be read back.
    pub fn is_transient(&self) -> bool {
        match self {
            AwsError::Call { kind, .. } => matches!(
                kind,
                FailureKind::Connection
                    | FailureKind::Timeout
                    | FailureKind::Throttled
                    | FailureKind::ServerError
            ),
            _ => false,
        }
    }

    /// The failure kind, for [`AwsError::Call`].
    pub fn kind(&self) -> Option<FailureKind> {
        match self {
            AwsError::Call { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The AWS error code, for [`AwsError::Call`].
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Call { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// Access to the HTTP status of a raw SDK response.
pub trait HttpStatus {
    /// The HTTP status code.
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// A readable message for an SDK error: `Code: message` when AWS sent them, a credential hint
/// for a bare 403, else the full error chain.
pub fn sdk_message<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    match (err.code(), err.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_string(),
        (None, Some(msg)) => msg.to_string(),
        (None, None) => {
            if let Some(raw) = err.raw_response()
                && raw.status_code() == 403
            {
                return "HTTP 403 without details: the credentials were rejected or lack \
                        permission"
                    .to_string();
            }
            unreadable_answer(err)
        }
    }
}

/// An error without code or message (an answer that could not be parsed, a local failure):
/// the causes' own words, without the SDK's debug dump (that is the raw chain, for `-vv`).
fn unreadable_answer<E, R>(err: &SdkError<E, R>) -> String
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    let mut words: Vec<String> = Vec::new();
    let mut cause: Option<&dyn std::error::Error> = Some(err);
    while let Some(c) = cause {
        let text = c.to_string();
        if !text.is_empty() && !words.iter().any(|w| w.contains(&text)) {
            words.push(text);
        }
        cause = c.source();
    }
    let what = match err.raw_response() {
        Some(r) => format!(
            "AWS sent an answer deployer could not read (HTTP {})",
            r.status_code()
        ),
        None => "the call failed before AWS answered".to_string(),
    };
    format!(
        "{what}: {}; re-run with -vv for the SDK's error chain",
        words.join(": ")
    )
}

/// True for CloudFormation's "Stack with id X does not exist".
pub fn is_missing_stack(message: &str) -> bool {
    message.contains("does not exist")
}

/// The console link v3 prints for a stack.
pub fn console_url(region: &str, stack_id: &str) -> String {
    let mut encoded = String::new();
    for b in stack_id.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(b as char)
            }
            _ => encoded.push_str(&format!("%{b:02X}")),
        }
    }
    format!(
        "https://{region}.console.aws.amazon.com/cloudformation/home?region={region}#/stack/detail?stackId={encoded}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_name_the_call_the_endpoint_and_the_next_step() {
        let raw = "dispatch failure: timeout: operation attempt timeout occurred after 2s";
        let msg = transport_message("UpdateStack \"svc-dev\"", FailureKind::Timeout, raw);
        assert!(
            msg.contains("(timed out after 2s) during CloudFormation UpdateStack"),
            "{msg}"
        );
        let reset = transport_message(
            "PutObject s3://b/k",
            FailureKind::Connection,
            "io error: connection reset by peer",
        );
        assert!(
            reset.contains("(connection reset) during S3 PutObject"),
            "{reset}"
        );
        for (action, during) in [
            (
                "CloudWatch GetMetricData",
                "during CloudWatch GetMetricData",
            ),
            ("Lambda Invoke \"svc-dev-f\"", "during Lambda Invoke"),
            (
                "Logs FilterLogEvents on /aws/lambda/f",
                "during CloudWatch Logs FilterLogEvents",
            ),
            (
                "ListVersionsByFunction f",
                "during Lambda ListVersionsByFunction",
            ),
            ("GetParameter \"/p\"", "during SSM GetParameter"),
        ] {
            let msg = transport_message(action, FailureKind::Connection, "connection refused");
            assert!(msg.ends_with(during), "{msg}");
        }
        let text = call_message("PutObject s3://b/k", &reset, &FailureKind::Connection, None);
        assert!(text.ends_with("; re-running is safe"), "{text}");
        assert!(text.contains("check the network"), "{text}");
        let refused = call_message(
            "UpdateStack \"s\"",
            "ValidationError: bad",
            &FailureKind::Service,
            None,
        );
        assert_eq!(refused, "UpdateStack \"s\" failed: ValidationError: bad");
        let denied = call_message(
            "DescribeStacks on stack \"s\"",
            "AccessDenied: not authorized",
            &FailureKind::Service,
            None,
        );
        assert!(denied.contains("grant it to the principal"), "{denied}");
    }

    #[test]
    fn console_url_encodes_the_stack_id() {
        let url = console_url(
            "us-east-1",
            "arn:aws:cloudformation:us-east-1:111111111111:stack/s-dev/abc",
        );
        assert!(url.ends_with(
            "stackId=arn%3Aaws%3Acloudformation%3Aus-east-1%3A111111111111%3Astack%2Fs-dev%2Fabc"
        ));
        assert!(url.starts_with("https://us-east-1.console.aws.amazon.com/"));
    }

    #[test]
    fn stack_failure_names_the_first_failed_resource() {
        let err = AwsError::StackFailed {
            stack: "svc-dev".into(),
            operation: "update",
            status: "UPDATE_ROLLBACK_COMPLETE".into(),
            failure: Some(Box::new(ResourceFailure {
                logical_id: "HelloLambdaFunction".into(),
                resource_type: "AWS::Lambda::Function".into(),
                status: "UPDATE_FAILED".into(),
                reason: "Memory size too large".into(),
            })),
            console_url: "https://x".into(),
        };
        let text = err.to_string();
        assert!(text.contains("HelloLambdaFunction (AWS::Lambda::Function) UPDATE_FAILED"));
        assert!(text.contains("Memory size too large"));
        assert!(text.contains("UPDATE_ROLLBACK_COMPLETE"));
    }
}
