//! The log file. While the dashboard runs nothing may reach the terminal, so
//! logs go to `$XDG_STATE_HOME/wharf/wharf.log` (or `--log-file`). `WHARF_LOG`
//! sets the filter (default `info`).

use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Starts logging to `path`, creating its directory. On failure the reason is
/// returned and wharf runs without a log.
pub fn init(path: &Path) -> Result<(), String> {
    // Readable by the user alone: it names containers, buckets and services.
    let file = crate::files::append_private(path)
        .map_err(|e| format!("cannot open the log file {}: {e}", path.display()))?;
    let filter = EnvFilter::try_from_env("WHARF_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init()
        .map_err(|e| e.to_string())
}
