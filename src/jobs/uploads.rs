//! The multipart uploads backups leave open while they send, recorded on
//! this machine (`$XDG_STATE_HOME/wharf/uploads/`) until they are completed
//! or aborted, and how prune and `wharf doctor` tell an abandoned upload
//! (safe to abort) from one a backup here or on another machine is still
//! sending.

use std::time::Duration;

use super::JobError;
use crate::aws::AwsError;
use crate::aws::s3::{self, Upload};
use crate::config::Dirs;
use crate::records::{self, Held, Records};
use crate::snapshots;
use crate::snapshots::prune::{STALE_UPLOAD_SECS, is_wharf_data_key};

/// How many times, a second apart, a failed backup tries again to abort its upload.
const ABORT_TRIES: usize = 30;

/// A multipart upload this machine started, recorded until it is completed or
/// aborted (`$XDG_STATE_HOME/wharf/uploads/`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UploadRecord {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    /// RFC 3339.
    pub started: String,
}

/// Where the records of open uploads are kept.
pub fn upload_records(state: &std::path::Path) -> Records {
    Records::new(state.join("uploads"))
}

/// An open multipart upload that nobody will complete, and how that is known.
#[derive(Debug)]
pub struct Abandoned {
    pub upload: UploadRecord,
    pub why: String,
}

/// The open uploads under `bucket`/`prefix` that may be aborted: those this
/// machine's records say belong to a backup that died (its process no longer
/// holds the record), and wharf-shaped ones not recorded here that are over
/// a day old and have had no part for a day (another machine's backup may
/// be running for hours: its newest part says it is alive). A record another
/// process holds is a backup under way, here; it is never listed.
pub async fn abandoned_uploads(
    s3_client: &crate::aws::S3Client,
    state: &std::path::Path,
    bucket: &str,
    prefix: &str,
    now: i64,
) -> Result<Vec<Abandoned>, AwsError> {
    let records = upload_records(state);
    let mut found = Vec::new();
    let mut ours: Vec<String> = Vec::new();
    for name in records.names() {
        // Held or not, a recorded upload is this machine's to judge: read without taking the lock.
        if let Ok(record) = records.peek::<UploadRecord>(&name) {
            ours.push(record.upload_id.clone());
        }
    }
    for (_, record) in records.left_over::<UploadRecord>() {
        if let Ok(u) = record
            && u.bucket == bucket
            && u.key.starts_with(prefix)
        {
            found.push(Abandoned { upload: u, why: "its backup on this machine died".into() });
        }
    }
    for u in s3::open_uploads(s3_client, bucket, prefix).await? {
        let old = |t: Option<i64>| t.is_some_and(|t| now - t > STALE_UPLOAD_SECS);
        if ours.contains(&u.upload_id) || !is_wharf_data_key(prefix, &u.key) || !old(u.initiated) {
            continue;
        }
        let newest = s3::newest_part(s3_client, bucket, &u.key, &u.upload_id).await?;
        if newest.is_some() && !old(newest) {
            continue;
        }
        found.push(Abandoned {
            why: match newest {
                Some(t) => format!("started over a day ago, its last part sent {}", snapshots::rfc3339(t)),
                None => "started over a day ago, and no part was ever sent".into(),
            },
            upload: UploadRecord {
                bucket: bucket.to_string(),
                key: u.key,
                upload_id: u.upload_id,
                started: u.initiated.map(snapshots::rfc3339).unwrap_or_default(),
            },
        });
    }
    Ok(found)
}

/// Aborts `upload` and forgets this machine's record of it.
pub async fn abort_abandoned(
    s3_client: &crate::aws::S3Client,
    state: &std::path::Path,
    upload: &UploadRecord,
) -> Result<(), AwsError> {
    s3::abort(s3_client, &upload.bucket, &upload.key, &upload.upload_id).await?;
    if let Ok(held) = upload_records(state).hold(&records::name_for(&upload.upload_id), "an upload") {
        let _ = held.clear_for_good();
    }
    Ok(())
}

/// Records `upload` as open, held by this process; `None` (and a warning in
/// the log) if the state directory cannot be written.
pub(super) fn claim_upload(upload: &Upload) -> Option<Held> {
    let record = UploadRecord {
        bucket: upload.bucket.clone(),
        key: upload.key.clone(),
        upload_id: upload.id().to_string(),
        started: snapshots::rfc3339(crate::time::unix_now()),
    };
    let held = upload_records(&Dirs::new().state)
        .hold(&records::name_for(upload.id()), "an upload")
        .and_then(|held| held.write(&record).map(|()| held));
    held.map_err(|e| tracing::warn!(error = %e, "cannot record the open upload")).ok()
}

/// Aborts the upload (nothing of it stays in S3) and hands back why. S3 may be
/// the reason the backup failed, so the abort is tried again for a while; an
/// upload that could not be aborted stays recorded for `wharf doctor --fix`.
pub(super) async fn abandon(upload: &Upload, claim: Option<Held>, why: JobError) -> JobError {
    use backon::Retryable;
    let again =
        backon::ConstantBuilder::default().with_delay(Duration::from_secs(1)).with_max_times(ABORT_TRIES);
    let aborted = (|| upload.abort())
        .retry(again)
        .notify(|e, _| tracing::warn!(key = %upload.key, error = %e, "aborting the multipart upload failed; trying again"))
        .await;
    match aborted {
        Ok(()) => {
            if let Some(claim) = claim {
                let _ = claim.clear_for_good();
            }
        }
        Err(e) => {
            tracing::error!(key = %upload.key, error = %e, "could not abort the multipart upload; `wharf prune` will");
        }
    }
    why
}
