//! End-to-end tests: drive the real `deployer` binary.

mod deploy;
mod guard;
mod hostile;
mod package;
mod print;
mod support;
