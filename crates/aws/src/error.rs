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

/// Everything that can go wrong talking to AWS during deploy, diff, info or remove.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// An AWS call failed.
    #[error("{action} failed: {message}")]
    Call {
        /// What was being done, e.g. `DescribeStacks on stack "svc-dev"`.
        action: String,
        /// The service's error code and message.
        message: String,
        /// The error code, when AWS sent one.
        code: Option<String>,
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

impl AwsError {
    /// Wrap an SDK error with the action that failed.
    pub fn call<E, R>(action: impl Into<String>, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + HttpStatus,
    {
        let code = err.code().map(str::to_string);
        let message = sdk_message(&err);
        AwsError::Call {
            action: action.into(),
            message,
            code,
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
            DisplayErrorContext(err).to_string()
        }
    }
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
