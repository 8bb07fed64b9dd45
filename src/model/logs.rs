//! Log lines and the CloudWatch streams they come from.

use std::sync::Arc;

/// One log line and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The task (and container) it came from, e.g. `4f2a91c0` or `4f2a91c0 app`.
    pub source: Arc<str>,
    pub text: String,
}

/// A CloudWatch Logs stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStream {
    pub group: String,
    pub stream: String,
}
