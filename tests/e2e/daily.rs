//! The daily loop end to end on a dedicated moto server with two accounts: `deploy function`,
//! `invoke`, `logs`, `deploy list`, `rollback`, `metrics`, and each refused with exit 3 (and no
//! call but STS) under the other account's credentials.

use std::time::SystemTime;

use deployer_testbed::{DEV_ACCOUNT, Moto, PROD_ACCOUNT, ProfileSpec, TestBed};
use serde_json::Value;

use crate::support::{Run, pin_seed, run, s3_client, sdk_config, seed_service, settled_count};

struct Account {
    cfn: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
    lambda: aws_sdk_lambda::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    rt: tokio::runtime::Runtime,
}

fn account(bed: &TestBed<'_>, profile: &str) -> Account {
    let (rt, conf) = sdk_config(bed, profile);
    Account {
        cfn: aws_sdk_cloudformation::Client::new(&conf),
        s3: s3_client(&conf),
        lambda: aws_sdk_lambda::Client::new(&conf),
        logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
        rt,
    }
}

impl Account {
    fn code_sha(&self, function: &str) -> String {
        let out = self
            .rt
            .block_on(self.lambda.get_function().function_name(function).send())
            .unwrap();
        out.configuration()
            .unwrap()
            .code_sha256()
            .unwrap()
            .to_string()
    }

    fn template(&self, stack: &str) -> Value {
        let out = self
            .rt
            .block_on(self.cfn.get_template().stack_name(stack).send())
            .unwrap();
        serde_json::from_str(out.template_body().unwrap()).unwrap()
    }

    fn last_updated(&self, stack: &str) -> Option<String> {
        let out = self
            .rt
            .block_on(self.cfn.describe_stacks().stack_name(stack).send())
            .unwrap();
        out.stacks()[0].last_updated_time().map(|t| t.to_string())
    }

    fn object(&self, bucket: &str, key: &str) -> Vec<u8> {
        let out = self
            .rt
            .block_on(self.s3.get_object().bucket(bucket).key(key).send())
            .unwrap();
        self.rt
            .block_on(out.body.collect())
            .unwrap()
            .into_bytes()
            .to_vec()
    }

    /// Writes `messages` into the function's log group, as Lambda would.
    fn put_logs(&self, function: &str, messages: &[&str]) {
        let group = format!("/aws/lambda/{function}");
        let stream = "2026/12/01/[$LATEST]abc";
        let _ = self
            .rt
            .block_on(self.logs.create_log_group().log_group_name(&group).send());
        self.rt
            .block_on(
                self.logs
                    .create_log_stream()
                    .log_group_name(&group)
                    .log_stream_name(stream)
                    .send(),
            )
            .unwrap();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let events = messages.iter().enumerate().map(|(i, m)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now - 1000 + i as i64)
                .message(*m)
                .build()
                .unwrap()
        });
        self.rt
            .block_on(
                self.logs
                    .put_log_events()
                    .log_group_name(&group)
                    .log_stream_name(stream)
                    .set_log_events(Some(events.collect()))
                    .send(),
            )
            .unwrap();
    }
}

fn ok(r: &Run) -> Value {
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    r.json()
}

#[test]
fn deploy_function_invoke_logs_list_and_rollback() {
    // A dedicated server: the Lambda Docker switch is global for a server.
    let moto = Moto::start().expect("starting a dedicated moto server");
    let profiles = [
        ProfileSpec::new("default", PROD_ACCOUNT),
        ProfileSpec::new("devAccount", DEV_ACCOUNT),
    ];
    let bed = TestBed::with_profiles(&moto, &profiles).unwrap();
    let dir = seed_service(&bed, "daily", |y| {
        pin_seed(y.replacen("service: service-name", "service: daily", 1))
    });
    let dev = account(&bed, "devAccount");
    let first = ok(&run(&bed, &dir, &["up", "--json"], &[]));
    let bucket = first["bucket"].as_str().unwrap().to_string();

    // Same code: skipped without a write.
    let same = ok(&run(
        &bed,
        &dir,
        &["deploy", "function", "-f", "hello", "--json"],
        &[],
    ));
    assert_eq!(same["status"], "unchanged", "{same}");
    assert!(
        same["awsCalls"]["byOperation"]
            .get("Lambda.UpdateFunctionCode")
            .is_none()
    );

    // A changed handler: only that function's code changes; the stack is untouched.
    let template = dev.template("daily-dev");
    let updated_at = dev.last_updated("daily-dev");
    let cron_sha = dev.code_sha("daily-dev-cron");
    let old_sha = dev.code_sha("daily-dev-hello");
    std::fs::write(
        dir.join("handler.js"),
        "module.exports.hello = async () => ({ statusCode: 202 });\nmodule.exports.cron = async () => {};\n",
    )
    .unwrap();
    let r = run(
        &bed,
        &dir,
        &["deploy", "function", "-f", "hello", "--json"],
        &[],
    );
    let changed = ok(&r);
    assert_eq!(changed["status"], "updated", "{changed}");
    assert!(r.stderr.contains("out of date"), "{}", r.stderr);
    let new_sha = dev.code_sha("daily-dev-hello");
    assert_ne!(new_sha, old_sha);
    assert_eq!(changed["codeSha256"], new_sha.as_str());
    assert_eq!(dev.code_sha("daily-dev-cron"), cron_sha);
    assert_eq!(
        dev.template("daily-dev"),
        template,
        "the stack is not changed"
    );
    assert_eq!(dev.last_updated("daily-dev"), updated_at);

    // `deploy` alone is still `up`; a missing function is a clear error.
    let missing = run(&bed, &dir, &["deploy", "function", "-f", "nope"], &[]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("\"nope\" is not in"),
        "{}",
        missing.stderr
    );

    // Invoke: moto without Docker answers with the request payload.
    moto.set_lambda_docker(false).unwrap();
    let text = run(
        &bed,
        &dir,
        &["invoke", "-f", "hello", "-d", r#"{"a":1}"#],
        &[],
    );
    let json = run(
        &bed,
        &dir,
        &["invoke", "-f", "hello", "--data", r#"{"b":2}"#, "--json"],
        &[],
    );
    moto.set_lambda_docker(true).unwrap();
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert_eq!(text.stdout, "{\"a\":1}\n");
    let json = ok(&json);
    assert_eq!(json["payloadJson"]["b"], 2);
    assert_eq!(json["name"], "daily-dev-hello");

    // Logs: the events put in the function's group, oldest first; the filter applies.
    dev.put_logs("daily-dev-hello", &["START one", "hello world", "END one"]);
    let logs = ok(&run(&bed, &dir, &["logs", "-f", "hello", "--json"], &[]));
    let messages: Vec<&str> = logs["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["START one", "hello world", "END one"]);
    let text = run(
        &bed,
        &dir,
        &["logs", "-f", "hello", "--startTime", "1h"],
        &[],
    );
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("hello world"), "{}", text.stdout);

    // A second deployment, then the list: newest first, the stack on the newest.
    let second = ok(&run(&bed, &dir, &["deploy", "--json"], &[]));
    assert_eq!(second["status"], "deployed", "{second}");
    let list = ok(&run(&bed, &dir, &["deploy", "list", "--json"], &[]));
    let deps = list["deployments"].as_array().unwrap();
    assert_eq!(deps.len(), 2, "{list}");
    assert!(deps[0]["timestamp"].as_u64() > deps[1]["timestamp"].as_u64());
    assert_eq!(deps[0]["current"], true);
    assert_eq!(deps[1]["current"], false);
    let older = deps[1]["timestamp"].as_u64().unwrap().to_string();
    let older_dir = deps[1]["directory"].as_str().unwrap().to_string();

    // `rollback` without -t lists; with -t the stack gets the first deployment's template.
    let listed = ok(&run(&bed, &dir, &["rollback", "--json"], &[]));
    assert_eq!(listed["deployments"].as_array().unwrap().len(), 2);
    let back = ok(&run(&bed, &dir, &["rollback", "-t", &older, "--json"], &[]));
    assert_eq!(back["status"], "rolledBack", "{back}");
    let stored: Value = serde_json::from_slice(&dev.object(
        &bucket,
        &format!("{older_dir}/compiled-cloudformation-template.json"),
    ))
    .unwrap();
    assert_eq!(dev.template("daily-dev"), stored);
    let list = ok(&run(&bed, &dir, &["deploy", "list", "--json"], &[]));
    assert_eq!(list["deployments"][1]["current"], true, "{list}");
    let unknown = run(&bed, &dir, &["rollback", "--timestamp", "42"], &[]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("Couldn't find a deployment"),
        "{}",
        unknown.stderr
    );

    // Metrics: the CloudWatch SDK speaks the RPC v2 CBOR protocol, which moto 5.2.1 does not
    // serve (HTTP 404): the guarded command gets to GetMetricData and fails naming it.
    let m = run(&bed, &dir, &["metrics", "-f", "hello"], &[]);
    assert_eq!(m.code, 1, "{}", m.stderr);
    assert!(
        m.stderr.contains("CloudWatch GetMetricData failed"),
        "{}",
        m.stderr
    );

    // Every command under the prod account's credentials: exit 3, only STS called.
    let refused: [&[&str]; 7] = [
        &["deploy", "function", "-f", "hello"],
        &["invoke", "-f", "hello"],
        &["logs", "-f", "hello"],
        &["deploy", "list"],
        &["rollback", "-t", &older],
        &["rollback"],
        &["metrics"],
    ];
    for args in refused {
        let mut args = args.to_vec();
        args.extend(["--aws-profile", "default"]);
        let before = settled_count(&moto);
        let r = run(&bed, &dir, &args, &[]);
        assert_eq!(r.code, 3, "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
        assert_eq!(
            settled_count(&moto) - before,
            1,
            "{args:?}: only STS GetCallerIdentity"
        );
    }
    assert_eq!(dev.template("daily-dev"), stored, "nothing changed");
}

#[test]
fn serverless_only_commands_say_what_to_use() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (
            &["deploy", "list", "functions"][..],
            "`deployer deploy list functions` is not supported",
        ),
        (&["offline"][..], "`deployer offline` is not supported"),
        (
            &["plugin", "install"][..],
            "`deployer plugin` is not supported",
        ),
        (&["config", "credentials"][..], "aws configure"),
    ] {
        let out = crate::support::deployer_offline(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("similar"), "{stderr}");
    }
    // `deploy` keeps its flags; `deploy function` and `deploy list` are parsed as subcommands.
    for args in [
        &["deploy", "--help"][..],
        &["deploy", "--stage", "dev", "--help"][..],
    ] {
        let out = crate::support::deployer_offline(dir.path(), args);
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains("--force-unlock"));
    }
    let f = crate::support::deployer_offline(dir.path(), &["deploy", "function", "--help"]);
    assert!(String::from_utf8_lossy(&f.stdout).contains("--update-config"));
    let l = crate::support::deployer_offline(dir.path(), &["deploy", "list", "--help"]);
    assert!(String::from_utf8_lossy(&l.stdout).contains("newest first"));
    let none = crate::support::deployer_offline(dir.path(), &["deploy", "function"]);
    assert_eq!(none.status.code(), Some(2), "-f is required");
}

/// With `deploymentMethod: changesets`, `rollback` updates the stack through v3's change set,
/// as `up` does (a role allowed only change sets can roll back), never with UpdateStack.
#[test]
fn rollback_uses_the_change_set_method_of_the_service() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "cs-rollback", |y| {
        pin_seed(y.replacen("service: service-name", "service: cs-rollback", 1)).replacen(
            "  region: us-east-1\n",
            "  region: us-east-1\n  deploymentMethod: changesets\n",
            1,
        )
    });
    let dev = account(&bed, "devAccount");
    let first = ok(&run(&bed, &dir, &["up", "--json"], &[]));
    let bucket = first["bucket"].as_str().unwrap().to_string();
    let handler = dir.join("handler.js");
    let code = std::fs::read_to_string(&handler).unwrap();
    std::fs::write(&handler, format!("{code}\n// changed\n")).unwrap();
    let second = ok(&run(&bed, &dir, &["up", "--json"], &[]));
    assert_eq!(second["status"], "deployed", "{second}");

    let list = ok(&run(&bed, &dir, &["deploy", "list", "--json"], &[]));
    let older = &list["deployments"][1];
    let timestamp = older["timestamp"].as_u64().unwrap().to_string();
    let directory = older["directory"].as_str().unwrap().to_string();
    let back = ok(&run(
        &bed,
        &dir,
        &["rollback", "-t", &timestamp, "--json"],
        &[],
    ));
    assert_eq!(back["status"], "rolledBack", "{back}");
    let by = &back["awsCalls"]["byOperation"];
    assert!(by.get("CloudFormation.CreateChangeSet").is_some(), "{by}");
    assert!(by.get("CloudFormation.ExecuteChangeSet").is_some(), "{by}");
    assert!(by.get("CloudFormation.UpdateStack").is_none(), "{by}");
    let stored: Value = serde_json::from_slice(&dev.object(
        &bucket,
        &format!("{directory}/compiled-cloudformation-template.json"),
    ))
    .unwrap();
    assert_eq!(dev.template("cs-rollback-dev"), stored);
}
