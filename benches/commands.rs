//! Whole-process benchmarks of `deployer` commands.
fn main() {}
