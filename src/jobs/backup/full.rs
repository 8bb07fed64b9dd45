//! The full backup (format 1): the whole stream through zstd and SHA-256
//! into one S3 multipart upload.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{BackupError, IN_FLIGHT, IN_FLIGHT_BYTES, LEVEL, Stored};
use crate::aws::AwsError;
use crate::aws::s3::{self, Part, Upload};
use crate::docker::DockerError;
use crate::format;
use crate::jobs::{JobContext, JobError, Progress};
use crate::snapshots::chunks;

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

    let read = chunks::feed(source, raw_tx, &raw, || report("backing up"));
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
    read.map_err(BackupError::from)?;
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
