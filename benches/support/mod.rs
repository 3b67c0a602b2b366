//! What the whole-process benchmarks against moto share: one timed run of the real binary
//! and a copy of the seed service.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deployer_testbed::TestBed;

/// One timed run of `deployer ARGS --json`.
pub struct Sample {
    /// Wall-clock time of the whole process.
    pub wall: Duration,
    /// AWS calls it made (`awsCalls.total`).
    pub calls: u64,
    /// Of those, the ones on the critical path (`awsCalls.sequential`).
    pub sequential: u64,
}

/// Runs `deployer ARGS --json` in `dir` with the bed's environment; panics when it fails.
pub fn run(bed: &TestBed<'_>, dir: &Path, args: &[&str]) -> Sample {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deployer"));
    bed.apply(&mut cmd);
    cmd.current_dir(dir)
        .args(args)
        .arg("--json")
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd.output().expect("run deployer");
    let wall = start.elapsed();
    assert!(
        out.status.success(),
        "deployer {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json output");
    Sample {
        wall,
        calls: json["awsCalls"]["total"].as_u64().unwrap_or(0),
        sequential: json["awsCalls"]["sequential"].as_u64().unwrap_or(0),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of the seed service (tests/fixtures/multi-account/service) named `name` in the bed's
/// directory, with `edit` applied to its serverless.yml.
pub fn service(bed: &TestBed<'_>, name: &str, edit: impl FnOnce(String) -> String) -> PathBuf {
    let seed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/multi-account/service");
    let dir = bed.path().join(name);
    copy_dir(&seed, &dir);
    let yml = dir.join("serverless.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    let text = text.replacen("service: service-name", &format!("service: {name}"), 1);
    std::fs::write(&yml, edit(text)).unwrap();
    dir
}
