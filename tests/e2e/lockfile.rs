//! The account lock file (deployer.accounts.json) end to end: the first deploy of an unpinned
//! stage records its account, another account is then refused before any write,
//! `--accept-account` re-records, `deployer pin` records on purpose, and `verify` refuses a
//! stage nothing pins.

use std::path::Path;
use std::time::Duration;

use deployer_testbed::{DEV_ACCOUNT, Moto, PROD_ACCOUNT, ProfileSpec, TestBed};

use crate::support::{pin_seed, run, seed_service, settled_count};

fn profiles() -> [ProfileSpec; 2] {
    [
        ProfileSpec::new("default", PROD_ACCOUNT),
        ProfileSpec::new("devAccount", DEV_ACCOUNT),
    ]
}

fn lock_text(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join("deployer.accounts.json")).ok()
}

#[test]
fn first_up_records_the_account_and_another_account_is_refused_without_a_write() {
    let moto = Moto::start().expect("starting a dedicated moto server");
    let bed = TestBed::with_profiles(&moto, &profiles()).unwrap();
    let dir = seed_service(&bed, "svc", |y| y);

    let up = run(&bed, &dir, &["up", "-s", "dev", "--json"], &[]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let recorded = up.json()["accountRecorded"].as_str().unwrap().to_string();
    assert!(recorded.ends_with("deployer.accounts.json"), "{recorded}");
    assert_eq!(
        lock_text(&dir).unwrap(),
        format!("{{\n  \"stages\": {{\n    \"dev\": \"{DEV_ACCOUNT}\"\n  }}\n}}\n")
    );

    // The same stage with the prod account's credentials: refused after STS alone.
    for command in [
        &["up"][..],
        &["diff"],
        &["info"],
        &["remove", "--yes"],
        &["verify"],
    ] {
        let mut args = command.to_vec();
        args.extend(["-s", "dev", "--aws-profile", "default"]);
        let before = settled_count(&moto);
        let r = run(&bed, &dir, &args, &[]);
        assert_eq!(r.code, 3, "{args:?}: {}", r.stderr);
        let lock = dir.join("deployer.accounts.json");
        assert!(
            r.stderr.contains(&format!(
                "stage dev is recorded for account {DEV_ACCOUNT} in {}, but profile \"default\" \
                 (--aws-profile) is for {PROD_ACCOUNT}",
                lock.display()
            )),
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr
                .contains(&format!("--accept-account {PROD_ACCOUNT}")),
            "{}",
            r.stderr
        );
        assert_eq!(
            settled_count(&moto) - before,
            1,
            "{args:?}: only STS GetCallerIdentity may be called"
        );
    }

    // whoami judges with the record too, and says where the pin comes from.
    let who = run(
        &bed,
        &dir,
        &["whoami", "-s", "dev", "--aws-profile", "default", "--json"],
        &[],
    )
    .json();
    assert_eq!(who["allowed"], false);
    assert_eq!(who["recordedAccount"], DEV_ACCOUNT);
    assert!(
        who["pinOrigins"][0]
            .as_str()
            .unwrap()
            .ends_with("deployer.accounts.json"),
        "{who}"
    );

    // --accept-account re-records, and the stage is then held to the new account.
    let moved = run(
        &bed,
        &dir,
        &[
            "verify",
            "-s",
            "dev",
            "--aws-profile",
            "default",
            "--accept-account",
            PROD_ACCOUNT,
        ],
        &[],
    );
    assert_eq!(moved.code, 0, "{}", moved.stderr);
    assert!(lock_text(&dir).unwrap().contains(PROD_ACCOUNT));
    let back = run(&bed, &dir, &["verify", "-s", "dev"], &[]);
    assert_eq!(back.code, 3, "{}", back.stderr);

    // --accept-account with credentials for another account is refused too.
    let wrong = run(
        &bed,
        &dir,
        &["verify", "-s", "dev", "--accept-account", "333333333333"],
        &[],
    );
    assert_eq!(wrong.code, 3, "{}", wrong.stderr);
    assert!(lock_text(&dir).unwrap().contains(PROD_ACCOUNT));
}

#[test]
fn verify_refuses_an_unpinned_stage_unless_something_pins_it() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "svc", |y| y);

    let r = run(&bed, &dir, &["verify", "-s", "dev"], &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("stage dev has no account pin"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("deployer pin --stage dev"),
        "{}",
        r.stderr
    );
    assert!(lock_text(&dir).is_none(), "verify writes nothing");

    let expect = run(
        &bed,
        &dir,
        &["verify", "-s", "dev", "--expect-account", DEV_ACCOUNT],
        &[],
    );
    assert_eq!(expect.code, 0, "{}", expect.stderr);

    // `pin` records the current account on purpose; verify then passes on the record.
    let pin = run(&bed, &dir, &["pin", "-s", "dev", "--json"], &[]);
    assert_eq!(pin.code, 0, "{}", pin.stderr);
    assert_eq!(pin.json()["account"], DEV_ACCOUNT);
    assert_eq!(pin.json()["changed"], true);
    let ok = run(&bed, &dir, &["verify", "-s", "dev"], &[]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stdout.contains("recorded in") && ok.stdout.contains("deployer.accounts.json"),
        "{}",
        ok.stdout
    );
    let who = run(&bed, &dir, &["whoami", "-s", "dev"], &[]);
    assert!(who.stdout.contains("pin from:    "), "{}", who.stdout);

    // pin refuses to overwrite another account's record without --accept-account.
    let other = run(
        &bed,
        &dir,
        &["pin", "-s", "dev", "--aws-profile", "default"],
        &[],
    );
    assert_eq!(other.code, 3, "{}", other.stderr);
}

#[test]
fn config_pin_and_record_must_both_hold() {
    let bed = TestBed::standard();
    let dir = seed_service(&bed, "svc", pin_seed);
    // A record that disagrees with allowedAccountIds: both rules apply, so dev is refused.
    std::fs::write(
        dir.join("deployer.accounts.json"),
        format!("{{\"stages\": {{\"dev\": \"{PROD_ACCOUNT}\"}}}}"),
    )
    .unwrap();
    let r = run(&bed, &dir, &["verify", "-s", "dev"], &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    // A first deploy of a stage the configuration pins records nothing.
    std::fs::remove_file(dir.join("deployer.accounts.json")).unwrap();
    let up = run(&bed, &dir, &["up", "-s", "dev", "--json"], &[]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    assert!(up.json()["accountRecorded"].is_null());
    assert!(lock_text(&dir).is_none());
}

/// Runs `up -s dev` with the prod account's credentials and `--json`, and checks that it
/// failed on the lock file before any AWS call, naming `needle`; returns the error message.
fn refused_on_the_lock_file(moto: &Moto, bed: &TestBed<'_>, dir: &Path, needle: &str) -> String {
    let before = settled_count(moto);
    let r = run(
        bed,
        dir,
        &["up", "-s", "dev", "--aws-profile", "default", "--json"],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let j = r.json();
    assert_eq!(j["error"]["kind"], "lock-file", "{j}");
    let message = j["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains(needle), "{message}");
    assert!(
        r.elapsed < Duration::from_secs(10),
        "took {:?}: {message}",
        r.elapsed
    );
    assert_eq!(
        settled_count(moto),
        before,
        "no AWS call before the lock file is read"
    );
    message
}

#[cfg(unix)]
#[test]
fn a_dangling_symlink_is_refused_and_left_alone() {
    let moto = Moto::start().expect("starting a dedicated moto server");
    let bed = TestBed::with_profiles(&moto, &profiles()).unwrap();
    let dir = seed_service(&bed, "svc", |y| y);
    let lock = dir.join("deployer.accounts.json");
    std::os::unix::fs::symlink("../shared/deployer.accounts.json", &lock).unwrap();

    let message = refused_on_the_lock_file(&moto, &bed, &dir, "is a dangling symlink");
    assert!(message.contains(&lock.display().to_string()), "{message}");
    let meta = std::fs::symlink_metadata(&lock).unwrap();
    assert!(meta.file_type().is_symlink(), "the symlink is left alone");
    assert_eq!(
        std::fs::read_link(&lock).unwrap(),
        Path::new("../shared/deployer.accounts.json")
    );
}

#[test]
fn a_stage_recorded_twice_is_refused_naming_the_stage() {
    let moto = Moto::start().expect("starting a dedicated moto server");
    let bed = TestBed::with_profiles(&moto, &profiles()).unwrap();
    let dir = seed_service(&bed, "svc", |y| y);
    // The last record names the prod account: keeping it would let the deploy through.
    let text =
        format!("{{\"stages\": {{\"dev\": \"{DEV_ACCOUNT}\", \"dev\": \"{PROD_ACCOUNT}\"}}}}");
    std::fs::write(dir.join("deployer.accounts.json"), &text).unwrap();

    refused_on_the_lock_file(
        &moto,
        &bed,
        &dir,
        "stage \"dev\" is recorded more than once",
    );
    assert_eq!(lock_text(&dir).unwrap(), text, "the file is left as it was");
}

#[cfg(unix)]
#[test]
fn a_device_or_a_fifo_is_refused_quickly() {
    let moto = Moto::start().expect("starting a dedicated moto server");
    let bed = TestBed::with_profiles(&moto, &profiles()).unwrap();
    let dir = seed_service(&bed, "svc", |y| y);
    let lock = dir.join("deployer.accounts.json");

    std::os::unix::fs::symlink("/dev/zero", &lock).unwrap();
    refused_on_the_lock_file(&moto, &bed, &dir, "is a device, not a regular file");

    std::fs::remove_file(&lock).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&lock)
        .status()
        .unwrap();
    assert!(made.success());
    // A reader that opens the FIFO blocks until a writer comes: this one comes after 15 s (and
    // closes at once), so a run that opened it ends with an empty file, too late.
    let fifo = lock.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(15));
        use rustix::fs::{Mode, OFlags};
        let _ = rustix::fs::open(&fifo, OFlags::WRONLY | OFlags::NONBLOCK, Mode::empty());
    });
    refused_on_the_lock_file(
        &moto,
        &bed,
        &dir,
        "is a FIFO (named pipe), not a regular file",
    );
}

#[cfg(unix)]
#[test]
fn a_configuration_reached_through_a_symlink_uses_the_real_files_lock_file() {
    let moto = Moto::start().expect("starting a dedicated moto server");
    let bed = TestBed::with_profiles(&moto, &profiles()).unwrap();
    let dir = seed_service(&bed, "svc", |y| y);
    std::fs::write(
        dir.join("deployer.accounts.json"),
        format!("{{\"stages\": {{\"dev\": \"{DEV_ACCOUNT}\"}}}}"),
    )
    .unwrap();
    // A second copy of the service whose serverless.yml is a link to the first one's: without
    // the real path, this directory's (missing) lock file would let the deploy through.
    let alt = seed_service(&bed, "alt", |y| y);
    std::fs::remove_file(alt.join("serverless.yml")).unwrap();
    std::os::unix::fs::symlink("../svc/serverless.yml", alt.join("serverless.yml")).unwrap();

    let before = settled_count(&moto);
    let r = run(
        &bed,
        &dir,
        &[
            "up",
            "-s",
            "dev",
            "-c",
            "../alt/serverless.yml",
            "--aws-profile",
            "default",
            "--json",
        ],
        &[],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let real = std::fs::canonicalize(&dir)
        .unwrap()
        .join("deployer.accounts.json");
    assert!(
        r.stderr.contains(&format!(
            "stage dev is recorded for account {DEV_ACCOUNT} in {}",
            real.display()
        )),
        "{}",
        r.stderr
    );
    assert_eq!(
        settled_count(&moto) - before,
        1,
        "only STS GetCallerIdentity"
    );
    assert!(
        !alt.join("deployer.accounts.json").exists(),
        "no second lock file next to the link"
    );
}
