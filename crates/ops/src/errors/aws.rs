//! The kinds of `deployer-aws`'s errors. That crate knows nothing of `deployer-config` (where
//! [`Classify`] lives), so its types are classified here, the one crate that sees both.

use serde_json::{Map, Value, json};

use super::{Classified, json_fields};
use crate::errors::{AwsError, Broken, CredentialError, Evidence, GuardRefusal, Kind};

/// The kind of `e` when it is one of `deployer-aws`'s typed errors.
pub(super) fn classify(e: &(dyn std::error::Error + 'static)) -> Option<Classified> {
    if let Some(r) = e.downcast_ref::<GuardRefusal>() {
        return Some(guard(r));
    }
    if let Some(c) = e.downcast_ref::<CredentialError>() {
        return Some(credential(c));
    }
    e.downcast_ref::<AwsError>().map(aws)
}

fn classified(kind: Kind, fields: Value) -> Classified {
    Classified {
        kind,
        fields: json_fields(fields),
    }
}

/// A refusal of the account guard: which rule, what it expected and what it found.
fn guard(r: &GuardRefusal) -> Classified {
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
    classified(
        Kind::AccountGuard,
        json!({
            "stage": r.stage,
            "rule": rule,
            "expected": expected,
            "actual": r.account,
            "credentials": r.source,
            "principal": principal,
        }),
    )
}

fn credential(c: &CredentialError) -> Classified {
    match c {
        CredentialError::Refused(r) => guard(r),
        CredentialError::InvalidExpectAccount(v) => {
            classified(Kind::Usage, json!({"flag": "--expect-account", "value": v}))
        }
        CredentialError::ProfileNotFound { name, origin, .. } => classified(
            Kind::Credentials,
            json!({"profile": name, "origin": origin}),
        ),
        _ => Classified {
            kind: Kind::Credentials,
            fields: Map::new(),
        },
    }
}

fn aws(a: &AwsError) -> Classified {
    match a {
        AwsError::Refused { refusal, .. } => guard(refusal),
        AwsError::Call {
            action,
            code,
            kind,
            status,
            state,
            ..
        } => classified(
            Kind::Aws,
            json!({"operation": action, "code": code, "httpStatus": status,
                   "failure": kind, "state": state}),
        ),
        AwsError::StackMissing { stack, region } => classified(
            Kind::StackMissing,
            json!({"stack": stack, "region": region}),
        ),
        AwsError::StackFailed {
            stack,
            operation,
            status,
            failure,
            console_url,
        } => classified(
            Kind::StackFailed,
            json!({"stack": stack, "operation": operation, "stackStatus": status,
                   "resource": failure, "consoleUrl": console_url}),
        ),
        AwsError::Locked(lock) => classified(
            Kind::Locked,
            json!({"stage": lock.stage, "owner": lock.owner, "since": lock.since,
                   "expires": lock.expires, "lock": format!("s3://{}/{}", lock.bucket, lock.key)}),
        ),
        AwsError::NeedsRecovery { stack, status, .. } | AwsError::Timeout { stack, status, .. } => {
            classified(Kind::Aws, json!({"stack": stack, "stackStatus": status}))
        }
        AwsError::Hook(_) => classified(Kind::Plugin, json!({})),
        _ => classified(Kind::Aws, json!({})),
    }
}
