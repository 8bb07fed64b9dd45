//! Restore: a snapshot into a container, only after it has been fetched into
//! the local cache and its size and SHA-256 match the manifest. A verified copy
//! in the cache restores with no network at all.
//!
//! For `path` snapshots the directory is unpacked next to the target first and
//! swapped in only once it is complete, so a failure half-way leaves the
//! container's data as it was.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::pipe::ChannelReader;
use super::{Cancelled, JobContext, JobError, JobOutput, Progress, mssql};
use crate::aws::s3;
use crate::aws::{AwsClients, AwsError};
use crate::config::{Preset, Settings};
use crate::docker::{DockerError, Engine};
use crate::snapshots::{self, Manifest, pricing};
use crate::ui::format;

/// Bytes per ranged GET, and how many run at once.
const RANGE: u64 = 4 << 20;
const RANGES_IN_FLIGHT: usize = 4;

/// Restore snapshot `id` from `bucket`/`prefix` into `container`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreJob {
    pub id: String,
    pub bucket: String,
    /// Normalised (empty or ending in `/`).
    pub prefix: String,
    pub container: String,
    /// For dump snapshots: the database user and name, and for `custom` the
    /// command that reads the dump on stdin.
    pub user: Option<String>,
    pub database: Option<String>,
    pub command: Option<Vec<String>>,
    /// Where verified snapshots are kept (`$XDG_CACHE_HOME/wharf/snapshots`).
    pub cache: PathBuf,
    pub docker_host: Option<String>,
}

impl RestoreJob {
    /// Snapshot `id` into `container`, else the profile's database container;
    /// the error says what is missing.
    pub fn from_settings(
        settings: &Settings,
        id: String,
        container: Option<String>,
        bucket: String,
        prefix: String,
    ) -> Result<RestoreJob, String> {
        let database = settings.profile.database.clone().unwrap_or_default();
        let container = container.or(database.container).ok_or(
            "no container to restore into: give --container, or set database.container in wharf.toml",
        )?;
        let cache = snapshots::cache_dir().ok_or("no cache directory for snapshots (is HOME set?)")?;
        Ok(RestoreJob {
            id,
            bucket,
            prefix,
            container,
            user: database.user,
            database: database.name,
            command: database.restore_command,
            cache,
            docker_host: settings.docker_host.clone(),
        })
    }
}

/// Why a restore stopped; in every case the container is as it was.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("snapshot {0} is not in the cache and AWS has no credentials to fetch it")]
    NoAws(String),
    #[error("no snapshot {id} in s3://{bucket}/{prefix} (or it is incomplete: no manifest)")]
    NoSnapshot { id: String, bucket: String, prefix: String },
    #[error("snapshot {0}'s manifest is unreadable: {1}")]
    BadManifest(String, String),
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
    #[error("snapshot {0} was made with preset `{1}`, which this build cannot restore")]
    Preset(String, String),
    #[error("the `custom` preset needs database.restore_command in wharf.toml")]
    NoCommand,
    #[error("the snapshot has no directory to restore to")]
    NoPath,
    #[error("S3: {0}")]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("the cache: {0}")]
    Cache(#[from] std::io::Error),
    #[error("decompressing failed: {0}")]
    Decompress(String),
}

impl RestoreJob {
    pub async fn run(self, ctx: JobContext, aws: Option<AwsClients>) -> Result<JobOutput, JobError> {
        let dir = self.cache.join(&self.id);
        // The staging directory in the container while one exists, for the clean-up.
        let staging = std::sync::Mutex::new(None::<(String, String)>);
        let engine = Engine::connect(self.docker_host.as_deref()).await?;
        let outcome = tokio::select! {
            _ = ctx.cancel.cancelled() => Err(Cancelled.into()),
            r = self.restore(&ctx, &dir, aws.as_ref(), &engine, &staging) => r.map_err(JobError::from),
        };
        if outcome.is_err() {
            let _ = std::fs::remove_file(dir.join("data.part"));
            let left = staging.lock().map(|mut s| s.take()).unwrap_or_default();
            if let Some((container, path)) = left {
                let _ = engine.exec(&container, &argv(&["rm", "-rf", "--", &path])).await;
            }
        }
        let (manifest, container, from_cache) = outcome?;
        Ok(JobOutput {
            summary: format!(
                "{} restored into {container} ({}{})",
                self.id,
                format::bytes(manifest.raw_bytes),
                if from_cache { ", from the cache" } else { "" }
            ),
            copy: None,
            json: json!({
                "id": self.id,
                "container": container,
                "raw_bytes": manifest.raw_bytes,
                "sha256": manifest.sha256,
                "from_cache": from_cache,
            }),
        })
    }

    /// The whole restore; on an error the caller removes what is left.
    async fn restore(
        &self,
        ctx: &JobContext,
        dir: &Path,
        aws: Option<&AwsClients>,
        engine: &Engine,
        staging: &Staging,
    ) -> Result<(Manifest, String, bool), RestoreError> {
        let cached = self.cached(ctx, dir).await?;
        let container = engine.container(&self.container).await?;
        if !container.running {
            return Err(DockerError::NotRunning(container.name).into());
        }
        if let Some((manifest, data)) = cached {
            self.apply_file(ctx, engine, &container.name, &manifest, &data, staging).await?;
            return Ok((manifest, container.name, true));
        }
        let aws = aws.ok_or_else(|| RestoreError::NoAws(self.id.clone()))?;
        let (manifest, text, size) = self.remote_manifest(ctx, aws).await?;
        std::fs::create_dir_all(dir)?;
        let part = dir.join("data.part");
        let data = dir.join(data_file(&manifest));
        let keep = |manifest_text: &[u8]| -> Result<(), RestoreError> {
            std::fs::rename(&part, &data)?;
            std::fs::write(dir.join("manifest.json"), manifest_text)?;
            Ok(())
        };
        match manifest.preset.parse::<Preset>().ok() {
            // A directory can be unpacked beside the live one while it downloads:
            // it is swapped in only after the SHA-256 checks out.
            Some(Preset::Path) => {
                let path = manifest.source.path.clone().ok_or(RestoreError::NoPath)?;
                let stage = self.stage(engine, &container.name, &path, staging).await?;
                let (raw_tx, raw_rx) = mpsc::channel::<Bytes>(2);
                let (out_tx, out_rx) = mpsc::channel::<Bytes>(8);
                let decompress =
                    tokio::task::spawn_blocking(move || decompress(ChannelReader::new(raw_rx), out_tx));
                let body =
                    futures::stream::unfold(out_rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
                let (downloaded, extracted) = tokio::join!(
                    self.download(ctx, aws, &manifest, size, &part, Some(raw_tx)),
                    engine.extract(&container.name, &stage, body),
                );
                let decompressed = decompress.await.map_err(|e| RestoreError::Decompress(e.to_string()));
                self.verify(&manifest, downloaded?)?;
                extracted?;
                decompressed??;
                keep(&text)?;
                self.swap(engine, &container.name, &path, &stage, staging).await?;
            }
            // A dump is applied as it is read: only a verified copy is.
            Some(_) => {
                let downloaded = self.download(ctx, aws, &manifest, size, &part, None).await;
                self.verify(&manifest, downloaded?)?;
                keep(&text)?;
                self.apply_file(ctx, engine, &container.name, &manifest, &data, staging).await?;
            }
            None => return Err(RestoreError::Preset(self.id.clone(), manifest.preset.clone())),
        }
        Ok((manifest, container.name, false))
    }

    /// The manifest and data in the cache, if both are there and agree.
    async fn cached(
        &self,
        ctx: &JobContext,
        dir: &Path,
    ) -> Result<Option<(Manifest, PathBuf)>, RestoreError> {
        let Ok(text) = std::fs::read(dir.join("manifest.json")) else { return Ok(None) };
        let Ok(manifest) = serde_json::from_slice::<Manifest>(&text) else { return Ok(None) };
        let data = dir.join(data_file(&manifest));
        if !data.exists() {
            return Ok(None);
        }
        ctx.progress(Progress::stage("checking the cached copy"));
        let path = data.clone();
        let (size, sha) = tokio::task::spawn_blocking(move || hash_file(&path))
            .await
            .map_err(|e| RestoreError::Decompress(e.to_string()))??;
        if size == manifest.stored_bytes && sha == manifest.sha256 {
            return Ok(Some((manifest, data)));
        }
        tracing::warn!(id = %self.id, "cached snapshot does not match its manifest; fetching again");
        let _ = std::fs::remove_file(&data);
        Ok(None)
    }

    /// The manifest from S3 (and its text, for the cache), and the data's size.
    async fn remote_manifest(
        &self,
        ctx: &JobContext,
        aws: &AwsClients,
    ) -> Result<(Manifest, Vec<u8>, u64), RestoreError> {
        ctx.progress(Progress::stage("reading the manifest"));
        let key = snapshots::manifest_key(&self.prefix, &self.id);
        let text = s3::get(&aws.s3, &self.bucket, &key).await.map_err(|e| match e {
            AwsError::NotFound(_) => RestoreError::NoSnapshot {
                id: self.id.clone(),
                bucket: self.bucket.clone(),
                prefix: self.prefix.clone(),
            },
            other => other.into(),
        })?;
        let manifest: Manifest = serde_json::from_slice(&text)
            .map_err(|e| RestoreError::BadManifest(self.id.clone(), e.to_string()))?;
        let object = s3::head(&aws.s3, &self.bucket, &manifest.key).await?;
        if pricing::terms(&object.storage_class).needs_restore {
            let warning = pricing::restore_warning(&object.storage_class, object.size).unwrap_or_default();
            return Err(RestoreError::NeedsThaw(warning));
        }
        Ok((manifest, text.to_vec(), object.size))
    }

    /// Size and SHA-256 as the manifest says, or the snapshot is refused.
    fn verify(&self, manifest: &Manifest, (size, sha): (u64, String)) -> Result<(), RestoreError> {
        if size == manifest.stored_bytes && sha == manifest.sha256 {
            return Ok(());
        }
        Err(RestoreError::Corrupt {
            id: self.id.clone(),
            container: self.container.clone(),
            expected: manifest.sha256.clone(),
            actual: sha,
            expected_bytes: manifest.stored_bytes,
            actual_bytes: size,
        })
    }

    /// Ranged GETs, several at once, written to `to` in order and hashed on the
    /// way; each chunk also goes to `tee` while it listens.
    async fn download(
        &self,
        ctx: &JobContext,
        aws: &AwsClients,
        manifest: &Manifest,
        size: u64,
        to: &Path,
        mut tee: Option<mpsc::Sender<Bytes>>,
    ) -> Result<(u64, String), RestoreError> {
        let mut file = std::fs::File::create(to)?;
        let mut hasher = Sha256::new();
        let mut done = 0u64;
        let ranges = (0..size.div_ceil(RANGE)).map(|i| (i * RANGE, ((i + 1) * RANGE).min(size) - 1));
        let mut chunks = futures::stream::iter(ranges)
            .map(|(start, end)| s3::get_range(&aws.s3, &self.bucket, &manifest.key, start, end))
            .buffered(RANGES_IN_FLIGHT);
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            file.write_all(&chunk)?;
            done += chunk.len() as u64;
            // Unpacking may stop early (a corrupt snapshot breaks zstd); the
            // download goes on so that the SHA-256 says what happened.
            if let Some(t) = &tee {
                if t.send(chunk).await.is_err() {
                    tee = None;
                }
            }
            ctx.progress(Progress {
                stage: format!("fetching {}", self.id),
                done,
                total: Some(size),
                bytes: true,
                detail: vec![],
            });
        }
        // No fsync: a cached copy is checked against its SHA-256 before every use.
        Ok((done, format!("{:x}", hasher.finalize())))
    }

    /// Restores from a verified local file: unpacked and swapped in, or fed to
    /// the restore command.
    async fn apply_file(
        &self,
        ctx: &JobContext,
        engine: &Engine,
        container: &str,
        manifest: &Manifest,
        data: &Path,
        staging: &Staging,
    ) -> Result<(), RestoreError> {
        let (tx, mut rx) = mpsc::channel::<Bytes>(8);
        let file = std::fs::File::open(data)?;
        let decompress = tokio::task::spawn_blocking(move || decompress(file, tx));
        let total = manifest.raw_bytes;
        let id = self.id.clone();
        let progress = ctx.clone();
        let mut done = 0u64;
        let body = futures::stream::poll_fn(move |cx| {
            let polled = rx.poll_recv(cx);
            if let std::task::Poll::Ready(Some(chunk)) = &polled {
                done += chunk.len() as u64;
                progress.progress(Progress {
                    stage: format!("restoring {id}"),
                    done,
                    total: Some(total),
                    bytes: true,
                    detail: vec![],
                });
            }
            polled
        });
        let applied = match manifest.preset.parse::<Preset>().ok() {
            Some(Preset::Path) => {
                let path = manifest.source.path.clone().ok_or(RestoreError::NoPath)?;
                let stage = self.stage(engine, container, &path, staging).await?;
                engine.extract(container, &stage, body).await.map_err(RestoreError::from)
            }
            // SQL Server's backup file goes to /tmp, then RESTORE reads it.
            Some(Preset::Mssql) => engine.extract(container, "/tmp", body).await.map_err(RestoreError::from),
            Some(preset) => {
                let argv = self.restore_command(preset, &manifest.preset)?;
                engine.exec_input(container, &argv, body.map(Ok)).await.map_err(RestoreError::from)
            }
            None => Err(RestoreError::Preset(self.id.clone(), manifest.preset.clone())),
        };
        let decompressed = decompress.await.map_err(|e| RestoreError::Decompress(e.to_string()))?;
        applied?;
        decompressed?;
        if manifest.preset == Preset::Mssql.as_str() {
            let file = mssql::backup_file(&manifest.id);
            let (user, database) =
                (self.user.as_deref().unwrap_or("sa"), self.database.as_deref().unwrap_or("master"));
            let restored = mssql::restore(engine, container, user, database, &file).await;
            mssql::remove(engine, container, &file).await;
            restored?;
        }
        if let Some(path) = &manifest.source.path.clone().filter(|_| manifest.preset == Preset::Path.as_str())
        {
            let stage = staging_path(path, &self.id);
            self.swap(engine, container, path, &stage, staging).await?;
        }
        Ok(())
    }

    /// Makes the (empty) directory the snapshot is unpacked into, beside `path`.
    async fn stage(
        &self,
        engine: &Engine,
        container: &str,
        path: &str,
        staging: &Staging,
    ) -> Result<String, RestoreError> {
        let stage = staging_path(path, &self.id);
        if let Ok(mut s) = staging.lock() {
            *s = Some((container.to_string(), stage.clone()));
        }
        engine.exec(container, &argv(&["rm", "-rf", "--", &stage])).await?;
        engine.exec(container, &argv(&["mkdir", "-p", "--", &stage])).await?;
        Ok(stage)
    }

    /// Replaces `path` with the complete, verified copy unpacked in `stage`.
    async fn swap(
        &self,
        engine: &Engine,
        container: &str,
        path: &str,
        stage: &str,
        staging: &Staging,
    ) -> Result<(), RestoreError> {
        let path = path.trim_end_matches('/');
        let base = path.rsplit('/').next().filter(|b| !b.is_empty()).ok_or(RestoreError::NoPath)?;
        engine.exec(container, &argv(&["rm", "-rf", "--", path])).await?;
        engine.exec(container, &argv(&["mv", "--", &format!("{stage}/{base}"), path])).await?;
        engine.exec(container, &argv(&["rmdir", "--", stage])).await?;
        if let Ok(mut s) = staging.lock() {
            *s = None;
        }
        Ok(())
    }

    fn restore_command(&self, preset: Preset, name: &str) -> Result<Vec<String>, RestoreError> {
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect();
        Ok(match preset {
            Preset::Postgres => {
                let user = self.user.clone().unwrap_or_else(|| "postgres".into());
                let database = self.database.clone().unwrap_or_else(|| user.clone());
                argv(&["pg_restore", "--clean", "--if-exists", "--no-owner", "-U", &user, "-d", &database])
            }
            Preset::Mysql => {
                let user = self.user.clone().unwrap_or_else(|| "root".into());
                let database = self.database.clone().unwrap_or_else(|| "mysql".into());
                argv(&["mysql", "-u", &user, &database])
            }
            Preset::Custom => {
                self.command.clone().filter(|c| !c.is_empty()).ok_or(RestoreError::NoCommand)?
            }
            Preset::Path | Preset::Mssql => return Err(RestoreError::Preset(self.id.clone(), name.into())),
        })
    }
}

/// The container and directory of a restore's staging copy, while there is one.
type Staging = std::sync::Mutex<Option<(String, String)>>;

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// Where a `path` snapshot is unpacked before it replaces `path`: beside it, on
/// the same file system, so the swap is a rename.
fn staging_path(path: &str, id: &str) -> String {
    let path = path.trim_end_matches('/');
    let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
    format!("{parent}/.wharf-restore-{id}")
}

fn data_file(manifest: &Manifest) -> String {
    format!("data.{}.zst", manifest.content)
}

/// Size and SHA-256 of a file.
fn hash_file(path: &Path) -> Result<(u64, String), RestoreError> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    let mut size = 0;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok((size, format!("{:x}", hasher.finalize())));
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
}

/// Streams the decompressed `input` into `tx`, a chunk at a time.
fn decompress(input: impl Read, tx: mpsc::Sender<Bytes>) -> Result<(), RestoreError> {
    let mut decoder =
        zstd::stream::read::Decoder::new(input).map_err(|e| RestoreError::Decompress(e.to_string()))?;
    loop {
        let mut buffer = vec![0; 256 << 10];
        let n = decoder.read(&mut buffer).map_err(|e| RestoreError::Decompress(e.to_string()))?;
        if n == 0 {
            return Ok(());
        }
        buffer.truncate(n);
        if tx.blocking_send(Bytes::from(buffer)).is_err() {
            return Ok(()); // The reader stopped; its own error says why.
        }
    }
}
