//! Whole-process benchmark of the inner loop.
//!
//! `invoke local` of a Node and a Python handler (no AWS): deployer next to Serverless v3's
//! `serverless invoke local` on the same service, when `SERVERLESS3_BIN` names a Serverless v3
//! CLI (`npm install --prefix DIR serverless@3.40.0`, then
//! `SERVERLESS3_BIN=DIR/node_modules/.bin/serverless`); without it the comparison is skipped
//! and says so. Target: deployer ≥ 10× faster.
//!
//! `watch`: a TypeScript function (the seed with its handlers in TypeScript, bundled by
//! esbuild) deployed to moto, `deployer watch` running, and the time from a file write to
//! the new code's CodeSha256 on moto, polled every 10 ms. Target: < 1 s. Needs the pinned
//! esbuild of tests/tools (`npm ci --prefix tests/tools`) and `moto_server`.
//!
//! Run with `cargo bench -p deployer-cli --bench inner_loop` (optionally `-- <rounds>`).

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deployer_testbed::TestBed;

mod support;

const SERVICE: &str = "service: bench-local\nprovider:\n  name: aws\n  runtime: nodejs20.x\n  region: us-east-1\n  environment:\n    GREETING: hello\nfunctions:\n  node:\n    handler: handler.hello\n  python:\n    handler: app.handler\n    runtime: python3.11\n";
const NODE: &str =
    "exports.hello = async (event) => ({ greeting: process.env.GREETING, event });\n";
const PYTHON: &str = "import os\n\ndef handler(event, context):\n    return {'greeting': os.environ['GREETING'], 'event': event}\n";

fn local_service() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("serverless.yml"), SERVICE).unwrap();
    std::fs::write(dir.path().join("handler.js"), NODE).unwrap();
    std::fs::write(dir.path().join("app.py"), PYTHON).unwrap();
    dir
}

/// One timed run of `program ARGS` in `dir`; `None` when it failed (its output is shown).
fn timed(program: &Path, dir: &Path, args: &[&str]) -> Option<Duration> {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .args(args)
        .env("SLS_TELEMETRY_DISABLED", "1")
        .env("SLS_NOTIFICATIONS_MODE", "off")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    let start = Instant::now();
    let out = cmd.output().ok()?;
    let wall = start.elapsed();
    if !out.status.success() {
        eprintln!(
            "{} {args:?} failed:\n{}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(wall)
}

fn median(mut v: Vec<Duration>) -> Option<Duration> {
    v.sort();
    v.get(v.len() / 2).copied()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn bench_invoke_local(rounds: usize) {
    let dir = local_service();
    let deployer = PathBuf::from(env!("CARGO_BIN_EXE_deployer"));
    let serverless = std::env::var_os("SERVERLESS3_BIN").map(PathBuf::from);
    println!("invoke local ({rounds} rounds, median):");
    for function in ["node", "python"] {
        let args = ["invoke", "local", "-f", function, "-d", r#"{"n":1}"#];
        let ours: Vec<Duration> = (0..rounds)
            .filter_map(|_| timed(&deployer, dir.path(), &args))
            .collect();
        let ours = median(ours).expect("deployer invoke local ran");
        let theirs = serverless.as_ref().and_then(|bin| {
            median(
                (0..rounds)
                    .filter_map(|_| timed(bin, dir.path(), &args))
                    .collect(),
            )
        });
        match theirs {
            Some(t) => println!(
                "  {function:<7} deployer {:>7.1} ms   serverless v3 {:>7.1} ms   {:.1}x faster",
                ms(ours),
                ms(t),
                t.as_secs_f64() / ours.as_secs_f64()
            ),
            None => println!(
                "  {function:<7} deployer {:>7.1} ms   serverless v3: not measured (set \
                 SERVERLESS3_BIN to a Serverless v3 CLI)",
                ms(ours)
            ),
        }
    }
}

/// The seed (dev stage on devAccount) with its handlers in TypeScript, bundled by esbuild.
fn typescript_seed(bed: &TestBed<'_>, tools: &Path) -> PathBuf {
    let dir = support::service(bed, "benchwatch", |y| y);
    std::fs::remove_file(dir.join("handler.js")).unwrap();
    write_handler(&dir, 0);
    std::os::unix::fs::symlink(tools, dir.join("node_modules")).unwrap();
    dir
}

fn write_handler(dir: &Path, round: usize) {
    let text = format!(
        "export const hello = async (): Promise<{{ statusCode: number; body: string }}> => ({{\n  \
         statusCode: 200,\n  body: 'round {round}',\n}});\nexport const cron = async (): Promise<void> => {{}};\n"
    );
    std::fs::write(dir.join("handler.ts"), text).unwrap();
}

fn bench_watch(rounds: usize) {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/tools/node_modules");
    if !tools.join(".bin/esbuild").is_file() {
        println!("watch: not measured (no esbuild: run `npm ci --prefix tests/tools`)");
        return;
    }
    let bed = TestBed::standard();
    let dir = typescript_seed(&bed, &tools.canonicalize().unwrap());
    let up = support::run(&bed, &dir, &["up"]);
    println!(
        "watch: the TypeScript seed deployed in {:.1} ms ({} AWS calls, {} sequential)",
        ms(up.wall),
        up.calls,
        up.sequential
    );
    let (rt, lambda) = lambda_client(&bed);
    let sha = || {
        let out = rt
            .block_on(
                lambda
                    .get_function()
                    .function_name("benchwatch-dev-hello")
                    .send(),
            )
            .unwrap();
        out.configuration()
            .unwrap()
            .code_sha256()
            .unwrap()
            .to_string()
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deployer"));
    bed.apply(&mut cmd);
    cmd.current_dir(&dir)
        .args(["watch", "--stage", "dev", "-f", "hello", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("watching"), "{first}");
    let mut samples = Vec::new();
    for round in 1..=rounds {
        let before = sha();
        let start = Instant::now();
        write_handler(&dir, round);
        loop {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the change never landed"
            );
            if sha() != before {
                samples.push(start.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // Its line, so the next round starts after this one is reported.
        let _ = lines.next();
    }
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
    samples.sort();
    println!(
        "watch (TypeScript, {rounds} rounds): file write → new CodeSha256 on moto: median {:.1} ms  \
         min {:.1} ms  max {:.1} ms",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1])
    );
}

fn lambda_client(bed: &TestBed<'_>) -> (tokio::runtime::Runtime, aws_sdk_lambda::Client) {
    let key = bed.key("devAccount");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let conf = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region("us-east-1")
            .endpoint_url(bed.moto().endpoint())
            .credentials_provider(aws_credential_types::Credentials::new(
                key.access_key_id.clone(),
                key.secret_access_key.clone(),
                None,
                None,
                "bench",
            ))
            .load(),
    );
    (rt, aws_sdk_lambda::Client::new(&conf))
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    bench_invoke_local(rounds);
    bench_watch(rounds);
}
