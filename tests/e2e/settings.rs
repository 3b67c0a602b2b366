//! Settings deployer does not honour are refused by name by `package` and `up`, before any
//! AWS write; unknown keys are a warning naming the closest known key, an error with
//! `configValidationMode: error`.

use deployer_testbed::{DEV_ACCOUNT, Moto, PROD_ACCOUNT, ProfileSpec, TestBed};

use crate::support::{run, seed_service, settled_count};

/// The seed service with `settings` added under `provider:`.
fn with_provider(bed: &TestBed<'_>, name: &str, settings: &str) -> std::path::PathBuf {
    let settings = settings.to_string();
    seed_service(bed, name, move |y| {
        y.replacen(
            "  region: us-east-1\n",
            &format!("  region: us-east-1\n{settings}"),
            1,
        )
    })
}

#[test]
fn package_and_up_refuse_settings_deployer_does_not_honour() {
    let bed = TestBed::standard();
    let cases = [
        (
            "sse",
            "  deploymentBucket:\n    serverSideEncryption: AES256\n",
            "provider.deploymentBucket.serverSideEncryption: encryption settings of the uploads",
        ),
        (
            "accelerate",
            "  deploymentBucket:\n    accelerate: true\n",
            "provider.deploymentBucket.accelerate: S3 transfer acceleration",
        ),
    ];
    for (name, settings, message) in cases {
        let dir = with_provider(&bed, name, settings);
        let p = run(&bed, &dir, &["package", "-s", "dev"], &[]);
        assert_eq!(p.code, 1, "{name}: {}", p.stderr);
        assert!(p.stderr.contains(message), "{name}: {}", p.stderr);
        assert!(p.stderr.contains("remove it"), "{name}: {}", p.stderr);
    }
}

#[test]
fn up_refuses_upload_encryption_before_any_write() {
    // A server of its own: the request count must not see other tests' calls.
    let moto = Moto::start().expect("starting a dedicated moto server");
    let profiles = [
        ProfileSpec::new("default", PROD_ACCOUNT),
        ProfileSpec::new("devAccount", DEV_ACCOUNT),
    ];
    let bed = TestBed::with_profiles(&moto, &profiles).unwrap();
    let dir = with_provider(
        &bed,
        "up-sse",
        "  deploymentBucket:\n    serverSideEncryption: AES256\n",
    );
    let before = settled_count(&moto);
    let up = run(&bed, &dir, &["up", "-s", "dev", "--json"], &[]);
    assert_eq!(up.code, 1, "{}", up.stderr);
    let error = up.json()["error"].to_string();
    assert!(
        error.contains("provider.deploymentBucket.serverSideEncryption: encryption settings"),
        "{error}"
    );
    assert_eq!(
        settled_count(&moto) - before,
        1,
        "only the guard's STS call"
    );
}

#[test]
fn a_misspelt_key_is_a_warning_naming_the_known_one() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "typo", |y| {
        y.replacen("  runtime: nodejs24.x\n", "  Runtime: nodejs24.x\n", 1)
    });
    let p = run(&bed, &dir, &["package", "-s", "dev"], &[]);
    assert!(
        p.stderr.contains(
            "provider.Runtime is not a setting Serverless v3 or deployer knows; did you mean \
             provider.runtime?"
        ),
        "{}",
        p.stderr
    );
    let strict = seed_service(&bed, "typo-strict", |y| {
        let y = y.replacen("  runtime: nodejs24.x\n", "  Runtime: nodejs24.x\n", 1);
        format!("configValidationMode: error\n{y}")
    });
    let e = run(&bed, &strict, &["package", "-s", "dev"], &[]);
    assert_eq!(e.code, 1, "{}", e.stderr);
    assert!(
        e.stderr.contains("provider.Runtime: not a setting")
            && e.stderr.contains("did you mean provider.runtime?"),
        "{}",
        e.stderr
    );
}
