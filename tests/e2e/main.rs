//! End-to-end tests: drive the real `deployer` binary.

mod concurrency;
mod deploy;
mod faults;
mod guard;
mod hostile;
mod lockfile;
mod package;
mod preflight;
mod print;
mod support;
