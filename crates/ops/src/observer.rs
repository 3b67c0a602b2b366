//! How an operation tells its caller what happens while it runs. The operations never print:
//! the caller implements [`Observer`] (the command line prints; tests collect).

use deployer_aws::AwsSession;
use deployer_aws::progress::Reporter;

/// What an operation is about to do to a stage, announced before anything changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `deploy`.
    Deploy,
    /// `diff`.
    Diff,
    /// `remove`.
    Remove,
}

/// Receives the warnings, details and progress of an operation as they happen, so they can
/// be shown before a long step or a failure.
pub trait Observer: Reporter {
    /// A warning about the configuration or the run.
    fn warning(&self, text: &str);
    /// A detail worth showing only on request (verbose).
    fn detail(&self, text: &str);
    /// Who acts on which stage and account, before the first change.
    fn announce(&self, action: Action, service: &str, session: &AwsSession);
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    use deployer_aws::progress::Progress;

    use super::*;

    /// An observer that keeps the warnings.
    #[derive(Default)]
    pub struct Collect {
        pub warnings: Mutex<Vec<String>>,
    }

    impl Reporter for Collect {
        fn report(&self, _event: Progress) {}
    }

    impl Observer for Collect {
        fn warning(&self, text: &str) {
            self.warnings.lock().unwrap().push(text.to_string());
        }
        fn detail(&self, _text: &str) {}
        fn announce(&self, _action: Action, _service: &str, _session: &AwsSession) {}
    }
}
