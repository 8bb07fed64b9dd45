//! `wharf pull`, `wharf run`, `wharf sync`: a second machine brought to where
//! the first left the loop; `wharf shell`: a shell or the SQL client in its
//! database container, to change the schema.

use std::process::ExitCode;

use super::snapshots::{place, usage};
use super::{code, exit, run_job};
use crate::aws;
use crate::cli::SnapshotPlace;
use crate::config::Settings;
use crate::docker::Engine;
use crate::jobs::console::{ConsoleKind, ConsoleRequest};
use crate::jobs::lock::Wait;
use crate::jobs::pull::Wanted;
use crate::jobs::restore::SnapshotSource;
use crate::jobs::{JobContext, JobSpec, PullJob, RestoreJob, RunJob, SyncJob};
use crate::session::Ended;
use crate::snapshots::line;

pub async fn pull(settings: &Settings, reference: &str, json: bool) -> ExitCode {
    if settings.read_only {
        return usage("pull changes the engine's images, and --read-only is set");
    }
    let (repository, wanted) = Wanted::parse(reference);
    let repository = match (repository.is_empty(), &settings.profile.repository) {
        (true, Some(r)) => r.clone(),
        (true, None) => return usage("no repository: give REPO:TAG, or set repository in wharf.toml"),
        (false, _) => repository,
    };
    let (_, aws) = aws::connect(&settings.profile).await;
    let spec = JobSpec::Pull(PullJob {
        repository,
        wanted,
        registry: settings.registry(),
        docker_host: settings.docker_host.clone(),
    });
    run_job(spec, json, aws).await
}

/// What `wharf run` was asked for.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub image: String,
    pub container: Option<String>,
    /// A snapshot id, or `head`.
    pub snapshot: Option<String>,
    pub wait: Wait,
}

pub async fn run(settings: &Settings, request: RunRequest, at: &SnapshotPlace, json: bool) -> ExitCode {
    if settings.read_only {
        return usage("run creates a container, and --read-only is set");
    }
    let mut job = match RunJob::from_settings(settings, request.image, request.container) {
        Ok(job) => job,
        Err(message) => return usage(&message),
    };
    job.wait = request.wait;
    if let Some(Err(e)) =
        request.snapshot.as_deref().filter(|id| *id != "head").map(crate::snapshots::check_id)
    {
        return usage(&e.to_string());
    }
    let (_, aws) = aws::connect(&settings.profile).await;
    if let Some(id) = request.snapshot {
        let (bucket, prefix) = match place(settings, at) {
            Ok(p) => p,
            Err(status) => return status,
        };
        let id = if id == "head" {
            let Some(aws) = &aws else {
                return usage("--snapshot head needs AWS credentials to read the head of the line");
            };
            match line::head(&aws.s3, &bucket, &prefix).await {
                Ok(Some((head, _))) => head.snapshot,
                Ok(None) => return usage(&format!("no head in s3://{bucket}/{prefix} yet: back up first")),
                Err(e) => {
                    eprintln!("error: {}", crate::error::one_line(&e));
                    return code(exit::FAILED);
                }
            }
        } else {
            id
        };
        let source = SnapshotSource::S3 { id, bucket, prefix };
        let restore =
            RestoreJob::from_settings(settings, source, Some(job.container.clone()), Some(job.path.clone()));
        job.restore = match restore {
            Ok(r) => Some(Box::new(r)),
            Err(message) => return usage(&message),
        };
    }
    run_job(JobSpec::Run(job), json, aws).await
}

/// What `wharf sync` was asked for.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    pub tag: Option<String>,
    pub snapshot: Option<String>,
    pub container: Option<String>,
    pub dry_run: bool,
    pub yes: bool,
    pub wait: Wait,
}

pub async fn sync(settings: &Settings, request: SyncRequest, at: &SnapshotPlace, json: bool) -> ExitCode {
    if settings.read_only && !request.dry_run {
        return usage(
            "sync changes images, containers and data, and --read-only is set (--dry-run still works)",
        );
    }
    if let Some(Err(e)) = request.snapshot.as_deref().map(crate::snapshots::check_id) {
        return usage(&e.to_string());
    }
    let (bucket, prefix) = match place(settings, at) {
        Ok(p) => p,
        Err(status) => return status,
    };
    let job =
        SyncJob::from_settings(settings, request.tag, request.snapshot, request.container, bucket, prefix);
    let mut job = match job {
        Ok(job) => job,
        Err(message) => return usage(&message),
    };
    job.wait = request.wait;
    let (_, aws) = aws::connect(&settings.profile).await;
    let Some(clients) = &aws else {
        eprintln!("error: {}", crate::jobs::NoAws);
        return code(exit::FAILED);
    };
    eprintln!("working out what this machine lacks…");
    let plan = match job.plan(&JobContext::quiet(), clients).await {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {}", crate::error::chain(&e).join(": "));
            return code(exit::FAILED);
        }
    };
    if request.dry_run || plan.steps.is_empty() {
        if json {
            println!("{}", plan.report(false));
        } else {
            for line in plan.lines() {
                println!("{line}");
            }
        }
        return code(exit::OK);
    }
    for line in plan.lines() {
        eprintln!("{line}");
    }
    if plan.replaces() && !request.yes {
        return usage(&format!(
            "sync replaces what container `{}` has as said above; add --yes to go ahead",
            plan.container
        ));
    }
    job.plan = Some(plan);
    run_job(JobSpec::Sync(Box::new(job)), json, aws).await
}

/// `wharf shell [--sql]`: the terminal handed to a shell (or the preset's SQL
/// client) in the container until it ends; wharf exits with its exit code.
pub async fn shell(settings: &Settings, container: Option<String>, sql: bool) -> ExitCode {
    use std::io::IsTerminal;
    if settings.read_only {
        return usage("a shell can change anything in the container, and --read-only is set");
    }
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return usage("wharf shell needs a terminal (its input and output are not one)");
    }
    let kind = if sql { ConsoleKind::Sql } else { ConsoleKind::Shell };
    let request = match ConsoleRequest::from_settings(settings, container, kind) {
        Ok(request) => request,
        Err(message) => return usage(&message),
    };
    let console = match request.prepare().await {
        Ok(console) => console,
        Err(e) => {
            eprintln!("error: {}", crate::error::chain(&e).join(": "));
            return code(exit::FAILED);
        }
    };
    let engine = match Engine::connect(settings.docker_host.as_deref()).await {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("error: {e}");
            return code(exit::FAILED);
        }
    };
    if let Err(e) = crossterm::terminal::enable_raw_mode() {
        eprintln!("error: cannot set up the terminal: {e}");
        return code(exit::FAILED);
    }
    let ended = crate::session::run(&engine, &console, crate::session::told_to_stop()).await;
    let _ = crossterm::terminal::disable_raw_mode();
    match ended {
        Ok(Ended::Exited(status)) => code(u8::try_from(status).unwrap_or(exit::FAILED)),
        Ok(Ended::Left) => code(exit::CANCELLED),
        Err(e) => {
            eprintln!("error: {}", crate::error::chain(&e).join(": "));
            code(exit::FAILED)
        }
    }
}
