//! `deployer up` through a fault-injecting proxy in front of moto: 5xx, resets, lost responses,
//! latency and stalls. Each test checks moto's own state with direct SDK calls (never the
//! tool's output alone): the stack runs the code of the last successful run, and a failed run
//! is followed by a clean re-run.

use std::path::Path;
use std::time::Duration;

use deployer_testbed::TestBed;
use deployer_testbed::proxy::{Fault, FaultProxy, Rule};
use serde_json::Value;

use crate::support::{Run, pin_seed, run, s3_client, sdk_config, seed_service};

/// Direct SDK access to moto as the bed's dev profile (bypassing the proxy).
pub struct Moto {
    cfn: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
    lambda: aws_sdk_lambda::Client,
    rt: tokio::runtime::Runtime,
}

impl Moto {
    /// Clients for `profile` of `bed`, straight to the server.
    pub fn new(bed: &TestBed<'_>, profile: &str) -> Self {
        let (rt, conf) = sdk_config(bed, profile);
        let s3 = s3_client(&conf);
        Self {
            cfn: aws_sdk_cloudformation::Client::new(&conf),
            s3,
            lambda: aws_sdk_lambda::Client::new(&conf),
            rt,
        }
    }

    /// The stack's status.
    pub fn status(&self, stack: &str) -> Option<String> {
        let out = self
            .rt
            .block_on(self.cfn.describe_stacks().stack_name(stack).send())
            .ok()?;
        out.stacks()
            .first()?
            .stack_status()
            .map(|s| s.as_str().to_string())
    }

    /// CodeSha256 of a function.
    pub fn code_sha(&self, function: &str) -> Option<String> {
        let out = self
            .rt
            .block_on(self.lambda.get_function().function_name(function).send())
            .ok()?;
        out.configuration()?.code_sha256().map(str::to_string)
    }

    /// Every `Code.S3Key` of the deployed template.
    pub fn template_keys(&self, stack: &str) -> Vec<String> {
        let out = self
            .rt
            .block_on(self.cfn.get_template().stack_name(stack).send())
            .unwrap();
        let t: Value = serde_json::from_str(out.template_body().unwrap()).unwrap();
        t["Resources"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|r| r["Properties"]["Code"]["S3Key"].as_str())
            .map(str::to_string)
            .collect()
    }

    /// Whether an object exists.
    pub fn exists(&self, bucket: &str, key: &str) -> bool {
        self.rt
            .block_on(self.s3.head_object().bucket(bucket).key(key).send())
            .is_ok()
    }

    /// Write an object.
    pub fn put(&self, bucket: &str, key: &str, body: &str) {
        self.rt
            .block_on(
                self.s3
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(body.as_bytes().to_vec().into())
                    .send(),
            )
            .unwrap();
    }
}

/// The zip hash the last packaging of `dir` recorded (what Lambda reports as CodeSha256).
pub fn zip_sha(dir: &Path) -> String {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(".serverless/deployer-manifest.json")).unwrap(),
    )
    .unwrap();
    manifest["artifacts"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A new version of the code.
pub fn change_code(dir: &Path, marker: &str) {
    let h = dir.join("handler.js");
    let mut text = std::fs::read_to_string(&h).unwrap();
    text.push_str(&format!("\n// {marker}\n"));
    std::fs::write(h, text).unwrap();
}

/// The seed service renamed to `name` (its own stack and prefix on the shared server).
pub fn service(bed: &TestBed<'_>, name: &str) -> std::path::PathBuf {
    seed_service(bed, name, |yml| {
        pin_seed(yml.replacen("service: service-name", &format!("service: {name}"), 1))
    })
}

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

/// Deploy once directly, change the code, deploy through the proxy with `rules`: the run
/// must succeed and moto's stack must run the new code.
fn survives(name: &str, rules: Vec<Rule>) {
    let bed = TestBed::standard();
    let dir = service(&bed, name);
    let moto = Moto::new(&bed, "devAccount");
    ok(&run(&bed, &dir, &["up", "--json"], &[]));
    change_code(&dir, name);
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    proxy.set_rules(rules);
    let faulty = run(
        &bed,
        &dir,
        &["up", "--json"],
        &[("AWS_ENDPOINT_URL", &proxy.endpoint())],
    );
    ok(&faulty);
    assert_eq!(faulty.json()["status"], "deployed", "{}", faulty.stdout);
    assert!(proxy.faults() > 0, "the proxy injected nothing");
    let stack = format!("{name}-dev");
    assert_eq!(moto.status(&stack).as_deref(), Some("UPDATE_COMPLETE"));
    assert_eq!(
        moto.code_sha(&format!("{stack}-hello")),
        Some(zip_sha(&dir)),
        "the stack runs the new code"
    );
    assert!(
        faulty.elapsed < Duration::from_secs(120),
        "{:?}",
        faulty.elapsed
    );
}

#[test]
fn every_third_request_answering_503_is_retried() {
    survives(
        "fault-503",
        vec![Rule::new("", Fault::Status(503)).every(3)],
    );
}

#[test]
fn describe_stack_events_failing_after_the_update_is_no_false_failure() {
    // Every poll of the events fails (500 after the SDK's retries): the outcome comes from
    // DescribeStacks instead.
    survives(
        "fault-events",
        vec![Rule::new("Action=DescribeStackEvents", Fault::Status(500))],
    );
}

#[test]
fn a_lost_update_stack_response_reads_the_real_outcome() {
    survives(
        "fault-lost",
        vec![Rule::new("Action=UpdateStack", Fault::LoseResponse).times(1)],
    );
}

#[test]
fn connection_resets_on_uploads_are_retried() {
    survives(
        "fault-reset",
        vec![Rule::new("PUT /", Fault::Reset).every(2).times(3)],
    );
}

#[test]
fn added_latency_only_slows_the_deploy() {
    survives(
        "fault-slow",
        vec![Rule::new("", Fault::Latency(Duration::from_millis(150)))],
    );
}

#[test]
fn a_stalled_update_ends_with_a_clear_error_and_a_rerun_deploys() {
    let name = "fault-stall";
    let bed = TestBed::standard();
    let dir = service(&bed, name);
    let moto = Moto::new(&bed, "devAccount");
    ok(&run(&bed, &dir, &["up", "--json"], &[]));
    let stack = format!("{name}-dev");
    let old_sha = moto.code_sha(&format!("{stack}-hello")).unwrap();
    change_code(&dir, name);
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    proxy.set_rules(vec![Rule::new("Action=UpdateStack", Fault::Stall)]);
    let stalled = run(
        &bed,
        &dir,
        &["up"],
        &[
            ("AWS_ENDPOINT_URL", &proxy.endpoint()),
            ("DEPLOYER_AWS_ATTEMPT_TIMEOUT", "2"),
        ],
    );
    assert_eq!(stalled.code, 1, "{}\n{}", stalled.stdout, stalled.stderr);
    assert!(
        stalled.elapsed < Duration::from_secs(60),
        "{:?}",
        stalled.elapsed
    );
    for needle in [
        "UpdateStack",
        "timed out",
        "not changed",
        "re-running is safe",
    ] {
        assert!(
            stalled.stderr.contains(needle),
            "{needle}: {}",
            stalled.stderr
        );
    }
    assert!(
        !stalled.stderr.contains("DispatchFailure"),
        "{}",
        stalled.stderr
    );
    assert_eq!(
        moto.code_sha(&format!("{stack}-hello")),
        Some(old_sha),
        "the stack still runs the old code"
    );
    proxy.clear();
    let rerun = run(
        &bed,
        &dir,
        &["up", "--json"],
        &[("AWS_ENDPOINT_URL", &proxy.endpoint())],
    );
    ok(&rerun);
    assert_eq!(rerun.json()["status"], "deployed");
    assert_eq!(
        moto.code_sha(&format!("{stack}-hello")),
        Some(zip_sha(&dir))
    );
}

#[test]
fn connections_dropped_on_every_stack_read_name_the_call_and_the_endpoint() {
    let bed = TestBed::standard();
    let dir = service(&bed, "fault-dropped");
    let moto = Moto::new(&bed, "devAccount");
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    proxy.set_rules(vec![Rule::new("Action=DescribeStacks&", Fault::Reset)]);
    let env = [("AWS_ENDPOINT_URL", proxy.endpoint())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = run(&bed, &dir, &["up"], &env);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for needle in [
        format!("could not reach {}", proxy.endpoint()),
        "during CloudFormation DescribeStacks".to_string(),
        "re-running is safe".to_string(),
    ] {
        assert!(r.stderr.contains(&needle), "{needle}: {}", r.stderr);
    }
    assert!(!r.stderr.contains("DispatchFailure"), "{}", r.stderr);
    assert_eq!(
        moto.status("fault-dropped-dev"),
        None,
        "nothing was created"
    );
    proxy.clear();
    let rerun = run(&bed, &dir, &["up", "--json"], &env);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert_eq!(
        moto.status("fault-dropped-dev").as_deref(),
        Some("UPDATE_COMPLETE")
    );
}

#[test]
fn foreign_objects_under_the_stage_prefix_are_no_deployment() {
    let name = "foreign-objects";
    let bed = TestBed::standard();
    let dir = service(&bed, name);
    let moto = Moto::new(&bed, "devAccount");
    let first = run(&bed, &dir, &["up", "--json"], &[]);
    ok(&first);
    let bucket = first.json()["bucket"].as_str().unwrap().to_string();
    let foreign = format!("serverless/{name}/dev/user-extra/x");
    moto.put(&bucket, &foreign, "not a deployment");
    let again = run(&bed, &dir, &["up", "--json"], &[]);
    ok(&again);
    assert_eq!(again.json()["status"], "unchanged", "{}", again.stdout);
    change_code(&dir, "v2");
    ok(&run(&bed, &dir, &["up", "--json"], &[]));
    assert!(
        moto.exists(&bucket, &foreign),
        "retention kept the foreign object"
    );
}

#[test]
fn a_held_lock_makes_the_second_deploy_fail_clearly_and_force_unlock_takes_over() {
    let name = "lock-held";
    let bed = TestBed::standard();
    let dir = service(&bed, name);
    let moto = Moto::new(&bed, "devAccount");
    let first = run(&bed, &dir, &["up", "--json"], &[]);
    ok(&first);
    let bucket = first.json()["bucket"].as_str().unwrap().to_string();
    let key = format!("serverless/{name}/dev/deployer.lock");
    assert!(
        !moto.exists(&bucket, &key),
        "the lock is released after a deploy"
    );
    moto.put(
        &bucket,
        &key,
        r#"{"owner":"ana@laptop","pid":4242,"token":"t","acquired":"2026-01-01T10:00:00Z","expires":"2999-01-01T00:00:00Z"}"#,
    );
    change_code(&dir, "v2");
    let refused = run(&bed, &dir, &["up"], &[("DEPLOYER_LOCK_WAIT", "1")]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    for needle in [
        "stage dev is being deployed by ana@laptop (pid 4242) since 2026-01-01T10:00:00Z",
        "--force-unlock",
    ] {
        assert!(
            refused.stderr.contains(needle),
            "{needle}: {}",
            refused.stderr
        );
    }
    let stack = format!("{name}-dev");
    let forced = run(&bed, &dir, &["up", "--json", "--force-unlock"], &[]);
    ok(&forced);
    assert_eq!(
        moto.code_sha(&format!("{stack}-hello")),
        Some(zip_sha(&dir))
    );
    assert!(!moto.exists(&bucket, &key));
}
