//! The restore journal: `$XDG_STATE_HOME/wharf/restores/<container id>.json`,
//! rewritten (atomically) before every step of a restore, and a lock beside it
//! that a wharf holds while it works on that container. A journal whose lock
//! nobody holds belongs to a restore that was cut short (`kill -9`, a crash, a
//! lost machine): the next restore, `wharf doctor --fix` or the dashboard's
//! start finishes it from what the journal says.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::replace::Replacement;
use crate::records::Records;

/// The journal format this build writes and reads.
const VERSION: u32 = 1;

/// Where a restore is, and everything needed to finish it or put it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    /// The machine and process that wrote it, and when it began (RFC 3339).
    pub host: String,
    pub pid: u32,
    pub started: String,
    pub replacement: Replacement,
    /// The verified snapshot being put in: its id and its directory here.
    pub snapshot_id: String,
    pub snapshot: PathBuf,
    /// The safety copy of what is replaced, once it is whole.
    pub safety: Option<PathBuf>,
    pub phase: Phase,
    /// The engine the container is on (journals written before this was
    /// recorded have none): a restore cut short is finished only there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineRef>,
}

/// One Docker Engine: its own id, and the endpoint it was reached at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineRef {
    pub id: String,
    pub endpoint: String,
}

/// A restore's steps, in order. What a cut-short restore needs depends on
/// the step it was at; see `recover`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Stopping the container; nothing is changed yet.
    Stopping,
    /// Writing the safety copy; nothing is changed yet.
    Saving,
    /// Putting the snapshot in; the safety copy is whole.
    Replacing,
    /// Putting the safety copy back after a failure or a cancel.
    RollingBack,
    /// The data is in place; starting the container again.
    Starting,
}

impl Journal {
    pub fn new(replacement: Replacement, snapshot_id: &str, snapshot: &Path, engine: EngineRef) -> Journal {
        Journal {
            version: VERSION,
            host: crate::snapshots::host_name(),
            pid: std::process::id(),
            started: crate::snapshots::rfc3339(crate::time::unix_now()),
            replacement,
            snapshot_id: snapshot_id.to_string(),
            snapshot: snapshot.to_path_buf(),
            safety: None,
            phase: Phase::Stopping,
            engine: Some(engine),
        }
    }
}

/// The journals of this machine's user: `restores/` under wharf's state directory.
pub fn journals(state: &Path) -> Records {
    Records::new(state.join("restores"))
}
