//! One module per command: each parses nothing itself, builds the options of one operation,
//! runs it and renders its result.

pub mod completions;
pub mod compose;
mod compose_run;
pub mod daily;
pub mod diff;
pub mod drift;
pub mod info;
pub mod invoke;
pub mod invoke_local;
pub mod logs;
pub mod metrics;
mod options;
pub mod package;
pub mod pin;
pub mod print;
pub mod remove;
mod render;
pub mod rollback;
pub mod up;
pub mod verify;
pub mod watch;
pub mod whoami;
