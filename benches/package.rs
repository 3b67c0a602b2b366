//! Benchmarks of `deployer package` (`cargo bench -p deployer-cli --bench package`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    whole_process();
}

// ---------------------------------------------------------------------------------------------
// Whole process: `deployer package --stage prod --package <tmp>` on each fixture, as a user
// runs it (process start, config resolution, zips, templates, manifest). Target: median under
// 50 ms (Serverless v3 takes about 3–4 s for the same).
// ---------------------------------------------------------------------------------------------

/// Runs per fixture.
const RUNS: usize = 50;
const FIXTURES: [&str; 3] = ["multi-account", "rest-api", "events"];

fn whole_process() {
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
