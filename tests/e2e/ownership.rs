//! What deployer may delete in a deployment bucket, and its deploy lock never left silently:
//! `remove` of one service leaves another service's objects under an overlapping prefix (and
//! says how many); a lock whose read-back failed is deleted again; a lock that could not be
//! deleted is named with `--force-unlock`; a lock of a process gone from this host is taken
//! over at once; `diff` says when it could not delete its change set. Faults come from the
//! testbed's proxy; every check reads moto's own state.

use std::path::{Path, PathBuf};
use std::time::Duration;

use deployer_testbed::TestBed;
use deployer_testbed::proxy::{Fault, FaultProxy, Rule};

use crate::faults::{Moto, change_code, service};
use crate::support::{Run, assert_has, pin_seed, run, s3_client, sdk_config, seed_service};

/// Host name the runs of this module report in their lock records.
const HOST: &str = "e2e-ownership-host";
/// The read-back of the lock (the only GetObject of that key while taking it).
const LOCK_READ: &str = "/deployer.lock?x-id=GetObject";
/// The release of the lock.
const LOCK_DELETE: &str = "/deployer.lock?x-id=DeleteObject";

fn ok(r: &Run) -> serde_json::Value {
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    r.json()
}

/// Every key under `prefix` in `bucket`, straight from moto.
fn keys(bed: &TestBed<'_>, bucket: &str, prefix: &str) -> Vec<String> {
    let (rt, conf) = sdk_config(bed, "devAccount");
    let s3 = s3_client(&conf);
    let out = rt
        .block_on(
            s3.list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .max_keys(1000)
                .send(),
        )
        .unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

fn create_bucket(bed: &TestBed<'_>, bucket: &str) {
    let (rt, conf) = sdk_config(bed, "devAccount");
    rt.block_on(s3_client(&conf).create_bucket().bucket(bucket).send())
        .unwrap();
}

/// The seed service named `name`, deploying into the existing `bucket` under `prefix`.
fn shared_bucket_service(
    bed: &TestBed<'_>,
    name: &str,
    bucket: &str,
    prefix: Option<&str>,
) -> PathBuf {
    seed_service(bed, name, |yml| {
        let mut provider = format!("  stage: dev\n  deploymentBucket:\n    name: {bucket}\n");
        if let Some(prefix) = prefix {
            provider.push_str(&format!("  deploymentPrefix: {prefix}\n"));
        }
        pin_seed(yml.replacen("service: service-name", &format!("service: {name}"), 1)).replacen(
            "  stage: dev\n",
            &provider,
            1,
        )
    })
}

fn up_through(bed: &TestBed<'_>, dir: &Path, proxy: &FaultProxy, extra: &[&str]) -> Run {
    let mut args = vec!["up", "--json"];
    args.extend_from_slice(extra);
    run(
        bed,
        dir,
        &args,
        &[("AWS_ENDPOINT_URL", &proxy.endpoint()), ("HOSTNAME", HOST)],
    )
}

#[test]
fn remove_leaves_another_services_objects_under_an_overlapping_prefix() {
    let bed = TestBed::standard();
    let bucket = "shared-deploys";
    create_bucket(&bed, bucket);
    let sa = shared_bucket_service(&bed, "sa", bucket, None);
    // sb's prefix sits inside sa's stage folder: serverless/sa/dev/sb/dev/<ms>-<ISO>/...
    let sb = shared_bucket_service(&bed, "sb", bucket, Some("serverless/sa/dev"));
    ok(&run(&bed, &sa, &["up", "--json"], &[]));
    ok(&run(&bed, &sb, &["up", "--json"], &[]));
    let moto = Moto::new(&bed, "devAccount");
    // Objects deployer writes for sa besides its deployments: a `deploy function` zip, a
    // template a failed `diff` clean-up left, a lock a killed run left.
    let extra_own = [
        "serverless/sa/dev/deploy-function/hello.zip",
        "serverless/sa/dev/deployer-diff-1795787592389/compiled-cloudformation-template.json",
        "serverless/sa/dev/deployer.lock",
    ];
    for key in extra_own {
        moto.put(bucket, key, "deployer's");
    }
    let user_file = "serverless/sa/dev/notes/readme.txt";
    moto.put(bucket, user_file, "a user's file");
    let sb_keys = keys(&bed, bucket, "serverless/sa/dev/sb/dev/");
    assert!(sb_keys.len() >= 2, "sb deployed: {sb_keys:?}");
    let sa_own = keys(&bed, bucket, "serverless/sa/dev/").len() - sb_keys.len() - 1;

    let removed = run(&bed, &sa, &["remove", "--yes", "--json"], &[]);
    let j = ok(&removed);
    assert_eq!(j["objectsDeleted"], sa_own, "{j}");
    assert_eq!(j["objectsLeft"], sb_keys.len() + 1, "{j}");
    assert_has(&removed.stderr, "were left in place");
    for key in sb_keys.iter().map(String::as_str).chain([user_file]) {
        assert!(moto.exists(bucket, key), "{key} was deleted");
    }
    for key in extra_own {
        assert!(!moto.exists(bucket, key), "{key} is deployer's and stays");
    }
    assert_eq!(moto.status("sa-dev"), None, "sa's stack is gone");

    let list = ok(&run(&bed, &sb, &["deploy", "list", "--json"], &[]));
    assert_eq!(list["deployments"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["deployments"][0]["current"], true, "{list}");
    change_code(&sb, "still here");
    ok(&run(&bed, &sb, &["up", "--json"], &[]));
}

#[test]
fn remove_says_in_text_how_many_objects_it_left() {
    let bed = TestBed::standard();
    let bucket = "shared-text";
    create_bucket(&bed, bucket);
    // Its own service name: the shared server must not see two tests deploy `sa-dev` at once.
    let sa = shared_bucket_service(&bed, "sat", bucket, None);
    ok(&run(&bed, &sa, &["up", "--json"], &[]));
    Moto::new(&bed, "devAccount").put(bucket, "serverless/sat/dev/b/dev/x.zip", "b's");
    let removed = run(&bed, &sa, &["remove", "--yes"], &[]);
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert_has(&removed.stdout, "1 other object(s) left");
    assert_has(&removed.stderr, "serverless/sat/dev/b/dev/x.zip");
}

#[test]
fn a_lock_whose_read_back_fails_is_deleted_again() {
    let name = "lock-readback";
    let bed = TestBed::standard();
    let dir = service(&bed, name);
    let moto = Moto::new(&bed, "devAccount");
    let first = ok(&run(&bed, &dir, &["up", "--json"], &[]));
    let bucket = first["bucket"].as_str().unwrap().to_string();
    let key = format!("serverless/{name}/dev/deployer.lock");
    change_code(&dir, "v2");
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    proxy.set_rules(vec![Rule::new(LOCK_READ, Fault::Status(500))]);
    let failed = up_through(&bed, &dir, &proxy, &[]);
    assert_eq!(failed.code, 1, "{}\n{}", failed.stdout, failed.stderr);
    assert!(proxy.faults() > 0, "the proxy injected nothing");
    assert!(
        !moto.exists(&bucket, &key),
        "the lock was left:\n{}",
        failed.stderr
    );
    assert_has(&failed.stderr, "was deleted again");
    proxy.clear();
    // The next run does not wait for a lock.
    let rerun = run(
        &bed,
        &dir,
        &["up", "--json"],
        &[("DEPLOYER_LOCK_WAIT", "1")],
    );
    assert_eq!(ok(&rerun)["status"], "deployed");
}

#[test]
fn a_lock_that_cannot_be_deleted_is_named_with_force_unlock() {
    let name = "lock-undeletable";
    let bed = TestBed::standard();
    let dir = service(&bed, name);
    let moto = Moto::new(&bed, "devAccount");
    let first = ok(&run(&bed, &dir, &["up", "--json"], &[]));
    let bucket = first["bucket"].as_str().unwrap().to_string();
    let key = format!("serverless/{name}/dev/deployer.lock");
    let left = format!("the deploy lock was left at s3://{bucket}/{key}");
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();

    // A successful deploy says that it left the lock, and how to remove it.
    change_code(&dir, "v2");
    proxy.set_rules(vec![Rule::new(LOCK_DELETE, Fault::Status(500))]);
    let done = up_through(&bed, &dir, &proxy, &[]);
    assert_eq!(ok(&done)["status"], "deployed");
    assert!(moto.exists(&bucket, &key), "the lock is really left");
    assert_has(&done.stderr, &left);
    assert_has(&done.stderr, "--force-unlock");
    proxy.clear();
    change_code(&dir, "v3");
    ok(&up_through(&bed, &dir, &proxy, &["--force-unlock"]));
    assert!(!moto.exists(&bucket, &key));

    // A failed deploy says it instead of "re-running is safe".
    change_code(&dir, "v4");
    proxy.set_rules(vec![
        Rule::new(LOCK_DELETE, Fault::Status(500)),
        Rule::new("Action=UpdateStack", Fault::Status(500)),
    ]);
    let failed = up_through(&bed, &dir, &proxy, &[]);
    assert_eq!(failed.code, 1, "{}\n{}", failed.stdout, failed.stderr);
    assert!(moto.exists(&bucket, &key), "the lock is really left");
    assert_has(&failed.stderr, "UpdateStack");
    assert_has(&failed.stderr, &left);
    assert_has(&failed.stderr, "--force-unlock");
    assert!(
        !failed.stderr.contains("re-running is safe"),
        "{}",
        failed.stderr
    );
    proxy.clear();
    ok(&up_through(&bed, &dir, &proxy, &["--force-unlock"]));
    assert!(!moto.exists(&bucket, &key));
}

/// A lock record of `pid` on this module's host that never expires.
fn lock_of(pid: u32) -> String {
    format!(
        r#"{{"owner":"ana@{HOST}","pid":{pid},"token":"t","acquired":"2026-01-01T10:00:00Z","expires":"2999-01-01T00:00:00Z"}}"#
    )
}

#[test]
fn a_lock_of_a_process_gone_from_this_host_is_taken_over_at_once() {
    let name = "lock-stale-pid";
    let bed = TestBed::standard();
    let dir = service(&bed, name);
    let moto = Moto::new(&bed, "devAccount");
    let first = ok(&run(&bed, &dir, &["up", "--json"], &[]));
    let bucket = first["bucket"].as_str().unwrap().to_string();
    let key = format!("serverless/{name}/dev/deployer.lock");
    let env = [("HOSTNAME", HOST), ("DEPLOYER_LOCK_WAIT", "20")];

    // A live holder on this host still holds the stage.
    moto.put(&bucket, &key, &lock_of(std::process::id()));
    change_code(&dir, "v2");
    let refused = run(&bed, &dir, &["up"], &[env[0], ("DEPLOYER_LOCK_WAIT", "1")]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert_has(&refused.stderr, "is being deployed by");

    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    moto.put(&bucket, &key, &lock_of(dead));
    let taken = run(&bed, &dir, &["up", "--json"], &env);
    assert_eq!(ok(&taken)["status"], "deployed");
    assert!(
        taken.elapsed < Duration::from_secs(15),
        "waited for a dead holder: {:?}",
        taken.elapsed
    );
    assert_has(&taken.stderr, "no longer runs on this host");
    assert_has(&taken.stderr, &format!("ana@{HOST} (pid {dead})"));
    assert!(!moto.exists(&bucket, &key));
}

#[test]
fn diff_says_when_its_change_set_could_not_be_deleted() {
    let name = "diff-cleanup";
    let bed = TestBed::standard();
    let dir = service(&bed, name);
    ok(&run(&bed, &dir, &["up", "--json"], &[]));
    let yml = dir.join("serverless.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(
        &yml,
        text.replace("VisibilityTimeout: 60", "VisibilityTimeout: 90"),
    )
    .unwrap();
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    proxy.set_rules(vec![Rule::new(
        "Action=DeleteChangeSet",
        Fault::Status(500),
    )]);
    let diff = run(
        &bed,
        &dir,
        &["diff", "--json"],
        &[("AWS_ENDPOINT_URL", &proxy.endpoint())],
    );
    let j = ok(&diff);
    assert!(!j["changes"].as_array().unwrap().is_empty(), "{j}");
    let warnings = j["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{j}");
    let warning = warnings[0].as_str().unwrap();
    let stack = format!("{name}-dev");
    for needle in [
        "DeleteChangeSet".to_string(),
        format!("change set {stack}-deployer-diff-"),
        format!("of stack {stack} was left"),
        format!("aws cloudformation delete-change-set --stack-name {stack}"),
    ] {
        assert_has(warning, &needle);
    }
    assert_has(&diff.stderr, "was left (diff never executes it)");
}
