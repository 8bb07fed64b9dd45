//! Subcommands: the same job code as the dashboard, with progress on stderr and
//! the result on stdout.

mod dispatch;
mod doctor;
mod ecs;
mod images;
mod init;
mod job;
mod logs;
mod machine;
mod snapshots;
mod tags;

pub use dispatch::dispatch;
pub use doctor::doctor;
pub use ecs::{Target, deploy, tasks};
pub use images::images;
pub use init::{InitFlags, init};
pub use job::run_job;
pub use logs::{LogsRequest, logs};
pub use machine::{RunRequest, SyncRequest, pull, run, shell, sync};
pub use snapshots::{
    RemoteRequest, RestoreRequest, backup, cost_line, export, prune, remote_backup, restore, snapshots,
};
pub use tags::tags;

use std::process::ExitCode;

/// Exit statuses, as the README documents them.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    /// `--no-wait`, and another operation holds the container.
    pub const BUSY: u8 = 4;
    pub const CANCELLED: u8 = 130;
}

pub(crate) fn code(n: u8) -> ExitCode {
    ExitCode::from(n)
}

/// `value` as pretty JSON on stdout.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            code(exit::OK)
        }
        Err(e) => {
            eprintln!("error: {e}");
            code(exit::FAILED)
        }
    }
}
