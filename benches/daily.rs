//! Whole-process benchmark of the daily loop against moto (the multi-account seed deployed to
//! its dev account): `deploy function` (changed code, and unchanged), `invoke` (moto's Lambda
//! without Docker), `logs` (no tail), `deploy list` and `rollback -t` (alternating between two
//! deployments, so each one updates the stack) — wall time of the real binary and its AWS calls
//! (from `--json`'s `awsCalls`, the guard's STS call included).
//!
//! moto's Lambda without Docker writes no logs, so before each round the bench writes a log
//! stream with the lines of one invocation, as Lambda would: both CLIs then read real events
//! (Serverless's `logs` fails with "No existing streams" on an empty log group).
//!
//! When `SERVERLESS_BIN` names a Serverless v3 CLI (for example osls 4.3.1:
//! `npm install --prefix DIR osls@4.3.1`, then `SERVERLESS_BIN=DIR/node_modules/.bin/serverless`)
//! the same commands run through it on the same moto (`AWS_ENDPOINT_URL`), next to deployer.
//!
//! Run with `cargo bench -p deployer-cli --bench daily` (optionally `-- <rounds>`); needs
//! `moto_server` (installed by `make test`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use deployer_testbed::{Moto, ProfileSpec, TestBed};

mod support;

use support::{Sample, run, service};

/// The same command through a Serverless v3 CLI; `None` when it failed (its stderr is shown).
fn run_serverless(bin: &Path, bed: &TestBed<'_>, dir: &Path, args: &[&str]) -> Option<Sample> {
    let mut cmd = Command::new(bin);
    bed.apply(&mut cmd);
    cmd.current_dir(dir)
        .args(args)
        .env("AWS_ENDPOINT_URL", bed.moto().endpoint())
        .env("SLS_TELEMETRY_DISABLED", "1")
        .env("SLS_NOTIFICATIONS_MODE", "off")
        .stdin(Stdio::null());
    let start = Instant::now();
    let out = cmd.output().ok()?;
    let wall = start.elapsed();
    if !out.status.success() {
        eprintln!(
            "serverless {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(Sample {
        wall,
        calls: 0,
        sequential: 0,
    })
}

/// The seed service named `name`. Both CLIs roll back with UpdateStack: moto 5.2.1 answers
/// the DeleteChangeSet that Serverless sends first on the change-set path with HTTP 500.
fn direct_service(bed: &TestBed<'_>, name: &str) -> PathBuf {
    service(bed, name, |text| {
        text.replacen(
            "  region: us-east-1\n",
            "  region: us-east-1\n  deploymentMethod: direct\n",
            1,
        )
    })
}

fn handler(dir: &Path, i: usize) {
    std::fs::write(
        dir.join("handler.js"),
        format!("module.exports.hello = async () => ({{ statusCode: 200, body: '{i}' }});\nmodule.exports.cron = async () => {{}};\n"),
    )
    .unwrap();
}

fn report(title: &str, names: &[&str], samples: Vec<Vec<Sample>>) {
    println!("{title}:");
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for (name, mut s) in names.iter().zip(samples) {
        if s.is_empty() {
            println!("  {name:<26} (not measured)");
            continue;
        }
        s.sort_by_key(|x| x.wall);
        println!(
            "  {name:<26} median {:>7.1} ms  min {:>7.1} ms  max {:>7.1} ms  AWS calls {} ({} sequential)",
            ms(s[s.len() / 2].wall),
            ms(s[0].wall),
            ms(s[s.len() - 1].wall),
            s[s.len() / 2].calls,
            s[s.len() / 2].sequential,
        );
    }
}

const NAMES: [&str; 6] = [
    "deploy function (changed)",
    "deploy function (same)",
    "invoke",
    "logs",
    "deploy list",
    "rollback -t",
];

/// Writes one invocation's log lines to a new stream of `function`'s log group, the way Lambda
/// does after an invoke (moto's Lambda without Docker writes none).
fn write_invocation_log(bed: &TestBed<'_>, function: &str, round: usize) {
    let key = bed.key("devAccount");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let conf = aws_config::defaults(BehaviorVersion::latest())
            .region("us-east-1")
            .endpoint_url(bed.moto().endpoint())
            .credentials_provider(Credentials::new(
                key.access_key_id.clone(),
                key.secret_access_key.clone(),
                None,
                None,
                "bench",
            ))
            .load()
            .await;
        let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
        let group = format!("/aws/lambda/{function}");
        // The group exists after the first round.
        let _ = logs.create_log_group().log_group_name(&group).send().await;
        let stream = format!("2026/01/01/[$LATEST]bench{round:04}");
        logs.create_log_stream()
            .log_group_name(&group)
            .log_stream_name(&stream)
            .send()
            .await
            .expect("CreateLogStream");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        // The Node.js runtime's lines.
        let id = format!("8f5c3a52-0000-4000-8000-{round:012}");
        let lines = [
            format!("START RequestId: {id} Version: $LATEST\n"),
            format!("2026-01-01T00:00:00.000Z\t{id}\tINFO\thandled round {round}\n"),
            format!("END RequestId: {id}\n"),
            format!(
                "REPORT RequestId: {id}\tDuration: 2.10 ms\tBilled Duration: 3 ms\t\
                 Memory Size: 1024 MB\tMax Memory Used: 68 MB\t\n"
            ),
        ];
        let events = lines.iter().enumerate().map(|(i, line)| {
            InputLogEvent::builder()
                .timestamp(now + i as i64)
                .message(line)
                .build()
                .unwrap()
        });
        logs.put_log_events()
            .log_group_name(&group)
            .log_stream_name(&stream)
            .set_log_events(Some(events.collect()))
            .send()
            .await
            .expect("PutLogEvents");
    });
}

/// The timestamps of the service's deployments, oldest first (from `deploy list --json`).
fn deployments(bed: &TestBed<'_>, dir: &Path) -> Vec<String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deployer"));
    bed.apply(&mut cmd);
    let out = cmd
        .current_dir(dir)
        .args(["deploy", "list", "--json"])
        .output()
        .expect("run deployer");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json output");
    let mut list: Vec<String> = json["deployments"]
        .as_array()
        .expect("deployments")
        .iter()
        .map(|d| d["timestamp"].to_string())
        .collect();
    list.sort();
    list
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let moto = Moto::start().expect("starting moto_server (run `make test` to install it)");
    let bed = TestBed::with_profiles(
        &moto,
        &[
            ProfileSpec::new("default", "111111111111"),
            ProfileSpec::new("devAccount", "222222222222"),
        ],
    )
    .expect("provisioning accounts");
    let dir = direct_service(&bed, "daily");
    run(&bed, &dir, &["up"]);
    // A second deployment (other code), so that rollback has two to alternate between.
    handler(&dir, 10_000);
    run(&bed, &dir, &["up"]);
    let stamps = deployments(&bed, &dir);
    assert!(stamps.len() >= 2, "two deployments: {stamps:?}");
    let rollback_to = |round: usize| stamps[round % 2].clone();

    let mut samples: Vec<Vec<Sample>> = NAMES.iter().map(|_| Vec::new()).collect();
    for i in 0..rounds {
        write_invocation_log(&bed, "daily-dev-hello", i);
        handler(&dir, i);
        samples[0].push(run(&bed, &dir, &["deploy", "function", "-f", "hello"]));
        samples[1].push(run(&bed, &dir, &["deploy", "function", "-f", "hello"]));
        // moto serves Invoke from a store of its own without Docker: switch only around it.
        moto.set_lambda_docker(false).unwrap();
        samples[2].push(run(&bed, &dir, &["invoke", "-f", "hello", "-d", "{}"]));
        moto.set_lambda_docker(true).unwrap();
        samples[3].push(run(&bed, &dir, &["logs", "-f", "hello"]));
        samples[4].push(run(&bed, &dir, &["deploy", "list"]));
        samples[5].push(run(&bed, &dir, &["rollback", "-t", &rollback_to(i)]));
    }
    report(
        &format!("deployer against moto, multi-account seed (dev stage), {rounds} rounds"),
        &NAMES,
        samples,
    );

    let Some(bin) = std::env::var_os("SERVERLESS_BIN").map(PathBuf::from) else {
        println!("serverless: not measured (set SERVERLESS_BIN to a Serverless v3 CLI)");
        return;
    };
    let mut samples: Vec<Vec<Sample>> = NAMES.iter().map(|_| Vec::new()).collect();
    for i in 0..rounds {
        write_invocation_log(&bed, "daily-dev-hello", 100 + i);
        handler(&dir, 100 + i);
        // Continues the alternation, so the first rollback is no no-op either.
        let target = rollback_to(rounds + i);
        let commands: [&[&str]; 6] = [
            &["deploy", "function", "-f", "hello"],
            &["deploy", "function", "-f", "hello"],
            &["invoke", "-f", "hello", "-d", "{}"],
            &["logs", "-f", "hello"],
            &["deploy", "list"],
            &["rollback", "-t", &target],
        ];
        for (n, args) in commands.iter().enumerate() {
            moto.set_lambda_docker(n != 2).unwrap();
            if let Some(s) = run_serverless(&bin, &bed, &dir, args) {
                samples[n].push(s);
            }
        }
        moto.set_lambda_docker(true).unwrap();
    }
    report("serverless (same moto, same service)", &NAMES, samples);
}
