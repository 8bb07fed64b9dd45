//! From the command line to the command: the dashboard when no command is
//! given, else the command's own function with its flags gathered.

use std::process::ExitCode;

use super::{code, exit};
use crate::app::Keymap;
use crate::cli::Command;
use crate::config::{Dirs, Settings};
use crate::jobs::{BakeJob, JobSpec, PushJob};

/// Runs `command` (the dashboard without one) and gives its exit status.
pub async fn dispatch(
    command: Option<Command>,
    settings: Settings,
    dirs: &Dirs,
    log_problem: Option<String>,
) -> ExitCode {
    let Some(command) = command else { return dashboard(settings, dirs, log_problem).await };
    let settings = &settings;
    match command {
        Command::Images { json, containers } => super::images(settings, json, containers).await,
        Command::Tags { repository, json } => super::tags(settings, repository, json).await,
        Command::Tasks { cluster, service, json } => super::tasks(settings, cluster, service, json).await,
        Command::Deploy { at, tag, image, change } => {
            super::deploy(settings, &at, super::Target::New { tag, image }, &change).await
        }
        Command::Rollback { at, change } => {
            super::deploy(settings, &at, super::Target::Previous, &change).await
        }
        Command::Logs { task, service, cluster, follow, since } => {
            super::logs(settings, super::LogsRequest { task, service, cluster, follow, since }).await
        }
        Command::Push { image, repo, tag, json } => push(settings, image, repo, tag, json).await,
        Command::Bake { container, tag, json } => bake(settings, container, tag, json).await,
        Command::Pull { reference, json } => super::pull(settings, &reference, json).await,
        Command::Run { image, container, snapshot, no_wait, place, json } => {
            let request = super::RunRequest { image, container, snapshot, wait: wait(no_wait) };
            super::run(settings, request, &place, json).await
        }
        Command::Sync { tag, snapshot, container, dry_run, yes, no_wait, place, json } => {
            let request = super::SyncRequest { tag, snapshot, container, dry_run, yes, wait: wait(no_wait) };
            super::sync(settings, request, &place, json).await
        }
        Command::Shell { container, sql } => super::shell(settings, container, sql).await,
        command @ Command::Init { .. } => super::init(settings, init_flags(command)).await,
        command @ Command::Backup { .. } => backup(settings, command).await,
        Command::Restore { snapshot, undo: _, container, path, yes, no_wait, place, json } => {
            let request = super::RestoreRequest { snapshot, container, path, yes, wait: wait(no_wait) };
            super::restore(settings, request, &place, json).await
        }
        Command::Doctor { fix, json } => {
            if settings.read_only && fix {
                eprintln!("error: doctor --fix changes containers and S3, and --read-only is set");
                return code(exit::USAGE);
            }
            super::doctor(settings, fix, json).await
        }
        Command::Snapshots { place, json } => super::snapshots(settings, &place, json).await,
        Command::Export { snapshot, output, place, json } => {
            super::export(settings, snapshot, output, &place, json).await
        }
        Command::Prune { keep, older_than, dry_run, yes, place, json } => {
            let retention = crate::snapshots::prune::Retention {
                keep: keep.or(settings.profile.keep),
                older_than: older_than.or(settings.profile.older_than).map(|a| a.0),
            };
            super::prune(settings, retention, dry_run, yes, &place, json).await
        }
    }
}

/// The dashboard, after its keymap: a bad one stops wharf before anything is drawn.
async fn dashboard(settings: Settings, dirs: &Dirs, log_problem: Option<String>) -> ExitCode {
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
    match crate::dashboard::run(settings, keymap).await {
        Ok(status) => code(status),
        Err(e) => {
            eprintln!("error: {e:?}");
            code(exit::FAILED)
        }
    }
}

async fn push(
    settings: &Settings,
    image: String,
    repo: Option<String>,
    tag: Option<String>,
    json: bool,
) -> ExitCode {
    if settings.read_only {
        eprintln!("error: push changes the registry, and --read-only is set");
        return code(exit::USAGE);
    }
    let Some(repository) = repo.or_else(|| settings.profile.repository.clone()) else {
        eprintln!("error: no repository: give --repo, or set repository in wharf.toml");
        return code(exit::USAGE);
    };
    let tag = tag.unwrap_or_else(|| crate::docker::split_reference(&image).1);
    let (_, aws) = crate::aws::connect(&settings.profile).await;
    let spec = JobSpec::Push(PushJob {
        image,
        repository,
        tag,
        registry: settings.registry(),
        docker_host: settings.docker_host.clone(),
        create_repository: false,
    });
    super::run_job(spec, json, aws).await
}

async fn bake(settings: &Settings, container: String, tag: String, json: bool) -> ExitCode {
    if settings.read_only {
        eprintln!("error: bake changes the engine's images, and --read-only is set");
        return code(exit::USAGE);
    }
    if let Err(e) = crate::docker::parse_reference(&tag) {
        eprintln!("error: --tag: {e}");
        return code(exit::USAGE);
    }
    let spec =
        JobSpec::Bake(BakeJob { container, reference: tag, docker_host: settings.docker_host.clone() });
    super::run_job(spec, json, None).await
}

fn init_flags(command: Command) -> super::InitFlags {
    let Command::Init {
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
    } = command
    else {
        unreachable!("init_flags is given `init` only")
    };
    super::InitFlags {
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
    }
}

/// `backup`: here, or `--remote` through an ECS task.
async fn backup(settings: &Settings, command: Command) -> ExitCode {
    match command {
        Command::Backup { remote: true, cluster, service, storage_class, timeout, place, json, .. } => {
            let timeout = timeout.map(|t| t.0);
            let request = super::RemoteRequest { cluster, service, storage_class, timeout };
            super::remote_backup(settings, request, &place, json).await
        }
        Command::Backup {
            container,
            preset,
            path,
            storage_class,
            force_head,
            full,
            no_wait,
            place,
            json,
            ..
        } => {
            let wait = wait(no_wait);
            let request = crate::jobs::backup::BackupRequest {
                container,
                preset,
                path,
                storage_class,
                force_head,
                full,
                wait,
            };
            super::backup(settings, request, &place, json).await
        }
        _ => code(exit::USAGE),
    }
}

/// `--no-wait` as the jobs take it.
fn wait(no_wait: bool) -> crate::jobs::lock::Wait {
    if no_wait { crate::jobs::lock::Wait::No } else { crate::jobs::lock::Wait::Yes }
}
