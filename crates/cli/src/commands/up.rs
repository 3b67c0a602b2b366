//! `deployer up`.

use crate::args::UpArgs;
use crate::output::Output;

pub fn run(_out: &Output, _args: UpArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`deployer up` is not available in this build")
}
