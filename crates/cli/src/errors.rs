//! Every failure of a command classified once: a documented `kind`, the exit code, the message
//! and the typed fields of the error that caused it. The `--json` error object and the exit
//! code both come from here, so they cannot disagree. The kinds are listed in docs/json.md.

use deployer_ops::errors::{
    AwsError, Broken, BuildError, ConfigError, ConfirmationRequired, CredentialError, Evidence,
    GuardRefusal, ModelError, PackageError, PluginError, TemplateError,
};
use serde_json::{Map, Value, json};

use crate::exit;

#[cfg_attr(not(test), allow(dead_code))]
/// Every `error.kind` the `--json` error object can carry (documented in docs/json.md).
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

type Typed = (&'static str, u8, Map<String, Value>);

fn typed(e: &(dyn std::error::Error + 'static)) -> Option<Typed> {
    if let Some(c) = e.downcast_ref::<ConfirmationRequired>() {
        let f = fields(json!({"stage": c.stage, "stack": c.stack, "flag": "--yes"}));
        return Some(("confirmation-required", exit::USAGE, f));
    }
    if let Some(c) = e.downcast_ref::<NoPrompt>() {
        let f = fields(json!({"stage": c.stage, "stack": c.stack, "flag": "--yes"}));
        return Some(("confirmation-required", exit::USAGE, f));
    }
    if let Some(r) = e.downcast_ref::<GuardRefusal>() {
        return Some(("account-guard", exit::GUARD, guard_fields(r)));
    }
    if let Some(c) = e.downcast_ref::<CredentialError>() {
        return Some(credential(c));
    }
    if let Some(a) = e.downcast_ref::<AwsError>() {
        return Some(aws(a));
    }
    if let Some(c) = e.downcast_ref::<ConfigError>() {
        let problems: Vec<Value> = c
            .problems()
            .iter()
            .map(|p| json!({"path": p.path, "message": p.message}))
            .collect();
        return Some((
            "config",
            exit::FAILURE,
            fields(json!({"problems": problems})),
        ));
    }
    let simple = if e.is::<ModelError>() {
        "config"
    } else if e.is::<PluginError>() {
        "plugin"
    } else if e.is::<BuildError>() {
        "build"
    } else if e.is::<PackageError>() {
        "package"
    } else if e.is::<TemplateError>() {
        "template"
    } else if e.is::<std::io::Error>() {
        "io"
    } else {
        return None;
    };
    Some((simple, exit::FAILURE, Map::new()))
}

fn guard_fields(r: &GuardRefusal) -> Map<String, Value> {
    let (rule, expected): (&str, Vec<String>) = match &r.broken {
        Broken::NotAllowed { allowed } => ("allowedAccountIds", allowed.clone()),
        Broken::NotExpected { expected } => ("expectAccount", vec![expected.clone()]),
        Broken::Forbidden => ("forbiddenAccountIds", Vec::new()),
        Broken::NotRecorded { recorded } => ("accountLockFile", vec![recorded.account.clone()]),
        Broken::Unpinned { .. } => ("pinRequired", Vec::new()),
    };
    let principal = match &r.evidence {
        Evidence::Caller { arn } => Some(arn.clone()),
        Evidence::Declared { .. } => None,
    };
    fields(json!({
        "stage": r.stage,
        "rule": rule,
        "expected": expected,
        "actual": r.account,
        "credentials": r.source,
        "principal": principal,
    }))
}

fn credential(c: &CredentialError) -> Typed {
    match c {
        CredentialError::Refused(r) => ("account-guard", exit::GUARD, guard_fields(r)),
        CredentialError::InvalidExpectAccount(v) => (
            "usage",
            exit::USAGE,
            fields(json!({"flag": "--expect-account", "value": v})),
        ),
        CredentialError::ProfileNotFound { name, origin, .. } => (
            "credentials",
            exit::FAILURE,
            fields(json!({"profile": name, "origin": origin})),
        ),
        _ => ("credentials", exit::FAILURE, Map::new()),
    }
}

fn aws(a: &AwsError) -> Typed {
    let (kind, f) = match a {
        AwsError::Call {
            action,
            code,
            kind,
            status,
            state,
            ..
        } => (
            "aws",
            json!({"operation": action, "code": code, "httpStatus": status,
                   "failure": kind, "state": state}),
        ),
        AwsError::StackMissing { stack, region } => {
            ("stack-missing", json!({"stack": stack, "region": region}))
        }
        AwsError::StackFailed {
            stack,
            operation,
            status,
            failure,
            console_url,
        } => (
            "stack-failed",
            json!({"stack": stack, "operation": operation, "stackStatus": status,
                   "resource": failure, "consoleUrl": console_url}),
        ),
        AwsError::Locked(lock) => (
            "locked",
            json!({"stage": lock.stage, "owner": lock.owner, "since": lock.since,
                   "expires": lock.expires, "lock": format!("s3://{}/{}", lock.bucket, lock.key)}),
        ),
        AwsError::NeedsRecovery { stack, status, .. } | AwsError::Timeout { stack, status, .. } => {
            ("aws", json!({"stack": stack, "stackStatus": status}))
        }
        _ => ("aws", json!({})),
    };
    (kind, exit::FAILURE, fields(f))
}

/// The fields of a JSON object, without the null ones.
fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        _ => Map::new(),
    }
}

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
    fn fields(&self) -> Map<String, Value> {
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
mod tests {
    use super::*;

    #[test]
    fn a_guard_refusal_is_exit_3_with_its_accounts() {
        let refusal = GuardRefusal {
            stage: "prod".into(),
            account: "222222222222".into(),
            source: "profile \"dev\"".into(),
            broken: Broken::NotAllowed {
                allowed: vec!["111111111111".into()],
            },
            evidence: Evidence::Caller {
                arn: "arn:aws:iam::222222222222:user/u".into(),
            },
            stage_env: "AWS_PROD".into(),
        };
        let err = anyhow::Error::new(refusal).context("Cannot deploy");
        let f = classify(&err);
        assert_eq!((f.kind, f.exit_code), ("account-guard", exit::GUARD));
        let j = f.to_json();
        assert_eq!(j["exitCode"], 3);
        assert_eq!(j["error"]["expected"], json!(["111111111111"]));
        assert_eq!(j["error"]["actual"], "222222222222");
        assert!(
            j["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Cannot deploy")
        );
    }

    #[test]
    fn untyped_errors_are_internal_and_io_errors_io() {
        let f = classify(&anyhow::anyhow!("odd"));
        assert_eq!((f.kind, f.exit_code), ("internal", exit::FAILURE));
        let io = std::io::Error::other("disk full");
        let f = classify(&anyhow::Error::new(io).context("Cannot write x"));
        assert_eq!(f.kind, "io");
        assert!(KINDS.contains(&f.kind));
    }

    #[test]
    fn a_stage_context_adds_where_the_operation_stood() {
        let cause = AwsError::StackMissing {
            stack: "s-dev".into(),
            region: "us-east-1".into(),
        };
        let err = anyhow::Error::new(cause).context(StageContext {
            headline: "Stack s-dev failed to deploy (1.0s)".into(),
            stage: "dev".into(),
            stack: "s-dev".into(),
            account: "222222222222".into(),
            region: "us-east-1".into(),
            aws_calls: json!({}),
        });
        let f = classify(&err);
        assert_eq!(f.kind, "stack-missing");
        assert_eq!(f.fields["account"], "222222222222");
        assert!(f.message.starts_with("Stack s-dev failed to deploy"));
    }
}
