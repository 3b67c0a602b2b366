//! Whole-process start-up of the distribution build (profile dist: LTO, one codegen unit,
//! stripped, dependencies optimised for size) against the release build: `deployer --version`,
//! `deployer print --stage prod` on the seed service, the peak RSS of that print, and
//! `deployer package --stage prod` of the seed service carrying a generated 2,000-file, 40 MB
//! tree (the work where code optimised for size could show: walking, deflate, SHA-256). The
//! binaries run alternately, so that the load of the machine weighs on all alike.
//!
//! Run with `cargo build --profile dist -p deployer-cli && cargo bench -p deployer-cli --bench
//! startup` (optionally `-- <runs>`). The dist binary is `<target dir>/dist/deployer`, or
//! DEPLOYER_DIST_BIN. Peak RSS needs GNU time (/usr/bin/time).
//!
//! Side by side with the tool users leave: when `SERVERLESS_BIN` names osls's CLI (`npm install
//! --prefix DIR osls@4.3.1`, then `SERVERLESS_BIN=DIR/node_modules/.bin/serverless`), its
//! `--version` and `print --stage prod` on the same service run too (a tenth of the runs).

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

/// Runs `args` in `dir` with each build alternately, `runs` counted rounds after 5 warm-up
/// ones, and prints each build's summary.
fn compare(builds: &[(&str, PathBuf)], dir: &Path, name: &str, args: &[&str], runs: usize) {
    let mut samples = vec![Vec::with_capacity(runs); builds.len()];
    for round in 0..runs + 5 {
        for (i, (_, bin)) in builds.iter().enumerate() {
            let took = run_once(bin, dir, args);
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

/// A copy of the seed service at `to` with `lib/`: 2,000 files of 20 kB, half repetitive
/// text (deflate's usual input) and half pseudo-random bytes (stored or barely compressed).
fn copy_with_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("lib")).expect("create the service");
    for name in ["serverless.yml", "handler.js", "package.json"] {
        std::fs::copy(from.join(name), to.join(name)).expect("copy the seed service");
    }
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for i in 0..2_000 {
        let dir = to.join(format!("lib/m{:02}", i % 40));
        std::fs::create_dir_all(&dir).expect("create a folder");
        let body: Vec<u8> = if i % 2 == 0 {
            format!("export const value{i} = {{ name: 'item-{i}', size: {i} }};\n")
                .repeat(20_000 / 48)
                .into_bytes()
        } else {
            (0..20_000)
                .map(|_| {
                    // xorshift64: incompressible bytes without a dependency.
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect()
        };
        std::fs::write(dir.join(format!("f{i}.js")), body).expect("write a file");
    }
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
    let osls = std::env::var_os("SERVERLESS_BIN").map(PathBuf::from);
    for (name, args) in cases {
        compare(&builds, &service, name, args, runs);
        if let Some(bin) = &osls {
            compare(
                &[("osls", bin.clone())],
                &service,
                name,
                args,
                runs.div_ceil(10),
            );
        }
    }
    let packaged = tempfile::tempdir().expect("temp dir");
    let big = packaged.path().join("service");
    copy_with_tree(&service, &big);
    let package = ["package", "--stage", "prod"];
    compare(
        &builds,
        &big,
        "package --stage prod (40 MB)",
        &package,
        runs.div_ceil(10),
    );
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
