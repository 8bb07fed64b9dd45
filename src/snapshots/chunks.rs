//! Content-defined chunks of a backup stream, the unit the chunked snapshot
//! format will store once and move only when it changed. Cut points come
//! from the content (FastCDC 2020, through the `fastcdc` crate), so a change
//! in the middle of a stream changes the chunks around it and no others,
//! where fixed-size blocks would all shift after an insertion. Each chunk is
//! named by the SHA-256 of its bytes.
//!
//! The sizes were picked by measuring (`cargo bench --bench chunks`, figures
//! in BENCHMARKS.md): an average of 512 KiB moves half what 1 MiB moves after
//! writes scattered through a database (3.7 % of 256 MiB for ten 16 KiB
//! writes, against 7.5 %), the same after one contiguous change (0.2 %), and
//! no chunk but a stream's last is under 256 KiB, so that S3's
//! infrequent-access classes (billed 128 KiB an object at least) bill what is
//! stored; 256 KiB on average would move less again but make twice the PUTs.

use std::collections::HashSet;
use std::io::Read;

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::docker::DockerError;
use crate::model::snapshots::ChunkRef;

/// No chunk but a stream's last is smaller.
pub const MIN_SIZE: usize = 256 * 1024;
/// What the cut points aim at.
pub const AVG_SIZE: usize = 512 * 1024;
/// No chunk is larger.
pub const MAX_SIZE: usize = 2 * 1024 * 1024;

/// One chunk of a stream: where it starts, its bytes, and their SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub offset: u64,
    pub data: Vec<u8>,
    pub sha256: String,
}

/// The chunks of `source`, in order, with wharf's sizes; memory is one
/// chunk's buffer whatever the stream's length.
pub fn chunks<R: Read>(source: R) -> impl Iterator<Item = std::io::Result<Chunk>> {
    chunks_sized(source, (MIN_SIZE, AVG_SIZE, MAX_SIZE))
}

/// The chunks of `source` with other sizes (minimum, average, maximum), to measure them.
pub fn chunks_sized<R: Read>(
    source: R,
    (min, avg, max): (usize, usize, usize),
) -> impl Iterator<Item = std::io::Result<Chunk>> {
    fastcdc::v2020::StreamCDC::new(source, min, avg, max).map(|cut| {
        let cut = cut.map_err(|e| match e {
            fastcdc::v2020::Error::IoError(e) => e,
            other => std::io::Error::other(other.to_string()),
        })?;
        let sha256 = format!("{:x}", Sha256::digest(&cut.data));
        Ok(Chunk { offset: cut.offset, data: cut.data, sha256 })
    })
}

/// Reads `source` into `raw_tx` (the blocking end's channel), counting the
/// bytes in `raw` and calling `report` every MiB; stops quietly when the
/// blocking end stopped (its own error says why).
pub async fn feed(
    source: impl Stream<Item = Result<Bytes, DockerError>> + Send,
    raw_tx: mpsc::Sender<Bytes>,
    raw: &AtomicU64,
    report: impl Fn(),
) -> Result<(), DockerError> {
    let mut source = Box::pin(source);
    let mut reported = 0;
    while let Some(piece) = source.next().await {
        let piece = piece?;
        let len = piece.len() as u64;
        let total = raw.fetch_add(len, Ordering::Relaxed) + len;
        if raw_tx.send(piece).await.is_err() {
            break;
        }
        if total - reported >= 1 << 20 {
            reported = total;
            report();
        }
    }
    Ok(())
}

/// What [`cut`] made of a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cut {
    pub raw_bytes: u64,
    /// Of the whole stream.
    pub sha256: String,
    /// In order; a chunk handed on has stored size 0 until its keeper says.
    pub chunks: Vec<ChunkRef>,
    /// How many chunks were handed on (each once).
    pub handed_on: u64,
}

/// The blocking end of a chunked write: cuts what `raw` brings into
/// chunks, names them, hashes the whole stream, and hands on (once each)
/// the chunks `known` has no stored size for; those are the keeper's to
/// compress and keep. Stops when `out` is closed (the keeper gave up).
pub fn cut(
    raw: mpsc::Receiver<Bytes>,
    out: mpsc::Sender<(String, Vec<u8>)>,
    mut known: impl FnMut(&str) -> Option<u64>,
) -> std::io::Result<Cut> {
    let mut whole = Sha256::new();
    let mut made = Cut::default();
    // Chunks handed on already: a stream may hold one twice.
    let mut handed: HashSet<String> = HashSet::new();
    for chunk in chunks(ChannelReader { rx: raw, current: Bytes::new() }) {
        let chunk = chunk?;
        whole.update(&chunk.data);
        let size = chunk.data.len() as u64;
        made.raw_bytes += size;
        let stored = match known(&chunk.sha256) {
            Some(stored) => stored,
            None if handed.contains(&chunk.sha256) => 0,
            None => {
                handed.insert(chunk.sha256.clone());
                made.handed_on += 1;
                if out.blocking_send((chunk.sha256.clone(), chunk.data)).is_err() {
                    return Err(std::io::Error::other("the chunks' keeper stopped"));
                }
                0
            }
        };
        made.chunks.push(ChunkRef { sha256: chunk.sha256, size, stored });
    }
    made.sha256 = format!("{:x}", whole.finalize());
    Ok(made)
}

/// Reads what the channel brings as one stream (on a blocking thread).
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for ChannelReader {
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
