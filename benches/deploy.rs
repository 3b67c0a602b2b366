//! Whole-process benchmark of `deployer deploy`.
fn main() {}
