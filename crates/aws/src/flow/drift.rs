//! The drift flow (`deployer drift`): CloudFormation's drift detection on the stack, and the
//! code of each Lambda function compared with the zip of the deployment the stack runs (its
//! `filesha256` against the function's CodeSha256), so a hot-fix shipped with `deploy
//! function`, which the stack does not describe, is reported as such. Read only.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::artifacts;
use crate::clients::AwsClients;
use crate::drift::{self, DriftedResource};
use crate::error::AwsError;
use crate::lambda;
use crate::stack::{self, StackInfo, StackParams, Waits};

use super::{BucketChoice, stack_bucket};

/// What to check.
#[derive(Debug, Clone)]
pub struct DriftRequest {
    /// The stack (name, region).
    pub params: StackParams,
    /// Where the deployments are.
    pub bucket: BucketChoice,
    /// How long to wait for the detection.
    pub waits: Waits,
}

/// A function whose live code is not the deployed zip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeDrift {
    /// Logical id of the function.
    pub logical_id: String,
    /// Its name.
    pub function_name: String,
    /// SHA-256 (base64) of the zip the stack's deployment holds.
    pub deployed_sha256: String,
    /// The function's CodeSha256 now.
    pub live_sha256: String,
}

/// What drift detection found.
#[derive(Debug, Clone)]
pub struct DriftOutcome {
    /// Stack name.
    pub stack: String,
    /// Resources CloudFormation found modified or deleted.
    pub resources: Vec<DriftedResource>,
    /// Functions whose code is not the deployed zip.
    pub code: Vec<CodeDrift>,
}

impl DriftOutcome {
    /// True when anything drifted.
    pub fn drifted(&self) -> bool {
        !self.resources.is_empty() || !self.code.is_empty()
    }
}

/// Detects drift on `req`'s stack; see the module documentation.
pub async fn drift(clients: &AwsClients, req: &DriftRequest) -> Result<DriftOutcome, AwsError> {
    let params = &req.params;
    let Some(info) = stack::describe(&clients.cfn, &params.stack).await? else {
        return Err(AwsError::StackMissing {
            stack: params.stack.clone(),
            region: params.region.clone(),
        });
    };
    let (resources, code) = tokio::join!(
        drift::detect(&clients.cfn, &info.id, &req.waits),
        code_drift(clients, req, &info),
    );
    Ok(DriftOutcome {
        stack: params.stack.clone(),
        resources: resources?,
        code: code?,
    })
}

/// Each function of the deployed template whose CodeSha256 is not its zip's `filesha256`.
async fn code_drift(
    clients: &AwsClients,
    req: &DriftRequest,
    info: &StackInfo,
) -> Result<Vec<CodeDrift>, AwsError> {
    let Some(template) = stack::template(&clients.cfn, &info.id).await? else {
        return Ok(Vec::new());
    };
    let functions = code_keys(&template);
    if functions.is_empty() {
        return Ok(Vec::new());
    }
    let bucket = stack_bucket(clients, &req.bucket, info).await?;
    let keys: Vec<String> = functions.iter().map(|(_, k)| k.clone()).collect();
    let deployed = artifacts::head_hashes(&clients.s3, &bucket, &keys).await?;
    let names = stack::resources(&clients.cfn, &info.id).await?;
    let mut out = Vec::new();
    for ((logical_id, _), expected) in functions.into_iter().zip(deployed) {
        let (Some(expected), Some(r)) =
            (expected, names.iter().find(|r| r.logical_id == logical_id))
        else {
            continue;
        };
        let Some(live) = lambda::get_function(&clients.lambda, &r.physical_id).await? else {
            continue;
        };
        if live.code_sha256 != expected {
            out.push(CodeDrift {
                logical_id,
                function_name: r.physical_id.clone(),
                deployed_sha256: expected,
                live_sha256: live.code_sha256,
            });
        }
    }
    Ok(out)
}

/// `(logical id, Code.S3Key)` of each Lambda function whose code is a zip in S3.
fn code_keys(template: &Value) -> Vec<(String, String)> {
    let Some(resources) = template["Resources"].as_object() else {
        return Vec::new();
    };
    resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Lambda::Function")
        .filter_map(|(id, r)| {
            let key = r["Properties"]["Code"]["S3Key"].as_str()?;
            Some((id.clone(), key.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_functions_with_a_zip_in_s3_are_compared() {
        let t = serde_json::json!({"Resources": {
            "A": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Key": "p/s/dev/1-x/s.zip"}}},
            "B": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"ZipFile": "x"}}},
            "Q": {"Type": "AWS::SQS::Queue"}}});
        assert_eq!(
            code_keys(&t),
            [("A".to_string(), "p/s/dev/1-x/s.zip".to_string())]
        );
    }
}
