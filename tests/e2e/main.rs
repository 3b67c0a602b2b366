//! End-to-end tests: drive the real `deployer` binary.

mod guard;
mod print;
mod support;
