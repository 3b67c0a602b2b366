//! `deployer remove`: guarded; asks on a terminal before removing a stage with an account pin
//! (unless `--yes`; without a terminal `--yes` is required), deletes deployer's objects of the
//! stage from the deployment bucket (saying how many others it left), deletes the stack and
//! waits.

use deployer_ops::errors::{OpError, OpErrorKind};
use deployer_ops::{Confirmation, Removal, RemoveOptions};

use crate::args::RemoveArgs;
use crate::commands::options;
use crate::ui::{self, CliObserver, Output};

/// Runs `deployer remove`.
pub async fn run(out: &Output, args: RemoveArgs) -> anyhow::Result<u8> {
    let confirmation = if args.yes {
        Confirmation::Given
    } else if out.interactive {
        Confirmation::Ask(&ui::confirm_removal)
    } else {
        Confirmation::Unavailable
    };
    let options = RemoveOptions {
        stage: options::stage(out, &args.service, &args.credentials)?,
        confirmation,
    };
    let observer = CliObserver::new(out);
    let removal = deployer_ops::remove(&options, &observer).await;
    observer.finish();
    let removed = match removal.map_err(|e| crate::errors::NoPrompt::explain(e, out.ci))? {
        Removal::Removed(removed) => removed,
        Removal::Declined => {
            return Err(OpError {
                kind: OpErrorKind::Declined,
                message: "Not removed: the answer was not the stack's name".into(),
            }
            .into());
        }
    };
    if out.json {
        out.json_result(&removed);
    } else {
        out.result(&summary(&removed));
    }
    Ok(crate::exit::OK)
}

/// `✔ Stack … removed from account … (N object(s) deleted[, M other object(s) left], 1.2s)`.
fn summary(removed: &deployer_ops::Removed) -> String {
    let left = match removed.objects_left {
        0 => String::new(),
        n => format!(", {n} other object(s) left"),
    };
    format!(
        "✔ Stack {} removed from account {} ({} object(s) deleted{left}, {:.1}s)",
        removed.stack,
        removed.account,
        removed.objects_deleted,
        removed.millis as f32 / 1000.0
    )
}
