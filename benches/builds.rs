//! Whole-process benchmark of builds through the real binary:
//! - `deployer package` of a 10-function TypeScript service (each handler imports a shared
//!   module and zod; `plugins: [serverless-esbuild]`): cold (empty build cache), warm
//!   (unchanged), one handler changed;
//! - `deployer package` of a Python service with 3 requirements: cold (empty cache, wheels
//!   from PyPI), warm;
//! - `deployer up` against moto of a 5-function TypeScript service, unchanged, next to the
//!   same service in plain JavaScript.
//!
//! Run with `cargo bench -p deployer-cli --bench builds` (optionally `-- <runs>`); needs
//! `npm ci --prefix tests/tools` (the pinned esbuild and zod), `moto_server` and PyPI.
//!
//! With `DEPLOYER_BENCH_SERVERLESS=<dir>` (a directory whose `node_modules` holds serverless,
//! serverless-esbuild, esbuild and zod), the same generated TypeScript service is also packaged
//! with `<dir>/node_modules/.bin/serverless package`, cold and warm, for comparison.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deployer_testbed::{Moto, ProfileSpec, TestBed};

const PACKAGE_FUNCTIONS: usize = 10;
const DEPLOY_FUNCTIONS: usize = 5;

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let tools = repo().join("tests/tools/node_modules");
    let tools = tools
        .canonicalize()
        .expect("tests/tools/node_modules: run `npm ci --prefix tests/tools` first");
    typescript_package(runs, &tools);
    if let Ok(dir) = std::env::var("DEPLOYER_BENCH_SERVERLESS") {
        serverless_package(runs, &PathBuf::from(dir).join("node_modules"));
    }
    python_package(runs);
    unchanged_up(runs, &tools);
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median and the fastest of some runs.
#[derive(Clone, Copy)]
struct Stat {
    median: Duration,
    min: Duration,
}

impl std::fmt::Display for Stat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} ms (min {:.1})", ms(self.median), ms(self.min))
    }
}

fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Stat {
    let mut samples: Vec<Duration> = (0..runs.max(1)).map(|_| f()).collect();
    samples.sort();
    Stat {
        median: samples[samples.len() / 2],
        min: samples[0],
    }
}

/// Runs `cmd` to success and returns its wall time.
fn timed(cmd: &mut Command) -> Duration {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd.output().expect("run the command");
    let wall = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    wall
}

fn deployer(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deployer"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1");
    cmd
}

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// A TypeScript service of `functions` handlers bundled as serverless-esbuild would.
fn typescript_service(dir: &Path, name: &str, functions: usize, node_modules: &Path) {
    let mut yml = format!(
        "service: {name}\nframeworkVersion: '3'\nplugins:\n  - serverless-esbuild\n\
         provider:\n  name: aws\n  runtime: nodejs22.x\n  region: us-east-1\n\
         custom:\n  esbuild:\n    bundle: true\n    target: node22\nfunctions:\n"
    );
    for i in 0..functions {
        yml.push_str(&format!(
            "  fn{i}:\n    handler: src/handlers/fn{i}.handler\n"
        ));
        write(
            dir,
            &format!("src/handlers/fn{i}.ts"),
            &format!(
                "import {{ z }} from 'zod';\nimport {{ reply }} from '../lib/reply';\n\
                 const Body = z.object({{ n: z.number() }});\n\
                 export const handler = async (e: {{ body: string }}) => reply({i}, Body.parse(JSON.parse(e.body)));\n"
            ),
        );
    }
    write(dir, "serverless.yml", &yml);
    write(
        dir,
        "src/lib/reply.ts",
        "export const reply = (id: number, body: unknown) => ({ statusCode: 200, body: JSON.stringify({ id, body }) });\n",
    );
    write(
        dir,
        "package.json",
        &format!(r#"{{"name": "{name}", "private": true, "dependencies": {{"zod": "3.23.8"}}}}"#),
    );
    std::os::unix::fs::symlink(node_modules, dir.join("node_modules")).unwrap();
}

/// Cold, warm and one-file-changed timings of `package` in `dir`.
fn cold_warm_changed(runs: usize, dir: &Path, package: &dyn Fn() -> Duration) -> [Stat; 3] {
    let cold = median(1, package);
    let warm = median(runs, package);
    let handler = dir.join("src/handlers/fn3.ts");
    let changed = median(runs, || {
        let text = std::fs::read_to_string(&handler).unwrap();
        std::fs::write(&handler, format!("{text}// edit\n")).unwrap();
        package()
    });
    [cold, warm, changed]
}

fn typescript_package(runs: usize, tools: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    typescript_service(dir, "bench", PACKAGE_FUNCTIONS, tools);
    let [cold, warm, changed] =
        cold_warm_changed(runs, dir, &|| timed(&mut deployer(dir, &["package"])));
    println!(
        "deployer package, TypeScript, {PACKAGE_FUNCTIONS} functions: cold {:.1} ms, warm {warm}, \
         one handler changed {changed} (medians of {runs})",
        ms(cold.median),
    );
}

fn serverless_package(runs: usize, node_modules: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    typescript_service(dir, "bench", PACKAGE_FUNCTIONS, node_modules);
    let bin = node_modules.join(".bin/serverless");
    let package = || {
        timed(
            Command::new(&bin)
                .arg("package")
                .current_dir(dir)
                .env("SLS_TELEMETRY_DISABLED", "1")
                .env("SLS_NOTIFICATIONS_MODE", "off")
                .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
                .env("AWS_SECRET_ACCESS_KEY", "bench")
                .env_remove("AWS_PROFILE"),
        )
    };
    let [cold, warm, changed] = cold_warm_changed(runs, dir, &package);
    println!(
        "serverless package + serverless-esbuild, same service: cold {:.1} ms, warm {warm}, \
         one handler changed {changed} (medians of {runs})",
        ms(cold.median),
    );
}

fn python_package(runs: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(
        dir,
        "serverless.yml",
        "service: benchpy\nplugins:\n  - serverless-python-requirements\nprovider:\n  name: aws\n  runtime: python3.11\nfunctions:\n  f:\n    handler: handler.main\n",
    );
    write(
        dir,
        "handler.py",
        "import six, dateutil, markupsafe\n\ndef main(e, c):\n    return 1\n",
    );
    write(
        dir,
        "requirements.txt",
        "six==1.17.0\npython-dateutil==2.9.0.post0\nMarkupSafe==3.0.2\n",
    );
    let package = || timed(&mut deployer(dir, &["package"]));
    let cold = package();
    let warm = median(runs, package);
    println!(
        "deployer package, Python, 3 requirements: cold {:.1} ms, warm {warm} (median of {runs})",
        ms(cold),
    );
}

/// A plain JavaScript service with the same functions, for the comparison.
fn javascript_service(dir: &Path, name: &str, functions: usize) {
    let mut yml = format!(
        "service: {name}\nprovider:\n  name: aws\n  runtime: nodejs22.x\n  region: us-east-1\nfunctions:\n"
    );
    for i in 0..functions {
        yml.push_str(&format!("  fn{i}:\n    handler: src/fn{i}.handler\n"));
        write(
            dir,
            &format!("src/fn{i}.js"),
            &format!("exports.handler = async () => ({{ statusCode: 200, body: '{i}' }});\n"),
        );
    }
    write(dir, "serverless.yml", &yml);
}

fn unchanged_up(runs: usize, tools: &Path) {
    let moto = Moto::start().expect("starting moto_server (run `make test` to install it)");
    let bed = TestBed::with_profiles(&moto, &[ProfileSpec::new("default", "111111111111")])
        .expect("provisioning accounts");
    let up = |dir: &Path| {
        let mut cmd = deployer(dir, &["up", "--json"]);
        bed.apply(&mut cmd);
        timed(&mut cmd)
    };
    // moto imports its CloudFormation models on the first stack call: warm up.
    let warmup = bed.path().join("warmup");
    javascript_service(&warmup, "warmup", 1);
    up(&warmup);

    let ts = bed.path().join("ts");
    typescript_service(&ts, "benchts", DEPLOY_FUNCTIONS, tools);
    let js = bed.path().join("js");
    javascript_service(&js, "benchjs", DEPLOY_FUNCTIONS);
    for (label, dir) in [("TypeScript", &ts), ("plain JavaScript", &js)] {
        let first = up(dir);
        let unchanged = median(runs, || up(dir));
        println!(
            "deployer up against moto, {DEPLOY_FUNCTIONS} {label} functions: first {:.1} ms, \
             unchanged {unchanged} (median of {runs})",
            ms(first),
        );
    }
}
