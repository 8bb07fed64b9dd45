//! Short human forms of sizes, ages, times, durations and digests, as the
//! panes, the commands and the jobs' messages show them. It depends on
//! nothing of wharf's: every layer may use it.

use std::time::Duration;

use bytesize::ByteSize;

/// `4.9 MB`, as `docker images` would say it.
pub fn bytes(n: u64) -> String {
    ByteSize::b(n).display().si().to_string()
}

/// `12.3 MB/s`.
pub fn rate(bytes_per_second: f64) -> String {
    format!("{}/s", bytes(bytes_per_second.max(0.0) as u64))
}

/// The age of something created at `then`, seen at `now` (Unix seconds): `42s`, `5m`, `3h`, `9d`, `4mo`, `2y`.
pub fn age(then: i64, now: i64) -> String {
    let s = (now - then).max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..86_400 => format!("{}h", s / 3_600),
        86_400..2_592_000 => format!("{}d", s / 86_400),
        2_592_000..31_536_000 => format!("{}mo", s / 2_592_000),
        _ => format!("{}y", s / 31_536_000),
    }
}

/// `0:07`, `12:30`, `1:02:03`.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3_600 {
        format!("{}:{:02}:{:02}", s / 3_600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A text progress bar `█████░░░░░` of `width` cells.
pub fn bar(done: u64, total: u64, width: usize) -> String {
    let filled =
        if total == 0 { width } else { ((done.min(total) as u128 * width as u128) / total as u128) as usize };
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

/// `2026-11-26T12:00:00Z`, for absolute times next to relative ones.
pub fn utc(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map_or_else(|| "–".into(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// The 12 hex digits after `sha256:` that `docker images` shows of an id or digest.
pub fn short_digest(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}
