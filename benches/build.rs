//! Build benchmarks of the library (`cargo bench -p deployer-package --bench build`, or in a
//! debug build `cargo test -p deployer-package --bench build`): plan + build + package of
//! - a 10-function TypeScript service (each handler imports a shared module and zod) with the
//!   pinned esbuild of tests/tools: cold (empty cache), warm (unchanged), one handler changed;
//! - a Python service with 3 requirements (six, python-dateutil, MarkupSafe): cold (empty
//!   cache, wheels downloaded from PyPI), warm.
//!
//! Needs `npm ci` in tests/tools (scripts/test.sh does it) and network access to PyPI.
//! `DEPLOYER_BENCH_RUNS` sets the number of warm runs (median reported).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use deployer_config::model::Service;
use deployer_package::build::{self, BuildSettings};
use deployer_package::{FunctionPackaging, PackageRequest, package_with};

const FUNCTIONS: usize = 10;

fn main() {
    let runs: usize = std::env::var("DEPLOYER_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/tools/node_modules");
    let tools = tools
        .canonicalize()
        .expect("tests/tools/node_modules: run `npm ci --prefix tests/tools` first");

    let ts = tempfile::tempdir().unwrap();
    typescript_service(ts.path(), &tools);
    let cold = once(ts.path());
    let warm = median(runs, || once(ts.path()));
    let handler = ts.path().join("src/handlers/fn3.ts");
    let changed = median(runs, || {
        let text = std::fs::read_to_string(&handler).unwrap();
        std::fs::write(&handler, format!("{text}// edit\n")).unwrap();
        once(ts.path())
    });
    println!(
        "typescript, {FUNCTIONS} functions: cold {cold:?}, warm {warm:?} (median of {runs}), one handler changed {changed:?}"
    );

    let py = tempfile::tempdir().unwrap();
    python_service(py.path());
    let cold = once(py.path());
    let warm = median(runs, || once(py.path()));
    println!("python, 3 requirements: cold {cold:?}, warm {warm:?} (median of {runs})");
}

fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut samples: Vec<Duration> = (0..runs.max(1)).map(|_| f()).collect();
    samples.sort();
    samples[samples.len() / 2]
}

/// plan → build → package_with, as the operations layer runs them.
fn once(dir: &Path) -> Duration {
    let start = Instant::now();
    let text = std::fs::read_to_string(dir.join("serverless.yml")).unwrap();
    let value: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    let service = Service::from_value(&value).unwrap();
    let plan = build::plan(&service, dir).unwrap();
    let output = build::build(&plan, &BuildSettings::for_service(dir)).unwrap();
    let request = PackageRequest {
        service_dir: dir.to_path_buf(),
        service_name: service.service.clone(),
        config_file: Some("serverless.yml".into()),
        functions: service
            .functions
            .keys()
            .map(|key| FunctionPackaging {
                key: key.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    package_with(
        &request,
        &dir.join(".serverless"),
        &output.package_options(true),
    )
    .unwrap();
    start.elapsed()
}

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn typescript_service(dir: &Path, tools: &Path) {
    let mut yml =
        String::from("service: bench\nprovider:\n  name: aws\n  runtime: nodejs22.x\nfunctions:\n");
    for i in 0..FUNCTIONS {
        yml.push_str(&format!(
            "  fn{i}:\n    handler: src/handlers/fn{i}.handler\n"
        ));
        write(
            dir,
            &format!("src/handlers/fn{i}.ts"),
            &format!(
                "import {{ z }} from 'zod';\nimport {{ reply }} from '../lib/reply';\nconst Body = z.object({{ n: z.number() }});\nexport const handler = async (e: {{ body: string }}) => reply({i}, Body.parse(JSON.parse(e.body)));\n"
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
        r#"{"name": "bench", "dependencies": {"zod": "3.23.8"}}"#,
    );
    std::os::unix::fs::symlink(tools, dir.join("node_modules")).unwrap();
}

fn python_service(dir: &Path) {
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
}
