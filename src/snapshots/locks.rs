//! Locks in the bucket (`PREFIX/locks/`), so that a prune never deletes a
//! chunk a backup running anywhere is about to name in its manifest.
//!
//! - A chunked backup writes its own shared lock (`locks/backup-<id>.json`)
//!   *before* it lists the chunks the bucket holds, rewrites it every
//!   [`REFRESH_SECS`] while it runs, and deletes it once its manifest is
//!   written (or it failed). Then it looks for the prune lock: while one is
//!   there and fresh it steps back (deletes its own) and waits.
//! - A prune takes the one exclusive lock (`locks/prune.json`, written only
//!   if absent: `If-None-Match: *`), *then* lists the shared ones: while a
//!   fresh one is there it deletes no chunk.
//!
//! Each writes before it reads the other's, and S3 lists what was written
//! before the listing began, so of a backup and a prune that start together
//! at least one sees the other. A lock not rewritten for [`STALE_SECS`] is a
//! dead process's: ignored, and removed by `wharf doctor --fix` (at once on
//! the machine that wrote it when its process is gone). A backup that could
//! not refresh its lock for that long (a laptop asleep) writes no manifest.

use serde::{Deserialize, Serialize};

use crate::aws::AwsError;
use crate::aws::s3::{self, Object};

/// How often a running backup rewrites its lock.
pub const REFRESH_SECS: u64 = 60;
/// A lock older than this is a dead process's.
pub const STALE_SECS: i64 = 600;

/// What a lock says of its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `backup` or `prune`.
    pub kind: String,
    pub host: String,
    pub pid: u32,
    /// The snapshot a backup is writing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

impl Holder {
    pub fn this_process(kind: &str, snapshot: Option<&str>) -> Holder {
        Holder {
            kind: kind.into(),
            host: super::host_name(),
            pid: std::process::id(),
            snapshot: snapshot.map(str::to_string),
        }
    }

    fn body(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

pub fn locks_prefix(prefix: &str) -> String {
    format!("{prefix}locks/")
}

pub fn prune_key(prefix: &str) -> String {
    format!("{}prune.json", locks_prefix(prefix))
}

pub fn backup_key(prefix: &str, id: &str) -> String {
    format!("{}backup-{id}.json", locks_prefix(prefix))
}

/// One lock in the bucket, as listed and read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub key: String,
    /// When it was last written (Unix seconds).
    pub written: i64,
    /// `None` when its text could not be read (it went meanwhile, or is not wharf's).
    pub holder: Option<Holder>,
}

impl Found {
    pub fn fresh(&self, now: i64) -> bool {
        now - self.written < STALE_SECS
    }

    pub fn is_prune(&self) -> bool {
        self.key.ends_with("/prune.json")
    }

    /// `backup on laptop (pid 4242), 12 s ago`.
    pub fn describe(&self, now: i64) -> String {
        let age = (now - self.written).max(0);
        match &self.holder {
            Some(h) => format!("{} on {} (pid {}), written {age} s ago", h.kind, h.host, h.pid),
            None => format!("{}, written {age} s ago", self.key),
        }
    }
}

/// Every lock under `prefix`, each read.
pub async fn list(
    s3_client: &crate::aws::S3Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<Found>, AwsError> {
    let objects: Vec<Object> = s3::list(s3_client, bucket, &locks_prefix(prefix)).await?;
    let mut found = Vec::with_capacity(objects.len());
    for o in objects {
        let holder = match s3::get(s3_client, bucket, &o.key).await {
            Ok(text) => serde_json::from_slice(&text).ok(),
            Err(AwsError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        found.push(Found { key: o.key, written: o.last_modified.unwrap_or(0), holder });
    }
    Ok(found)
}

/// Writes (or rewrites) a backup's shared lock.
pub async fn write_shared(
    s3_client: &crate::aws::S3Client,
    bucket: &str,
    prefix: &str,
    id: &str,
) -> Result<(), AwsError> {
    let body = Holder::this_process("backup", Some(id)).body();
    s3::put(s3_client, bucket, &backup_key(prefix, id), body, crate::config::StorageClass::Standard).await
}

/// A fresh prune lock, if there is one (the backup's lock written first).
pub async fn pruning(
    s3_client: &crate::aws::S3Client,
    bucket: &str,
    prefix: &str,
    now: i64,
) -> Result<Option<Found>, AwsError> {
    let locks = list(s3_client, bucket, prefix).await?;
    Ok(locks.into_iter().find(|l| l.is_prune() && l.fresh(now)))
}

/// What taking the prune lock came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusive {
    /// Taken: no fresh backup lock is there, and none will be while it is held.
    Taken,
    /// Not taken (or given back): this one holds the bucket.
    Busy(Found),
}

/// Takes the prune lock: written only if absent (a stale one is removed
/// first), then given back if a fresh backup lock is there.
pub async fn take_exclusive(
    s3_client: &crate::aws::S3Client,
    bucket: &str,
    prefix: &str,
    now: i64,
) -> Result<Exclusive, AwsError> {
    let key = prune_key(prefix);
    let body = Holder::this_process("prune", None).body();
    for _ in 0..2 {
        if s3::put_if(s3_client, bucket, &key, body.clone(), s3::Only::IfAbsent).await? {
            let locks = list(s3_client, bucket, prefix).await?;
            if let Some(backup) = locks.into_iter().find(|l| !l.is_prune() && l.fresh(now)) {
                release(s3_client, bucket, &key).await;
                return Ok(Exclusive::Busy(backup));
            }
            return Ok(Exclusive::Taken);
        }
        let locks = list(s3_client, bucket, prefix).await?;
        match locks.into_iter().find(|l| l.is_prune()) {
            Some(other) if other.fresh(now) => return Ok(Exclusive::Busy(other)),
            // A prune that died holding it: removed, and taken again once.
            Some(stale) => release(s3_client, bucket, &stale.key).await,
            None => {}
        }
    }
    Err(AwsError::Service(format!("cannot take s3://{bucket}/{key}: another prune keeps taking it")))
}

/// Deletes a lock; a failure is logged (the lock goes stale by itself).
pub async fn release(s3_client: &crate::aws::S3Client, bucket: &str, key: &str) {
    if let Err(e) = s3::delete(s3_client, bucket, &[key.to_string()]).await {
        tracing::warn!(key, error = %e, "cannot delete a lock; it goes stale by itself");
    }
}
