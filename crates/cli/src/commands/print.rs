//! `deployer print`.

use crate::args::PrintArgs;
use crate::output::Output;

pub fn run(_out: &Output, _args: PrintArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`deployer print` is not available in this build")
}
