//! Packaging benchmarks (`cargo bench -p deployer-cli --bench package`).
//!
//! Section 1 compares `deployer_package::package` with Info-ZIP's `zip -r -X -q` on the same
//! generated trees, on the same machine:
//! - one service zip of a 20,000-file / ~200 MB tree (compressible text and random bytes);
//! - a 10-function service packaged individually (each zip = shared code + the function's dir),
//!   against one `zip` run per function.
//!
//! Section 2 runs the whole `deployer package --stage prod` process on each fixture (target:
//! median under 50 ms).
//!
//! Each figure is the median of several runs after a warm-up run (files in the page cache).
//! `DEPLOYER_BENCH_RUNS` overrides the number of runs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use deployer_package::{FunctionPackaging, PackageRequest, package};

const BIG_FILES: usize = 20_000;
const BIG_BYTES: u64 = 200_000_000;
const FUNCTIONS: usize = 10;
const ZIP: &str = "/usr/bin/zip";

fn main() {
    bench_package_command();
    bench_package_crate_vs_zip();
}

/// Section 1: the packaging crate against `zip -r -X -q`.
fn bench_package_crate_vs_zip() {
    println!("== deployer-package vs `zip -r -X -q` ({} cores)", cores());
    let runs = runs();
    let root = tempfile::tempdir().expect("temp dir");

    let big = root.path().join("big");
    let started = Instant::now();
    let (files, bytes) = generate_tree(&big, BIG_FILES, BIG_BYTES, 1);
    println!(
        "generated {files} files, {:.1} MB in {:.1} s",
        mb(bytes),
        started.elapsed().as_secs_f64()
    );
    let request = PackageRequest {
        service_dir: big.clone(),
        service_name: "big".into(),
        functions: vec![FunctionPackaging {
            key: "handler".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let out = root.path().join("out-big");
    compare(
        "single zip, 20k files",
        files,
        bytes,
        runs,
        || run_crate(&request, &out),
        || {
            let jobs = [("big.zip".to_string(), vec![".".to_string()])];
            run_zip(&big, &root.path().join("zip-big"), &jobs)
        },
    );

    let multi = root.path().join("multi");
    let (shared_files, shared_bytes) = generate_tree(&multi.join("shared"), 1_000, 10_000_000, 2);
    let mut request = PackageRequest {
        service_dir: multi.clone(),
        service_name: "multi".into(),
        individually: true,
        patterns: vec!["!**".into(), "shared/**".into()],
        ..Default::default()
    };
    let (mut files, mut bytes) = (0, 0);
    let mut zip_jobs = Vec::new();
    for index in 0..FUNCTIONS {
        let key = format!("fn{index}");
        let (f, b) = generate_tree(&multi.join(&key), 200, 2_000_000, 10 + index as u64);
        files += f + shared_files;
        bytes += b + shared_bytes;
        request.functions.push(FunctionPackaging {
            key: key.clone(),
            patterns: vec![format!("{key}/**")],
            ..Default::default()
        });
        zip_jobs.push((format!("{key}.zip"), vec!["shared".to_string(), key]));
    }
    let out = root.path().join("out-multi");
    compare(
        "10 functions, individually",
        files,
        bytes,
        runs,
        || run_crate(&request, &out),
        || run_zip(&multi, &root.path().join("zip-multi"), &zip_jobs),
    );
}

/// Runs both tools (one warm-up each, then `runs` alternating timed runs) and prints
/// throughput; each closure returns the total size of the zips it wrote.
fn compare(
    label: &str,
    files: usize,
    bytes: u64,
    runs: usize,
    mut ours: impl FnMut() -> u64,
    mut zip: impl FnMut() -> u64,
) {
    let our_size = ours();
    let zip_size = zip();
    let (mut our_times, mut zip_times) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        our_times.push(time(&mut ours));
        zip_times.push(time(&mut zip));
    }
    let our_median = median(&mut our_times);
    let zip_median = median(&mut zip_times);
    println!(
        "-- {label}: {files} files, {:.1} MB input, {runs} runs",
        mb(bytes)
    );
    report("deployer-package", our_median, files, bytes, our_size);
    report("zip -r -X -q", zip_median, files, bytes, zip_size);
    println!(
        "   speedup {:.2}x",
        zip_median.as_secs_f64() / our_median.as_secs_f64()
    );
}

fn report(tool: &str, elapsed: Duration, files: usize, bytes: u64, output: u64) {
    let secs = elapsed.as_secs_f64();
    println!(
        "   {tool:<18} median {:>8.3} s {:>9.1} MB/s {:>10.0} files/s   output {:.1} MB",
        secs,
        mb(bytes) / secs,
        files as f64 / secs,
        mb(output)
    );
}

fn run_crate(request: &PackageRequest, out: &Path) -> u64 {
    let _ = fs::remove_dir_all(out);
    let result = package(request, out).expect("package");
    result.artifacts.iter().map(|a| a.size).sum()
}

/// For each (zip name, paths): `zip -r -X -q <dest>/<zip name> <paths>...` run from `cwd`,
/// one process per zip as a build script would do.
fn run_zip(cwd: &Path, dest: &Path, jobs: &[(String, Vec<String>)]) -> u64 {
    let _ = fs::remove_dir_all(dest);
    fs::create_dir_all(dest).expect("zip output dir");
    let mut total = 0;
    for (name, paths) in jobs {
        let status = Command::new(ZIP)
            .current_dir(cwd)
            .args(["-r", "-X", "-q"])
            .arg(dest.join(name))
            .args(paths)
            .status()
            .expect("run /usr/bin/zip");
        assert!(status.success(), "zip failed for {name}");
        total += fs::metadata(dest.join(name)).expect("zip output").len();
    }
    total
}

fn time(f: &mut impl FnMut() -> u64) -> Duration {
    let started = Instant::now();
    std::hint::black_box(f());
    started.elapsed()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn runs() -> usize {
    std::env::var("DEPLOYER_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(3)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Deterministic generator (SplitMix64) so every run and machine sees the same tree.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: [&str; 24] = [
    "const", "return", "function", "export", "import", "async", "await", "value", "handler",
    "event", "context", "items", "table", "request", "response", "error", "status", "body",
    "record", "stream", "query", "result", "config", "stage",
];

/// Writes `files` files of about `bytes` in total under `dir`: 100 files per directory, two in
/// three are source-like text (compresses about 4x), one in three random bytes (does not
/// compress), sizes spread from 0 to twice the mean.
fn generate_tree(dir: &Path, files: usize, bytes: u64, seed: u64) -> (usize, u64) {
    let mut rng = Rng(seed);
    let mean = bytes / files as u64;
    let mut total = 0;
    for index in 0..files {
        let path: PathBuf = dir.join(format!("pkg{:03}", index / 100)).join(format!(
            "file{index:05}.{}",
            if index % 3 == 2 { "bin" } else { "js" }
        ));
        let size = rng.below(2 * mean + 1) as usize;
        let mut content = Vec::with_capacity(size + 16);
        if index % 3 == 2 {
            while content.len() < size {
                content.extend_from_slice(&rng.next().to_le_bytes());
            }
        } else {
            let mut line = 0;
            while content.len() < size {
                line += 1;
                content.extend_from_slice(format!("{line:>5} ").as_bytes());
                for _ in 0..8 {
                    content.extend_from_slice(
                        WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes(),
                    );
                    content.push(b' ');
                }
                content.push(b'\n');
            }
        }
        content.truncate(size);
        if index % 100 == 0 {
            fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
        }
        fs::write(&path, &content).expect("write generated file");
        total += content.len() as u64;
    }
    (files, total)
}

// ---------------------------------------------------------------------------------------------
// Whole process: `deployer package --stage prod --package <tmp>` on each fixture, as a user
// runs it (process start, config resolution, zips, templates, manifest). Target: median under
// 50 ms (Serverless v3 takes about 3–4 s for the same).
// ---------------------------------------------------------------------------------------------

/// Runs per fixture.
const RUNS: usize = 50;
const FIXTURES: [&str; 3] = ["multi-account", "rest-api", "events"];

/// Section 2: the whole `deployer package` process on each fixture.
fn bench_package_command() {
    let binary = env!("CARGO_BIN_EXE_deployer");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    println!("deployer package --stage prod --package <tmp>, whole process, {RUNS} runs each");
    println!(
        "{:<16} {:>9} {:>9} {:>9}",
        "fixture", "min ms", "median ms", "p95 ms"
    );
    for fixture in FIXTURES {
        let work = tempfile::tempdir().expect("temporary directory");
        let service = work.path().join("service");
        copy_tree(&fixtures.join(fixture).join("service"), &service);
        let out_dir = work.path().join("package");
        let run = || {
            let start = Instant::now();
            let status = Command::new(binary)
                .args(["package", "--stage", "prod", "--package"])
                .arg(&out_dir)
                .current_dir(&service)
                .env("NO_COLOR", "1")
                .stdout(std::process::Stdio::null())
                .status()
                .expect("run deployer");
            let elapsed = start.elapsed();
            assert!(status.success(), "deployer package failed on {fixture}");
            elapsed
        };
        // One warm-up run (page cache, first directory creation) that is not measured.
        run();
        let mut times: Vec<Duration> = (0..RUNS).map(|_| run()).collect();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let p95 = times[(times.len() * 95).div_ceil(100) - 1];
        println!(
            "{fixture:<16} {:>9.1} {:>9.1} {:>9.1}",
            ms(times[0]),
            ms(times[times.len() / 2]),
            ms(p95)
        );
    }
}

/// Copies a directory tree; copies are writable (the fixtures are read-only).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create directory");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("read fixture entry");
        let target: PathBuf = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy fixture file");
            let mut perms = std::fs::metadata(&target).expect("metadata").permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).expect("make writable");
        }
    }
}
