//! `invoke local` through the binary: Node (async, callback, returned promise), TypeScript
//! through the esbuild bundle, Python; the event, the configured environment and `-e`, Lambda's
//! error shape and exit 1 for a thrown error and a timeout; no credentials unless asked for,
//! and the stage's after the guard with `--with-credentials`.

use std::path::Path;
use std::process::{Command, Output};

use deployer_testbed::{DEV_ACCOUNT, Moto, ProfileSpec, TestBed};
use serde_json::{Value, json};

use crate::build::link_node_modules;
use crate::support::{copy_dir, deployer_bin, fixture, run};

const SERVICE: &str = r#"service: local
provider:
  name: aws
  runtime: nodejs20.x
  region: eu-west-1
  environment:
    SHARED: from-provider
    QUEUE_URL: !Ref Queue
    LEVEL: provider
functions:
  hello:
    handler: handler.hello
    memorySize: 512
    environment:
      LEVEL: function
  callback:
    handler: handler.callback
  promise:
    handler: handler.promise
  boom:
    handler: handler.boom
  slow:
    handler: handler.slow
    timeout: 1
  keys:
    handler: handler.keys
  py:
    handler: app/main.handler
    runtime: python3.11
  pyboom:
    handler: app/main.boom
    runtime: python3.11
  java:
    handler: x.y
    runtime: java21
"#;

const NODE: &str = r#"
exports.hello = async (event, context) => {
  console.log('a line of the handler');
  return {
    event,
    shared: process.env.SHARED,
    level: process.env.LEVEL,
    extra: process.env.EXTRA,
    queue: process.env.QUEUE_URL === undefined,
    name: process.env.AWS_LAMBDA_FUNCTION_NAME,
    handler: process.env._HANDLER,
    region: process.env.AWS_REGION,
    memory: context.memoryLimitInMB,
    fn: context.functionName,
    remaining: context.getRemainingTimeInMillis(),
    client: context.clientContext,
  };
};
exports.callback = (event, context, callback) => {
  setTimeout(() => callback(null, { via: 'callback', n: event.n }), 10);
};
exports.promise = (event) => Promise.resolve({ via: 'promise' });
exports.boom = async () => {
  throw new TypeError('the handler broke');
};
exports.slow = () => new Promise((resolve) => setTimeout(resolve, 30000));
exports.keys = async () => ({
  key: process.env.AWS_ACCESS_KEY_ID !== undefined && process.env.AWS_ACCESS_KEY_ID === process.env.EXPECTED_KEY,
  any: process.env.AWS_ACCESS_KEY_ID !== undefined,
  profile: process.env.AWS_PROFILE === undefined,
});
"#;

const PYTHON: &str = r#"
import os

def handler(event, context):
    print("a line of the python handler")
    return {
        "event": event,
        "level": os.environ["LEVEL"],
        "name": context.function_name,
        "remaining": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
    }

def boom(event, context):
    raise ValueError("bad value")
"#;

/// The service above in a fresh directory.
fn service() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("serverless.yml"), SERVICE).unwrap();
    std::fs::write(dir.path().join("handler.js"), NODE).unwrap();
    std::fs::create_dir(dir.path().join("app")).unwrap();
    std::fs::write(dir.path().join("app/main.py"), PYTHON).unwrap();
    dir
}

/// `deployer invoke local ARGS` in `dir` without credentials of any kind.
fn local(dir: &Path, args: &[&str]) -> Output {
    Command::new(deployer_bin())
        .args(["invoke", "local"])
        .args(args)
        .current_dir(dir)
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", "AKIAAMBIENTAMBIENT00")
        .env("AWS_SECRET_ACCESS_KEY", "ambient-secret")
        .env("NO_COLOR", "1")
        .output()
        .expect("run deployer")
}

fn stdout_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{text}\nstderr:\n{}",
            stderr(out)
        )
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn succeeded(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", stderr(out));
    stdout_json(out)
}

#[test]
fn node_handlers_get_the_event_the_environment_and_a_context() {
    let dir = service();
    let out = local(
        dir.path(),
        &[
            "-f",
            "hello",
            "-d",
            r#"{"a":1}"#,
            "-e",
            "EXTRA=x=y",
            "--context",
            r#"{"c":2}"#,
        ],
    );
    let result = succeeded(&out);
    assert_eq!(result["event"], json!({"a": 1}));
    assert_eq!(result["shared"], "from-provider");
    assert_eq!(result["level"], "function", "the function's value wins");
    assert_eq!(result["extra"], "x=y");
    assert_eq!(result["queue"], true, "an intrinsic is left out");
    assert_eq!(result["name"], "local-dev-hello");
    assert_eq!(result["handler"], "handler.hello");
    assert_eq!(result["region"], "eu-west-1");
    assert_eq!(result["memory"], "512");
    assert_eq!(result["fn"], "local-dev-hello");
    assert_eq!(result["client"], json!({"c": 2}));
    let remaining = result["remaining"].as_u64().unwrap();
    assert!(remaining > 5000 && remaining <= 6000, "{remaining}");
    let err = stderr(&out);
    assert!(err.contains("a line of the handler"), "{err}");
    assert!(err.contains("QUEUE_URL"), "the intrinsic is named: {err}");
    assert_eq!(err.matches("QUEUE_URL").count(), 1, "one warning: {err}");

    // The override beats the function's own value.
    let over = succeeded(&local(dir.path(), &["-f", "hello", "-e", "LEVEL=cli"]));
    assert_eq!(over["level"], "cli");
    assert_eq!(over["event"], json!({}));
}

#[test]
fn callbacks_promises_and_json_output() {
    let dir = service();
    let cb = succeeded(&local(dir.path(), &["-f", "callback", "-d", r#"{"n":7}"#]));
    assert_eq!(cb, json!({"via": "callback", "n": 7}));
    let p = succeeded(&local(dir.path(), &["-f", "promise"]));
    assert_eq!(p, json!({"via": "promise"}));
    let j = succeeded(&local(dir.path(), &["-f", "promise", "--json"]));
    assert_eq!(j["status"], "succeeded");
    assert_eq!(j["result"], json!({"via": "promise"}));
    assert_eq!(j["name"], "local-dev-promise");
    assert!(
        j.get("awsCalls").is_none(),
        "no credentials were opened: {j}"
    );
}

#[test]
fn a_thrown_error_is_lambdas_shape_and_exit_1() {
    let dir = service();
    let out = local(dir.path(), &["-f", "boom"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let shape = stdout_json(&out);
    assert_eq!(shape["errorType"], "TypeError");
    assert_eq!(shape["errorMessage"], "the handler broke");
    assert!(
        shape["stackTrace"][0]
            .as_str()
            .unwrap()
            .contains("handler.js"),
        "{shape}"
    );
    assert!(stderr(&out).contains("failed: TypeError: the handler broke"));

    let json = local(dir.path(), &["-f", "boom", "--json"]);
    assert_eq!(json.status.code(), Some(1));
    let j = stdout_json(&json);
    assert_eq!(j["status"], "failed");
    assert_eq!(j["error"]["errorType"], "TypeError");

    let py = local(dir.path(), &["-f", "pyboom"]);
    assert_eq!(py.status.code(), Some(1), "{}", stderr(&py));
    let shape = stdout_json(&py);
    assert_eq!(shape["errorType"], "ValueError");
    assert_eq!(shape["errorMessage"], "bad value");
}

#[test]
fn a_handler_past_its_timeout_is_stopped() {
    let dir = service();
    let started = std::time::Instant::now();
    let out = local(dir.path(), &["-f", "slow"]);
    assert!(started.elapsed().as_secs() < 10, "killed at the timeout");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("timed out after 1 s"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        stdout_json(&out)["errorMessage"],
        "Task timed out after 1.00 seconds"
    );
}

#[test]
fn python_handlers_run_with_python3() {
    let dir = service();
    let out = local(dir.path(), &["-f", "py", "-p", "event.yml"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing --path file is a usage error"
    );
    std::fs::write(dir.path().join("event.yml"), "answer: 42\n").unwrap();
    let result = succeeded(&local(dir.path(), &["-f", "py", "-p", "event.yml"]));
    assert_eq!(result["event"], json!({"answer": 42}));
    assert_eq!(result["level"], "provider");
    assert_eq!(result["name"], "local-dev-py");
    assert_eq!(result["memory"], 1024);
    assert!(result["remaining"].as_u64().unwrap() > 5000);
    let out = local(dir.path(), &["-f", "py"]);
    assert!(stderr(&out).contains("a line of the python handler"));
}

#[test]
fn runtimes_that_cannot_run_locally_are_named() {
    let dir = service();
    let java = local(dir.path(), &["-f", "java"]);
    assert_eq!(java.status.code(), Some(1));
    assert!(
        stderr(&java).contains("runtime java21"),
        "{}",
        stderr(&java)
    );
    // A Python version that is not installed, with no python3 to fall back to.
    let empty = tempfile::tempdir().unwrap();
    let node = which("node");
    std::os::unix::fs::symlink(&node, empty.path().join("node")).unwrap();
    let out = Command::new(deployer_bin())
        .args(["invoke", "local", "-f", "py"])
        .current_dir(dir.path())
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("declares runtime python3.11"), "{err}");
    assert!(err.contains("Python 3.11"), "{err}");
    let missing = local(dir.path(), &["-f", "nope"]);
    assert!(stderr(&missing).contains("\"nope\" is not in"));
}

fn which(tool: &str) -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{tool} is not on PATH"))
}

#[test]
fn typescript_runs_from_the_esbuild_bundle() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture("plugin-esbuild").join("service"), dir.path());
    link_node_modules(dir.path());
    let id = "6a2f41a3-c54c-4c0e-9bd5-56b1c1b5d8e4";
    let event = json!({"pathParameters": {"id": id}}).to_string();
    let out = local(dir.path(), &["-f", "getOrder", "-d", &event]);
    let result = succeeded(&out);
    assert_eq!(result["statusCode"], 200, "{result}");
    let body: Value = serde_json::from_str(result["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({"id": id, "stage": "dev"}));
    assert!(
        stderr(&out).contains("ORDERS_QUEUE_URL"),
        "{}",
        stderr(&out)
    );
    let bad = succeeded(&local(dir.path(), &["-f", "getOrder", "-d", "{}"]));
    assert_eq!(bad["statusCode"], 400);
}

#[test]
fn credentials_reach_the_handler_only_when_asked_for_after_the_guard() {
    let moto = Moto::shared();
    let bed = TestBed::with_profiles(moto, &[ProfileSpec::new("default", DEV_ACCOUNT)]).unwrap();
    let dir = bed.path().join("local-creds");
    std::fs::create_dir_all(&dir).unwrap();
    copy_dir(service().path(), &dir);
    let key = bed.key("default").access_key_id.clone();
    let expected = format!("EXPECTED_KEY={key}");
    let plain = run(&bed, &dir, &["invoke", "local", "-f", "keys"], &[]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    let plain: Value = serde_json::from_str(&plain.stdout).unwrap();
    assert_eq!(plain, json!({"key": false, "any": false, "profile": true}));
    let args = [
        "invoke",
        "local",
        "-f",
        "keys",
        "--with-credentials",
        "-e",
        &expected,
    ];
    let with = run(&bed, &dir, &args, &[]);
    assert_eq!(with.code, 0, "{}", with.stderr);
    let with: Value = serde_json::from_str(&with.stdout).unwrap();
    assert_eq!(with, json!({"key": true, "any": true, "profile": true}));
    // Another account than the one expected: refused by the guard (exit 3), nothing run.
    let refused = run(
        &bed,
        &dir,
        &[
            "invoke",
            "local",
            "-f",
            "keys",
            "--with-credentials",
            "--expect-account",
            "999999999999",
        ],
        &[],
    );
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused.stdout.is_empty());
}
