//! The inner loop against moto: `rollback function` restores a published version's code,
//! `logs --tail` follows new events and ends on SIGINT with exit 0, and `watch` ships an
//! edited handler (and runs `up` for a configuration edit), refusing a production stage
//! without `--yes`.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant, SystemTime};

use deployer_testbed::{DEV_ACCOUNT, Moto, PROD_ACCOUNT, ProfileSpec, TestBed};
use serde_json::Value;

use crate::support::{Run, deployer_bin, pin_seed, run, sdk_config, seed_service};

fn profiles() -> [ProfileSpec; 2] {
    [
        ProfileSpec::new("default", PROD_ACCOUNT),
        ProfileSpec::new("devAccount", DEV_ACCOUNT),
    ]
}

fn ok(r: &Run) -> Value {
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    r.json()
}

/// The dev account's Lambda and Logs, straight to moto.
struct Dev {
    lambda: aws_sdk_lambda::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    rt: tokio::runtime::Runtime,
}

fn dev(bed: &TestBed<'_>) -> Dev {
    let (rt, conf) = sdk_config(bed, "devAccount");
    Dev {
        lambda: aws_sdk_lambda::Client::new(&conf),
        logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
        rt,
    }
}

impl Dev {
    fn config(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> aws_sdk_lambda::types::FunctionConfiguration {
        let req = self
            .lambda
            .get_function()
            .function_name(name)
            .set_qualifier(qualifier.map(str::to_string));
        self.rt
            .block_on(req.send())
            .unwrap()
            .configuration()
            .unwrap()
            .clone()
    }

    fn sha(&self, name: &str, qualifier: Option<&str>) -> String {
        self.config(name, qualifier)
            .code_sha256()
            .unwrap()
            .to_string()
    }

    /// Writes one event into the function's log group (created on the first call).
    fn log(&self, group: &str, message: &str) {
        let _ = self
            .rt
            .block_on(self.logs.create_log_group().log_group_name(group).send());
        let stream = "2026/01/01/[$LATEST]tail";
        let _ = self.rt.block_on(
            self.logs
                .create_log_stream()
                .log_group_name(group)
                .log_stream_name(stream)
                .send(),
        );
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let event = aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
            .timestamp(now)
            .message(message)
            .build()
            .unwrap();
        self.rt
            .block_on(
                self.logs
                    .put_log_events()
                    .log_group_name(group)
                    .log_stream_name(stream)
                    .log_events(event)
                    .send(),
            )
            .unwrap();
    }
}

/// A running `deployer` whose stdout lines arrive on a channel.
struct Running {
    child: Child,
    lines: Receiver<String>,
}

impl Running {
    fn start(bed: &TestBed<'_>, dir: &Path, args: &[&str]) -> Running {
        let mut cmd = Command::new(deployer_bin());
        bed.apply(&mut cmd);
        cmd.current_dir(dir)
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Running { child, lines }
    }

    /// The first line `matches` accepts, within `limit`.
    fn wait_for(&self, limit: Duration, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if matches(&line) => return line,
                Ok(_) => {}
                Err(e) => panic!("no matching line within {limit:?}: {e}"),
            }
        }
    }

    /// SIGINT (as Ctrl-C), then the exit code.
    fn interrupt(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "still running after SIGINT");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn rollback_function_restores_an_older_versions_code() {
    let bed = TestBed::with_profiles(Moto::shared(), &profiles()).unwrap();
    let dir = seed_service(&bed, "rbf", |y| {
        pin_seed(y.replacen("service: service-name", "service: rbf", 1))
    });
    let dev = dev(&bed);
    ok(&run(&bed, &dir, &["up", "--json"], &[]));
    let first = dev.sha("rbf-dev-hello", None);
    assert_eq!(
        dev.sha("rbf-dev-hello", Some("1")),
        first,
        "deploy published version 1"
    );
    std::fs::write(
        dir.join("handler.js"),
        "module.exports.hello = async () => ({ statusCode: 203 });\nmodule.exports.cron = async () => {};\n",
    )
    .unwrap();
    ok(&run(
        &bed,
        &dir,
        &["deploy", "function", "-f", "hello", "--json"],
        &[],
    ));
    let second = dev.sha("rbf-dev-hello", None);
    assert_ne!(second, first);

    let args = [
        "rollback",
        "function",
        "-f",
        "hello",
        "--function-version",
        "1",
        "--json",
    ];
    let back = ok(&run(&bed, &dir, &args, &[]));
    assert_eq!(back["status"], "rolledBack", "{back}");
    assert_eq!(back["previousCodeSha256"], second.as_str());
    assert_eq!(back["codeSha256"], first.as_str());
    assert_eq!(
        dev.sha("rbf-dev-hello", None),
        first,
        "$LATEST runs version 1's code"
    );
    let again = ok(&run(&bed, &dir, &args, &[]));
    assert_eq!(again["status"], "alreadyRunning", "{again}");

    let missing = run(
        &bed,
        &dir,
        &[
            "rollback",
            "function",
            "-f",
            "hello",
            "--function-version",
            "7",
        ],
        &[],
    );
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("has no version 7"),
        "{}",
        missing.stderr
    );
    assert!(
        missing.stderr.contains("published versions: 1"),
        "{}",
        missing.stderr
    );
    let bad = run(
        &bed,
        &dir,
        &[
            "rollback",
            "function",
            "-f",
            "hello",
            "--function-version",
            "x",
        ],
        &[],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    let usage = run(&bed, &dir, &["rollback", "function", "-f", "hello"], &[]);
    assert_eq!(usage.code, 2, "--function-version is required");
}

#[test]
fn logs_tail_follows_new_events_and_stops_on_sigint() {
    let bed = TestBed::with_profiles(Moto::shared(), &profiles()).unwrap();
    let dir = seed_service(&bed, "tail", |y| {
        pin_seed(y.replacen("service: service-name", "service: tail", 1))
    });
    let dev = dev(&bed);
    let group = "/aws/lambda/tail-dev-hello";
    dev.log(group, "before the tail");
    let tail = Running::start(
        &bed,
        &dir,
        &[
            "logs",
            "-f",
            "hello",
            "--tail",
            "-i",
            "200",
            "--startTime",
            "1m",
        ],
    );
    tail.wait_for(Duration::from_secs(30), |l| l.contains("before the tail"));
    dev.log(group, "written while tailing");
    tail.wait_for(Duration::from_secs(30), |l| {
        l.contains("written while tailing")
    });
    dev.log(group, "and one more");
    tail.wait_for(Duration::from_secs(30), |l| l.contains("and one more"));
    assert_eq!(
        tail.interrupt(),
        Some(0),
        "Ctrl-C ends the tail with exit 0"
    );
}

#[test]
fn watch_ships_an_edited_handler_and_a_config_edit_runs_up() {
    let bed = TestBed::with_profiles(Moto::shared(), &profiles()).unwrap();
    let dir = seed_service(&bed, "watched", |y| {
        pin_seed(y.replacen("service: service-name", "service: watched", 1))
    });
    let dev = dev(&bed);
    ok(&run(&bed, &dir, &["up", "--json"], &[]));
    let before = dev.sha("watched-dev-hello", None);
    let watch = Running::start(
        &bed,
        &dir,
        &["watch", "--stage", "dev", "-f", "hello", "--json"],
    );
    watch.wait_for(Duration::from_secs(30), |l| {
        l.contains(r#""kind":"watching""#)
    });
    std::fs::write(
        dir.join("handler.js"),
        "module.exports.hello = async () => ({ statusCode: 299 });\nmodule.exports.cron = async () => {};\n",
    )
    .unwrap();
    let line = watch.wait_for(Duration::from_secs(30), |l| {
        l.contains(r#""kind":"functions""#)
    });
    let shipped: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        shipped["functions"],
        serde_json::json!(["hello"]),
        "{shipped}"
    );
    assert!(shipped["millis"].as_u64().unwrap() < 30_000);
    assert_ne!(
        dev.sha("watched-dev-hello", None),
        before,
        "the new code is live"
    );

    let yml = std::fs::read_to_string(dir.join("serverless.yml")).unwrap();
    let edited = yml.replacen(
        "  region: us-east-1\n",
        "  region: us-east-1\n  memorySize: 320\n",
        1,
    );
    std::fs::write(dir.join("serverless.yml"), edited).unwrap();
    watch.wait_for(Duration::from_secs(120), |l| l.contains(r#""kind":"up""#));
    assert_eq!(
        dev.config("watched-dev-hello", None).memory_size(),
        Some(320)
    );
    assert_eq!(watch.interrupt(), Some(0));
}

#[test]
fn watch_needs_yes_for_a_production_stage_without_a_terminal() {
    let bed = TestBed::with_profiles(Moto::shared(), &profiles()).unwrap();
    let dir = seed_service(&bed, "watchprod", |y| {
        y.replacen("service: service-name", "service: watchprod", 1)
    });
    let refused = run(&bed, &dir, &["watch", "--stage", "prod"], &[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("production stage"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
}
