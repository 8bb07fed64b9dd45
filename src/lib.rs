//! wharf: one terminal dashboard for the local Docker → ECR → ECS → CloudWatch →
//! S3 container loop. `main.rs` only calls [`main`]; tests drive the library.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod app;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dashboard;
pub mod docker;
pub mod doctor;
pub mod error;
pub mod files;
pub mod format;
pub mod jobs;
pub mod logging;
pub mod logs;
pub mod model;
pub mod net;
pub mod records;
pub mod registry;
pub mod session;
pub mod snapshots;
pub mod time;
pub mod ui;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::commands::{code, exit};
use crate::config::{Dirs, Settings};

/// The whole program: parse the command line, read the configuration, run.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = color_eyre::install();
    let dirs = Dirs::new();
    // wharf's own directories hold dumps, safety copies and journals: the user's alone.
    for dir in [&dirs.state, &dirs.cache] {
        if let Err(e) = files::private_dir(dir) {
            eprintln!("warning: cannot make {} private: {e}", dir.display());
        }
    }
    let settings = match Settings::load(&cli.global.overrides(), &dirs) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return code(exit::USAGE);
        }
    };
    let log_file = cli.global.log_file.clone().unwrap_or_else(|| dirs.state.join("wharf.log"));
    let log_problem = logging::init(&log_file).err();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), profile = ?settings.profile_name, "wharf starting");

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return code(exit::FAILED);
        }
    };
    let status = runtime.block_on(commands::dispatch(cli.command, settings, &dirs, log_problem));
    // Don't wait for background work (the engine watcher, AWS probes) to notice.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    status
}
