//! The npm packages, as a Serverless user installs them: the packages built by
//! scripts/npm-packages.mjs around this test build's binary, packed with `npm pack`, installed
//! from the tarballs into a copy of the seed service (offline, with its own npm cache), then
//! `npx deployer` run there.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{copy_dir, deployer_bin, fixture, write_script};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The release target whose npm package this machine installs, if it is one npm has.
fn host_target() -> Option<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some("x86_64-unknown-linux-musl"),
        ("linux", "aarch64") => Some("aarch64-unknown-linux-musl"),
        ("macos", "x86_64") => Some("x86_64-apple-darwin"),
        ("macos", "aarch64") => Some("aarch64-apple-darwin"),
        _ => None,
    }
}

fn tools_present() -> bool {
    ["node", "npm"].iter().all(|tool| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// `program args` in `dir` with npm isolated: its own cache and user config, never the network.
fn npm_env(program: &str, dir: &Path, scratch: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("npm_config_cache", scratch.join("npm-cache"))
        .env("npm_config_userconfig", scratch.join("npmrc"))
        .env("npm_config_offline", "true")
        .env("npm_config_audit", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_update_notifier", "false")
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("DEPLOYER_BINARY_PATH")
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn ok(out: Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what}: {}\n{stderr}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The test binary, stripped when `strip` is there: a debug build is hundreds of MB of debug
/// information that packing would compress for minutes (release binaries are stripped too).
fn packable_binary(scratch: &Path) -> PathBuf {
    let copy = scratch.join("deployer");
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&copy)
        .arg(deployer_bin())
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(deployer_bin(), &copy).unwrap();
    }
    copy
}

/// Builds and packs the packages; returns the main and the platform tarball.
fn pack(scratch: &Path, target: &str) -> (PathBuf, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/npm-packages.mjs");
    let binary = packable_binary(scratch);
    let out_dir = scratch.join("packages");
    let given = format!("{target}={}", binary.display());
    let args = [
        script.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--pack",
        &given,
    ];
    ok(npm_env("node", scratch, scratch, &args), "npm-packages.mjs");
    let suffix = match target {
        "x86_64-unknown-linux-musl" => "linux-x64",
        "aarch64-unknown-linux-musl" => "linux-arm64",
        "x86_64-apple-darwin" => "darwin-x64",
        _ => "darwin-arm64",
    };
    let main = out_dir.join(format!("deployer-rs-deployer-{VERSION}.tgz"));
    let platform = out_dir.join(format!("deployer-rs-deployer-{suffix}-{VERSION}.tgz"));
    assert!(
        main.is_file() && platform.is_file(),
        "tarballs in {}",
        out_dir.display()
    );
    // The main package is the launcher only: the binary comes with the platform package.
    let main_size = std::fs::metadata(&main).unwrap().len();
    assert!(main_size < 16 * 1024, "main package is {main_size} bytes");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("deployer/package.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["version"], VERSION);
    let optional = manifest["optionalDependencies"].as_object().unwrap();
    assert_eq!(optional.len(), 4, "{optional:?}");
    assert_eq!(
        optional[&format!("@deployer-rs/deployer-{suffix}")],
        VERSION
    );
    (main, platform)
}

#[test]
fn npm_packages_install_from_tarballs_and_run_deployer() {
    if !tools_present() {
        eprintln!("skipping the npm package test: node and npm are not both on PATH");
        return;
    }
    let Some(target) = host_target() else {
        eprintln!("skipping the npm package test: no npm platform package for this machine");
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let scratch = scratch.path();
    std::fs::write(scratch.join("npmrc"), "").unwrap();
    let (main, platform) = pack(scratch, target);

    // A Serverless service with a package.json, as users have: `npm i -D` the packages.
    let service = scratch.join("service");
    copy_dir(&fixture("multi-account/service"), &service);
    let install = [
        "install",
        "--save-dev",
        platform.to_str().unwrap(),
        main.to_str().unwrap(),
    ];
    ok(npm_env("npm", &service, scratch, &install), "npm install");

    let version = ok(
        npm_env("npx", &service, scratch, &["deployer", "--version"]),
        "--version",
    );
    assert_eq!(version.trim(), format!("deployer {VERSION}"));

    let printed = ok(
        npm_env(
            "npx",
            &service,
            scratch,
            &["deployer", "print", "--stage", "dev"],
        ),
        "npx deployer print",
    );
    let expected = fixture("multi-account/expected/serverless-v3/dev/print.yml");
    let expected: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(expected).unwrap()).unwrap();
    let printed: serde_yaml::Value = serde_yaml::from_str(&printed).unwrap();
    assert_eq!(printed, expected);

    // The exit code passes through: a usage error is 2, as from the binary itself.
    let usage = npm_env(
        "npx",
        &service,
        scratch,
        &["deployer", "print", "--no-such-flag"],
    );
    assert_eq!(usage.status.code(), Some(2), "{usage:?}");

    signals_reach_the_binary(&service, scratch);
}

/// SIGTERM sent to the launcher reaches the binary, and the launcher ends as the binary did.
/// The binary here is a script (DEPLOYER_BINARY_PATH) that records the signal it gets.
fn signals_reach_the_binary(service: &Path, scratch: &Path) {
    let marker = scratch.join("signal.txt");
    let stand_in = scratch.join("stand-in.sh");
    write_script(
        &stand_in,
        &format!(
            "#!/bin/sh\ntrap 'kill $! 2>/dev/null; echo TERM > {m}; exit 143' TERM\necho started > {m}\n\
             sleep 30 & wait $!\necho timeout > {m}\n",
            m = marker.display()
        ),
    );
    let launcher = service.join("node_modules/@deployer-rs/deployer/bin/deployer.js");
    let mut child = Command::new("node")
        .arg(&launcher)
        .env("DEPLOYER_BINARY_PATH", &stand_in)
        .spawn()
        .expect("run the launcher");
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&marker).map_or(true, |s| s.trim() != "started") {
        assert!(
            started.elapsed().as_secs() < 20,
            "the stand-in never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), "TERM");
    assert_eq!(status.code(), Some(143), "{status:?}");
}
