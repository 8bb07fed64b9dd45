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

use std::io::Read;

use sha2::{Digest, Sha256};

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
