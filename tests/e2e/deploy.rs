//! `deployer up`, `diff`, `info`, `remove` end to end: the real binary against moto with two
//! accounts. Each test uses its own service name (or its own accounts) so tests can run in
//! parallel on the shared server.

use std::path::Path;

use deployer_testbed::{DEV_ACCOUNT, Moto, PROD_ACCOUNT, ProfileSpec, TestBed};
use serde_json::Value;

use crate::support::{Run, fixture, pin_seed, run, s3_client, sdk_config, seed_service};

/// SDK clients acting as one of the bed's profiles, for checking what landed where.
pub(crate) struct Account {
    cfn: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
    lambda: aws_sdk_lambda::Client,
    ssm: aws_sdk_ssm::Client,
    rt: tokio::runtime::Runtime,
}

pub(crate) fn account(bed: &TestBed<'_>, profile: &str) -> Account {
    let (rt, conf) = sdk_config(bed, profile);
    let s3 = s3_client(&conf);
    Account {
        cfn: aws_sdk_cloudformation::Client::new(&conf),
        s3,
        lambda: aws_sdk_lambda::Client::new(&conf),
        ssm: aws_sdk_ssm::Client::new(&conf),
        rt,
    }
}

impl Account {
    pub(crate) fn stack_status(&self, name: &str) -> Option<String> {
        self.rt
            .block_on(self.cfn.describe_stacks().stack_name(name).send())
            .ok()
            .and_then(|o| {
                o.stacks()
                    .first()
                    .and_then(|s| s.stack_status().map(|s| s.as_str().to_string()))
            })
    }

    fn last_updated(&self, name: &str) -> Option<String> {
        let out = self
            .rt
            .block_on(self.cfn.describe_stacks().stack_name(name).send())
            .ok()?;
        out.stacks()
            .first()?
            .last_updated_time()
            .map(|t| t.to_string())
    }

    /// Logical id → physical id.
    fn resources(&self, name: &str) -> Vec<(String, String)> {
        let out = self
            .rt
            .block_on(self.cfn.list_stack_resources().stack_name(name).send())
            .unwrap();
        out.stack_resource_summaries()
            .iter()
            .map(|r| {
                (
                    r.logical_resource_id().unwrap_or_default().to_string(),
                    r.physical_resource_id().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    pub(crate) fn code_sha(&self, function: &str) -> Option<String> {
        let out = self
            .rt
            .block_on(self.lambda.get_function().function_name(function).send())
            .ok()?;
        out.configuration()?.code_sha256().map(str::to_string)
    }

    /// Puts a String parameter into SSM (overwriting).
    pub(crate) fn put_parameter(&self, name: &str, value: &str) {
        self.rt
            .block_on(
                self.ssm
                    .put_parameter()
                    .name(name)
                    .value(value)
                    .r#type(aws_sdk_ssm::types::ParameterType::String)
                    .overwrite(true)
                    .send(),
            )
            .unwrap();
    }

    /// The environment variables of a deployed function.
    pub(crate) fn function_env(&self, function: &str) -> std::collections::HashMap<String, String> {
        let out = self
            .rt
            .block_on(self.lambda.get_function().function_name(function).send())
            .unwrap();
        out.configuration()
            .and_then(|c| c.environment())
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn buckets(&self) -> Vec<String> {
        let out = self.rt.block_on(self.s3.list_buckets().send()).unwrap();
        out.buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect()
    }

    fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let out = self
            .rt
            .block_on(
                self.s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .send(),
            )
            .unwrap();
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    }
}

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

fn rename(service: &str) -> impl Fn(String) -> String + '_ {
    move |yml: String| {
        pin_seed(yml.replacen("service: service-name", &format!("service: {service}"), 1))
    }
}

fn zip_sha(dir: &Path, name: &str) -> String {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(".serverless/deployer-manifest.json")).unwrap(),
    )
    .unwrap();
    manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn seed_stages_land_in_their_own_accounts() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "seed", pin_seed);
    let dev_acct = account(&bed, "devAccount");
    let prod_acct = account(&bed, "default");

    let dev = run(&bed, &dir, &["up", "--stage", "dev", "--json"], &[]);
    ok(&dev);
    let j = dev.json();
    assert_eq!(j["status"], "deployed");
    assert_eq!(j["account"], DEV_ACCOUNT);
    assert_eq!(j["stack"], "service-name-dev");
    assert!(
        j["outputs"]["JobsQueueUrl"]
            .as_str()
            .unwrap()
            .contains(DEV_ACCOUNT),
        "{j}"
    );
    assert!(j["awsCalls"]["total"].as_u64().unwrap() > 0);
    assert!(
        dev.stderr
            .contains("Deploying service-name to stage dev (us-east-1) in account 222222222222"),
        "{}",
        dev.stderr
    );
    let dev_sha = zip_sha(&dir, "service-name.zip");

    let prod = run(&bed, &dir, &["up", "--stage", "prod", "--json"], &[]);
    ok(&prod);
    assert_eq!(prod.json()["account"], PROD_ACCOUNT);
    let prod_sha = zip_sha(&dir, "service-name.zip");

    assert_eq!(
        dev_acct.stack_status("service-name-dev").as_deref(),
        Some("UPDATE_COMPLETE")
    );
    assert_eq!(
        dev_acct.stack_status("service-name-prod"),
        None,
        "prod never lands in dev"
    );
    assert_eq!(
        prod_acct.stack_status("service-name-prod").as_deref(),
        Some("UPDATE_COMPLETE")
    );
    assert_eq!(
        prod_acct.stack_status("service-name-dev"),
        None,
        "dev never lands in prod"
    );
    // The functions run the code uploaded to their own account's bucket.
    assert_eq!(dev_acct.code_sha("service-name-dev-hello"), Some(dev_sha));
    assert_eq!(
        prod_acct.code_sha("service-name-prod-hello"),
        Some(prod_sha)
    );
    let dev_bucket = j["bucket"].as_str().unwrap();
    assert!(dev_acct.buckets().iter().any(|b| b == dev_bucket));
    assert!(!prod_acct.buckets().iter().any(|b| b == dev_bucket));
}

#[test]
fn redeploy_is_unchanged_then_code_changes_and_force_deploys() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "redeploy", rename("redeploy"));
    let acct = account(&bed, "devAccount");
    ok(&run(&bed, &dir, &["up", "--json"], &[]));
    let updated = acct.last_updated("redeploy-dev");
    let first_sha = acct.code_sha("redeploy-dev-hello").unwrap();

    let again = run(&bed, &dir, &["up", "--json"], &[]);
    ok(&again);
    let j = again.json();
    assert_eq!(j["status"], "unchanged", "{j}");
    assert_eq!(j["uploaded"].as_array().unwrap().len(), 0);
    assert_eq!(
        acct.last_updated("redeploy-dev"),
        updated,
        "no stack update"
    );
    let by = &j["awsCalls"]["byOperation"];
    assert!(
        by.get("S3.PutObject").is_none() && by.get("CloudFormation.UpdateStack").is_none(),
        "{by}"
    );
    // Counted, not timed: the sequential chain depends on whether the concurrent HeadObjects
    // overlapped, which a loaded machine decides (benches/deploy.rs reports it).
    assert!(
        j["awsCalls"]["total"].as_u64().unwrap() <= 6,
        "{}",
        j["awsCalls"]
    );

    let text = run(&bed, &dir, &["up"], &[]);
    ok(&text);
    assert!(
        text.stdout.contains("No changes to deploy"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("JobsQueueUrl"),
        "outputs are printed: {}",
        text.stdout
    );

    std::fs::write(dir.join("handler.js"), "module.exports.hello = async () => ({ statusCode: 201 });\nmodule.exports.cron = async () => {};\n").unwrap();
    let changed = run(&bed, &dir, &["up", "--json"], &[]);
    ok(&changed);
    assert_eq!(changed.json()["status"], "deployed");
    let new_sha = acct.code_sha("redeploy-dev-hello").unwrap();
    assert_ne!(new_sha, first_sha, "the function runs the new code");
    assert_eq!(new_sha, zip_sha(&dir, "redeploy.zip"));

    let forced = run(&bed, &dir, &["up", "--force", "--json"], &[]);
    ok(&forced);
    assert_eq!(forced.json()["status"], "deployed");
    assert_eq!(forced.json()["reason"], "--force");
}

#[test]
fn prod_with_dev_credentials_is_refused_and_creates_nothing() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "refused", rename("refused"));
    let r = run(
        &bed,
        &dir,
        &["up", "--stage", "prod", "--aws-profile", "devAccount"],
        &[],
    );
    assert_eq!(r.code, 3, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("111111111111") && r.stderr.contains("222222222222"),
        "{}",
        r.stderr
    );
    assert!(
        !dir.join(".serverless").exists(),
        "nothing packaged or written"
    );
    for profile in ["default", "devAccount"] {
        let a = account(&bed, profile);
        assert_eq!(a.stack_status("refused-prod"), None);
        assert!(
            !a.buckets().iter().any(|b| b.starts_with("refused-")),
            "no bucket in {profile}"
        );
    }
}

#[test]
fn diff_info_and_remove() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "lifecycle", rename("lifecycle"));
    let acct = account(&bed, "devAccount");

    let before = run(&bed, &dir, &["diff", "--detailed-exitcode", "--json"], &[]);
    assert_eq!(
        before.code, 2,
        "a missing stack is all additions: {}",
        before.stderr
    );
    assert_eq!(before.json()["stackExists"], false);

    let up = run(&bed, &dir, &["up", "--json"], &[]);
    ok(&up);
    let bucket = up.json()["bucket"].as_str().unwrap().to_string();

    let same = run(&bed, &dir, &["diff", "--detailed-exitcode"], &[]);
    assert_eq!(same.code, 0, "{}\n{}", same.stdout, same.stderr);
    assert!(same.stdout.contains("No changes"), "{}", same.stdout);

    let yml = dir.join("serverless.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(
        &yml,
        text.replace("VisibilityTimeout: 60", "VisibilityTimeout: 90"),
    )
    .unwrap();
    let changed = run(&bed, &dir, &["plan", "--detailed-exitcode"], &[]);
    assert_eq!(changed.code, 2, "{}\n{}", changed.stdout, changed.stderr);
    assert!(
        changed.stdout.contains("Modify JobsQueue AWS::SQS::Queue"),
        "{}",
        changed.stdout
    );
    assert_eq!(
        run(&bed, &dir, &["diff"], &[]).code,
        0,
        "without the flag changes exit 0"
    );
    assert_eq!(
        acct.stack_status("lifecycle-dev").as_deref(),
        Some("UPDATE_COMPLETE"),
        "diff changes nothing"
    );

    let info = run(&bed, &dir, &["info", "--json"], &[]);
    ok(&info);
    let j = info.json();
    assert_eq!(j["status"], "UPDATE_COMPLETE");
    assert!(
        j["outputs"]["JobsQueueUrl"]
            .as_str()
            .unwrap()
            .contains("lifecycle-dev-jobs"),
        "{j}"
    );
    assert_eq!(j["functions"]["hello"], "lifecycle-dev-hello");
    assert!(j["lastDeployment"].is_string());
    let text = run(&bed, &dir, &["info"], &[]);
    ok(&text);
    assert!(
        text.stdout
            .contains("stack: lifecycle-dev (UPDATE_COMPLETE)"),
        "{}",
        text.stdout
    );

    let refused = run(&bed, &dir, &["remove"], &[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(
        acct.stack_status("lifecycle-dev").as_deref(),
        Some("UPDATE_COMPLETE")
    );

    let removed = run(&bed, &dir, &["remove", "--yes", "--json"], &[]);
    ok(&removed);
    assert!(removed.json()["objectsDeleted"].as_u64().unwrap() >= 2);
    assert_eq!(acct.stack_status("lifecycle-dev"), None);
    if acct.buckets().contains(&bucket) {
        assert!(acct.keys(&bucket, "serverless/lifecycle/dev/").is_empty());
    }
    let gone = run(&bed, &dir, &["info"], &[]);
    assert_eq!(gone.code, 1);
    assert!(gone.stderr.contains("does not exist"), "{}", gone.stderr);
}

#[test]
fn package_then_up_with_package_dir() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "prebuilt", rename("prebuilt"));
    let pkg = bed.path().join("pkg");
    let p = run(
        &bed,
        &dir,
        &["package", "--package", pkg.to_str().unwrap(), "--json"],
        &[],
    );
    ok(&p);
    for f in [
        "cloudformation-template-create-stack.json",
        "cloudformation-template-update-stack.json",
        "deployer-manifest.json",
        "prebuilt.zip",
    ] {
        assert!(pkg.join(f).exists(), "{f}");
    }
    let pretty =
        std::fs::read_to_string(pkg.join("cloudformation-template-update-stack.json")).unwrap();
    assert!(pretty.starts_with("{\n  \""), "pretty, 2-space");
    let up = run(
        &bed,
        &dir,
        &["up", "--package", pkg.to_str().unwrap(), "--json"],
        &[],
    );
    ok(&up);
    let j = up.json();
    assert_eq!(j["status"], "deployed");
    assert_eq!(j["directory"], p.json()["artifactDirectoryName"]);
    let wrong = run(
        &bed,
        &dir,
        &["up", "--stage", "prod", "--package", pkg.to_str().unwrap()],
        &[],
    );
    assert_eq!(wrong.code, 1);
    assert!(
        wrong.stderr.contains("was built for stage \"dev\""),
        "{}",
        wrong.stderr
    );
}

/// A stack and bucket exactly as Serverless v3 leaves them (its templates from the fixture, its
/// key layout, `filesha256` metadata and state file) are updated in place.
#[test]
fn adopts_a_stack_deployed_by_serverless_v3() {
    // Own accounts: v3's template hard-codes the `service-name` names.
    let moto = Moto::shared();
    let bed = TestBed::with_profiles(
        moto,
        &[
            ProfileSpec::new("default", "555555555555"),
            ProfileSpec::new("devAccount", "666666666666"),
        ],
    )
    .unwrap();
    let dir = seed_service(&bed, "adopt", |y| y);
    let acct = account(&bed, "devAccount");
    let expected = fixture("multi-account/expected/serverless-v3/dev");
    let create =
        std::fs::read_to_string(expected.join("cloudformation-template-create-stack.json"))
            .unwrap();
    let update =
        std::fs::read_to_string(expected.join("cloudformation-template-update-stack.json"))
            .unwrap();
    let v3_dir = "serverless/service-name/dev/1795790329751-2026-11-27T14:38:49.751Z";
    let rt = &acct.rt;
    rt.block_on(
        acct.cfn
            .create_stack()
            .stack_name("service-name-dev")
            .template_body(&create)
            .send(),
    )
    .unwrap();
    let bucket = acct
        .resources("service-name-dev")
        .into_iter()
        .find(|(l, _)| l == "ServerlessDeploymentBucket")
        .unwrap()
        .1;
    let put = |key: String, body: Vec<u8>, hash: &str| {
        rt.block_on(
            acct.s3
                .put_object()
                .bucket(&bucket)
                .key(key)
                .metadata("filesha256", hash)
                .body(body.into())
                .send(),
        )
        .unwrap();
    };
    let minified = serde_json::to_vec(&serde_json::from_str::<Value>(&update).unwrap()).unwrap();
    put(
        format!("{v3_dir}/compiled-cloudformation-template.json"),
        minified,
        "v3-template-hash",
    );
    put(
        format!("{v3_dir}/serverless-state.json"),
        b"{}".to_vec(),
        "v3-state-hash",
    );
    put(
        format!("{v3_dir}/service-name.zip"),
        b"PK v3 zip".to_vec(),
        "v3-zip-hash",
    );
    let url = format!(
        "https://{bucket}.s3.us-east-1.amazonaws.com/{v3_dir}/compiled-cloudformation-template.json"
    );
    rt.block_on(
        acct.cfn
            .update_stack()
            .stack_name("service-name-dev")
            .template_url(url)
            .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam)
            .send(),
    )
    .unwrap();
    let before = acct.resources("service-name-dev");

    let up = run(&bed, &dir, &["up", "--json"], &[]);
    ok(&up);
    let j = up.json();
    assert_eq!(j["status"], "deployed");
    assert_eq!(j["bucket"], bucket, "v3's bucket is reused");
    assert_eq!(
        acct.stack_status("service-name-dev").as_deref(),
        Some("UPDATE_COMPLETE")
    );
    let after = acct.resources("service-name-dev");
    for (logical, physical) in &before {
        if logical.is_empty() || logical.contains("LambdaVersion") {
            continue; // versions are content-addressed in v3 too; moto lists unsupported types blank
        }
        let now = after.iter().find(|(l, _)| l == logical).map(|(_, p)| p);
        assert_eq!(now, Some(physical), "{logical} was replaced or removed");
    }
    assert_eq!(
        acct.code_sha("service-name-dev-hello"),
        Some(zip_sha(&dir, "service-name.zip"))
    );
    // v3's deployment stays (retention keeps 5); the new one sits beside it in v3's layout.
    let keys = acct.keys(&bucket, "serverless/service-name/dev/");
    assert!(keys.iter().any(|k| k.starts_with(v3_dir)));
    assert!(
        keys.iter().any(
            |k| !k.starts_with(v3_dir) && k.ends_with("/compiled-cloudformation-template.json")
        )
    );
    // And the next run sees no changes.
    let again = run(&bed, &dir, &["up", "--json"], &[]);
    ok(&again);
    assert_eq!(again.json()["status"], "unchanged");

    // v3's deployment is listed next to deployer's, and the stack can go back to it.
    let list = run(&bed, &dir, &["deploy", "list", "--json"], &[]);
    ok(&list);
    let list = list.json();
    let deps = list["deployments"].as_array().unwrap();
    assert_eq!(deps.len(), 2, "{list}");
    assert_eq!(deps[0]["current"], true, "{list}");
    assert_eq!(deps[1]["timestamp"], 1_795_790_329_751_u64, "{list}");
    let back = run(
        &bed,
        &dir,
        &["rollback", "-t", "1795790329751", "--json"],
        &[],
    );
    ok(&back);
    assert_eq!(back.json()["status"], "rolledBack");
    let deployed = rt
        .block_on(
            acct.cfn
                .get_template()
                .stack_name("service-name-dev")
                .send(),
        )
        .unwrap();
    let deployed: Value = serde_json::from_str(deployed.template_body().unwrap()).unwrap();
    assert_eq!(deployed, serde_json::from_str::<Value>(&update).unwrap());
}

/// `${aws:accountId}`, `${ssm:}`, `${cf:}` and `${s3:}` are answered with the stage's own
/// credentials (the dev account) and end up in the deployed functions.
#[test]
fn aws_variables_resolve_with_the_stage_credentials() {
    let bed = TestBed::standard();
    let acct = account(&bed, "devAccount");
    let rt = &acct.rt;
    rt.block_on(
        acct.ssm
            .put_parameter()
            .name("/vars/param")
            .value("from-ssm")
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send(),
    )
    .unwrap();
    let source = r#"{"Resources":{"Q":{"Type":"AWS::SQS::Queue","Properties":{"QueueName":"vars-src-q"}}},"Outputs":{"Out":{"Value":"from-cf"}}}"#;
    rt.block_on(
        acct.cfn
            .create_stack()
            .stack_name("vars-src")
            .template_body(source)
            .send(),
    )
    .unwrap();
    rt.block_on(acct.s3.create_bucket().bucket("deployer-e2e-vars").send())
        .unwrap();
    rt.block_on(
        acct.s3
            .put_object()
            .bucket("deployer-e2e-vars")
            .key("key.txt")
            .body(b"from-s3".to_vec().into())
            .send(),
    )
    .unwrap();
    let dir = seed_service(&bed, "vars", |yml| {
        rename("vars")(yml).replacen(
            "  region: us-east-1\n",
            "  region: us-east-1\n  environment:\n    ACCOUNT: ${aws:accountId}\n    PARAM: ${ssm:/vars/param}\n    OUT: ${cf:vars-src.Out}\n    FILE: ${s3:deployer-e2e-vars/key.txt}\n    MISSING: ${ssm:/vars/none, 'fallback'}\n",
            1,
        )
    });
    let up = run(&bed, &dir, &["up", "--json"], &[]);
    ok(&up);
    let config = rt
        .block_on(
            acct.lambda
                .get_function()
                .function_name("vars-dev-hello")
                .send(),
        )
        .unwrap();
    let env = config
        .configuration()
        .and_then(|c| c.environment())
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    assert_eq!(env.get("ACCOUNT").map(String::as_str), Some(DEV_ACCOUNT));
    assert_eq!(env.get("PARAM").map(String::as_str), Some("from-ssm"));
    assert_eq!(env.get("OUT").map(String::as_str), Some("from-cf"));
    assert_eq!(env.get("FILE").map(String::as_str), Some("from-s3"));
    assert_eq!(env.get("MISSING").map(String::as_str), Some("fallback"));
    let by = &up.json()["awsCalls"]["byOperation"];
    assert!(by.get("SSM.GetParameter").is_some(), "{by}");
}
