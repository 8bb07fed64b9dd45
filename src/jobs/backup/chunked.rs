//! The chunked backup (format 2): the stream cut into content-defined
//! chunks, and only the chunks the bucket lacks compressed and sent.
//!
//! ```text
//! engine stream ─▶ [raw, 16] ─▶ chunks::cut (a blocking thread) ─▶ [new chunks, 8] ─▶ up to 8 × (zstd, PUT)
//! ```
//!
//! What the bucket holds comes from a listing of `PREFIX/chunks/` taken
//! after this backup's lock is written ([`crate::snapshots::locks`]), so no
//! prune deletes a chunk this backup counts on. Each PUT is conditional
//! (`If-None-Match: *`): a chunk another machine sent meanwhile is left as
//! it is. Memory is a few chunks (2 MiB at most each) whatever the size.
//! What this backup sends also goes into this machine's chunk store, so a
//! restore here later fetches none of it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use bytes::Bytes;
use futures::Stream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{BackupError, LEVEL, Written};
use crate::aws::s3;
use crate::aws::{AwsClients, AwsError};
use crate::config::StorageClass;
use crate::docker::DockerError;
use crate::format;
use crate::jobs::{JobContext, JobError, Progress};
use crate::snapshots::{chunk_key, chunks, locks, store::Store};

/// Chunk PUTs in flight at once.
const IN_FLIGHT: usize = 8;

/// This backup's lock in the bucket, rewritten while it runs.
pub struct BackupLock {
    key: String,
    bucket: String,
    s3: crate::aws::S3Client,
    /// When it was last written (this machine's clock).
    written: Arc<AtomicI64>,
    refresher: tokio::task::JoinHandle<()>,
}

impl BackupLock {
    /// Writes the lock, then waits while a fresh prune lock is there
    /// (stepping back: its own lock deleted meanwhile, so the prune goes on).
    pub async fn take(
        ctx: &JobContext,
        aws: &AwsClients,
        bucket: &str,
        prefix: &str,
        id: &str,
    ) -> Result<BackupLock, JobError> {
        let key = locks::backup_key(prefix, id);
        let started = crate::time::unix_now();
        loop {
            locks::write_shared(&aws.s3, bucket, prefix, id).await.map_err(BackupError::from)?;
            let now = crate::time::unix_now();
            let Some(prune) =
                locks::pruning(&aws.s3, bucket, prefix, now).await.map_err(BackupError::from)?
            else {
                break;
            };
            locks::release(&aws.s3, bucket, &key).await;
            if now - started > locks::STALE_SECS {
                return Err(BackupError::Aws(AwsError::Service(format!(
                    "a prune holds s3://{bucket}/{} ({}); try again once it is done",
                    prune.key,
                    prune.describe(now)
                )))
                .into());
            }
            ctx.progress(Progress::stage(format!("waiting for a prune: {}", prune.describe(now))));
            tokio::select! {
                _ = ctx.cancel.cancelled() => return Err(crate::jobs::Cancelled.into()),
                _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            }
        }
        let written = Arc::new(AtomicI64::new(crate::time::unix_now()));
        let refresher = {
            let (s3_client, bucket, prefix, id, written) =
                (aws.s3.clone(), bucket.to_string(), prefix.to_string(), id.to_string(), written.clone());
            tokio::spawn(async move {
                let every = std::time::Duration::from_secs(locks::REFRESH_SECS);
                loop {
                    tokio::time::sleep(every).await;
                    match locks::write_shared(&s3_client, &bucket, &prefix, &id).await {
                        Ok(()) => written.store(crate::time::unix_now(), Ordering::Relaxed),
                        Err(e) => tracing::warn!(error = %e, "cannot refresh the backup's lock"),
                    }
                }
            })
        };
        Ok(BackupLock { key, bucket: bucket.to_string(), s3: aws.s3.clone(), written, refresher })
    }

    /// Whether the lock stayed fresh all along: if it did not (no refresh
    /// for a lock's lifetime), a prune may have taken chunks this backup counts on.
    pub fn held_throughout(&self) -> bool {
        crate::time::unix_now() - self.written.load(Ordering::Relaxed) < locks::STALE_SECS - 30
    }

    /// Stops the refreshing (and waits until it has stopped, so no rewrite
    /// lands after the delete), then deletes the lock.
    pub async fn release(self) {
        self.refresher.abort();
        let _ = self.refresher.await;
        locks::release(&self.s3, &self.bucket, &self.key).await;
    }
}

/// A new chunk sent: its name and stored size.
type Sent = Result<(String, u64), BackupError>;

/// Streams `source` as chunks: those `known` (in the bucket, with their
/// stored sizes) are named, the others compressed, kept in `store` and sent.
pub async fn store(
    ctx: &JobContext,
    source: impl Stream<Item = Result<Bytes, DockerError>> + Send,
    aws: &AwsClients,
    (bucket, prefix, class): (&str, &str, StorageClass),
    store: &Store,
    known: HashMap<String, u64>,
    expected: Option<u64>,
) -> Result<Written, JobError> {
    let raw = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let (raw_tx, raw_rx) = mpsc::channel::<Bytes>(16);
    let (chunk_tx, mut chunk_rx) = mpsc::channel::<(String, Vec<u8>)>(IN_FLIGHT);
    let cutter =
        tokio::task::spawn_blocking(move || chunks::cut(raw_rx, chunk_tx, |sha| known.get(sha).copied()));
    let report = |stage: &str| {
        let (r, s) = (raw.load(Ordering::Relaxed), sent.load(Ordering::Relaxed));
        ctx.progress(Progress {
            stage: format!("{stage}: read {}, sent {} of new chunks", format::bytes(r), format::bytes(s)),
            done: r,
            total: expected.map(|e| e.max(r)),
            bytes: true,
            detail: vec![],
        });
    };
    let read = chunks::feed(source, raw_tx, &raw, || report("backing up"));
    // Each new chunk is compressed (on the blocking threads, several at once: every
    // core), kept in the store and sent; its stored size comes back by its name.
    let send = async {
        let mut running: JoinSet<Sent> = JoinSet::new();
        let mut stored_sizes: HashMap<String, u64> = HashMap::new();
        let mut settle = |done: Option<Result<Sent, tokio::task::JoinError>>| {
            if let Some(done) = done {
                let (sha, size) = done.map_err(|e| BackupError::Compress(e.to_string()))??;
                sent.fetch_add(size, Ordering::Relaxed);
                stored_sizes.insert(sha, size);
                report("backing up");
            }
            Ok::<_, BackupError>(())
        };
        while let Some((sha, plain)) = chunk_rx.recv().await {
            while running.len() >= IN_FLIGHT {
                settle(running.join_next().await)?;
            }
            let (s3_client, bucket, key) = (aws.s3.clone(), bucket.to_string(), chunk_key(prefix, &sha));
            let store = store.clone();
            running.spawn(async move {
                let (sha, body) = tokio::task::spawn_blocking(move || {
                    let compressed = zstd::bulk::compress(&plain, LEVEL)?;
                    if let Err(e) = store.put(&sha, &compressed) {
                        tracing::warn!(error = %e, "cannot keep a chunk in this machine's store");
                    }
                    Ok::<_, std::io::Error>((sha, Bytes::from(compressed)))
                })
                .await
                .map_err(|e| BackupError::Compress(e.to_string()))?
                .map_err(|e| BackupError::Compress(e.to_string()))?;
                let size = body.len() as u64;
                s3::put_chunk(&s3_client, &bucket, &key, body, class).await?;
                Ok((sha, size))
            });
        }
        while !running.is_empty() {
            settle(running.join_next().await)?;
        }
        Ok::<_, BackupError>(stored_sizes)
    };
    let (read, sent_sizes) = tokio::join!(read, send);
    let cut = cutter.await.map_err(|e| BackupError::Compress(e.to_string()))?;
    // The first failure is the one to tell: a broken source or S3 beats the cutter's broken pipe.
    read.map_err(BackupError::from)?;
    let sent_sizes = sent_sizes?;
    let mut cut = cut.map_err(|e| BackupError::Compress(e.to_string()))?;
    // The new chunks' stored sizes, known once they are sent.
    for chunk in cut.chunks.iter_mut().filter(|c| c.stored == 0) {
        chunk.stored = sent_sizes.get(&chunk.sha256).copied().unwrap_or_default();
    }
    report("uploaded");
    Ok(Written {
        raw_bytes: cut.raw_bytes,
        stored_bytes: cut.chunks.iter().map(|c| c.stored).sum(),
        sha256: cut.sha256,
        chunks: cut.chunks,
        new_bytes: sent_sizes.values().sum(),
        new_chunks: cut.handed_on,
    })
}
