//! What the steps of a deploy hand each other and what the deploy returns: a leaf of the
//! deploy flow, so its read half (`deploy.rs`), its writing half (`write.rs`) and retention
//! use these types without using each other in a circle.

use std::time::Instant;

use serde::Serialize;

use crate::artifacts::Deployment;
use crate::stack::{StackInfo, StackOutput};

use super::changes::ChangeCheck;

/// Result status of `up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployStatus {
    /// The stack was created or updated.
    Deployed,
    /// Nothing changed; no upload, no stack update (or CloudFormation found nothing to do).
    Unchanged,
}

/// What a deploy did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployOutcome {
    /// Deployed or unchanged.
    pub status: DeployStatus,
    /// Why (change detection's reason, or CloudFormation's "no updates").
    pub reason: String,
    /// Stack name.
    pub stack: String,
    /// Stack id.
    pub stack_id: String,
    /// Final stack status.
    pub stack_status: String,
    /// True when this run created the stack.
    pub created: bool,
    /// Deployment bucket.
    pub bucket: String,
    /// The deployment directory used (uploaded to, or the unchanged newest one).
    pub directory: Option<String>,
    /// Keys uploaded in this run.
    pub uploaded: Vec<String>,
    /// Files not uploaded because identical bytes were already there.
    pub skipped_uploads: usize,
    /// Old deployment directories removed.
    pub removed_deployments: usize,
    /// Stack outputs after the deploy.
    pub outputs: Vec<StackOutput>,
    /// Duration of each phase in milliseconds, in order.
    pub timings: Vec<(String, u64)>,
    /// True when termination protection was turned on after the deploy (a protected stage).
    pub termination_protection: bool,
}

/// The duration of each phase of a deploy.
pub(super) struct Clock {
    start: Instant,
    last: Instant,
    phases: Vec<(String, u64)>,
}

impl Clock {
    pub(super) fn new() -> Self {
        let now = Instant::now();
        Self {
            start: now,
            last: now,
            phases: Vec::new(),
        }
    }

    /// Ends phase `name`.
    pub(super) fn lap(&mut self, name: &str) {
        let now = Instant::now();
        self.phases
            .push((name.to_string(), (now - self.last).as_millis() as u64));
        self.last = now;
    }

    /// The phases and the total.
    pub(super) fn finish(mut self) -> Vec<(String, u64)> {
        self.phases
            .push(("total".into(), self.start.elapsed().as_millis() as u64));
        self.phases
    }
}

/// What the read-only first half of a deploy found.
pub(super) struct Prepared {
    pub(super) existing: Option<StackInfo>,
    pub(super) created: bool,
    pub(super) stack_id: Option<String>,
    pub(super) bucket: String,
    pub(super) check: ChangeCheck,
    pub(super) deployments: Vec<Deployment>,
    pub(super) deployed_template: Option<String>,
    pub(super) clock: Clock,
}
