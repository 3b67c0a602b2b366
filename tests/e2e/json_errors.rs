//! `--json` on every error path: stdout is exactly one JSON object with `status`, `exitCode`,
//! `error.kind` (one of the documented kinds) and `error.message`, and `exitCode` is the
//! process's exit code. Also: `-vv` and `RUST_LOG=trace` never print a secret, and access key
//! ids only masked.

use deployer_testbed::{DEV_ACCOUNT, PROD_ACCOUNT, TestBed};
use serde_json::Value;

use crate::support::{Run, pin_seed, run, seed_service};

/// The kinds documented in docs/json.md: the first column of its "Kinds" table.
fn documented_kinds() -> Vec<String> {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/json.md"),
    )
    .unwrap();
    let table = doc.split("## Kinds").nth(1).expect("a Kinds section");
    table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // the header and its rule
        .filter_map(|l| l.split('`').nth(1).map(str::to_string))
        .collect()
}

/// Checks the one error object of a failed `--json` run and returns it.
fn error_object(r: &Run, kind: &str, code: i32) -> Value {
    let j: Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "stdout is not exactly one JSON object ({e}):\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        )
    });
    assert!(j.is_object(), "{j}");
    assert_eq!(j["status"], "error", "{j}");
    assert_eq!(
        j["exitCode"], r.code,
        "exitCode is the process's exit code: {j}"
    );
    assert_eq!(r.code, code, "{j}\n{}", r.stderr);
    let k = j["error"]["kind"].as_str().unwrap_or_default();
    assert!(
        documented_kinds().iter().any(|d| d == k),
        "kind {k:?} is not in docs/json.md: {j}"
    );
    assert_eq!(k, kind, "{j}");
    assert!(
        !j["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{j}"
    );
    j
}

#[test]
fn every_error_path_prints_one_json_error_object() {
    let bed = TestBed::standard();
    // A service name of its own: the shared moto server holds other tests' stacks.
    let pinned = seed_service(&bed, "pinned", |y| {
        pin_seed(y.replacen("service: service-name", "service: json-errors", 1))
    });

    let r = run(
        &bed,
        &pinned,
        &["up", "-s", "prod", "--aws-profile", "devAccount", "--json"],
        &[],
    );
    let j = error_object(&r, "account-guard", 3);
    assert_eq!(j["error"]["stage"], "prod");
    assert_eq!(j["error"]["expected"], serde_json::json!([PROD_ACCOUNT]));
    assert_eq!(j["error"]["actual"], DEV_ACCOUNT);

    let broken = seed_service(&bed, "broken", |y| y.replacen("service:", "service: [", 1));
    let r = run(&bed, &broken, &["info", "-s", "dev", "--json"], &[]);
    error_object(&r, "config", 1);
    let r = run(&bed, &broken, &["print", "--json"], &[]);
    error_object(&r, "config", 1);

    for args in [&["info"][..], &["remove", "--yes"][..]] {
        let args = [args, &["-s", "dev", "--json"][..]].concat();
        let r = run(&bed, &pinned, &args, &[]);
        let j = error_object(&r, "stack-missing", 1);
        assert!(
            j["error"]["stack"].as_str().unwrap().ends_with("-dev"),
            "{j}"
        );
    }

    let r = run(&bed, &pinned, &["remove", "-s", "dev", "--json"], &[]);
    let j = error_object(&r, "confirmation-required", 2);
    assert_eq!(j["error"]["flag"], "--yes");
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .contains("without a terminal"),
        "{j}"
    );
    let r = run(
        &bed,
        &pinned,
        &["remove", "-s", "dev", "--json"],
        &[("CI", "true")],
    );
    let j = error_object(&r, "confirmation-required", 2);
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .contains("in CI (CI is set)"),
        "{j}"
    );

    for args in [
        &["up", "--json", "--no-such-flag"][..],
        &["--json", "no-such-command"][..],
        &["whoami", "-s", "dev", "--json", "--expect-account", "1234"][..],
        &["whoami", "-s", "dev", "--json", "--expect-account", ""][..],
    ] {
        let r = run(&bed, &pinned, args, &[]);
        error_object(&r, "usage", 2);
    }

    let r = run(
        &bed,
        &pinned,
        &["whoami", "-s", "dev", "--aws-profile", "nope", "--json"],
        &[],
    );
    let j = error_object(&r, "credentials", 1);
    assert_eq!(j["error"]["profile"], "nope");
}

/// The operations' own failures have kinds of their own, not `internal`.
#[test]
fn operation_failures_have_their_own_kinds() {
    let bed = TestBed::standard();
    let pinned = seed_service(&bed, "op-kinds", |y| {
        pin_seed(y.replacen("service: service-name", "service: json-op-kinds", 1))
    });
    let r = run(
        &bed,
        &pinned,
        &["print", "--path", "custom.nope", "--json"],
        &[],
    );
    error_object(&r, "no-such-path", 1);
    let r = run(
        &bed,
        &pinned,
        &["invoke", "-f", "nope", "-s", "dev", "--json"],
        &[],
    );
    error_object(&r, "function", 1);
    let r = run(
        &bed,
        &pinned,
        &[
            "logs",
            "-f",
            "hello",
            "-s",
            "dev",
            "--startTime",
            "soon",
            "--json",
        ],
        &[],
    );
    error_object(&r, "usage", 2);

    let old = seed_service(&bed, "op-kinds-old", |y| {
        pin_seed(y.replacen("service: service-name", "service: json-op-old", 1))
            .replace("runtime: nodejs24.x", "runtime: nodejs16.x")
    });
    let r = run(&bed, &old, &["up", "-s", "dev", "--json"], &[]);
    error_object(&r, "preflight", 1);

    std::fs::write(
        pinned.join("deployer.accounts.json"),
        r#"{"stages": {"dev": "12"}}"#,
    )
    .unwrap();
    let r = run(&bed, &pinned, &["whoami", "-s", "dev", "--json"], &[]);
    error_object(&r, "lock-file", 1);
}

#[test]
fn a_bad_expect_account_is_a_usage_error_without_json_too() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "svc", |y| y);
    for value in ["1234", " ", "12345678901a"] {
        let r = run(
            &bed,
            &dir,
            &["verify", "-s", "dev"],
            &[("DEPLOYER_EXPECT_ACCOUNT", value)],
        );
        assert_eq!(r.code, 2, "{value:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
        assert!(r.stderr.contains("12-digit"), "{}", r.stderr);
    }
    let r = run(&bed, &dir, &["verify", "--help"], &[]);
    assert!(
        !r.stdout.contains("DEPLOYER_EXPECT_ACCOUNT="),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("DEPLOYER_EXPECT_ACCOUNT"), "{}", r.stdout);
}

#[test]
fn sdk_debug_and_trace_logs_never_show_a_secret_and_mask_key_ids() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "svc", |y| {
        pin_seed(y.replacen("service: service-name", "service: json-secrets", 1))
    });
    let key_id = bed.key("devAccount").access_key_id.clone();
    let runs = [
        run(&bed, &dir, &["whoami", "-s", "dev", "-vv"], &[]),
        run(
            &bed,
            &dir,
            &["whoami", "-s", "dev"],
            &[("RUST_LOG", "trace")],
        ),
        run(&bed, &dir, &["up", "-s", "dev", "-vv"], &[]),
        run(&bed, &dir, &["up", "-s", "dev"], &[("RUST_LOG", "trace")]),
    ];
    // `run` has already checked that no secret key appears.
    for r in &runs {
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            !r.stderr.contains(&key_id) && !r.stdout.contains(&key_id),
            "an unmasked access key id:\n{}",
            r.stderr
        );
    }
    assert!(
        runs[1].stderr.lines().count() > 20,
        "trace logs are printed: {}",
        runs[1].stderr
    );
    assert!(
        runs[0].stderr.contains("aws_"),
        "-vv shows the SDK's logs: {}",
        runs[0].stderr
    );
}

/// A rollback to a deployment whose artifacts were pruned is a `deployment` failure, and so is
/// one whose stored template is unreadable or gone.
#[test]
fn rollback_to_a_pruned_deployment_is_a_deployment_failure() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "rb-pruned", |y| {
        pin_seed(y.replacen("service: service-name", "service: json-rb-pruned", 1))
    });
    let up = run(&bed, &dir, &["up", "-s", "dev", "--json"], &[]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let bucket = up.json()["bucket"].as_str().unwrap().to_string();
    let list = run(&bed, &dir, &["deploy", "list", "-s", "dev", "--json"], &[]);
    let deployment = &list.json()["deployments"][0];
    let timestamp = deployment["timestamp"].as_u64().unwrap().to_string();
    let directory = deployment["directory"].as_str().unwrap().to_string();
    let template = format!("{directory}/compiled-cloudformation-template.json");
    let rollback = ["rollback", "-s", "dev", "--timestamp", &timestamp, "--json"];

    let (rt, conf) = crate::support::sdk_config(&bed, "devAccount");
    let s3 = crate::support::s3_client(&conf);
    let listed = rt
        .block_on(
            s3.list_objects_v2()
                .bucket(&bucket)
                .prefix(&directory)
                .send(),
        )
        .unwrap();
    for key in listed.contents().iter().filter_map(|o| o.key()) {
        if key != template {
            rt.block_on(s3.delete_object().bucket(&bucket).key(key).send())
                .unwrap();
        }
    }
    let j = error_object(&run(&bed, &dir, &rollback, &[]), "deployment", 1);
    let message = j["error"]["message"].as_str().unwrap();
    assert!(message.contains("was pruned"), "{j}");

    let put = |key: &str, body: &str| {
        let body = aws_sdk_s3::primitives::ByteStream::from(body.as_bytes().to_vec());
        rt.block_on(s3.put_object().bucket(&bucket).key(key).body(body).send())
            .unwrap();
    };
    put(&template, "not json");
    error_object(&run(&bed, &dir, &rollback, &[]), "deployment", 1);

    rt.block_on(s3.delete_object().bucket(&bucket).key(&template).send())
        .unwrap();
    put(&format!("{directory}/json-rb-pruned.zip"), "zip");
    let j = error_object(&run(&bed, &dir, &rollback, &[]), "deployment", 1);
    let message = j["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("has no compiled-cloudformation-template.json"),
        "{j}"
    );
}

/// An invoke payload over Lambda's 6 MB limit is refused as a usage error (exit 2), before any
/// AWS call.
#[test]
fn an_oversized_invoke_payload_is_a_usage_error() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "big-payload", |y| y);
    std::fs::write(dir.join("big.json"), "x".repeat(6 * 1024 * 1024 + 1)).unwrap();
    let args = ["invoke", "-f", "hello", "-s", "dev", "--path", "big.json"];
    let r = run(&bed, &dir, &[&args[..], &["--json"]].concat(), &[]);
    let j = error_object(&r, "usage", 2);
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .contains("big.json is 6291457 bytes"),
        "{j}"
    );
    assert_eq!(run(&bed, &dir, &args, &[]).code, 2);
}

/// A stage that was never deployed is `stack-missing`, naming its stack and region; a package
/// directory whose manifest is not one is `package-dir`.
#[test]
fn a_missing_stack_and_a_broken_package_dir_have_their_own_kinds() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "kinds-missing", |y| {
        pin_seed(y.replacen("service: service-name", "service: json-missing", 1))
    });
    let r = run(&bed, &dir, &["deploy", "list", "-s", "dev", "--json"], &[]);
    let j = error_object(&r, "stack-missing", 1);
    assert_eq!(j["error"]["stack"], "json-missing-dev", "{j}");
    assert_eq!(j["error"]["region"], "us-east-1", "{j}");

    let packaged = run(
        &bed,
        &dir,
        &["package", "-s", "dev", "--package", "pkg", "--json"],
        &[],
    );
    assert_eq!(packaged.code, 0, "{}", packaged.stderr);
    std::fs::write(dir.join("pkg/deployer-manifest.json"), "not a manifest").unwrap();
    let r = run(
        &bed,
        &dir,
        &["up", "-s", "dev", "--package", "pkg", "--json"],
        &[],
    );
    error_object(&r, "package-dir", 1);
}
