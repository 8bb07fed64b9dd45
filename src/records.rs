//! Records of work in progress that must outlive a crash: `<dir>/<name>.json`,
//! with `<dir>/<name>.lock` locked by the process doing the work. A record
//! whose lock nobody holds was left by a process that died (`kill -9`, a
//! crash, a dropped machine): what it describes is a leftover to finish or
//! clean up. Restore journals and open multipart uploads are kept this way.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::files;

/// Why a record could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("another wharf (pid {pid}) is working on {what} right now; wait for it to finish")]
    Busy { what: String, pid: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is unreadable ({message}); move it away once what it describes is checked")]
    Unreadable { path: String, message: String },
}

/// A directory of records.
#[derive(Debug, Clone)]
pub struct Records {
    dir: PathBuf,
}

/// One record, locked by this process until dropped.
#[derive(Debug)]
pub struct Held {
    path: PathBuf,
    _lock: File,
}

impl Records {
    pub fn new(dir: PathBuf) -> Records {
        Records { dir }
    }

    /// Locks record `name` (`what` names it in messages); fails at once if
    /// another process holds it.
    pub fn hold(&self, name: &str, what: &str) -> Result<Held, RecordError> {
        let io = |source| RecordError::Io { path: self.dir.display().to_string(), source };
        files::private_dir(&self.dir).map_err(io)?;
        let mut lock = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(self.dir.join(format!("{name}.lock")))
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = lock.read_to_string(&mut pid);
                let pid = if pid.trim().is_empty() { "unknown".into() } else { pid.trim().to_string() };
                return Err(RecordError::Busy { what: what.to_string(), pid });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        // Who holds it, for the message another process shows.
        let _ = lock.set_len(0).and_then(|()| write!(lock, "{}", std::process::id()));
        Ok(Held { path: self.dir.join(format!("{name}.json")), _lock: lock })
    }

    /// The names that have a record, held or not.
    pub fn names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return vec![] };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json").map(str::to_string))
            .filter(|name| !name.starts_with('.'))
            .collect();
        names.sort();
        names
    }

    /// Record `name` as it is now, whoever holds it (the writer replaces it
    /// atomically, so it is never read half-written).
    pub fn peek<T: DeserializeOwned>(&self, name: &str) -> Result<T, RecordError> {
        let path = self.dir.join(format!("{name}.json"));
        let text = std::fs::read(&path)
            .map_err(|source| RecordError::Io { path: path.display().to_string(), source })?;
        serde_json::from_slice(&text)
            .map_err(|e| RecordError::Unreadable { path: path.display().to_string(), message: e.to_string() })
    }

    /// Whether some process holds a lock here now (work is under way).
    pub fn busy(&self) -> bool {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return false };
        entries.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".lock")).any(|e| {
            File::open(e.path())
                .is_ok_and(|f| matches!(f.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock)))
        })
    }

    /// The records nobody holds (left by a process that died), each read and
    /// held for the caller to settle.
    pub fn left_over<T: DeserializeOwned>(&self) -> Vec<(Held, Result<T, RecordError>)> {
        self.names()
            .into_iter()
            .filter_map(|name| self.hold(&name, &name).ok())
            .filter_map(|held| match held.read::<T>() {
                Ok(Some(record)) => Some((held, Ok(record))),
                Ok(None) => None,
                Err(e) => Some((held, Err(e))),
            })
            .collect()
    }
}

impl Held {
    /// The lock file this process holds: another process can tell from it
    /// whether the work is still under way ([`lock_is_held`]).
    pub fn lock_path(&self) -> PathBuf {
        self.path.with_extension("lock")
    }

    /// The record, if there is one.
    pub fn read<T: DeserializeOwned>(&self) -> Result<Option<T>, RecordError> {
        let text = match std::fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(RecordError::Io { path: self.path.display().to_string(), source }),
        };
        serde_json::from_slice(&text).map(Some).map_err(|e| RecordError::Unreadable {
            path: self.path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Writes `record` durably (a crash leaves the old one or this one).
    pub fn write<T: Serialize>(&self, record: &T) -> Result<(), RecordError> {
        let io = |source| RecordError::Io { path: self.path.display().to_string(), source };
        let text = serde_json::to_vec_pretty(record).map_err(|e| io(std::io::Error::other(e)))?;
        files::write_atomic(&self.path, &text).map_err(io)
    }

    /// The work is over: there is nothing left to finish.
    pub fn clear(&self) -> Result<(), RecordError> {
        let io = |source| RecordError::Io { path: self.path.display().to_string(), source };
        match std::fs::remove_file(&self.path) {
            Ok(()) => files::sync_dir(&self.path).map_err(io),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }
}

impl Held {
    /// Clears the record and removes its lock file too, for records whose name
    /// is never used again (one per upload); a name that comes back (a
    /// container's journal) keeps its lock file, so that two processes can
    /// never lock two different files of one name.
    pub fn clear_for_good(self) -> Result<(), RecordError> {
        self.clear()?;
        let _ = std::fs::remove_file(self.path.with_extension("lock"));
        Ok(())
    }
}

/// Whether some process holds the lock file at `path` (false when there is
/// no such file).
pub fn lock_is_held(path: &std::path::Path) -> bool {
    File::open(path).is_ok_and(|f| matches!(f.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock)))
}

/// A file name for any text: its SHA-256, short.
pub fn name_for(text: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(text.as_bytes()))[..24].to_string()
}
