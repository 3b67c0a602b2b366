//! `drift`: has the live stage moved away from what was deployed? CloudFormation's drift
//! detection on the stack (property differences, expected vs actual) and each function's code
//! compared with the deployed zip (a `deploy function` hot-fix the stack does not describe).

use deployer_aws::drift::DriftedResource;
use deployer_aws::flow::drift::{CodeDrift, DriftRequest};
use deployer_aws::stack::{StackParams, Waits};
use deployer_config::model::Service;
use serde::Serialize;

use crate::calls::AwsCalls;
use crate::commands::deployments;
use crate::observer::Observer;
use crate::pipeline::stack;
use crate::pipeline::stage::{Stage, StageOptions};

/// The result of `drift`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// `inSync` or `drifted`.
    pub status: &'static str,
    /// Stack name.
    pub stack: String,
    /// The account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Resources modified or deleted outside CloudFormation, with their differences.
    pub resources: Vec<DriftedResource>,
    /// Functions whose live code is not the deployed zip.
    pub code: Vec<CodeDrift>,
    /// AWS calls made.
    pub aws_calls: AwsCalls,
}

impl Drift {
    /// True when anything drifted.
    pub fn drifted(&self) -> bool {
        self.status == "drifted"
    }
}

/// The drift section of `diff --drift` and of a plan made with it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftSection {
    /// True when anything drifted.
    pub drifted: bool,
    /// Resources modified or deleted outside CloudFormation.
    pub resources: Vec<DriftedResource>,
    /// Functions whose live code is not the deployed zip.
    pub code: Vec<CodeDrift>,
}

/// Opens the stage (guard first) and detects drift on its stack.
pub async fn drift(options: &StageOptions, observer: &dyn Observer) -> anyhow::Result<Drift> {
    let target = deployments::open(options, observer).await?;
    let session = &target.stage.session;
    let found = detect(&target.stage, &target.service, &target.stack).await?;
    Ok(Drift {
        status: if found.drifted { "drifted" } else { "inSync" },
        stack: target.stack.clone(),
        account: session.identity.account.clone(),
        region: session.region.clone(),
        resources: found.resources,
        code: found.code,
        aws_calls: target.stage.calls(),
    })
}

/// Drift detection on `stack` of the opened stage.
pub(crate) async fn detect(
    stage: &Stage,
    service: &Service,
    stack: &str,
) -> anyhow::Result<DriftSection> {
    let req = DriftRequest {
        params: StackParams {
            stack: stack.to_string(),
            region: stage.session.region.clone(),
            ..Default::default()
        },
        bucket: stack::bucket_choice(service),
        waits: Waits::default(),
    };
    let clients = &stage.clients;
    let found = stage
        .run(async { Ok(deployer_aws::flow::drift::drift(clients, &req).await?) })
        .await?;
    Ok(DriftSection {
        drifted: found.drifted(),
        resources: found.resources,
        code: found.code,
    })
}
