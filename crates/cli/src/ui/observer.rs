//! The command line's [`Observer`]: warnings and details through [`Output`], progress through
//! the progress printer.

use deployer_ops::types::{AwsSession, Progress, Reporter};
use deployer_ops::{Action, Observer};

use super::Output;
use super::progress::ProgressPrinter;

/// Shows what an operation reports while it runs.
pub struct CliObserver<'a> {
    out: &'a Output,
    progress: ProgressPrinter,
}

impl<'a> CliObserver<'a> {
    /// An observer printing through `out`.
    pub fn new(out: &'a Output) -> Self {
        Self {
            out,
            progress: ProgressPrinter::new(out),
        }
    }

    /// Clears a live progress line before the result is printed.
    pub fn finish(&self) {
        self.progress.finish();
    }
}

impl Reporter for CliObserver<'_> {
    fn report(&self, event: Progress) {
        self.progress.report(event);
    }
}

impl Observer for CliObserver<'_> {
    fn warning(&self, text: &str) {
        self.out.warn(text);
    }

    fn detail(&self, text: &str) {
        self.out.detail(text);
    }

    fn announce(&self, action: Action, service: &str, session: &AwsSession) {
        let verb = match action {
            Action::Deploy => format!("Deploying {service} to"),
            Action::Diff => format!("Comparing {service} with"),
            Action::Remove => format!("Removing {service} from"),
        };
        let pin = if session.pin.is_pinned() {
            ""
        } else {
            " [no account pin: add provider.allowedAccountIds]"
        };
        self.out.progress(&format!(
            "{verb} stage {} ({}) in account {} as {} via {}{pin}",
            session.stage,
            session.region,
            session.identity.account,
            session.identity.arn,
            session.source
        ));
    }
}
