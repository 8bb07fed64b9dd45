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

use super::{Cancelled, JobContext, JobError, JobOutput, Progress};
use crate::aws::s3;
use crate::aws::{AwsClients, AwsError};
use crate::config::{Preset, Settings};
use crate::docker::{DockerError, Engine};
use crate::snapshots::{self, Manifest, pricing};
use crate::ui::format;

/// Bytes per ranged GET, and how many run at once.
const RANGE: u64 = 8 << 20;
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
        let (manifest, data, from_cache) = tokio::select! {
            _ = ctx.cancel.cancelled() => {
                let _ = std::fs::remove_file(dir.join("data.part"));
                return Err(Cancelled.into());
            }
            r = self.fetch(&ctx, &dir, aws.as_ref()) => r?,
        };
        ctx.progress(Progress::stage(format!("verified {} ({})", self.id, &manifest.sha256[..12])));
        let engine = Engine::connect(self.docker_host.as_deref()).await?;
        let container = engine.container(&self.container).await.map_err(RestoreError::from)?;
        if !container.running {
            return Err(RestoreError::Docker(DockerError::NotRunning(container.name)).into());
        }
        tokio::select! {
            _ = ctx.cancel.cancelled() => {
                // Only the unpacking can be interrupted; its leftovers go.
                if let Some(path) = &manifest.source.path {
                    let _ = engine.exec(&container.name, &["rm".into(), "-rf".into(), "--".into(), staging(path, &self.id)]).await;
                }
                return Err(Cancelled.into());
            }
            r = self.apply(&ctx, &engine, &container.name, &manifest, &data) => r?,
        }
        Ok(JobOutput {
            summary: format!(
                "{} restored into {} ({}{})",
                self.id,
                container.name,
                format::bytes(manifest.raw_bytes),
                if from_cache { ", from the cache" } else { "" }
            ),
            copy: None,
            json: json!({
                "id": self.id,
                "container": container.name,
                "raw_bytes": manifest.raw_bytes,
                "sha256": manifest.sha256,
                "from_cache": from_cache,
            }),
        })
    }

    /// The manifest and a verified local copy of the data: the cache's when it
    /// checks out, else a fresh download.
    async fn fetch(
        &self,
        ctx: &JobContext,
        dir: &Path,
        aws: Option<&AwsClients>,
    ) -> Result<(Manifest, PathBuf, bool), RestoreError> {
        if let Ok(text) = std::fs::read(dir.join("manifest.json")) {
            if let Ok(manifest) = serde_json::from_slice::<Manifest>(&text) {
                let data = dir.join(data_file(&manifest));
                if data.exists() {
                    ctx.progress(Progress::stage("checking the cached copy"));
                    let path = data.clone();
                    let (size, sha) = tokio::task::spawn_blocking(move || hash_file(&path))
                        .await
                        .map_err(|e| RestoreError::Decompress(e.to_string()))??;
                    if size == manifest.stored_bytes && sha == manifest.sha256 {
                        return Ok((manifest, data, true));
                    }
                    tracing::warn!(id = %self.id, "cached snapshot does not match its manifest; fetching again");
                    let _ = std::fs::remove_file(&data);
                }
            }
        }
        let aws = aws.ok_or_else(|| RestoreError::NoAws(self.id.clone()))?;
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

        std::fs::create_dir_all(dir)?;
        let part = dir.join("data.part");
        let result = self.download(ctx, aws, &manifest, object.size, &part).await;
        let (size, sha) = match result {
            Ok(v) => v,
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
        };
        if size != manifest.stored_bytes || sha != manifest.sha256 {
            let _ = std::fs::remove_file(&part);
            return Err(RestoreError::Corrupt {
                id: self.id.clone(),
                container: self.container.clone(),
                expected: manifest.sha256.clone(),
                actual: sha,
                expected_bytes: manifest.stored_bytes,
                actual_bytes: size,
            });
        }
        let data = dir.join(data_file(&manifest));
        std::fs::rename(&part, &data)?;
        std::fs::write(dir.join("manifest.json"), &text)?;
        Ok((manifest, data, false))
    }

    /// Ranged GETs, several at once, written in order and hashed on the way.
    async fn download(
        &self,
        ctx: &JobContext,
        aws: &AwsClients,
        manifest: &Manifest,
        size: u64,
        to: &Path,
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
            ctx.progress(Progress {
                stage: format!("downloading {}", self.id),
                done,
                total: Some(size),
                bytes: true,
                detail: vec![],
            });
        }
        file.sync_all()?;
        Ok((done, format!("{:x}", hasher.finalize())))
    }

    async fn apply(
        &self,
        ctx: &JobContext,
        engine: &Engine,
        container: &str,
        manifest: &Manifest,
        data: &Path,
    ) -> Result<(), RestoreError> {
        let (tx, mut rx) = mpsc::channel::<Bytes>(8);
        let path = data.to_path_buf();
        let decompress = tokio::task::spawn_blocking(move || decompress(&path, tx));
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
                self.swap_in(engine, container, &path, body).await
            }
            Some(preset) => {
                let argv = self.restore_command(preset, &manifest.preset)?;
                engine.exec_input(container, &argv, body.map(Ok)).await.map_err(RestoreError::from)
            }
            None => Err(RestoreError::Preset(self.id.clone(), manifest.preset.clone())),
        };
        let decompressed = decompress.await.map_err(|e| RestoreError::Decompress(e.to_string()))?;
        applied?;
        decompressed
    }

    /// Unpacks the tar beside `path`, then replaces `path` with it.
    async fn swap_in(
        &self,
        engine: &Engine,
        container: &str,
        path: &str,
        body: impl futures::Stream<Item = Bytes> + Send + 'static,
    ) -> Result<(), RestoreError> {
        let path = path.trim_end_matches('/');
        let base = path.rsplit('/').next().filter(|b| !b.is_empty()).ok_or(RestoreError::NoPath)?;
        let staging = staging(path, &self.id);
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        engine.exec(container, &argv(&["mkdir", "-p", &staging])).await?;
        if let Err(e) = engine.extract(container, &staging, body).await {
            let _ = engine.exec(container, &argv(&["rm", "-rf", "--", &staging])).await;
            return Err(e.into());
        }
        // From here on the new contents are complete: swap them in.
        engine.exec(container, &argv(&["rm", "-rf", "--", path])).await?;
        engine.exec(container, &argv(&["mv", "--", &format!("{staging}/{base}"), path])).await?;
        engine.exec(container, &argv(&["rmdir", "--", &staging])).await?;
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

/// Where a `path` snapshot is unpacked before it replaces `path`: beside it, on
/// the same file system, so the swap is a rename.
fn staging(path: &str, id: &str) -> String {
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

/// Streams the decompressed data into `tx`, a chunk at a time.
fn decompress(path: &Path, tx: mpsc::Sender<Bytes>) -> Result<(), RestoreError> {
    let file = std::fs::File::open(path)?;
    let mut decoder =
        zstd::stream::read::Decoder::new(file).map_err(|e| RestoreError::Decompress(e.to_string()))?;
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
