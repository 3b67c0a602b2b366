//! `deployer diff`.

use crate::args::DiffArgs;
use crate::output::Output;

pub fn run(_out: &Output, _args: DiffArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`deployer diff` is not available in this build")
}
