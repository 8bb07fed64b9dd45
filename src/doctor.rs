//! `wharf doctor`: wharf's own leftovers after a process died mid-job (`kill
//! -9`, a crash, a lost SSH session), and settling them with `--fix`:
//!
//! - restores cut short (journals nobody holds): finished, or put back;
//! - multipart uploads this machine started and nobody completes (records
//!   nobody holds), and wharf-shaped uploads under the profile's prefix that
//!   are over a day old with no part for a day: aborted;
//! - restore helper containers no restore is using: removed;
//! - interrupted downloads and safety copies in the cache: deleted;
//! - locks in the bucket (`PREFIX/locks/`) of a backup or prune that died:
//!   this machine's once their process is gone, anyone's after a day.
//!
//! Work another wharf is doing right now (its lock is held) is left alone.

use std::path::{Path, PathBuf};

use crate::aws::AwsClients;
use crate::config::Dirs;
use crate::docker::{Engine, HELPER_LABEL};
use crate::jobs::restore::journal::{self, Journal};
use crate::jobs::restore::replace::OWNER_LABEL;
use crate::jobs::uploads::{UploadRecord, abandoned_uploads, abort_abandoned, upload_records};
use crate::snapshots::{local, locks};

/// One thing left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leftover {
    /// A restore that was cut short.
    Restore(Box<Journal>),
    /// A multipart upload nobody will complete.
    Upload(UploadRecord),
    /// A restore's helper container.
    Helper { id: String, name: String },
    /// A file or directory of an interrupted download or safety copy.
    Cache { path: PathBuf, why: &'static str },
    /// A lock in the bucket whose holder is gone (a backup or prune killed).
    Lock { bucket: String, key: String, why: String },
}

impl Leftover {
    /// What it is, and what `--fix` does with it.
    pub fn describe(&self) -> String {
        match self {
            Leftover::Restore(j) => format!(
                "restore  {} into {} cut short while {} (pid {} on {}, {}): --fix finishes it or puts back what was there",
                j.snapshot_id,
                j.replacement.container,
                phase_words(j.phase),
                j.pid,
                j.host,
                j.started
            ),
            Leftover::Upload(u) => {
                format!("upload   s3://{}/{} open since {}: --fix aborts it", u.bucket, u.key, u.started)
            }
            Leftover::Helper { name, .. } => format!("helper   container {name}: --fix removes it"),
            Leftover::Cache { path, why } => format!("cache    {} ({why}): --fix deletes it", path.display()),
            Leftover::Lock { bucket, key, why } => {
                format!("lock     s3://{bucket}/{key} ({why}): --fix deletes it")
            }
        }
    }
}

fn phase_words(phase: journal::Phase) -> &'static str {
    match phase {
        journal::Phase::Stopping => "stopping the container",
        journal::Phase::Saving => "keeping the safety copy",
        journal::Phase::Replacing => "putting the snapshot in",
        journal::Phase::RollingBack => "putting back what was there",
        journal::Phase::Starting => "starting the container",
    }
}

/// Where to look.
pub struct Look<'a> {
    pub dirs: &'a Dirs,
    pub engine: Option<&'a Engine>,
    pub aws: Option<&'a AwsClients>,
    /// The profile's bucket and prefix, for uploads not recorded here.
    pub place: Option<(String, String)>,
}

/// Everything left behind that no running wharf is working on; notes say
/// what could not be looked at.
pub async fn find(look: &Look<'_>) -> (Vec<Leftover>, Vec<String>) {
    let mut found = Vec::new();
    let mut notes = Vec::new();
    let journals = journal::journals(&look.dirs.state);
    let restoring = journals.busy();
    for (_, journal) in journals.left_over::<Journal>() {
        match journal {
            Ok(j) => found.push(Leftover::Restore(Box::new(j))),
            Err(e) => notes.push(e.to_string()),
        }
    }
    let mut recorded = Vec::new();
    for (_, record) in upload_records(&look.dirs.state).left_over::<UploadRecord>() {
        match record {
            Ok(u) => {
                recorded.push(u.upload_id.clone());
                found.push(Leftover::Upload(u));
            }
            Err(e) => notes.push(e.to_string()),
        }
    }
    match (look.aws, &look.place) {
        (Some(aws), Some((bucket, prefix))) => {
            let now = crate::time::unix_now();
            match abandoned_uploads(&aws.s3, &look.dirs.state, bucket, prefix, now).await {
                Ok(abandoned) => found.extend(
                    abandoned
                        .into_iter()
                        .filter(|a| !recorded.contains(&a.upload.upload_id))
                        .map(|a| Leftover::Upload(a.upload)),
                ),
                Err(e) => notes.push(format!("cannot list the open uploads in s3://{bucket}/{prefix}: {e}")),
            }
            match locks::list(&aws.s3, bucket, prefix).await {
                Ok(found_locks) => found.extend(found_locks.into_iter().filter_map(|l| {
                    let why = gone_holder(&l, now)?;
                    Some(Leftover::Lock { bucket: bucket.clone(), key: l.key, why })
                })),
                Err(e) => notes.push(format!("cannot list the locks in s3://{bucket}/{prefix}: {e}")),
            }
        }
        (None, Some(_)) => notes.push("no AWS credentials: S3 uploads were not looked at".into()),
        _ => {}
    }
    match look.engine {
        Some(engine) => match engine.labelled(HELPER_LABEL).await {
            Ok(helpers) => {
                for (id, name, labels) in helpers {
                    // A helper whose restore still holds its journal is in use; one
                    // whose journal is not among ours is another user's (or machine's).
                    let owner = PathBuf::from(labels.get(OWNER_LABEL).cloned().unwrap_or_default());
                    let ours = owner.starts_with(&look.dirs.state) && owner.is_file();
                    if ours && !crate::records::lock_is_held(&owner) {
                        found.push(Leftover::Helper { id, name });
                    }
                }
            }
            Err(e) => notes.push(format!("helper containers were not looked at: {e}")),
        },
        None => notes.push("no Docker engine: helper containers were not looked at".into()),
    }
    if restoring {
        notes.push("a restore is under way: the cache was not looked at".into());
    } else {
        found.extend(cache_leftovers(&look.dirs.cache, &found));
    }
    (found, notes)
}

/// Interrupted downloads (`data.part`), and snapshot or safety-copy
/// directories without a manifest that no leftover restore needs.
fn cache_leftovers(cache: &Path, restores: &[Leftover]) -> Vec<Leftover> {
    let needed: Vec<&Path> = restores
        .iter()
        .filter_map(|l| match l {
            Leftover::Restore(j) => j.safety.as_deref(),
            _ => None,
        })
        .collect();
    let mut found = Vec::new();
    let dirs = |root: PathBuf| -> Vec<PathBuf> {
        std::fs::read_dir(root)
            .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
            .unwrap_or_default()
    };
    for dir in dirs(local::snapshot_cache(cache)) {
        // A restore fetching or using it holds it: its files are not leftovers.
        if crate::snapshots::cache::in_use(&dir) {
            continue;
        }
        let parts = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path());
        for part in
            parts.filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("data.part")))
        {
            found.push(Leftover::Cache { path: part, why: "an interrupted download" });
        }
        if !dir.join("manifest.json").exists() && dir.read_dir().is_ok_and(|mut d| d.next().is_none()) {
            found.push(Leftover::Cache { path: dir, why: "an empty snapshot directory" });
        }
    }
    for container in dirs(cache.join("safety")) {
        for dir in dirs(container) {
            if !dir.join("manifest.json").exists() && !needed.contains(&dir.as_path()) {
                found.push(Leftover::Cache { path: dir, why: "an interrupted safety copy" });
            }
        }
    }
    found
}

/// Locks older than this are a gone holder's whichever machine wrote them.
const LOCK_LEFT_SECS: i64 = 86_400;

/// Why a lock's holder is surely gone: this machine's process is not
/// running, or nobody refreshed it for a day.
fn gone_holder(lock: &locks::Found, now: i64) -> Option<String> {
    let holder = lock.holder.as_ref();
    let here = holder.is_some_and(|h| h.host == crate::snapshots::host_name());
    match holder {
        Some(h) if here && crate::files::process_gone(h.pid) => {
            Some(format!("{} on this machine, pid {} is gone", h.kind, h.pid))
        }
        _ if now - lock.written > LOCK_LEFT_SECS => {
            Some(format!("{}; not refreshed for a day", lock.describe(now)))
        }
        _ => None,
    }
}

/// Settles `leftover`; says what was done.
pub async fn fix(look: &Look<'_>, leftover: &Leftover) -> Result<String, String> {
    match leftover {
        Leftover::Restore(j) => {
            let engine = look.engine.ok_or("no Docker engine to finish the restore with")?;
            let what = format!("a restore into `{}`", j.replacement.container);
            let held = journal::journals(&look.dirs.state)
                .hold(&j.replacement.container_id, &what)
                .map_err(|e| e.to_string())?;
            let said = |step: String| tracing::info!(step, "doctor");
            // Not while another home's restore, backup or sync works on the container.
            let name = &j.replacement.container;
            let doing = format!("wharf doctor is finishing a restore into {name} that was cut short");
            let quiet = crate::jobs::JobContext::quiet();
            let _lock = crate::jobs::lock::take(engine, name, &doing, crate::jobs::lock::Wait::No, &quiet)
                .await
                .map_err(|e| e.to_string())?;
            crate::jobs::restore::recover(engine, &held, (**j).clone(), &said)
                .await
                .map_err(|e| crate::error::one_line(&e))
        }
        Leftover::Upload(u) => {
            let aws = look.aws.ok_or("no AWS credentials to abort the upload with")?;
            abort_abandoned(&aws.s3, &look.dirs.state, u).await.map_err(|e| e.to_string())?;
            Ok(format!("aborted the upload to s3://{}/{}", u.bucket, u.key))
        }
        Leftover::Helper { id, name } => {
            let engine = look.engine.ok_or("no Docker engine")?;
            engine.remove(id).await.map_err(|e| e.to_string())?;
            Ok(format!("removed helper container {name}"))
        }
        Leftover::Lock { bucket, key, .. } => {
            let aws = look.aws.ok_or("no AWS credentials to delete the lock with")?;
            crate::aws::s3::delete(&aws.s3, bucket, std::slice::from_ref(key))
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("deleted the lock s3://{bucket}/{key}"))
        }
        Leftover::Cache { path, .. } => {
            let removed =
                if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
            removed.map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(format!("deleted {}", path.display()))
        }
    }
}
