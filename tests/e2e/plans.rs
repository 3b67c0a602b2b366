//! Saved plans end to end against moto (which executes change sets): `plan --out` keeps the
//! change set and writes the plan file, `up --plan` executes exactly that change set, and
//! every refusal (another account, another stage, the stack moved, the change set gone, the
//! code rebuilt, the artifacts changed in S3) happens before any write. Writes are counted at
//! the fault proxy in front of moto: every request that changes something is kept
//! (`Fault::Keep`, forwarded unchanged) and counted. Plan files are written outside the
//! service directory, as the docs advise (a file there would be packaged too).

use std::path::Path;

use deployer_testbed::proxy::{Fault, FaultProxy, Rule};
use deployer_testbed::{DEV_ACCOUNT, TestBed};

use crate::support::{Run, pin_seed, run, s3_client, sdk_config, seed_service};

/// Requests that write: S3 PUT and DeleteObjects, and every stack-changing action.
const WRITES: [&str; 9] = [
    "PUT /",
    "?delete",
    "Action=ExecuteChangeSet",
    "Action=CreateChangeSet",
    "Action=DeleteChangeSet",
    "Action=UpdateStack",
    "Action=CreateStack",
    "Action=DeleteStack",
    "Action=SetStackPolicy",
];

fn proxy(bed: &TestBed<'_>) -> FaultProxy {
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    proxy.set_rules(WRITES.iter().map(|w| Rule::new(w, Fault::Keep)).collect());
    proxy
}

fn via(bed: &TestBed<'_>, dir: &Path, proxy: &FaultProxy, args: &[&str]) -> Run {
    run(bed, dir, args, &[("AWS_ENDPOINT_URL", &proxy.endpoint())])
}

fn service(bed: &TestBed<'_>, name: &str) -> std::path::PathBuf {
    let name = name.to_string();
    seed_service(bed, &name.clone(), move |y| {
        pin_seed(y.replacen("service: service-name", &format!("service: {name}"), 1))
    })
}

fn set_memory(dir: &Path, mb: u32) {
    let yml = dir.join("serverless.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    let text = match text.find("  memorySize: ") {
        Some(_) => {
            let start = text.find("  memorySize: ").unwrap();
            let end = start + text[start..].find('\n').unwrap();
            format!("{}  memorySize: {mb}{}", &text[..start], &text[end..])
        }
        None => text.replacen(
            "  region: us-east-1\n",
            &format!("  region: us-east-1\n  memorySize: {mb}\n"),
            1,
        ),
    };
    std::fs::write(yml, text).unwrap();
}

/// Runs `args`, expects a refusal of `kind` with exit `code` and no write.
fn refused(
    bed: &TestBed<'_>,
    dir: &Path,
    proxy: &FaultProxy,
    args: &[&str],
    kind: &str,
    code: i32,
) -> String {
    let before = proxy.kept().len();
    let r = via(bed, dir, proxy, &[args, &["--json"]].concat());
    assert_eq!(r.code, code, "{args:?}: {}", r.stderr);
    let j = r.json();
    assert_eq!(j["error"]["kind"], kind, "{args:?}: {j}");
    let kept = proxy.kept();
    let writes: Vec<String> = kept[before..]
        .iter()
        .map(|b| String::from_utf8_lossy(&b[..b.len().min(120)]).into_owned())
        .collect();
    assert!(writes.is_empty(), "{args:?} wrote: {writes:?}");
    j["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

struct Cfn {
    rt: tokio::runtime::Runtime,
    cfn: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
    lambda: aws_sdk_lambda::Client,
}

fn cfn(bed: &TestBed<'_>) -> Cfn {
    let (rt, conf) = sdk_config(bed, "devAccount");
    Cfn {
        cfn: aws_sdk_cloudformation::Client::new(&conf),
        s3: s3_client(&conf),
        lambda: aws_sdk_lambda::Client::new(&conf),
        rt,
    }
}

impl Cfn {
    fn execution(&self, stack: &str, id: &str) -> String {
        let out = self
            .rt
            .block_on(
                self.cfn
                    .describe_change_set()
                    .stack_name(stack)
                    .change_set_name(id)
                    .send(),
            )
            .unwrap();
        out.execution_status().unwrap().as_str().to_string()
    }

    fn memory(&self, function: &str) -> Option<i32> {
        let out = self
            .rt
            .block_on(
                self.lambda
                    .get_function_configuration()
                    .function_name(function)
                    .send(),
            )
            .ok()?;
        out.memory_size()
    }
}

fn plan(bed: &TestBed<'_>, dir: &Path, proxy: &FaultProxy, file: &str) -> serde_json::Value {
    let r = via(
        bed,
        dir,
        proxy,
        &["plan", "-s", "dev", "--out", file, "--json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json()
}

/// `deployer up -s dev --plan FILE EXTRA… --json` through the proxy.
fn up_plan(bed: &TestBed<'_>, dir: &Path, proxy: &FaultProxy, file: &str, extra: &[&str]) -> Run {
    let mut args = vec!["up", "-s", "dev", "--plan", file];
    args.extend_from_slice(extra);
    args.push("--json");
    via(bed, dir, proxy, &args)
}

#[test]
fn up_plan_executes_the_reviewed_change_set() {
    let bed = TestBed::standard();
    let dir = service(&bed, "planned");
    let proxy = proxy(&bed);
    let first = via(&bed, &dir, &proxy, &["up", "-s", "dev", "--json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);

    set_memory(&dir, 512);
    let p = plan(&bed, &dir, &proxy, "../planned-plan.json");
    assert_eq!(p["formatVersion"], 1, "{p}");
    assert_eq!(p["account"], DEV_ACCOUNT);
    assert_eq!(p["stage"], "dev");
    assert_eq!(p["region"], "us-east-1");
    assert_eq!(p["stack"], "planned-dev");
    assert_eq!(p["noChanges"], false);
    assert!(
        p["stackStatus"].as_str().unwrap().ends_with("_COMPLETE"),
        "{p}"
    );
    assert!(p["template"]["sha256"].as_str().unwrap().len() == 44, "{p}");
    assert!(!p["artifacts"].as_array().unwrap().is_empty(), "{p}");
    assert!(p["deployerVersion"].is_string());
    let id = p["changeSetId"].as_str().unwrap().to_string();
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("../planned-plan.json")).unwrap())
            .unwrap();
    assert_eq!(
        file["changeSetId"], p["changeSetId"],
        "the file is the printed object"
    );
    let c = cfn(&bed);
    assert_eq!(
        c.execution("planned-dev", &id),
        "AVAILABLE",
        "kept, not executed"
    );
    assert_eq!(
        c.memory("planned-dev-hello"),
        Some(1024),
        "not deployed by the plan"
    );

    let up = up_plan(&bed, &dir, &proxy, "../planned-plan.json", &[]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let j = up.json();
    assert_eq!(j["status"], "deployed", "{j}");
    assert_eq!(j["changeSetId"], id.as_str());
    assert_eq!(
        c.execution("planned-dev", &id),
        "EXECUTE_COMPLETE",
        "that change set ran"
    );
    assert_eq!(c.memory("planned-dev-hello"), Some(512));

    // Executed once: the stack moved, the plan is spent.
    let m = refused(
        &bed,
        &dir,
        &proxy,
        &["up", "-s", "dev", "--plan", "../planned-plan.json"],
        "plan",
        1,
    );
    assert!(
        m.contains("moved since the plan") || m.contains("can no longer be executed"),
        "{m}"
    );

    // Nothing to change: the plan says so and `up --plan` changes nothing.
    let none = plan(&bed, &dir, &proxy, "../planned-none.json");
    assert_eq!(none["noChanges"], true, "{none}");
    assert!(none["changeSetId"].is_null());
    let before = proxy.kept().len();
    let noop = up_plan(&bed, &dir, &proxy, "../planned-none.json", &[]);
    assert_eq!(noop.code, 0, "{}", noop.stderr);
    assert_eq!(noop.json()["status"], "unchanged");
    assert_eq!(proxy.kept().len(), before, "no write");
}

#[test]
fn a_plan_is_refused_before_any_write_when_anything_moved() {
    let bed = TestBed::standard();
    let dir = service(&bed, "stale");
    let proxy = proxy(&bed);
    let first = via(&bed, &dir, &proxy, &["up", "-s", "dev"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    set_memory(&dir, 256);
    let p = plan(&bed, &dir, &proxy, "../stale-p.json");
    let up = ["up", "-s", "dev", "--plan", "../stale-p.json"];

    // Credentials of another account: the account guard (exit 3).
    refused(
        &bed,
        &dir,
        &proxy,
        &[&up[..], &["--aws-profile", "default"]].concat(),
        "account-guard",
        3,
    );
    // Another stage.
    let m = refused(
        &bed,
        &dir,
        &proxy,
        &["up", "-s", "prod", "--plan", "../stale-p.json"],
        "plan",
        1,
    );
    assert!(m.contains("the plan is for stage dev"), "{m}");

    // The code was rebuilt: the files that differ are named.
    let handler = dir.join("handler.js");
    let code = std::fs::read_to_string(&handler).unwrap();
    std::fs::write(&handler, format!("{code}\n// hot fix\n")).unwrap();
    let m = refused(&bed, &dir, &proxy, &up, "plan", 1);
    assert!(m.contains("stale.zip"), "{m}");
    assert!(m.contains("no longer packages"), "{m}");
    std::fs::write(&handler, &code).unwrap();

    // The artifacts in S3 changed.
    let c = cfn(&bed);
    let zip = p["artifacts"][0]["key"].as_str().unwrap().to_string();
    let bucket = p["bucket"].as_str().unwrap().to_string();
    c.rt.block_on(
        c.s3.put_object()
            .bucket(&bucket)
            .key(&zip)
            .body(b"other bytes".to_vec().into())
            .send(),
    )
    .unwrap();
    let m = refused(&bed, &dir, &proxy, &up, "plan", 1);
    assert!(
        m.contains("artifacts in S3 changed") && m.contains(&zip),
        "{m}"
    );
    // ... or were removed (a plan pushed out by the retention of later deploys).
    c.rt.block_on(c.s3.delete_object().bucket(&bucket).key(&zip).send())
        .unwrap();
    let m = refused(&bed, &dir, &proxy, &up, "plan", 1);
    assert!(m.contains(&format!("{zip} (gone)")), "{m}");

    // The stack moved since the plan. moto keeps no LastUpdatedTime and the status stays
    // UPDATE_COMPLETE: the template the stack runs is what tells.
    let q = plan(&bed, &dir, &proxy, "../stale-q.json");
    let forced = via(&bed, &dir, &proxy, &["up", "-s", "dev", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let m = refused(
        &bed,
        &dir,
        &proxy,
        &["up", "-s", "dev", "--plan", "../stale-q.json"],
        "plan",
        1,
    );
    assert!(m.contains("moved since the plan"), "{m}");
    assert!(q["changeSetId"].is_string());

    // The change set is gone (discarded).
    set_memory(&dir, 384);
    let r = plan(&bed, &dir, &proxy, "../stale-r.json");
    let discard = via(
        &bed,
        &dir,
        &proxy,
        &[
            "plan",
            "-s",
            "dev",
            "--discard",
            "../stale-r.json",
            "--json",
        ],
    );
    assert_eq!(discard.code, 0, "{}", discard.stderr);
    assert_eq!(discard.json()["status"], "discarded");
    let m = refused(
        &bed,
        &dir,
        &proxy,
        &["up", "-s", "dev", "--plan", "../stale-r.json"],
        "plan",
        1,
    );
    assert!(m.contains(r["changeSetId"].as_str().unwrap()), "{m}");
}

/// AWS's answer to UpdateTerminationProtection (moto answers HTTP 500).
fn protection_answer() -> Fault {
    let body = "<UpdateTerminationProtectionResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
        <UpdateTerminationProtectionResult><StackId>arn:aws:cloudformation:us-east-1:222222222222:stack/x/1</StackId>\
        </UpdateTerminationProtectionResult><ResponseMetadata><RequestId>7f1c-plan</RequestId></ResponseMetadata>\
        </UpdateTerminationProtectionResponse>";
    Fault::Answer(std::sync::Arc::new(deployer_testbed::proxy::Recorded {
        status: 200,
        headers: vec![("Content-Type".into(), "text/xml".into())],
        body: body.as_bytes().to_vec(),
    }))
}

/// Adds an IAM statement for every function.
fn add_statement(dir: &Path) {
    let yml = dir.join("serverless.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    let statement = "  iam:\n    role:\n      statements:\n        - Effect: Allow\n          Action: 's3:*'\n          Resource: '*'\n";
    std::fs::write(
        &yml,
        text.replacen(
            "  region: us-east-1\n",
            &format!("  region: us-east-1\n{statement}"),
            1,
        ),
    )
    .unwrap();
}

#[test]
fn broadening_is_listed_by_diff_and_gated_on_a_protected_stage() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "widening", |y| {
        pin_seed(y.replacen("service: service-name", "service: widening", 1)).replacen(
            "custom:\n",
            "custom:\n  deployer:\n    protect: [dev]\n",
            1,
        )
    });
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    proxy.set_rules(vec![Rule::new(
        "Action=UpdateTerminationProtection",
        protection_answer(),
    )]);
    let first = via(
        &bed,
        &dir,
        &proxy,
        &["up", "-s", "dev", "--approve-broadening"],
    );
    assert_eq!(first.code, 0, "{}", first.stderr);

    add_statement(&dir);
    // diff lists the widened role in its own section (the template comparison, so it does
    // not depend on moto applying IAM updates).
    let diff = via(&bed, &dir, &proxy, &["diff", "-s", "dev", "--json"]);
    assert_eq!(diff.code, 0, "{}", diff.stderr);
    let j = diff.json();
    let broadening = j["broadening"].as_array().unwrap();
    assert_eq!(broadening.len(), 1, "{j}");
    assert_eq!(broadening[0]["logicalId"], "IamRoleLambdaExecution");
    assert!(
        broadening[0]["what"].as_str().unwrap().contains("s3:*"),
        "{j}"
    );
    let text = via(&bed, &dir, &proxy, &["diff", "-s", "dev"]);
    assert!(text.stdout.contains("Broadening (1;"), "{}", text.stdout);
    assert!(
        text.stdout
            .contains("! IamRoleLambdaExecution AWS::IAM::Role: new statement"),
        "{}",
        text.stdout
    );

    // up without approval is refused before any write; so is a plan of it.
    let up = via(&bed, &dir, &proxy, &["up", "-s", "dev", "--json"]);
    assert_eq!(up.code, 1, "{}", up.stderr);
    assert_eq!(up.json()["error"]["kind"], "protected");
    let p = via(
        &bed,
        &dir,
        &proxy,
        &["plan", "-s", "dev", "--out", "../widening.json", "--json"],
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(
        p.json()["broadening"][0]["logicalId"],
        "IamRoleLambdaExecution"
    );
    let refused = up_plan(&bed, &dir, &proxy, "../widening.json", &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let e = refused.json();
    assert_eq!(e["error"]["kind"], "protected", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--approve-broadening"),
        "{e}"
    );
    let approved = up_plan(
        &bed,
        &dir,
        &proxy,
        "../widening.json",
        &["--approve-broadening"],
    );
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    assert_eq!(approved.json()["status"], "deployed");
}
