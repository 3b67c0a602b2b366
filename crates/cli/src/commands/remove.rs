//! `deployer remove`.

use crate::args::RemoveArgs;
use crate::output::Output;

pub fn run(_out: &Output, _args: RemoveArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`deployer remove` is not available in this build")
}
