//! Containers as a restore sees them: where their data is mounted from, how to
//! stop and start them, and the helper containers (created, never started)
//! through whose archive API a volume or a bind mount is rewritten.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions, StopContainerOptions,
};
use serde::{Deserialize, Serialize};

use super::{DockerError, Engine};

/// The label every helper container carries, so that leftovers can be found.
pub const HELPER_LABEL: &str = "wharf.helper";

/// How often (every 100 ms) a removal under way is checked for before giving up.
const REMOVAL_POLLS: usize = 300;

/// How long stopping a container may take beyond its own stop timeout.
const STOP_SLACK: Duration = Duration::from_secs(30);

/// A container as a backup or restore needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerDetail {
    pub id: String,
    pub name: String,
    pub running: bool,
    /// How it last ended (0 while it never has).
    pub exit_code: i64,
    /// The image it was created from, as given (`postgres:16`).
    pub image: String,
    /// That image's id, `sha256:…`.
    pub image_id: String,
    /// What is mounted into it, and where.
    pub mounts: Vec<MountInfo>,
    /// Seconds the engine waits after the stop signal (the container's own, else 10).
    pub stop_timeout: i64,
    /// Its configured environment, `NAME=value`.
    pub env: Vec<String>,
}

/// One mount of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountInfo {
    /// `volume`, `bind`, `tmpfs` …
    pub kind: String,
    /// The volume's name, for volumes.
    pub name: Option<String>,
    /// Where it lives on the engine's host (a volume's mount point, a bind's source).
    pub source: String,
    /// Where it appears in the container.
    pub destination: String,
}

/// A named volume as the engine describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    pub name: String,
    pub driver: String,
    /// Its directory on the engine's host.
    pub mountpoint: String,
    pub options: BTreeMap<String, String>,
}

/// A mount of a helper container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelperMount {
    /// A directory of the engine's host.
    Bind { source: String, target: String },
    /// A named volume.
    Volume { name: String, target: String },
}

impl Engine {
    /// Looks `container` up by name or id.
    pub async fn container(&self, container: &str) -> Result<ContainerDetail, DockerError> {
        let c = match self.docker.inspect_container(container, None).await {
            Ok(c) => c,
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                return Err(DockerError::NoSuchContainer(container.to_string()));
            }
            Err(e) => return Err(self.error(e)),
        };
        let config = c.config.unwrap_or_default();
        let mut mounts: Vec<MountInfo> = c.mounts.unwrap_or_default().into_iter().map(mount_info).collect();
        // `--tmpfs` mounts are not among the mounts the engine lists.
        let tmpfs = c.host_config.and_then(|h| h.tmpfs).unwrap_or_default();
        mounts.extend(tmpfs.into_keys().map(|destination| MountInfo {
            kind: "tmpfs".into(),
            name: None,
            source: String::new(),
            destination,
        }));
        Ok(ContainerDetail {
            id: c.id.unwrap_or_default(),
            name: c.name.unwrap_or_default().trim_start_matches('/').to_string(),
            running: c.state.as_ref().and_then(|s| s.running).unwrap_or(false),
            exit_code: c.state.as_ref().and_then(|s| s.exit_code).unwrap_or(0),
            image: config.image.unwrap_or_default(),
            image_id: c.image.unwrap_or_default(),
            mounts,
            stop_timeout: config.stop_timeout.unwrap_or(10),
            env: config.env.unwrap_or_default(),
        })
    }

    /// Stops `container` as `docker stop` does (its stop signal, then SIGKILL
    /// after its stop timeout). Stopping a stopped container is not an error.
    pub async fn stop(&self, container: &ContainerDetail) -> Result<(), DockerError> {
        let seconds = container.stop_timeout.clamp(0, i32::MAX as i64) as i32;
        let options = StopContainerOptions { t: Some(seconds), signal: None };
        let patience = Duration::from_secs(seconds as u64) + STOP_SLACK;
        match self.docker.clone().with_timeout(patience).stop_container(&container.id, Some(options)).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => {
                Ok(())
            }
            Err(e) => Err(self.not_found_or(e, &container.name)),
        }
    }

    /// Starts `container`; starting a running one is not an error.
    pub async fn start(&self, container: &str) -> Result<(), DockerError> {
        match self.docker.start_container(container, None).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => {
                Ok(())
            }
            Err(e) => Err(self.not_found_or(e, container)),
        }
    }

    /// Creates (and never starts) a container from `image` with `mounts`, for
    /// the archive API to reach them. Labelled so that a leftover can be found.
    pub async fn create_helper(
        &self,
        name: &str,
        image: &str,
        mounts: &[HelperMount],
        labels: &[(&str, &str)],
    ) -> Result<String, DockerError> {
        let mounts = mounts
            .iter()
            .map(|m| match m {
                HelperMount::Bind { source, target } => Mount {
                    typ: Some(MountType::BIND),
                    source: Some(source.clone()),
                    target: Some(target.clone()),
                    ..Default::default()
                },
                HelperMount::Volume { name, target } => Mount {
                    typ: Some(MountType::VOLUME),
                    source: Some(name.clone()),
                    target: Some(target.clone()),
                    ..Default::default()
                },
            })
            .collect();
        let mut all: HashMap<String, String> = HashMap::from([(HELPER_LABEL.to_string(), "1".to_string())]);
        all.extend(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            // Never run; a command is given so that images without one can be used.
            cmd: Some(vec!["/wharf-helper-is-never-started".into()]),
            entrypoint: Some(vec![]),
            labels: Some(all),
            network_disabled: Some(true),
            host_config: Some(HostConfig { mounts: Some(mounts), ..Default::default() }),
            ..Default::default()
        };
        let options = CreateContainerOptions { name: Some(name.to_string()), platform: String::new() };
        self.docker.create_container(Some(options), body).await.map(|r| r.id).map_err(|e| self.error(e))
    }

    /// Removes `container` (not its volumes); one that is already gone is fine.
    /// One whose removal is already under way (by a process that died, say) is
    /// waited for until it is gone.
    pub async fn remove(&self, container: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptions { force: true, v: false, link: false };
        match self.docker.remove_container(container, Some(options)).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                Ok(())
            }
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, message })
                if message.contains("already in progress") =>
            {
                for _ in 0..REMOVAL_POLLS {
                    if let Err(DockerError::NoSuchContainer(_)) = self.container(container).await {
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(DockerError::Engine(message))
            }
            Err(e) => Err(self.error(e)),
        }
    }

    /// The named volume `name`.
    pub async fn volume(&self, name: &str) -> Result<VolumeInfo, DockerError> {
        let v = self.docker.inspect_volume(name).await.map_err(|e| self.error(e))?;
        Ok(VolumeInfo {
            name: v.name,
            driver: v.driver,
            mountpoint: v.mountpoint,
            options: v.options.into_iter().collect(),
        })
    }

    /// Names of the running containers other than `except` that mount
    /// something from `source` (a volume's mount point or a bind's source).
    pub async fn running_users(&self, source: &str, except: &str) -> Result<Vec<String>, DockerError> {
        let running = self
            .docker
            .list_containers(Some(ListContainersOptions::default()))
            .await
            .map_err(|e| self.error(e))?;
        Ok(running
            .into_iter()
            .filter(|c| c.id.as_deref() != Some(except))
            .filter(|c| {
                c.mounts.iter().flatten().any(|m| {
                    m.source.as_deref().is_some_and(|s| s == source || s.starts_with(&format!("{source}/")))
                })
            })
            .filter_map(|c| c.names.and_then(|n| n.into_iter().next()))
            .map(|n| n.trim_start_matches('/').to_string())
            .collect())
    }

    /// Every container carrying `label` (`key` or `key=value`): id, name and labels.
    pub async fn labelled(
        &self,
        label: &str,
    ) -> Result<Vec<(String, String, HashMap<String, String>)>, DockerError> {
        let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
        let options = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
        let found = self.docker.list_containers(Some(options)).await.map_err(|e| self.error(e))?;
        Ok(found
            .into_iter()
            .map(|c| {
                let name = c.names.and_then(|n| n.into_iter().next()).unwrap_or_default();
                (
                    c.id.unwrap_or_default(),
                    name.trim_start_matches('/').to_string(),
                    c.labels.unwrap_or_default(),
                )
            })
            .collect())
    }

    pub(super) fn not_found_or(&self, e: bollard::errors::Error, container: &str) -> DockerError {
        match e {
            bollard::errors::Error::DockerResponseServerError { status_code: 404, .. } => {
                DockerError::NoSuchContainer(container.to_string())
            }
            other => self.error(other),
        }
    }
}

fn mount_info(m: bollard::models::MountPoint) -> MountInfo {
    MountInfo {
        kind: m.typ.unwrap_or_default(),
        name: m.name.filter(|n| !n.is_empty()),
        source: m.source.unwrap_or_default(),
        destination: m.destination.unwrap_or_default(),
    }
}
