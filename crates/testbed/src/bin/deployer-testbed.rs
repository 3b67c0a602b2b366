//! `deployer-testbed up`: start moto with the seed's two accounts and print the environment to
//! use them (`eval "$(deployer-testbed up)"` style, for demos). Runs until interrupted or until
//! stdin closes; the server stops with it.

use std::io::Read;

use deployer_testbed::{DEV_ACCOUNT, Moto, PROD_ACCOUNT, ProfileSpec, TestBed};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("up") => up(),
        _ => {
            eprintln!(
                "usage: deployer-testbed up\n\nStarts moto_server on a free loopback port with accounts \
                 {PROD_ACCOUNT} (profile default) and {DEV_ACCOUNT} (profile devAccount), prints the \
                 variables to export, and keeps running until stdin closes or it is interrupted."
            );
            std::process::exit(2);
        }
    }
}

fn up() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let bed = TestBed::with_profiles(
        &moto,
        &[
            ProfileSpec::new("default", PROD_ACCOUNT),
            ProfileSpec::new("devAccount", DEV_ACCOUNT),
        ],
    )?;
    for (k, v) in bed.env_vars() {
        // HOME stays the user's own; only the AWS files move.
        if k == "HOME" || k == "XDG_CACHE_HOME" {
            continue;
        }
        println!("export {k}='{v}'");
    }
    eprintln!(
        "moto is running on {}; close stdin (Ctrl-D) or interrupt to stop it",
        moto.endpoint()
    );
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    Ok(())
}
