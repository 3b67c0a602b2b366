//! `deployer drift` end to end. moto has no drift detection, so the fault proxy in front of it
//! plays CloudFormation's recorded answers to DetectStackDrift,
//! DescribeStackDriftDetectionStatus and DescribeStackResourceDrifts (`Fault::Answer`);
//! everything else (the guard, the stack, its template, the deployment bucket, Lambda's
//! CodeSha256 after a `deploy function` hot-fix) is moto's.

use std::path::Path;
use std::sync::Arc;

use deployer_testbed::TestBed;
use deployer_testbed::proxy::{Fault, FaultProxy, Recorded, Rule};

use crate::support::{Run, pin_seed, run, seed_service};

const NS: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

fn xml(action: &str, result: &str) -> Fault {
    let body = format!(
        "<{action}Response xmlns=\"{NS}\"><{action}Result>{result}</{action}Result>\
         <ResponseMetadata><RequestId>d41f-drift</RequestId></ResponseMetadata></{action}Response>"
    );
    Fault::Answer(Arc::new(Recorded {
        status: 200,
        headers: vec![("Content-Type".into(), "text/xml".into())],
        body: body.into_bytes(),
    }))
}

fn status(detection: &str) -> Fault {
    xml(
        "DescribeStackDriftDetectionStatus",
        &format!(
            "<StackId>arn:aws:cloudformation:us-east-1:222222222222:stack/x/1</StackId>\
             <StackDriftDetectionId>b78ac9b0-drift</StackDriftDetectionId>\
             <StackDriftStatus>DRIFTED</StackDriftStatus><DetectionStatus>{detection}</DetectionStatus>\
             <DetectionStatusReason>Failed to detect drift on resource [Api]</DetectionStatusReason>\
             <Timestamp>2026-01-01T00:00:00Z</Timestamp>"
        ),
    )
}

fn drifts(members: &str) -> Fault {
    xml(
        "DescribeStackResourceDrifts",
        &format!("<StackResourceDrifts>{members}</StackResourceDrifts>"),
    )
}

const MEMORY_DRIFT: &str = "<member><StackId>arn:aws:cloudformation:us-east-1:222222222222:stack/x/1</StackId>\
    <LogicalResourceId>JobsQueue</LogicalResourceId><PhysicalResourceId>https://sqs/jobs</PhysicalResourceId>\
    <ResourceType>AWS::SQS::Queue</ResourceType><PropertyDifferences><member>\
    <PropertyPath>/VisibilityTimeout</PropertyPath><ExpectedValue>60</ExpectedValue>\
    <ActualValue>300</ActualValue><DifferenceType>NOT_EQUAL</DifferenceType></member>\
    </PropertyDifferences><StackResourceDriftStatus>MODIFIED</StackResourceDriftStatus>\
    <Timestamp>2026-01-01T00:00:00Z</Timestamp></member>";

/// A proxy answering the drift calls: detection in progress once, then `detection`, then
/// `members` as the drifted resources.
fn proxy(bed: &TestBed<'_>, detection: &str, members: &str) -> FaultProxy {
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    proxy.set_rules(vec![
        Rule::new(
            "Action=DetectStackDrift&",
            xml(
                "DetectStackDrift",
                "<StackDriftDetectionId>b78ac9b0-drift</StackDriftDetectionId>",
            ),
        ),
        Rule::new(
            "Action=DescribeStackDriftDetectionStatus",
            status("DETECTION_IN_PROGRESS"),
        )
        .times(1),
        Rule::new(
            "Action=DescribeStackDriftDetectionStatus",
            status(detection),
        ),
        Rule::new("Action=DescribeStackResourceDrifts", drifts(members)),
    ]);
    proxy
}

fn drift(bed: &TestBed<'_>, dir: &Path, proxy: &FaultProxy, json: bool) -> Run {
    let mut args = vec!["drift", "-s", "dev"];
    if json {
        args.push("--json");
    }
    run(bed, dir, &args, &[("AWS_ENDPOINT_URL", &proxy.endpoint())])
}

#[test]
fn drift_exit_codes_and_the_table_of_differences() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "drifting", |y| {
        pin_seed(y.replacen("service: service-name", "service: drifting", 1))
    });
    let up = run(&bed, &dir, &["up", "-s", "dev"], &[]);
    assert_eq!(up.code, 0, "{}", up.stderr);

    // In sync: exit 0 (the functions run the deployed zips).
    let p = proxy(&bed, "DETECTION_COMPLETE", "");
    let r = drift(&bed, &dir, &p, true);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let j = r.json();
    assert_eq!(j["status"], "inSync", "{j}");
    assert_eq!(
        p.answered().len(),
        4,
        "detect, two status polls, the drifts"
    );

    // A property changed outside CloudFormation: exit 2 and the difference.
    let p = proxy(&bed, "DETECTION_COMPLETE", MEMORY_DRIFT);
    let r = drift(&bed, &dir, &p, true);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let j = r.json();
    assert_eq!(j["status"], "drifted");
    let diff = &j["resources"][0]["differences"][0];
    assert_eq!(j["resources"][0]["logicalId"], "JobsQueue", "{j}");
    assert_eq!(diff["path"], "/VisibilityTimeout");
    assert_eq!(diff["expected"], "60");
    assert_eq!(diff["actual"], "300");
    let text = drift(&bed, &dir, &p, false);
    assert_eq!(text.code, 2);
    assert!(
        text.stdout
            .contains("/VisibilityTimeout [NOT_EQUAL]: expected 60 actual 300"),
        "{}",
        text.stdout
    );

    // Detection failed: exit 1.
    let p = proxy(&bed, "DETECTION_FAILED", "");
    let r = drift(&bed, &dir, &p, true);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("drift detection failed")
    );

    // A hot-fix with `deploy function`: the stack does not describe it; reported as code drift.
    let handler = dir.join("handler.js");
    let code = std::fs::read_to_string(&handler).unwrap();
    std::fs::write(&handler, format!("{code}\n// hot fix\n")).unwrap();
    let hot = run(
        &bed,
        &dir,
        &["deploy", "function", "-f", "hello", "-s", "dev"],
        &[],
    );
    assert_eq!(hot.code, 0, "{}", hot.stderr);
    let p = proxy(&bed, "DETECTION_COMPLETE", "");
    let r = drift(&bed, &dir, &p, true);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let j = r.json();
    let code = j["code"].as_array().unwrap();
    assert_eq!(code.len(), 1, "{j}");
    assert_eq!(code[0]["logicalId"], "HelloLambdaFunction");
    assert_eq!(code[0]["functionName"], "drifting-dev-hello");
    assert_ne!(code[0]["liveSha256"], code[0]["deployedSha256"]);
}

/// AWS's answer to UpdateTerminationProtection (moto answers HTTP 500).
fn protection_answer() -> Fault {
    xml(
        "UpdateTerminationProtection",
        "<StackId>arn:aws:cloudformation:us-east-1:222222222222:stack/x/1</StackId>",
    )
}

#[test]
fn a_plan_records_drift_and_a_protected_stage_needs_accept_drift() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "drift-plan", |y| {
        pin_seed(y.replacen("service: service-name", "service: drift-plan", 1)).replacen(
            "custom:\n",
            "custom:\n  deployer:\n    protect: [dev]\n",
            1,
        )
    });
    let p = FaultProxy::start(bed.moto().port()).unwrap();
    let mut rules = vec![Rule::new(
        "Action=UpdateTerminationProtection",
        protection_answer(),
    )];
    rules.extend([
        Rule::new(
            "Action=DetectStackDrift&",
            xml(
                "DetectStackDrift",
                "<StackDriftDetectionId>b78ac9b0-drift</StackDriftDetectionId>",
            ),
        ),
        Rule::new(
            "Action=DescribeStackDriftDetectionStatus",
            status("DETECTION_COMPLETE"),
        ),
        Rule::new("Action=DescribeStackResourceDrifts", drifts(MEMORY_DRIFT)),
    ]);
    p.set_rules(rules);
    let env = [("AWS_ENDPOINT_URL", p.endpoint())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let up = run(
        &bed,
        &dir,
        &["up", "-s", "dev", "--approve-broadening"],
        &env,
    );
    assert_eq!(up.code, 0, "{}", up.stderr);

    let yml = dir.join("serverless.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(
        &yml,
        text.replacen(
            "  region: us-east-1\n",
            "  region: us-east-1\n  memorySize: 512\n",
            1,
        ),
    )
    .unwrap();
    let diff = run(&bed, &dir, &["diff", "-s", "dev", "--drift"], &env);
    assert_eq!(diff.code, 0, "{}", diff.stderr);
    assert!(
        diff.stdout.contains("Drift: 1 resource(s)"),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout.contains("~ JobsQueue AWS::SQS::Queue MODIFIED"),
        "{}",
        diff.stdout
    );

    let plan = run(
        &bed,
        &dir,
        &[
            "plan",
            "-s",
            "dev",
            "--drift",
            "--out",
            "../drift-plan.json",
            "--json",
        ],
        &env,
    );
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let j = plan.json();
    assert_eq!(j["drift"]["drifted"], true, "{j}");
    assert_eq!(j["drift"]["resources"][0]["logicalId"], "JobsQueue");

    let refused = run(
        &bed,
        &dir,
        &["up", "-s", "dev", "--plan", "../drift-plan.json", "--json"],
        &env,
    );
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let e = refused.json();
    assert_eq!(e["error"]["kind"], "protected", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--accept-drift"),
        "{e}"
    );

    let accepted = run(
        &bed,
        &dir,
        &[
            "up",
            "-s",
            "dev",
            "--plan",
            "../drift-plan.json",
            "--accept-drift",
            "--json",
        ],
        &env,
    );
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    let a = accepted.json();
    assert_eq!(a["status"], "deployed", "{a}");
    assert_eq!(a["terminationProtection"], true, "{a}");
}
