//! What storing a snapshot costs, and what each storage class demands before it
//! gives data back. Prices are S3's published list prices for us-east-1 and
//! eu-west-1 (the same for these classes), first 50 TB tier, as of
//! [`PRICES_AS_OF`]; other regions differ by a few percent.

/// When the table below was read.
pub const PRICES_AS_OF: &str = "2026-11";

use std::collections::{BTreeMap, HashSet};

use crate::model::snapshots::{S3Class, Snapshot};

/// One storage class's terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Terms {
    /// USD per GB-month stored.
    pub per_gb_month: f64,
    /// Storage is charged for at least this many days, deleted earlier or not.
    pub minimum_days: u32,
    /// USD per GB read back.
    pub retrieval_per_gb: f64,
    /// The object has to be restored (thawed) before it can be read.
    pub needs_restore: bool,
    /// USD per 1,000 PUT requests (a chunked backup makes one per new chunk).
    pub put_per_1000: f64,
}

const fn terms_of(
    per_gb_month: f64,
    minimum_days: u32,
    retrieval_per_gb: f64,
    needs_restore: bool,
    put_per_1000: f64,
) -> Terms {
    Terms { per_gb_month, minimum_days, retrieval_per_gb, needs_restore, put_per_1000 }
}

/// The terms of `class`; a class wharf does not know is priced as STANDARD.
pub fn terms(class: &S3Class) -> Terms {
    match class {
        S3Class::Standard | S3Class::IntelligentTiering | S3Class::Other(_) => {
            terms_of(0.023, 0, 0.0, false, 0.005)
        }
        S3Class::StandardIa => terms_of(0.0125, 30, 0.01, false, 0.01),
        S3Class::OnezoneIa => terms_of(0.01, 30, 0.01, false, 0.01),
        S3Class::GlacierIr => terms_of(0.004, 90, 0.03, false, 0.02),
        S3Class::Glacier => terms_of(0.0036, 90, 0.01, true, 0.03),
        S3Class::DeepArchive => terms_of(0.00099, 180, 0.02, true, 0.05),
    }
}

/// USD a month for `bytes` in `class`.
pub fn monthly_cost(class: &S3Class, bytes: u64) -> f64 {
    terms(class).per_gb_month * bytes as f64 / 1e9
}

/// What to know before reading (restoring) `bytes` stored in `class`, if anything.
pub fn restore_warning(class: &S3Class, bytes: u64) -> Option<String> {
    let t = terms(class);
    if t.needs_restore {
        return Some(format!(
            "{class} objects must be restored in S3 first (hours; `aws s3api restore-object`), then retried"
        ));
    }
    (t.retrieval_per_gb > 0.0).then(|| {
        format!(
            "{class}: reading it back costs about ${:.3} (${}/GB retrieval)",
            t.retrieval_per_gb * bytes as f64 / 1e9,
            t.retrieval_per_gb
        )
    })
}

/// What to know before deleting something stored in `class` `age_days` ago, if anything.
pub fn delete_warning(class: &S3Class, age_days: u32) -> Option<String> {
    let t = terms(class);
    (age_days < t.minimum_days).then(|| {
        format!(
            "{class} is charged for {} days at least: deleting it now still bills the {} days left",
            t.minimum_days,
            t.minimum_days - age_days
        )
    })
}

/// What `list` stores, by class (keyed by the class's name, so that lines
/// read in one order everywhere): each data object, and each chunk once
/// however many snapshots share it.
pub fn stored_by_class(list: &[Snapshot]) -> BTreeMap<String, (S3Class, u64)> {
    let mut per_class: BTreeMap<String, (S3Class, u64)> = BTreeMap::new();
    let mut add = |class: &S3Class, bytes: u64| {
        per_class.entry(class.as_str().to_string()).or_insert((class.clone(), 0)).1 += bytes;
    };
    let mut chunks_seen = HashSet::new();
    for s in list {
        if let Some(d) = &s.data {
            add(&d.storage_class, d.size);
        }
        if let Some(m) = s.manifest.as_ref().filter(|m| m.is_chunked()) {
            let own: u64 =
                m.chunks.iter().filter(|c| chunks_seen.insert(c.sha256.as_str())).map(|c| c.stored).sum();
            add(&m.storage_class, own);
        }
    }
    per_class
}

/// What the newest chunked backup in `list` (newest first) asked of S3: its
/// PUT requests (a new chunk each, and its manifest) and their price.
pub fn last_backup_puts(list: &[Snapshot]) -> Option<(u64, f64)> {
    let m = list.iter().filter_map(|s| s.manifest.as_ref()).find(|m| m.is_chunked())?;
    let puts = m.new_chunks? + 1;
    Some((puts, puts as f64 / 1000.0 * terms(&m.storage_class).put_per_1000))
}
