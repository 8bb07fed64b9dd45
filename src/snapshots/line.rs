//! One line of history across machines. Every manifest names its `parent`:
//! the snapshot the container's data was last restored from or backed up as
//! (remembered per container in `$XDG_STATE_HOME/wharf/lines/`).
//! `PREFIX/HEAD.json` names the newest snapshot of the line and moves only by
//! S3 conditional writes: a backup moves it when its parent is head (or there
//! is no head yet); otherwise it has **diverged** — another machine backed up
//! since this one last took head — and head stays where it is. Two backups
//! racing for head: one write wins, the other reads head again and diverges.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::aws::s3::{self, Only};
use crate::aws::{AwsError, S3Client};

/// The file that names the head of the line, under the prefix.
pub const HEAD: &str = "HEAD.json";

/// What `HEAD.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub snapshot: String,
    /// The machine that made it head.
    pub host: String,
    /// When, RFC 3339.
    pub at: String,
}

/// What a backup did to the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advanced {
    /// The new snapshot is head now.
    Moved,
    /// Head is another machine's snapshot this one never took: it stays.
    Diverged(Head),
}

/// Head of the line under `prefix`, with the ETag to move it from; `None` before the first.
pub async fn head(s3: &S3Client, bucket: &str, prefix: &str) -> Result<Option<(Head, String)>, AwsError> {
    let Some((bytes, etag)) = s3::get_tagged(s3, bucket, &format!("{prefix}{HEAD}")).await? else {
        return Ok(None);
    };
    let head = serde_json::from_slice(&bytes)
        .map_err(|e| AwsError::Service(format!("s3://{bucket}/{prefix}{HEAD} is not wharf's: {e}")))?;
    Ok(Some((head, etag)))
}

/// Makes `new` head if `parent` is head now (or there is none yet, or
/// `force`); else says who is head. Retried while another write wins the
/// race; a write of this very head that succeeded without this process
/// hearing so is recognised as its own.
pub async fn advance(
    s3: &S3Client,
    bucket: &str,
    prefix: &str,
    new: &Head,
    parent: Option<&str>,
    force: bool,
) -> Result<Advanced, AwsError> {
    let key = format!("{prefix}{HEAD}");
    let body = serde_json::to_vec_pretty(new).map_err(|e| AwsError::Service(e.to_string()))?;
    for _ in 0..8 {
        let only = match head(s3, bucket, prefix).await? {
            // This very write landed (its answer was lost, or a retry of it was refused with 412).
            Some((now, _)) if now == *new => return Ok(Advanced::Moved),
            None => Only::IfAbsent,
            Some((now, etag)) if force || Some(now.snapshot.as_str()) == parent => Only::IfUnchanged(etag),
            Some((now, _)) => return Ok(Advanced::Diverged(now)),
        };
        match s3::put_if(s3, bucket, &key, body.clone(), only).await {
            Ok(true) => return Ok(Advanced::Moved),
            // Someone else wrote first, or the answer was lost: head is read again.
            Ok(false) => {}
            Err(e) => tracing::warn!(bucket, key, error = %e, "moving head failed; reading it again"),
        }
    }
    Err(AwsError::Service(format!("s3://{bucket}/{key} kept changing: try again")))
}

/// What this machine remembers of one container's place in the line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Place {
    bucket: String,
    prefix: String,
    snapshot: String,
}

fn place_file(state: &Path, container: &str) -> PathBuf {
    state.join("lines").join(format!("{}.json", crate::records::name_for(container)))
}

/// The snapshot `container`'s data was last restored from or backed up as,
/// in the line under `bucket`/`prefix`.
pub fn parent_of(state: &Path, bucket: &str, prefix: &str, container: &str) -> Option<String> {
    let text = std::fs::read(place_file(state, container)).ok()?;
    let place = serde_json::from_slice::<Place>(&text).ok()?;
    (place.bucket == bucket && place.prefix == prefix).then_some(place.snapshot)
}

/// Forgets where `container`'s data is in any line (its data is none of them now).
pub fn forget(state: &Path, container: &str) {
    let _ = std::fs::remove_file(place_file(state, container));
}

/// Remembers that `container`'s data is now `snapshot`.
pub fn remember(state: &Path, bucket: &str, prefix: &str, container: &str, snapshot: &str) {
    let file = place_file(state, container);
    let place =
        Place { bucket: bucket.to_string(), prefix: prefix.to_string(), snapshot: snapshot.to_string() };
    let text = serde_json::to_vec(&place).unwrap_or_default();
    let written = file
        .parent()
        .map_or(Ok(()), crate::files::private_dir)
        .and_then(|()| crate::files::write_atomic(&file, &text));
    if let Err(e) = written {
        tracing::warn!(file = %file.display(), error = %e, "cannot remember the container's place in the line");
    }
}
