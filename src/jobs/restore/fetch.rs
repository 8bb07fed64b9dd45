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
use crate::snapshots::{self, Manifest, pricing};

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
    let key = snapshots::manifest_key(prefix, id);
    let text = s3::get(&aws.s3, bucket, &key).await.map_err(|e| no_snapshot(e, id, bucket, prefix))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| RestoreError::BadManifest(id.to_string(), e.to_string()))?;
    let object = s3::head(&aws.s3, bucket, &manifest.key).await?;
    if pricing::terms(&object.storage_class).needs_restore {
        let warning = pricing::restore_warning(&object.storage_class, object.size).unwrap_or_default();
        return Err(RestoreError::NeedsThaw(warning));
    }
    Ok((manifest, text.to_vec(), object.size))
}

/// The snapshot's object (ranged GETs, several at once), written to `to` in
/// order and hashed on the way.
pub(super) async fn download(
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
