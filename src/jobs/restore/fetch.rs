//! Fetching a snapshot from S3: its manifest (refused while its data is in
//! a storage class that needs a thaw first) and its data, hashed on the way.

use std::io::Write;
use std::path::Path;

use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::RestoreError;
use crate::aws::s3;
use crate::aws::{AwsClients, AwsError};
use crate::files;
use crate::jobs::{JobContext, Progress};
use crate::model::snapshots::Object;
use crate::snapshots::local::{self, LocalSnapshot};
use crate::snapshots::{self, Manifest, cache, pricing, store};

pub(super) fn no_snapshot(e: AwsError, id: &str, bucket: &str, prefix: &str) -> RestoreError {
    match e {
        AwsError::NotFound(_) => RestoreError::NoSnapshot {
            id: id.to_string(),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        },
        other => other.into(),
    }
}

/// The manifest from S3 (and its text, for the cache), and the data's size.
pub(super) async fn remote_manifest(
    ctx: &JobContext,
    aws: &AwsClients,
    id: &str,
    bucket: &str,
    prefix: &str,
) -> Result<(Manifest, Vec<u8>, u64), RestoreError> {
    ctx.progress(Progress::stage("reading the manifest"));
    let (manifest, text, object) = manifest_and_object(aws, id, bucket, prefix).await?;
    if pricing::terms(&object.storage_class).needs_restore {
        let warning = pricing::restore_warning(&object.storage_class, object.size).unwrap_or_default();
        return Err(RestoreError::NeedsThaw(warning));
    }
    Ok((manifest, text, object.size))
}

/// Snapshot `id`'s manifest as this wharf reads it (a newer wharf's is said
/// to be one, not "unreadable"), its text, and its data object as S3 has it.
pub(super) async fn manifest_and_object(
    aws: &AwsClients,
    id: &str,
    bucket: &str,
    prefix: &str,
) -> Result<(Manifest, Vec<u8>, Object), RestoreError> {
    let key = snapshots::manifest_key(prefix, id);
    let text = s3::get(&aws.s3, bucket, &key).await.map_err(|e| no_snapshot(e, id, bucket, prefix))?;
    let manifest = snapshots::read_manifest(&text).map_err(|p| RestoreError::Unusable(id.to_string(), p))?;
    let object = match manifest.is_chunked() {
        // Its chunks are in the snapshot's class, each checked as it comes.
        true => Object {
            key: manifest.key.clone(),
            size: manifest.stored_bytes,
            storage_class: manifest.storage_class.clone(),
            last_modified: None,
        },
        false => s3::head(&aws.s3, bucket, &manifest.key).await?,
    };
    Ok((manifest, text.to_vec(), object))
}

/// The snapshot's object (ranged GETs, several at once), written to `to` in
/// order and hashed on the way.
async fn download(
    ctx: &JobContext,
    aws: &AwsClients,
    bucket: &str,
    manifest: &Manifest,
    size: u64,
    to: &Path,
) -> Result<(u64, String), RestoreError> {
    let mut file = files::create_private(to)?;
    let mut hasher = Sha256::new();
    let mut done = 0u64;
    let mut chunks = std::pin::pin!(s3::download(&aws.s3, bucket, &manifest.key, size));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        hasher.update(&chunk);
        file.write_all(&chunk)?;
        done += chunk.len() as u64;
        ctx.progress(Progress {
            stage: format!("fetching {}", manifest.id),
            done,
            total: Some(size),
            bytes: true,
            detail: vec![],
        });
    }
    // No fsync: a cached copy is checked against its SHA-256 before every use.
    Ok((done, format!("{:x}", hasher.finalize())))
}

/// A verified snapshot here, and whether it was already in the cache.
pub(crate) struct Fetched {
    pub local: LocalSnapshot,
    pub from_cache: bool,
    /// A cached copy stays held while it is used: the cache's trim leaves it alone.
    pub _in_use: Option<cache::InUse>,
}

/// Snapshot `id`'s verified copy in the cache: the copy there when it checks
/// out (one that does not is fetched again), else fetched from S3 into a part
/// file of this process, checked against its manifest's size and SHA-256,
/// and only then put in place. `untouched` is what a refusal leaves as it was.
pub(crate) async fn cached(
    ctx: &JobContext,
    aws: Option<&AwsClients>,
    cache: &Path,
    (id, bucket, prefix): (&str, &str, &str),
    untouched: &str,
) -> Result<Fetched, RestoreError> {
    let dir = local::cached_dir(cache, id)?;
    let in_use = cache::hold(cache, id)?;
    if let Some(local) = LocalSnapshot::open(&dir) {
        ctx.progress(Progress::stage("checking the cached copy"));
        match check(&local, untouched).await {
            Ok(()) => return Ok(Fetched { local, from_cache: true, _in_use: Some(in_use) }),
            Err(_) => {
                tracing::warn!(id, "cached snapshot does not match its manifest; fetching again");
                match local.manifest.is_chunked() {
                    true => drop_damaged_chunks(&local).await,
                    false => {
                        let _ = std::fs::remove_file(local.data());
                    }
                }
            }
        }
    }
    let aws = aws.ok_or_else(|| RestoreError::NoAws(id.to_string()))?;
    let (manifest, text, size) = remote_manifest(ctx, aws, id, bucket, prefix).await?;
    files::private_dir(&dir)?;
    if manifest.is_chunked() {
        let local =
            fetch_chunks(ctx, aws, (bucket, prefix), LocalSnapshot { dir, manifest }, &text, untouched)
                .await?;
        return Ok(Fetched { local, from_cache: false, _in_use: Some(in_use) });
    }
    // Of this process: another fetching the same snapshot writes its own.
    let part = dir.join(format!("data.part.{}", std::process::id()));
    let downloaded = download(ctx, aws, bucket, &manifest, size, &part).await;
    let verified = downloaded.and_then(|got| verify(&manifest, got, untouched));
    if let Err(e) = verified {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    let local = LocalSnapshot { dir: dir.clone(), manifest };
    std::fs::rename(&part, local.data())?;
    files::write_atomic(&dir.join("manifest.json"), &text)?;
    Ok(Fetched { local, from_cache: false, _in_use: Some(in_use) })
}

/// A local snapshot's data checks out against its manifest, or is refused.
pub(super) async fn check(local: &LocalSnapshot, untouched: &str) -> Result<(), RestoreError> {
    let copy = local.clone();
    let checked = tokio::task::spawn_blocking(move || copy.check())
        .await
        .map_err(|e| RestoreError::Decompress(e.to_string()))??;
    checked.map_or_else(|got| verify(&local.manifest, got, untouched), |()| Ok(()))
}

/// Size and SHA-256 as the manifest says, or the snapshot is refused.
fn verify(manifest: &Manifest, (size, sha): (u64, String), untouched: &str) -> Result<(), RestoreError> {
    let (want_size, want_sha) = manifest.checked_as();
    if size == want_size && sha == want_sha {
        return Ok(());
    }
    Err(RestoreError::Corrupt {
        id: manifest.id.clone(),
        container: untouched.to_string(),
        expected: want_sha.to_string(),
        actual: sha,
        expected_bytes: want_size,
        actual_bytes: size,
    })
}

/// Chunk GETs in flight at once.
const CHUNKS_AT_ONCE: usize = 8;

/// A chunked snapshot made whole here: its manifest kept in its directory
/// first (so trimming the cache counts its chunks as used), the chunks the
/// store lacks fetched side by side and each checked against its name
/// before it goes in, then the whole stream checked against the manifest.
async fn fetch_chunks(
    ctx: &JobContext,
    aws: &AwsClients,
    (bucket, prefix): (&str, &str),
    local: LocalSnapshot,
    text: &[u8],
    untouched: &str,
) -> Result<LocalSnapshot, RestoreError> {
    let store = local.store();
    let _held = store.hold()?;
    files::write_atomic(&local.dir.join("manifest.json"), text)?;
    let missing = local.missing_chunks();
    let total: u64 = missing.iter().map(|c| c.stored).sum();
    let id = local.manifest.id.clone();
    let mut done = 0u64;
    let mut fetched = futures::stream::iter(missing.into_iter().map(|chunk| {
        let (store, key) = (store.clone(), snapshots::chunk_key(prefix, &chunk.sha256));
        let id = id.clone();
        async move {
            let bytes = match s3::get(&aws.s3, bucket, &key).await {
                Err(AwsError::NotFound(_)) => {
                    let why = format!("chunk {} is not in the bucket", chunk.sha256);
                    return Err(RestoreError::BadChunk { id, why, container: untouched.to_string() });
                }
                got => got?,
            };
            let size = bytes.len() as u64;
            tokio::task::spawn_blocking(move || {
                store::check(&chunk, &bytes)?;
                store.put(&chunk.sha256, &bytes)?;
                Ok::<_, store::BadChunk>(size)
            })
            .await
            .map_err(|e| RestoreError::Decompress(e.to_string()))?
            .map_err(|e| match e {
                store::BadChunk::Io(e) => RestoreError::Cache(e),
                bad => RestoreError::BadChunk { id, why: bad.to_string(), container: untouched.to_string() },
            })
        }
    }))
    .buffer_unordered(CHUNKS_AT_ONCE);
    while let Some(size) = fetched.next().await {
        let size = match size {
            Ok(size) => size,
            Err(e) => {
                let _ = std::fs::remove_file(local.dir.join("manifest.json"));
                return Err(e);
            }
        };
        done += size;
        ctx.progress(Progress {
            stage: format!("fetching the chunks of {} this machine lacks", local.manifest.id),
            done,
            total: Some(total),
            bytes: true,
            detail: vec![],
        });
    }
    ctx.progress(Progress::stage("checking the whole snapshot"));
    if let Err(e) = check(&local, untouched).await {
        let _ = std::fs::remove_file(local.dir.join("manifest.json"));
        return Err(e);
    }
    Ok(local)
}

/// Deletes the chunks of a chunked copy that are not what their names say
/// (the disk damaged them), so they are fetched again.
async fn drop_damaged_chunks(local: &LocalSnapshot) {
    let local = local.clone();
    let _ = tokio::task::spawn_blocking(move || {
        let store = local.store();
        for chunk in &local.manifest.chunks {
            let path = store.path(&chunk.sha256);
            let whole = std::fs::read(&path).is_ok_and(|bytes| store::check(chunk, &bytes).is_ok());
            if !whole {
                let _ = std::fs::remove_file(&path);
            }
        }
    })
    .await;
}
