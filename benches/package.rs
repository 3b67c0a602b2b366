//! Whole-process benchmark of `deployer package`.
fn main() {}
