//! Failure paths that moto cannot produce (it has no rollback states, no resource events, no
//! failure reasons and no throttling), tested against recorded AWS responses: the SDK's replay
//! test client (`aws_smithy_http_client::test_util::StaticReplayClient`) for strictly ordered
//! exchanges, and a scripted responder (`infallible_client_fn`) answering by operation where
//! uploads run in parallel.

mod replay;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient, infallible_client_fn};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::body::SdkBody;
use aws_types::SdkConfig;
use deployer_aws::calls::CallCounter;
use deployer_aws::clients::AwsClients;
use deployer_aws::deploy::{
    BucketChoice, DeployArtifact, DeployRequest, DeployStatus, Method, deploy,
};
use deployer_aws::error::AwsError;
use deployer_aws::flow::LockRequest;
use deployer_aws::flow::function::{FunctionError, FunctionRequest, deploy_function};
use deployer_aws::flow::rollback::{RollbackRequest, rollback};
use deployer_aws::lambda::FunctionSettings;
use deployer_aws::progress::{Progress, Scope, Scoped};
use deployer_aws::stack::{self, Operation, StackParams, Waits};

const STACK: &str = "svc-dev";
const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:222222222222:stack/svc-dev/abc";
const BUCKET: &str = "svc-dev-serverlessdeploymentbucket-1";
const DIR: &str = "serverless/svc/dev/1700000000000-2023-11-14T22:13:20.000Z";
const CFN_NS: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

fn sdk(http: SharedHttpClient) -> SdkConfig {
    replay::sdk(http, "us-east-1")
}

fn fast_waits() -> Waits {
    Waits {
        first_poll: Duration::from_millis(1),
        max_poll: Duration::from_millis(5),
        operation: Duration::from_secs(10),
        settle: Duration::from_secs(10),
    }
}

/// The scope of the service's stack, for the calls below a flow.
fn scope() -> Scope {
    Scope::new("svc", STACK)
}

fn collect() -> (Arc<Mutex<Vec<Progress>>>, impl Fn(Progress) + Send + Sync) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    (log, move |p: Progress| sink.lock().unwrap().push(p))
}

// ---- response builders -------------------------------------------------------------------

fn ok(body: String) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(200)
        .body(SdkBody::from(body))
        .unwrap()
}

fn cfn_error(status: u16, code: &str, message: &str) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(status)
        .body(SdkBody::from(format!(
            "<ErrorResponse xmlns=\"{CFN_NS}\"><Error><Type>Sender</Type><Code>{code}</Code>\
             <Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        )))
        .unwrap()
}

fn describe_stacks(status: &str, outputs: &[(&str, &str)]) -> String {
    let outputs: String = outputs
        .iter()
        .map(|(k, v)| {
            format!("<member><OutputKey>{k}</OutputKey><OutputValue>{v}</OutputValue></member>")
        })
        .collect();
    format!(
        "<DescribeStacksResponse xmlns=\"{CFN_NS}\"><DescribeStacksResult><Stacks><member>\
         <StackId>{STACK_ID}</StackId><StackName>{STACK}</StackName>\
         <StackStatus>{status}</StackStatus><CreationTime>2023-11-14T22:00:00Z</CreationTime>\
         <LastUpdatedTime>2023-11-14T22:14:00Z</LastUpdatedTime>\
         <Outputs>{outputs}</Outputs></member></Stacks></DescribeStacksResult>\
         </DescribeStacksResponse>"
    )
}

/// (event id, logical id, type, status, reason); newest first, as the API returns them.
fn events(list: &[(&str, &str, &str, &str, &str)]) -> String {
    let members: String = list
        .iter()
        .map(|(id, logical, rtype, status, reason)| {
            let physical = if *rtype == "AWS::CloudFormation::Stack" {
                STACK_ID
            } else {
                "phys"
            };
            format!(
                "<member><EventId>{id}</EventId><StackId>{STACK_ID}</StackId>\
                 <StackName>{STACK}</StackName><LogicalResourceId>{logical}</LogicalResourceId>\
                 <PhysicalResourceId>{physical}</PhysicalResourceId>\
                 <ResourceType>{rtype}</ResourceType><Timestamp>2023-11-14T22:14:00Z</Timestamp>\
                 <ResourceStatus>{status}</ResourceStatus>\
                 <ResourceStatusReason>{reason}</ResourceStatusReason></member>"
            )
        })
        .collect();
    format!(
        "<DescribeStackEventsResponse xmlns=\"{CFN_NS}\"><DescribeStackEventsResult>\
         <StackEvents>{members}</StackEvents></DescribeStackEventsResult>\
         </DescribeStackEventsResponse>"
    )
}

const S: &str = "AWS::CloudFormation::Stack";

fn simple(action: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{CFN_NS}\"><{action}Result><StackId>{STACK_ID}</StackId></{action}Result></{action}Response>"
    )
}

fn stack_resource(physical: &str) -> String {
    format!(
        "<DescribeStackResourceResponse xmlns=\"{CFN_NS}\"><DescribeStackResourceResult>\
         <StackResourceDetail><StackName>{STACK}</StackName>\
         <LogicalResourceId>ServerlessDeploymentBucket</LogicalResourceId>\
         <PhysicalResourceId>{physical}</PhysicalResourceId><ResourceType>AWS::S3::Bucket</ResourceType>\
         <LastUpdatedTimestamp>2023-11-14T22:00:00Z</LastUpdatedTimestamp>\
         <ResourceStatus>CREATE_COMPLETE</ResourceStatus></StackResourceDetail>\
         </DescribeStackResourceResult></DescribeStackResourceResponse>"
    )
}

fn get_template(body: &str) -> String {
    let escaped = body
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;");
    format!(
        "<GetTemplateResponse xmlns=\"{CFN_NS}\"><GetTemplateResult><TemplateBody>{escaped}\
         </TemplateBody></GetTemplateResult></GetTemplateResponse>"
    )
}

fn list_objects(keys: &[&str]) -> String {
    let contents: String = keys
        .iter()
        .map(|k| {
            format!(
                "<Contents><Key>{k}</Key><LastModified>2023-11-14T22:13:21.000Z</LastModified>\
                 <ETag>\"e\"</ETag><Size>10</Size><StorageClass>STANDARD</StorageClass></Contents>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult \
         xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{BUCKET}</Name>\
         <KeyCount>{}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>{contents}\
         </ListBucketResult>",
        keys.len()
    )
}

fn head(hash: &str) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(200)
        .header("x-amz-meta-filesha256", hash)
        .header("content-length", "10")
        .body(SdkBody::empty())
        .unwrap()
}

// ---- a scripted responder: answers by operation, records the order of calls -----------------

#[derive(Default)]
struct Script {
    /// Operation → responses; the last one repeats.
    responses: HashMap<String, VecDeque<http::Response<SdkBody>>>,
    calls: Vec<String>,
    /// The stage's deploy lock object, answered like S3 does (conditional create).
    lock: Option<Vec<u8>>,
}

/// S3's answers for the deploy lock object: create only if absent, read, delete.
fn lock_response(s: &mut Script, req: &http::Request<SdkBody>) -> http::Response<SdkBody> {
    let status = |code: u16, body: Vec<u8>| {
        http::Response::builder()
            .status(code)
            .header("etag", "\"lock-etag\"")
            .body(SdkBody::from(body))
            .unwrap()
    };
    match req.method().as_str() {
        "PUT" if s.lock.is_some() && req.headers().contains_key("if-none-match") => status(
            412,
            b"<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions \
              you specified did not hold</Message></Error>"
                .to_vec(),
        ),
        "PUT" => {
            s.lock = Some(req.body().bytes().unwrap_or_default().to_vec());
            status(200, Vec::new())
        }
        "GET" => match &s.lock {
            Some(body) => status(200, body.clone()),
            None => status(
                404,
                b"<Error><Code>NoSuchKey</Code><Message>none</Message></Error>".to_vec(),
            ),
        },
        _ => {
            s.lock = None;
            status(204, Vec::new())
        }
    }
}

fn clone_response(r: &http::Response<SdkBody>) -> http::Response<SdkBody> {
    let mut b = http::Response::builder().status(r.status());
    for (k, v) in r.headers() {
        b = b.header(k, v);
    }
    b.body(SdkBody::from(r.body().bytes().unwrap_or_default().to_vec()))
        .unwrap()
}

fn operation_of(req: &http::Request<SdkBody>) -> String {
    let body = String::from_utf8_lossy(req.body().bytes().unwrap_or_default()).to_string();
    if let Some(action) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        return action.to_string();
    }
    let path = percent_decode(req.uri().path());
    let query = req.uri().query().unwrap_or("");
    match req.method().as_str() {
        "GET" if query.contains("list-type=2") => "ListObjectsV2".into(),
        "GET" => format!("GetObject {path}"),
        "HEAD" => format!("HeadObject {path}"),
        "PUT" => format!("PutObject {path}"),
        "POST" if query.contains("delete") => "DeleteObjects".into(),
        m => format!("{m} {path}"),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn scripted(script: Arc<Mutex<Script>>) -> SharedHttpClient {
    infallible_client_fn(move |req| {
        let op = operation_of(&req);
        let mut s = script.lock().unwrap();
        s.calls.push(op.clone());
        if req.uri().path().ends_with("/deployer.lock") {
            return lock_response(&mut s, &req);
        }
        let key = if op.starts_with("PutObject") {
            "PutObject".to_string()
        } else {
            op.clone()
        };
        match s.responses.get_mut(&key) {
            Some(q) if q.len() > 1 => q.pop_front().unwrap(),
            Some(q) if q.len() == 1 => clone_response(q.front().unwrap()),
            _ => panic!("unexpected request {op}"),
        }
    })
}

impl Script {
    fn on(&mut self, op: &str, response: http::Response<SdkBody>) -> &mut Self {
        self.responses
            .entry(op.to_string())
            .or_default()
            .push_back(response);
        self
    }
}

fn request(force: bool) -> (DeployRequest, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("svc.zip");
    std::fs::write(&zip, b"0123456789").unwrap();
    let template = serde_json::json!({
        "Resources": {"HelloLambdaFunction": {"Type": "AWS::Lambda::Function", "Properties": {
            "Code": {"S3Bucket": {"Ref": "ServerlessDeploymentBucket"}, "S3Key": format!("{DIR}/svc.zip")}}}}
    });
    let req = DeployRequest {
        service: "svc".into(),
        stage: "dev".into(),
        params: StackParams {
            stack: STACK.into(),
            region: "us-east-1".into(),
            tags: vec![("STAGE".into(), "dev".into())],
            ..Default::default()
        },
        deployment_prefix: "serverless".into(),
        bucket: BucketChoice::Stack,
        max_previous_deployments: 5,
        core_template: serde_json::json!({"Resources": {"ServerlessDeploymentBucket": {"Type": "AWS::S3::Bucket"}}}).into(),
        template: template.into(),
        template_hash: "TEMPLATEHASH".into(),
        artifact_directory: DIR.into(),
        artifacts: vec![DeployArtifact {
            name: "svc.zip".into(),
            path: zip,
            sha256_base64: "ZIPHASH".into(),
            size: 10,
        }],
        method: Method::Direct,
        force,
        waits: fast_waits(),
        lock: deployer_aws::lock::LockOptions {
            poll: Duration::from_millis(5),
            wait: Duration::from_secs(2),
            ..Default::default()
        },
        protect: false,
    };
    (req, dir)
}

// ---- tests ----------------------------------------------------------------------------------

#[tokio::test]
async fn failed_update_reports_first_failed_resource_after_rollback() {
    // Recorded sequence: the update starts, a resource fails, the stack rolls back.
    let replay = StaticReplayClient::new(vec![
        ReplayEvent::new(
            http::Request::builder()
                .uri("https://aws.test/")
                .body(SdkBody::empty())
                .unwrap(),
            ok(events(&[
                ("e3", STACK, S, "UPDATE_IN_PROGRESS", "User Initiated"),
                ("e2", STACK, S, "UPDATE_COMPLETE", ""),
                ("e1", STACK, S, "UPDATE_IN_PROGRESS", "User Initiated"),
            ])),
        ),
        ReplayEvent::new(
            http::Request::builder()
                .uri("https://aws.test/")
                .body(SdkBody::empty())
                .unwrap(),
            ok(events(&[
                (
                    "e6",
                    STACK,
                    S,
                    "UPDATE_ROLLBACK_IN_PROGRESS",
                    "The following resource(s) failed to update: [HelloLambdaFunction].",
                ),
                (
                    "e5",
                    "Queue",
                    "AWS::SQS::Queue",
                    "UPDATE_FAILED",
                    "Resource update cancelled",
                ),
                (
                    "e4",
                    "HelloLambdaFunction",
                    "AWS::Lambda::Function",
                    "UPDATE_FAILED",
                    "MemorySize value failed to satisfy constraint",
                ),
                ("e3", STACK, S, "UPDATE_IN_PROGRESS", "User Initiated"),
            ])),
        ),
        ReplayEvent::new(
            http::Request::builder()
                .uri("https://aws.test/")
                .body(SdkBody::empty())
                .unwrap(),
            ok(events(&[
                ("e8", STACK, S, "UPDATE_ROLLBACK_COMPLETE", ""),
                (
                    "e7",
                    STACK,
                    S,
                    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
                    "",
                ),
                ("e6", STACK, S, "UPDATE_ROLLBACK_IN_PROGRESS", ""),
            ])),
        ),
    ]);
    let counter = CallCounter::new();
    let clients = AwsClients::new(&sdk(replay.clone().into_shared()), &counter);
    let (log, reporter) = collect();
    let err = stack::follow(
        &clients.cfn,
        STACK_ID,
        STACK,
        "us-east-1",
        Operation::Update,
        &fast_waits(),
        Scoped::new(&scope(), &reporter),
    )
    .await
    .unwrap_err();
    let AwsError::StackFailed {
        status, failure, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(
        status, "UPDATE_ROLLBACK_COMPLETE",
        "waited for the rollback to finish"
    );
    let failure = failure.as_ref().unwrap();
    assert_eq!(failure.logical_id, "HelloLambdaFunction");
    assert_eq!(failure.resource_type, "AWS::Lambda::Function");
    assert!(failure.reason.contains("MemorySize"));
    assert!(err.to_string().contains("console.aws.amazon.com"));
    // Only this operation's events are reported, each once, oldest first.
    let statuses: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|p| match p {
            Progress::Event { event: e, .. } => Some(e.status.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses.first().map(String::as_str),
        Some("UPDATE_IN_PROGRESS")
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| *s == "UPDATE_IN_PROGRESS")
            .count(),
        1
    );
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("UPDATE_ROLLBACK_COMPLETE")
    );
    assert_eq!(counter.count(), 3);
    // Every poll asked for this stack's events.
    for r in replay.actual_requests() {
        let body = String::from_utf8_lossy(r.body().bytes().unwrap()).to_string();
        assert!(body.contains("Action=DescribeStackEvents"), "{body}");
    }
}

#[tokio::test]
async fn throttled_polls_are_retried_not_fatal() {
    let any = || {
        http::Request::builder()
            .uri("https://aws.test/")
            .body(SdkBody::empty())
            .unwrap()
    };
    let replay = StaticReplayClient::new(vec![
        ReplayEvent::new(any(), cfn_error(400, "Throttling", "Rate exceeded")),
        ReplayEvent::new(any(), cfn_error(400, "Throttling", "Rate exceeded")),
        ReplayEvent::new(
            any(),
            ok(events(&[
                ("e2", STACK, S, "CREATE_COMPLETE", ""),
                ("e1", STACK, S, "CREATE_IN_PROGRESS", "User Initiated"),
            ])),
        ),
    ]);
    let counter = CallCounter::new();
    let clients = AwsClients::new(&sdk(replay.into_shared()), &counter);
    let followed = stack::follow(
        &clients.cfn,
        STACK_ID,
        STACK,
        "us-east-1",
        Operation::Create,
        &fast_waits(),
        Scoped::new(&scope(), &deployer_aws::progress::silent()),
    )
    .await
    .unwrap();
    assert_eq!(followed.status, "CREATE_COMPLETE");
    assert_eq!(
        counter.count(),
        3,
        "two throttled attempts and the retry that succeeded"
    );
}

#[tokio::test]
async fn persistent_throttling_keeps_following_at_the_slowest_rate() {
    // Every SDK attempt of the first poll is throttled (3 attempts), then the next poll works.
    let mut events_list = Vec::new();
    let any = || {
        http::Request::builder()
            .uri("https://aws.test/")
            .body(SdkBody::empty())
            .unwrap()
    };
    for _ in 0..3 {
        events_list.push(ReplayEvent::new(
            any(),
            cfn_error(400, "Throttling", "Rate exceeded"),
        ));
    }
    events_list.push(ReplayEvent::new(
        any(),
        ok(events(&[
            ("e2", STACK, S, "DELETE_COMPLETE", ""),
            ("e1", STACK, S, "DELETE_IN_PROGRESS", "User Initiated"),
        ])),
    ));
    let replay = StaticReplayClient::new(events_list);
    let clients = AwsClients::new(&sdk(replay.into_shared()), &CallCounter::new());
    let followed = stack::follow(
        &clients.cfn,
        STACK_ID,
        STACK,
        "us-east-1",
        Operation::Delete,
        &fast_waits(),
        Scoped::new(&scope(), &deployer_aws::progress::silent()),
    )
    .await
    .unwrap();
    assert_eq!(followed.status, "DELETE_COMPLETE");
    assert_eq!(followed.polls, 2);
}

#[tokio::test]
async fn update_rollback_failed_stops_with_the_recovery_step_and_writes_nothing() {
    let script = Arc::new(Mutex::new(Script::default()));
    script.lock().unwrap().on(
        "DescribeStacks",
        ok(describe_stacks("UPDATE_ROLLBACK_FAILED", &[])),
    );
    let clients = AwsClients::new(&sdk(scripted(script.clone())), &CallCounter::new());
    let (req, _dir) = request(false);
    let err = deploy(&clients, &req, &deployer_aws::progress::silent())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "aws cloudformation continue-update-rollback --stack-name svc-dev --region us-east-1"
        ),
        "{text}"
    );
    assert_eq!(script.lock().unwrap().calls, vec!["DescribeStacks"]);
}

#[tokio::test]
async fn rollback_complete_stack_is_deleted_and_created_again() {
    let script = Arc::new(Mutex::new(Script::default()));
    {
        let mut s = script.lock().unwrap();
        s.on(
            "DescribeStacks",
            ok(describe_stacks("ROLLBACK_COMPLETE", &[])),
        )
        .on(
            "DescribeStacks",
            ok(describe_stacks("UPDATE_COMPLETE", &[("JobsQueueUrl", "q")])),
        )
        .on(
            "DeleteStack",
            ok(format!(
                "<DeleteStackResponse xmlns=\"{CFN_NS}\"></DeleteStackResponse>"
            )),
        )
        .on(
            "DescribeStackEvents",
            ok(events(&[
                ("d2", STACK, S, "DELETE_COMPLETE", ""),
                ("d1", STACK, S, "DELETE_IN_PROGRESS", "User Initiated"),
                ("r1", STACK, S, "ROLLBACK_COMPLETE", ""),
            ])),
        )
        .on(
            "DescribeStackEvents",
            ok(events(&[
                ("c2", STACK, S, "CREATE_COMPLETE", ""),
                ("c1", STACK, S, "CREATE_IN_PROGRESS", "User Initiated"),
            ])),
        )
        .on(
            "DescribeStackEvents",
            ok(events(&[
                ("u2", STACK, S, "UPDATE_COMPLETE", ""),
                ("u1", STACK, S, "UPDATE_IN_PROGRESS", "User Initiated"),
                ("c2", STACK, S, "CREATE_COMPLETE", ""),
            ])),
        )
        .on("CreateStack", ok(simple("CreateStack")))
        .on("DescribeStackResource", ok(stack_resource(BUCKET)))
        .on("PutObject", ok(String::new()))
        .on("UpdateStack", ok(simple("UpdateStack")));
    }
    let counter = CallCounter::new();
    let clients = AwsClients::new(&sdk(scripted(script.clone())), &counter);
    let (req, _dir) = request(false);
    let (log, reporter) = collect();
    let outcome = deploy(&clients, &req, &reporter).await.unwrap();
    assert_eq!(outcome.status, DeployStatus::Deployed);
    assert!(outcome.created);
    assert_eq!(outcome.bucket, BUCKET);
    assert_eq!(outcome.uploaded.len(), 2);
    assert_eq!(outcome.outputs[0].key, "JobsQueueUrl");
    assert!(log.lock().unwrap().iter().any(|p| matches!(p,
        Progress::StackRecreating { status, .. } if status == "ROLLBACK_COMPLETE")));
    // Every event names the service and stack it is about.
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .all(|p| p.scope().service == "svc" && p.scope().stack == STACK)
    );
    let calls = script.lock().unwrap().calls.clone();
    let pos = |name: &str| calls.iter().position(|c| c.starts_with(name)).unwrap();
    assert!(pos("DeleteStack") < pos("CreateStack"));
    assert!(pos("CreateStack") < pos("PutObject"));
    assert!(pos("PutObject") < pos("UpdateStack"));
    assert!(
        !calls.iter().any(|c| c == "ListObjectsV2"),
        "a new bucket is not listed: {calls:?}"
    );
    assert_eq!(counter.count(), calls.len());
}

fn unchanged_script(status: &str, template_dir: &str) -> Arc<Mutex<Script>> {
    let script = Arc::new(Mutex::new(Script::default()));
    let deployed = format!(
        "{{\"Resources\":{{\"F\":{{\"Properties\":{{\"Code\":{{\"S3Key\":\"{template_dir}/svc.zip\"}}}}}}}}}}"
    );
    script
        .lock()
        .unwrap()
        .on(
            "DescribeStacks",
            ok(describe_stacks(
                status,
                &[("ServerlessDeploymentBucketName", BUCKET)],
            )),
        )
        .on("GetTemplate", ok(get_template(&deployed)))
        .on(
            "ListObjectsV2",
            ok(list_objects(&[
                &format!("{DIR}/compiled-cloudformation-template.json"),
                &format!("{DIR}/svc.zip"),
            ])),
        )
        .on(
            &format!("HeadObject /{BUCKET}/{DIR}/compiled-cloudformation-template.json"),
            head("TEMPLATEHASH"),
        )
        .on(
            &format!("HeadObject /{BUCKET}/{DIR}/svc.zip"),
            head("ZIPHASH"),
        )
        .on("PutObject", ok(String::new()))
        .on("UpdateStack", ok(simple("UpdateStack")))
        .on(
            "DescribeStackEvents",
            ok(events(&[
                ("u2", STACK, S, "UPDATE_COMPLETE", ""),
                ("u1", STACK, S, "UPDATE_IN_PROGRESS", "User Initiated"),
            ])),
        );
    script
}

#[tokio::test]
async fn unchanged_files_skip_upload_and_update() {
    let script = unchanged_script("UPDATE_COMPLETE", DIR);
    let counter = CallCounter::new();
    let clients = AwsClients::new(&sdk(scripted(script.clone())), &counter);
    let (req, _dir) = request(false);
    let outcome = deploy(&clients, &req, &deployer_aws::progress::silent())
        .await
        .unwrap();
    assert_eq!(
        outcome.status,
        DeployStatus::Unchanged,
        "{}",
        outcome.reason
    );
    let calls = script.lock().unwrap().calls.clone();
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("PutObject") || c == "UpdateStack"),
        "{calls:?}"
    );
    let summary = counter.summary();
    assert_eq!(summary.total, 5, "{calls:?}");
}

#[tokio::test]
async fn unchanged_files_still_deploy_after_a_failed_update() {
    // UPDATE_ROLLBACK_COMPLETE: the same files were uploaded but the update rolled back.
    let script = unchanged_script("UPDATE_ROLLBACK_COMPLETE", DIR);
    let clients = AwsClients::new(&sdk(scripted(script.clone())), &CallCounter::new());
    let (req, _dir) = request(false);
    let outcome = deploy(&clients, &req, &deployer_aws::progress::silent())
        .await
        .unwrap();
    assert_eq!(outcome.status, DeployStatus::Deployed);
    assert!(
        outcome.reason.contains("did not succeed"),
        "{}",
        outcome.reason
    );
    // Identical bytes already in the same directory are not uploaded again.
    assert_eq!(outcome.skipped_uploads, 2);
    assert!(
        script
            .lock()
            .unwrap()
            .calls
            .iter()
            .any(|c| c == "UpdateStack")
    );
}

#[tokio::test]
async fn an_upload_that_never_reached_the_stack_is_deployed() {
    // The stack's template still points at an older directory: the last run uploaded and stopped.
    let script = unchanged_script(
        "UPDATE_COMPLETE",
        "serverless/svc/dev/1600000000000-2020-09-13T12:26:40.000Z",
    );
    let clients = AwsClients::new(&sdk(scripted(script.clone())), &CallCounter::new());
    let (req, _dir) = request(false);
    let outcome = deploy(&clients, &req, &deployer_aws::progress::silent())
        .await
        .unwrap();
    assert_eq!(outcome.status, DeployStatus::Deployed);
    assert!(
        outcome.reason.contains("never deployed"),
        "{}",
        outcome.reason
    );
}

#[tokio::test]
async fn force_deploys_unchanged_files() {
    let script = unchanged_script("UPDATE_COMPLETE", DIR);
    let clients = AwsClients::new(&sdk(scripted(script.clone())), &CallCounter::new());
    let (req, _dir) = request(true);
    let outcome = deploy(&clients, &req, &deployer_aws::progress::silent())
        .await
        .unwrap();
    assert_eq!(outcome.status, DeployStatus::Deployed);
    assert_eq!(outcome.reason, "--force");
}

#[tokio::test]
async fn no_updates_to_perform_is_success() {
    let script = unchanged_script("UPDATE_COMPLETE", DIR);
    script.lock().unwrap().responses.insert(
        "UpdateStack".into(),
        VecDeque::from([cfn_error(
            400,
            "ValidationError",
            "No updates are to be performed.",
        )]),
    );
    let clients = AwsClients::new(&sdk(scripted(script.clone())), &CallCounter::new());
    let (req, _dir) = request(true);
    let outcome = deploy(&clients, &req, &deployer_aws::progress::silent())
        .await
        .unwrap();
    assert_eq!(outcome.status, DeployStatus::Unchanged);
    assert!(
        !script
            .lock()
            .unwrap()
            .calls
            .iter()
            .any(|c| c == "DescribeStackEvents")
    );
}

#[tokio::test]
async fn busy_stack_is_waited_for() {
    let script = unchanged_script("UPDATE_COMPLETE", DIR);
    {
        let mut s = script.lock().unwrap();
        let q = s.responses.get_mut("DescribeStacks").unwrap();
        q.push_front(ok(describe_stacks(
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            &[],
        )));
        q.push_front(ok(describe_stacks("UPDATE_IN_PROGRESS", &[])));
    }
    let clients = AwsClients::new(&sdk(scripted(script.clone())), &CallCounter::new());
    let (req, _dir) = request(false);
    let mut req = req;
    req.waits.max_poll = Duration::from_millis(2);
    let (log, reporter) = collect();
    let outcome = deploy(&clients, &req, &reporter).await.unwrap();
    assert_eq!(outcome.status, DeployStatus::Unchanged);
    let busy = log
        .lock()
        .unwrap()
        .iter()
        .filter(|p| matches!(p, Progress::StackBusy { .. }))
        .count();
    assert!(busy >= 1);
}

#[tokio::test]
async fn an_update_stack_that_keeps_failing_reports_the_unchanged_stack() {
    let script = unchanged_script("UPDATE_COMPLETE", DIR);
    script.lock().unwrap().responses.insert(
        "UpdateStack".into(),
        VecDeque::from([cfn_error(503, "ServiceUnavailable", "try later")]),
    );
    let clients = AwsClients::new(&sdk(scripted(script.clone())), &CallCounter::new());
    let (req, _dir) = request(true);
    let err = deploy(&clients, &req, &deployer_aws::progress::silent())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("UpdateStack \"svc-dev\" failed: ServiceUnavailable: try later"),
        "{text}"
    );
    assert!(
        text.contains("the stack was not changed by this run (status UPDATE_COMPLETE)"),
        "{text}"
    );
    assert!(text.contains("re-running is safe"), "{text}");
    assert!(err.raw_chain().is_some());
    let calls = script.lock().unwrap().calls.clone();
    assert_eq!(
        calls.iter().filter(|c| *c == "UpdateStack").count(),
        3,
        "the SDK retried: {calls:?}"
    );
    assert!(
        !calls.iter().any(|c| c == "DescribeStackEvents"),
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .filter(|c| c.ends_with("/deployer.lock"))
            .count()
            >= 3,
        "the lock was taken, checked and released: {calls:?}"
    );
    assert!(
        script.lock().unwrap().lock.is_none(),
        "the lock is released after a failure"
    );
}

#[tokio::test]
async fn an_update_whose_answer_was_lost_is_confirmed_from_the_stack() {
    let (req, _dir) = request(true);
    let script = unchanged_script("UPDATE_COMPLETE", DIR);
    {
        let mut s = script.lock().unwrap();
        s.responses.insert(
            "UpdateStack".into(),
            VecDeque::from([cfn_error(500, "InternalFailure", "lost")]),
        );
        // First read: the old template (change detection); then ours (the update landed).
        let ours = serde_json::to_string(req.template.as_ref()).unwrap();
        s.responses
            .get_mut("GetTemplate")
            .unwrap()
            .push_back(ok(get_template(&ours)));
    }
    let clients = AwsClients::new(&sdk(scripted(script.clone())), &CallCounter::new());
    let outcome = deploy(&clients, &req, &deployer_aws::progress::silent())
        .await
        .unwrap();
    assert_eq!(outcome.status, DeployStatus::Deployed);
    assert_eq!(outcome.stack_status, "UPDATE_COMPLETE");
    let calls = script.lock().unwrap().calls.clone();
    assert!(
        calls.iter().any(|c| c == "DescribeStackEvents"),
        "followed: {calls:?}"
    );
}

#[tokio::test]
async fn events_that_cannot_be_read_fall_back_to_the_stack_status() {
    let script = unchanged_script("UPDATE_COMPLETE", DIR);
    script.lock().unwrap().responses.insert(
        "DescribeStackEvents".into(),
        VecDeque::from([cfn_error(500, "InternalFailure", "boom")]),
    );
    let clients = AwsClients::new(&sdk(scripted(script.clone())), &CallCounter::new());
    let (req, _dir) = request(true);
    let outcome = deploy(&clients, &req, &deployer_aws::progress::silent())
        .await
        .unwrap();
    assert_eq!(outcome.status, DeployStatus::Deployed);
    assert_eq!(outcome.stack_status, "UPDATE_COMPLETE");
}

#[tokio::test]
async fn a_core_stack_another_run_created_first_is_used() {
    let script = Arc::new(Mutex::new(Script::default()));
    script
        .lock()
        .unwrap()
        .on(
            "DescribeStacks",
            cfn_error(
                400,
                "ValidationError",
                "Stack with id svc-dev does not exist",
            ),
        )
        .on(
            "DescribeStacks",
            ok(describe_stacks("CREATE_COMPLETE", &[])),
        )
        .on(
            "CreateStack",
            cfn_error(
                400,
                "AlreadyExistsException",
                "Stack [svc-dev] already exists",
            ),
        )
        .on("DescribeStackResource", ok(stack_resource(BUCKET)))
        .on("PutObject", ok(String::new()))
        .on("UpdateStack", ok(simple("UpdateStack")))
        .on(
            "DescribeStackEvents",
            ok(events(&[
                ("u2", STACK, S, "UPDATE_COMPLETE", ""),
                ("u1", STACK, S, "UPDATE_IN_PROGRESS", "User Initiated"),
                ("c2", STACK, S, "CREATE_COMPLETE", ""),
            ])),
        );
    let clients = AwsClients::new(&sdk(scripted(script.clone())), &CallCounter::new());
    let (req, _dir) = request(false);
    let outcome = deploy(&clients, &req, &deployer_aws::progress::silent())
        .await
        .unwrap();
    assert_eq!(outcome.status, DeployStatus::Deployed, "{}", outcome.reason);
    assert_eq!(outcome.bucket, BUCKET);
    let calls = script.lock().unwrap().calls.clone();
    assert_eq!(
        calls.iter().filter(|c| *c == "CreateStack").count(),
        1,
        "{calls:?}"
    );
    let pos = |name: &str| calls.iter().position(|c| c == name).unwrap();
    assert!(pos("CreateStack") < pos("UpdateStack"), "{calls:?}");
}

#[tokio::test]
async fn following_stops_at_the_end_of_our_operation() {
    // Another run's update follows our create before the first poll: ours still succeeded.
    let any = || {
        http::Request::builder()
            .uri("https://aws.test/")
            .body(SdkBody::empty())
            .unwrap()
    };
    let replay = StaticReplayClient::new(vec![ReplayEvent::new(
        any(),
        ok(events(&[
            ("e4", STACK, S, "UPDATE_COMPLETE", ""),
            ("e3", STACK, S, "UPDATE_IN_PROGRESS", "User Initiated"),
            ("e2", STACK, S, "CREATE_COMPLETE", ""),
            ("e1", STACK, S, "CREATE_IN_PROGRESS", "User Initiated"),
        ])),
    )]);
    let clients = AwsClients::new(&sdk(replay.into_shared()), &CallCounter::new());
    let followed = stack::follow(
        &clients.cfn,
        STACK_ID,
        STACK,
        "us-east-1",
        Operation::Create,
        &fast_waits(),
        Scoped::new(&scope(), &deployer_aws::progress::silent()),
    )
    .await
    .unwrap();
    assert_eq!(followed.status, "CREATE_COMPLETE");
}

/// A stage lock held by another run, on another host, for a long while yet.
fn held_lock() -> Vec<u8> {
    br#"{"owner":"ci@elsewhere","pid":1,"token":"other-run","acquired":"2023-11-14T22:00:00Z","expires":"2999-01-01T00:00:00Z"}"#.to_vec()
}

/// The stage lock of the deploy function and rollback flows, named by ops.
fn stage_lock() -> LockRequest {
    LockRequest {
        bucket: BUCKET.into(),
        stage_prefix: "custom/deep/svc/dev".into(),
        service: "svc".into(),
        stage: "dev".into(),
        options: deployer_aws::lock::LockOptions {
            poll: Duration::from_millis(5),
            wait: Duration::from_millis(30),
            ..Default::default()
        },
    }
}

/// Every progress event of `log` names the service and stack ops gave the flow.
fn all_scoped_to_the_stack(log: &Mutex<Vec<Progress>>) {
    let log = log.lock().unwrap();
    assert!(!log.is_empty(), "the wait for the lock is reported");
    assert!(log.iter().all(|p| p.scope() == &scope()), "{log:?}");
}

#[tokio::test]
async fn deploy_function_and_rollback_events_name_the_service_and_stack() {
    let script = Arc::new(Mutex::new(Script {
        lock: Some(held_lock()),
        ..Script::default()
    }));
    let counter = CallCounter::new();
    let clients = AwsClients::new(&sdk(scripted(script.clone())), &counter);

    let req = FunctionRequest {
        key: "hello".into(),
        name: "svc-dev-hello".into(),
        stack: STACK.into(),
        code: None,
        settings: FunctionSettings::default(),
        lock: stage_lock(),
    };
    let (log, reporter) = collect();
    let run = deploy_function(&clients, &req, &reporter).await;
    assert!(matches!(
        run.result,
        Err(FunctionError::Aws(AwsError::Locked(_)))
    ));
    all_scoped_to_the_stack(&log);

    let req = RollbackRequest {
        params: StackParams {
            stack: STACK.into(),
            region: "us-east-1".into(),
            ..Default::default()
        },
        stack_id: STACK_ID.into(),
        template_url: format!("https://s3.amazonaws.com/{BUCKET}/{DIR}/t.json"),
        template: serde_json::json!({"Resources": {}}),
        method: Method::Direct,
        waits: fast_waits(),
        lock: stage_lock(),
    };
    let (log, reporter) = collect();
    let run = rollback(&clients, &req, &reporter).await;
    assert!(matches!(run.result, Err(AwsError::Locked(_))));
    all_scoped_to_the_stack(&log);
}
