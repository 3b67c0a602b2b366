//! Change detection, shared by deploy and diff: v3's `filesha256` comparison of the local
//! files with the newest deployment, plus deployer's two extra conditions (the stack's last
//! operation succeeded, the deployed template references the newest deployment), and the
//! filter of a change set's entries that only an emulator lists.

use crate::artifacts::{self, Deployment};
use crate::clients::AwsClients;
use crate::error::AwsError;
use crate::stack::{self, Change, StackInfo};

use super::request::DeployRequest;

/// Result of comparing local files with the newest deployment.
#[derive(Debug, Clone)]
pub(crate) struct ChangeCheck {
    /// True when nothing needs deploying.
    pub(crate) unchanged: bool,
    /// Why (or why not).
    pub(crate) reason: String,
    /// `filesha256` of each object of the newest deployment (key → hash).
    pub(crate) newest_hashes: Vec<(String, Option<String>)>,
}

impl ChangeCheck {
    /// A check that found something to deploy without looking at the bucket.
    pub(crate) fn changed(reason: impl Into<String>) -> Self {
        Self {
            unchanged: false,
            reason: reason.into(),
            newest_hashes: Vec::new(),
        }
    }

    /// True when the newest deployment already holds `key` with these bytes.
    pub(crate) fn has(&self, key: &str, sha256_base64: &str) -> bool {
        self.newest_hashes
            .iter()
            .any(|(k, h)| k == key && h.as_deref() == Some(sha256_base64))
    }
}

/// Compares `req`'s files with the newest of `deployments` (their `filesha256` metadata),
/// then the stack's state and `deployed_template`.
pub(crate) async fn check_changes(
    clients: &AwsClients,
    req: &DeployRequest,
    bucket: &str,
    info: &StackInfo,
    deployments: &[Deployment],
    deployed_template: Option<&str>,
) -> Result<ChangeCheck, AwsError> {
    let Some(newest) = deployments.last() else {
        return Ok(ChangeCheck::changed("no previous deployment in the bucket"));
    };
    let keys: Vec<String> = newest.objects.iter().map(|o| o.key.clone()).collect();
    let hashes = artifacts::head_hashes(&clients.s3, bucket, &keys).await?;
    let newest_hashes: Vec<(String, Option<String>)> = keys.into_iter().zip(hashes).collect();
    let mut remote: Vec<String> = newest_hashes
        .iter()
        .filter_map(|(_, h)| h.clone())
        .collect();
    remote.sort();
    let reason = if req.force {
        "--force".to_string()
    } else if remote != req.local_hashes() {
        "the template or code changed".to_string()
    } else if !stack::last_operation_succeeded(&info.status) {
        format!(
            "the stack's last operation did not succeed ({})",
            info.status
        )
    } else if !references_newest(deployed_template, &req.stage_prefix(), &newest.directory) {
        "the newest upload was never deployed to the stack".to_string()
    } else {
        return Ok(ChangeCheck {
            unchanged: true,
            reason: format!("no changes since {}", newest.directory),
            newest_hashes,
        });
    };
    Ok(ChangeCheck {
        unchanged: false,
        reason,
        newest_hashes,
    })
}

/// True when the deployed template points at the newest deployment directory, or points at no
/// deployment directory of this stage at all (a service without code artifacts).
fn references_newest(template: Option<&str>, stage_prefix: &str, newest: &str) -> bool {
    let Some(body) = template else { return true };
    !body.contains(&format!("{stage_prefix}/")) || body.contains(&format!("{newest}/"))
}

/// Drops the change set entries listed as `Modify` without any detail while the resource's
/// definition is identical in both templates (emulators list every resource).
pub(crate) fn drop_identical(
    changes: Vec<Change>,
    local: &str,
    deployed: Option<&str>,
) -> Vec<Change> {
    let local: serde_json::Value = serde_json::from_str(local).unwrap_or(serde_json::Value::Null);
    let remote: serde_json::Value = deployed
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(serde_json::Value::Null);
    changes
        .into_iter()
        .filter(|c| {
            !(c.action == "Modify"
                && c.details.is_empty()
                && local["Resources"].get(&c.logical_id).is_some()
                && local["Resources"].get(&c.logical_id) == remote["Resources"].get(&c.logical_id))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_reference_rule() {
        let p = "serverless/s/dev";
        let body = r#"{"Code":{"S3Key":"serverless/s/dev/2-2026-01-01T00:00:00.000Z/s.zip"}}"#;
        assert!(references_newest(
            Some(body),
            p,
            "serverless/s/dev/2-2026-01-01T00:00:00.000Z"
        ));
        assert!(!references_newest(
            Some(body),
            p,
            "serverless/s/dev/3-2026-01-02T00:00:00.000Z"
        ));
        assert!(references_newest(
            Some(r#"{"Resources":{}}"#),
            p,
            "serverless/s/dev/3-x"
        ));
        assert!(references_newest(None, p, "x"));
    }
}
