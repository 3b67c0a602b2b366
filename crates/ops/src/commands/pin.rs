//! `pin`: record the stage's current account (proven with STS) in the account lock file, on
//! purpose, so every later command for the stage refuses another account.

use serde::Serialize;

use crate::commands::identity::Who;
use crate::observer::Observer;
use crate::pipeline::stage::{self, Guard, StageOptions};

/// What `pin` recorded.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pinned {
    /// Stage, account and principal.
    #[serde(flatten)]
    pub who: Who,
    /// The account lock file written.
    pub lock_file: String,
    /// The account recorded before, if any.
    pub previous: Option<String>,
    /// Whether the file changed.
    pub changed: bool,
}

/// Opens the stage with the guard enforced (the configuration's pin and an existing record
/// must hold, unless `--accept-account` replaces the record), then records its account.
pub async fn pin(options: &StageOptions, observer: &dyn Observer) -> anyhow::Result<Pinned> {
    let mut stage = stage::open(options, Guard::Enforce, observer).await?;
    let account = stage.session.account().to_string();
    let stage_name = stage.session.stage.clone();
    stage.lock.record(&stage_name, &account)?;
    let previous = stage.recorded_before.clone();
    Ok(Pinned {
        who: Who::of(&stage.session),
        lock_file: stage.lock.path.display().to_string(),
        changed: previous.as_deref() != Some(account.as_str()),
        previous,
    })
}
