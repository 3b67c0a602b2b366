//! Credentials refreshed during a run are proven before any request uses them. A
//! `credential_process` profile answers with the prod account's key for its first runs and the
//! dev account's key after that, with a short `Expiration`, so the SDK asks it again mid-run.
//! The dev account holds a decoy: the same service's prod stage, deployed there on purpose, so
//! that a request sent with the refreshed credentials would change something real. Each
//! command must stop with exit 3 naming both accounts, and the decoy must be untouched.

use std::path::{Path, PathBuf};
use std::time::Duration;

use deployer_testbed::TestBed;
use deployer_testbed::proxy::{Fault, FaultProxy, Rule};

use crate::faults::{Moto, change_code};
use crate::support::{Run, assert_has, pin_seed, run, seed_service, write_script};

const PROD: &str = "111111111111";
const DEV: &str = "222222222222";

/// A profile `switch` whose `credential_process` hands out prod's key for its first `n` runs
/// and dev's key afterwards, each valid for `valid` seconds from the moment it runs.
fn switching_profile(bed: &TestBed<'_>, n: u32, valid: u64) {
    let (prod, dev) = (bed.key("default"), bed.key("devAccount"));
    let count = bed.path().join("process-runs");
    let script = bed.path().join("switch.sh");
    let text = format!(
        "#!/bin/sh\nf='{count}'\nn=$(cat \"$f\" 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > \"$f\"\n\
         exp=$(date -u -d \"@$(( $(date +%s) + {valid} ))\" +%Y-%m-%dT%H:%M:%SZ)\n\
         if [ $n -le {n} ]; then id='{pi}'; s='{ps}'; else id='{di}'; s='{ds}'; fi\n\
         printf '{{\"Version\": 1, \"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"%s\", \
         \"Expiration\": \"%s\"}}\\n' \"$id\" \"$s\" \"$exp\"\n",
        count = count.display(),
        pi = prod.access_key_id,
        ps = prod.secret_access_key,
        di = dev.access_key_id,
        ds = dev.secret_access_key,
    );
    write_script(&script, &text);
    bed.append_config(&format!(
        "[profile switch]\ncredential_process = {}\nregion = us-east-1\n",
        script.display()
    ))
    .unwrap();
}

/// How many times the `credential_process` ran.
fn process_runs(bed: &TestBed<'_>) -> u32 {
    std::fs::read_to_string(bed.path().join("process-runs"))
        .map(|t| t.trim().parse().unwrap_or(0))
        .unwrap_or(0)
}

/// The pinned service `name` deployed twice to prod in the prod account, and the same
/// service's prod stage deployed, unpinned, into the dev account: the decoy.
struct Scene {
    dir: PathBuf,
    stack: String,
    decoy: Moto,
}

fn scene(bed: &TestBed<'_>, name: &str) -> Scene {
    let rename = |y: String| y.replacen("service: service-name", &format!("service: {name}"), 1);
    let dir = seed_service(bed, name, |y| pin_seed(rename(y)));
    let decoy_dir = seed_service(bed, &format!("{name}-decoy"), rename);
    ok(&run(
        bed,
        &decoy_dir,
        &["up", "-s", "prod", "--aws-profile", "devAccount"],
        &[],
    ));
    ok(&run(bed, &dir, &["up", "-s", "prod"], &[]));
    change_code(&dir, "second");
    ok(&run(bed, &dir, &["up", "-s", "prod"], &[]));
    Scene {
        dir,
        stack: format!("{name}-prod"),
        decoy: Moto::new(bed, "devAccount"),
    }
}

/// What the decoy looks like: stack status, template keys and the function's code.
fn decoy_state(s: &Scene) -> (Option<String>, Vec<String>, Option<String>) {
    (
        s.decoy.status(&s.stack),
        s.decoy.template_keys(&s.stack),
        s.decoy.code_sha(&format!("{}-hello", s.stack)),
    )
}

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

/// Exit 3, the refresh named with both accounts, in the human message and in `--json`.
fn refused_refresh(r: &Run) {
    assert_eq!(r.code, 3, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let j = r.json();
    assert_eq!(j["error"]["kind"], "account-guard", "{j}");
    assert_eq!(j["error"]["rule"], "refreshedCredentials", "{j}");
    assert_eq!(j["error"]["expected"][0], PROD, "{j}");
    assert_eq!(j["error"]["actual"], DEV, "{j}");
    let message = j["error"]["message"].as_str().unwrap();
    assert_has(message, "refreshed during the run");
    assert_has(message, PROD);
    assert_has(message, DEV);
}

/// Runs `args` (with `--json`, as the switching profile, which turns to dev after `n` runs)
/// and checks the refusal and the untouched decoy.
fn refused_with_decoy_untouched(name: &str, n: u32, args: &[&str], dir_extra: impl Fn(&Path)) {
    let bed = TestBed::standard();
    let s = scene(&bed, name);
    dir_extra(&s.dir);
    switching_profile(&bed, n, 5);
    let before = decoy_state(&s);
    let mut all = args.to_vec();
    all.extend(["-s", "prod", "--aws-profile", "switch", "--json"]);
    let r = run(&bed, &s.dir, &all, &[]);
    refused_refresh(&r);
    assert!(
        process_runs(&bed) > n,
        "the credentials were never refreshed"
    );
    assert_eq!(decoy_state(&s), before, "the dev account's decoy changed");
}

#[test]
fn up_stops_when_a_refresh_turns_to_another_account() {
    // Two runs: the first resolution and the guard's GetCallerIdentity; the next refresh is dev.
    refused_with_decoy_untouched("rfup", 2, &["up"], |d| change_code(d, "third"));
}

#[test]
fn up_stops_when_the_refresh_comes_mid_deploy() {
    refused_with_decoy_untouched("rfmid", 6, &["up"], |d| change_code(d, "third"));
}

#[test]
fn deploy_function_stops_when_a_refresh_turns_to_another_account() {
    refused_with_decoy_untouched("rffn", 2, &["deploy", "function", "-f", "hello"], |d| {
        change_code(d, "third")
    });
}

#[test]
fn remove_stops_when_a_refresh_turns_to_another_account() {
    refused_with_decoy_untouched("rfrm", 2, &["remove", "-y"], |_| {});
}

#[test]
fn rollback_stops_when_a_refresh_turns_to_another_account() {
    let bed = TestBed::standard();
    let s = scene(&bed, "rfrb");
    let list = run(
        &bed,
        &s.dir,
        &["deploy", "list", "-s", "prod", "--json"],
        &[],
    );
    ok(&list);
    let first = first_timestamp(&list);
    switching_profile(&bed, 2, 5);
    let before = decoy_state(&s);
    let r = run(
        &bed,
        &s.dir,
        &[
            "rollback",
            "-t",
            &first,
            "-s",
            "prod",
            "--aws-profile",
            "switch",
            "--json",
        ],
        &[],
    );
    refused_refresh(&r);
    assert_eq!(decoy_state(&s), before, "the dev account's decoy changed");
}

/// The timestamp of the oldest deployment `deploy list --json` shows.
fn first_timestamp(list: &Run) -> String {
    let j = list.json();
    let deployments = j["deployments"].as_array().expect("deployments");
    let oldest = deployments.last().expect("a deployment");
    oldest["timestamp"]
        .as_str()
        .map(str::to_string)
        .or_else(|| oldest["timestamp"].as_u64().map(|t| t.to_string()))
        .unwrap_or_else(|| panic!("no timestamp in {oldest}"))
}

#[test]
fn unchanged_refreshes_are_proven_and_the_run_goes_on() {
    // The process always answers with prod's key: each refresh is proven and the deploy lands.
    let bed = TestBed::standard();
    let s = scene(&bed, "rfsame");
    switching_profile(&bed, 1_000, 5);
    change_code(&s.dir, "third");
    let r = run(
        &bed,
        &s.dir,
        &["up", "-s", "prod", "--aws-profile", "switch", "--json"],
        &[],
    );
    ok(&r);
    assert_eq!(r.json()["account"], PROD, "{}", r.stdout);
    assert!(
        process_runs(&bed) > 2,
        "the credentials were never refreshed"
    );
}

#[test]
fn a_slow_call_past_the_expiry_does_not_let_the_other_account_in() {
    // Credentials valid for 75 s, and one DescribeStacks held for 70 s by the proxy: the SDK
    // refreshes them after that call, and the refreshed set is dev's.
    let bed = TestBed::standard();
    let s = scene(&bed, "rfslow");
    switching_profile(&bed, 1, 75);
    change_code(&s.dir, "third");
    let before = decoy_state(&s);
    let proxy = FaultProxy::start(bed.moto().port()).unwrap();
    proxy.set_rules(vec![
        Rule::new("DescribeStacks", Fault::Latency(Duration::from_secs(70))).times(1),
    ]);
    let r = run(
        &bed,
        &s.dir,
        &["up", "-s", "prod", "--aws-profile", "switch", "--json"],
        &[
            ("AWS_ENDPOINT_URL", &proxy.endpoint()),
            ("DEPLOYER_AWS_ATTEMPT_TIMEOUT", "120"),
        ],
    );
    refused_refresh(&r);
    assert_eq!(proxy.faults(), 1, "the slow call was not made");
    assert_eq!(decoy_state(&s), before, "the dev account's decoy changed");
}
