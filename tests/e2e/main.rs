//! End-to-end tests: drive the real `deployer` binary.

mod aws_vars;
mod bad_input;
mod build;
mod compose;
mod concurrency;
mod daily;
mod deploy;
mod faults;
mod guard;
mod hostile;
mod inner_loop;
mod json_errors;
mod local;
mod lockfile;
mod metrics;
mod outcomes;
mod ownership;
mod package;
mod plugin_host;
mod plugins;
mod preflight;
mod print;
mod pty;
mod refresh;
mod settings;
mod support;
