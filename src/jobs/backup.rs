//! Backup: data out of a container, through zstd and SHA-256, into an S3
//! multipart upload, and the manifest written last. One streaming pipeline with
//! bounded channels, so memory stays flat whatever the size:
//!
//! ```text
//! engine stream ─▶ [raw chunks, 16] ─▶ zstd + SHA-256 (a blocking thread) ─▶ [parts, 1] ─▶ up to 4 UploadPart calls
//! ```
//!
//! Parts are 8 MiB for most backups and grow with the size expected and the
//! parts already sent ([`s3::part_size`]), so a backup of up to 5 TiB fits in
//! S3's 10,000 parts; fewer go up at once as they grow (at most 256 MiB in
//! flight, or one part).
//!
//! Cancelled or failed at any point, the upload is aborted and no manifest is
//! written: nothing is left behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::lock::{self, Wait};
use super::uploads::{abandon, claim_upload};
use super::{Cancelled, JobContext, JobError, JobOutput, NoAws, Progress, databases, mssql, mysql};
use crate::aws::s3::{self, Part, Upload};
use crate::aws::{AwsClients, AwsError};
use crate::config::{Dirs, Preset, Settings, StorageClass};
use crate::docker::{ContainerDetail, DockerError, Engine};
use crate::format;
use crate::snapshots::{self, Manifest, Source, line};

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
}

/// What went into S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    pub sha256: String,
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
                ReadFrom::Dump(databases::dump_command(self.preset, &user, &database))
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
        let reading =
            read_data(&engine, &container.name, &from, &id, &env).await.map_err(BackupError::from)?;
        let (source, backup_file) = (reading.stream, reading.file);
        let path = match &from {
            ReadFrom::Path(p) => Some(p.clone()),
            _ => None,
        };

        ctx.progress(Progress::stage("starting the upload"));
        let upload = Upload::start(&aws.s3, &self.bucket, &key, self.storage_class)
            .await
            .map_err(BackupError::from)?;
        // If this process dies before the upload is completed or aborted,
        // `wharf doctor` finds it by this record.
        let claim = claim_upload(&upload);
        let outcome = tokio::select! {
            _ = ctx.cancel.cancelled() => Err(Cancelled.into()),
            r = store(&ctx, source, &upload, expected) => r,
        };
        if let Some(file) = &backup_file {
            mssql::remove(&engine, &container.name, file).await;
        }
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

        ctx.progress(Progress::stage("writing the manifest"));
        let manifest = Manifest {
            format: snapshots::FORMAT,
            id: id.clone(),
            created: snapshots::rfc3339(now),
            source: source_of(&container, path.as_deref()),
            preset: self.preset.as_str().into(),
            content: content.into(),
            compression: "zstd".into(),
            key: key.clone(),
            raw_bytes: stored.raw_bytes,
            stored_bytes: stored.stored_bytes,
            sha256: stored.sha256.clone(),
            storage_class: self.storage_class.into(),
            wharf_version: env!("CARGO_PKG_VERSION").into(),
            host: Some(snapshots::host_name()),
            parent: line::parent_of(&Dirs::new().state, &self.bucket, &self.prefix, &container.name),
            database: dumped.as_ref().map(|(_, database)| database.clone()),
        };
        let body = serde_json::to_vec_pretty(&manifest)?;
        let manifest_key = snapshots::manifest_key(&self.prefix, &id);
        write_manifest(&aws.s3, &self.bucket, &manifest_key, &key, body).await?;
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
            summary: format!(
                "{id}: {} → {} ({}) in s3://{}/{key}; {head_words}",
                format::bytes(stored.raw_bytes),
                format::bytes(stored.stored_bytes),
                self.storage_class.as_str(),
                self.bucket
            ),
            copy: Some(id.clone()),
            json: json!({
                "id": id,
                "bucket": self.bucket,
                "key": key,
                "storage_class": self.storage_class.as_str(),
                "raw_bytes": stored.raw_bytes,
                "stored_bytes": stored.stored_bytes,
                "sha256": stored.sha256,
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
    data_key: &str,
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
            if let Err(e) = s3::delete(s3_client, bucket, &[data_key.to_string()]).await {
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

/// Streams `source` through zstd and SHA-256 into `upload`'s parts; returns what
/// was stored and the parts to complete the upload with.
pub async fn store(
    ctx: &JobContext,
    source: impl Stream<Item = Result<Bytes, DockerError>> + Send,
    upload: &Upload,
    expected: Option<u64>,
) -> Result<(Stored, Vec<Part>), JobError> {
    let raw = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let (raw_tx, raw_rx) = mpsc::channel::<Bytes>(16);
    let (part_tx, part_rx) = mpsc::channel::<Bytes>(1);
    let compressor = tokio::task::spawn_blocking(move || compress(raw_rx, part_tx, expected));

    let report = |stage: &str| {
        let (r, s) = (raw.load(Ordering::Relaxed), sent.load(Ordering::Relaxed));
        // Parts are counted once they are in S3, so a ratio means something only at the end.
        let ratio = if s > 0 && stage == "uploaded" {
            format!(", {:.1}×", r as f64 / s as f64)
        } else {
            String::new()
        };
        ctx.progress(Progress {
            stage: format!("{stage}: read {}, stored {}{ratio}", format::bytes(r), format::bytes(s)),
            done: r,
            total: expected.map(|e| e.max(r)),
            bytes: true,
            detail: vec![],
        });
    };

    let read = async {
        let mut source = Box::pin(source);
        let mut reported = 0;
        while let Some(chunk) = source.next().await {
            let chunk = chunk.map_err(BackupError::from)?;
            let total = raw.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
            if raw_tx.send(chunk).await.is_err() {
                break; // The compressor stopped; its error says why.
            }
            if total - reported >= 1 << 20 {
                reported = total;
                report("backing up");
            }
        }
        drop(raw_tx);
        Ok::<_, BackupError>(())
    };
    let send = async {
        let mut part_rx = part_rx;
        let mut running: JoinSet<Result<(Part, u64), AwsError>> = JoinSet::new();
        let mut parts = Vec::new();
        let mut number = 0;
        while let Some(body) = part_rx.recv().await {
            let at_once = (IN_FLIGHT_BYTES / body.len().max(1)).clamp(1, IN_FLIGHT);
            while running.len() >= at_once {
                if let Some(done) = running.join_next().await {
                    let (part, size) = joined(done)?;
                    sent.fetch_add(size, Ordering::Relaxed);
                    parts.push(part);
                    report("backing up");
                }
            }
            number += 1;
            let upload = upload.clone();
            running.spawn(async move {
                let size = body.len() as u64;
                upload.part(number, body).await.map(|p| (p, size))
            });
        }
        while let Some(done) = running.join_next().await {
            let (part, size) = joined(done)?;
            sent.fetch_add(size, Ordering::Relaxed);
            parts.push(part);
            report("backing up");
        }
        Ok::<_, BackupError>(parts)
    };
    let (read, parts) = tokio::join!(read, send);
    let compressed = compressor.await.map_err(|e| BackupError::Compress(e.to_string()))?;
    // The first failure is the one to tell: a broken source or S3 beats the compressor's broken pipe.
    read?;
    let parts = parts?;
    let (stored_bytes, sha256) = compressed?;
    report("uploaded");
    Ok((Stored { raw_bytes: raw.load(Ordering::Relaxed), stored_bytes, sha256 }, parts))
}

fn joined(
    done: Result<Result<(Part, u64), AwsError>, tokio::task::JoinError>,
) -> Result<(Part, u64), BackupError> {
    done.map_err(|e| BackupError::Aws(AwsError::Service(e.to_string())))?.map_err(BackupError::from)
}

/// The blocking end of the pipeline: zstd over the raw chunks, SHA-256 over the
/// compressed bytes, cut into parts.
fn compress(
    mut raw: mpsc::Receiver<Bytes>,
    parts: mpsc::Sender<Bytes>,
    expected: Option<u64>,
) -> Result<(u64, String), BackupError> {
    let size = s3::part_size(1, expected);
    let buffer = BytesMut::with_capacity(size);
    let sink = PartSink { buffer, size, number: 1, expected, hasher: Sha256::new(), total: 0, parts };
    let mut encoder =
        zstd::stream::write::Encoder::new(sink, LEVEL).map_err(|e| BackupError::Compress(e.to_string()))?;
    let io = |e: std::io::Error| BackupError::Compress(e.to_string());
    while let Some(chunk) = raw.blocking_recv() {
        std::io::Write::write_all(&mut encoder, &chunk).map_err(io)?;
    }
    let mut sink = encoder.finish().map_err(io)?;
    sink.send_part().map_err(io)?;
    Ok((sink.total, format!("{:x}", sink.hasher.finalize())))
}

struct PartSink {
    buffer: BytesMut,
    /// The size of the part being filled, and its number.
    size: usize,
    number: u32,
    expected: Option<u64>,
    hasher: Sha256,
    total: u64,
    parts: mpsc::Sender<Bytes>,
}

impl PartSink {
    fn send_part(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let part = self.buffer.split().freeze();
        self.number += 1;
        self.size = s3::part_size(self.number, self.expected);
        self.buffer.reserve(self.size);
        self.parts
            .blocking_send(part)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

impl std::io::Write for PartSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = self.size - self.buffer.len();
        let n = data.len().min(room);
        self.buffer.extend_from_slice(&data[..n]);
        self.hasher.update(&data[..n]);
        self.total += n as u64;
        if self.buffer.len() == self.size {
            self.send_part()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
