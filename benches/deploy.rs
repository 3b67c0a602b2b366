//! Whole-process benchmark of `deployer up` / `remove` against moto (two accounts, the
//! multi-account seed deployed to its dev account): first deploy, unchanged redeploy, handler
//! change, remove — wall time of the real binary and the number of AWS calls of each (from
//! `--json`'s `awsCalls`, the guard's STS call included).
//!
//! Run with `cargo bench -p deployer-cli --bench deploy` (optionally `-- <rounds>`); needs
//! `moto_server` (installed by `make test`).

use std::time::Duration;

use deployer_testbed::{Moto, ProfileSpec, TestBed};

mod support;

use support::{Sample, run, service};

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let moto = Moto::start().expect("starting moto_server (run `make test` to install it)");
    let bed = TestBed::with_profiles(
        &moto,
        &[
            ProfileSpec::new("default", "111111111111"),
            ProfileSpec::new("devAccount", "222222222222"),
        ],
    )
    .expect("provisioning accounts");
    // moto imports its CloudFormation models on the first stack call (about 1.5 s): warm up.
    let warm = service(&bed, "warmup", |y| y);
    run(&bed, &warm, &["up"]);
    run(&bed, &warm, &["remove", "--yes"]);

    let names = [
        "first deploy",
        "unchanged redeploy",
        "handler change",
        "remove",
    ];
    let mut samples: Vec<Vec<Sample>> = names.iter().map(|_| Vec::new()).collect();
    for i in 0..rounds {
        let dir = service(&bed, &format!("bench{i}"), |y| y);
        samples[0].push(run(&bed, &dir, &["up"]));
        samples[1].push(run(&bed, &dir, &["up"]));
        std::fs::write(
            dir.join("handler.js"),
            format!("module.exports.hello = async () => ({{ statusCode: 200, body: '{i}' }});\nmodule.exports.cron = async () => {{}};\n"),
        )
        .unwrap();
        samples[2].push(run(&bed, &dir, &["up"]));
        samples[3].push(run(&bed, &dir, &["remove", "--yes"]));
    }
    println!("deployer against moto, multi-account seed (dev stage), {rounds} rounds:");
    for (name, mut s) in names.iter().zip(samples) {
        s.sort_by_key(|x| x.wall);
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "  {name:<20} median {:>7.1} ms  min {:>7.1} ms  max {:>7.1} ms  AWS calls {} ({} sequential)",
            ms(s[s.len() / 2].wall),
            ms(s[0].wall),
            ms(s[s.len() - 1].wall),
            s[s.len() / 2].calls,
            s[s.len() / 2].sequential,
        );
    }
}
