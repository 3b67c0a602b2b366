//! Progress events of the AWS operations. The orchestration reports what it does through a
//! [`Reporter`]; the CLI decides how to show it (live line, plain lines, nothing). Every event
//! names the service and stack it is about ([`Scope`]), so several operations running at once
//! can report through one reporter.

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

/// The service and stack an event is about: which of the operations running at once it comes
/// from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    /// Service name.
    pub service: String,
    /// Stack name; empty for `deploy function`, which never touches the stack and whose
    /// request does not name it.
    pub stack: String,
}

impl Scope {
    /// The scope of `service`'s stack `stack`.
    pub fn new(service: impl Into<String>, stack: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            stack: stack.into(),
        }
    }
}

/// Something the deploy, diff or remove flow is doing. Every variant carries its [`Scope`].
#[derive(Debug, Clone)]
pub enum Progress {
    /// The stack is busy with another operation; waiting for it to settle.
    StackBusy {
        /// The service and stack.
        scope: Scope,
        /// Its current status.
        status: String,
        /// Time waited so far.
        waited: Duration,
    },
    /// A stack that never finished creating is deleted before creating it again.
    StackRecreating {
        /// The service and stack.
        scope: Scope,
        /// The status that made it unusable (`ROLLBACK_COMPLETE`, `REVIEW_IN_PROGRESS`).
        status: String,
    },
    /// Creating the stack (the core stack with the deployment bucket, or the full stack).
    StackCreating {
        /// The service and stack.
        scope: Scope,
    },
    /// Result of change detection.
    ChangeCheck {
        /// The service and stack.
        scope: Scope,
        /// True when the newest deployment already holds exactly these files.
        unchanged: bool,
        /// Why the deploy goes ahead (or why it is skipped).
        reason: String,
    },
    /// Uploading files to the deployment bucket.
    Uploading {
        /// The service and stack.
        scope: Scope,
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
        /// The service and stack.
        scope: Scope,
        /// Object key.
        key: String,
        /// Size in bytes.
        bytes: u64,
    },
    /// A stack operation started.
    StackOperation {
        /// The service and stack.
        scope: Scope,
        /// `create`, `update`, `delete` or `change set`.
        operation: &'static str,
    },
    /// A stack event arrived while following an operation.
    Event {
        /// The service and stack.
        scope: Scope,
        /// The event.
        event: StackEvent,
    },
    /// Old deployments removed from the bucket.
    Cleanup {
        /// The service and stack.
        scope: Scope,
        /// Number of deployment directories removed.
        directories: usize,
        /// Number of objects removed.
        objects: usize,
    },
    /// Another run holds the stage's deploy lock; waiting for it.
    LockWait {
        /// The service and stack.
        scope: Scope,
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
        /// The service and stack.
        scope: Scope,
        /// Lock key.
        key: String,
        /// Its holder.
        holder: String,
        /// When the holder took it.
        since: String,
    },
    /// Objects of the stage removed from the bucket (`remove`).
    Emptied {
        /// The service and stack.
        scope: Scope,
        /// Bucket name.
        bucket: String,
        /// Number of objects removed.
        objects: usize,
    },
}

impl Progress {
    /// The service and stack the event is about.
    pub fn scope(&self) -> &Scope {
        match self {
            Self::StackBusy { scope, .. }
            | Self::StackRecreating { scope, .. }
            | Self::StackCreating { scope }
            | Self::ChangeCheck { scope, .. }
            | Self::Uploading { scope, .. }
            | Self::Uploaded { scope, .. }
            | Self::StackOperation { scope, .. }
            | Self::Event { scope, .. }
            | Self::Cleanup { scope, .. }
            | Self::LockWait { scope, .. }
            | Self::LockBroken { scope, .. }
            | Self::Emptied { scope, .. } => scope,
        }
    }
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

/// A reporter bound to one operation's [`Scope`]: the flows report through it, so no event
/// leaves without its service and stack.
#[derive(Clone, Copy)]
pub struct Scoped<'a> {
    scope: &'a Scope,
    reporter: &'a dyn Reporter,
}

impl<'a> Scoped<'a> {
    /// Events of `scope`, sent to `reporter`.
    pub fn new(scope: &'a Scope, reporter: &'a dyn Reporter) -> Self {
        Self { scope, reporter }
    }

    /// Sends the event `make` builds around this scope.
    pub fn report(&self, make: impl FnOnce(Scope) -> Progress) {
        self.reporter.report(make(self.scope.clone()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn a_scoped_reporter_names_the_service_and_stack_of_every_event() {
        let seen = Mutex::new(Vec::new());
        let collect = |e: Progress| seen.lock().unwrap().push(e);
        let scope = Scope::new("svc", "svc-dev");
        let progress = Scoped::new(&scope, &collect);
        progress.report(|scope| Progress::StackCreating { scope });
        progress.report(|scope| Progress::Cleanup {
            scope,
            directories: 1,
            objects: 2,
        });
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.len(), 2);
        for e in &seen {
            assert_eq!(e.scope(), &Scope::new("svc", "svc-dev"));
        }
    }
}
