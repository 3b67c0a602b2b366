//! A kept change set (saved plans): its state, and a SHA-256 of bytes as deployer writes it
//! (`filesha256`, base64).

use aws_sdk_cloudformation::Client;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::AwsError;

/// What DescribeChangeSet says about a kept change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetState {
    /// `CREATE_COMPLETE`, `FAILED`, …
    pub status: String,
    /// `AVAILABLE` when it can be executed; `EXECUTE_COMPLETE`, `OBSOLETE`, …
    pub execution_status: String,
    /// CloudFormation's reason, when given.
    pub reason: Option<String>,
}

impl ChangeSetState {
    /// True when ExecuteChangeSet would accept it.
    pub fn executable(&self) -> bool {
        self.status == "CREATE_COMPLETE" && self.execution_status == "AVAILABLE"
    }
}

/// The state of change set `id` of `stack`; `None` when it no longer exists.
pub async fn state(
    cfn: &Client,
    stack: &str,
    id: &str,
) -> Result<Option<ChangeSetState>, AwsError> {
    let out = match cfn
        .describe_change_set()
        .stack_name(stack)
        .change_set_name(id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            let err = AwsError::call(format!("DescribeChangeSet on stack \"{stack}\""), e);
            return match &err {
                AwsError::Call { message, code, .. }
                    if message.contains("does not exist")
                        || code.as_deref() == Some("ChangeSetNotFound") =>
                {
                    Ok(None)
                }
                _ => Err(err),
            };
        }
    };
    Ok(Some(ChangeSetState {
        status: out
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        execution_status: (out.execution_status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        reason: out.status_reason().map(str::to_string),
    }))
}

/// SHA-256 of `bytes`, base64 (as the `filesha256` metadata of deployer's uploads).
pub fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_complete_available_change_set_is_executable() {
        let s = |status: &str, exec: &str| ChangeSetState {
            status: status.into(),
            execution_status: exec.into(),
            reason: None,
        };
        assert!(s("CREATE_COMPLETE", "AVAILABLE").executable());
        assert!(!s("CREATE_COMPLETE", "EXECUTE_COMPLETE").executable());
        assert!(!s("FAILED", "UNAVAILABLE").executable());
        assert_eq!(
            sha256_base64(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }
}
