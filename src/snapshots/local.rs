//! Snapshots on this machine: verified copies of S3 snapshots in the cache
//! (`$XDG_CACHE_HOME/wharf/snapshots/<id>/`), and the safety copies a restore
//! takes of what it replaces (`$XDG_CACHE_HOME/wharf/safety/<container>/<id>/`).
//! Each is a directory with the data file and its manifest; the manifest is
//! written last, after the data is on disk, so a directory without one is an
//! interrupted write and never used.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::Manifest;
use super::store::Store;
use crate::docker::DockerError;
use crate::files;
use crate::model::snapshots::ChunkRef;

/// zstd's level for what is written here: a safety copy is local and short-
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

    /// The store a chunked copy's chunks are in: the cache's, beside `snapshots/`.
    pub fn store(&self) -> Store {
        let cache = self.dir.parent().and_then(Path::parent).unwrap_or(&self.dir);
        Store::new(cache)
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

/// Streams `source` through zstd into a new local snapshot in `dir` (private
/// files), syncs it, and writes `manifest` (sizes and SHA-256 filled in) last.
/// `progress` hears the raw bytes read so far. On any error `dir` is removed.
pub async fn write<S>(
    source: S,
    dir: &Path,
    mut manifest: Manifest,
    progress: impl Fn(u64),
) -> Result<LocalSnapshot, LocalError>
where
    S: Stream<Item = Result<Bytes, DockerError>> + Send,
{
    let written = write_data(source, dir, &manifest, progress).await;
    let result = match written {
        Ok((raw, stored, sha)) => {
            manifest.raw_bytes = raw;
            manifest.stored_bytes = stored;
            manifest.sha256 = sha;
            let text = serde_json::to_vec_pretty(&manifest).map_err(|e| LocalError::Compress(e.to_string()));
            let path = dir.join("manifest.json");
            text.and_then(|t| files::write_atomic(&path, &t).map_err(LocalError::io(&path)))
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(LocalSnapshot { dir: dir.to_path_buf(), manifest }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(dir);
            Err(e)
        }
    }
}

async fn write_data<S>(
    source: S,
    dir: &Path,
    manifest: &Manifest,
    progress: impl Fn(u64),
) -> Result<(u64, u64, String), LocalError>
where
    S: Stream<Item = Result<Bytes, DockerError>> + Send,
{
    files::private_dir(dir).map_err(LocalError::io(dir))?;
    let path = dir.join(data_file(manifest));
    let file = files::create_private(&path).map_err(LocalError::io(&path))?;
    let (tx, mut rx) = mpsc::channel::<Bytes>(16);
    let shown = path.clone();
    let compressor = tokio::task::spawn_blocking(move || -> Result<(u64, u64, String), LocalError> {
        let sink =
            HashingWriter { inner: BufWriter::with_capacity(1 << 20, file), hasher: Sha256::new(), total: 0 };
        let compress = |e: std::io::Error| LocalError::Compress(e.to_string());
        let mut encoder = zstd::stream::write::Encoder::new(sink, LEVEL).map_err(compress)?;
        // zstd's own worker threads, one per core: reading the container is then the slow part.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        encoder.multithread(cores).map_err(compress)?;
        let mut raw = 0u64;
        while let Some(chunk) = rx.blocking_recv() {
            encoder.write_all(&chunk).map_err(compress)?;
            raw += chunk.len() as u64;
        }
        let sink = encoder.finish().map_err(compress)?;
        let (total, sha) = (sink.total, format!("{:x}", sink.hasher.finalize()));
        let file = sink.inner.into_inner().map_err(|e| LocalError::io(&shown)(e.into_error()))?;
        // A safety copy must be whole on disk before what it copies is touched.
        file.sync_all().map_err(LocalError::io(&shown))?;
        Ok((raw, total, sha))
    });
    let read = async {
        let mut source = Box::pin(source);
        let mut done = 0u64;
        while let Some(chunk) = source.next().await {
            let chunk = chunk?;
            done += chunk.len() as u64;
            progress(done);
            if tx.send(chunk).await.is_err() {
                break; // The compressor stopped; its error says why.
            }
        }
        drop(tx);
        Ok::<(), LocalError>(())
    };
    let read = read.await;
    let compressed =
        compressor.await.map_err(|e| LocalError::Compress(format!("the compressor stopped: {e}")))?;
    read?;
    compressed
}

/// Passes bytes on, counting them and hashing them.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    total: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(data)?;
        self.hasher.update(&data[..n]);
        self.total += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
