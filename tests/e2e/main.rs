//! End-to-end tests: drive the real `deployer` binary.

mod concurrency;
mod deploy;
mod faults;
mod guard;
mod hostile;
mod json_errors;
mod package;
mod print;
mod support;
