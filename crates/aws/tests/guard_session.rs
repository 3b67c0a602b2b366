//! The deployer-aws API against moto: resolving a stage, the guard's verdicts and the clients
//! a session builds. The whole binary shares one test bed, installed in the process
//! environment once before any test reads it.

use std::sync::OnceLock;

use deployer_aws::{CredentialError, CredentialOptions, CredentialSource, StageTarget, Verdict};
use deployer_testbed::{DEV_ACCOUNT, PROD_ACCOUNT, TestBed};

fn bed() -> &'static TestBed<'static> {
    static BED: OnceLock<TestBed<'static>> = OnceLock::new();
    BED.get_or_init(|| {
        let bed = TestBed::standard();
        add_role_profiles(&bed);
        let ambient: Vec<_> = std::env::vars_os()
            .map(|(k, _)| k)
            .filter(|k| k.to_string_lossy().starts_with("AWS_"))
            .collect();
        // SAFETY: runs once inside OnceLock initialisation, before any test of this binary
        // reads the environment (every test starts by calling `bed()`).
        unsafe {
            for k in ambient {
                std::env::remove_var(k);
            }
            for (k, v) in bed.env_vars() {
                std::env::set_var(k, v);
            }
            // The base keys of the `credential_source = Environment` role; every other test
            // names its profile, which environment keys never override.
            let key = bed.key("default");
            std::env::set_var("AWS_ACCESS_KEY_ID", &key.access_key_id);
            std::env::set_var("AWS_SECRET_ACCESS_KEY", &key.secret_access_key);
        }
        bed
    })
}

/// Role profiles on top of the standard bed: a plain role, one that needs an MFA code, a
/// two-level chain (prod keys → dev role → role account), a `credential_source` role, a web
/// identity role and two profiles whose `source_profile`s form a cycle.
fn add_role_profiles(bed: &TestBed<'static>) {
    bed.moto().provision_role(ROLE_ACCOUNT, "counted").ok();
    bed.moto().provision_role(DEV_ACCOUNT, "middle").ok();
    let token = bed.home().join("web-identity-token");
    std::fs::write(&token, "any-token").unwrap();
    bed.append_config(&format!(
        "[profile chainMiddle]\nrole_arn = arn:aws:iam::{DEV_ACCOUNT}:role/middle\n\
         source_profile = default\n\
         [profile chainTop]\nrole_arn = arn:aws:iam::{ROLE_ACCOUNT}:role/counted\n\
         source_profile = chainMiddle\nrole_session_name = chain-top\n\
         [profile envRole]\nrole_arn = arn:aws:iam::{ROLE_ACCOUNT}:role/counted\n\
         credential_source = Environment\n\
         [profile webRole]\nrole_arn = arn:aws:iam::{ROLE_ACCOUNT}:role/counted\n\
         web_identity_token_file = {}\n\
         [profile loopA]\nrole_arn = arn:aws:iam::{ROLE_ACCOUNT}:role/counted\n\
         source_profile = loopB\n\
         [profile loopB]\nrole_arn = arn:aws:iam::{DEV_ACCOUNT}:role/middle\n\
         source_profile = loopA\n",
        token.display()
    ))
    .unwrap();
    bed.append_config(&format!(
        "[profile countedRole]\nrole_arn = arn:aws:iam::{ROLE_ACCOUNT}:role/counted\n\
         source_profile = default\n\
         [profile countedMfa]\nrole_arn = arn:aws:iam::{ROLE_ACCOUNT}:role/counted\n\
         source_profile = default\nmfa_serial = arn:aws:iam::{PROD_ACCOUNT}:mfa/counted\n"
    ))
    .unwrap();
}

/// The account the role profiles assume into.
const ROLE_ACCOUNT: &str = "333333333333";

fn target(stage: &str, profile: Option<&str>, allowed: &[&str]) -> StageTarget {
    StageTarget {
        stage: stage.into(),
        region: "eu-west-1".into(),
        profile: profile.map(str::to_string),
        allowed_account_ids: allowed.iter().map(|s| s.to_string()).collect(),
        forbidden_account_ids: Vec::new(),
        recorded_account: None,
    }
}

#[tokio::test]
async fn stage_profile_resolves_to_its_account_in_the_stage_region() {
    let bed = bed();
    let s = deployer_aws::open(
        &target("dev", Some("devAccount"), &[DEV_ACCOUNT]),
        &CredentialOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(s.account(), DEV_ACCOUNT);
    assert_eq!(s.identity.arn, bed.key("devAccount").user_arn);
    assert_eq!(
        s.source,
        CredentialSource::ConfigProfile {
            name: "devAccount".into()
        }
    );
    assert_eq!(s.verdict, Verdict::Holds);
    assert_eq!(
        s.sdk_config().region().map(|r| r.as_ref()),
        Some("eu-west-1")
    );
}

#[tokio::test]
async fn wrong_account_is_refused_by_open_guarded_and_reported_by_open() {
    bed();
    let t = target("prod", Some("devAccount"), &[PROD_ACCOUNT]);
    let s = deployer_aws::open(&t, &CredentialOptions::default())
        .await
        .unwrap();
    assert!(matches!(s.verdict, Verdict::Refused(_)));
    let err = deployer_aws::open_guarded(&t, &CredentialOptions::default())
        .await
        .unwrap_err();
    let CredentialError::Refused(refusal) = err else {
        panic!("expected a refusal, got {err}")
    };
    assert_eq!(refusal.account, DEV_ACCOUNT);
    assert!(refusal.to_string().starts_with(
        "stage prod must deploy to 111111111111, but profile \"devAccount\" is for 222222222222"
    ));
}

#[tokio::test]
async fn missing_profile_is_an_error_not_a_fallthrough() {
    bed();
    let err = deployer_aws::open(
        &target("dev", Some("ghost"), &[]),
        &CredentialOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, CredentialError::ProfileNotFound { ref name, .. } if name == "ghost"),
        "{err}"
    );
}

#[tokio::test]
async fn session_clients_reach_the_configured_endpoint() {
    bed();
    let s = deployer_aws::open(
        &target("prod", Some("default"), &[]),
        &CredentialOptions::default(),
    )
    .await
    .unwrap();
    // AWS_ENDPOINT_URL reaches the SDK configuration (and so makes S3 path-style).
    assert_eq!(
        s.sdk_config().endpoint_url(),
        Some(bed().moto().endpoint().as_str())
    );
    let bucket = format!("guard-session-{}", std::process::id());
    let s3 = s.s3();
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key("a/b.txt")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("a/b.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(1));
    let stacks = s.cloudformation().describe_stacks().send().await.unwrap();
    assert!(stacks.stacks().is_empty());
    let who = s.sts().get_caller_identity().send().await.unwrap();
    assert_eq!(who.account(), Some(PROD_ACCOUNT));
}

/// `Service.Operation` → count, as the session's counter saw them.
fn operations(s: &deployer_aws::AwsSession) -> Vec<(String, usize)> {
    s.counter().summary().by_operation
}

fn calls(list: &[(&str, usize)]) -> Vec<(String, usize)> {
    list.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

#[tokio::test]
async fn the_guard_call_is_counted_by_the_session_counter() {
    bed();
    let s = deployer_aws::open(
        &target("dev", Some("devAccount"), &[DEV_ACCOUNT]),
        &CredentialOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(operations(&s), calls(&[("STS.GetCallerIdentity", 1)]));
    s.s3().list_buckets().send().await.unwrap();
    assert_eq!(s.counter().count(), 2, "session clients count too");
}

/// Open the dev stage pinned to the role's account with `opts`, and return its calls.
async fn role_session_calls(opts: CredentialOptions) -> Vec<(String, usize)> {
    bed();
    let s = deployer_aws::open(&target("dev", None, &[ROLE_ACCOUNT]), &opts)
        .await
        .unwrap();
    assert_eq!(s.account(), ROLE_ACCOUNT);
    operations(&s)
}

#[tokio::test]
async fn a_role_profile_assume_role_is_counted() {
    let opts = CredentialOptions {
        aws_profile: Some("countedRole".into()),
        ..Default::default()
    };
    assert_eq!(
        role_session_calls(opts).await,
        calls(&[("STS.AssumeRole", 1), ("STS.GetCallerIdentity", 1)])
    );
}

#[tokio::test]
async fn an_mfa_role_assumption_is_counted() {
    let opts = CredentialOptions {
        aws_profile: Some("countedMfa".into()),
        mfa_code: Some("123456".into()),
        ..Default::default()
    };
    assert_eq!(
        role_session_calls(opts).await,
        calls(&[("STS.AssumeRole", 1), ("STS.GetCallerIdentity", 1)])
    );
}

fn profile_opts(name: &str) -> CredentialOptions {
    CredentialOptions {
        aws_profile: Some(name.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn every_link_of_a_role_chain_is_counted() {
    assert_eq!(
        role_session_calls(profile_opts("chainTop")).await,
        calls(&[("STS.AssumeRole", 2), ("STS.GetCallerIdentity", 1)])
    );
}

#[tokio::test]
async fn a_chain_is_judged_by_its_last_role_before_any_request() {
    bed();
    let err = deployer_aws::open(
        &target("dev", None, &[DEV_ACCOUNT]),
        &profile_opts("chainTop"),
    )
    .await
    .unwrap_err();
    let CredentialError::Refused(refusal) = err else {
        panic!("expected a refusal, got {err}")
    };
    assert_eq!(refusal.account, ROLE_ACCOUNT);
}

#[tokio::test]
async fn a_credential_source_role_is_counted() {
    assert_eq!(
        role_session_calls(profile_opts("envRole")).await,
        calls(&[("STS.AssumeRole", 1), ("STS.GetCallerIdentity", 1)])
    );
}

#[tokio::test]
async fn a_web_identity_profile_is_counted() {
    assert_eq!(
        role_session_calls(profile_opts("webRole")).await,
        calls(&[
            ("STS.AssumeRoleWithWebIdentity", 1),
            ("STS.GetCallerIdentity", 1)
        ])
    );
}

#[tokio::test]
async fn a_source_profile_cycle_is_an_error_naming_the_profiles() {
    bed();
    let err = deployer_aws::open(&target("dev", None, &[]), &profile_opts("loopA"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CredentialError::SourceProfileCycle { ref chain } if chain == "loopA → loopB → loopA"),
        "{err}"
    );
    assert!(err.to_string().contains("form a cycle"), "{err}");
}
