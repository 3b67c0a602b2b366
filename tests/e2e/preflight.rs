//! Pre-flight checks of `up` end to end: a runtime Lambda no longer creates is refused after
//! the guard and before any AWS write.

use deployer_testbed::{DEV_ACCOUNT, Moto, PROD_ACCOUNT, ProfileSpec, TestBed};

use crate::support::{run, seed_service, settled_count};

#[test]
fn blocked_runtime_stops_up_before_any_write() {
    let moto = Moto::start().expect("starting a dedicated moto server");
    let profiles = [
        ProfileSpec::new("default", PROD_ACCOUNT),
        ProfileSpec::new("devAccount", DEV_ACCOUNT),
    ];
    let bed = TestBed::with_profiles(&moto, &profiles).unwrap();

    let dir = seed_service(&bed, "old", |y| {
        y.replace("runtime: nodejs24.x", "runtime: nodejs16.x")
    });
    let before = settled_count(&moto);
    let r = run(&bed, &dir, &["up", "-s", "dev"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "provider.runtime is nodejs16.x, deprecated since 2024-06-12: since 2025-02-28"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(
        settled_count(&moto) - before,
        1,
        "only the guard's STS call"
    );
    let json = run(&bed, &dir, &["up", "-s", "dev", "--json"], &[]);
    assert_eq!(json.code, 1, "{}", json.stderr);
    let error = &json.json()["error"];
    assert_eq!(error["kind"], "preflight", "{error}");
    let problems = error["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{error}");
    assert!(
        problems[0].as_str().unwrap().starts_with(
            "provider.runtime is nodejs16.x, deprecated since 2024-06-12: since 2025-02-28"
        ),
        "{error}"
    );
    // `package` writes nothing to AWS: the same runtime is a warning there.
    let p = run(&bed, &dir, &["package", "-s", "dev"], &[]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert!(p.stderr.contains("nodejs16.x"), "{}", p.stderr);

    // A function name over Lambda's 64 characters: v3 packages it, so `package` warns; `up`
    // refuses it before any write.
    let long = "a-service-whose-name-is-long-enough-to-overflow-lambda-limit";
    let dir = seed_service(&bed, "long", |y| {
        y.replacen("service: service-name", &format!("service: {long}"), 1)
    });
    let p = run(&bed, &dir, &["package", "-s", "dev"], &[]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    let problem = format!("function hello would be named \"{long}-dev-hello\" (70 characters)");
    assert!(p.stderr.contains(&problem), "{}", p.stderr);
    let before = settled_count(&moto);
    let r = run(&bed, &dir, &["up", "-s", "dev"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains(&problem), "{}", r.stderr);
    assert_eq!(
        settled_count(&moto) - before,
        1,
        "only the guard's STS call"
    );
}
