//! Errors that carry where a command stood or why it could not ask.

use serde_json::{Map, Value, json};

use deployer_ops::errors::{Classify, ConfirmationRequired, Kind};

use super::typed::fields;

/// Where a failed operation stood (stage, stack, account), attached as the error's headline so
/// the `--json` error object carries it.
#[derive(Debug, Clone)]
pub struct StageContext {
    /// The headline, e.g. `Stack svc-dev failed to deploy (3.2s)`.
    pub headline: String,
    /// Stage.
    pub stage: String,
    /// Stack name.
    pub stack: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// AWS calls made, as JSON.
    pub aws_calls: Value,
}

impl StageContext {
    pub(super) fn fields(&self) -> Map<String, Value> {
        fields(
            json!({"stage": self.stage, "stack": self.stack, "account": self.account,
                      "region": self.region, "awsCalls": self.aws_calls}),
        )
    }
}

impl std::fmt::Display for StageContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.headline)
    }
}

/// A failed deploy as an error headed by where it stood (see [`StageContext`]).
pub fn deploy_failed(failed: deployer_ops::DeployFailed) -> anyhow::Error {
    let context = StageContext {
        headline: format!(
            "Stack {} failed to deploy ({:.1}s)",
            failed.stack,
            failed.elapsed.as_secs_f32()
        ),
        stage: failed.stage,
        stack: failed.stack,
        account: failed.account,
        region: failed.region,
        aws_calls: serde_json::to_value(&failed.aws_calls).unwrap_or(Value::Null),
    };
    anyhow::Error::new(failed.cause).context(context)
}

/// A confirmation was needed and nobody can give one: says why (CI, or no terminal).
#[derive(Debug)]
pub struct NoPrompt {
    /// Stage.
    pub stage: String,
    /// Stack name.
    pub stack: String,
    /// `in CI (CI is set)` or `without a terminal`.
    pub reason: &'static str,
}

impl NoPrompt {
    /// The CLI's wording of `err` when it is a [`ConfirmationRequired`]; `err` unchanged else.
    pub fn explain(err: anyhow::Error, ci: bool) -> anyhow::Error {
        let Some(c) = err.downcast_ref::<ConfirmationRequired>() else {
            return err;
        };
        anyhow::Error::new(NoPrompt {
            stage: c.stage.clone(),
            stack: c.stack.clone(),
            reason: if ci {
                "in CI (CI is set)"
            } else {
                "without a terminal"
            },
        })
    }
}

impl std::fmt::Display for NoPrompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stage {} is pinned to an account: removing stack {} needs a confirmation, and \
             deployer never prompts {}; pass --yes to remove it",
            self.stage, self.stack, self.reason
        )
    }
}

impl std::error::Error for NoPrompt {}

impl Classify for NoPrompt {
    fn kind(&self) -> Kind {
        Kind::ConfirmationRequired
    }

    fn fields(&self) -> Map<String, Value> {
        fields(json!({"stage": self.stage, "stack": self.stack, "flag": "--yes"}))
    }
}
