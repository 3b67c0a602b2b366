//! Helpers for end-to-end tests: run the real `deployer` binary against a moto test bed, with
//! a copy of a fixture service, and check that no secret ever reaches its output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use deployer_testbed::TestBed;

/// What one run of the binary produced.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

impl Run {
    /// stdout parsed as the one JSON object of `--json`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// The `deployer` binary built for this test run.
pub fn deployer_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_deployer"))
}

/// The repository's fixture directory `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// Copy a directory tree (fixture services are small). Copies are writable even where the
/// fixture files are read-only; execute bits are kept.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            let mut perms = std::fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).unwrap();
        }
    }
}

/// Run `deployer` offline (no test bed) in `dir`, without colour or an ambient profile.
pub fn deployer_offline(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(deployer_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .output()
        .expect("run deployer")
}

/// [`deployer_offline`] as a [`Run`].
pub fn offline_run(dir: &Path, args: &[&str]) -> Run {
    let out = deployer_offline(dir, args);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: Duration::ZERO,
    }
}

/// A copy of the seed service (tests/fixtures/multi-account/service) in the bed's scratch
/// directory, with `edit` applied to its serverless.yml.
pub fn seed_service(bed: &TestBed<'_>, name: &str, edit: impl FnOnce(String) -> String) -> PathBuf {
    let dir = bed.path().join(name);
    copy_dir(&fixture("multi-account/service"), &dir);
    let yml = dir.join("serverless.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(&yml, edit(text)).unwrap();
    dir
}

/// Pin each stage of the seed to its account (prod → 111111111111, dev → 222222222222), the
/// way a user would: a per-stage map and `provider.allowedAccountIds`.
pub fn pin_seed(yml: String) -> String {
    let yml = yml.replacen(
        "custom:\n",
        "custom:\n  accounts:\n    prod: '111111111111'\n    dev: '222222222222'\n",
        1,
    );
    yml.replacen(
        "  region: us-east-1\n",
        "  region: us-east-1\n  allowedAccountIds:\n    - ${self:custom.accounts.${sls:stage}}\n",
        1,
    )
}

/// Run `deployer ARGS` in `dir` with the bed's environment plus `env`; stdin is empty (no
/// terminal). Asserts that no secret of the bed appears in stdout or stderr.
pub fn run(bed: &TestBed<'_>, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(deployer_bin());
    bed.apply(&mut cmd);
    cmd.current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let out = cmd.output().expect("running deployer");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    };
    bed.assert_no_secret(&run.stdout);
    bed.assert_no_secret(&run.stderr);
    run
}

/// The moto server's request count once it stops moving (a run's last requests may still be
/// in flight when the process exits).
pub fn settled_count(moto: &deployer_testbed::Moto) -> usize {
    let mut last = moto.api_request_count();
    loop {
        std::thread::sleep(Duration::from_millis(150));
        let now = moto.api_request_count();
        if now == last {
            return now;
        }
        last = now;
    }
}

/// Asserts that `text` contains `needle`, showing the whole text when it does not.
#[track_caller]
pub fn assert_has(text: &str, needle: &str) {
    assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
}

/// A runtime and the SDK configuration of `profile` of `bed`, straight to the moto server
/// (for checking what landed where).
pub fn sdk_config(
    bed: &TestBed<'_>,
    profile: &str,
) -> (tokio::runtime::Runtime, aws_config::SdkConfig) {
    let key = bed.key(profile);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let conf = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(deployer_aws::clients::https_client())
            .region("us-east-1")
            .endpoint_url(bed.moto().endpoint())
            .credentials_provider(aws_credential_types::Credentials::new(
                key.access_key_id.clone(),
                key.secret_access_key.clone(),
                None,
                None,
                "test",
            ))
            .load(),
    );
    (rt, conf)
}

/// An S3 client of `conf` with path-style addressing (moto serves buckets on its path).
pub fn s3_client(conf: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(true)
            .build(),
    )
}

/// Writes `text` to `path` as an executable script (a `credential_process`, a fake tool).
pub fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}
