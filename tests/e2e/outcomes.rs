//! Truthful outcomes of `rollback` and `deploy function` when an answer is lost or a poll
//! fails, `rollback` to the deployment the stack already runs, and `deploy function` under the
//! stage's deploy lock. Each test checks moto's own state with direct SDK calls, and counts
//! the requests that reached the proxy where "nothing was changed" is the claim.

use std::path::Path;
use std::time::Duration;

use deployer_testbed::TestBed;
use deployer_testbed::proxy::{Fault, FaultProxy, Rule};
use serde_json::Value;

use crate::faults::{Moto, change_code, service, zip_sha};
use crate::support::{Run, run};

fn ok(r: &Run) -> Value {
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    r.json()
}

/// Two deployments of `name`: returns the older one's (timestamp, directory) and the bucket.
fn two_deployments(bed: &TestBed<'_>, dir: &Path) -> (String, String, String) {
    let first = ok(&run(bed, dir, &["up", "--json"], &[]));
    change_code(dir, "v2");
    ok(&run(bed, dir, &["up", "--json"], &[]));
    let list = ok(&run(bed, dir, &["deploy", "list", "--json"], &[]));
    let older = &list["deployments"][1];
    (
        older["timestamp"].as_u64().unwrap().to_string(),
        older["directory"].as_str().unwrap().to_string(),
        first["bucket"].as_str().unwrap().to_string(),
    )
}

/// The deployed template as CloudFormation holds it (straight from moto).
fn deployed_template(bed: &TestBed<'_>, stack: &str) -> Value {
    let (rt, conf) = crate::support::sdk_config(bed, "devAccount");
    let cfn = aws_sdk_cloudformation::Client::new(&conf);
    let out = rt
        .block_on(cfn.get_template().stack_name(stack).send())
        .unwrap();
    serde_json::from_str(out.template_body().unwrap()).unwrap()
}

/// The template stored with a deployment.
fn stored_template(bed: &TestBed<'_>, bucket: &str, directory: &str) -> Value {
    let (rt, conf) = crate::support::sdk_config(bed, "devAccount");
    let s3 = crate::support::s3_client(&conf);
    let key = format!("{directory}/compiled-cloudformation-template.json");
    let out = rt
        .block_on(s3.get_object().bucket(bucket).key(&key).send())
        .unwrap();
    let bytes = rt.block_on(out.body.collect()).unwrap().into_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn rollback_with_a_lost_update_stack_answer_reports_the_rollback() {
    let name = "out-rb-lost";
    let bed = TestBed::standard();
    let dir = service(&bed, name);
    let (older, directory, bucket) = two_deployments(&bed, &dir);
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    // Every attempt reaches CloudFormation and every answer is dropped: only reading the
    // stack tells what happened.
    proxy.set_rules(vec![Rule::new("Action=UpdateStack", Fault::LoseResponse)]);
    let back = run(
        &bed,
        &dir,
        &["rollback", "-t", &older, "--json"],
        &[("AWS_ENDPOINT_URL", &proxy.endpoint())],
    );
    let back = ok(&back);
    assert!(proxy.faults() > 0, "no answer of UpdateStack was dropped");
    assert_eq!(back["status"], "rolledBack", "{back}");
    let stack = format!("{name}-dev");
    assert_eq!(
        deployed_template(&bed, &stack),
        stored_template(&bed, &bucket, &directory),
        "the stack runs the older deployment"
    );
    assert_eq!(
        Moto::new(&bed, "devAccount").status(&stack).as_deref(),
        Some("UPDATE_COMPLETE")
    );
}

#[test]
fn rollback_to_the_running_deployment_says_so_and_changes_nothing() {
    let name = "out-rb-current";
    let bed = TestBed::standard();
    let dir = service(&bed, name);
    two_deployments(&bed, &dir);
    let list = ok(&run(&bed, &dir, &["deploy", "list", "--json"], &[]));
    let current = &list["deployments"][0];
    assert_eq!(current["current"], true, "{list}");
    let timestamp = current["timestamp"].as_u64().unwrap().to_string();
    let stack = format!("{name}-dev");
    let before = deployed_template(&bed, &stack);
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    // Zero-latency rules only count the stack-changing requests that reach the proxy.
    proxy.set_rules(vec![
        Rule::new("Action=UpdateStack", Fault::Latency(Duration::ZERO)),
        Rule::new("Action=CreateChangeSet", Fault::Latency(Duration::ZERO)),
        Rule::new("Action=ExecuteChangeSet", Fault::Latency(Duration::ZERO)),
    ]);
    let env = [("AWS_ENDPOINT_URL", proxy.endpoint())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let json = ok(&run(
        &bed,
        &dir,
        &["rollback", "-t", &timestamp, "--json"],
        &env,
    ));
    assert_eq!(json["status"], "alreadyRunning", "{json}");
    let text = run(&bed, &dir, &["rollback", "-t", &timestamp], &env);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let said = format!("{}{}", text.stdout, text.stderr);
    assert!(said.contains("already running"), "{said}");
    assert!(!said.contains("rolled back"), "{said}");
    assert_eq!(proxy.faults(), 0, "no stack update was sent");
    assert_eq!(deployed_template(&bed, &stack), before);
}

#[test]
fn deploy_function_whose_status_polls_fail_says_the_code_was_accepted() {
    let name = "out-fn-poll";
    let bed = TestBed::standard();
    let dir = service(&bed, name);
    ok(&run(&bed, &dir, &["up", "--json"], &[]));
    change_code(&dir, "v2");
    let function = format!("{name}-dev-hello");
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    // The first GetFunction (the comparison) passes; every poll after the update fails.
    proxy.set_rules(vec![
        Rule::new(
            &format!("GET /2015-03-31/functions/{function} "),
            Fault::Status(500),
        )
        .after(1),
    ]);
    let r = run(
        &bed,
        &dir,
        &["deploy", "function", "-f", "hello", "--json"],
        &[("AWS_ENDPOINT_URL", &proxy.endpoint())],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(proxy.faults() > 0, "the proxy injected nothing");
    let sha = zip_sha(&dir);
    let moto = Moto::new(&bed, "devAccount");
    assert_eq!(
        moto.code_sha(&function),
        Some(sha.clone()),
        "the update landed"
    );
    let error = &r.json()["error"];
    let state = error["state"].as_str().unwrap_or_default();
    for needle in ["accepted the new code", &sha] {
        assert!(state.contains(needle), "{needle}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(needle),
            "{error}"
        );
    }
    assert!(!state.contains("re-running is safe"), "{error}");
}

#[test]
fn deploy_function_with_polls_failing_a_while_reads_the_function_before_reporting() {
    let name = "out-fn-reread";
    let bed = TestBed::standard();
    let dir = service(&bed, name);
    ok(&run(&bed, &dir, &["up", "--json"], &[]));
    change_code(&dir, "v2");
    let function = format!("{name}-dev-hello");
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    // The first poll fails through the SDK's three attempts; the read after it passes.
    proxy.set_rules(vec![
        Rule::new(
            &format!("GET /2015-03-31/functions/{function} "),
            Fault::Status(500),
        )
        .after(1)
        .times(3),
    ]);
    let r = run(
        &bed,
        &dir,
        &["deploy", "function", "-f", "hello", "--json"],
        &[("AWS_ENDPOINT_URL", &proxy.endpoint())],
    );
    let json = ok(&r);
    assert_eq!(proxy.faults(), 3);
    let sha = zip_sha(&dir);
    assert_eq!(json["status"], "updated", "{json}");
    assert_eq!(json["codeSha256"], sha.as_str(), "{json}");
    assert_eq!(Moto::new(&bed, "devAccount").code_sha(&function), Some(sha));
}

#[test]
fn deploy_function_takes_the_stage_lock_like_up() {
    let name = "out-fn-lock";
    let bed = TestBed::standard();
    let dir = service(&bed, name);
    let first = ok(&run(&bed, &dir, &["up", "--json"], &[]));
    let bucket = first["bucket"].as_str().unwrap().to_string();
    let moto = Moto::new(&bed, "devAccount");
    let function = format!("{name}-dev-hello");
    let old_sha = moto.code_sha(&function).unwrap();
    let key = format!("serverless/{name}/dev/deployer.lock");
    let held = r#"{"owner":"ana@laptop","pid":4242,"token":"t","acquired":"2026-01-01T10:00:00Z","expires":"2999-01-01T00:00:00Z"}"#;
    moto.put(&bucket, &key, held);
    change_code(&dir, "v2");

    // Held for longer than the wait: refused like `up`, the code untouched.
    let args = ["deploy", "function", "-f", "hello"];
    let refused = run(&bed, &dir, &args, &[("DEPLOYER_LOCK_WAIT", "1")]);
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
    assert_eq!(moto.code_sha(&function), Some(old_sha), "nothing written");

    // Released while it waits: it deploys once the holder is done.
    let waited = std::thread::scope(|s| {
        let job = s.spawn(|| run(&bed, &dir, &args, &[("DEPLOYER_LOCK_WAIT", "60")]));
        std::thread::sleep(Duration::from_secs(3));
        assert!(
            moto.code_sha(&function) != Some(zip_sha(&dir)),
            "deploy function wrote while the lock was held"
        );
        let (rt, conf) = crate::support::sdk_config(&bed, "devAccount");
        let s3 = crate::support::s3_client(&conf);
        rt.block_on(s3.delete_object().bucket(&bucket).key(&key).send())
            .unwrap();
        job.join().unwrap()
    });
    assert_eq!(waited.code, 0, "{}", waited.stderr);
    assert_eq!(moto.code_sha(&function), Some(zip_sha(&dir)));
    assert!(!moto.exists(&bucket, &key), "the lock is released");

    // A lock left by a killed run: --force-unlock takes over, as with `up`.
    moto.put(&bucket, &key, held);
    change_code(&dir, "v3");
    let forced = ok(&run(
        &bed,
        &dir,
        &[
            "deploy",
            "function",
            "-f",
            "hello",
            "--force-unlock",
            "--json",
        ],
        &[("DEPLOYER_LOCK_WAIT", "1")],
    ));
    assert_eq!(forced["status"], "updated", "{forced}");
    assert_eq!(moto.code_sha(&function), Some(zip_sha(&dir)));
    assert!(!moto.exists(&bucket, &key), "the lock is released");
}

#[test]
fn deploy_function_with_lost_update_answers_reads_the_function() {
    let name = "out-fn-lost";
    let bed = TestBed::standard();
    let dir = service(&bed, name);
    ok(&run(&bed, &dir, &["up", "--json"], &[]));
    change_code(&dir, "v2");
    let function = format!("{name}-dev-hello");
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    // Every UpdateFunctionCode reaches Lambda and every answer is dropped.
    proxy.set_rules(vec![Rule::new(
        &format!("PUT /2015-03-31/functions/{function}/code "),
        Fault::LoseResponse,
    )]);
    let json = ok(&run(
        &bed,
        &dir,
        &["deploy", "function", "-f", "hello", "--json"],
        &[("AWS_ENDPOINT_URL", &proxy.endpoint())],
    ));
    assert!(proxy.faults() > 0, "no answer was dropped");
    let sha = zip_sha(&dir);
    assert_eq!(json["status"], "updated", "{json}");
    assert_eq!(json["codeSha256"], sha.as_str(), "{json}");
    assert_eq!(Moto::new(&bed, "devAccount").code_sha(&function), Some(sha));
}
