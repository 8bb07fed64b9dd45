//! Where each refreshing pane stands (`app/refresh.rs` decides when to ask).

use std::time::{Duration, Instant};

/// Where each refreshing pane stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Refresh {
    pub ecs: Watch,
    pub snapshots: Watch,
    pub registry: Watch,
    /// The ECS services' utilization, for their charts.
    pub metrics: Watch,
    /// `HEAD.json`'s ETag when the listing shown was read (`None`: no head).
    pub head_etag: Option<String>,
    /// When the listing shown was read.
    pub listed: Option<Instant>,
    /// Whether a refreshing pane was looked at, at the last refresh tick.
    pub looking: bool,
}

/// One pane's refreshes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Watch {
    /// When it last asked (by itself, by `R`, or by a load).
    pub asked: Option<Instant>,
    /// An answer to a refresh is awaited: no second one is asked meanwhile.
    pub waiting: bool,
    /// The last refresh failed: why, and when (Unix seconds) the rows shown were read.
    pub failed: Option<(String, Option<i64>)>,
    /// When the rows shown were read (Unix seconds).
    pub good_at: Option<i64>,
}

/// An answer awaited this long is taken as lost (a switch dropped it): the pane asks again.
const LOST_AFTER: Duration = Duration::from_secs(60);

impl Watch {
    pub fn due(&self, now: Instant, every: Duration) -> bool {
        let since = |t: Instant| now.saturating_duration_since(t);
        match self.asked {
            None => true,
            Some(t) if self.waiting => since(t) >= LOST_AFTER,
            Some(t) => since(t) >= every,
        }
    }

    /// An answer came: rows read now, or why not (the rows are kept).
    pub fn answered(&mut self, now: i64, error: Option<String>) {
        self.waiting = false;
        match error {
            None => (self.failed, self.good_at) = (None, Some(now)),
            Some(e) => self.failed = Some((e, self.good_at)),
        }
    }
}
