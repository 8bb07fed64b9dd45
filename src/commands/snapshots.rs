//! `wharf backup`, `wharf restore`, `wharf snapshots`: the Snapshots pane's jobs
//! and list from the command line.

use std::process::ExitCode;

use serde_json::json;

use super::{code, exit, run_job};
use crate::app::Clock;
use crate::aws::{self, AwsClients, AwsStatus};
use crate::cli::SnapshotPlace;
use crate::config::Settings;
use crate::format;
use crate::jobs::backup::BackupRequest;
use crate::jobs::lock::Wait;
use crate::jobs::restore::SnapshotSource;
use crate::jobs::{BackupJob, JobSpec, PruneJob, RemoteBackupJob, RestoreJob};
use crate::snapshots::prune::{self as plan, Retention};
use crate::snapshots::{self, Snapshot, pricing};

/// A usage error: said on stderr, exit status 2.
pub(super) fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    code(exit::USAGE)
}

/// The bucket and normalised prefix, from the flags or the profile.
pub(super) fn place(settings: &Settings, place: &SnapshotPlace) -> Result<(String, String), ExitCode> {
    let bucket = place.bucket.clone().or_else(|| settings.profile.bucket.clone());
    let Some(bucket) = bucket else {
        return Err(usage(
            "no bucket for snapshots: give --bucket, set bucket in wharf.toml, or press b in the dashboard (`wharf`) to pick one",
        ));
    };
    let prefix = place.prefix.as_deref().or(settings.profile.prefix.as_deref());
    Ok((bucket, snapshots::normalise_prefix(prefix)))
}

pub async fn backup(settings: &Settings, request: BackupRequest, at: &SnapshotPlace, json: bool) -> ExitCode {
    if settings.read_only {
        return usage("backup writes a snapshot to S3, and --read-only is set");
    }
    let place = match place(settings, at) {
        Ok(p) => p,
        Err(status) => return status,
    };
    let job = match BackupJob::from_settings(settings, request, place.0, place.1) {
        Ok(job) => job,
        Err(message) => return usage(&message),
    };
    let (_, aws) = aws::connect(&settings.profile).await;
    run_job(JobSpec::Backup(job), json, aws).await
}

/// What `wharf backup --remote` was asked for.
#[derive(Debug, Clone, Default)]
pub struct RemoteRequest {
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub storage_class: Option<crate::config::StorageClass>,
    pub timeout: Option<std::time::Duration>,
}

pub async fn remote_backup(
    settings: &Settings,
    request: RemoteRequest,
    at: &SnapshotPlace,
    json: bool,
) -> ExitCode {
    if settings.read_only {
        return usage("a remote backup starts an ECS task, and --read-only is set");
    }
    let (bucket, prefix) = match place(settings, at) {
        Ok(p) => p,
        Err(status) => return status,
    };
    let job = RemoteBackupJob::from_settings(
        settings,
        request.cluster,
        request.service,
        request.storage_class,
        bucket,
        prefix,
    );
    let mut job = match job {
        Ok(job) => job,
        Err(message) => return usage(&message),
    };
    if let Some(timeout) = request.timeout {
        job.timeout = timeout;
    }
    let (_, aws) = aws::connect(&settings.profile).await;
    let Some(clients) = &aws else {
        eprintln!("error: {}", crate::jobs::NoAws);
        return code(exit::FAILED);
    };
    // What will run, where, and as whom, before it does.
    match job.preview(clients).await {
        Ok(lines) => lines.iter().for_each(|l| eprintln!("{l}")),
        Err(e) => {
            eprintln!("error: {e}");
            return code(exit::FAILED);
        }
    }
    run_job(JobSpec::RemoteBackup(job), json, aws).await
}

/// What `wharf restore` was asked for; no snapshot means `--undo`.
#[derive(Debug, Clone, Default)]
pub struct RestoreRequest {
    pub snapshot: Option<String>,
    pub container: Option<String>,
    pub path: Option<String>,
    pub yes: bool,
    pub wait: Wait,
}

/// `wharf export`: the snapshot's plain file, from the cache or fetched and verified.
pub async fn export(
    settings: &Settings,
    id: String,
    output: Option<std::path::PathBuf>,
    at: &SnapshotPlace,
    json: bool,
) -> ExitCode {
    if let Err(e) = snapshots::check_id(&id) {
        return usage(&e.to_string());
    }
    if let Some(path) = output.as_ref().filter(|p| p.exists()) {
        return usage(&format!("{} is there already; give another -o, or move it away", path.display()));
    }
    let place = match place(settings, at) {
        Ok(place) => place,
        Err(status) => return status,
    };
    let job = crate::jobs::export::ExportJob::from_settings(settings, id, place, output);
    let aws = aws::connect(&settings.profile).await.1;
    run_job(JobSpec::Export(job), json, aws).await
}

pub async fn restore(
    settings: &Settings,
    request: RestoreRequest,
    at: &SnapshotPlace,
    json: bool,
) -> ExitCode {
    if settings.read_only {
        return usage("restore replaces a container's data, and --read-only is set");
    }
    if let Some(Err(e)) = request.snapshot.as_deref().map(snapshots::check_id) {
        return usage(&e.to_string());
    }
    let source = match request.snapshot {
        Some(id) => match place(settings, at) {
            Ok((bucket, prefix)) => SnapshotSource::S3 { id, bucket, prefix },
            Err(status) => return status,
        },
        None => SnapshotSource::Undo,
    };
    let mut job = match RestoreJob::from_settings(settings, source, request.container, request.path) {
        Ok(job) => job,
        Err(message) => return usage(&message),
    };
    job.wait = request.wait;
    let aws = match &job.source {
        SnapshotSource::S3 { .. } => aws::connect(&settings.profile).await.1,
        SnapshotSource::Undo => None,
    };
    // What is replaced, and with what, before anything happens.
    match job.preview(aws.as_ref(), Clock::now().wall).await {
        Ok(lines) => {
            for line in lines {
                eprintln!("{line}");
            }
        }
        Err(e) => {
            eprintln!("error: {}", crate::error::chain(&e).join(": "));
            return code(exit::FAILED);
        }
    }
    if !request.yes {
        return usage(&format!(
            "restore replaces the data in container `{}` as said above; add --yes to go ahead",
            job.container
        ));
    }
    run_job(JobSpec::Restore(job), json, aws).await
}

/// The clients and every snapshot under the place, or the exit status that says why not.
async fn listed(
    settings: &Settings,
    bucket: &str,
    prefix: &str,
) -> Result<(AwsClients, Vec<Snapshot>), ExitCode> {
    let (status, clients) = aws::connect(&settings.profile).await;
    let (AwsStatus::Ready { .. }, Some(clients)) = (&status, clients) else {
        if let AwsStatus::NoCredentials { error, .. } = status {
            eprintln!("error: no AWS credentials: {error}");
        }
        return Err(code(exit::FAILED));
    };
    match snapshots::list(&clients.s3, bucket, prefix, Some(&crate::config::Dirs::new().cache)).await {
        Ok(list) => Ok((clients, list)),
        Err(e) => {
            eprintln!("error: cannot list s3://{bucket}/{prefix}: {e}");
            Err(code(exit::FAILED))
        }
    }
}

pub async fn prune(
    settings: &Settings,
    retention: Retention,
    dry_run: bool,
    yes: bool,
    at: &SnapshotPlace,
    json: bool,
) -> ExitCode {
    if settings.read_only && !dry_run {
        return usage("prune deletes snapshots, and --read-only is set (--dry-run still works)");
    }
    let (bucket, prefix) = match place(settings, at) {
        Ok(p) => p,
        Err(status) => return status,
    };
    let (clients, list) = match listed(settings, &bucket, &prefix).await {
        Ok(v) => v,
        Err(status) => return status,
    };
    let plan::Plan { doomed, kept } = plan::plan(&list, retention, &prefix, Clock::now().wall);
    eprintln!("retention: {}", retention.describe());
    for k in &kept {
        eprintln!("keep {} ({})", k.id, k.reason);
    }
    for d in &doomed {
        eprintln!(
            "{} {} ({}, {})",
            if dry_run { "would delete" } else { "delete" },
            d.id,
            d.reason,
            if d.chunked {
                "its chunks if no kept snapshot uses them".to_string()
            } else {
                format::bytes(d.bytes)
            }
        );
        if let Some(w) = &d.warning {
            eprintln!("  note: {w}");
        }
    }
    if doomed.is_empty() {
        eprintln!(
            "no snapshot to delete; abandoned uploads (a dead backup of this machine's, or over a day without a part) are aborted when not a dry run"
        );
    }
    if dry_run {
        if json {
            let ids: Vec<&str> = doomed.iter().map(|d| d.id.as_str()).collect();
            let reasons: Vec<_> = doomed.iter().map(|d| json!({ "id": d.id, "reason": d.reason })).collect();
            let kept: Vec<_> = kept.iter().map(|k| json!({ "id": k.id, "reason": k.reason })).collect();
            println!("{}", json!({ "dry_run": true, "would_delete": ids, "delete": reasons, "keep": kept }));
        }
        return code(exit::OK);
    }
    if !yes {
        return usage("prune deletes what is listed above; add --yes to go ahead, or --dry-run to only look");
    }
    let job = PruneJob { bucket, prefix, doomed };
    run_job(JobSpec::Prune(job), json, Some(clients)).await
}

pub async fn snapshots(settings: &Settings, at: &SnapshotPlace, json: bool) -> ExitCode {
    let (bucket, prefix) = match place(settings, at) {
        Ok(p) => p,
        Err(status) => return status,
    };
    let list = match listed(settings, &bucket, &prefix).await {
        Ok((_, list)) => list,
        Err(status) => return status,
    };
    // What this machine's container holds, and where each snapshot stands: as the pane says it.
    let container = settings.profile.database.as_ref().and_then(|d| d.container.as_deref());
    let here = container
        .and_then(|c| snapshots::line::parent_of(&crate::config::Dirs::new().state, &bucket, &prefix, c));
    let rows = snapshots::graph::rows_by_id(&list);
    let standings = snapshots::graph::standings(&list, &rows, here.as_deref());
    if json {
        let rows: Vec<_> = list.iter().zip(&standings).map(|(s, standing)| to_json(s, standing)).collect();
        println!("{}", serde_json::Value::Array(rows));
        return code(exit::OK);
    }
    let now = Clock::now().wall;
    let host_width =
        list.iter().filter_map(|s| s.manifest.as_ref()?.host.as_ref()).map(|h| h.chars().count());
    let host_width = host_width.max().unwrap_or(0).max(4);
    println!(
        "{:<44} {:<host_width$} {:>10} {:>10} {:<20} {:>5}  STATE",
        "ID", "HOST", "RAW", "STORED", "CLASS", "AGE"
    );
    for (s, standing) in list.iter().zip(&standings) {
        let raw = s.manifest.as_ref().map_or("–".into(), |m| format::bytes(m.raw_bytes));
        let stored = s.stored_bytes().map_or("–".into(), format::bytes);
        let age = s.created().map_or("–".into(), |t| format::age(t, now));
        let host = s.manifest.as_ref().and_then(|m| m.host.as_deref()).unwrap_or("–");
        let state = match (&s.problem, standing.words()) {
            (Some(problem), _) => problem.to_string(),
            (None, words) if words.is_empty() => "ok".into(),
            (None, words) => words,
        };
        println!(
            "{:<44} {host:<host_width$} {raw:>10} {stored:>10} {:<20} {age:>5}  {state}",
            s.id,
            s.storage_class()
        );
    }
    println!("{}", cost_line(&list));
    code(exit::OK)
}

fn to_json(s: &Snapshot, standing: &snapshots::graph::Standing) -> serde_json::Value {
    json!({
        "id": s.id,
        "complete": s.is_complete(),
        "head": s.head,
        "here": standing.here,
        "off_line": standing.off_line,
        "host": s.manifest.as_ref().and_then(|m| m.host.as_deref()),
        "problem": s.problem.as_ref().map(ToString::to_string),
        "storage_class": s.storage_class(),
        "stored_bytes": s.stored_bytes(),
        "format": s.manifest.as_ref().map(|m| m.format),
        "new_bytes": s.manifest.as_ref().and_then(|m| m.new_bytes),
        "shared_bytes": s.manifest.as_ref().filter(|m| m.is_chunked()).map(|m| m.stored_bytes.saturating_sub(m.new_bytes.unwrap_or(0))),
        "created": s.created().map(snapshots::rfc3339),
        "manifest": s.manifest,
    })
}

/// `storage: $0.05/month (STANDARD 1.2 GB $0.03 · ONEZONE_IA 2.0 GB $0.02); the last backup made 4 PUT requests ($0.0000), S3 list prices of 2026-11`
pub fn cost_line(list: &[Snapshot]) -> String {
    let per_class = pricing::stored_by_class(list);
    // + 0.0: an empty sum of floats is -0.0, which prints as "-0.00".
    let total: f64 = per_class.values().map(|(c, b)| pricing::monthly_cost(c, *b)).sum::<f64>() + 0.0;
    let parts: Vec<String> = per_class
        .iter()
        .map(|(name, (c, b))| format!("{name} {} ${:.2}", format::bytes(*b), pricing::monthly_cost(c, *b)))
        .collect();
    let puts = match pricing::last_backup_puts(list) {
        Some((n, usd)) => {
            format!("; the last backup made {n} PUT request{} (${usd:.4})", if n == 1 { "" } else { "s" })
        }
        None => String::new(),
    };
    format!(
        "storage: ${total:.2}/month ({}){puts}, S3 list prices of {}",
        if parts.is_empty() { "nothing stored".into() } else { parts.join(" · ") },
        pricing::PRICES_AS_OF
    )
}
