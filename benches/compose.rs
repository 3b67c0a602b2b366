//! Whole-process benchmark of `deployer up` at a compose root against moto: a generated
//! project of 10 services in 3 waves (4 producers exporting a queue URL; 4 consumers each
//! reading one producer's output through params; 2 services depending on two consumers
//! each), all in one account. Full deploy, then an unchanged redeploy, then remove. With
//! `--max-concurrency 4`, the full deploy's wall time should be near three services' deploys
//! (the longest chain), not ten.
//!
//! Every service (and the single one timed alone) is the seed with `deploymentMethod: direct`
//! and without its `httpApi` event, for both CLIs, because of two limits of moto 5.2.1 that
//! stop osls: its ValidateTemplate fails on cfn-lint's first finding, and osls's HTTP API
//! template draws warning W3005 ("The CloudFormation template is invalid: ... dependency
//! already enforced by a 'Ref' ..."); and a stack updated through a change set keeps no
//! Outputs in DescribeStacks, so Compose cannot read `${s0.JobsQueueUrl}`.
//!
//! When `SERVERLESS_BIN` names osls's CLI (`npm install --prefix DIR osls@4.3.1
//! @osls/compose@1.9.2`, then `SERVERLESS_BIN=DIR/node_modules/.bin/serverless`), the same
//! steps run through osls's Compose on the same moto (`AWS_ENDPOINT_URL`), with the same
//! profiles, on a second copy of the project: `serverless deploy` at the compose root, twice,
//! then `serverless remove`. osls hands a compose root to `@osls/compose`, which it looks up
//! from the working directory (here through `NODE_PATH`, DIR/node_modules), and Compose runs
//! `serverless` per service from PATH (here DIR/node_modules/.bin first). When osls fails, the
//! bench prints "not measured" with its error.
//!
//! Run with `cargo bench -p deployer-cli --bench compose` (optionally `-- <rounds>`); needs
//! `moto_server` (installed by `make test`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deployer_testbed::{Moto, ProfileSpec, TestBed};

mod support;

use support::{Sample, run, service};

/// The seed service `name` as both CLIs deploy it on moto (see the top of this file), with
/// `edit` applied after.
fn bench_service(bed: &TestBed<'_>, name: &str, edit: impl FnOnce(String) -> String) -> PathBuf {
    service(bed, name, |y| {
        let y = y
            .replacen(
                "  region: us-east-1\n",
                "  region: us-east-1\n  deploymentMethod: direct\n",
                1,
            )
            .replacen(
                "    events:\n      - httpApi:\n          path: /hello\n          method: get\n",
                "",
                1,
            );
        assert!(!y.contains("httpApi"), "the seed's httpApi event moved");
        edit(y)
    })
}

/// Writes the compose project `name` into the bed's directory.
fn project(bed: &TestBed<'_>, name: &str) -> PathBuf {
    let root = bed.path().join(name);
    let mut compose = String::from("services:\n");
    for i in 0..10 {
        let svc = format!("s{i}");
        // Consumers use what they read: the producer's queue URL in their environment.
        let reads = (4..=7).contains(&i);
        bench_service(bed, &format!("{name}/{svc}"), |y| {
            let y = y.replacen(
                &format!("service: {name}/{svc}"),
                &format!("service: {name}-{svc}"),
                1,
            );
            if reads {
                y.replacen(
                    "  region: us-east-1\n",
                    "  region: us-east-1\n  environment:\n    UPSTREAM: ${param:upstream}\n",
                    1,
                )
            } else {
                y
            }
        });
        compose.push_str(&format!("  {svc}:\n    path: {svc}\n"));
        match i {
            4..=7 => compose.push_str(&format!(
                "    params:\n      upstream: ${{s{}.JobsQueueUrl}}\n",
                i - 4
            )),
            8 | 9 => compose.push_str(&format!(
                "    dependsOn: [s{}, s{}]\n",
                (i - 8) * 2 + 4,
                (i - 8) * 2 + 5
            )),
            _ => {}
        }
    }
    std::fs::write(root.join("serverless-compose.yml"), compose).unwrap();
    root
}

/// `serverless ARGS` through osls at `dir`: its Compose at a compose root. The error is the
/// end of what osls printed.
fn run_osls(bin: &Path, bed: &TestBed<'_>, dir: &Path, args: &[&str]) -> Result<Sample, String> {
    let bin_dir = bin.parent().unwrap_or(Path::new("."));
    let modules = bin_dir.parent().unwrap_or(Path::new("."));
    let path = std::env::join_paths(std::iter::once(bin_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .map_err(|e| e.to_string())?;
    let mut cmd = Command::new(bin);
    bed.apply(&mut cmd);
    cmd.current_dir(dir)
        .args(args)
        .env("PATH", path)
        .env("NODE_PATH", modules)
        .env("SLS_TELEMETRY_DISABLED", "1")
        .env("SLS_NOTIFICATIONS_MODE", "off")
        .stdin(Stdio::null());
    let start = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("running {}: {e}", bin.display()))?;
    let wall = start.elapsed();
    if !out.status.success() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(12)..].join("\n    ");
        return Err(format!(
            "`serverless {}` failed:\n    {tail}",
            args.join(" ")
        ));
    }
    Ok(Sample {
        wall,
        calls: 0,
        sequential: 0,
    })
}

/// osls's Compose over `rounds` fresh copies of the project: full deploy, unchanged redeploy,
/// remove (the same steps as deployer's, with the same concurrency); the first failure ends it.
fn osls_rounds(bin: &Path, bed: &TestBed<'_>, rounds: usize) -> Result<[Vec<Sample>; 3], String> {
    let mut samples: [Vec<Sample>; 3] = Default::default();
    let steps: [&[&str]; 3] = [
        &["deploy", "--stage", "dev", "--max-concurrency", "4"],
        &["deploy", "--stage", "dev", "--max-concurrency", "4"],
        &["remove", "--stage", "dev", "--max-concurrency", "4"],
    ];
    for i in 0..rounds {
        let root = project(bed, &format!("co{i}"));
        for (n, args) in steps.iter().enumerate() {
            samples[n].push(run_osls(bin, bed, &root, args)?);
        }
    }
    Ok(samples)
}

fn median(mut s: Vec<Sample>) -> Duration {
    s.sort_by_key(|x| x.wall);
    s[s.len() / 2].wall
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3);
    let moto = Moto::start().expect("starting moto_server (run `make test` to install it)");
    let bed = TestBed::with_profiles(
        &moto,
        &[
            ProfileSpec::new("default", "111111111111"),
            ProfileSpec::new("devAccount", "222222222222"),
        ],
    )
    .expect("provisioning accounts");
    // moto imports its CloudFormation models on the first stack call: warm up.
    let warm = bench_service(&bed, "warmup", |y| y);
    run(&bed, &warm, &["up"]);
    run(&bed, &warm, &["remove", "--yes"]);
    let one = bench_service(&bed, "single", |y| y);
    let single = run(&bed, &one, &["up"]);
    let single_calls = (single.calls, single.sequential);
    let single: Vec<Sample> = vec![single];
    run(&bed, &one, &["remove", "--yes"]);

    let (mut full, mut unchanged, mut removed) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        let root = project(&bed, &format!("cb{i}"));
        full.push(run(&bed, &root, &["up", "--stage", "dev"]));
        unchanged.push(run(&bed, &root, &["up", "--stage", "dev"]));
        removed.push(run(&bed, &root, &["remove", "--stage", "dev", "--yes"]));
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let one_svc = median(single);
    let ours = [median(full), median(unchanged), median(removed)];
    println!("deployer compose against moto, 10 services in 3 waves, {rounds} rounds (median):");
    println!(
        "  one service's first deploy  {:>8.1} ms  ({} AWS calls, {} sequential)",
        ms(one_svc),
        single_calls.0,
        single_calls.1
    );
    println!(
        "  full deploy                 {:>8.1} ms  (one service x3, the longest chain: {:.1} ms; x10: {:.1} ms)",
        ms(ours[0]),
        ms(one_svc * 3),
        ms(one_svc * 10)
    );
    println!("  unchanged redeploy          {:>8.1} ms", ms(ours[1]));
    println!("  remove                      {:>8.1} ms", ms(ours[2]));

    let Some(bin) = std::env::var_os("SERVERLESS_BIN").map(PathBuf::from) else {
        println!("osls compose: not measured (set SERVERLESS_BIN to osls 4.3.1's CLI)");
        return;
    };
    let theirs = match osls_rounds(&bin, &bed, rounds) {
        Ok(s) => s.map(median),
        Err(why) => {
            println!("osls compose: not measured: {why}");
            return;
        }
    };
    println!(
        "osls compose (same moto, same project, --max-concurrency 4), {rounds} rounds (median):"
    );
    for (n, name) in ["full deploy", "unchanged redeploy", "remove"]
        .iter()
        .enumerate()
    {
        println!(
            "  {name:<27} {:>8.1} ms  (deployer {:.1}x faster)",
            ms(theirs[n]),
            theirs[n].as_secs_f64() / ours[n].as_secs_f64()
        );
    }
}
