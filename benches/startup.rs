//! Whole-process start-up of the distribution build (profile dist: LTO, one codegen unit,
//! stripped) against the release build: `deployer --version`, `deployer print --stage prod` on
//! the seed service, and the peak RSS of that print. The two binaries run alternately, so that
//! the load of the machine weighs on both alike.
//!
//! Run with `cargo build --profile dist -p deployer-cli && cargo bench -p deployer-cli --bench
//! startup` (optionally `-- <runs>`). The dist binary is `<target dir>/dist/deployer`, or
//! DEPLOYER_DIST_BIN. Peak RSS needs GNU time (/usr/bin/time).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary of the dist profile next to this bench's (release) one.
fn dist_binary() -> Option<PathBuf> {
    let path = std::env::var_os("DEPLOYER_DIST_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            let release = Path::new(env!("CARGO_BIN_EXE_deployer"));
            Some(release.parent()?.parent()?.join("dist/deployer"))
        })?;
    path.is_file().then_some(path)
}

/// One run of `bin args` in `dir`, timed; panics when it fails.
fn run_once(bin: &Path, dir: &Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    let status = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run deployer");
    assert!(status.success(), "{} {args:?} failed", bin.display());
    start.elapsed()
}

/// Peak resident set size of one run, in KiB, as GNU time reports it (None without it).
fn peak_rss_kib(bin: &Path, dir: &Path, args: &[&str]) -> Option<u64> {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(bin)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr.lines().last()?.trim().parse().ok()
}

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    format!(
        "min {:.2} ms, median {:.2} ms, p95 {:.2} ms",
        ms(samples[0]),
        ms(pick(0.5)),
        ms(pick(0.95))
    )
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let service =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/multi-account/service");
    // This bench's own binary: the release build under `cargo bench` (its profile directory
    // names it, so that a run with another `--profile` says which build it measured).
    let own = PathBuf::from(env!("CARGO_BIN_EXE_deployer"));
    let own_build = own
        .parent()
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .map_or("release".to_string(), |name| name.replace("debug", "test"));
    let mut builds = vec![(own_build.as_str(), own)];
    match dist_binary() {
        Some(dist) => builds.push(("dist", dist)),
        None => println!(
            "no dist binary (build it: cargo build --profile dist -p deployer-cli); release only"
        ),
    }
    let cases: [(&str, &[&str]); 2] = [
        ("--version", &["--version"]),
        ("print --stage prod", &["print", "--stage", "prod"]),
    ];
    for (name, args) in cases {
        let mut samples = vec![Vec::with_capacity(runs); builds.len()];
        for round in 0..runs + 5 {
            for (i, (_, bin)) in builds.iter().enumerate() {
                let took = run_once(bin, &service, args);
                // The first rounds warm the page cache and are not counted.
                if round >= 5 {
                    samples[i].push(took);
                }
            }
        }
        for ((build, _), samples) in builds.iter().zip(samples) {
            println!(
                "deployer {name} ({build}), {runs} runs: {}",
                summary(samples)
            );
        }
    }
    for (build, bin) in &builds {
        let mut rss: Vec<u64> = (0..20)
            .filter_map(|_| peak_rss_kib(bin, &service, &["print", "--stage", "prod"]))
            .collect();
        rss.sort();
        match rss.get(rss.len() / 2) {
            Some(kib) => println!(
                "deployer print --stage prod ({build}): peak RSS {:.1} MiB (median of {})",
                *kib as f64 / 1024.0,
                rss.len()
            ),
            None => println!("peak RSS ({build}): /usr/bin/time (GNU time) is not installed"),
        }
    }
    for (build, bin) in &builds {
        let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0);
        println!("binary ({build}): {:.1} MB", size as f64 / 1e6);
    }
}
