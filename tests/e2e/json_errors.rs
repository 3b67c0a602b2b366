//! `--json` on every error path: stdout is exactly one JSON object with `status`, `exitCode`,
//! `error.kind` (one of the documented kinds) and `error.message`, and `exitCode` is the
//! process's exit code. Also: `-vv` and `RUST_LOG=trace` never print a secret, and access key
//! ids only masked.

use deployer_testbed::{DEV_ACCOUNT, PROD_ACCOUNT, TestBed};
use serde_json::Value;

use crate::support::{Run, pin_seed, run, seed_service};

/// The kinds documented in docs/json.md.
const KINDS: &[&str] = &[
    "usage",
    "confirmation-required",
    "account-guard",
    "credentials",
    "config",
    "plugin",
    "build",
    "package",
    "template",
    "preflight",
    "stack-missing",
    "stack-failed",
    "locked",
    "aws",
    "io",
    "internal",
];

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
    assert!(KINDS.contains(&k), "undocumented kind {k:?}: {j}");
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
