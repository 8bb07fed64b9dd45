//! What storing a snapshot costs, and what each storage class demands before it
//! gives data back. Prices are S3's published list prices for us-east-1 and
//! eu-west-1 (the same for these classes), first 50 TB tier, as of
//! [`PRICES_AS_OF`]; other regions differ by a few percent.

/// When the table below was read.
pub const PRICES_AS_OF: &str = "2026-11";

/// One storage class's terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Terms {
    pub class: &'static str,
    /// USD per GB-month stored.
    pub per_gb_month: f64,
    /// Storage is charged for at least this many days, deleted earlier or not.
    pub minimum_days: u32,
    /// USD per GB read back.
    pub retrieval_per_gb: f64,
    /// The object has to be restored (thawed) before it can be read.
    pub needs_restore: bool,
}

const TABLE: [Terms; 7] = [
    Terms {
        class: "STANDARD",
        per_gb_month: 0.023,
        minimum_days: 0,
        retrieval_per_gb: 0.0,
        needs_restore: false,
    },
    Terms {
        class: "INTELLIGENT_TIERING",
        per_gb_month: 0.023,
        minimum_days: 0,
        retrieval_per_gb: 0.0,
        needs_restore: false,
    },
    Terms {
        class: "STANDARD_IA",
        per_gb_month: 0.0125,
        minimum_days: 30,
        retrieval_per_gb: 0.01,
        needs_restore: false,
    },
    Terms {
        class: "ONEZONE_IA",
        per_gb_month: 0.01,
        minimum_days: 30,
        retrieval_per_gb: 0.01,
        needs_restore: false,
    },
    Terms {
        class: "GLACIER_IR",
        per_gb_month: 0.004,
        minimum_days: 90,
        retrieval_per_gb: 0.03,
        needs_restore: false,
    },
    Terms {
        class: "GLACIER",
        per_gb_month: 0.0036,
        minimum_days: 90,
        retrieval_per_gb: 0.01,
        needs_restore: true,
    },
    Terms {
        class: "DEEP_ARCHIVE",
        per_gb_month: 0.00099,
        minimum_days: 180,
        retrieval_per_gb: 0.02,
        needs_restore: true,
    },
];

/// The terms of `class`; an unknown class is priced as STANDARD.
pub fn terms(class: &str) -> Terms {
    TABLE.iter().find(|t| t.class == class).copied().unwrap_or(TABLE[0])
}

/// USD a month for `bytes` in `class`.
pub fn monthly_cost(class: &str, bytes: u64) -> f64 {
    terms(class).per_gb_month * bytes as f64 / 1e9
}

/// What to know before reading (restoring) `bytes` stored in `class`, if anything.
pub fn restore_warning(class: &str, bytes: u64) -> Option<String> {
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
pub fn delete_warning(class: &str, age_days: u32) -> Option<String> {
    let t = terms(class);
    (age_days < t.minimum_days).then(|| {
        format!(
            "{class} is charged for {} days at least: deleting it now still bills the {} days left",
            t.minimum_days,
            t.minimum_days - age_days
        )
    })
}
