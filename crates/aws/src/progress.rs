//! Progress events of the AWS operations. The orchestration reports what it does through a
//! [`Reporter`]; the CLI decides how to show it (live line, plain lines, nothing).

use std::time::{Duration, SystemTime};

/// One CloudFormation stack event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    /// When CloudFormation recorded it.
    pub timestamp: Option<SystemTime>,
    /// Logical id (the stack name for stack-level events).
    pub logical_id: String,
    /// Resource type, e.g. `AWS::Lambda::Function`.
    pub resource_type: String,
    /// Status, e.g. `CREATE_IN_PROGRESS`.
    pub status: String,
    /// CloudFormation's reason, when it gave one.
    pub reason: Option<String>,
    /// True for events of the stack itself.
    pub is_stack: bool,
}

/// Something the deploy, diff or remove flow is doing.
#[derive(Debug, Clone)]
pub enum Progress {
    /// The stack is busy with another operation; waiting for it to settle.
    StackBusy {
        /// Stack name.
        stack: String,
        /// Its current status.
        status: String,
        /// Time waited so far.
        waited: Duration,
    },
    /// A stack that never finished creating is deleted before creating it again.
    StackRecreating {
        /// Stack name.
        stack: String,
        /// The status that made it unusable (`ROLLBACK_COMPLETE`, `REVIEW_IN_PROGRESS`).
        status: String,
    },
    /// Creating the stack (the core stack with the deployment bucket, or the full stack).
    StackCreating {
        /// Stack name.
        stack: String,
    },
    /// Result of change detection.
    ChangeCheck {
        /// True when the newest deployment already holds exactly these files.
        unchanged: bool,
        /// Why the deploy goes ahead (or why it is skipped).
        reason: String,
    },
    /// Uploading files to the deployment bucket.
    Uploading {
        /// Bucket name.
        bucket: String,
        /// S3 directory (`serverless/<service>/<stage>/<ms>-<ISO>`).
        directory: String,
        /// Files to upload.
        files: usize,
        /// Their total size.
        bytes: u64,
        /// Files skipped because identical bytes are already there.
        skipped: usize,
    },
    /// One file uploaded.
    Uploaded {
        /// Object key.
        key: String,
        /// Size in bytes.
        bytes: u64,
    },
    /// A stack operation started.
    StackOperation {
        /// Stack name.
        stack: String,
        /// `create`, `update`, `delete` or `change set`.
        operation: &'static str,
    },
    /// A stack event arrived while following an operation.
    Event(StackEvent),
    /// Old deployments removed from the bucket.
    Cleanup {
        /// Number of deployment directories removed.
        directories: usize,
        /// Number of objects removed.
        objects: usize,
    },
    /// Another run holds the stage's deploy lock; waiting for it.
    LockWait {
        /// Stage.
        stage: String,
        /// `user@host (pid N)` of the holder.
        holder: String,
        /// When the holder took it.
        since: String,
        /// Time waited so far.
        waited: Duration,
    },
    /// A lock left by another run was removed (expired, or `--force-unlock`).
    LockBroken {
        /// Lock key.
        key: String,
        /// Its holder.
        holder: String,
        /// When the holder took it.
        since: String,
    },
    /// Objects of the stage removed from the bucket (`remove`).
    Emptied {
        /// Bucket name.
        bucket: String,
        /// Number of objects removed.
        objects: usize,
    },
}

/// Receives progress events. Implemented for any `Fn(Progress)`.
pub trait Reporter: Send + Sync {
    /// Called for each event, in order.
    fn report(&self, event: Progress);
}

impl<F: Fn(Progress) + Send + Sync> Reporter for F {
    fn report(&self, event: Progress) {
        self(event)
    }
}

/// A reporter that drops every event.
pub fn silent() -> impl Reporter {
    |_event: Progress| {}
}
