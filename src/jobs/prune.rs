//! Prune: delete whole snapshots (manifest first) and abort the multipart
//! uploads nobody will complete (see [`abandoned_uploads`]): never one a
//! backup on this or another machine is still sending.

use serde_json::json;

use super::{JobContext, JobError, JobOutput, NoAws, Progress};
use crate::aws::s3;
use crate::aws::{AwsClients, AwsError};
use crate::jobs::uploads::{abandoned_uploads, abort_abandoned};
use crate::snapshots::prune::Doomed;
use crate::snapshots::{self, locks};

/// Delete `doomed` from `bucket`, and abort abandoned uploads under `prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneJob {
    pub bucket: String,
    /// Normalised (empty or ending in `/`).
    pub prefix: String,
    pub doomed: Vec<Doomed>,
}

#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error("S3: {0} (deleted so far: {1})")]
    Aws(AwsError, String),
}

impl PruneJob {
    pub async fn run(self, ctx: JobContext, aws: Option<AwsClients>) -> Result<JobOutput, JobError> {
        let aws = aws.ok_or(NoAws)?;
        let mut deleted: Vec<String> = Vec::new();
        let failed = |e: AwsError, deleted: &[String]| {
            let so_far = if deleted.is_empty() { "none".to_string() } else { deleted.join(", ") };
            PruneError::Aws(e, so_far)
        };
        // The head of the line is never pruned: the other machine takes it from there.
        let head = match self.doomed.is_empty() {
            true => None,
            false => crate::snapshots::line::head(&aws.s3, &self.bucket, &self.prefix)
                .await
                .map_err(|e| failed(e, &deleted))?
                .map(|(head, _)| head.snapshot),
        };
        let (kept, doomed): (Vec<Doomed>, Vec<Doomed>) =
            self.doomed.into_iter().partition(|d| head.as_deref() == Some(d.id.as_str()));
        let total = doomed.len() as u64;
        for (i, d) in doomed.iter().enumerate() {
            ctx.progress(Progress {
                stage: format!("deleting {}", d.id),
                done: i as u64,
                total: Some(total),
                bytes: false,
                detail: vec![],
            });
            // One key at a time, in order: the manifest goes before the data.
            for key in &d.keys {
                s3::delete(&aws.s3, &self.bucket, std::slice::from_ref(key))
                    .await
                    .map_err(|e| failed(e, &deleted))?;
            }
            deleted.push(d.id.clone());
        }
        ctx.progress(Progress::stage("aborting abandoned uploads"));
        let state = crate::config::Dirs::new().state;
        let now = crate::time::unix_now();
        let mut aborted = Vec::new();
        let abandoned = abandoned_uploads(&aws.s3, &state, &self.bucket, &self.prefix, now)
            .await
            .map_err(|e| failed(e, &deleted))?;
        for a in abandoned {
            abort_abandoned(&aws.s3, &state, &a.upload).await.map_err(|e| failed(e, &deleted))?;
            tracing::info!(key = %a.upload.key, why = %a.why, "aborted an abandoned upload");
            aborted.push(a.upload.key);
        }
        ctx.progress(Progress::stage("freeing the chunks no snapshot uses"));
        let chunks = free_chunks(&aws, &self.bucket, &self.prefix).await.map_err(|e| failed(e, &deleted))?;
        let freed: u64 = doomed.iter().map(|d| d.bytes).sum::<u64>() + chunks.freed_bytes;
        let kept: Vec<String> = kept.into_iter().map(|d| d.id).collect();
        let head_note = match kept.first() {
            Some(id) => format!("; kept {id}: it is head of the line"),
            None => String::new(),
        };
        let chunk_words = match (&chunks.kept_because, chunks.freed) {
            (Some(why), _) => format!("; no chunk freed: {why}"),
            (None, 0) => String::new(),
            (None, n) => format!(", freed {n} chunk{} no snapshot uses", if n == 1 { "" } else { "s" }),
        };
        Ok(JobOutput {
            attention: None,
            summary: format!(
                "deleted {} snapshot{} ({}), aborted {} abandoned upload{}{chunk_words}{head_note}",
                deleted.len(),
                if deleted.len() == 1 { "" } else { "s" },
                crate::format::bytes(freed),
                aborted.len(),
                if aborted.len() == 1 { "" } else { "s" }
            ),
            copy: None,
            json: json!({
                "deleted": deleted,
                "aborted_uploads": aborted,
                "freed_bytes": freed,
                "kept_head": kept,
                "freed_chunks": chunks.freed,
                "freed_chunk_bytes": chunks.freed_bytes,
                "chunks_kept_because": chunks.kept_because,
            }),
        })
    }
}

/// What freeing chunks did.
#[derive(Debug, Default)]
struct FreedChunks {
    freed: u64,
    freed_bytes: u64,
    /// Why none was looked at (a backup running, a manifest this wharf cannot read).
    kept_because: Option<String>,
}

/// Deletes the chunks under `prefix` that no snapshot's manifest names,
/// holding the prune lock (none while a backup anywhere holds its own: see
/// [`locks`]), and none at all while any manifest is one this wharf cannot
/// read (a newer wharf's may name chunks in a way this one does not know).
async fn free_chunks(aws: &AwsClients, bucket: &str, prefix: &str) -> Result<FreedChunks, AwsError> {
    let taken_at = crate::time::unix_now();
    match locks::take_exclusive(&aws.s3, bucket, prefix, taken_at).await? {
        locks::Exclusive::Busy(holder) => Ok(FreedChunks {
            kept_because: Some(format!(
                "{} holds the bucket's chunks; prune again once it is done",
                holder.describe(crate::time::unix_now())
            )),
            ..FreedChunks::default()
        }),
        locks::Exclusive::Taken => {
            let freed = free_unused(aws, bucket, prefix, taken_at).await;
            locks::release(&aws.s3, bucket, &locks::prune_key(prefix)).await;
            freed
        }
    }
}

/// Deletes in batches of this many keys, each only while the prune lock is fresh.
const DELETE_BATCH: usize = 1000;

async fn free_unused(
    aws: &AwsClients,
    bucket: &str,
    prefix: &str,
    taken_at: i64,
) -> Result<FreedChunks, AwsError> {
    // Listed again now the lock is held; the manifests themselves never change, so
    // those kept in the cache (the prune's plan read them a moment ago) are not read twice.
    let cache = crate::config::Dirs::new().cache;
    let listed = snapshots::list(&aws.s3, bucket, prefix, Some(&cache)).await?;
    if let Some(s) = listed.iter().find(|s| s.problem.as_ref().is_some_and(|p| !p.understood())) {
        let problem = s.problem.as_ref().map(ToString::to_string).unwrap_or_default();
        return Ok(FreedChunks {
            kept_because: Some(format!("{}: {problem}", s.id)),
            ..FreedChunks::default()
        });
    }
    let used = snapshots::used_by(listed.iter().filter_map(|s| s.manifest.as_ref()));
    let unused: Vec<(String, u64)> = snapshots::bucket_chunks(&aws.s3, bucket, prefix)
        .await?
        .into_iter()
        .filter(|(name, _)| !used.contains(name))
        .collect();
    let mut freed = FreedChunks::default();
    for batch in unused.chunks(DELETE_BATCH) {
        if crate::time::unix_now() - taken_at > locks::STALE_SECS / 2 {
            freed.kept_because = Some("the prune took too long to hold its lock; prune again".into());
            break;
        }
        let keys: Vec<String> = batch.iter().map(|(name, _)| snapshots::chunk_key(prefix, name)).collect();
        s3::delete(&aws.s3, bucket, &keys).await?;
        freed.freed += batch.len() as u64;
        freed.freed_bytes += batch.iter().map(|(_, size)| size).sum::<u64>();
    }
    Ok(freed)
}
