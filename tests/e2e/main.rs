//! End-to-end tests: drive the real `deployer` binary.

mod deploy;
mod guard;
mod package;
mod print;
mod support;
