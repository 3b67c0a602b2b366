//! The typed fields and kind of each error type deployer classifies.

use deployer_ops::errors::{
    AwsError, Broken, BuildError, ConfigError, ConfirmationRequired, CredentialError, Evidence,
    GuardRefusal, ModelError, OpError, OpErrorKind, PackageError, PluginError, PreflightError,
    TemplateError,
};
use serde_json::{Map, Value, json};

use super::NoPrompt;
use crate::exit;

pub(super) type Typed = (&'static str, u8, Map<String, Value>);

pub(super) fn typed(e: &(dyn std::error::Error + 'static)) -> Option<Typed> {
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
        if let AwsError::Refused { refusal, .. } = a {
            return Some(("account-guard", exit::GUARD, guard_fields(refusal)));
        }
        return Some(aws(a));
    }
    if let Some(p) = e.downcast_ref::<PreflightError>() {
        let f = fields(json!({"problems": p.problems}));
        return Some(("preflight", exit::FAILURE, f));
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
    if let Some(op) = e.downcast_ref::<OpError>() {
        return Some(operation(op.kind));
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
        Broken::Refreshed { proven } => ("refreshedCredentials", vec![proven.clone()]),
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

/// The kind and exit code of an operation's own failure.
fn operation(kind: OpErrorKind) -> Typed {
    let (name, code) = match kind {
        OpErrorKind::Function => ("function", exit::FAILURE),
        OpErrorKind::PackageDir => ("package-dir", exit::FAILURE),
        OpErrorKind::Deployment => ("deployment", exit::FAILURE),
        OpErrorKind::Input => ("usage", exit::USAGE),
        OpErrorKind::LockFile => ("lock-file", exit::FAILURE),
        OpErrorKind::Declined => ("declined", exit::FAILURE),
        OpErrorKind::NoSuchPath => ("no-such-path", exit::FAILURE),
    };
    (name, code, Map::new())
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
pub(super) fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        _ => Map::new(),
    }
}
