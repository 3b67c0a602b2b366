//! `deployer package`.

use crate::args::PackageArgs;
use crate::output::Output;

pub fn run(_out: &Output, _args: PackageArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`deployer package` is not available in this build")
}
