//! `deployer info`.

use crate::args::AwsCommandArgs;
use crate::output::Output;

pub fn run(_out: &Output, _args: AwsCommandArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`deployer info` is not available in this build")
}
