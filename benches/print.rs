//! Whole-process benchmark of `deployer print`.
fn main() {}
