//! Restore: a snapshot into a container, with only two possible outcomes —
//! exactly the snapshot, or exactly what was there.
//!
//! 1. The snapshot is fetched into the local cache and its size and SHA-256
//!    checked against the manifest (a verified cached copy needs no network).
//! 2. [`Replacement::plan`] works out how its data replaces what the container
//!    holds, and refuses before anything is touched what it cannot do whole.
//! 3. Under a lock and a journal (`journal`), a running container is stopped
//!    (for a directory), a safety copy of what is there is written to the
//!    cache and synced, the snapshot is put in, and the container is started
//!    again. A failure or a cancel puts the safety copy back; a restore cut
//!    short by `kill -9` is finished by the next run ([`recover`]).
//!
//! `wharf restore --undo` restores the newest safety copy the same way (and so
//! keeps one of what it replaces in turn).

mod fetch;
pub mod journal;
mod preview;
mod recover;
pub mod replace;

use std::path::{Path, PathBuf};

use serde_json::json;

use super::backup::{ReadFrom, read_data};
use super::lock::{self, Wait};
use super::{Cancelled, JobContext, JobError, JobOutput, Progress, mssql, mysql};
use crate::aws::{AwsClients, AwsError};
use crate::config::{Dirs, Settings};
use crate::docker::{ContainerDetail, DockerError, Engine};
use crate::format;
use crate::records::{Held, RecordError};
use crate::snapshots::cache;
use crate::snapshots::local::{self, LocalSnapshot};
use crate::snapshots::{self, Manifest, Source};
pub(crate) use fetch::{Fetched, cached};
use fetch::{check, remote_manifest};
use journal::{Journal, Phase};
pub use recover::{RecoverJob, Recovered, recover, recover_all};
pub use replace::{DumpSettings, Method, Replacement};

/// Safety copies kept per container.
pub const SAFETY_COPIES_KEPT: usize = 3;

/// Where the snapshot to restore comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotSource {
    /// Snapshot `id` under `bucket`/`prefix` (normalised: empty or ending in `/`),
    /// or its verified copy in the cache.
    S3 { id: String, bucket: String, prefix: String },
    /// The newest safety copy of the container: undo the last restore.
    Undo,
}

/// Restore a snapshot into `container`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreJob {
    pub source: SnapshotSource,
    pub container: String,
    /// For `path` snapshots: the directory to replace (the profile's
    /// `database.path` or `--path`); `None` restores where the snapshot came from.
    pub path: Option<String>,
    pub settings: DumpSettings,
    /// wharf's cache and state directories.
    pub cache: PathBuf,
    pub state: PathBuf,
    pub docker_host: Option<String>,
    /// Whether to wait while another operation holds the container.
    pub wait: Wait,
    /// What the cache may hold besides safety copies (the profile's `cache_limit`).
    pub cache_limit: u64,
}

impl RestoreJob {
    /// A restore into `container`, else the profile's database container; the
    /// error says what is missing.
    pub fn from_settings(
        settings: &Settings,
        source: SnapshotSource,
        container: Option<String>,
        path: Option<String>,
    ) -> Result<RestoreJob, String> {
        let database = settings.profile.database.clone().unwrap_or_default();
        let container = container.or(database.container).ok_or(
            "no container to restore into: give --container, or set database.container in wharf.toml",
        )?;
        let dirs = Dirs::new();
        Ok(RestoreJob {
            source,
            container,
            path: path.or(database.path),
            settings: DumpSettings {
                user: database.user,
                database: database.name,
                restore_command: database.restore_command,
                backup_command: database.backup_command,
            },
            cache: dirs.cache,
            state: dirs.state,
            docker_host: settings.docker_host.clone(),
            wait: Wait::Yes,
            cache_limit: settings.profile.cache_limit.unwrap_or(crate::config::DEFAULT_CACHE_LIMIT).0,
        })
    }

    /// The snapshot's id, or `undo`.
    pub fn label(&self) -> &str {
        match &self.source {
            SnapshotSource::S3 { id, .. } => id,
            SnapshotSource::Undo => "undo",
        }
    }
}

/// Why a restore stopped. Unless it says otherwise, the container holds what
/// it held before.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("snapshot {0} is not in the cache and AWS has no credentials to fetch it")]
    NoAws(String),
    #[error("no snapshot {id} in s3://{bucket}/{prefix} (or it is incomplete: no manifest)")]
    NoSnapshot { id: String, bucket: String, prefix: String },
    /// Its manifest is a newer wharf's, or damaged.
    #[error("snapshot {0}: {1}")]
    Unusable(String, crate::snapshots::Problem),
    #[error(transparent)]
    BadId(#[from] crate::snapshots::BadId),
    #[error("{0}")]
    NeedsThaw(String),
    #[error(
        "snapshot {id} failed verification: expected {expected_bytes} bytes with SHA-256 {expected}, \
         got {actual_bytes} bytes with SHA-256 {actual}; the cached copy is deleted and {container} is untouched"
    )]
    Corrupt {
        id: String,
        container: String,
        expected: String,
        actual: String,
        expected_bytes: u64,
        actual_bytes: u64,
    },
    #[error("snapshot {id}: {why} in the bucket; it is refused and {container} is untouched")]
    BadChunk { id: String, why: String, container: String },
    #[error("snapshot {0} was made with preset `{1}`, which this build cannot restore")]
    Preset(String, String),
    #[error("the `custom` preset needs database.restore_command in wharf.toml")]
    NoCommand,
    #[error("the snapshot has no directory to restore to")]
    NoPath,
    #[error("nothing was changed: {0}")]
    Refused(String),
    #[error("there is no safety copy of `{0}` to put back (restores keep one of what they replace)")]
    NothingToUndo(String),
    #[error("{0}; {1} is as it was (its safety copy was put back)")]
    PutBack(Box<RestoreError>, String),
    #[error(
        "{why}; putting back what {container} held failed too: {back}. Its safety copy is in {safety}; \
         `wharf doctor --fix` tries again"
    )]
    NotPutBack { why: Box<RestoreError>, back: Box<RestoreError>, container: String, safety: String },
    #[error("{0} restored, but `{1}` did not start again: {2}")]
    NotStarted(String, String, DockerError),
    #[error(
        "a restore into {container} was cut short on the engine at {endpoint}, not this one ({here}); \
         its journal is kept: run wharf with --docker-host {endpoint} to finish it"
    )]
    OtherEngine { container: String, endpoint: String, here: String },
    #[error("cancelled")]
    Cancelled,
    #[error("the restore journal: {0}")]
    Journal(#[from] RecordError),
    #[error("S3: {0}")]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("the cache: {0}")]
    Cache(#[from] std::io::Error),
    #[error("the safety copy: {0}")]
    Safety(#[from] local::LocalError),
    #[error("decompressing failed: {0}")]
    Decompress(String),
}

fn job_error(e: RestoreError) -> JobError {
    match e {
        RestoreError::Cancelled => Cancelled.into(),
        other => other.into(),
    }
}

impl RestoreJob {
    pub async fn run(self, ctx: JobContext, aws: Option<AwsClients>) -> Result<JobOutput, JobError> {
        let doing = |name: &str| format!("a restore into {name} is replacing its data");
        let _lock =
            lock::take_for(self.docker_host.as_deref(), &self.container, doing, self.wait, &ctx).await?;
        self.restore(&ctx, aws.as_ref()).await.map_err(job_error)
    }

    /// The restore, for the jobs (run, sync) that restore as one of their
    /// steps: they hold the container's lock. Afterwards, whatever happened,
    /// the cache is trimmed to its limit.
    pub(crate) async fn restore(
        &self,
        ctx: &JobContext,
        aws: Option<&AwsClients>,
    ) -> Result<JobOutput, RestoreError> {
        let restored = self.restore_held(ctx, aws).await;
        let trimmed = cache::trim(&self.cache, self.cache_limit, &journal_snapshots(&self.state));
        if !trimmed.removed.is_empty() {
            tracing::info!(removed = ?trimmed.removed, freed = trimmed.freed, "trimmed the cache to its limit");
        }
        restored
    }

    async fn restore_held(
        &self,
        ctx: &JobContext,
        aws: Option<&AwsClients>,
    ) -> Result<JobOutput, RestoreError> {
        ctx.progress(Progress::stage("connecting to the engine"));
        let engine = Engine::connect(self.docker_host.as_deref()).await?;
        let container = engine.container(&self.container).await?;
        let what = format!("a restore into `{}`", container.name);
        let held = journal::journals(&self.state).hold(&container.id, &what)?;
        let mut notes = Vec::new();
        if let Some(journal) = held.read::<Journal>()? {
            ctx.progress(Progress::stage(format!(
                "finishing a restore into {} that was cut short",
                container.name
            )));
            let said = |stage: String| ctx.progress(Progress::stage(stage));
            notes.push(recover(&engine, &held, journal, &said).await?);
        }
        let container = engine.container(&self.container).await?;
        let snapshot = tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(RestoreError::Cancelled),
            s = self.fetch(ctx, aws, &container.name) => s?,
        };
        let mut replacement = Replacement::plan(
            &engine,
            &container,
            &snapshot.local.manifest,
            self.path.as_deref(),
            &self.settings,
        )
        .await?;
        replacement.owner = held.lock_path().display().to_string();
        if ctx.cancel.is_cancelled() {
            return Err(RestoreError::Cancelled);
        }
        let safety =
            replace(ctx, &engine, &held, &replacement, &container, &snapshot.local, &self.cache).await?;
        let manifest = &snapshot.local.manifest;
        let written = safety.manifest.new_bytes.unwrap_or(safety.manifest.stored_bytes);
        let mut kept = format::bytes(safety.manifest.raw_bytes);
        if written == 0 {
            kept += "; nothing written: every chunk was in this machine's chunk store";
        } else if written < safety.manifest.stored_bytes {
            kept +=
                &format!("; {} written, the rest was in this machine's chunk store", format::bytes(written));
        }
        notes.insert(0, format!("what it replaced is kept in {} ({kept})", safety.dir.display()));
        // Where the container's data now is in the line of history (an undo puts back data of no known place).
        match &self.source {
            SnapshotSource::S3 { id, bucket, prefix } => {
                snapshots::line::remember(&self.state, bucket, prefix, &container.name, id);
            }
            SnapshotSource::Undo => snapshots::line::forget(&self.state, &container.name),
        }
        Ok(JobOutput {
            attention: None,
            summary: format!(
                "{} restored into {} ({}{}); {}",
                manifest.id,
                replacement.container,
                format::bytes(manifest.raw_bytes),
                if snapshot.from_cache { ", from the cache" } else { "" },
                notes.join("; ")
            ),
            copy: None,
            json: json!({
                "id": manifest.id,
                "container": replacement.container,
                "replaced": replacement.what(),
                "raw_bytes": manifest.raw_bytes,
                "sha256": manifest.sha256,
                "from_cache": snapshot.from_cache,
                "safety_copy": safety.dir,
                "safety_copy_written_bytes": written,
                "notes": notes,
            }),
        })
    }

    /// The snapshot's manifest alone (what it holds and how it goes in): from
    /// the cache, else from S3. The data is fetched and verified by the restore.
    pub(crate) async fn manifest(
        &self,
        ctx: &JobContext,
        aws: Option<&AwsClients>,
    ) -> Result<Manifest, RestoreError> {
        let SnapshotSource::S3 { id, bucket, prefix } = &self.source else {
            return Ok(self.fetch(ctx, aws, &self.container).await?.local.manifest);
        };
        if let Some(local) = LocalSnapshot::open(&local::cached_dir(&self.cache, id)?) {
            return Ok(local.manifest);
        }
        let aws = aws.ok_or_else(|| RestoreError::NoAws(id.clone()))?;
        Ok(remote_manifest(ctx, aws, id, bucket, prefix).await?.0)
    }

    /// The verified snapshot on this machine: from the cache, from S3, or
    /// (for an undo) the newest safety copy.
    async fn fetch(
        &self,
        ctx: &JobContext,
        aws: Option<&AwsClients>,
        container: &str,
    ) -> Result<Fetched, RestoreError> {
        let (id, bucket, prefix) = match &self.source {
            SnapshotSource::Undo => {
                let newest = local::safety_copies(&self.cache, container).into_iter().next();
                let local = newest.ok_or_else(|| RestoreError::NothingToUndo(container.to_string()))?;
                ctx.progress(Progress::stage("checking the safety copy"));
                check(&local, &self.container).await?;
                return Ok(Fetched { local, from_cache: true, _in_use: None });
            }
            SnapshotSource::S3 { id, bucket, prefix } => (id, bucket, prefix),
        };
        cached(ctx, aws, &self.cache, (id, bucket, prefix), &self.container).await
    }
}

/// The cached snapshots the journals of restores (running or cut short) name.
pub fn journal_snapshots(state: &Path) -> Vec<PathBuf> {
    let journals = journal::journals(state);
    journals
        .names()
        .iter()
        .filter_map(|name| journals.peek::<Journal>(name).ok())
        .map(|j| j.snapshot)
        .collect()
}

/// The journaled replacement: stop, safety copy, put the snapshot in, start.
/// Returns the safety copy.
async fn replace(
    ctx: &JobContext,
    engine: &Engine,
    held: &Held,
    r: &Replacement,
    container: &ContainerDetail,
    snapshot: &LocalSnapshot,
    cache: &Path,
) -> Result<LocalSnapshot, RestoreError> {
    let on = journal::EngineRef { id: engine.id().await?, endpoint: engine.endpoint().to_string() };
    let mut journal = Journal::new(r.clone(), &snapshot.manifest.id, &snapshot.dir, on);
    held.write(&journal)?;
    let give_up = |e: RestoreError| async {
        if r.was_running {
            let _ = engine.start(&r.container_id).await;
        }
        let _ = held.clear();
        e
    };
    if r.was_running {
        ctx.progress(Progress::stage(format!("stopping {}", r.container)));
        let stopped = tokio::select! {
            _ = ctx.cancel.cancelled() => Err(RestoreError::Cancelled),
            s = engine.stop(container) => s.map_err(RestoreError::from),
        };
        if let Err(e) = stopped {
            return Err(give_up(e).await);
        }
    }

    let now = crate::time::unix_now();
    let safety_dir = free_dir(
        &local::safety_dir(cache, &r.container),
        &snapshots::new_id(now, &r.container, &snapshots::host_name()),
    );
    journal.phase = Phase::Saving;
    journal.safety = Some(safety_dir.clone());
    held.write(&journal)?;
    let saved = tokio::select! {
        _ = ctx.cancel.cancelled() => Err(RestoreError::Cancelled),
        s = save(ctx, engine, r, container, &safety_dir, now) => s,
    };
    let safety = match saved {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&safety_dir);
            return Err(give_up(e).await);
        }
    };

    journal.phase = Phase::Replacing;
    held.write(&journal)?;
    let total = snapshot.manifest.raw_bytes;
    let stage = format!("restoring {}", snapshot.manifest.id);
    let progress = progress_in_bytes(ctx, stage, total);
    let applied = tokio::select! {
        _ = ctx.cancel.cancelled() => Err(RestoreError::Cancelled),
        a = r.apply(engine, snapshot, progress) => a,
    };
    if let Err(why) = applied {
        journal.phase = Phase::RollingBack;
        held.write(&journal)?;
        let progress =
            progress_in_bytes(ctx, "putting back what was there".into(), safety.manifest.raw_bytes);
        if let Err(back) = r.apply(engine, &safety, progress).await {
            return Err(RestoreError::NotPutBack {
                why: Box::new(why),
                back: Box::new(back),
                container: r.container.clone(),
                safety: safety.dir.display().to_string(),
            });
        }
        let why = give_up(why).await;
        return Err(match why {
            RestoreError::Cancelled => RestoreError::Cancelled,
            other => RestoreError::PutBack(Box::new(other), r.container.clone()),
        });
    }

    journal.phase = Phase::Starting;
    held.write(&journal)?;
    let started = if r.was_running {
        ctx.progress(Progress::stage(format!("starting {}", r.container)));
        engine.start(&r.container_id).await
    } else {
        Ok(())
    };
    held.clear()?;
    local::prune_safety_copies(cache, &r.container, SAFETY_COPIES_KEPT);
    started.map_err(|e| RestoreError::NotStarted(snapshot.manifest.id.clone(), r.container.clone(), e))?;
    Ok(safety)
}

/// Writes the safety copy of what `r` replaces into `dir`.
async fn save(
    ctx: &JobContext,
    engine: &Engine,
    r: &Replacement,
    container: &ContainerDetail,
    dir: &Path,
    now: i64,
) -> Result<LocalSnapshot, RestoreError> {
    ctx.progress(Progress::stage(format!("keeping a safety copy of {}", r.what())));
    let id = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let from = r.read_from();
    let env = match &from {
        ReadFrom::Dump(argv) => mysql::client_env(engine, &r.container_id, r.preset(), argv).await?,
        _ => Vec::new(),
    };
    let reading = read_data(engine, &r.container_id, &from, &id, &env).await?;
    let manifest = Manifest {
        format: snapshots::FORMAT,
        id: id.clone(),
        created: snapshots::rfc3339(now),
        source: Source {
            kind: "container".into(),
            name: container.name.clone(),
            image: container.image.clone(),
            image_id: container.image_id.clone(),
            path: match &r.method {
                Method::Path { path, .. } => Some(path.clone()),
                _ => None,
            },
        },
        preset: r.preset().as_str().into(),
        content: from.content().into(),
        compression: "zstd".into(),
        key: String::new(),
        raw_bytes: 0,
        stored_bytes: 0,
        sha256: String::new(),
        storage_class: crate::model::snapshots::S3Class::Other("LOCAL".into()),
        wharf_version: env!("CARGO_PKG_VERSION").into(),
        host: Some(snapshots::host_name()),
        parent: None,
        database: match &r.method {
            Method::Dump { database, .. } => database.clone(),
            _ => None,
        },
        chunks: Vec::new(),
        new_bytes: None,
        new_chunks: None,
    };
    let stage = format!("keeping a safety copy of {}", r.what());
    let progress = progress_in_bytes(ctx, stage, 0);
    let written = local::write(reading.stream, dir, manifest, progress).await;
    if let Some(file) = &reading.file {
        mssql::remove(engine, &r.container_id, file).await;
    }
    Ok(written?)
}

/// A progress callback that reports bytes done of `total` (0: unknown).
fn progress_in_bytes(ctx: &JobContext, stage: String, total: u64) -> impl Fn(u64) + Send + Sync + 'static {
    let ctx = ctx.clone();
    let last = std::sync::atomic::AtomicU64::new(0);
    move |done| {
        // A tick per MiB is plenty; the channel drops what it cannot take anyway.
        let before = last.swap(done, std::sync::atomic::Ordering::Relaxed);
        if before > 0 && done / (1 << 20) == before / (1 << 20) && done != total {
            return;
        }
        ctx.progress(Progress {
            stage: stage.clone(),
            done,
            total: (total > 0).then_some(total.max(done)),
            bytes: true,
            detail: vec![],
        });
    }
}

/// `base/id`, or `base/id-2` … when that is taken.
fn free_dir(base: &Path, id: &str) -> PathBuf {
    let mut n = 1;
    loop {
        let name = if n == 1 { id.to_string() } else { format!("{id}-{n}") };
        let dir = base.join(name);
        if !dir.exists() {
            return dir;
        }
        n += 1;
    }
}
