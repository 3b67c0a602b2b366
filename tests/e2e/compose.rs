//! Compose end to end: the fixture project tests/fixtures/compose (a producer exporting a
//! queue URL, a consumer reading it through params, an independent service, and `elsewhere`
//! whose dev stage is in the other account) on moto with two accounts.

use std::path::{Path, PathBuf};

use deployer_testbed::{DEV_ACCOUNT, Moto, PROD_ACCOUNT, ProfileSpec, TestBed};
use serde_json::Value;

use crate::support::{assert_has, copy_dir, fixture, run, sdk_config, settled_count};

/// A copy of the fixture whose service names end in `-<tag>` (tests share moto's accounts).
fn project(bed: &TestBed<'_>, tag: &str) -> PathBuf {
    let dir = bed.path().join(format!("compose-{tag}"));
    copy_dir(&fixture("compose"), &dir);
    for service in ["producer", "consumer", "independent", "elsewhere"] {
        let yml = dir.join(service).join("serverless.yml");
        let text = std::fs::read_to_string(&yml).unwrap();
        let renamed = text.replace(
            &format!("service: compose-{service}\n"),
            &format!("service: compose-{service}-{tag}\n"),
        );
        std::fs::write(&yml, renamed).unwrap();
    }
    dir
}

fn statuses(result: &Value) -> Vec<(String, String)> {
    result["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["service"].as_str().unwrap().to_string(),
                u["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The stacks of `profile`'s account whose names end in `-<tag>-dev`.
fn stacks(bed: &TestBed<'_>, profile: &str, tag: &str) -> Vec<String> {
    let (rt, conf) = sdk_config(bed, profile);
    let cfn = aws_sdk_cloudformation::Client::new(&conf);
    let listed = rt.block_on(cfn.describe_stacks().send()).unwrap();
    let mut found: Vec<String> = listed
        .stacks()
        .iter()
        .filter_map(|s| s.stack_name())
        .filter(|n| n.ends_with(&format!("-{tag}-dev")))
        .map(str::to_string)
        .collect();
    found.sort();
    found
}

/// The environment of the deployed function `name` in `profile`'s account.
fn function_env(bed: &TestBed<'_>, profile: &str, name: &str) -> Value {
    let (rt, conf) = sdk_config(bed, profile);
    let lambda = aws_sdk_lambda::Client::new(&conf);
    let got = rt
        .block_on(
            lambda
                .get_function_configuration()
                .function_name(name)
                .send(),
        )
        .unwrap();
    let vars = got.environment().and_then(|e| e.variables()).cloned();
    serde_json::to_value(vars.unwrap_or_default()).unwrap()
}

fn up(bed: &TestBed<'_>, dir: &Path, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["up", "--stage", "dev", "--json"];
    args.extend_from_slice(extra);
    let r = run(bed, dir, &args, &[]);
    (r.code, r.json(), r.stderr)
}

#[test]
fn up_goes_in_waves_passes_outputs_and_remove_goes_in_reverse() {
    let bed = TestBed::standard();
    let dir = project(&bed, "waves");

    let (code, result, stderr) = up(&bed, &dir, &[]);
    assert_eq!(code, 0, "{result:#}\n{stderr}");
    assert_eq!(
        result["waves"],
        serde_json::json!([["producer", "independent", "elsewhere"], ["consumer"]])
    );
    let done = statuses(&result);
    assert_eq!(done.len(), 4);
    // The consumer runs in the second wave: after every service of the first finished.
    assert_eq!(done[3], ("consumer".to_string(), "deployed".to_string()));
    let producer = &result["services"][0];
    assert_eq!(producer["service"], "producer");
    assert_eq!(producer["account"], DEV_ACCOUNT);
    let elsewhere = result["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["service"] == "elsewhere")
        .unwrap();
    assert_eq!(elsewhere["account"], PROD_ACCOUNT);

    // The consumer's environment holds the producer's output, as deployed.
    let queue_url = producer["result"]["outputs"]["QueueUrl"].as_str().unwrap();
    assert_has(queue_url, "compose-producer-waves-dev-queue");
    let env = function_env(&bed, "devAccount", "compose-consumer-waves-dev-worker");
    assert_eq!(env["QUEUE_URL"], queue_url);
    assert_eq!(
        stacks(&bed, "devAccount", "waves"),
        names(&[
            "compose-consumer-waves-dev",
            "compose-independent-waves-dev",
            "compose-producer-waves-dev"
        ])
    );
    assert_eq!(
        stacks(&bed, "default", "waves"),
        names(&["compose-elsewhere-waves-dev"])
    );

    // Again: nothing changed anywhere.
    let (code, again, stderr) = up(&bed, &dir, &[]);
    assert_eq!(code, 0, "{again:#}\n{stderr}");
    assert!(
        statuses(&again).iter().all(|(_, s)| s == "unchanged"),
        "{again:#}"
    );

    // --service: only the consumer, the producer's output read from its stack.
    let (code, one, stderr) = up(&bed, &dir, &["--service", "consumer", "--force"]);
    assert_eq!(code, 0, "{one:#}\n{stderr}");
    assert_eq!(statuses(&one), vec![("consumer".into(), "deployed".into())]);
    let env = function_env(&bed, "devAccount", "compose-consumer-waves-dev-worker");
    assert_eq!(env["QUEUE_URL"], queue_url);

    // A one-function command runs in the --service's folder with its params.
    let logs = run(
        &bed,
        &dir,
        &[
            "logs",
            "-f",
            "worker",
            "--service",
            "consumer",
            "--stage",
            "dev",
            "--json",
        ],
        &[],
    );
    assert_eq!(logs.code, 0, "{}\n{}", logs.stdout, logs.stderr);
    assert_eq!(logs.json()["name"], "compose-consumer-waves-dev-worker");
    let bare = run(&bed, &dir, &["logs", "-f", "worker", "--stage", "dev"], &[]);
    assert_eq!(bare.code, 2, "{}", bare.stderr);
    assert_has(&bare.stderr, "name it with --service");

    // info: every service's stack, the producer's outputs among them.
    let info = run(&bed, &dir, &["info", "--stage", "dev", "--json"], &[]);
    assert_eq!(info.code, 0, "{}", info.stderr);
    let info = info.json();
    assert_eq!(info["services"].as_array().unwrap().len(), 4);
    let producer_info = info["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["service"] == "producer")
        .unwrap();
    assert_eq!(producer_info["result"]["outputs"]["QueueUrl"], queue_url);

    // A saved plan is one service's: at the compose root it needs --service.
    let bare = run(
        &bed,
        &dir,
        &["up", "--plan", "p.json", "--stage", "dev"],
        &[],
    );
    assert_eq!(bare.code, 2, "{}", bare.stderr);
    assert_has(&bare.stderr, "name it with --service");
    let plan_file = dir.join("consumer.plan.json");
    let plan_path = plan_file.display().to_string();
    let saved = [
        "plan",
        "--out",
        &plan_path,
        "--service",
        "consumer",
        "--stage",
        "dev",
    ];
    let saved = run(&bed, &dir, &saved, &[]);
    assert_eq!(saved.code, 0, "{}\n{}", saved.stdout, saved.stderr);
    assert!(plan_file.is_file(), "{}", saved.stderr);
    let applied = [
        "up",
        "--plan",
        &plan_path,
        "--service",
        "consumer",
        "--stage",
        "dev",
    ];
    let applied = run(&bed, &dir, &applied, &[]);
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);

    // remove: consumers first, then the first wave.
    let r = run(
        &bed,
        &dir,
        &["remove", "--stage", "dev", "--yes", "--json"],
        &[],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let removed = r.json();
    assert_eq!(
        removed["waves"],
        serde_json::json!([["consumer"], ["producer", "independent", "elsewhere"]])
    );
    assert_eq!(statuses(&removed)[0], ("consumer".into(), "removed".into()));
    assert!(stacks(&bed, "devAccount", "waves").is_empty());
    assert!(stacks(&bed, "default", "waves").is_empty());
}

#[test]
fn one_wrong_account_stops_the_whole_up_before_any_write() {
    let moto = Moto::start().expect("starting a dedicated moto server");
    let profiles = [
        ProfileSpec::new("default", PROD_ACCOUNT),
        ProfileSpec::new("devAccount", DEV_ACCOUNT),
    ];
    let bed = TestBed::with_profiles(&moto, &profiles).unwrap();
    let dir = project(&bed, "guard");

    let before = settled_count(&moto);
    // --aws-profile applies to every service: `elsewhere` is pinned to the other account.
    let r = run(
        &bed,
        &dir,
        &[
            "up",
            "--stage",
            "dev",
            "--aws-profile",
            "devAccount",
            "--json",
        ],
        &[],
    );
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let error = r.json();
    assert_eq!(error["error"]["kind"], "account-guard");
    let message = error["error"]["message"].as_str().unwrap();
    assert_has(message, "Nothing was written");
    assert_has(message, "elsewhere (compose-elsewhere-guard-dev)");
    // One GetCallerIdentity per service, nothing else, in either account.
    assert_eq!(settled_count(&moto) - before, 4, "{}", r.stderr);
    assert!(stacks(&bed, "devAccount", "guard").is_empty());
    assert!(stacks(&bed, "default", "guard").is_empty());

    // verify at the compose root: every service, one refusal named.
    let v = run(
        &bed,
        &dir,
        &["verify", "--stage", "dev", "--aws-profile", "devAccount"],
        &[],
    );
    assert_eq!(v.code, 3, "{}", v.stderr);
    assert_has(&v.stderr, "elsewhere");
    let ok = run(&bed, &dir, &["whoami", "--stage", "dev", "--json"], &[]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let accounts: Vec<Value> = ok.json()["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["result"]["account"].clone())
        .collect();
    assert_eq!(
        accounts,
        vec![
            Value::from(DEV_ACCOUNT),
            Value::from(DEV_ACCOUNT),
            Value::from(DEV_ACCOUNT),
            Value::from(PROD_ACCOUNT)
        ]
    );
}

#[test]
fn a_failed_producer_stops_only_its_consumers() {
    let bed = TestBed::standard();
    let dir = project(&bed, "fails");
    // A runtime Lambda no longer accepts: the producer's deploy stops at its pre-flight check.
    let yml = dir.join("producer/serverless.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(&yml, text.replace("nodejs24.x", "nodejs12.x")).unwrap();

    let (code, result, stderr) = up(&bed, &dir, &[]);
    assert_eq!(code, 1, "{result:#}\n{stderr}");
    assert_eq!(result["status"], "failed");
    let mut got = statuses(&result);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("consumer".into(), "skipped".into()),
            ("elsewhere".into(), "deployed".into()),
            ("independent".into(), "deployed".into()),
            ("producer".into(), "failed".into()),
        ]
    );
    assert_eq!(
        stacks(&bed, "devAccount", "fails"),
        names(&["compose-independent-fails-dev"])
    );
    let r = run(
        &bed,
        &dir,
        &[
            "remove",
            "--stage",
            "dev",
            "--yes",
            "--service",
            "independent,elsewhere",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn the_compose_file_is_checked_before_anything_runs() {
    let bed = TestBed::standard();
    let dir = project(&bed, "bad");
    std::fs::write(
        dir.join("serverless-compose.yml"),
        "services:\n  a: { path: producer, params: { x: '${b.Out}' } }\n  \
         b: { path: consumer, dependsOn: a }\n  c: { path: nowhere }\n",
    )
    .unwrap();
    let r = run(&bed, &dir, &["up", "--stage", "dev", "--json"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let error = r.json();
    assert_eq!(error["error"]["kind"], "config");
    let message = error["error"]["message"].as_str().unwrap();
    assert_has(message, "circular dependencies: a → b → a");
    assert_has(message, "services.c.path");

    // An output the producer does not declare.
    std::fs::write(
        dir.join("serverless-compose.yml"),
        "services:\n  producer: { path: producer }\n  \
         consumer: { path: consumer, params: { queueUrl: '${producer.QueueURL}' } }\n",
    )
    .unwrap();
    let r = run(&bed, &dir, &["up", "--stage", "dev"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_has(
        &r.stderr,
        "services.consumer.params.queueUrl: ${producer.QueueURL}",
    );
    assert_has(&r.stderr, "resources.Outputs has: QueueUrl");

    // Two services deploying one stack.
    std::fs::write(
        dir.join("serverless-compose.yml"),
        "services:\n  one: { path: producer }\n  two: { path: producer }\n",
    )
    .unwrap();
    let r = run(&bed, &dir, &["graph", "--stage", "dev"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_has(
        &r.stderr,
        "services.two: deploys stack \"compose-producer-bad-dev\"",
    );
}

#[test]
fn a_monorepo_layout_packages_offline_with_placeholders() {
    let repo = tempfile::tempdir().unwrap();
    let backend = repo.path().join("backend");
    copy_dir(&fixture("compose"), &backend);
    // A `config:` file name per service and a shared file one folder up.
    std::fs::rename(
        backend.join("consumer/serverless.yml"),
        backend.join("consumer/serverless.consumer.yml"),
    )
    .unwrap();
    std::fs::write(backend.join("shared.yml"), "memory: 256\n").unwrap();
    let yml = backend.join("consumer/serverless.consumer.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(
        &yml,
        text.replace(
            "  region: us-east-1\n",
            "  region: us-east-1\n  memorySize: ${file(../shared.yml):memory}\n",
        ),
    )
    .unwrap();
    let compose = backend.join("serverless-compose.yml");
    let text = std::fs::read_to_string(&compose).unwrap();
    std::fs::write(
        &compose,
        text.replace(
            "    path: consumer\n",
            "    path: consumer\n    config: serverless.consumer.yml\n",
        ),
    )
    .unwrap();

    let r = crate::support::offline_run(&backend, &["package", "--offline", "--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let result = r.json();
    assert_eq!(result["services"].as_array().unwrap().len(), 4);
    let notes = result["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_has(notes[0].as_str().unwrap(), "consumer: params.queueUrl");
    let template = std::fs::read_to_string(
        backend.join("consumer/.serverless/cloudformation-template-update-stack.json"),
    )
    .unwrap();
    let template: Value = serde_json::from_str(&template).unwrap();
    let worker = &template["Resources"]["WorkerLambdaFunction"]["Properties"];
    assert_eq!(worker["MemorySize"], 256);
    assert_eq!(
        worker["Environment"]["Variables"]["QUEUE_URL"],
        "<output producer.QueueUrl not available>"
    );

    // The Compose spelling runs one service's command in its folder with its params.
    let r = crate::support::offline_run(
        &backend,
        &[
            "consumer:print",
            "--offline",
            "--path",
            "provider.memorySize",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_has(&r.stdout, "256");
}
