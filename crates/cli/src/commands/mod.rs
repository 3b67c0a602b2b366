//! One module per command.

pub mod diff;
pub mod info;
pub mod package;
pub mod prepare;
pub mod print;
pub mod remove;
pub mod report;
pub mod up;
pub mod verify;
pub mod whoami;
