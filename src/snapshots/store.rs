//! This machine's chunk store (`$XDG_CACHE_HOME/wharf/chunks/<ab>/<sha256>`):
//! the chunks of format-2 snapshots, compressed as S3 holds them, each once.
//! Backups put in what they upload and restores what they fetch, so a
//! restore first takes what is here and fetches only the rest.
//!
//! Each chunk is written to a part file and renamed into place once its
//! bytes are checked against its name, so a chunk here is whole. What is
//! here is bounded with the rest of the cache ([`super::cache::trim`]): a
//! chunk goes when no cached snapshot copy names it. A job adding chunks
//! holds the store shared ([`Store::hold`]); trimming takes it exclusively,
//! so it never deletes a chunk a running backup or restore has just added
//! and not yet named in a manifest.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::model::snapshots::ChunkRef;

/// The chunk store under wharf's cache directory `cache`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub dir: PathBuf,
}

/// The store held by a job adding to it: trimming leaves it alone until this is dropped.
#[derive(Debug)]
pub struct Held {
    _lock: File,
}

/// Why a chunk's bytes are not what its name says.
#[derive(Debug, thiserror::Error)]
pub enum BadChunk {
    #[error("chunk {name}: {why}")]
    Damaged { name: String, why: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Store {
    pub fn new(cache: &Path) -> Store {
        Store { dir: cache.join("chunks") }
    }

    /// Where chunk `sha256` is kept (or would be).
    pub fn path(&self, sha256: &str) -> PathBuf {
        let fan = sha256.get(..2).unwrap_or("00");
        self.dir.join(fan).join(sha256)
    }

    pub fn has(&self, sha256: &str) -> bool {
        self.path(sha256).is_file()
    }

    /// Holds the store shared while a job adds chunks to it.
    pub fn hold(&self) -> std::io::Result<Held> {
        crate::files::private_dir(&self.dir)?;
        let lock = self.lock_file()?;
        lock.lock_shared()?;
        Ok(Held { _lock: lock })
    }

    fn lock_file(&self) -> std::io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(self.dir.join(".lock"))
    }

    /// Keeps `compressed` as chunk `sha256`, whose bytes the caller checked.
    pub fn put(&self, sha256: &str, compressed: &[u8]) -> std::io::Result<()> {
        let path = self.path(sha256);
        if path.is_file() {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(&self.dir);
        crate::files::private_dir(dir)?;
        let part = dir.join(format!(".{sha256}.part-{}", std::process::id()));
        let mut file = crate::files::create_private(&part)?;
        file.write_all(compressed)?;
        drop(file);
        std::fs::rename(&part, &path).inspect_err(|_| {
            let _ = std::fs::remove_file(&part);
        })
    }

    /// The compressed stream of `chunks`, in order, read from the store:
    /// zstd frames one after another are one zstd stream, so this is the
    /// whole snapshot as `zstd -d` reads it.
    pub fn stream(&self, chunks: &[ChunkRef]) -> ChunkStream {
        ChunkStream { store: self.clone(), chunks: chunks.to_vec(), next: 0, file: None }
    }

    /// Deletes every chunk that `keep` does not name, unless a job holds
    /// the store (then nothing: it is trimmed next time). Returns the bytes freed.
    pub fn trim_to(&self, keep: &HashSet<String>) -> u64 {
        let Ok(lock) = self.lock_file() else { return 0 };
        if lock.try_lock().is_err() {
            return 0;
        }
        let mut freed = 0;
        for fan in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            if !fan.path().is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(fan.path()).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if keep.contains(&name) {
                    continue;
                }
                let size = entry.metadata().map_or(0, |m| m.len());
                if std::fs::remove_file(entry.path()).is_ok() {
                    freed += size;
                }
            }
        }
        freed
    }
}

/// Checks a chunk's compressed bytes against its reference: they decompress
/// to `size` bytes whose SHA-256 is its name.
pub fn check(chunk: &ChunkRef, compressed: &[u8]) -> Result<(), BadChunk> {
    let damaged = |why: String| BadChunk::Damaged { name: chunk.sha256.clone(), why };
    let mut decoder = zstd::stream::read::Decoder::new(compressed).map_err(|e| damaged(e.to_string()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 256 << 10];
    let mut size = 0u64;
    loop {
        let n = decoder.read(&mut buffer).map_err(|e| damaged(format!("does not decompress: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    let sha = format!("{:x}", hasher.finalize());
    if sha != chunk.sha256 || size != chunk.size {
        return Err(damaged(format!("holds {size} bytes with SHA-256 {sha}, not {} bytes", chunk.size)));
    }
    Ok(())
}

/// A snapshot's chunks read one after another out of the store.
pub struct ChunkStream {
    store: Store,
    chunks: Vec<ChunkRef>,
    next: usize,
    file: Option<File>,
}

impl Read for ChunkStream {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(file) = &mut self.file {
                let n = file.read(buffer)?;
                if n > 0 || buffer.is_empty() {
                    return Ok(n);
                }
                self.file = None;
            }
            let Some(chunk) = self.chunks.get(self.next) else { return Ok(0) };
            self.next += 1;
            let path = self.store.path(&chunk.sha256);
            self.file = Some(File::open(&path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("chunk {} is not in the store: {e}", chunk.sha256))
            })?);
        }
    }
}
