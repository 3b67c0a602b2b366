//! Every failure of a command classified once: a documented `kind`, the exit code, the message
//! and the typed fields of the error that caused it. The `--json` error object and the exit
//! code both come from here, so they cannot disagree. The kinds are listed in docs/json.md.

mod context;
mod typed;

use serde_json::{Map, Value, json};

use crate::exit;

pub use context::{NoPrompt, StageContext, deploy_failed};
use deployer_ops::errors::AwsError;
use typed::typed;

/// Every `error.kind` the `--json` error object can carry (documented in docs/json.md, which a
/// test checks against this list; `classify` checks each kind it gives against it).
pub const KINDS: &[&str] = &[
    "usage",
    "confirmation-required",
    "account-guard",
    "credentials",
    "config",
    "plugin",
    "build",
    "package",
    "template",
    "preflight",
    "function",
    "package-dir",
    "deployment",
    "lock-file",
    "protected",
    "plan",
    "declined",
    "no-such-path",
    "stack-missing",
    "stack-failed",
    "locked",
    "aws",
    "io",
    "internal",
];

/// A classified failure.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// One of [`KINDS`].
    pub kind: &'static str,
    /// The process exit code.
    pub exit_code: u8,
    /// The whole message: the headline and its causes, one per line.
    pub message: String,
    /// Typed fields of the cause (stage, expected accounts, operation, ...), camelCase.
    pub fields: Map<String, Value>,
}

impl Failure {
    /// The `--json` object: `{"status": "error", "exitCode": N, "error": {"kind", "message", …}}`.
    pub fn to_json(&self) -> Value {
        let mut error = Map::new();
        error.insert("kind".into(), json!(self.kind));
        error.insert("message".into(), json!(self.message));
        error.extend(self.fields.clone());
        json!({"status": "error", "exitCode": self.exit_code, "error": error})
    }
}

/// A usage error (clap's, or an argument a command rejects).
pub fn usage(message: &str) -> Failure {
    Failure {
        kind: "usage",
        exit_code: exit::USAGE,
        message: message.trim().to_string(),
        fields: Map::new(),
    }
}

/// Classifies an error returned by a command: the first typed error in its chain decides.
pub fn classify(err: &anyhow::Error) -> Failure {
    let message = describe(err);
    let (kind, exit_code, mut fields) =
        err.chain()
            .find_map(typed)
            .unwrap_or(("internal", exit::FAILURE, Map::new()));
    if let Some(ctx) = err.downcast_ref::<StageContext>() {
        fields.extend(ctx.fields());
    }
    // A kind added in `typed` but not to the list would reach `--json` undocumented: every
    // debug build (the tests, end to end included) stops on it.
    debug_assert!(
        KINDS.contains(&kind),
        "error kind {kind:?} is missing from KINDS and docs/json.md"
    );
    Failure {
        kind,
        exit_code,
        message,
        fields,
    }
}

/// The message of an error: the headline, then each cause not already in it.
pub fn describe(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(&format!("\n  caused by: {cause}"));
        }
    }
    text
}

/// The SDK's raw error chain of an AWS failure, for `-vv`.
pub fn raw_chain(err: &anyhow::Error) -> Option<String> {
    err.chain()
        .find_map(|e| e.downcast_ref::<AwsError>())
        .and_then(AwsError::raw_chain)
        .map(str::to_string)
}

/// `--expect-account` as clap parses it: trimmed, exactly 12 digits (empty is an error).
pub fn account_id(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v.to_string())
    } else {
        Err(format!(
            "must be a 12-digit AWS account id (got {value:?}); an empty value is refused so \
             that an unset variable never means \"no pin\""
        ))
    }
}

/// The exit code and JSON object of a command line clap could not parse: `None` when `--json`
/// is not among `args` (clap prints its own message then).
pub fn clap_failure(args: &[std::ffi::OsString], err: &clap::Error) -> Option<Failure> {
    let json = args
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--json");
    (json && err.use_stderr()).then(|| usage(&err.render().to_string()))
}

#[cfg(test)]
mod tests;
