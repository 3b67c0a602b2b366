//! AWS-backed variables (`${ssm:}`, `${aws:accountId}`, …) in `print` and `package`: resolved
//! with the stage's credentials after the guard, credentials opened only when such a variable
//! is needed, `--offline` keeping them as written, and `package` followed by `up --package`.

use deployer_testbed::{DEV_ACCOUNT, Moto, PROD_ACCOUNT, ProfileSpec, TestBed};

use crate::deploy::account;
use crate::support::{Run, assert_has, pin_seed, run, seed_service, settled_count};

fn profiles() -> [ProfileSpec; 2] {
    [
        ProfileSpec::new("default", PROD_ACCOUNT),
        ProfileSpec::new("devAccount", DEV_ACCOUNT),
    ]
}

/// The seed, pinned, named `name`, with a custom secret from SSM and the account id.
fn service_with_aws_vars(bed: &TestBed<'_>, name: &str) -> std::path::PathBuf {
    seed_service(bed, name, |y| {
        pin_seed(y.replacen("service: service-name", &format!("service: {name}"), 1)).replacen(
            "custom:\n",
            "custom:\n  secret: ${ssm:/app/secret}\n  plain: plain-${sls:stage}\n  owner: ${aws:accountId}\n",
            1,
        )
    })
}

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

#[test]
fn print_resolves_aws_variables_with_the_stage_credentials_after_the_guard() {
    let moto = Moto::start().expect("starting a dedicated moto server");
    let bed = TestBed::with_profiles(&moto, &profiles()).unwrap();
    account(&bed, "devAccount").put_parameter("/app/secret", "dev-secret");
    account(&bed, "default").put_parameter("/app/secret", "prod-secret");
    let dir = service_with_aws_vars(&bed, "vars-print");

    let dev = run(&bed, &dir, &["print", "-s", "dev", "--format", "json"], &[]);
    ok(&dev);
    let value: serde_json::Value = serde_json::from_str(&dev.stdout).unwrap();
    assert_eq!(value["custom"]["secret"], "dev-secret");
    assert_eq!(value["custom"]["owner"], DEV_ACCOUNT);
    let prod = run(
        &bed,
        &dir,
        &["print", "-s", "prod", "--path", "custom.secret"],
        &[],
    );
    ok(&prod);
    assert_eq!(prod.stdout.trim(), "prod-secret");

    // Prod with the dev profile: refused by the guard (exit 3) before SSM is asked.
    let before = settled_count(&moto);
    let refused = run(
        &bed,
        &dir,
        &[
            "print",
            "-s",
            "prod",
            "--aws-profile",
            "devAccount",
            "--json",
        ],
        &[],
    );
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert_eq!(refused.json()["error"]["kind"], "account-guard");
    assert!(!refused.stdout.contains("-secret"), "{}", refused.stdout);
    assert_eq!(
        settled_count(&moto) - before,
        1,
        "only GetCallerIdentity before the refusal"
    );
}

#[test]
fn print_opens_no_credentials_unless_a_variable_needs_them() {
    let moto = Moto::start().expect("starting a dedicated moto server");
    let bed = TestBed::with_profiles(&moto, &profiles()).unwrap();
    let dir = service_with_aws_vars(&bed, "vars-lazy");
    // A profile that does not exist: any attempt to open credentials would fail.
    let missing = ["--aws-profile", "no-such-profile"];
    let before = settled_count(&moto);

    let pins = run(
        &bed,
        &dir,
        &[
            &[
                "print",
                "-s",
                "prod",
                "--path",
                "provider.allowedAccountIds",
            ],
            &missing[..],
        ]
        .concat(),
        &[],
    );
    ok(&pins);
    assert_eq!(pins.stdout.trim(), "- '111111111111'");
    let plain = run(
        &bed,
        &dir,
        &[&["print", "--path", "custom.plain"], &missing[..]].concat(),
        &[],
    );
    ok(&plain);
    assert_eq!(plain.stdout.trim(), "plain-dev");

    let offline = run(
        &bed,
        &dir,
        &[&["print", "--offline", "--format", "json"], &missing[..]].concat(),
        &[],
    );
    ok(&offline);
    let value: serde_json::Value = serde_json::from_str(&offline.stdout).unwrap();
    assert_eq!(value["custom"]["secret"], "${ssm:/app/secret}");
    assert_eq!(value["custom"]["owner"], "${aws:accountId}");
    assert_eq!(value["custom"]["plain"], "plain-dev");
    assert_eq!(settled_count(&moto), before, "no request at all");

    // The whole configuration needs the secret: now the missing profile is the error.
    let all = run(&bed, &dir, &[&["print"], &missing[..]].concat(), &[]);
    assert_eq!(all.code, 1, "{}", all.stderr);
    assert_has(&all.stderr, "no-such-profile");
    assert_has(
        &all.stderr,
        "${ssm:/app/secret} needs the stage's AWS credentials, which could not be opened",
    );
}

#[test]
fn package_with_aws_variables_then_up_from_the_package() {
    let moto = Moto::start().expect("starting a dedicated moto server");
    let bed = TestBed::with_profiles(&moto, &profiles()).unwrap();
    let dev = account(&bed, "devAccount");
    dev.put_parameter("/app/secret", "dev-secret");
    let dir = seed_service(&bed, "vars-pkg", |y| {
        pin_seed(y.replacen("service: service-name", "service: vars-pkg", 1)).replacen(
            "  region: us-east-1\n",
            "  region: us-east-1\n  environment:\n    SECRET: ${ssm:/app/secret}\n    OWNER: ${aws:accountId}\n",
            1,
        )
    });

    // --offline opens nothing and names the property and the way out.
    let offline = run(&bed, &dir, &["package", "--offline"], &[]);
    assert_eq!(offline.code, 1, "{}", offline.stderr);
    assert_has(&offline.stderr, "provider.environment.SECRET");
    assert_has(&offline.stderr, "without --offline");

    let package = run(
        &bed,
        &dir,
        &["package", "-s", "dev", "-p", "pkg", "--json"],
        &[],
    );
    ok(&package);
    let summary = package.json();
    assert!(
        summary["awsCalls"]["byOperation"]["SSM.GetParameter"].is_number(),
        "{summary}"
    );
    let template =
        std::fs::read_to_string(dir.join("pkg/cloudformation-template-update-stack.json")).unwrap();
    assert!(
        template.contains("dev-secret"),
        "resolved into the template"
    );

    let up = run(
        &bed,
        &dir,
        &["up", "-s", "dev", "--package", "pkg", "--json"],
        &[],
    );
    ok(&up);
    let env = dev.function_env("vars-pkg-dev-hello");
    assert_eq!(env.get("SECRET").map(String::as_str), Some("dev-secret"));
    assert_eq!(env.get("OWNER").map(String::as_str), Some(DEV_ACCOUNT));

    // A package with AWS variables for prod, built with the dev profile: refused (exit 3).
    let refused = run(
        &bed,
        &dir,
        &[
            "package",
            "-s",
            "prod",
            "--aws-profile",
            "devAccount",
            "-p",
            "pkg-prod",
        ],
        &[],
    );
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(!dir.join("pkg-prod").exists(), "nothing written");
}

#[test]
fn package_without_aws_variables_opens_no_credentials() {
    let moto = Moto::start().expect("starting a dedicated moto server");
    let bed = TestBed::with_profiles(&moto, &profiles()).unwrap();
    let dir = seed_service(&bed, "vars-none", |y| y);
    let before = settled_count(&moto);
    let package = run(
        &bed,
        &dir,
        &["package", "--aws-profile", "no-such-profile", "--json"],
        &[],
    );
    ok(&package);
    assert!(package.json().get("awsCalls").is_none());
    assert_eq!(settled_count(&moto), before, "no request at all");
}
