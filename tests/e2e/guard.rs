//! Stage credentials and the account guard, end to end: the real binary, the seed service
//! (tests/fixtures/multi-account/service) and moto with several accounts.

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use deployer_testbed::{DEV_ACCOUNT, Moto, PROD_ACCOUNT, ProfileSpec, TestBed};

use crate::support::{pin_seed, run, seed_service, settled_count, write_script};

/// Profiles of the seed on a dedicated server (for tests that count requests or turn auth on).
fn seed_profiles() -> [ProfileSpec; 2] {
    [
        ProfileSpec::new("default", PROD_ACCOUNT),
        ProfileSpec::new("devAccount", DEV_ACCOUNT),
    ]
}

#[test]
fn seed_resolves_dev_to_dev_account_and_prod_to_default() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "svc", |y| y);

    let dev = run(&bed, &dir, &["whoami", "-s", "dev", "--json"], &[]).json();
    assert_eq!(dev["stage"], "dev");
    assert_eq!(dev["region"], "us-east-1");
    assert_eq!(dev["profile"], "devAccount");
    assert_eq!(dev["credentialSource"], "profile \"devAccount\"");
    assert_eq!(dev["account"], DEV_ACCOUNT);
    assert_eq!(dev["arn"], bed.key("devAccount").user_arn.as_str());
    assert_eq!(dev["allowed"], true);
    assert_eq!(dev["pinned"], false);

    let prod = run(&bed, &dir, &["whoami", "-s", "prod", "--json"], &[]).json();
    assert_eq!(prod["profile"], "default");
    assert_eq!(prod["account"], PROD_ACCOUNT);

    // Text form: every field on its own line, unpinned stages told how to pin.
    let text = run(&bed, &dir, &["whoami"], &[]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("account:     222222222222"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("credentials: profile \"devAccount\""),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("pin:         none"), "{}", text.stdout);
}

#[test]
fn pinned_prod_with_dev_credentials_is_refused_with_exit_3_and_no_further_call() {
    let moto = Moto::start().expect("starting a dedicated moto server");
    let bed = TestBed::with_profiles(&moto, &seed_profiles()).unwrap();
    // A slip in the profile map: prod points at the dev profile.
    let dir = seed_service(&bed, "svc", |y| {
        pin_seed(y).replace("    prod: default\n", "    prod: devAccount\n")
    });

    let before = settled_count(&moto);
    let r = run(&bed, &dir, &["verify", "-s", "prod"], &[]);
    assert_eq!(r.code, 3, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let expected = format!(
        "stage prod must deploy to 111111111111, but profile \"devAccount\" is for 222222222222 ({})",
        bed.key("devAccount").user_arn
    );
    assert!(r.stderr.contains(&expected), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert_eq!(
        settled_count(&moto) - before,
        1,
        "only STS GetCallerIdentity may be called"
    );

    // A role profile into the wrong account is refused before any network call.
    bed.append_config(
        "[profile devRole]\nrole_arn = arn:aws:iam::222222222222:role/deployer\nsource_profile = default\n",
    )
    .unwrap();
    let before = settled_count(&moto);
    let r = run(
        &bed,
        &dir,
        &["verify", "-s", "prod", "--aws-profile", "devRole"],
        &[],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "stage prod must deploy to 111111111111, but profile \"devRole\" (--aws-profile) \
             assumes arn:aws:iam::222222222222:role/deployer (account 222222222222)"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(settled_count(&moto), before, "no request at all");
}

#[test]
fn pinned_stages_pass_verify_and_whoami_reports_a_broken_pin() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "svc", pin_seed);

    let ok = run(&bed, &dir, &["verify", "-s", "prod"], &[]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.stdout.lines().count(), 1, "{}", ok.stdout);
    assert!(
        ok.stdout.starts_with("OK stage prod: account 111111111111"),
        "{}",
        ok.stdout
    );
    assert!(
        ok.stdout.contains("allowedAccountIds 111111111111"),
        "{}",
        ok.stdout
    );

    let who = run(
        &bed,
        &dir,
        &[
            "whoami",
            "-s",
            "prod",
            "--aws-profile",
            "devAccount",
            "--json",
        ],
        &[],
    );
    assert_eq!(who.code, 0, "{}", who.stderr);
    let j = who.json();
    assert_eq!(j["allowed"], false);
    assert_eq!(j["pinned"], true);
    assert_eq!(j["account"], DEV_ACCOUNT);
    assert!(
        who.stderr.contains("must deploy to 111111111111"),
        "{}",
        who.stderr
    );
}

#[test]
fn expect_account_and_forbidden_accounts_are_enforced() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "svc", |y| y);

    let r = run(
        &bed,
        &dir,
        &["verify", "-s", "dev", "--expect-account", PROD_ACCOUNT],
        &[],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("stage dev must deploy to 111111111111 (--expect-account)"),
        "{}",
        r.stderr
    );

    let r = run(
        &bed,
        &dir,
        &["verify", "-s", "dev"],
        &[("DEPLOYER_EXPECT_ACCOUNT", DEV_ACCOUNT)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = run(
        &bed,
        &dir,
        &["verify", "-s", "dev", "--expect-account", "12345"],
        &[],
    );
    assert_eq!(r.code, 2, "a usage error: {}", r.stderr);
    assert!(r.stderr.contains("12-digit"), "{}", r.stderr);

    let forbidden = seed_service(&bed, "forbidden", |y| {
        y.replacen(
            "  region: us-east-1\n",
            "  region: us-east-1\n  forbiddenAccountIds:\n    - '222222222222'\n",
            1,
        )
    });
    let r = run(&bed, &forbidden, &["verify", "-s", "dev"], &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("must not deploy to 222222222222"),
        "{}",
        r.stderr
    );
    let r = run(&bed, &forbidden, &["verify", "-s", "prod"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn ambient_aws_profile_and_env_keys_never_override_the_stage_profile() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "svc", |y| y);
    let prod = bed.key("default");
    let env = [
        ("AWS_PROFILE", "default"),
        ("AWS_ACCESS_KEY_ID", prod.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", prod.secret_access_key.as_str()),
        ("AWS_REGION", "eu-west-1"),
    ];
    let j = run(&bed, &dir, &["whoami", "-s", "dev", "--json"], &env).json();
    assert_eq!(j["account"], DEV_ACCOUNT);
    assert_eq!(j["credentialSource"], "profile \"devAccount\"");
    assert_eq!(
        j["region"], "us-east-1",
        "AWS_REGION never changes the stage's region"
    );
}

#[test]
fn explicit_sources_win_in_order() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "svc", |y| y);
    let prod = bed.key("default");

    let j = run(
        &bed,
        &dir,
        &["whoami", "-s", "dev", "--aws-profile", "default", "--json"],
        &[],
    )
    .json();
    assert_eq!(j["account"], PROD_ACCOUNT);
    assert_eq!(j["credentialSource"], "profile \"default\" (--aws-profile)");

    let j = run(
        &bed,
        &dir,
        &["whoami", "-s", "dev", "--json"],
        &[("AWS_DEV_PROFILE", "default")],
    )
    .json();
    assert_eq!(j["account"], PROD_ACCOUNT);
    assert_eq!(j["credentialSource"], "AWS_DEV_PROFILE profile \"default\"");

    let keys = [
        ("AWS_DEV_ACCESS_KEY_ID", prod.access_key_id.as_str()),
        ("AWS_DEV_SECRET_ACCESS_KEY", prod.secret_access_key.as_str()),
    ];
    let j = run(&bed, &dir, &["whoami", "-s", "dev", "--json"], &keys).json();
    assert_eq!(j["account"], PROD_ACCOUNT);
    assert_eq!(j["credentialSource"], "environment AWS_DEV_ACCESS_KEY_ID");
    assert_eq!(j["profile"], serde_json::Value::Null);

    // --aws-profile beats the stage variables.
    let j = run(
        &bed,
        &dir,
        &[
            "whoami",
            "-s",
            "dev",
            "--aws-profile",
            "devAccount",
            "--json",
        ],
        &keys,
    )
    .json();
    assert_eq!(j["account"], DEV_ACCOUNT);

    // --no-profile skips provider.profile and takes the ambient credentials.
    let ambient = [
        ("AWS_ACCESS_KEY_ID", prod.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", prod.secret_access_key.as_str()),
    ];
    let j = run(
        &bed,
        &dir,
        &["whoami", "-s", "dev", "--no-profile", "--json"],
        &ambient,
    )
    .json();
    assert_eq!(j["account"], PROD_ACCOUNT);
    assert_eq!(
        j["credentialSource"],
        "default chain (environment variables)"
    );
}

#[test]
fn a_missing_profile_fails_fast_naming_the_profile_and_files_and_never_falls_through() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "svc", |y| {
        y.replace("    dev: devAccount\n", "    dev: noSuchProfile\n")
    });
    let prod = bed.key("default");
    // Ambient keys that would work must not be picked up instead.
    let env = [
        ("AWS_ACCESS_KEY_ID", prod.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", prod.secret_access_key.as_str()),
    ];
    let r = run(&bed, &dir, &["whoami", "-s", "dev"], &env);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.elapsed < Duration::from_secs(2), "took {:?}", r.elapsed);
    assert!(
        r.stderr
            .contains("AWS profile \"noSuchProfile\" (from provider.profile)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&bed.config_file().display().to_string()),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(&bed.credentials_file().display().to_string()),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("aws configure --profile noSuchProfile"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());

    // The same for a mistyped AWS_PROFILE when the default chain is used.
    let r = run(
        &bed,
        &dir,
        &["whoami", "-s", "dev", "--no-profile"],
        &[("AWS_PROFILE", "typo")],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("AWS profile \"typo\" (from AWS_PROFILE)"),
        "{}",
        r.stderr
    );
}

#[test]
fn no_credentials_at_all_fails_within_two_seconds_even_with_a_hanging_metadata_service() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "svc", |y| {
        y.replace(
            "  profile: ${self:custom.myProfile.${self:custom.myStage}}\n",
            "",
        )
    });
    // A metadata endpoint that accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let imds = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let missing = bed.path().join("missing");
    let missing = missing.display().to_string();
    let env = [
        ("AWS_CONFIG_FILE", missing.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", missing.as_str()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.as_str()),
    ];
    let r = run(&bed, &dir, &["verify", "-s", "dev"], &env);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.elapsed < Duration::from_secs(2), "took {:?}", r.elapsed);
    assert!(
        r.stderr.contains("no AWS credentials found for stage dev"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--aws-profile"), "{}", r.stderr);
}

#[test]
fn rejected_keys_give_a_clear_error_with_exit_1() {
    let moto = Moto::start().expect("starting a dedicated moto server");
    let bed = TestBed::with_profiles(&moto, &seed_profiles()).unwrap();
    let dev = bed.key("devAccount");
    let wrong_secret = "wrongSecretwrongSecretwrongSecret0000000";
    bed.add_secret(wrong_secret);
    bed.append_credentials(&format!(
        "[badSecret]\naws_access_key_id = {}\naws_secret_access_key = {wrong_secret}\n\n\
         [unknownKey]\naws_access_key_id = AKIAUNKNOWNUNKNOWN00\naws_secret_access_key = {wrong_secret}\n",
        dev.access_key_id
    ))
    .unwrap();
    let dir = seed_service(&bed, "svc", |y| y);
    let (bad, unknown, good) = moto
        .with_auth(|| {
            (
                run(
                    &bed,
                    &dir,
                    &["verify", "-s", "dev", "--aws-profile", "badSecret"],
                    &[],
                ),
                run(
                    &bed,
                    &dir,
                    &["whoami", "-s", "dev", "--aws-profile", "unknownKey"],
                    &[],
                ),
                // `verify` refuses a stage nothing pins, so the good keys name their account.
                run(
                    &bed,
                    &dir,
                    &["verify", "-s", "dev", "--expect-account", "222222222222"],
                    &[],
                ),
            )
        })
        .unwrap();
    for (r, profile) in [(&bad, "badSecret"), (&unknown, "unknownKey")] {
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "the credentials of profile \"{profile}\" (--aws-profile) were rejected"
            )),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("HTTP 403"), "{}", r.stderr);
    }
    assert_eq!(
        good.code, 0,
        "valid keys still pass with auth on: {}",
        good.stderr
    );
}

#[test]
fn role_profile_with_source_profile_lands_in_the_role_account() {
    let bed = TestBed::standard();
    bed.moto().provision_role("333333333333", "deployer").ok();
    bed.append_config(
        "[profile roleProfile]\nrole_arn = arn:aws:iam::333333333333:role/deployer\nsource_profile = default\nregion = us-east-1\n",
    )
    .unwrap();
    let dir = seed_service(&bed, "svc", |y| y);
    let r = run(
        &bed,
        &dir,
        &[
            "whoami",
            "-s",
            "dev",
            "--aws-profile",
            "roleProfile",
            "--json",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(j["account"], "333333333333");
    assert!(
        j["arn"]
            .as_str()
            .unwrap()
            .contains(":assumed-role/deployer/"),
        "{j}"
    );
}

#[test]
fn credential_process_profile_works() {
    let bed = TestBed::standard();
    let key = bed
        .moto()
        .provision_user("444444444444", &format!("proc-{}", std::process::id()))
        .unwrap();
    bed.add_secret(&key.secret_access_key);
    let script = bed.path().join("creds.sh");
    write_script(
        &script,
        &format!(
            "#!/bin/sh\necho '{{\"Version\": 1, \"AccessKeyId\": \"{}\", \"SecretAccessKey\": \"{}\"}}'\n",
            key.access_key_id, key.secret_access_key
        ),
    );
    bed.append_config(&format!(
        "[profile proc]\ncredential_process = {}\n",
        script.display()
    ))
    .unwrap();
    let dir = seed_service(&bed, "svc", |y| y);
    let r = run(
        &bed,
        &dir,
        &["whoami", "-s", "dev", "--aws-profile", "proc", "--json"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["account"], "444444444444");
}

#[test]
fn web_identity_from_the_environment_works_with_no_profile() {
    let bed = TestBed::standard();
    bed.moto()
        .provision_role("555555555555", "github-deploy")
        .ok();
    let token = bed.path().join("token");
    std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl").unwrap();
    let token = token.display().to_string();
    let dir = seed_service(&bed, "svc", |y| y);
    // A CI runner: no profile files, only the OIDC token (a `default` profile would come
    // first in the SDK's chain).
    let missing = bed.path().join("missing").display().to_string();
    let env = [
        ("AWS_CONFIG_FILE", missing.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", missing.as_str()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.as_str()),
        (
            "AWS_ROLE_ARN",
            "arn:aws:iam::555555555555:role/github-deploy",
        ),
        ("AWS_ROLE_SESSION_NAME", "gh-actions"),
    ];
    let r = run(
        &bed,
        &dir,
        &["whoami", "-s", "dev", "--no-profile", "--json"],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(j["account"], "555555555555");
    assert!(
        j["credentialSource"]
            .as_str()
            .unwrap()
            .starts_with("default chain (web identity token"),
        "{j}"
    );
    // The role's account contradicting a pin is refused before any call.
    let pinned = seed_service(&bed, "pinned", pin_seed);
    let r = run(
        &bed,
        &pinned,
        &["verify", "-s", "prod", "--no-profile"],
        &env,
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("AWS_ROLE_ARN"), "{}", r.stderr);
}

#[test]
fn mfa_role_profile_asks_for_a_code_then_reuses_the_cached_session() {
    let bed = TestBed::standard();
    bed.moto().provision_role("666666666666", "admin").ok();
    bed.append_config(
        "[profile mfaRole]\nrole_arn = arn:aws:iam::666666666666:role/admin\nsource_profile = default\n\
         mfa_serial = arn:aws:iam::111111111111:mfa/ci\nregion = us-east-1\n",
    )
    .unwrap();
    let dir = seed_service(&bed, "svc", |y| y);
    let args = ["whoami", "-s", "dev", "--aws-profile", "mfaRole", "--json"];

    // No terminal and no code: a clear error, no prompt.
    let r = run(&bed, &dir, &args, &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("needs an MFA code for arn:aws:iam::111111111111:mfa/ci"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("--mfa-code") && r.stderr.contains("DEPLOYER_MFA_CODE"),
        "{}",
        r.stderr
    );

    let r = run(&bed, &dir, &args, &[("DEPLOYER_MFA_CODE", "123456")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["account"], "666666666666");

    // The cache: one private file holding the temporary credentials.
    let cache = bed.home().join(".cache/deployer/mfa");
    let files: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().collect();
    assert_eq!(files.len(), 1, "{files:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = files[0].metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let mut text = String::new();
    std::fs::File::open(files[0].path())
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let cached: serde_json::Value = serde_json::from_str(&text).unwrap();
    bed.add_secret(cached["SecretAccessKey"].as_str().unwrap());
    bed.add_secret(cached["SessionToken"].as_str().unwrap());

    // Second run: no code needed; verbose debug logs still show no secret (checked by `run`).
    let r = run(
        &bed,
        &dir,
        &[
            "whoami",
            "-s",
            "dev",
            "--aws-profile",
            "mfaRole",
            "--verbose",
        ],
        &[("DEPLOYER_LOG", "trace")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("account:     666666666666"),
        "{}",
        r.stdout
    );
}

#[test]
fn expired_or_missing_sso_session_names_the_login_command_and_sso_account_is_checked_early() {
    let bed = TestBed::standard();
    bed.append_config(
        "[profile ssoDev]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n\
         sso_account_id = 777777777777\nsso_role_name = Admin\nregion = us-east-1\n",
    )
    .unwrap();
    let dir = seed_service(&bed, "svc", |y| y);
    let r = run(
        &bed,
        &dir,
        &["whoami", "-s", "dev", "--aws-profile", "ssoDev"],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("aws sso login --profile ssoDev"),
        "{}",
        r.stderr
    );

    let pinned = seed_service(&bed, "pinned", pin_seed);
    let r = run(
        &bed,
        &pinned,
        &["verify", "-s", "prod", "--aws-profile", "ssoDev"],
        &[],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("signs in to account 777777777777 (sso_account_id)"),
        "{}",
        r.stderr
    );
}

#[test]
fn mfa_code_is_prompted_for_on_a_terminal() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let bed = TestBed::standard();
    bed.moto().provision_role("666666666666", "admin").ok();
    bed.append_config(
        "[profile mfaTty]\nrole_arn = arn:aws:iam::666666666666:role/admin\nsource_profile = default\n\
         mfa_serial = arn:aws:iam::111111111111:mfa/tty\n",
    )
    .unwrap();
    let dir = seed_service(&bed, "svc", |y| y);
    // `script` (util-linux) runs the command on a pseudo-terminal and forwards our stdin to it.
    let command = format!(
        "{} whoami -s dev --aws-profile mfaTty",
        crate::support::deployer_bin().display()
    );
    let mut cmd = Command::new("script");
    bed.apply(&mut cmd);
    cmd.args(["-qec", &command, "/dev/null"])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .expect("this test needs `script` from util-linux to get a pseudo-terminal");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"654321\n").unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    bed.assert_no_secret(&stdout);
    assert!(status.success(), "{stdout}");
    assert!(
        stdout.contains("Enter MFA code for arn:aws:iam::111111111111:mfa/tty:"),
        "{stdout}"
    );
    assert!(stdout.contains("account:     666666666666"), "{stdout}");
}

#[test]
fn a_pin_that_resolves_to_nothing_stops_up_before_any_request() {
    let moto = Moto::start().expect("starting a dedicated moto server");
    let bed = TestBed::with_profiles(&moto, &seed_profiles()).unwrap();
    let pins = [
        "${env:PIN_UNSET, null}",
        "${env:PIN_EMPTY, null}",
        "${self:custom.accounts.${sls:stage}, null}",
        "[]",
        "~",
        "''",
    ];
    for (i, pin) in pins.iter().enumerate() {
        for key in ["allowedAccountIds", "forbiddenAccountIds"] {
            let dir = seed_service(&bed, &format!("svc{i}{key}"), |y| {
                y.replacen(
                    "custom:\n",
                    "custom:\n  accounts:\n    dev: '222222222222'\n",
                    1,
                )
                .replacen(
                    "  region: us-east-1\n",
                    &format!("  region: us-east-1\n  {key}: {pin}\n"),
                    1,
                )
            });
            let before = settled_count(&moto);
            let r = run(
                &bed,
                &dir,
                &["up", "-s", "prod", "--aws-profile", "devAccount"],
                &[("PIN_EMPTY", "")],
            );
            assert_eq!(r.code, 1, "{key}: {pin}\n{}", r.stderr);
            assert!(
                r.stderr
                    .contains(&format!("provider.{key}: is declared but resolved to"))
                    && r.stderr.contains("for stage \"prod\""),
                "{key}: {pin}\n{}",
                r.stderr
            );
            assert_eq!(
                settled_count(&moto),
                before,
                "{key}: {pin}: no request at all"
            );
        }
    }
    // An empty --expect-account (an unset CI variable) is refused too, before any request.
    let dir = seed_service(&bed, "svc-expect", |y| y);
    let before = settled_count(&moto);
    for env in [&[][..], &[("DEPLOYER_EXPECT_ACCOUNT", "")][..]] {
        let args: &[&str] = if env.is_empty() {
            &["up", "-s", "prod", "--expect-account", ""]
        } else {
            &["up", "-s", "prod"]
        };
        let r = run(&bed, &dir, args, env);
        assert_ne!(r.code, 0, "{}", r.stderr);
        assert!(r.stderr.contains("--expect-account"), "{}", r.stderr);
    }
    assert_eq!(settled_count(&moto), before, "no request at all");
}

/// `${opt:aws-profile, …}` (a v3 idiom) works in every stage command: the option is declared,
/// `null` when not given so the fallback applies.
#[test]
fn opt_aws_profile_with_a_fallback_chooses_the_profile() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "opt-profile", |y| {
        y.replace(
            "  profile: ${self:custom.myProfile.${self:custom.myStage}}",
            "  profile: ${opt:aws-profile, self:custom.myProfile.${self:custom.myStage}}\n  \
             environment:\n    VERBOSE: ${opt:verbose, 'quiet'}",
        )
    });
    let dev = run(&bed, &dir, &["whoami", "-s", "dev", "--json"], &[]).json();
    assert_eq!(dev["profile"], "devAccount", "{dev}");
    assert_eq!(dev["account"], DEV_ACCOUNT);
    let given = run(
        &bed,
        &dir,
        &["whoami", "-s", "dev", "--aws-profile", "default", "--json"],
        &[],
    )
    .json();
    assert_eq!(given["account"], PROD_ACCOUNT, "{given}");
    let print = run(
        &bed,
        &dir,
        &["-v", "print", "--path", "provider.environment.VERBOSE"],
        &[],
    );
    assert_eq!(print.code, 0, "{}", print.stderr);
    assert_eq!(print.stdout.trim(), "true");
}
