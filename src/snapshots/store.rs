//! This machine's chunk store (`$XDG_CACHE_HOME/wharf/chunks/<ab>/<sha256>`):
//! the chunks of format-2 snapshots, compressed as S3 holds them, each once.
//! Backups put in what they upload and restores what they fetch, so a
//! restore first takes what is here and fetches only the rest.
//!
//! The restore's safety copies have a store of their own beside it
//! (`$XDG_CACHE_HOME/wharf/safety-chunks/`, [`Store::safety`]), which no
//! trim of this store and no older wharf's touches; a chunk this store holds
//! already goes in as a hard link ([`Store::keep_durably`]), so a copy of what
//! a restore replaces writes only the chunks neither holds, and every chunk
//! it names is on disk (synced) before the container is touched.
//!
//! Each chunk is written to a part file and renamed into place once its
//! bytes are checked against its name, so a chunk here is whole. What is
//! here is bounded with the rest of the cache ([`super::cache::trim`]): a
//! chunk goes when neither a cached snapshot copy nor a safety copy names
//! it. A job adding chunks holds the store shared ([`Store::hold`]) until
//! its manifest names them; trimming holds it exclusively
//! ([`Store::try_exclusive`]) from counting what is named to deleting the
//! rest, so it never deletes a chunk a running job has just added or
//! counted on and not yet named.

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

/// The store held: shared by a job adding to it (trimming leaves it alone
/// until this is dropped), or exclusively by a trim.
#[derive(Debug)]
pub struct Held {
    _lock: File,
}

/// What [`Store::keep_durably`] did with a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    /// The chunk's size in the store.
    pub stored: u64,
    /// Whether it was written now (not there, or damaged), or was there whole.
    pub written: bool,
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

    /// The safety copies' store under wharf's cache directory `cache`.
    pub fn safety(cache: &Path) -> Store {
        Store { dir: cache.join("safety-chunks") }
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

    /// Holds the store exclusively, if no job holds it: for trimming.
    pub fn try_exclusive(&self) -> Option<Held> {
        let lock = self.lock_file().ok()?;
        lock.try_lock().ok()?;
        Some(Held { _lock: lock })
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
        match self.has(sha256) {
            true => Ok(()),
            false => self.write(sha256, compressed, false),
        }
    }

    /// Writes chunk `sha256` through a part file renamed into place (over a
    /// damaged one); `sync`: its bytes are on disk before the rename.
    fn write(&self, sha256: &str, compressed: &[u8], sync: bool) -> std::io::Result<()> {
        let (path, part) = self.part_path(sha256)?;
        let mut file = crate::files::create_private(&part)?;
        file.write_all(compressed)?;
        if sync {
            file.sync_all()?;
        }
        drop(file);
        std::fs::rename(&part, &path).inspect_err(|_| {
            let _ = std::fs::remove_file(&part);
        })
    }

    /// Keeps chunk `chunk`, whose bytes are `plain`, so that a crash cannot
    /// take it: one already here is read, checked (it decompresses to
    /// `plain`, byte for byte) and synced; one `shared` holds whole is
    /// hard-linked here and synced; else it is compressed at `level`, written
    /// and synced. The directories' entries are the caller's to sync
    /// ([`Store::sync_dirs`]) once every chunk is kept.
    pub fn keep_durably(
        &self,
        chunk: &ChunkRef,
        plain: &[u8],
        level: i32,
        shared: Option<&Store>,
    ) -> std::io::Result<Kept> {
        let path = self.path(&chunk.sha256);
        let holds_plain = |bytes: &[u8]| {
            // One byte more than the chunk's room: a longer content does not fit and fails.
            zstd::bulk::decompress(bytes, plain.len() + 1).is_ok_and(|d| d == plain)
        };
        if let Ok(bytes) = std::fs::read(&path)
            && holds_plain(&bytes)
        {
            File::open(&path)?.sync_all()?;
            return Ok(Kept { stored: bytes.len() as u64, written: false });
        }
        if let Some(shared) = shared
            && let Ok(bytes) = std::fs::read(shared.path(&chunk.sha256))
            && holds_plain(&bytes)
            && self.link(&shared.path(&chunk.sha256), &chunk.sha256).is_ok()
        {
            File::open(&path)?.sync_all()?;
            return Ok(Kept { stored: bytes.len() as u64, written: false });
        }
        let compressed = zstd::bulk::compress(plain, level)?;
        self.write(&chunk.sha256, &compressed, true)?;
        Ok(Kept { stored: compressed.len() as u64, written: true })
    }

    /// Links `from` (another store's file) in as chunk `sha256`, through a
    /// part name renamed into place (over a damaged one).
    fn link(&self, from: &Path, sha256: &str) -> std::io::Result<()> {
        let (path, part) = self.part_path(sha256)?;
        std::fs::hard_link(from, &part)?;
        std::fs::rename(&part, &path).inspect_err(|_| {
            let _ = std::fs::remove_file(&part);
        })
    }

    /// Syncs the directories chunks `written` were renamed into (and the
    /// store's own, which may have new ones), so a crash cannot lose their names.
    pub fn sync_dirs<'a>(&self, written: impl IntoIterator<Item = &'a str>) -> std::io::Result<()> {
        let fans: HashSet<PathBuf> =
            written.into_iter().filter_map(|sha| self.path(sha).parent().map(Path::to_path_buf)).collect();
        for fan in fans {
            File::open(fan)?.sync_all()?;
        }
        File::open(&self.dir)?.sync_all()?;
        crate::files::sync_dir(&self.dir)
    }

    /// The compressed stream of `chunks`, in order, read from the store:
    /// zstd frames one after another are one zstd stream, so this is the
    /// whole snapshot as `zstd -d` reads it.
    pub fn stream(&self, chunks: &[ChunkRef]) -> ChunkStream {
        ChunkStream { store: self.clone(), chunks: chunks.to_vec(), next: 0, file: None }
    }

    /// Where chunk `sha256` goes, and a part file beside it (its directory
    /// made): each writer its own, as two jobs of one process may write the
    /// same chunk at once.
    fn part_path(&self, sha256: &str) -> std::io::Result<(PathBuf, PathBuf)> {
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let path = self.path(sha256);
        let dir = path.parent().unwrap_or(&self.dir);
        crate::files::private_dir(dir)?;
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let part = dir.join(format!(".{sha256}.part-{}-{n}", std::process::id()));
        Ok((path, part))
    }

    /// Deletes every chunk that `keep` does not name (part files of jobs cut
    /// short too), the store held exclusively (`_held`) since `keep` was
    /// counted. Returns the bytes freed.
    pub fn trim_to(&self, keep: &HashSet<String>, _held: &Held) -> u64 {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk_of(plain: &[u8]) -> ChunkRef {
        ChunkRef { sha256: format!("{:x}", Sha256::digest(plain)), size: plain.len() as u64, stored: 0 }
    }

    /// A cache directory, its store, and `len` bytes of a chunk with their reference.
    fn fixture(len: u32) -> (tempfile::TempDir, Store, Vec<u8>, ChunkRef) {
        let cache = tempfile::tempdir().unwrap();
        let store = Store::new(cache.path());
        let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let chunk = chunk_of(&plain);
        (cache, store, plain, chunk)
    }

    #[test]
    fn a_chunk_kept_durably_is_written_once_and_a_damaged_one_again() {
        let (_cache, store, plain, chunk) = fixture(300_000);

        let first = store.keep_durably(&chunk, &plain, 1, None).unwrap();
        assert!(first.written);
        let again = store.keep_durably(&chunk, &plain, 1, None).unwrap();
        assert_eq!(again, Kept { stored: first.stored, written: false }, "there whole: not written again");

        // The disk damaged it: it is checked, found bad, and written whole again.
        let path = store.path(&chunk.sha256);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 5;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        assert!(check(&chunk, &std::fs::read(&path).unwrap()).is_err());
        let mended = store.keep_durably(&chunk, &plain, 1, None).unwrap();
        assert!(mended.written);
        check(&chunk, &std::fs::read(&path).unwrap()).unwrap();
        store.sync_dirs([chunk.sha256.as_str()]).unwrap();
        // No part file is left beside it.
        let fan = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(fan, 1);
    }

    #[test]
    fn jobs_of_one_process_writing_the_same_chunk_at_once_leave_it_whole() {
        let (_cache, store, plain, chunk) = fixture(400_000);
        let compressed = zstd::bulk::compress(&plain, 1).unwrap();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..25 {
                        store.write(&chunk.sha256, &compressed, true).unwrap();
                    }
                });
            }
        });
        check(&chunk, &std::fs::read(store.path(&chunk.sha256)).unwrap()).unwrap();
        let left = std::fs::read_dir(store.path(&chunk.sha256).parent().unwrap()).unwrap().count();
        assert_eq!(left, 1, "no part file is left");
    }

    #[test]
    fn a_safety_copy_links_what_the_cache_store_holds_and_keeps_it_when_that_goes() {
        use std::os::unix::fs::MetadataExt;
        let (cache, shared, plain, chunk) = fixture(300_000);
        shared.put(&chunk.sha256, &zstd::bulk::compress(&plain, 3).unwrap()).unwrap();
        let safety = Store::safety(cache.path());
        let kept = safety.keep_durably(&chunk, &plain, 1, Some(&shared)).unwrap();
        assert!(!kept.written, "linked, not written");
        let ino = |s: &Store| std::fs::metadata(s.path(&chunk.sha256)).unwrap().ino();
        assert_eq!(ino(&safety), ino(&shared), "one file on disk");
        // The cache's store lets it go (a trim): the safety copy's stays whole.
        std::fs::remove_file(shared.path(&chunk.sha256)).unwrap();
        check(&chunk, &std::fs::read(safety.path(&chunk.sha256)).unwrap()).unwrap();
        // A damaged one in the cache's store is not linked: the chunk is written.
        let (_other, shared, plain, chunk) = fixture(200_000);
        shared.put(&chunk.sha256, b"not a zstd frame").unwrap();
        assert!(safety.keep_durably(&chunk, &plain, 1, Some(&shared)).unwrap().written);
        check(&chunk, &std::fs::read(safety.path(&chunk.sha256)).unwrap()).unwrap();
    }

    #[test]
    fn a_trim_leaves_the_store_alone_while_a_job_holds_it() {
        let (_cache, store, plain, chunk) = fixture(1000);
        store.keep_durably(&chunk, &plain, 1, None).unwrap();
        let job = store.hold().unwrap();
        assert!(store.try_exclusive().is_none(), "a job holds it: no trim");
        drop(job);
        let held = store.try_exclusive().expect("no job: the trim holds it");
        assert!(store.trim_to(&HashSet::new(), &held) > 0);
        assert!(!store.has(&chunk.sha256));
    }
}
