//! Whole-process benchmark of the plugin host: `deployer package --offline` of the plugin-host
//! fixtures with their plugin run by the host, the same with the plugin left out
//! (`--ignore-plugin`, no host started) — the difference is the host's start and hook time —
//! and Serverless v3 (`serverless package`, the pinned 3.40.0 in tests/tools) on the same
//! service with the same plugin, side by side.
//!
//! Run with `cargo bench -p deployer-cli --bench plugin_host` (optionally `-- <runs>`), after
//! `npm ci --prefix tests/tools`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The fixtures measured, with the plugin each declares.
const FIXTURES: &[(&str, &str)] = &[
    ("aws-alerts", "serverless-plugin-aws-alerts"),
    ("service-proxy", "serverless-apigateway-service-proxy"),
    ("local-plugin", "./plugins/add-output"),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn time(program: &Path, args: &[&str], dir: &Path) -> Duration {
    let start = Instant::now();
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("SLS_TELEMETRY_DISABLED", "1")
        .env("SLS_NOTIFICATIONS_MODE", "off")
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run");
    assert!(
        status.success(),
        "{} {args:?} failed in {}",
        program.display(),
        dir.display()
    );
    start.elapsed()
}

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let modules = repo().join("tests/tools/node_modules");
    assert!(
        modules.join("serverless/package.json").is_file(),
        "run `npm ci --prefix tests/tools` first"
    );
    let deployer = PathBuf::from(env!("CARGO_BIN_EXE_deployer"));
    let serverless = modules.join(".bin/serverless");
    let scratch = tempfile::tempdir().unwrap();
    for (name, plugin) in FIXTURES {
        let dir = scratch.path().join(name);
        copy(
            &repo()
                .join("tests/fixtures/plugin-host")
                .join(name)
                .join("service"),
            &dir,
        );
        std::os::unix::fs::symlink(&modules, dir.join("node_modules")).unwrap();
        let hosted = ["package", "--stage", "dev", "--offline"];
        let without = [
            "package",
            "--stage",
            "dev",
            "--offline",
            "--ignore-plugin",
            plugin,
        ];
        time(&deployer, &hosted, &dir);
        let with_host = median((0..runs).map(|_| time(&deployer, &hosted, &dir)).collect());
        let no_host = median((0..runs).map(|_| time(&deployer, &without, &dir)).collect());
        let v3_runs = runs.clamp(1, 5);
        let v3 = median(
            (0..v3_runs)
                .map(|_| time(&serverless, &["package", "--stage", "dev"], &dir))
                .collect(),
        );
        println!(
            "{name} ({plugin}): deployer package with the plugin host {with_host:.1} ms, \
             without the plugin {no_host:.1} ms (host start + hooks {:.1} ms), \
             Serverless 3.40.0 {v3:.1} ms ({:.1}x) — medians of {runs} / {v3_runs} runs",
            with_host - no_host,
            v3 / with_host
        );
    }
}
