//! A cache that does not fill the disk. Everything in wharf's cache
//! directory but the safety copies (which keep the newest few per container
//! on their own, with their store of chunks) is bounded by the profile's
//! `cache_limit`: when it is over, the verified snapshot copies least
//! recently used go first. (A chunk a safety copy shares with a snapshot
//! copy is on disk once, a hard link in each store, and counted in both.)
//!
//! A job that uses a cached copy holds it (a shared lock on
//! `snapshots/<id>.lock`, whose modification time is when it was last
//! used); trimming takes each copy's lock exclusively before deleting it,
//! so it never deletes what a running job reads, and skips the copies a
//! restore cut short still names in its journal.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use std::collections::{HashMap, HashSet};

use super::local::{LocalSnapshot, cached_dir, safety_chunks, snapshot_cache};
use super::store::Store;

/// A cached snapshot copy a job is using: trimming leaves it alone until this is dropped.
#[derive(Debug)]
pub struct InUse {
    _lock: File,
}

/// Holds snapshot `id`'s copy in the cache (made or not yet) as in use, and
/// marks it used now.
pub fn hold(cache: &Path, id: &str) -> std::io::Result<InUse> {
    let dir = cached_dir(cache, id).map_err(std::io::Error::other)?;
    let path = lock_path(&dir);
    crate::files::private_dir(&snapshot_cache(cache))?;
    loop {
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(&path)?;
        file.lock_shared()?;
        // A trim may have deleted the file between the open and the lock: then it is another's now.
        let same = std::fs::metadata(&path).is_ok_and(|m| m.ino() == file.metadata().map_or(0, |f| f.ino()));
        if same {
            let _ = file.set_modified(SystemTime::now());
            return Ok(InUse { _lock: file });
        }
    }
}

/// `snapshots/<id>.lock`, beside the copy's directory (an id may hold dots).
fn lock_path(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    dir.with_file_name(name)
}

/// Whether a job holds the copy in `dir` (or is fetching it) now.
pub fn in_use(dir: &Path) -> bool {
    File::open(lock_path(dir)).is_ok_and(|f| matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)))
}

/// What the cache holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Everything but the safety copies: what `cache_limit` bounds.
    pub bounded: u64,
    /// The safety copies of what restores replaced, with their store of chunks.
    pub safety: u64,
}

/// How much the cache directory holds, in what.
pub fn usage(cache: &Path) -> Usage {
    let safety = size_of(&cache.join("safety")) + size_of(&Store::safety(cache).dir);
    Usage { bounded: size_of(cache).saturating_sub(safety), safety }
}

/// What a trim did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trimmed {
    /// The snapshot copies deleted, least recently used first.
    pub removed: Vec<String>,
    pub freed: u64,
    /// What the bounded part holds now.
    pub left: u64,
    /// Copies that would have gone but a job is using (or a journal needs).
    pub in_use: Vec<String>,
}

/// Deletes snapshot copies, least recently used first, until everything but
/// the safety copies fits in `limit`; never one in use, nor one a journal of
/// a restore cut short names (`needed`). A chunked copy frees the chunks in
/// the store no other copy uses; chunks none names (a backup or fetch cut
/// short) go whenever no job holds the store. The safety copies' store loses
/// the chunks no safety copy names (of copies let go, or cut short) the same way.
pub fn trim(cache: &Path, limit: u64, needed: &[PathBuf]) -> Trimmed {
    let store = Store::new(cache);
    // Held from counting what is named to deleting the rest; while a job adds
    // chunks (named or counted on, not yet in its manifest) no chunk goes.
    let exclusive = store.try_exclusive();
    let mut left = usage(cache).bounded;
    let mut trimmed = Trimmed::default();
    let mut copies: Vec<(SystemTime, PathBuf)> = std::fs::read_dir(snapshot_cache(cache))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .map(|dir| {
            let used = std::fs::metadata(lock_path(&dir))
                .or_else(|_| std::fs::metadata(&dir))
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            (used, dir)
        })
        .collect();
    copies.sort();
    // How many copies name each chunk.
    let chunks_of = |dir: &Path| LocalSnapshot::manifest_in(dir).map(|m| m.chunks).unwrap_or_default();
    let mut users: HashMap<String, usize> = HashMap::new();
    for (_, dir) in &copies {
        for chunk in chunks_of(dir).iter().map(|c| c.sha256.clone()).collect::<HashSet<_>>() {
            *users.entry(chunk).or_default() += 1;
        }
    }
    for (_, dir) in copies {
        if left <= limit {
            break;
        }
        let id = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if needed.iter().any(|n| n.starts_with(&dir)) {
            trimmed.in_use.push(id);
            continue;
        }
        let Ok(lock) = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(lock_path(&dir))
        else {
            continue;
        };
        if lock.try_lock().is_err() {
            trimmed.in_use.push(id);
            continue;
        }
        let chunks: HashSet<String> = chunks_of(&dir).into_iter().map(|c| c.sha256).collect();
        let size = size_of(&dir);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {
                // Deleted while locked: whoever opened it before waits on a file no one finds again.
                let _ = std::fs::remove_file(lock_path(&dir));
                // The chunks no other copy uses go with it (below, in one pass over the
                // store), if this trim holds the store.
                let mut own = 0;
                for chunk in chunks {
                    if let Some(n) = users.get_mut(&chunk) {
                        *n -= 1;
                        if *n == 0 && exclusive.is_some() {
                            own += std::fs::metadata(store.path(&chunk)).map_or(0, |m| m.len());
                        }
                    }
                }
                left = left.saturating_sub(size + own);
                trimmed.freed += size;
                trimmed.removed.push(id);
            }
            Err(e) => tracing::warn!(dir = %dir.display(), error = %e, "cannot delete a cached snapshot"),
        }
    }
    if let Some(held) = &exclusive {
        let keep: HashSet<String> = users.into_iter().filter(|(_, n)| *n > 0).map(|(c, _)| c).collect();
        trimmed.freed += store.trim_to(&keep, held);
        left = usage(cache).bounded;
    }
    let safety = Store::safety(cache);
    if let Some(held) = safety.try_exclusive() {
        safety.trim_to(&safety_chunks(cache), &held);
    }
    trimmed.left = left;
    trimmed
}

/// Bytes under `path`, its subdirectories included (symbolic links not followed).
pub fn size_of(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).into_iter().flatten().flatten().map(|e| size_of(&e.path())).sum()
}
