//! One operation at a time on one container. Backup, restore, the recovery
//! of a restore cut short, run and sync all take the container's lock first,
//! whichever process, XDG home or user they run as: a backup must never read
//! data a restore is half-way through replacing, and two restores must never
//! interleave.
//!
//! The lock is a file lock (`flock`, released by the kernel when its process
//! dies, `kill -9` included) on `<lock dir>/<engine id>-<container>.lock`.
//! The lock directory is one every user of the machine shares (the system's
//! temporary directory, `wharf-locks/`, sticky and world-writable like
//! `/tmp` itself; `WHARF_LOCK_DIR` moves it). It is keyed by the engine's own
//! id, so two `DOCKER_HOST`s naming one engine share a lock, and by the
//! container's name, which is what every command names and what a sync's
//! recreate keeps. Whoever holds it writes what it is doing into the file,
//! for whoever waits to say.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{JobContext, Progress};
use crate::docker::{DockerError, Engine};

/// How often a waiting operation tries the lock again.
const POLL: Duration = Duration::from_millis(200);

/// The container's lock, held until dropped.
#[derive(Debug)]
pub struct ContainerLock {
    _file: File,
}

/// What the holder of a lock is doing, as it wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `a restore into db is replacing its data`
    pub doing: String,
    pub host: String,
    pub pid: u32,
    /// RFC 3339.
    pub since: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (wharf pid {} on {}, since {})", self.doing, self.pid, self.host, self.since)
    }
}

/// Another operation holds the container and `--no-wait` was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}; nothing was done (without --no-wait, wharf waits for it to finish)")]
pub struct Busy(pub String);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error("cancelled while waiting for the container's lock")]
    Cancelled,
    #[error("the container's lock {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// Whether an operation that finds the container busy waits for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Wait {
    /// Wait, saying what for, until the holder is done (or the job is cancelled).
    #[default]
    Yes,
    /// Give up at once with [`Busy`].
    No,
}

/// The job error a lock that could not be taken ends a job with: [`Busy`]
/// and a cancel as themselves, so that the pool tells them apart.
pub fn job_error(e: LockError) -> super::JobError {
    match e {
        LockError::Busy(busy) => Box::new(busy),
        LockError::Cancelled => Box::new(super::Cancelled),
        other => Box::new(other),
    }
}

/// Where the locks of every user of this machine are kept.
pub fn lock_dir() -> PathBuf {
    std::env::var_os("WHARF_LOCK_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| std::env::temp_dir().join("wharf-locks"), PathBuf::from)
}

/// Takes `container`'s lock on `engine` for what `doing` says (`a backup of
/// db is reading its data`), waiting while another operation holds it
/// (saying so in the job's progress) unless `wait` is [`Wait::No`].
pub async fn take(
    engine: &Engine,
    container: &str,
    doing: &str,
    wait: Wait,
    ctx: &JobContext,
) -> Result<ContainerLock, LockError> {
    let path = lock_dir().join(format!(
        "{}-{}.lock",
        &crate::records::name_for(&engine.id().await?)[..12],
        crate::records::name_for(container)
    ));
    let io = |source| LockError::Io { path: path.display().to_string(), source };
    let mut file = open(&path).map_err(io)?;
    let mut said = String::new();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let holder = read_holder(&mut file)
            .map_or_else(|| "another wharf is working on it".to_string(), |h| h.to_string());
        if wait == Wait::No {
            return Err(Busy(format!("{container} is busy: {holder}")).into());
        }
        if holder != said {
            ctx.progress(Progress::stage(format!("waiting: {holder}")));
            tracing::info!(container, %holder, "waiting for the container's lock");
            said = holder;
        }
        tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(LockError::Cancelled),
            _ = tokio::time::sleep(POLL) => {}
        }
    }
    let holder = Holder {
        doing: doing.to_string(),
        host: crate::snapshots::host_name(),
        pid: std::process::id(),
        since: crate::snapshots::rfc3339(crate::time::unix_now()),
    };
    let text = serde_json::to_vec(&holder).unwrap_or_default();
    let written = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(&text));
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "cannot say in the lock what holds it");
    }
    Ok(ContainerLock { _file: file })
}

/// [`take`] for a job that has not connected to the engine yet: `container`
/// may be a name or an id (its name is what is locked) or a container yet
/// to be made; `doing` says what the job does, given the name.
pub async fn take_for(
    docker_host: Option<&str>,
    container: &str,
    doing: impl FnOnce(&str) -> String,
    wait: Wait,
    ctx: &JobContext,
) -> Result<ContainerLock, super::JobError> {
    let engine = Engine::connect(docker_host).await?;
    let name = match engine.container(container).await {
        Ok(c) => c.name,
        Err(DockerError::NoSuchContainer(_)) => container.to_string(),
        Err(e) => return Err(e.into()),
    };
    take(&engine, &name, &doing(&name), wait, ctx).await.map_err(job_error)
}

/// Opens the lock file, making it (and its directory) when there is none:
/// both open to every user, as the lock is shared by all of them.
fn open(path: &std::path::Path) -> std::io::Result<File> {
    let dir = path.parent().unwrap_or(path);
    if !dir.is_dir() {
        match std::fs::create_dir(dir) {
            Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    // Without O_CREAT first: Linux refuses O_CREAT on another user's file in a sticky directory.
    match OpenOptions::new().read(true).write(true).open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        other => return other,
    }
    match OpenOptions::new().read(true).write(true).create_new(true).mode(0o666).open(path) {
        Ok(file) => {
            // The umask took bits away: every user must be able to lock it.
            let _ = file.set_permissions(std::fs::Permissions::from_mode(0o666));
            Ok(file)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            OpenOptions::new().read(true).write(true).open(path)
        }
        Err(e) => Err(e),
    }
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = Vec::new();
    file.rewind().ok()?;
    file.read_to_end(&mut text).ok()?;
    serde_json::from_slice(&text).ok()
}
