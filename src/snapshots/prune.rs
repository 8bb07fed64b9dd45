//! Which snapshots a prune deletes: incomplete ones left by interrupted
//! backups, and complete ones past the retention (keep the newest N, delete
//! what is older than an age).

use std::time::Duration;

use super::{Snapshot, manifest_key, pricing};

/// An incomplete snapshot younger than this may be a backup about to write its manifest.
pub const GRACE_SECS: i64 = 3600;
/// Multipart uploads under the prefix older than this are leftovers, and aborted.
pub const STALE_UPLOAD_SECS: i64 = 86_400;

/// How many snapshots to keep and for how long; with neither set, only
/// incomplete snapshots are pruned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    pub keep: Option<usize>,
    pub older_than: Option<Duration>,
}

impl Retention {
    pub fn describe(&self) -> String {
        let mut rules = Vec::new();
        if let Some(k) = self.keep {
            rules.push(format!("keep the newest {k}"));
        }
        if let Some(d) = self.older_than {
            rules.push(format!("delete what is older than {}", humantime::format_duration(d)));
        }
        if rules.is_empty() {
            "no retention set: only incomplete snapshots go".into()
        } else {
            rules.join(", ")
        }
    }
}

/// A snapshot a prune deletes, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doomed {
    pub id: String,
    pub reason: String,
    /// The manifest first, so nothing half-deleted ever looks complete.
    pub keys: Vec<String>,
    pub bytes: u64,
    /// What deleting it now costs anyway (minimum storage durations).
    pub warning: Option<String>,
}

/// What `retention` deletes from `list` (newest first) at `now` (Unix seconds).
/// The head of the line of history is never deleted (it counts among those kept).
pub fn plan(list: &[Snapshot], retention: Retention, prefix: &str, now: i64) -> Vec<Doomed> {
    let mut complete_seen = 0;
    let mut doomed = Vec::new();
    for s in list {
        let age = s.created().map_or(0, |t| now - t);
        let reason = if s.is_complete() {
            complete_seen += 1;
            if s.head {
                continue;
            }
            let beyond_keep = retention.keep.is_none_or(|k| complete_seen > k);
            let too_old = retention.older_than.is_none_or(|d| age > d.as_secs() as i64);
            let ruled = retention.keep.is_some() || retention.older_than.is_some();
            if !(ruled && beyond_keep && too_old) {
                continue;
            }
            match (retention.keep, retention.older_than) {
                (Some(k), None) => format!("beyond the newest {k}"),
                (_, Some(d)) => format!("older than {}", humantime::format_duration(d)),
                (None, None) => continue,
            }
        } else if age > GRACE_SECS {
            s.problem.clone().unwrap_or_else(|| "incomplete".into())
        } else {
            continue;
        };
        let mut keys = vec![manifest_key(prefix, &s.id)];
        keys.extend(s.data.as_ref().map(|d| d.key.clone()));
        let bytes = s.data.as_ref().map_or(0, |d| d.size);
        let age_days = u32::try_from(age.max(0) / 86_400).unwrap_or(u32::MAX);
        doomed.push(Doomed {
            id: s.id.clone(),
            reason,
            keys,
            bytes,
            warning: pricing::delete_warning(s.storage_class(), age_days),
        });
    }
    doomed
}

/// Whether `key` is where wharf writes snapshot data under `prefix`.
pub fn is_wharf_data_key(prefix: &str, key: &str) -> bool {
    key.strip_prefix(prefix)
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(id, file)| !id.is_empty() && file.starts_with("data.") && file.ends_with(".zst"))
}
