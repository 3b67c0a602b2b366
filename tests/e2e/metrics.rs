//! `deployer metrics` end to end: the guard's STS call and everything else go to moto; moto
//! 5.2 does not serve CloudWatch's RPC v2 CBOR protocol, so the fault proxy in front of it
//! plays recorded GetMetricData answers (CBOR built with `ciborium`) and keeps the requests,
//! which are read back.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ciborium::Value;
use deployer_testbed::TestBed;
use deployer_testbed::proxy::{Fault, FaultProxy, Recorded, Rule};

use crate::support::{Run, pin_seed, run, seed_service};

const OPERATION: &str = "/operation/GetMetricData";

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (text(k), v)).collect())
}

fn cbor(status: u16, body: &Value, query_error: Option<&str>) -> Fault {
    let mut bytes = Vec::new();
    ciborium::into_writer(body, &mut bytes).unwrap();
    let mut headers = vec![
        ("Content-Type".to_string(), "application/cbor".to_string()),
        ("smithy-protocol".to_string(), "rpc-v2-cbor".to_string()),
        (
            "x-amzn-RequestId".to_string(),
            "5d2a0c1e-metrics".to_string(),
        ),
    ];
    if let Some(q) = query_error {
        headers.push(("x-amzn-query-error".to_string(), q.to_string()));
    }
    Fault::Answer(Arc::new(Recorded {
        status,
        headers,
        body: bytes,
    }))
}

/// A GetMetricData answer: `(id, values)` per result, one minute apart, newest first.
fn answer(results: &[(&str, &[f64])]) -> Fault {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64;
    let results = results
        .iter()
        .map(|(id, values)| {
            let stamps = (0..values.len())
                .map(|i| Value::Tag(1, Box::new(Value::Float(now - 60.0 * (i as f64 + 1.0)))));
            map(vec![
                ("Id", text(id)),
                ("Label", text(id)),
                ("Timestamps", Value::Array(stamps.collect())),
                (
                    "Values",
                    Value::Array(values.iter().map(|v| Value::Float(*v)).collect()),
                ),
                ("StatusCode", text("Complete")),
            ])
        })
        .collect();
    cbor(
        200,
        &map(vec![
            ("MetricDataResults", Value::Array(results)),
            ("Messages", Value::Array(vec![])),
        ]),
        None,
    )
}

fn field<'a>(value: &'a Value, key: &str) -> &'a Value {
    value
        .as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.as_text() == Some(key)))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {key} in {value:?}"))
}

fn epoch(value: &Value) -> f64 {
    match value {
        Value::Tag(1, inner) => match inner.as_ref() {
            Value::Float(f) => *f,
            Value::Integer(i) => i128::from(*i) as f64,
            other => panic!("timestamp {other:?}"),
        },
        other => panic!("not a timestamp: {other:?}"),
    }
}

fn metrics(bed: &TestBed<'_>, name: &str, proxy: &FaultProxy, args: &[&str]) -> Run {
    let dir = seed_service(bed, name, |yml| {
        pin_seed(yml.replacen("service: service-name", &format!("service: {name}"), 1))
    });
    let mut all = vec!["metrics"];
    all.extend(args);
    run(bed, &dir, &all, &[("AWS_ENDPOINT_URL", &proxy.endpoint())])
}

#[test]
fn metrics_asks_cloudwatch_for_the_stage_functions_and_totals_the_answer() {
    let bed = TestBed::standard();
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    proxy.set_rules(vec![Rule::new(
        OPERATION,
        answer(&[
            ("inv_0", &[4.0, 6.0]),
            ("err_0", &[1.0]),
            ("thr_0", &[]),
            ("dur_0", &[120.0, 80.0]),
            ("cnt_0", &[4.0, 6.0]),
            ("p99_0", &[90.0, 40.0]),
            ("inv_1", &[2.0]),
            ("err_1", &[]),
            ("thr_1", &[3.0]),
            ("dur_1", &[400.0]),
            ("cnt_1", &[2.0]),
            ("p99_1", &[250.0]),
        ]),
    )]);
    let r = metrics(&bed, "metrics-ok", &proxy, &["--startTime", "2h", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = r.json();
    assert_eq!(out["periodSeconds"], 60, "{out}");
    let functions = out["functions"].as_array().unwrap();
    let keys: Vec<&str> = functions
        .iter()
        .map(|f| f["function"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["hello", "cron"], "{out}");
    let hello = &functions[0];
    assert_eq!(hello["name"], "metrics-ok-dev-hello");
    assert_eq!(hello["invocations"], 10.0);
    assert_eq!(hello["errors"], 1.0);
    assert_eq!(hello["durationAvgMs"], 20.0);
    assert_eq!(hello["durationP99Ms"], 90.0);
    assert_eq!(functions[1]["throttles"], 3.0);
    let total = &out["total"];
    assert_eq!(total["invocations"], 12.0);
    assert_eq!(total["throttles"], 3.0);
    // Weighted by durations: (20 × 10 + 200 × 2) / 12.
    assert_eq!(total["durationAvgMs"], 50.0);
    assert_eq!(total["durationP99Ms"], 250.0);
    assert_eq!(
        out["awsCalls"]["total"], 2,
        "STS, then GetMetricData: {out}"
    );

    let sent = proxy.answered();
    assert_eq!(sent.len(), 1);
    let body: Value = ciborium::from_reader(sent[0].as_slice()).unwrap();
    let (start, end) = (
        epoch(field(&body, "StartTime")),
        epoch(field(&body, "EndTime")),
    );
    assert!(
        (end - start - 7200.0).abs() < 2.0,
        "a two-hour window: {start} {end}"
    );
    let queries = field(&body, "MetricDataQueries").as_array().unwrap();
    assert_eq!(queries.len(), 12);
    let dims = field(
        field(field(&queries[6], "MetricStat"), "Metric"),
        "Dimensions",
    );
    let dim = &dims.as_array().unwrap()[0];
    assert_eq!(field(dim, "Value").as_text(), Some("metrics-ok-dev-cron"));
}

#[test]
fn throttled_metrics_fail_with_the_operation_and_the_advice() {
    let bed = TestBed::standard();
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    let throttled = cbor(
        400,
        &map(vec![
            (
                "__type",
                text("com.amazonaws.cloudwatch#ThrottlingException"),
            ),
            ("message", text("Rate exceeded")),
        ]),
        Some("Throttling;Sender"),
    );
    proxy.set_rules(vec![Rule::new(OPERATION, throttled)]);
    let r = metrics(&bed, "metrics-throttled", &proxy, &["-f", "hello"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("CloudWatch GetMetricData failed: Throttling: Rate exceeded"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("re-running is safe"), "{}", r.stderr);
    assert!(proxy.answered().len() >= 2, "the SDK retried");

    let json = metrics(&bed, "metrics-throttled-json", &proxy, &["--json"]).json();
    assert_eq!(json["exitCode"], 1);
    assert_eq!(json["error"]["kind"], "aws", "{json}");
    assert_eq!(json["error"]["code"], "Throttling", "{json}");
    assert_eq!(json["error"]["failure"], "throttled", "{json}");
}
