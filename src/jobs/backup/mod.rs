//! Backup: data out of a container into a new snapshot, its manifest written
//! last. Two formats, each one streaming pipeline with bounded channels, so
//! memory stays flat whatever the size:
//!
//! - chunked (format 2, the default; `chunked.rs`): content-defined chunks,
//!   only those the bucket lacks compressed and sent;
//! - full (format 1, `--full`; `full.rs`): the whole stream through zstd into
//!   one multipart upload, parts of 8 MiB and up ([`s3::part_size`]).
//!
//! Cancelled or failed at any point, no manifest is written: a full backup's
//! upload is aborted; a chunked one's new chunks stay for prune to free
//! (they may be another backup's too).

mod chunked;
mod full;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::json;

use super::lock::{self, Wait};
use super::uploads::{abandon, claim_upload};
use super::{Cancelled, JobContext, JobError, JobOutput, NoAws, Progress, databases, mssql, mysql};
use crate::aws::s3::{self, Upload};
use crate::aws::{AwsClients, AwsError};
use crate::config::{Dirs, Preset, Settings, SnapshotFormat, StorageClass};
use crate::docker::{ContainerDetail, DockerError, Engine};
use crate::format;
use crate::model::snapshots::ChunkRef;
use crate::snapshots::store::Store;
use crate::snapshots::{self, Manifest, Source, cache, line};

/// Parts on their way to S3 at once, at most...
const IN_FLIGHT: usize = 4;
/// ...and their bytes at most (unless one part is bigger).
const IN_FLIGHT_BYTES: usize = 256 << 20;
/// zstd's level: `zstd -3`, its default.
const LEVEL: i32 = 3;

/// Back up `container`'s data (a directory, or a dump command's output) to a new
/// snapshot under `bucket`/`prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupJob {
    pub container: String,
    pub preset: Preset,
    /// For `path`: the directory to archive.
    pub path: Option<String>,
    /// For dump presets: the database user and name.
    pub user: Option<String>,
    pub database: Option<String>,
    /// For `custom`: the command that writes the dump to stdout.
    pub command: Option<Vec<String>>,
    pub bucket: String,
    /// Normalised (empty or ending in `/`).
    pub prefix: String,
    pub storage_class: StorageClass,
    pub docker_host: Option<String>,
    /// Make this snapshot head of the line even if another machine's is.
    pub force_head: bool,
    /// Whether to wait while another operation holds the container.
    pub wait: Wait,
    pub format: SnapshotFormat,
    /// What the cache may hold besides safety copies (the profile's `cache_limit`).
    pub cache_limit: u64,
}

/// What a backup was asked for (flags, or a key in the dashboard), before the
/// profile fills the gaps.
#[derive(Debug, Clone, Default)]
pub struct BackupRequest {
    pub container: Option<String>,
    pub preset: Option<Preset>,
    pub path: Option<String>,
    pub storage_class: Option<StorageClass>,
    pub force_head: bool,
    /// Format 1 (the whole stream as one object) whatever the profile says.
    pub full: bool,
    pub wait: Wait,
}

impl BackupJob {
    /// The job `request` and the profile describe; the error says what is missing.
    pub fn from_settings(
        settings: &Settings,
        request: BackupRequest,
        bucket: String,
        prefix: String,
    ) -> Result<BackupJob, String> {
        let database = settings.profile.database.clone().unwrap_or_default();
        let container = request
            .container
            .or(database.container)
            .ok_or("no container to back up: give --container, or set database.container in wharf.toml")?;
        let preset = request.preset.or(database.preset).unwrap_or(Preset::Path);
        let path = request.path.or(database.path);
        if preset == Preset::Path && path.is_none() {
            return Err(
                "the path preset needs a directory: give --path, or set database.path in wharf.toml".into()
            );
        }
        Ok(BackupJob {
            container,
            preset,
            path,
            user: database.user,
            database: database.name,
            command: database.backup_command,
            bucket,
            prefix,
            storage_class: request
                .storage_class
                .or(settings.profile.storage_class)
                .unwrap_or(StorageClass::Standard),
            docker_host: settings.docker_host.clone(),
            force_head: request.force_head,
            wait: request.wait,
            format: if request.full {
                SnapshotFormat::Full
            } else {
                settings.profile.snapshot_format.unwrap_or_default()
            },
            cache_limit: settings.profile.cache_limit.unwrap_or(crate::config::DEFAULT_CACHE_LIMIT).0,
        })
    }
}

/// Why a backup could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("the `path` preset needs the directory to back up: give --path, or database.path in wharf.toml")]
    NoPath,
    #[error("the `custom` preset needs database.backup_command in wharf.toml")]
    NoCommand,
    #[error("S3: {0}")]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("compressing failed: {0}")]
    Compress(String),
    #[error("this machine's cache: {0}")]
    Io(std::io::Error),
}

/// What went into S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    pub sha256: String,
}

/// What a backup stored, in either format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub raw_bytes: u64,
    /// Every chunk's stored size, as often as the stream holds it.
    pub stored_bytes: u64,
    /// Of the whole stream, uncompressed.
    pub sha256: String,
    pub chunks: Vec<ChunkRef>,
    /// What went up: the chunks the bucket lacked (format 1: everything).
    pub new_bytes: u64,
    pub new_chunks: u64,
}

/// Keeps a chunked snapshot's manifest as this machine's copy of it (its
/// chunks are in the store): a restore of it here fetches nothing.
fn keep_copy(cache: &std::path::Path, id: &str, manifest: &[u8]) {
    let kept = snapshots::local::cached_dir(cache, id).map_err(std::io::Error::other).and_then(|dir| {
        crate::files::private_dir(&dir)?;
        crate::files::write_atomic(&dir.join("manifest.json"), manifest)
    });
    if let Err(e) = kept {
        tracing::warn!(id, error = %e, "cannot keep the snapshot's manifest in the cache");
    }
}

impl BackupJob {
    /// Reads the data out of the container and stores it: chunks (into
    /// `chunk_store` here and the bucket) when a store is given, else one
    /// multipart upload to `key`.
    #[allow(clippy::too_many_arguments)]
    async fn write_data(
        &self,
        ctx: &JobContext,
        aws: &AwsClients,
        engine: &Engine,
        (container, from, id, env): (&str, &ReadFrom, &str, &[String]),
        key: &str,
        expected: Option<u64>,
        chunk_store: Option<&Store>,
    ) -> Result<Written, JobError> {
        let known = match chunk_store {
            Some(_) => {
                ctx.progress(Progress::stage("listing the chunks the bucket holds"));
                snapshots::bucket_chunks(&aws.s3, &self.bucket, &self.prefix)
                    .await
                    .map_err(BackupError::from)?
            }
            None => Default::default(),
        };
        let reading = read_data(engine, container, from, id, env).await.map_err(BackupError::from)?;
        let (source, backup_file) = (reading.stream, reading.file);
        let outcome = match chunk_store {
            Some(chunk_store) => {
                let place = (self.bucket.as_str(), self.prefix.as_str(), self.storage_class);
                tokio::select! {
                    _ = ctx.cancel.cancelled() => Err(Cancelled.into()),
                    r = chunked::store(ctx, source, aws, place, chunk_store, known, expected) => r,
                }
            }
            None => self.upload_whole(ctx, aws, source, key, expected).await,
        };
        if let Some(file) = &backup_file {
            mssql::remove(engine, container, file).await;
        }
        outcome
    }

    /// The whole stream as one multipart upload (format 1).
    async fn upload_whole(
        &self,
        ctx: &JobContext,
        aws: &AwsClients,
        source: impl Stream<Item = Result<Bytes, DockerError>> + Send,
        key: &str,
        expected: Option<u64>,
    ) -> Result<Written, JobError> {
        ctx.progress(Progress::stage("starting the upload"));
        let upload =
            Upload::start(&aws.s3, &self.bucket, key, self.storage_class).await.map_err(BackupError::from)?;
        // If this process dies before the upload is completed or aborted,
        // `wharf doctor` finds it by this record.
        let claim = claim_upload(&upload);
        let outcome = tokio::select! {
            _ = ctx.cancel.cancelled() => Err(Cancelled.into()),
            r = full::store(ctx, source, &upload, expected) => r,
        };
        let stored = match outcome {
            Ok((stored, parts)) => match upload.complete(parts).await {
                Ok(()) => stored,
                Err(e) => return Err(abandon(&upload, claim, BackupError::from(e).into()).await),
            },
            Err(e) => return Err(abandon(&upload, claim, e).await),
        };
        if let Some(claim) = claim {
            let _ = claim.clear_for_good();
        }
        Ok(Written {
            raw_bytes: stored.raw_bytes,
            stored_bytes: stored.stored_bytes,
            sha256: stored.sha256,
            chunks: Vec::new(),
            new_bytes: stored.stored_bytes,
            new_chunks: 0,
        })
    }
}

impl BackupJob {
    /// The user and database a dump preset reads as and from, in `container`
    /// (whose image's environment fills what the profile leaves out).
    pub fn user_and_database(&self, container: Option<&ContainerDetail>) -> (String, String) {
        let user = match container {
            Some(c) => databases::user_for(self.preset, self.user.as_deref(), c),
            None => self.user.clone().unwrap_or_else(|| {
                if self.preset == Preset::Postgres { "postgres".into() } else { "root".into() }
            }),
        };
        let database = databases::database_for(self.preset, self.database.as_deref(), &user, container);
        (user, database)
    }

    /// How this backup reads its data out of `container`.
    pub fn read_from(&self, container: Option<&ContainerDetail>) -> Result<ReadFrom, BackupError> {
        Ok(match self.preset {
            Preset::Path => ReadFrom::Path(self.path.clone().ok_or(BackupError::NoPath)?),
            Preset::Postgres | Preset::Mysql => {
                let (user, database) = self.user_and_database(container);
                let argv = databases::dump_command(self.preset, &user, &database);
                ReadFrom::Dump(match self.format {
                    SnapshotFormat::Chunked => databases::for_chunks(argv),
                    SnapshotFormat::Full => argv,
                })
            }
            Preset::Mssql => ReadFrom::Mssql {
                user: self.user.clone().unwrap_or_else(|| "sa".into()),
                database: self.database.clone().unwrap_or_else(|| "master".into()),
            },
            Preset::Custom => {
                ReadFrom::Dump(self.command.clone().filter(|c| !c.is_empty()).ok_or(BackupError::NoCommand)?)
            }
        })
    }

    pub async fn run(self, ctx: JobContext, aws: Option<AwsClients>) -> Result<JobOutput, JobError> {
        let aws = aws.ok_or(NoAws)?;
        self.read_from(None)?;
        ctx.progress(Progress::stage("connecting to the engine"));
        let engine = Engine::connect(self.docker_host.as_deref()).await?;
        let container = engine.container(&self.container).await.map_err(BackupError::from)?;
        let from = self.read_from(Some(&container))?;
        // Never while a restore, a sync or a run is changing the data: it would be stored half-replaced.
        let doing = format!("a backup of {} is reading its data", container.name);
        let _lock =
            lock::take(&engine, &container.name, &doing, self.wait, &ctx).await.map_err(lock::job_error)?;
        let dumped = matches!(self.preset, Preset::Postgres | Preset::Mysql)
            .then(|| self.user_and_database(Some(&container)));
        // A dump of a database that holds none of the user's tables is worth saying so.
        let empty = match &dumped {
            Some((user, database)) => {
                ctx.progress(Progress::stage(format!("counting the tables in {}", words_for(database))));
                match databases::user_tables(&engine, &container.name, self.preset, user, database).await {
                    Ok(0) => Some(database.clone()),
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot count the database's tables");
                        None
                    }
                }
            }
            None => None,
        };
        let now = crate::time::unix_now();
        let content = from.content();
        let id = snapshots::new_id(now, &container.name, &snapshots::host_name());
        let key = snapshots::data_key(&self.prefix, &id, content);

        // The size to expect, for the ETA: `du` when the container runs and has it.
        let expected = match &from {
            ReadFrom::Path(p) if container.running => disk_usage(&engine, &container.name, p).await,
            _ => None,
        };
        if matches!(from, ReadFrom::Mssql { .. }) {
            ctx.progress(Progress::stage("sqlcmd BACKUP DATABASE"));
        }
        let env = match &from {
            ReadFrom::Dump(argv) => mysql::client_env(&engine, &container.name, self.preset, argv)
                .await
                .map_err(BackupError::from)?,
            _ => Vec::new(),
        };
        let chunked = self.format == SnapshotFormat::Chunked;
        let cache = Dirs::new().cache;
        let chunk_store = Store::new(&cache);
        // Chunked: this backup's lock in the bucket before anything is read, and
        // this machine's store held while chunks go into it unnamed.
        let held = match chunked {
            true => Some((
                chunk_store.hold().map_err(BackupError::Io)?,
                cache::hold(&cache, &id).map_err(BackupError::Io)?,
                chunked::BackupLock::take(&ctx, &aws, &self.bucket, &self.prefix, &id).await?,
            )),
            false => None,
        };
        let written = self
            .write_data(
                &ctx,
                &aws,
                &engine,
                (&container.name, &from, &id, &env),
                &key,
                expected,
                held.as_ref().map(|_| &chunk_store),
            )
            .await;
        let release = |held: Option<(_, _, chunked::BackupLock)>| async move {
            if let Some((_, _, lock)) = held {
                lock.release().await;
            }
        };
        let written = match written {
            Ok(w) => w,
            Err(e) => {
                release(held).await;
                return Err(e);
            }
        };
        if held.as_ref().is_some_and(|(_, _, lock)| !lock.held_throughout()) {
            release(held).await;
            return Err(BackupError::Aws(AwsError::Service(
                "this backup could not refresh its lock in the bucket for too long (asleep, or offline), \
                 so a prune may have deleted chunks it counts on; nothing was written: back up again"
                    .into(),
            ))
            .into());
        }
        let path = match &from {
            ReadFrom::Path(p) => Some(p.clone()),
            _ => None,
        };

        ctx.progress(Progress::stage("writing the manifest"));
        let manifest = Manifest {
            format: if chunked { snapshots::FORMAT } else { snapshots::WHOLE },
            id: id.clone(),
            created: snapshots::rfc3339(now),
            source: source_of(&container, path.as_deref()),
            preset: self.preset.as_str().into(),
            content: content.into(),
            compression: "zstd".into(),
            key: if chunked { snapshots::chunks_prefix(&self.prefix) } else { key.clone() },
            raw_bytes: written.raw_bytes,
            stored_bytes: written.stored_bytes,
            sha256: written.sha256.clone(),
            storage_class: self.storage_class.into(),
            wharf_version: env!("CARGO_PKG_VERSION").into(),
            host: Some(snapshots::host_name()),
            parent: line::parent_of(&Dirs::new().state, &self.bucket, &self.prefix, &container.name),
            database: dumped.as_ref().map(|(_, database)| database.clone()),
            chunks: written.chunks.clone(),
            new_bytes: chunked.then_some(written.new_bytes),
            new_chunks: chunked.then_some(written.new_chunks),
        };
        let body = serde_json::to_vec_pretty(&manifest)?;
        let manifest_key = snapshots::manifest_key(&self.prefix, &id);
        let data_key = (!chunked).then_some(key.as_str());
        let wrote = write_manifest(&aws.s3, &self.bucket, &manifest_key, data_key, body.clone()).await;
        if chunked && wrote.is_ok() {
            // This machine holds every chunk it sent: the manifest kept names them
            // (before the store is let go, so no trim takes them meanwhile).
            keep_copy(&cache, &id, &body);
        }
        release(held).await;
        wrote?;
        if chunked {
            cache::trim(
                &cache,
                self.cache_limit,
                &crate::jobs::restore::journal_snapshots(&Dirs::new().state),
            );
        }
        ctx.progress(Progress::stage("moving the head of the line"));
        let new_head =
            line::Head { snapshot: id.clone(), host: snapshots::host_name(), at: manifest.created.clone() };
        let parent = manifest.parent.as_deref();
        let advanced = line::advance(&aws.s3, &self.bucket, &self.prefix, &new_head, parent, self.force_head)
            .await
            .map_err(BackupError::from)?;
        // The container's data is this snapshot now, head of the line or not. Only
        // now: killed before head moved, the next backup still descends from the old
        // parent, and this snapshot is a sibling on the line, not a false divergence.
        line::remember(&Dirs::new().state, &self.bucket, &self.prefix, &container.name, &id);
        let (head_words, head_json, attention) = match &advanced {
            line::Advanced::Moved => {
                ("head of the line".to_string(), json!({ "moved": true, "diverged": false }), None)
            }
            line::Advanced::Diverged(head) => (
                format!(
                    "diverged: head is {} from {} ({}), which this container never took; it stays head",
                    head.snapshot, head.host, head.at
                ),
                json!({ "moved": false, "diverged": true, "snapshot": head.snapshot, "host": head.host, "at": head.at }),
                Some(super::Attention {
                    code: super::DIVERGED,
                    message: format!(
                        "diverged: head of the line is {0} from {1} ({2}); this snapshot is kept but is not head. \
                         `wharf restore {0}` takes head (a safety copy of what is replaced is kept); \
                         `wharf backup --force-head` makes this container's data head",
                        head.snapshot, head.host, head.at
                    ),
                }),
            ),
        };
        let holds_no_table = empty.is_some();
        let attention = match (attention, empty) {
            (attention, None) => attention,
            (attention, Some(database)) => {
                let warning = format!(
                    "warning: {} in {} holds no table of yours: this snapshot has none of your data. \
                     Your tables may be in another database: pick it with `,` (database.name) in the dashboard, \
                     or set database.name in wharf.toml",
                    words_for(&database),
                    container.name
                );
                Some(match attention {
                    Some(a) => {
                        super::Attention { code: a.code, message: format!("{warning}\n{}", a.message) }
                    }
                    // A warning, not a failure: the command still exits 0.
                    None => super::Attention { code: 0, message: warning },
                })
            }
        };
        Ok(JobOutput {
            attention,
            summary: match chunked {
                false => format!(
                    "{id}: {} → {} ({}) in s3://{}/{key}; {head_words}",
                    format::bytes(written.raw_bytes),
                    format::bytes(written.stored_bytes),
                    self.storage_class.as_str(),
                    self.bucket
                ),
                true => format!(
                    "{id}: {} in {} chunk{}, {} new ({} sent, {}) in s3://{}/{}; {head_words}",
                    format::bytes(written.raw_bytes),
                    written.chunks.len(),
                    if written.chunks.len() == 1 { "" } else { "s" },
                    written.new_chunks,
                    format::bytes(written.new_bytes),
                    self.storage_class.as_str(),
                    self.bucket,
                    manifest.key
                ),
            },
            copy: Some(id.clone()),
            json: json!({
                "id": id,
                "bucket": self.bucket,
                "key": manifest.key,
                "format": manifest.format,
                "storage_class": self.storage_class.as_str(),
                "raw_bytes": written.raw_bytes,
                "stored_bytes": written.stored_bytes,
                "sha256": written.sha256,
                "chunks": written.chunks.len(),
                "new_chunks": written.new_chunks,
                "new_bytes": written.new_bytes,
                "parent": manifest.parent,
                "head": head_json,
                "database": manifest.database,
                "holds_no_table": holds_no_table,
            }),
        })
    }
}

/// `database app`, or `every database` for `*`.
fn words_for(database: &str) -> String {
    if database == databases::ALL { "every database".into() } else { format!("database {database}") }
}

/// Writes the manifest (STANDARD whatever the data's class: it is small and
/// read on every listing), never over another's. A write whose answer was
/// lost, or that the SDK retried after it had succeeded (412 then), is
/// recognised as this backup's own by reading the manifest back. Only the
/// data object this run wrote under its own id is deleted, and only when
/// the manifest is surely not there.
async fn write_manifest(
    s3_client: &crate::aws::S3Client,
    bucket: &str,
    manifest_key: &str,
    data_key: Option<&str>,
    body: Vec<u8>,
) -> Result<(), BackupError> {
    let written = s3::put_if(s3_client, bucket, manifest_key, body.clone(), s3::Only::IfAbsent).await;
    if let Ok(true) = written {
        return Ok(());
    }
    let there = s3::get_tagged(s3_client, bucket, manifest_key).await;
    match (written, there) {
        (_, Ok(Some((bytes, _)))) if bytes == body => Ok(()),
        (_, Ok(Some(_))) => Err(AwsError::Service(format!(
            "another backup wrote s3://{bucket}/{manifest_key} first; its data is left as it is"
        ))
        .into()),
        (written, Ok(None)) => {
            // Without a manifest the data is an incomplete snapshot: this run's own, removed.
            // (A chunked backup's chunks may be others' too: prune frees the ones no snapshot uses.)
            if let Some(data_key) = data_key
                && let Err(e) = s3::delete(s3_client, bucket, &[data_key.to_string()]).await
            {
                tracing::warn!(key = data_key, error = %e, "cannot delete the data of a backup without a manifest");
            }
            Err(written
                .err()
                .unwrap_or_else(|| AwsError::Service(format!("S3 refused s3://{bucket}/{manifest_key}")))
                .into())
        }
        // S3 cannot say whether the manifest is there: leave everything for prune to judge.
        (Err(e), Err(_)) | (Ok(_), Err(e)) => Err(e.into()),
    }
}

/// How a preset reads data out of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFrom {
    /// A tar of a directory, through the archive API.
    Path(String),
    /// A dump command's stdout.
    Dump(Vec<String>),
    /// SQL Server's BACKUP to a file, moved through the archive API.
    Mssql { user: String, database: String },
}

impl ReadFrom {
    /// `tar` (a directory or SQL Server's backup file) or `dump`.
    pub fn content(&self) -> &'static str {
        match self {
            ReadFrom::Dump(_) => "dump",
            ReadFrom::Path(_) | ReadFrom::Mssql { .. } => "tar",
        }
    }
}

/// What is being read out of a container: a stream, and (for SQL Server) the
/// backup file in the container to remove once the stream is read.
pub struct Reading {
    pub stream: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, DockerError>> + Send>>,
    pub file: Option<String>,
}

/// Opens the data of `container` as `from` says (a dump command with `env`
/// added to its environment); SQL Server's backup file is named after `id`.
pub async fn read_data(
    engine: &Engine,
    container: &str,
    from: &ReadFrom,
    id: &str,
    env: &[String],
) -> Result<Reading, DockerError> {
    match from {
        ReadFrom::Path(p) => Ok(Reading { stream: Box::pin(engine.archive(container, p)), file: None }),
        ReadFrom::Dump(argv) => {
            Ok(Reading { stream: Box::pin(engine.exec_output(container, argv, env).await?), file: None })
        }
        ReadFrom::Mssql { user, database } => {
            let file = mssql::backup_file(id);
            if let Err(e) = mssql::backup(engine, container, user, database, &file).await {
                mssql::remove(engine, container, &file).await;
                return Err(e);
            }
            Ok(Reading { stream: Box::pin(engine.archive(container, &file)), file: Some(file) })
        }
    }
}

fn source_of(container: &ContainerDetail, path: Option<&str>) -> Source {
    Source {
        kind: "container".into(),
        name: container.name.clone(),
        image: container.image.clone(),
        image_id: container.image_id.clone(),
        path: path.map(str::to_string),
    }
}

async fn disk_usage(engine: &Engine, container: &str, path: &str) -> Option<u64> {
    let argv = ["du", "-sk", path].map(String::from);
    let mut out = Box::pin(engine.exec_output(container, &argv, &[]).await.ok()?);
    let mut text = Vec::new();
    while let Some(chunk) = out.next().await {
        text.extend_from_slice(&chunk.ok()?);
    }
    let kib: u64 = String::from_utf8_lossy(&text).split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}
