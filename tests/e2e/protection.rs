//! Stage protection and the stack settings beside the template, end to end against moto in
//! two accounts. `provider.stackPolicy` is read back from moto (GetStackPolicy) after a
//! change-set deploy. moto accepts `RollbackConfiguration` and UpdateStack's
//! `StackPolicyBody` without storing them, so the fault proxy forwards those requests and
//! keeps their bodies (`Fault::Keep`) for the test to read. moto answers
//! UpdateTerminationProtection with HTTP 500, so the proxy plays AWS's answer
//! (`Fault::Answer`) and keeps the request. Every refusal is counted at the proxy: no request
//! besides the guard's STS call.

use std::sync::Arc;

use deployer_testbed::TestBed;
use deployer_testbed::proxy::{Fault, FaultProxy, Recorded, Rule};

use crate::support::{Run, pin_seed, run, sdk_config, seed_service};

const POLICY: &str = "  stackPolicy:\n    - Effect: Allow\n      Principal: '*'\n      Action: 'Update:*'\n      Resource: '*'\n    - Effect: Deny\n      Principal: '*'\n      Action: 'Update:Replace'\n      Resource: 'LogicalResourceId/JobsQueue'\n";
const TRIGGERS: &str = "  rollbackConfiguration:\n    RollbackTriggers:\n      - Arn: arn:aws:cloudwatch:us-east-1:222222222222:alarm:errors\n        Type: AWS::CloudWatch::Alarm\n    MonitoringTimeInMinutes: 5\n";

/// The seed service named `name`, with `provider` settings added.
fn service(bed: &TestBed<'_>, name: &str, provider: &str) -> std::path::PathBuf {
    let provider = provider.to_string();
    let name_owned = name.to_string();
    seed_service(bed, name, move |y| {
        y.replacen(
            "service: service-name",
            &format!("service: {name_owned}"),
            1,
        )
        .replacen(
            "  region: us-east-1\n",
            &format!("  region: us-east-1\n{provider}"),
            1,
        )
    })
}

fn via(bed: &TestBed<'_>, dir: &std::path::Path, proxy: &FaultProxy, args: &[&str]) -> Run {
    run(bed, dir, args, &[("AWS_ENDPOINT_URL", &proxy.endpoint())])
}

fn kept_text(proxy: &FaultProxy) -> Vec<String> {
    proxy
        .kept()
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect()
}

#[test]
fn a_change_set_deploy_applies_the_stack_policy_and_sends_the_rollback_triggers() {
    let bed = TestBed::standard();
    let settings = format!("  deploymentMethod: changesets\n{POLICY}{TRIGGERS}");
    let dir = service(&bed, "policy-cs", &settings);
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    proxy.set_rules(vec![Rule::new("Action=CreateChangeSet", Fault::Keep)]);
    let up = via(&bed, &dir, &proxy, &["up", "-s", "dev", "--json"]);
    assert_eq!(up.code, 0, "{}", up.stderr);

    // Read back from moto: v3 applies the policy with SetStackPolicy after the change set.
    let (rt, conf) = sdk_config(&bed, "devAccount");
    let cfn = aws_sdk_cloudformation::Client::new(&conf);
    let got = rt
        .block_on(cfn.get_stack_policy().stack_name("policy-cs-dev").send())
        .unwrap();
    let policy: serde_json::Value =
        serde_json::from_str(got.stack_policy_body().expect("a stack policy")).unwrap();
    assert_eq!(policy["Statement"].as_array().unwrap().len(), 2, "{policy}");
    assert_eq!(policy["Statement"][1]["Effect"], "Deny", "{policy}");
    assert_eq!(
        policy["Statement"][1]["Action"], "Update:Replace",
        "{policy}"
    );

    // moto does not store RollbackConfiguration: the request the proxy forwarded says it.
    let sent = kept_text(&proxy);
    assert_eq!(sent.len(), 1, "one change set: {sent:?}");
    assert!(
        sent[0].contains("RollbackConfiguration.MonitoringTimeInMinutes=5"),
        "{}",
        sent[0]
    );
    assert!(
        sent[0].contains(
            "RollbackConfiguration.RollbackTriggers.member.1.Arn=arn%3Aaws%3Acloudwatch%3Aus-east-1%3A222222222222%3Aalarm%3Aerrors"
        ),
        "{}",
        sent[0]
    );
}

#[test]
fn a_direct_update_carries_the_stack_policy_and_the_rollback_triggers() {
    let bed = TestBed::standard();
    let dir = service(&bed, "policy-direct", &format!("{POLICY}{TRIGGERS}"));
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    proxy.set_rules(vec![Rule::new("Action=UpdateStack", Fault::Keep)]);
    let up = via(&bed, &dir, &proxy, &["up", "-s", "dev", "--json"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    // moto ignores UpdateStack's StackPolicyBody: the forwarded request is read instead.
    let sent = kept_text(&proxy);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("StackPolicyBody="), "{}", sent[0]);
    assert!(sent[0].contains("Update%3AReplace"), "{}", sent[0]);
    assert!(
        sent[0].contains(
            "RollbackConfiguration.RollbackTriggers.member.1.Type=AWS%3A%3ACloudWatch%3A%3AAlarm"
        ),
        "{}",
        sent[0]
    );
}

/// AWS's answer to UpdateTerminationProtection (moto answers HTTP 500).
fn protection_answer() -> Fault {
    let body = "<UpdateTerminationProtectionResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
        <UpdateTerminationProtectionResult><StackId>arn:aws:cloudformation:us-east-1:111111111111:stack/protected-prod/1</StackId>\
        </UpdateTerminationProtectionResult><ResponseMetadata><RequestId>7f1c-protect</RequestId></ResponseMetadata>\
        </UpdateTerminationProtectionResponse>";
    Fault::Answer(Arc::new(Recorded {
        status: 200,
        headers: vec![("Content-Type".into(), "text/xml".into())],
        body: body.as_bytes().to_vec(),
    }))
}

/// Runs `args` through the proxy and asserts a `protected` refusal naming `setting` after
/// `requests` requests at most (the guard's STS call, or nothing).
fn refused(
    bed: &TestBed<'_>,
    dir: &std::path::Path,
    proxy: &FaultProxy,
    args: &[&str],
    setting: &str,
    requests: usize,
) -> String {
    let before = proxy.requests();
    let r = via(bed, dir, proxy, &[args, &["--json"]].concat());
    assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
    let j = r.json();
    assert_eq!(j["error"]["kind"], "protected", "{args:?}: {j}");
    let message = j["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains(setting), "{args:?}: {message}");
    assert!(message.contains("nothing was changed"), "{message}");
    assert_eq!(
        proxy.requests() - before,
        requests,
        "{args:?}: no request besides the guard's"
    );
    message
}

fn setting_name() -> &'static str {
    "custom.deployer.protect"
}

#[test]
fn a_protected_stage_gets_termination_protection_and_refuses_the_shortcuts() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "protected", |y| {
        let y = y.replacen("service: service-name", "service: protected", 1);
        pin_seed(y).replacen(
            "custom:\n",
            "custom:\n  deployer:\n    protect:\n      - prod\n",
            1,
        )
    });
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    proxy.set_rules(vec![Rule::new(
        "Action=UpdateTerminationProtection",
        protection_answer(),
    )]);
    // The first deploy adds roles and Lambda permissions: a protected stage needs approval.
    let m = refused(&bed, &dir, &proxy, &["up", "-s", "prod"], setting_name(), 2);
    assert!(m.contains("broadens access"), "{m}");
    assert!(m.contains("IamRoleLambdaExecution"), "{m}");
    assert!(m.contains("--approve-broadening"), "{m}");
    let up = via(
        &bed,
        &dir,
        &proxy,
        &["up", "-s", "prod", "--approve-broadening", "--json"],
    );
    assert_eq!(up.code, 0, "{}", up.stderr);
    let j = up.json();
    assert_eq!(j["terminationProtection"], true, "{j}");
    let sent = proxy.answered();
    assert_eq!(sent.len(), 1);
    let sent = String::from_utf8_lossy(&sent[0]).into_owned();
    assert!(sent.contains("EnableTerminationProtection=true"), "{sent}");
    assert!(sent.contains("protected-prod"), "{sent}");
    // Counted like every call: STS, the deploy's calls and this one.
    assert!(j["awsCalls"]["total"].as_u64().unwrap() > 2, "{j}");

    // An unchanged deploy of a protected stage turns it on again (a stage protected since).
    let again = via(&bed, &dir, &proxy, &["up", "-s", "prod", "--json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json()["status"], "unchanged");
    assert_eq!(proxy.answered().len(), 2);

    // dev is not listed: no termination protection, no refusal.
    let dev = via(&bed, &dir, &proxy, &["up", "-s", "dev", "--json"]);
    assert_eq!(dev.code, 0, "{}", dev.stderr);
    assert_eq!(dev.json()["terminationProtection"], false);
    assert_eq!(proxy.answered().len(), 2);

    let setting = "custom.deployer.protect";
    let m = refused(
        &bed,
        &dir,
        &proxy,
        &["remove", "-s", "prod", "--yes"],
        setting,
        1,
    );
    assert!(m.contains("`remove`"), "{m}");
    let m = refused(
        &bed,
        &dir,
        &proxy,
        &["deploy", "function", "-f", "hello", "-s", "prod"],
        setting,
        1,
    );
    assert!(m.contains("deployer up"), "{m}");
    let m = refused(
        &bed,
        &dir,
        &proxy,
        &["rollback", "-s", "prod", "-t", "1"],
        setting,
        1,
    );
    assert!(m.contains("--approve-rollback"), "{m}");
    refused(
        &bed,
        &dir,
        &proxy,
        &["up", "-s", "prod", "--force-unlock"],
        setting,
        1,
    );
    // Refused before the lock file is written or AWS is asked.
    let lock_file = std::fs::read_to_string(dir.join("deployer.accounts.json")).ok();
    refused(
        &bed,
        &dir,
        &proxy,
        &["up", "-s", "prod", "--accept-account", "222222222222"],
        setting,
        0,
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("deployer.accounts.json")).ok(),
        lock_file
    );
    refused(
        &bed,
        &dir,
        &proxy,
        &["up", "-s", "prod", "--ignore-plugin", "serverless-offline"],
        setting,
        0,
    );

    // With --approve-rollback the rollback goes on (to a deployment that does not exist).
    let approved = via(
        &bed,
        &dir,
        &proxy,
        &[
            "rollback",
            "-s",
            "prod",
            "-t",
            "1",
            "--approve-rollback",
            "--json",
        ],
    );
    assert_eq!(
        approved.json()["error"]["kind"],
        "deployment",
        "{}",
        approved.stderr
    );

    let (rt, conf) = sdk_config(&bed, "default");
    let cfn = aws_sdk_cloudformation::Client::new(&conf);
    let stacks = rt
        .block_on(cfn.describe_stacks().stack_name("protected-prod").send())
        .unwrap();
    assert_eq!(stacks.stacks().len(), 1, "still deployed");
    // The unprotected stage (pinned in the configuration: confirmed with --yes) is removed.
    let removed = via(
        &bed,
        &dir,
        &proxy,
        &["remove", "-s", "dev", "--yes", "--json"],
    );
    assert_eq!(removed.code, 0, "{}", removed.stderr);
}

#[test]
fn a_protected_stage_needs_a_pinned_account_and_the_plugin_protects_natively() {
    let bed = TestBed::standard();
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    let osls = service(
        &bed,
        "protect-osls",
        "  deletionProtection:\n    stages:\n      - dev\n",
    );
    let m = refused(
        &bed,
        &osls,
        &proxy,
        &["up", "-s", "dev"],
        "provider.deletionProtection",
        1,
    );
    assert!(m.contains("no account pinned"), "{m}");
    assert!(m.contains("deployer pin"), "{m}");
    assert!(
        !osls.join("deployer.accounts.json").exists(),
        "nothing recorded"
    );

    let plugin = seed_service(&bed, "protect-plugin", |y| {
        format!(
            "plugins:\n  - serverless-stack-termination-protection\n{}",
            y.replacen("service: service-name", "service: protect-plugin", 1)
        )
    });
    refused(
        &bed,
        &plugin,
        &proxy,
        &["up", "-s", "dev"],
        "serverless-stack-termination-protection",
        1,
    );
    // Both set: custom.deployer.protect decides alone (dev is not in it).
    let both = seed_service(&bed, "protect-both", |y| {
        y.replacen("service: service-name", "service: protect-both", 1)
            .replacen(
                "custom:\n",
                "custom:\n  deployer:\n    protect: [prod]\n",
                1,
            )
            .replacen(
                "  region: us-east-1\n",
                "  region: us-east-1\n  deletionProtection: true\n",
                1,
            )
    });
    let up = via(&bed, &both, &proxy, &["up", "-s", "dev", "--json"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    assert_eq!(up.json()["terminationProtection"], false);
}

#[test]
fn a_stage_known_only_from_the_lock_file_is_removed_without_a_prompt() {
    let bed = TestBed::standard();
    let dir = service(&bed, "teardown", "");
    let up = run(&bed, &dir, &["up", "-s", "dev", "--json"], &[]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    assert!(
        up.json()["accountRecorded"].is_string(),
        "recorded: {}",
        up.stdout
    );
    // No terminal, no --yes, CI set: the v3 teardown of a short-lived stage.
    let removed = run(
        &bed,
        &dir,
        &["remove", "-s", "dev", "--json"],
        &[("CI", "true")],
    );
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert_eq!(removed.json()["status"], "removed");
}
