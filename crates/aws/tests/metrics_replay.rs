//! `lambda_metrics` against recorded CloudWatch exchanges. The CloudWatch SDK speaks the
//! RPC v2 CBOR protocol, which moto does not serve, so the requests are read back and the
//! answers built as CBOR with `ciborium` (an encoder independent of the SDK's own) and played
//! by the SDK's replay test client (`StaticReplayClient`).

mod replay;

use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::body::SdkBody;
use aws_types::SdkConfig;
use ciborium::Value;
use deployer_aws::calls::CallCounter;
use deployer_aws::clients::AwsClients;
use deployer_aws::error::{AwsError, FailureKind};
use deployer_aws::metrics::{FunctionMetrics, lambda_metrics};

const START: i64 = 1_700_000_000;
const END: i64 = START + 3_600;
const PATH: &str = "/service/GraniteServiceVersion20100801/operation/GetMetricData";

fn sdk(http: SharedHttpClient) -> SdkConfig {
    replay::sdk(http, "eu-west-1")
}

// ---- CBOR ---------------------------------------------------------------------------------

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (text(k), v)).collect())
}

/// An epoch-seconds timestamp (CBOR tag 1), as CloudWatch sends them.
fn timestamp(secs: i64) -> Value {
    Value::Tag(1, Box::new(Value::Float(secs as f64)))
}

fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("CBOR encodes");
    out
}

fn decode(body: &[u8]) -> Value {
    ciborium::from_reader(body).expect("the request body is CBOR")
}

/// `value[key]` of a CBOR map.
fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    let mut v = value;
    for key in path {
        v = field(v, key).unwrap_or_else(|| panic!("no {key} in {value:?}"));
    }
    v.as_text()
        .unwrap_or_else(|| panic!("{path:?} is not text"))
}

/// Seconds of a tag-1 timestamp, whether the encoder chose an integer or a float.
fn epoch(value: &Value) -> f64 {
    match value {
        Value::Tag(1, inner) => match inner.as_ref() {
            Value::Integer(i) => i128::from(*i) as f64,
            Value::Float(f) => *f,
            other => panic!("timestamp content {other:?}"),
        },
        other => panic!("not a timestamp: {other:?}"),
    }
}

// ---- recorded answers ---------------------------------------------------------------------

/// One `MetricDataResult`: values newest first, one minute apart, as CloudWatch orders them.
fn result(id: &str, label: &str, values: &[f64], status: &str) -> Value {
    let stamps = (0..values.len()).map(|i| timestamp(END - 60 * (i as i64 + 1)));
    map(vec![
        ("Id", text(id)),
        ("Label", text(label)),
        ("Timestamps", Value::Array(stamps.collect())),
        (
            "Values",
            Value::Array(values.iter().map(|v| Value::Float(*v)).collect()),
        ),
        ("StatusCode", text(status)),
    ])
}

fn answer(results: Vec<Value>, next_token: Option<&str>) -> http::Response<SdkBody> {
    let mut entries = vec![
        ("MetricDataResults", Value::Array(results)),
        ("Messages", Value::Array(vec![])),
    ];
    if let Some(t) = next_token {
        entries.push(("NextToken", text(t)));
    }
    cbor_response(200, &map(entries), None)
}

/// An RPC v2 CBOR error; CloudWatch is query-compatible and names the query error code in
/// `x-amzn-query-error`.
fn error(status: u16, kind: &str, query_code: &str, message: &str) -> http::Response<SdkBody> {
    let body = map(vec![
        ("__type", text(&format!("com.amazonaws.cloudwatch#{kind}"))),
        ("message", text(message)),
    ]);
    cbor_response(status, &body, Some(&format!("{query_code};Sender")))
}

fn cbor_response(status: u16, body: &Value, query_error: Option<&str>) -> http::Response<SdkBody> {
    let mut b = http::Response::builder()
        .status(status)
        .header("content-type", "application/cbor")
        .header("smithy-protocol", "rpc-v2-cbor")
        .header("x-amzn-requestid", "3f1c9c3e-0000-4000-8000-000000000000");
    if let Some(q) = query_error {
        b = b.header("x-amzn-query-error", q);
    }
    b.body(SdkBody::from(encode(body))).unwrap()
}

fn replay(responses: Vec<http::Response<SdkBody>>) -> StaticReplayClient {
    StaticReplayClient::new(
        responses
            .into_iter()
            .map(|r| {
                let expected = http::Request::builder()
                    .method("POST")
                    .uri(format!("https://aws.test{PATH}"))
                    .body(SdkBody::empty())
                    .unwrap();
                ReplayEvent::new(expected, r)
            })
            .collect(),
    )
}

async fn run(
    client: &StaticReplayClient,
    functions: &[&str],
) -> (Result<Vec<FunctionMetrics>, AwsError>, usize) {
    let counter = CallCounter::new();
    let clients = AwsClients::new(&sdk(client.clone().into_shared()), &counter);
    let names: Vec<String> = functions.iter().map(|f| f.to_string()).collect();
    let out = lambda_metrics(&clients.cloudwatch, &names, START, END, 60).await;
    (out, counter.count())
}

/// The CBOR bodies of the requests sent, after checking each is a GetMetricData call.
fn sent(client: &StaticReplayClient) -> Vec<Value> {
    client
        .actual_requests()
        .map(|r| {
            assert_eq!(r.method(), "POST");
            assert_eq!(r.uri(), format!("https://aws.test{PATH}"));
            assert_eq!(r.headers().get("smithy-protocol"), Some("rpc-v2-cbor"));
            assert_eq!(r.headers().get("content-type"), Some("application/cbor"));
            decode(r.body().bytes().expect("a buffered body"))
        })
        .collect()
}

fn queries(body: &Value) -> &[Value] {
    field(body, "MetricDataQueries")
        .and_then(Value::as_array)
        .expect("MetricDataQueries")
}

// ---- tests --------------------------------------------------------------------------------

/// What is asked for each function, in order: `(id prefix, metric, statistic)`.
const KINDS: [(&str, &str, &str); 6] = [
    ("inv", "Invocations", "Sum"),
    ("err", "Errors", "Sum"),
    ("thr", "Throttles", "Sum"),
    ("dur", "Duration", "Sum"),
    ("cnt", "Duration", "SampleCount"),
    ("p99", "Duration", "p99"),
];

#[tokio::test]
async fn asks_for_six_lambda_metrics_per_function_and_folds_every_page() {
    let client = replay(vec![
        answer(
            vec![
                result("inv_0", "Invocations", &[3.0, 2.0], "PartialData"),
                result("err_0", "Errors", &[1.0, 0.0], "Complete"),
                result("thr_0", "Throttles", &[], "Complete"),
                result("dur_0", "Duration", &[360.0, 160.0], "Complete"),
                result("cnt_0", "Duration", &[3.0, 2.0], "Complete"),
                result("p99_0", "Duration", &[310.0, 95.0], "Complete"),
                result("inv_1", "Invocations", &[], "Complete"),
                result("err_1", "Errors", &[], "Complete"),
                result("thr_1", "Throttles", &[4.0], "Complete"),
                result("dur_1", "Duration", &[], "Complete"),
                result("cnt_1", "Duration", &[], "Complete"),
                result("p99_1", "Duration", &[], "Complete"),
            ],
            Some("page-2"),
        ),
        // The rest of the partial result.
        answer(
            vec![result("inv_0", "Invocations", &[5.0], "Complete")],
            None,
        ),
    ]);
    let (out, calls) = run(&client, &["svc-dev-hello", "svc-dev-world"]).await;
    let out = out.expect("metrics");
    assert_eq!(calls, 2, "one call per page");
    assert_eq!(
        out,
        vec![
            FunctionMetrics {
                function: "svc-dev-hello".into(),
                invocations: 10.0,
                errors: 1.0,
                throttles: 0.0,
                duration_avg: Some(104.0),
                duration_samples: 5.0,
                duration_p99: Some(310.0),
            },
            FunctionMetrics {
                function: "svc-dev-world".into(),
                invocations: 0.0,
                errors: 0.0,
                throttles: 4.0,
                duration_avg: None,
                duration_samples: 0.0,
                duration_p99: None,
            },
        ]
    );

    let bodies = sent(&client);
    assert_eq!(bodies.len(), 2);
    for body in &bodies {
        assert_eq!(epoch(field(body, "StartTime").unwrap()), START as f64);
        assert_eq!(epoch(field(body, "EndTime").unwrap()), END as f64);
        assert_eq!(queries(body).len(), 12);
    }
    assert!(field(&bodies[0], "NextToken").is_none());
    assert_eq!(str_at(&bodies[1], &["NextToken"]), "page-2");

    let qs = queries(&bodies[0]);
    for (f, function) in ["svc-dev-hello", "svc-dev-world"].iter().enumerate() {
        for (k, (id, metric, stat)) in KINDS.iter().enumerate() {
            let q = &qs[f * KINDS.len() + k];
            assert_eq!(str_at(q, &["Id"]), format!("{id}_{f}"));
            assert_eq!(field(q, "ReturnData"), Some(&Value::Bool(true)));
            let stat_of = field(q, "MetricStat").unwrap();
            assert_eq!(str_at(stat_of, &["Stat"]), *stat);
            assert_eq!(field(stat_of, "Period"), Some(&Value::Integer(60.into())));
            let m = field(stat_of, "Metric").unwrap();
            assert_eq!(str_at(m, &["Namespace"]), "AWS/Lambda");
            assert_eq!(str_at(m, &["MetricName"]), *metric);
            let dims = field(m, "Dimensions").and_then(Value::as_array).unwrap();
            assert_eq!(dims.len(), 1);
            assert_eq!(str_at(&dims[0], &["Name"]), "FunctionName");
            assert_eq!(str_at(&dims[0], &["Value"]), *function);
        }
    }
}

#[tokio::test]
async fn pages_with_different_values_combine_instead_of_the_last_one_winning() {
    // The second page carries the older periods of every duration result: quieter and faster
    // ones. The mean is weighted by samples, the p99 is the highest period's.
    let client = replay(vec![
        answer(
            vec![
                result("inv_0", "Invocations", &[90.0], "PartialData"),
                result("dur_0", "Duration", &[18_000.0], "PartialData"),
                result("cnt_0", "Duration", &[90.0], "PartialData"),
                result("p99_0", "Duration", &[900.0], "PartialData"),
            ],
            Some("page-2"),
        ),
        answer(
            vec![
                result("inv_0", "Invocations", &[6.0, 4.0], "Complete"),
                result("dur_0", "Duration", &[60.0, 40.0], "Complete"),
                result("cnt_0", "Duration", &[6.0, 4.0], "Complete"),
                result("p99_0", "Duration", &[12.0, 11.0], "Complete"),
            ],
            None,
        ),
    ]);
    let (out, calls) = run(&client, &["svc-dev-hello"]).await;
    let hello = &out.expect("metrics")[0];
    assert_eq!(calls, 2, "one call per page");
    assert_eq!(hello.invocations, 100.0);
    // (18000 + 60 + 40) ms over 100 durations, not the second page's 10 ms alone.
    assert_eq!(hello.duration_avg, Some(181.0));
    assert_eq!(hello.duration_samples, 100.0);
    assert_eq!(
        hello.duration_p99,
        Some(900.0),
        "the first page's p99 stays"
    );
}

#[tokio::test]
async fn more_than_500_queries_go_in_several_calls_keeping_each_function() {
    // 84 functions are 504 queries: 83 whole functions (498) in the first call, 6 in the
    // second.
    let names: Vec<String> = (0..84).map(|i| format!("svc-dev-f{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let client = replay(vec![
        answer(
            vec![result("inv_82", "Invocations", &[7.0], "Complete")],
            None,
        ),
        answer(
            vec![result("inv_83", "Invocations", &[9.0], "Complete")],
            None,
        ),
    ]);
    let (out, calls) = run(&client, &refs).await;
    let out = out.expect("metrics");
    assert_eq!(calls, 2);
    assert_eq!(out.len(), 84);
    assert_eq!(out[82].invocations, 7.0);
    assert_eq!(out[83].function, "svc-dev-f83");
    assert_eq!(out[83].invocations, 9.0);
    let bodies = sent(&client);
    assert_eq!(queries(&bodies[0]).len(), 498);
    let second = queries(&bodies[1]);
    assert_eq!(second.len(), 6);
    assert_eq!(str_at(&second[0], &["Id"]), "inv_83");
    assert_eq!(str_at(&second[5], &["Id"]), "p99_83");
    let metric = field(field(&second[0], "MetricStat").unwrap(), "Metric").unwrap();
    let dims = field(metric, "Dimensions")
        .and_then(Value::as_array)
        .unwrap();
    assert_eq!(str_at(&dims[0], &["Value"]), "svc-dev-f83");
}

#[tokio::test]
async fn throttling_is_retried_then_reported_as_throttling() {
    let throttled = || error(400, "ThrottlingException", "Throttling", "Rate exceeded");
    let client = replay(vec![throttled(), throttled(), throttled()]);
    let (out, calls) = run(&client, &["svc-dev-hello"]).await;
    let err = out.expect_err("throttled");
    assert_eq!(calls, 3, "the SDK's three attempts");
    assert_eq!(err.kind(), Some(FailureKind::Throttled), "{err:?}");
    assert_eq!(err.code(), Some("Throttling"));
    assert!(err.is_transient());
    let text = err.to_string();
    assert!(
        text.starts_with("CloudWatch GetMetricData failed: Throttling: Rate exceeded"),
        "{text}"
    );
    assert!(text.contains("after the SDK's retries"), "{text}");
    assert!(text.contains("re-running is safe"), "{text}");
}

#[tokio::test]
async fn a_refused_request_is_not_retried_and_says_why() {
    let client = replay(vec![error(
        400,
        "InvalidParameterValueException",
        "InvalidParameterValue",
        "The parameter StartTime must be less than the parameter EndTime.",
    )]);
    let (out, calls) = run(&client, &["svc-dev-hello"]).await;
    let err = out.expect_err("refused");
    assert_eq!(calls, 1);
    assert_eq!(err.kind(), Some(FailureKind::Service));
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    assert_eq!(
        err.to_string(),
        "CloudWatch GetMetricData failed: InvalidParameterValue: The parameter StartTime must \
         be less than the parameter EndTime."
    );
}

#[tokio::test]
async fn a_missing_permission_names_the_remedy() {
    let client = replay(vec![error(
        403,
        "AccessDeniedException",
        "AccessDenied",
        "User: arn:aws:iam::222222222222:user/ci is not authorized to perform: \
         cloudwatch:GetMetricData",
    )]);
    let (out, _) = run(&client, &["svc-dev-hello"]).await;
    let text = out.expect_err("denied").to_string();
    assert!(
        text.starts_with("CloudWatch GetMetricData failed: AccessDenied: User: "),
        "{text}"
    );
    assert!(text.contains("grant it to the principal"), "{text}");
}

#[tokio::test]
async fn an_unreachable_endpoint_names_cloudwatch() {
    // A port nothing listens on, reached with deployer's HTTPS client.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut sdk = sdk(StaticReplayClient::new(vec![]).into_shared()).to_builder();
    sdk.set_http_client(Some(deployer_aws::clients::https_client()));
    let sdk = sdk.endpoint_url(format!("http://127.0.0.1:{port}")).build();
    let clients = AwsClients::new(&sdk, &CallCounter::new());
    let err = lambda_metrics(&clients.cloudwatch, &["f".into()], START, END, 60)
        .await
        .expect_err("nothing listens");
    assert_eq!(err.kind(), Some(FailureKind::Connection), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("(connection refused) during CloudWatch GetMetricData"),
        "{text}"
    );
    assert!(text.contains("re-running is safe"), "{text}");
}
