//! Two `deployer up` of one stage started together, ten rounds with a code change each:
//! the stage lock serialises them, so every round ends with the stack on the code of the run
//! that reported "deployed" last (or one run refused clearly), and the deployed template only
//! references objects that exist.

use std::path::Path;
use std::time::Instant;

use deployer_testbed::TestBed;

use crate::faults::{Moto, change_code, service, zip_sha};
use crate::support::{Run, copy_dir, run};

const ROUNDS: usize = 10;

fn up(bed: &TestBed<'_>, dir: &Path) -> (Run, Instant) {
    let r = run(
        bed,
        dir,
        &["up", "--json"],
        &[("DEPLOYER_LOCK_WAIT", "120")],
    );
    (r, Instant::now())
}

#[test]
fn two_deploys_of_one_stage_end_on_the_change_reported_last() {
    let name = "concurrent";
    let bed = TestBed::standard();
    let a = service(&bed, name);
    let b = bed.path().join("concurrent-b");
    copy_dir(&a, &b);
    let moto = Moto::new(&bed, "devAccount");
    let first = run(&bed, &a, &["up", "--json"], &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let bucket = first.json()["bucket"].as_str().unwrap().to_string();
    let stack = format!("{name}-dev");
    let mut summary = Vec::new();
    for round in 0..ROUNDS {
        change_code(&a, &format!("a{round}"));
        change_code(&b, &format!("b{round}"));
        let ((ra, ta), (rb, tb)) = std::thread::scope(|s| {
            let ja = s.spawn(|| up(&bed, &a));
            let jb = s.spawn(|| up(&bed, &b));
            (ja.join().unwrap(), jb.join().unwrap())
        });
        for r in [&ra, &rb] {
            assert!(
                r.code == 0
                    || r.stderr.contains("is being deployed by")
                    || r.stderr.contains("was taken over by")
                    || r.stderr.contains("started in the same millisecond"),
                "round {round}: neither deployed nor refused clearly:\n{}\n{}",
                r.stdout,
                r.stderr
            );
        }
        let deployed: Vec<(&Path, Instant)> = [(&ra, ta, a.as_path()), (&rb, tb, b.as_path())]
            .into_iter()
            .filter(|(r, _, _)| r.code == 0 && r.json()["status"] == "deployed")
            .map(|(_, t, d)| (d, t))
            .collect();
        let (last_dir, _) = *deployed
            .iter()
            .max_by_key(|(_, t)| *t)
            .unwrap_or_else(|| panic!("round {round}: no run deployed"));
        assert_eq!(
            moto.code_sha(&format!("{stack}-hello")),
            Some(zip_sha(last_dir)),
            "round {round}: the stack runs the code of the run that finished last"
        );
        for key in moto.template_keys(&stack) {
            assert!(
                moto.exists(&bucket, &key),
                "round {round}: {key} is missing"
            );
        }
        summary.push(format!(
            "round {round}: a={} b={} last={}",
            ra.code,
            rb.code,
            if last_dir == a.as_path() { "a" } else { "b" }
        ));
    }
    eprintln!("{}", summary.join("\n"));
}
