//! End-to-end tests: drive the real `deployer` binary.
mod package;
mod print;
