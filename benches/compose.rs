//! Whole-process benchmark of `deployer up` at a compose root against moto: a generated
//! project of 10 services in 3 waves (4 producers exporting a queue URL; 4 consumers each
//! reading one producer's output through params; 2 services depending on two consumers
//! each), all in one account. Full deploy, then an unchanged redeploy, then remove. With
//! `--max-concurrency 4`, the full deploy's wall time should be near three services' deploys
//! (the longest chain), not ten.
//!
//! Run with `cargo bench -p deployer-cli --bench compose` (optionally `-- <rounds>`); needs
//! `moto_server` (installed by `make test`). Serverless Compose (osls) is not run here.

use std::path::PathBuf;
use std::time::Duration;

use deployer_testbed::{Moto, ProfileSpec, TestBed};

mod support;

use support::{Sample, run, service};

/// Writes the compose project `name` into the bed's directory.
fn project(bed: &TestBed<'_>, name: &str) -> PathBuf {
    let root = bed.path().join(name);
    let mut compose = String::from("services:\n");
    for i in 0..10 {
        let svc = format!("s{i}");
        // Consumers use what they read: the producer's queue URL in their environment.
        let reads = (4..=7).contains(&i);
        service(bed, &format!("{name}/{svc}"), |y| {
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
    let warm = service(&bed, "warmup", |y| y);
    run(&bed, &warm, &["up"]);
    run(&bed, &warm, &["remove", "--yes"]);
    let one = service(&bed, "single", |y| y);
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
    println!("deployer compose against moto, 10 services in 3 waves, {rounds} rounds (median):");
    println!(
        "  one service's first deploy  {:>8.1} ms  ({} AWS calls, {} sequential)",
        ms(median(single)),
        single_calls.0,
        single_calls.1
    );
    println!("  full deploy                 {:>8.1} ms", ms(median(full)));
    println!(
        "  unchanged redeploy          {:>8.1} ms",
        ms(median(unchanged))
    );
    println!(
        "  remove                      {:>8.1} ms",
        ms(median(removed))
    );
}
