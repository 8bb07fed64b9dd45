//! How a restore replaces what a container holds, built on the engine alone so
//! that it works whatever the image carries (no `rm`, no `mv`, no shell at
//! all), running or stopped:
//!
//! - a directory in the container's own file system (or inside a mount) is
//!   replaced by one upload through the archive API whose first entry is a
//!   plain file of the directory's name: the engine removes what that entry
//!   replaces, and the snapshot's own entries follow;
//! - a directory that is a mount point (a named volume, a bind mount), which
//!   cannot be removed, is emptied the same way through a helper container
//!   (created, never started) that mounts its host directory's *parent*, where
//!   it is an ordinary directory; a second mount of the helper then takes the
//!   snapshot's entries;
//! - a dump is read by the preset's restore command on stdin.
//!
//! None of these is atomic by itself. The journal makes the whole restore
//! so in effect: the verified snapshot and a safety copy of what is replaced
//! are both whole on this machine before anything is touched, and each of
//! these steps can simply be done again, so a restore cut short is finished
//! (or put back) by the next run.

use std::io::Read;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::RestoreError;
use crate::config::Preset;
use crate::docker::{ContainerDetail, Engine, HelperMount};
use crate::jobs::backup::ReadFrom;
use crate::jobs::{databases, mssql, mysql};
use crate::snapshots::Manifest;
use crate::snapshots::local::LocalSnapshot;

/// Where a helper container mounts the parent of a volume's or bind's directory.
const HOST_PARENT: &str = "/wharf-host";
/// Where a helper container mounts the volume or bind itself, to fill it.
const FILL: &str = "/wharf-fill";

/// What a restore replaces, and how; kept in the journal so that a restore cut
/// short can be finished by another process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replacement {
    pub container: String,
    pub container_id: String,
    /// For helper containers: any image works for a container that never starts.
    pub image_id: String,
    /// A `path` restore stops a running container first and starts it after.
    pub was_running: bool,
    pub method: Method,
    /// The lock file of the journal this restore runs under: its helper
    /// containers name it, so that `wharf doctor` can tell theirs from ones
    /// in use (set by the job once the journal is locked).
    #[serde(default)]
    pub owner: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Method {
    /// A directory, replaced through the archive API.
    Path {
        path: String,
        /// Set when `path` is a mount point: the mount's directory on the engine's host.
        mount: Option<HostDir>,
        /// When `path` lies inside a mount: which, in words (`named volume pgdata`).
        #[serde(default)]
        inside: Option<String>,
    },
    /// A dump, read by `restore` on stdin; the safety copy is `dump`'s stdout.
    Dump {
        preset: Preset,
        restore: Vec<String>,
        dump: Vec<String>,
        /// The database (`*`: every one), for the dump presets.
        #[serde(default)]
        database: Option<String>,
    },
    /// SQL Server: the backup file moves through the archive API, RESTORE reads it.
    Mssql { user: String, database: String },
}

/// The host directory behind a mount point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDir {
    /// `volume` or `bind`.
    pub kind: String,
    /// The volume's name, for volumes.
    pub volume: Option<String>,
    /// The directory on the engine's host.
    pub dir: String,
}

/// The database settings a dump restore needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpSettings {
    pub user: Option<String>,
    pub database: Option<String>,
    pub restore_command: Option<Vec<String>>,
    pub backup_command: Option<Vec<String>>,
}

impl Replacement {
    /// How `manifest`'s snapshot would replace what `container` holds (at
    /// `path`, else where the snapshot came from). Refuses, saying why and what
    /// would work, whatever it cannot do completely; nothing is touched here.
    pub async fn plan(
        engine: &Engine,
        container: &ContainerDetail,
        manifest: &Manifest,
        path: Option<&str>,
        settings: &DumpSettings,
    ) -> Result<Replacement, RestoreError> {
        let preset: Preset = manifest
            .preset
            .parse()
            .map_err(|_| RestoreError::Preset(manifest.id.clone(), manifest.preset.clone()))?;
        let method = match preset {
            Preset::Path => {
                let path = path.map(str::to_string).or_else(|| manifest.source.path.clone());
                let path = normalise(&path.ok_or(RestoreError::NoPath)?)?;
                let mount = host_dir(engine, container, &path).await?;
                let inside = container
                    .mounts
                    .iter()
                    .filter(|m| path.starts_with(&format!("{}/", m.destination.trim_end_matches('/'))))
                    .max_by_key(|m| m.destination.len())
                    .map(|m| match &m.name {
                        Some(volume) if m.kind == "volume" => format!("named volume {volume}"),
                        _ => format!("{} mount of {}", m.kind, m.source),
                    });
                if mount.is_none() {
                    let from =
                        manifest.source.path.as_deref().map(normalise).transpose()?.unwrap_or_default();
                    if base(&from) != base(&path) {
                        return Err(RestoreError::Refused(format!(
                            "the snapshot holds a directory named `{}` and {path} is not a mount point of {}, \
                             where wharf can only put back a directory of the same name; restore into a path \
                             ending in /{} (--path), or keep the data on a volume of its own",
                            base(&from),
                            container.name,
                            base(&from)
                        )));
                    }
                }
                Method::Path { path, mount, inside }
            }
            dump => {
                if !container.running {
                    return Err(RestoreError::Refused(format!(
                        "`{}` is not running, and a {} restore needs its database server: start it first \
                         (docker start {})",
                        container.name, manifest.preset, container.name
                    )));
                }
                dump_method(dump, settings, manifest, container)?
            }
        };
        Ok(Replacement {
            container: container.name.clone(),
            container_id: container.id.clone(),
            image_id: container.image_id.clone(),
            was_running: container.running && matches!(method, Method::Path { .. }),
            method,
            owner: String::new(),
        })
    }

    /// How the safety copy of what is there now is read.
    pub fn read_from(&self) -> ReadFrom {
        match &self.method {
            Method::Path { path, .. } => ReadFrom::Path(path.clone()),
            Method::Dump { dump, .. } => ReadFrom::Dump(dump.clone()),
            Method::Mssql { user, database } => {
                ReadFrom::Mssql { user: user.clone(), database: database.clone() }
            }
        }
    }

    /// The preset a safety copy of this is restored with.
    pub fn preset(&self) -> Preset {
        match &self.method {
            Method::Path { .. } => Preset::Path,
            Method::Dump { preset, .. } => *preset,
            Method::Mssql { .. } => Preset::Mssql,
        }
    }

    /// What is replaced, in a few words: `/data (named volume pgdata)`, `database app`.
    pub fn what(&self) -> String {
        match &self.method {
            Method::Path { path, mount: None, inside: Some(within) } => format!("{path} (inside {within})"),
            Method::Path { path, mount: None, inside: None } => {
                format!("{path} (in the container's own file system)")
            }
            Method::Path { path, mount: Some(HostDir { volume: Some(v), .. }), .. } => {
                format!("{path} (named volume {v})")
            }
            Method::Path { path, mount: Some(m), .. } => format!("{path} (bind mount of {})", m.dir),
            Method::Dump { preset, .. } => format!("the {} database", preset.as_str()),
            Method::Mssql { database, .. } => format!("SQL Server database {database}"),
        }
    }

    /// Puts `snapshot` in place of what is there, all of it or (on an error)
    /// something the journal's next step repairs. `progress` hears the raw
    /// bytes put in so far.
    pub async fn apply(
        &self,
        engine: &Engine,
        snapshot: &LocalSnapshot,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<(), RestoreError> {
        let (body, decompressed) = unpack(snapshot, progress)?;
        let applied = match &self.method {
            Method::Path { path, mount: None, .. } => {
                // The first entry replaces the directory (whatever is in it) with a
                // plain file; the snapshot's first entry replaces that file with
                // the directory it holds.
                let prefix = Bytes::from(placeholder(base(path), false)?);
                let body = futures::stream::once(async move { prefix }).chain(body);
                engine.extract(&self.container_id, parent(path), body).await.map_err(RestoreError::from)
            }
            Method::Path { mount: Some(mount), .. } => {
                let entry = snapshot.manifest.source.path.as_deref().map(normalise).transpose()?;
                let name = entry.as_deref().map(base).unwrap_or("data").to_string();
                self.through_helper(engine, mount, &name, body).await
            }
            Method::Dump { restore, preset, .. } => {
                let env = mysql::client_env(engine, &self.container_id, *preset, restore).await?;
                engine
                    .exec_input(&self.container_id, restore, &env, body.map(Ok))
                    .await
                    .map_err(RestoreError::from)
            }
            Method::Mssql { user, database } => {
                let file = mssql::backup_file(&snapshot.manifest.id);
                let moved = engine.extract(&self.container_id, "/tmp", body).await;
                let restored = match moved {
                    Ok(()) => mssql::restore(engine, &self.container_id, user, database, &file).await,
                    Err(e) => Err(e),
                };
                mssql::remove(engine, &self.container_id, &file).await;
                restored.map_err(RestoreError::from)
            }
        };
        let decompressed = decompressed.await.map_err(|e| RestoreError::Decompress(e.to_string()))?;
        applied?;
        decompressed
    }

    /// Empties `mount`'s directory through its parent, then fills it with the
    /// tar `body` (whose entries are named `name/…`), in a helper container.
    async fn through_helper(
        &self,
        engine: &Engine,
        mount: &HostDir,
        name: &str,
        body: impl Stream<Item = Bytes> + Send + 'static,
    ) -> Result<(), RestoreError> {
        let (dir_parent, dir_name) = (parent(&mount.dir), base(&mount.dir));
        let fill = format!("{FILL}/{name}");
        let mounts = [
            HelperMount::Bind { source: dir_parent.to_string(), target: HOST_PARENT.into() },
            match &mount.volume {
                Some(volume) => HelperMount::Volume { name: volume.clone(), target: fill },
                None => HelperMount::Bind { source: mount.dir.clone(), target: fill },
            },
        ];
        let helper = helper_name(&self.container_id);
        // One left by an earlier run cut short goes first.
        engine.remove(&helper).await?;
        let labels = [(RESTORE_LABEL, self.container_id.as_str()), (OWNER_LABEL, self.owner.as_str())];
        engine.create_helper(&helper, &self.image_id, &mounts, &labels).await?;
        let emptied = placeholder(dir_name, true).map_err(RestoreError::from);
        let done = async {
            let emptied = Bytes::from(emptied?);
            engine.extract(&helper, HOST_PARENT, futures::stream::once(async move { emptied })).await?;
            engine.extract(&helper, FILL, body).await?;
            Ok::<(), RestoreError>(())
        }
        .await;
        if let Err(e) = engine.remove(&helper).await {
            tracing::warn!(helper, error = %e, "cannot remove the helper container; `wharf doctor --fix` will");
        }
        done
    }
}

/// The label on a restore's helper containers: the id of the container restored into.
pub const RESTORE_LABEL: &str = "wharf.restore";
/// The label that names the journal lock of the restore a helper belongs to.
pub const OWNER_LABEL: &str = "wharf.owner";

/// The helper container's name for a restore into container `id`.
pub fn helper_name(id: &str) -> String {
    format!("wharf-restore-{}", &id[..id.len().min(12)])
}

/// How a dump of `preset` goes in: the snapshot's own database (its
/// manifest says which, else the profile's), as the user the profile, else
/// the image, names.
fn dump_method(
    preset: Preset,
    settings: &DumpSettings,
    manifest: &Manifest,
    container: &ContainerDetail,
) -> Result<Method, RestoreError> {
    Ok(match preset {
        Preset::Postgres | Preset::Mysql => {
            let user = databases::user_for(preset, settings.user.as_deref(), container);
            let named = manifest.database.as_deref().or(settings.database.as_deref());
            let database = databases::database_for(preset, named, &user, Some(container));
            Method::Dump {
                preset,
                restore: databases::restore_command(preset, &user, &database),
                dump: databases::for_chunks(databases::dump_command(preset, &user, &database)),
                database: Some(database),
            }
        }
        Preset::Mssql => Method::Mssql {
            user: settings.user.clone().unwrap_or_else(|| "sa".into()),
            database: settings.database.clone().unwrap_or_else(|| "master".into()),
        },
        Preset::Custom => {
            let restore =
                settings.restore_command.clone().filter(|c| !c.is_empty()).ok_or(RestoreError::NoCommand)?;
            let dump = settings.backup_command.clone().filter(|c| !c.is_empty()).ok_or_else(|| {
                RestoreError::Refused(
                    "a custom restore keeps a safety copy first, made with database.backup_command: set it in \
                     wharf.toml"
                        .into(),
                )
            })?;
            Method::Dump { preset, restore, dump, database: None }
        }
        Preset::Path => return Err(RestoreError::NoPath),
    })
}

/// The host directory behind `path` when `path` is itself a mount point;
/// refuses mounts that cannot be replaced whole.
async fn host_dir(
    engine: &Engine,
    container: &ContainerDetail,
    path: &str,
) -> Result<Option<HostDir>, RestoreError> {
    let refuse = |why: String| Err(RestoreError::Refused(why));
    for m in &container.mounts {
        let destination = m.destination.trim_end_matches('/');
        if destination.starts_with(&format!("{path}/")) {
            return refuse(format!(
                "{destination} is a separate {} mounted inside {path}: a restore of {path} cannot replace it; \
                 keep the data in one volume, or restore the paths one by one",
                m.kind
            ));
        }
    }
    let Some(m) = container.mounts.iter().find(|m| m.destination.trim_end_matches('/') == path) else {
        return Ok(None);
    };
    let mount = match m.kind.as_str() {
        "bind" => HostDir { kind: "bind".into(), volume: None, dir: m.source.clone() },
        "volume" => {
            let name = m.name.clone().unwrap_or_default();
            let volume = engine.volume(&name).await?;
            let bind_device = volume.options.get("o").is_some_and(|o| o.split(',').any(|x| x == "bind"));
            let dir = match (volume.driver.as_str(), volume.options.is_empty()) {
                ("local", true) => volume.mountpoint.clone(),
                ("local", false) if bind_device => volume.options.get("device").cloned().unwrap_or_default(),
                (driver, _) => {
                    return refuse(format!(
                        "{path} is volume `{name}` (driver {driver}{}); wharf replaces only local volumes and bind \
                         mounts whole; use a dump preset for this database instead",
                        if volume.options.is_empty() { String::new() } else { ", with mount options".into() }
                    ));
                }
            };
            HostDir { kind: "volume".into(), volume: Some(name), dir }
        }
        other => {
            return refuse(format!(
                "{path} is a {other} mount of `{}`: nothing restored there would outlive the container",
                container.name
            ));
        }
    };
    if mount.dir.trim_end_matches('/').is_empty() || !mount.dir.starts_with('/') {
        return refuse(format!("{path} is mounted from `{}`, which wharf cannot replace", mount.dir));
    }
    let users = engine.running_users(&mount.dir, &container.id).await?;
    if !users.is_empty() {
        return refuse(format!(
            "{path} ({}) is also used by running container{} {}: stop {} first",
            mount
                .volume
                .as_ref()
                .map_or_else(|| format!("bind mount of {}", mount.dir), |v| format!("volume {v}")),
            if users.len() == 1 { "" } else { "s" },
            users.join(", "),
            if users.len() == 1 { "it" } else { "them" },
        ));
    }
    Ok(Some(mount))
}

/// `path` without a trailing `/`; refuses relative paths and `/` itself.
fn normalise(path: &str) -> Result<String, RestoreError> {
    let trimmed = path.trim_end_matches('/');
    if !path.starts_with('/') || trimmed.is_empty() {
        return Err(RestoreError::Refused(format!(
            "cannot restore into `{path}`: give an absolute directory other than /"
        )));
    }
    Ok(trimmed.to_string())
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn parent(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((p, _)) => p,
    }
}

/// Tar entries, without the archive's end marker, that replace whatever is at
/// `name` with an empty file (and, with `then_dir`, that file with an empty directory).
fn placeholder(name: &str, then_dir: bool) -> Result<Vec<u8>, std::io::Error> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut file = tar::Header::new_gnu();
    file.set_entry_type(tar::EntryType::Regular);
    file.set_size(0);
    file.set_mode(0o600);
    builder.append_data(&mut file, name, std::io::empty())?;
    if then_dir {
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_size(0);
        dir.set_mode(0o755);
        builder.append_data(&mut dir, name, std::io::empty())?;
    }
    let mut bytes = builder.into_inner()?;
    // `into_inner` ends the archive with two zero blocks; these entries go in
    // front of others, so the end marker comes off.
    bytes.truncate(bytes.len().saturating_sub(1024));
    Ok(bytes)
}

/// The decompressed data of `snapshot` as a stream, and the task decompressing it.
#[allow(clippy::type_complexity)]
fn unpack(
    snapshot: &LocalSnapshot,
    progress: impl Fn(u64) + Send + Sync + 'static,
) -> Result<
    (impl Stream<Item = Bytes> + Send + 'static, tokio::task::JoinHandle<Result<(), RestoreError>>),
    RestoreError,
> {
    let file = snapshot.compressed()?;
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    let plain = snapshot.manifest.compression == "none";
    let decompressing =
        tokio::task::spawn_blocking(move || if plain { pass_on(file, tx) } else { decompress(file, tx) });
    let mut done = 0u64;
    let body = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) }).map(
        move |chunk| {
            done += chunk.len() as u64;
            progress(done);
            chunk
        },
    );
    Ok((body, decompressing))
}

/// Streams `input` as it is into `tx` (a snapshot stored uncompressed).
fn pass_on(mut input: impl Read, tx: mpsc::Sender<Bytes>) -> Result<(), RestoreError> {
    loop {
        let mut buffer = vec![0; 256 << 10];
        let n = input.read(&mut buffer)?;
        if n == 0 {
            return Ok(());
        }
        buffer.truncate(n);
        if tx.blocking_send(Bytes::from(buffer)).is_err() {
            return Ok(());
        }
    }
}

/// Streams the decompressed `input` into `tx`, a chunk at a time.
pub(super) fn decompress(input: impl Read, tx: mpsc::Sender<Bytes>) -> Result<(), RestoreError> {
    let mut decoder =
        zstd::stream::read::Decoder::new(input).map_err(|e| RestoreError::Decompress(e.to_string()))?;
    loop {
        let mut buffer = vec![0; 256 << 10];
        let n = decoder.read(&mut buffer).map_err(|e| RestoreError::Decompress(e.to_string()))?;
        if n == 0 {
            return Ok(());
        }
        buffer.truncate(n);
        if tx.blocking_send(Bytes::from(buffer)).is_err() {
            return Ok(()); // The reader stopped; its own error says why.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_as_the_archive_api_needs() {
        assert_eq!((parent("/data"), base("/data")), ("/", "data"));
        assert_eq!((parent("/var/lib/pg/data"), base("/var/lib/pg/data")), ("/var/lib/pg", "data"));
        assert_eq!(normalise("/data/").unwrap(), "/data");
        assert!(normalise("/").is_err());
        assert!(normalise("data").is_err());
    }

    #[test]
    fn the_placeholder_has_no_end_marker() {
        let one = placeholder("data", false).unwrap();
        assert_eq!(one.len(), 512, "one header, no data blocks, no end marker");
        let two = placeholder("_data", true).unwrap();
        assert_eq!(two.len(), 1024);
        let mut archive = tar::Archive::new(&two[..]);
        let kinds: Vec<_> = archive.entries().unwrap().map(|e| e.unwrap().header().entry_type()).collect();
        assert_eq!(kinds, [tar::EntryType::Regular, tar::EntryType::Directory]);
    }
}
