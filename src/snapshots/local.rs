//! Snapshots on this machine: verified copies of S3 snapshots in the cache
//! (`$XDG_CACHE_HOME/wharf/snapshots/<id>/`), and the safety copies a restore
//! takes of what it replaces (`$XDG_CACHE_HOME/wharf/safety/<container>/<id>/`).
//! Each is a directory with its manifest and the data file (format 1), or
//! the manifest alone, its chunks in a store (format 2: chunked copies, in
//! the cache's; the safety copies this wharf writes, in their own). The manifest is written
//! last, after the data is on disk, so a directory without one is an
//! interrupted write and never used.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::Stream;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::Manifest;
use super::chunks::{self, Cut};
use super::store::{Kept, Store};
use crate::docker::DockerError;
use crate::files;
use crate::model::snapshots::ChunkRef;

/// zstd's level for the chunks a safety copy writes: it is local and short-
/// lived, and is written while the container is stopped, so speed beats size.
const LEVEL: i32 = 1;

/// A snapshot's data and manifest in a directory of this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSnapshot {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// Why a local snapshot could not be written or used.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("compressing failed: {0}")]
    Compress(String),
}

impl LocalError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LocalError + '_ {
        move |source| LocalError::Io { path: path.display().to_string(), source }
    }
}

impl LocalSnapshot {
    /// The snapshot in `dir`, if its manifest is there and readable and its
    /// data is here: the data file, or (chunked) every chunk in the store
    /// (whether the data is whole is for [`LocalSnapshot::check`]).
    pub fn open(dir: &Path) -> Option<LocalSnapshot> {
        let manifest = Self::manifest_in(dir)?;
        let snapshot = LocalSnapshot { dir: dir.to_path_buf(), manifest };
        snapshot.missing_chunks().is_empty().then_some(())?;
        (snapshot.manifest.is_chunked() || snapshot.data().exists()).then_some(snapshot)
    }

    /// The manifest kept in `dir`, whatever of its data is here.
    pub fn manifest_in(dir: &Path) -> Option<Manifest> {
        let text = std::fs::read(dir.join("manifest.json")).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// The data file (of a snapshot that is one object).
    pub fn data(&self) -> PathBuf {
        self.dir.join(data_file(&self.manifest))
    }

    /// The store a chunked copy's chunks are in: the cache's, or for a
    /// safety copy the safety copies' own.
    pub fn store(&self) -> Store {
        match is_safety_copy(&self.dir) {
            true => Store::safety(cache_of(&self.dir)),
            false => Store::new(cache_of(&self.dir)),
        }
    }

    /// The chunks of a chunked copy the store lacks, each once.
    pub fn missing_chunks(&self) -> Vec<ChunkRef> {
        let store = self.store();
        let mut seen = std::collections::HashSet::new();
        self.manifest
            .chunks
            .iter()
            .filter(|c| seen.insert(c.sha256.as_str()) && !store.has(&c.sha256))
            .cloned()
            .collect()
    }

    /// The data as stored: one zstd stream (the data file, or the chunks one
    /// after another), or the dump itself when it was kept uncompressed.
    pub fn compressed(&self) -> std::io::Result<Box<dyn Read + Send>> {
        Ok(match self.manifest.is_chunked() {
            true => Box::new(self.store().stream(&self.manifest.chunks)),
            false => Box::new(std::fs::File::open(self.data())?),
        })
    }

    /// Whether the data has the size and SHA-256 its manifest records: of
    /// the data file, or (chunked) of the whole stream the chunks make (reads
    /// it all: call it off the async threads).
    pub fn check(&self) -> std::io::Result<Result<(), (u64, String)>> {
        let (size, sha) = match self.manifest.is_chunked() {
            true => hash_reader(zstd::stream::read::Decoder::new(self.compressed()?)?)?,
            false => hash_file(&self.data())?,
        };
        let (want_size, want_sha) = self.manifest.checked_as();
        Ok(if size == want_size && sha == want_sha { Ok(()) } else { Err((size, sha)) })
    }
}

/// The cache directory a copy in `dir` is kept in: `<cache>/snapshots/<id>`
/// or `<cache>/safety/<container>/<id>` (the cache itself is never named
/// `safety`: it is `…/wharf` or `.wharf/cache`).
fn cache_of(dir: &Path) -> &Path {
    let up = |n| dir.ancestors().nth(n).unwrap_or(dir);
    match is_safety_copy(dir) {
        true => up(3),
        false => up(2),
    }
}

/// Whether `dir` is a safety copy's: `<cache>/safety/<container>/<id>`.
fn is_safety_copy(dir: &Path) -> bool {
    dir.ancestors().nth(2).and_then(Path::file_name).is_some_and(|name| name == "safety")
}

/// The chunks the safety copies in `cache` name (in their own store).
pub fn safety_chunks(cache: &Path) -> HashSet<String> {
    let copies = std::fs::read_dir(cache.join("safety")).into_iter().flatten().flatten();
    copies
        .flat_map(|container| std::fs::read_dir(container.path()).into_iter().flatten().flatten())
        .filter_map(|copy| LocalSnapshot::manifest_in(&copy.path()))
        .flat_map(|manifest| manifest.chunks.into_iter().map(|c| c.sha256))
        .collect()
}

/// `data.<content>.zst`, the data file's name.
pub fn data_file(manifest: &Manifest) -> String {
    match manifest.compression.as_str() {
        // A dump as its client wrote it (a remote backup's): kept as it is.
        "none" => format!("data.{}", manifest.content),
        _ => format!("data.{}.zst", manifest.content),
    }
}

/// Where verified copies of S3 snapshots are kept, under wharf's cache directory.
pub fn snapshot_cache(cache: &Path) -> PathBuf {
    cache.join("snapshots")
}

/// Where snapshot `id`'s verified copy is kept; refused unless `id` has the
/// shape of wharf's ids (a name from a listing or a `HEAD.json` is somebody
/// else's words until it is checked).
pub fn cached_dir(cache: &Path, id: &str) -> Result<PathBuf, super::BadId> {
    super::check_id(id)?;
    Ok(snapshot_cache(cache).join(id))
}

/// Where the safety copies of what restores replaced in `container` are kept.
pub fn safety_dir(cache: &Path, container: &str) -> PathBuf {
    cache.join("safety").join(container)
}

/// The safety copies of `container`, newest first; incomplete ones are left out.
pub fn safety_copies(cache: &Path, container: &str) -> Vec<LocalSnapshot> {
    let mut found: Vec<LocalSnapshot> = std::fs::read_dir(safety_dir(cache, container))
        .map(|entries| entries.flatten().filter_map(|e| LocalSnapshot::open(&e.path())).collect())
        .unwrap_or_default();
    found.sort_by(|a, b| b.manifest.id.cmp(&a.manifest.id));
    found
}

/// Deletes all but the `keep` newest safety copies of `container`.
pub fn prune_safety_copies(cache: &Path, container: &str, keep: usize) {
    for old in safety_copies(cache, container).into_iter().skip(keep) {
        if let Err(e) = std::fs::remove_dir_all(&old.dir) {
            tracing::warn!(dir = %old.dir.display(), error = %e, "cannot delete an old safety copy");
        }
    }
}

/// Size and SHA-256 of a file.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    hash_reader(std::fs::File::open(path)?)
}

/// Size and SHA-256 of what `file` reads.
pub fn hash_reader(mut file: impl Read) -> std::io::Result<(u64, String)> {
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

/// Chunk compressions at once for a safety copy: every core.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Keeps `source` as a new safety copy in `dir` (format 2: its chunks in the
/// safety copies' store, each synced; those the cache's store holds linked
/// from there, only those neither holds written) and writes `manifest`
/// (sizes, SHA-256 and chunks filled in) last, once every chunk and
/// directory entry is on disk. `progress` hears the raw
/// bytes read so far. On any error `dir` is removed (chunks written for it
/// go with the next trim).
pub async fn write<S>(
    source: S,
    dir: &Path,
    mut manifest: Manifest,
    progress: impl Fn(u64),
) -> Result<LocalSnapshot, LocalError>
where
    S: Stream<Item = Result<Bytes, DockerError>> + Send,
{
    let cache = cache_of(dir);
    let store = Store::safety(cache);
    let result = async {
        files::private_dir(dir).map_err(LocalError::io(dir))?;
        // Held until the manifest names the chunks: no trim takes one meanwhile.
        let _held = store.hold().map_err(LocalError::io(&store.dir))?;
        let (cut, written) = write_chunks(source, &store, &Store::new(cache), &progress).await?;
        manifest.format = super::FORMAT;
        manifest.raw_bytes = cut.raw_bytes;
        manifest.stored_bytes = cut.chunks.iter().map(|c| c.stored).sum();
        manifest.sha256 = cut.sha256;
        manifest.new_bytes = Some(written.values().sum());
        manifest.new_chunks = Some(written.len() as u64);
        manifest.chunks = cut.chunks;
        let text = serde_json::to_vec_pretty(&manifest).map_err(|e| LocalError::Compress(e.to_string()))?;
        let path = dir.join("manifest.json");
        files::write_atomic(&path, &text).map_err(LocalError::io(&path))
    }
    .await;
    match result {
        Ok(()) => Ok(LocalSnapshot { dir: dir.to_path_buf(), manifest }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(dir);
            Err(e)
        }
    }
}

/// A chunk kept by a worker, or why not.
type KeptBy = Result<std::io::Result<(String, Kept)>, tokio::task::JoinError>;

/// Cuts `source` into chunks and keeps each durably in `store` (linked from
/// `shared` where it holds them), several at once; returns the cut
/// (stored sizes filled in) and the chunks written now with their sizes (the
/// others were there or linked, checked).
async fn write_chunks<S>(
    source: S,
    store: &Store,
    shared: &Store,
    progress: &impl Fn(u64),
) -> Result<(Cut, HashMap<String, u64>), LocalError>
where
    S: Stream<Item = Result<Bytes, DockerError>> + Send,
{
    let raw = AtomicU64::new(0);
    let (raw_tx, raw_rx) = mpsc::channel::<Bytes>(16);
    let (chunk_tx, mut chunk_rx) = mpsc::channel::<(String, Vec<u8>)>(workers());
    let cutter = tokio::task::spawn_blocking(move || chunks::cut(raw_rx, chunk_tx, |_| None));
    let read = chunks::feed(source, raw_tx, &raw, || progress(raw.load(Ordering::Relaxed)));
    let keep = async {
        let mut running: JoinSet<std::io::Result<(String, Kept)>> = JoinSet::new();
        let mut kept: HashMap<String, Kept> = HashMap::new();
        let mut settle = |done: Option<KeptBy>| {
            if let Some(done) = done {
                let (sha, k) = done
                    .map_err(|e| LocalError::Compress(e.to_string()))?
                    .map_err(LocalError::io(&store.dir))?;
                kept.insert(sha, k);
            }
            Ok::<_, LocalError>(())
        };
        while let Some((sha, plain)) = chunk_rx.recv().await {
            while running.len() >= workers() {
                settle(running.join_next().await)?;
            }
            let (store, shared) = (store.clone(), shared.clone());
            running.spawn_blocking(move || {
                let chunk = ChunkRef { sha256: sha, size: plain.len() as u64, stored: 0 };
                let k = store.keep_durably(&chunk, &plain, LEVEL, Some(&shared))?;
                Ok((chunk.sha256, k))
            });
        }
        while !running.is_empty() {
            settle(running.join_next().await)?;
        }
        Ok::<_, LocalError>(kept)
    };
    let (read, kept) = tokio::join!(read, keep);
    let cut = cutter.await.map_err(|e| LocalError::Compress(format!("the chunking stopped: {e}")))?;
    // The first failure is the one to tell: a broken source or disk beats the cutter's broken pipe.
    read?;
    let kept = kept?;
    let mut cut = cut.map_err(|e| LocalError::Compress(e.to_string()))?;
    progress(cut.raw_bytes);
    for chunk in &mut cut.chunks {
        chunk.stored = kept.get(&chunk.sha256).map_or(0, |k| k.stored);
    }
    let written: HashMap<String, u64> =
        kept.into_iter().filter(|(_, k)| k.written).map(|(sha, k)| (sha, k.stored)).collect();
    let (store, names) = (store.clone(), written.keys().cloned().collect::<Vec<_>>());
    tokio::task::spawn_blocking(move || store.sync_dirs(names.iter().map(String::as_str)))
        .await
        .map_err(|e| LocalError::Compress(e.to_string()))?
        .map_err(LocalError::io(Path::new("the chunk store's directories")))?;
    Ok((cut, written))
}
