//! CloudFormation drift detection primitives: DetectStackDrift, waiting on
//! DescribeStackDriftDetectionStatus, and the drifted resources' property differences
//! (DescribeStackResourceDrifts, every page).

use std::time::Instant;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::StackResourceDriftStatus;
use serde::{Deserialize, Serialize};

use crate::error::{AwsError, FailureKind};
use crate::stack::Waits;

/// One property that differs from the template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyDifference {
    /// JSON path of the property (`/Properties/MemorySize`).
    pub path: String,
    /// The template's value.
    pub expected: String,
    /// The live value.
    pub actual: String,
    /// `ADD`, `REMOVE` or `NOT_EQUAL`.
    pub difference: String,
}

/// A resource that drifted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftedResource {
    /// Logical id.
    pub logical_id: String,
    /// Type.
    pub resource_type: String,
    /// Physical id.
    pub physical_id: String,
    /// `MODIFIED` or `DELETED`.
    pub status: String,
    /// The property differences (none for a deleted resource).
    pub differences: Vec<PropertyDifference>,
}

/// Runs drift detection on `stack` and waits for it; returns the drifted resources.
pub async fn detect(
    cfn: &Client,
    stack: &str,
    waits: &Waits,
) -> Result<Vec<DriftedResource>, AwsError> {
    let out = cfn
        .detect_stack_drift()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| AwsError::call(format!("DetectStackDrift on stack \"{stack}\""), e))?;
    let id = out
        .stack_drift_detection_id()
        .unwrap_or_default()
        .to_string();
    wait(cfn, stack, &id, waits).await?;
    drifted_resources(cfn, stack).await
}

/// Polls DescribeStackDriftDetectionStatus until the detection ends.
async fn wait(cfn: &Client, stack: &str, id: &str, waits: &Waits) -> Result<(), AwsError> {
    let started = Instant::now();
    let mut poll = 0;
    loop {
        let out = cfn
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(id)
            .send()
            .await
            .map_err(|e| {
                AwsError::call(
                    format!("DescribeStackDriftDetectionStatus on stack \"{stack}\""),
                    e,
                )
            })?;
        match out
            .detection_status()
            .map(|s| s.as_str())
            .unwrap_or_default()
        {
            "DETECTION_COMPLETE" => return Ok(()),
            "DETECTION_FAILED" => {
                return Err(AwsError::failed(
                    format!("DetectStackDrift on stack \"{stack}\""),
                    format!(
                        "drift detection failed: {}",
                        out.detection_status_reason().unwrap_or("no reason given")
                    ),
                    FailureKind::Service,
                ));
            }
            _ if started.elapsed() > waits.operation => {
                return Err(AwsError::Timeout {
                    stack: stack.to_string(),
                    status: "drift detection in progress".into(),
                    waited: started.elapsed(),
                });
            }
            _ => {}
        }
        tokio::time::sleep(waits.delay(poll)).await;
        poll += 1;
    }
}

/// The MODIFIED and DELETED resources with their differences.
async fn drifted_resources(cfn: &Client, stack: &str) -> Result<Vec<DriftedResource>, AwsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = cfn
            .describe_stack_resource_drifts()
            .stack_name(stack)
            .stack_resource_drift_status_filters(StackResourceDriftStatus::Modified)
            .stack_resource_drift_status_filters(StackResourceDriftStatus::Deleted)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                AwsError::call(
                    format!("DescribeStackResourceDrifts on stack \"{stack}\""),
                    e,
                )
            })?;
        for d in page.stack_resource_drifts() {
            out.push(DriftedResource {
                logical_id: d.logical_resource_id().unwrap_or_default().to_string(),
                resource_type: d.resource_type().unwrap_or_default().to_string(),
                physical_id: d.physical_resource_id().unwrap_or_default().to_string(),
                status: (d.stack_resource_drift_status().map(|s| s.as_str()))
                    .unwrap_or_default()
                    .to_string(),
                differences: (d.property_differences().iter())
                    .map(|p| PropertyDifference {
                        path: p.property_path().unwrap_or_default().to_string(),
                        expected: p.expected_value().unwrap_or_default().to_string(),
                        actual: p.actual_value().unwrap_or_default().to_string(),
                        difference: (p.difference_type().map(|t| t.as_str()))
                            .unwrap_or_default()
                            .to_string(),
                    })
                    .collect(),
            });
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}
