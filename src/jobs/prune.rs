//! Prune: delete whole snapshots (manifest first) and abort the multipart
//! uploads nobody will complete (see [`abandoned_uploads`]): never one a
//! backup on this or another machine is still sending.

use serde_json::json;

use super::{JobContext, JobError, JobOutput, NoAws, Progress};
use crate::aws::s3;
use crate::aws::{AwsClients, AwsError};
use crate::jobs::uploads::{abandoned_uploads, abort_abandoned};
use crate::snapshots::prune::Doomed;

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
        let freed: u64 = doomed.iter().map(|d| d.bytes).sum();
        let kept: Vec<String> = kept.into_iter().map(|d| d.id).collect();
        let head_note = match kept.first() {
            Some(id) => format!("; kept {id}: it is head of the line"),
            None => String::new(),
        };
        Ok(JobOutput {
            attention: None,
            summary: format!(
                "deleted {} snapshot{} ({}), aborted {} abandoned upload{}{head_note}",
                deleted.len(),
                if deleted.len() == 1 { "" } else { "s" },
                crate::format::bytes(freed),
                aborted.len(),
                if aborted.len() == 1 { "" } else { "s" }
            ),
            copy: None,
            json: json!({ "deleted": deleted, "aborted_uploads": aborted, "freed_bytes": freed, "kept_head": kept }),
        })
    }
}
