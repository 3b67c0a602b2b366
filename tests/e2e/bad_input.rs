//! Bad command-line input ends in a usage error naming the argument, never a panic, a hang or
//! unbounded memory: arguments that are not UTF-8, times that overflow, payload files that are
//! devices, FIFOs or too large. Also: an answer AWS sent but the SDK cannot read is named as
//! such (not as a broken connection), and packaging warns where v3 silently takes in files
//! from outside the service or `.env` files.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deployer_testbed::TestBed;
use deployer_testbed::proxy::{Fault, FaultProxy, Recorded, Rule};

use crate::support::{Run, copy_dir, deployer_bin, fixture, pin_seed, run, seed_service};

/// A debug build on a shared machine; the bounded runs take well under a second.
const DEADLINE: Duration = Duration::from_secs(30);

/// A copy of the seed service, for commands that fail before any AWS call.
fn service(root: &Path) -> PathBuf {
    let dir = root.join("service");
    copy_dir(&fixture("multi-account/service"), &dir);
    dir
}

/// Runs `deployer ARGS` (bytes, not necessarily UTF-8) in `dir` without AWS settings, killed
/// at [`DEADLINE`].
fn offline(dir: &Path, args: &[&[u8]]) -> Run {
    let args: Vec<OsString> = args
        .iter()
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect();
    let mut child = Command::new(deployer_bin())
        .args(&args)
        .current_dir(dir)
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run deployer");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("deployer {args:?} still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// Asserts a usage error (exit 2, `--json` kind `usage`) whose message contains `needle`.
fn assert_usage(r: &Run, needle: &str) {
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let json = r.json();
    assert_eq!(json["error"]["kind"], "usage", "{json}");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(message.contains(needle), "{message:?} without {needle:?}");
}

#[test]
fn arguments_that_are_not_utf8_are_usage_errors_naming_them() {
    let root = tempfile::tempdir().unwrap();
    let dir = service(root.path());
    let cases: [(&[&[u8]], &str); 5] = [
        (
            &[b"invoke", b"-f", b"hello", b"-d", b"\xff"],
            r#"the value of -d ("\xFF") is not valid UTF-8"#,
        ),
        (
            &[b"logs", b"-f", b"hello", b"--startTime=1\xc3\x28d"],
            r#"the value of --startTime ("1\xC3(d")"#,
        ),
        (&[b"print", b"-c", b"x\xfe.yml"], "the value of -c"),
        (&[b"package", b"-p", b"\xff"], "the value of -p"),
        (&[b"metrics", b"--param", b"k=\xff"], "the value of --param"),
    ];
    for (args, needle) in cases {
        let mut all = args.to_vec();
        all.push(b"--json");
        assert_usage(&offline(&dir, &all), needle);
    }
    // Without --json too, and the Serverless-only command check before clap does not panic.
    let plain = offline(&dir, &[b"\xff", b"-f", b"x"]);
    assert_eq!(plain.code, 2, "{}", plain.stderr);
    assert!(!plain.stderr.contains("panicked"), "{}", plain.stderr);
}

#[test]
fn times_that_overflow_or_do_not_parse_are_usage_errors_naming_the_option() {
    let root = tempfile::tempdir().unwrap();
    let dir = service(root.path());
    for huge in [
        "100000000d",
        "9223372036854775807s",
        "18446744073709551615h",
    ] {
        let r = offline(
            &dir,
            &[
                b"logs",
                b"-f",
                b"hello",
                b"--startTime",
                huge.as_bytes(),
                b"--json",
            ],
        );
        assert_usage(&r, &format!("--startTime {huge:?} lies before 1970-01-01"));
    }
    let end = offline(&dir, &[b"metrics", b"--endTime", b"x", b"--json"]);
    assert_usage(&end, r#"--endTime "x" is neither a duration"#);
    let start = offline(
        &dir,
        &[b"metrics", b"--startTime", b"100000000d", b"--json"],
    );
    assert_usage(&start, "--startTime \"100000000d\" lies before");
    let timeout = offline(
        &dir,
        &[b"up", b"--timeout", b"9223372036854775807", b"--json"],
    );
    assert_usage(&timeout, "--timeout");
}

#[test]
fn invoke_reads_only_regular_payload_files_up_to_lambdas_limit() {
    let root = tempfile::tempdir().unwrap();
    let dir = service(root.path());
    let status = Command::new("mkfifo")
        .arg(dir.join("fifo"))
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo");
    std::fs::write(dir.join("big.json"), vec![b' '; 6 * 1024 * 1024 + 1]).unwrap();
    let invoke = |path: &str| {
        offline(
            &dir,
            &[
                b"invoke",
                b"-f",
                b"hello",
                b"-p",
                path.as_bytes(),
                b"--json",
            ],
        )
    };
    let zero = invoke("/dev/zero");
    assert_usage(&zero, "--path /dev/zero is a device, not a regular file");
    assert!(zero.elapsed < Duration::from_secs(10), "{:?}", zero.elapsed);
    assert_usage(
        &invoke("fifo"),
        "fifo is a FIFO (named pipe), not a regular file",
    );
    assert_usage(&invoke("."), "is a directory, not a regular file");
    assert_usage(
        &invoke("big.json"),
        "big.json is 6291457 bytes; Lambda takes a payload of at most 6291456",
    );
    assert_usage(&invoke("missing.json"), "cannot read --path");
}

/// An answer with status 200 and `body`, in the protocol of `content_type`.
fn answer_200(content_type: &str, body: &[u8]) -> Fault {
    let mut headers = vec![
        ("Content-Type".to_string(), content_type.to_string()),
        ("x-amzn-RequestId".to_string(), "garbage-200".to_string()),
    ];
    if content_type == "application/cbor" {
        headers.push(("smithy-protocol".to_string(), "rpc-v2-cbor".to_string()));
    }
    Fault::Answer(Arc::new(Recorded {
        status: 200,
        headers,
        body: body.to_vec(),
    }))
}

/// Runs `args` against moto through a proxy that answers requests matching `operation` with
/// `fault`; returns the `--json` error message and failure kind.
fn unreadable(
    bed: &TestBed<'_>,
    name: &str,
    operation: &str,
    fault: Fault,
    args: &[&str],
) -> (String, String) {
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    proxy.set_rules(vec![Rule::new(operation, fault)]);
    let dir = seed_service(bed, name, |yml| {
        pin_seed(yml.replacen("service: service-name", &format!("service: {name}"), 1))
    });
    let endpoint = proxy.endpoint();
    let mut all = args.to_vec();
    all.push("--json");
    let r = run(bed, &dir, &all, &[("AWS_ENDPOINT_URL", &endpoint)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let json = r.json();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    (
        text(&json["error"]["message"]),
        text(&json["error"]["failure"]),
    )
}

#[test]
fn an_unreadable_200_answer_is_named_as_such_not_as_a_broken_connection() {
    let bed = TestBed::standard();
    // CBOR (CloudWatch): not CBOR at all, a map cut short, nothing; JSON (Logs): cut short.
    let cases: [(&str, &[u8], &str, &[&str]); 6] = [
        (
            "text/xml",
            b"\xff\xfe not xml",
            "Action=DescribeStacks",
            &["info"],
        ),
        (
            "text/html",
            b"<html>upstream connection reset by peer</html>",
            "Action=DescribeStacks",
            &["info"],
        ),
        (
            "application/cbor",
            b"\xff\xfe this is not CBOR \x00",
            "/operation/GetMetricData",
            &["metrics"],
        ),
        (
            "application/cbor",
            b"\xbf\x71MetricDataResults\x9f\xbf",
            "/operation/GetMetricData",
            &["metrics"],
        ),
        (
            "application/cbor",
            b"",
            "/operation/GetMetricData",
            &["metrics", "-f", "hello"],
        ),
        (
            "application/x-amz-json-1.1",
            b"{\"events\": [{\"message\": \"cut",
            "FilterLogEvents",
            &["logs", "-f", "hello"],
        ),
    ];
    for (i, (content_type, body, operation, args)) in cases.into_iter().enumerate() {
        let name = format!("unreadable-{i}");
        let (message, failure) =
            unreadable(&bed, &name, operation, answer_200(content_type, body), args);
        assert!(
            message.contains("AWS sent an answer deployer could not read (HTTP 200)"),
            "{content_type} {:?}: {message}",
            String::from_utf8_lossy(body)
        );
        assert!(!message.contains("could not reach"), "{message}");
        assert_eq!(failure, "other", "{message}");
    }
}

#[test]
fn packaging_warns_about_symlinks_leading_outside_and_env_files() {
    let root = tempfile::tempdir().unwrap();
    let dir = service(root.path());
    let common = root.path().join("common");
    std::fs::create_dir_all(&common).unwrap();
    std::fs::write(common.join("util.js"), "module.exports = 1;\n").unwrap();
    std::os::unix::fs::symlink(&common, dir.join("shared")).unwrap();
    std::fs::write(dir.join(".env"), "SECRET=1\n").unwrap();
    let r = offline(&dir, &[b"package", b"--offline"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let target = std::fs::canonicalize(&common).unwrap();
    let link = format!(
        "\"shared\" is a symlink to {}, outside the service directory; 1 file is packaged into \
         service-name.zip",
        target.display()
    );
    assert!(r.stderr.contains(&link), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(".env is packaged into service-name.zip: without useDotenv: true"),
        "{}",
        r.stderr
    );
    // Packaged all the same, as v3 does.
    let zip = std::fs::read(dir.join(".serverless/service-name.zip")).unwrap();
    let names = String::from_utf8_lossy(&zip);
    assert!(names.contains("shared/util.js") && names.contains(".env"));
}
