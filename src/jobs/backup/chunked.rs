//! The chunked backup (format 2): the stream cut into content-defined
//! chunks, and only the chunks the bucket lacks compressed and sent.
//!
//! ```text
//! engine stream ─▶ [raw, 16] ─▶ chunk + SHA-256, zstd the new ones (a blocking thread) ─▶ [chunks, 8] ─▶ up to 8 PUTs
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
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{BackupError, LEVEL};
use crate::aws::s3;
use crate::aws::{AwsClients, AwsError};
use crate::config::StorageClass;
use crate::docker::DockerError;
use crate::format;
use crate::jobs::{JobContext, JobError, Progress};
use crate::model::snapshots::ChunkRef;
use crate::snapshots::{chunk_key, chunks, locks, store::Store};

/// Chunk PUTs in flight at once.
const IN_FLIGHT: usize = 8;

/// What a chunked backup stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedStored {
    pub raw_bytes: u64,
    /// Every chunk's stored size, as often as the stream holds it.
    pub stored_bytes: u64,
    /// Of the whole stream, uncompressed.
    pub sha256: String,
    pub chunks: Vec<ChunkRef>,
    /// What went up: the chunks the bucket lacked.
    pub new_bytes: u64,
    pub new_chunks: u64,
}

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

    pub async fn release(self) {
        self.refresher.abort();
        locks::release(&self.s3, &self.bucket, &self.key).await;
    }
}

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
) -> Result<ChunkedStored, JobError> {
    let raw = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let (raw_tx, raw_rx) = mpsc::channel::<Bytes>(16);
    let (chunk_tx, mut chunk_rx) = mpsc::channel::<(String, Bytes)>(IN_FLIGHT);
    let cutter = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || cut(raw_rx, chunk_tx, known, &store))
    };
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
    let read = async {
        let mut source = Box::pin(source);
        let mut reported = 0;
        while let Some(piece) = source.next().await {
            let piece = piece.map_err(BackupError::from)?;
            let total = raw.fetch_add(piece.len() as u64, Ordering::Relaxed) + piece.len() as u64;
            if raw_tx.send(piece).await.is_err() {
                break; // The cutter stopped; its error says why.
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
        let mut running: JoinSet<Result<u64, AwsError>> = JoinSet::new();
        let mut sent_bytes = 0u64;
        let mut settle = |done: Option<Result<Result<u64, AwsError>, tokio::task::JoinError>>| {
            if let Some(done) = done {
                let size = done.map_err(|e| BackupError::Aws(AwsError::Service(e.to_string())))??;
                sent.fetch_add(size, Ordering::Relaxed);
                sent_bytes += size;
                report("backing up");
            }
            Ok::<_, BackupError>(())
        };
        while let Some((sha, body)) = chunk_rx.recv().await {
            while running.len() >= IN_FLIGHT {
                settle(running.join_next().await)?;
            }
            let (s3_client, bucket, key) = (aws.s3.clone(), bucket.to_string(), chunk_key(prefix, &sha));
            running.spawn(async move {
                let size = body.len() as u64;
                s3::put_chunk(&s3_client, &bucket, &key, body, class).await.map(|_| size)
            });
        }
        while !running.is_empty() {
            settle(running.join_next().await)?;
        }
        Ok::<_, BackupError>(sent_bytes)
    };
    let (read, sent_bytes) = tokio::join!(read, send);
    let cut = cutter.await.map_err(|e| BackupError::Compress(e.to_string()))?;
    // The first failure is the one to tell: a broken source or S3 beats the cutter's broken pipe.
    read?;
    let new_bytes = sent_bytes?;
    let mut stored = cut?;
    stored.new_bytes = new_bytes;
    report("uploaded");
    Ok(stored)
}

/// Reads what the channel brings as one stream.
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(next) => self.current = next,
                None => return Ok(0),
            }
        }
        let n = buffer.len().min(self.current.len());
        buffer[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// The blocking end: chunks and their names, the stream's SHA-256, and the
/// new chunks compressed, kept here and handed to the uploads.
fn cut(
    raw: mpsc::Receiver<Bytes>,
    out: mpsc::Sender<(String, Bytes)>,
    known: HashMap<String, u64>,
    store: &Store,
) -> Result<ChunkedStored, BackupError> {
    let mut whole = Sha256::new();
    let mut stored = ChunkedStored {
        raw_bytes: 0,
        stored_bytes: 0,
        sha256: String::new(),
        chunks: Vec::new(),
        new_bytes: 0,
        new_chunks: 0,
    };
    // Chunks this run compressed, with their sizes: a stream may hold one twice.
    let mut made: HashMap<String, u64> = HashMap::new();
    let io = |e: std::io::Error| BackupError::Compress(e.to_string());
    for chunk in chunks::chunks(ChannelReader { rx: raw, current: Bytes::new() }) {
        let chunk = chunk.map_err(io)?;
        whole.update(&chunk.data);
        let size = chunk.data.len() as u64;
        stored.raw_bytes += size;
        let stored_size = match known.get(&chunk.sha256).or(made.get(&chunk.sha256)) {
            Some(&s) => s,
            None => {
                let compressed = zstd::bulk::compress(&chunk.data, LEVEL).map_err(io)?;
                if let Err(e) = store.put(&chunk.sha256, &compressed) {
                    tracing::warn!(error = %e, "cannot keep a chunk in this machine's store");
                }
                let s = compressed.len() as u64;
                made.insert(chunk.sha256.clone(), s);
                stored.new_chunks += 1;
                if out.blocking_send((chunk.sha256.clone(), Bytes::from(compressed))).is_err() {
                    // The uploads stopped; their error says why.
                    return Err(BackupError::Compress("the upload stopped".into()));
                }
                s
            }
        };
        stored.stored_bytes += stored_size;
        stored.chunks.push(ChunkRef { sha256: chunk.sha256, size, stored: stored_size });
    }
    stored.sha256 = format!("{:x}", whole.finalize());
    Ok(stored)
}
