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

use crate::app::Keymap;
use crate::cli::{Cli, Command};
use crate::commands::{code, exit};
use crate::config::{Dirs, Settings};
use crate::jobs::{BakeJob, JobSpec, PushJob};

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
    let status = runtime.block_on(async {
        match cli.command {
            None => {
                // A bad keymap stops wharf before anything is drawn.
                let keymap = match Keymap::load(Some(&dirs.keymap())) {
                    Ok(k) => k,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return code(exit::USAGE);
                    }
                };
                if let Some(problem) = &log_problem {
                    eprintln!("warning: {problem}; running without a log");
                }
                match dashboard::run(settings, keymap).await {
                    Ok(status) => code(status),
                    Err(e) => {
                        eprintln!("error: {e:?}");
                        code(exit::FAILED)
                    }
                }
            }
            Some(Command::Images { json, containers }) => commands::images(&settings, json, containers).await,
            Some(Command::Tags { repository, json }) => commands::tags(&settings, repository, json).await,
            Some(Command::Tasks { cluster, service, json }) => {
                commands::tasks(&settings, cluster, service, json).await
            }
            Some(Command::Deploy { at, tag, image, change }) => {
                commands::deploy(&settings, &at, commands::Target::New { tag, image }, &change).await
            }
            Some(Command::Logs { task, service, cluster, follow, since }) => {
                commands::logs(&settings, commands::LogsRequest { task, service, cluster, follow, since })
                    .await
            }
            Some(Command::Rollback { at, change }) => {
                commands::deploy(&settings, &at, commands::Target::Previous, &change).await
            }
            Some(Command::Push { image, repo, tag, json }) => {
                if settings.read_only {
                    eprintln!("error: push changes the registry, and --read-only is set");
                    return code(exit::USAGE);
                }
                let Some(repository) = repo.or_else(|| settings.profile.repository.clone()) else {
                    eprintln!("error: no repository: give --repo, or set repository in wharf.toml");
                    return code(exit::USAGE);
                };
                let tag = tag.unwrap_or_else(|| docker::split_reference(&image).1);
                let (_, aws) = aws::connect(&settings.profile).await;
                let spec = JobSpec::Push(PushJob {
                    image,
                    repository,
                    tag,
                    registry: settings.registry(),
                    docker_host: settings.docker_host.clone(),
                    create_repository: false,
                });
                commands::run_job(spec, json, aws).await
            }
            Some(Command::Pull { reference, json }) => commands::pull(&settings, &reference, json).await,
            Some(Command::Run { image, container, snapshot, no_wait, place, json }) => {
                let request = commands::RunRequest { image, container, snapshot, wait: wait(no_wait) };
                commands::run(&settings, request, &place, json).await
            }
            Some(Command::Sync { tag, snapshot, container, dry_run, yes, no_wait, place, json }) => {
                let request =
                    commands::SyncRequest { tag, snapshot, container, dry_run, yes, wait: wait(no_wait) };
                commands::sync(&settings, request, &place, json).await
            }
            Some(Command::Shell { container, sql }) => commands::shell(&settings, container, sql).await,
            Some(Command::Init {
                dry_run,
                yes,
                destroy,
                public,
                include_data,
                repository,
                bucket,
                cluster,
                service,
                confirm,
                json,
            }) => {
                let request = commands::InitFlags {
                    dry_run,
                    yes,
                    destroy,
                    public,
                    include_data,
                    confirm,
                    json,
                    repository,
                    bucket,
                    cluster,
                    service,
                };
                commands::init(&settings, request).await
            }
            Some(Command::Bake { container, tag, json }) => {
                if settings.read_only {
                    eprintln!("error: bake changes the engine's images, and --read-only is set");
                    return code(exit::USAGE);
                }
                if let Err(e) = docker::parse_reference(&tag) {
                    eprintln!("error: --tag: {e}");
                    return code(exit::USAGE);
                }
                let spec = JobSpec::Bake(BakeJob {
                    container,
                    reference: tag,
                    docker_host: settings.docker_host.clone(),
                });
                commands::run_job(spec, json, None).await
            }
            Some(Command::Backup {
                remote: true,
                cluster,
                service,
                storage_class,
                timeout,
                place,
                json,
                ..
            }) => {
                let request = commands::RemoteRequest {
                    cluster,
                    service,
                    storage_class,
                    timeout: timeout.map(|t| t.0),
                };
                commands::remote_backup(&settings, request, &place, json).await
            }
            Some(Command::Backup {
                container,
                preset,
                path,
                storage_class,
                force_head,
                no_wait,
                place,
                json,
                ..
            }) => {
                let request = jobs::backup::BackupRequest {
                    container,
                    preset,
                    path,
                    storage_class,
                    force_head,
                    wait: wait(no_wait),
                };
                commands::backup(&settings, request, &place, json).await
            }
            Some(Command::Restore { snapshot, undo: _, container, path, yes, no_wait, place, json }) => {
                let request =
                    commands::RestoreRequest { snapshot, container, path, yes, wait: wait(no_wait) };
                commands::restore(&settings, request, &place, json).await
            }
            Some(Command::Doctor { fix, json }) => {
                if settings.read_only && fix {
                    eprintln!("error: doctor --fix changes containers and S3, and --read-only is set");
                    return code(exit::USAGE);
                }
                commands::doctor(&settings, fix, json).await
            }
            Some(Command::Snapshots { place, json }) => commands::snapshots(&settings, &place, json).await,
            Some(Command::Prune { keep, older_than, dry_run, yes, place, json }) => {
                let retention = snapshots::prune::Retention {
                    keep: keep.or(settings.profile.keep),
                    older_than: older_than.or(settings.profile.older_than).map(|a| a.0),
                };
                commands::prune(&settings, retention, dry_run, yes, &place, json).await
            }
        }
    });
    // Don't wait for background work (the engine watcher, AWS probes) to notice.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    status
}

/// `--no-wait` as the jobs take it.
fn wait(no_wait: bool) -> jobs::lock::Wait {
    if no_wait { jobs::lock::Wait::No } else { jobs::lock::Wait::Yes }
}
