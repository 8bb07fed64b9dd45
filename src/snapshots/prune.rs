//! Which snapshots a prune deletes, and which it keeps, each with the rule
//! that decided. It deletes only what it understands:
//!
//! - a snapshot whose manifest is of a newer format (a newer wharf on the
//!   other machine wrote it) or does not parse is kept and said;
//! - data without a manifest (a backup cut short) goes only after a grace
//!   period, and only in wharf's own key layout (the listing holds no other);
//! - `keep N` keeps the line: head and its N−1 nearest ancestors (by each
//!   manifest's `parent`), and the newest snapshot of each host that is off
//!   the line (a diverged backup somebody may still want); with no head yet,
//!   the newest N;
//! - `older_than` deletes only what is older (and, with `keep`, not kept by it);
//! - head is never deleted.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use super::{Snapshot, manifest_key, pricing};

/// An incomplete snapshot younger than this may be a backup about to write its manifest.
pub const GRACE_SECS: i64 = 3600;
/// Multipart uploads under the prefix not known to be this machine's are
/// leftovers only once they are this old and have had no part for as long.
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
            rules.push(format!(
                "keep head and its {} nearest ancestor{} on the line, and each host's newest off it",
                k.saturating_sub(1),
                if k == 2 { "" } else { "s" }
            ));
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
    /// Its data object's size (a chunked snapshot has none: its chunks go
    /// after, if no kept snapshot uses them).
    pub bytes: u64,
    pub chunked: bool,
    /// What deleting it now costs anyway (minimum storage durations).
    pub warning: Option<String>,
}

/// A snapshot a prune keeps, and the rule that keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub id: String,
    pub reason: String,
}

/// What a prune does to every snapshot listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub doomed: Vec<Doomed>,
    pub kept: Vec<Kept>,
}

/// What `retention` does with `list` (newest first) at `now` (Unix seconds).
pub fn plan(list: &[Snapshot], retention: Retention, prefix: &str, now: i64) -> Plan {
    let by_keep = retention.keep.map(|n| keep_rule(list, n));
    let mut plan = Plan::default();
    for s in list {
        let age = s.created().map_or(0, |t| now - t);
        let verdict = match &s.problem {
            Some(problem) if !problem.understood() => Err(format!("{problem}: kept")),
            Some(problem) if age <= GRACE_SECS => {
                Err(format!("{problem}, less than an hour old (a backup may be finishing): kept"))
            }
            Some(problem) => Ok(problem.to_string()),
            None if s.head => Err("head of the line".into()),
            None => complete(retention, by_keep.as_ref(), &s.id, age),
        };
        match verdict {
            Err(reason) => plan.kept.push(Kept { id: s.id.clone(), reason }),
            Ok(reason) => {
                let mut keys = vec![manifest_key(prefix, &s.id)];
                keys.extend(s.data.as_ref().map(|d| d.key.clone()));
                let age_days = u32::try_from(age.max(0) / 86_400).unwrap_or(u32::MAX);
                plan.doomed.push(Doomed {
                    id: s.id.clone(),
                    reason,
                    keys,
                    bytes: s.data.as_ref().map_or(0, |d| d.size),
                    chunked: s.manifest.as_ref().is_some_and(|m| m.is_chunked()),
                    warning: pricing::delete_warning(s.storage_class(), age_days),
                });
            }
        }
    }
    plan
}

/// A complete snapshot that is not head: `Ok(why it goes)` or `Err(why it stays)`.
fn complete(retention: Retention, by_keep: Option<&HashMap<String, Verdict>>, id: &str, age: i64) -> Verdict {
    let by_keep = by_keep.map(|k| k.get(id).cloned().unwrap_or_else(|| Err("not on the list".into())));
    let too_old = retention.older_than.map(|d| (age > d.as_secs() as i64, humantime::format_duration(d)));
    match (by_keep, too_old) {
        (Some(Err(why)), _) => Err(why),
        (None, None) => Err("no retention set".into()),
        (_, Some((false, d))) => Err(format!("not older than {d}")),
        (Some(Ok(why)), None) => Ok(why),
        (Some(Ok(why)), Some((true, d))) => Ok(format!("{why}, and older than {d}")),
        (None, Some((true, d))) => Ok(format!("older than {d}")),
    }
}

/// `Ok(why it goes)` or `Err(why it stays)`.
type Verdict = Result<String, String>;

/// What `keep n` says of each complete snapshot: head and its n−1 nearest
/// ancestors stay, and each host's newest off the line; with no head among
/// them, the newest n.
fn keep_rule(list: &[Snapshot], n: usize) -> HashMap<String, Verdict> {
    let complete: BTreeMap<&str, &Snapshot> =
        list.iter().filter(|s| s.is_complete()).map(|s| (s.id.as_str(), s)).collect();
    let mut verdicts = HashMap::new();
    let Some(head) = list.iter().find(|s| s.head && s.is_complete()) else {
        let mut newest: Vec<&Snapshot> = complete.values().copied().collect();
        newest.sort_by_key(|s| std::cmp::Reverse((s.created().unwrap_or(0), s.id.clone())));
        for (i, s) in newest.into_iter().enumerate() {
            let verdict = if i < n {
                Err(format!("no head of the line yet: one of the newest {n}"))
            } else {
                Ok(format!("no head of the line yet, and beyond the newest {n}"))
            };
            verdicts.insert(s.id.clone(), verdict);
        }
        return verdicts;
    };
    // The line: head, its parent, that one's parent … as far as they are listed.
    let mut on_line = HashSet::new();
    let mut at = Some(head);
    let mut back = 0;
    while let Some(s) = at.filter(|s| on_line.insert(s.id.as_str())) {
        let verdict = match back {
            0 => Err("head of the line".to_string()),
            1 if back < n => Err("on the line: head's parent".to_string()),
            b if b < n => Err(format!("on the line: {b} back from head")),
            b => Ok(format!("on the line {b} back from head, beyond what --keep {n} keeps")),
        };
        verdicts.insert(s.id.clone(), verdict);
        back += 1;
        at = s.manifest.as_ref().and_then(|m| m.parent.as_deref()).and_then(|p| complete.get(p).copied());
    }
    // Off the line: each host's newest stays.
    let mut off: BTreeMap<&str, Vec<&Snapshot>> = BTreeMap::new();
    for s in complete.values().filter(|s| !on_line.contains(s.id.as_str())) {
        let host = s.manifest.as_ref().and_then(|m| m.host.as_deref()).unwrap_or("an unknown host");
        off.entry(host).or_default().push(s);
    }
    for (host, mut snapshots) in off {
        snapshots.sort_by_key(|s| std::cmp::Reverse((s.created().unwrap_or(0), s.id.clone())));
        for (i, s) in snapshots.into_iter().enumerate() {
            let verdict = if i == 0 {
                Err(format!("off the line: the newest of {host}"))
            } else {
                Ok(format!("off the line, and {host} has a newer one off it"))
            };
            verdicts.insert(s.id.clone(), verdict);
        }
    }
    verdicts
}

/// Whether `key` is where wharf writes snapshot data under `prefix`.
pub fn is_wharf_data_key(prefix: &str, key: &str) -> bool {
    key.strip_prefix(prefix)
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(id, file)| super::check_id(id).is_ok() && file.starts_with("data."))
}
