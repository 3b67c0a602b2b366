//! Whole-process benchmark of `deployer print --stage prod` on the multi-account fixture:
//! start-up, loading, variable resolution and output, as a user runs it.
//!
//! Run with `cargo bench -p deployer-cli --bench print` (optionally `-- <runs>`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let service =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/multi-account/service");
    let run_once = || {
        let start = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_deployer"))
            .args(["print", "--stage", "prod"])
            .current_dir(&service)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run deployer");
        assert!(status.success(), "deployer print failed");
        start.elapsed()
    };
    // Warm the page cache so the first sample is not an outlier.
    for _ in 0..5 {
        run_once();
    }
    let mut samples: Vec<Duration> = (0..runs).map(|_| run_once()).collect();
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "deployer print --stage prod (multi-account), {runs} runs: min {:.2} ms, median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        ms(samples[0]),
        ms(pick(0.5)),
        ms(pick(0.95)),
        ms(samples[samples.len() - 1]),
    );
}
