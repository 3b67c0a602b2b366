//! End-to-end tests: drive the real `deployer` binary.

mod deploy;
mod guard;
mod print;
mod support;
