//! Tests of the failure classification.

use deployer_ops::errors::{Broken, Evidence, GuardRefusal};

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

#[test]
fn every_kind_is_documented_and_every_documented_kind_exists() {
    let doc = include_str!("../../../../docs/json.md");
    let table = doc.split("## Kinds").nth(1).expect("a Kinds section");
    let mut documented: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // the header and its rule
        .filter_map(|l| l.split('`').nth(1))
        .collect();
    documented.sort_unstable();
    let mut kinds = KINDS.to_vec();
    kinds.sort_unstable();
    assert_eq!(documented, kinds);
}
