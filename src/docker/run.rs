//! Images as a pull and a run see them, and the database container a run
//! creates: its data on a named volume, its ports on 127.0.0.1 only.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, PortBinding};
use bollard::query_parameters::{CreateContainerOptions, RenameContainerOptions};

use super::{DockerError, Engine};

/// The label on containers and volumes `wharf run` created.
const RUN_LABEL: &str = "wharf.run";

/// A local image, as a pull checks it and a run starts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageDetail {
    /// `sha256:…`
    pub id: String,
    /// `host/path@sha256:…`, one per registry it was pulled from or pushed to.
    pub repo_digests: Vec<String>,
    /// `5432/tcp`
    pub exposed_ports: Vec<String>,
}

impl ImageDetail {
    /// Whether the image is the manifest `digest` in some repository.
    pub fn is(&self, digest: &str) -> bool {
        self.repo_digests.iter().any(|r| r.rsplit('@').next() == Some(digest))
    }
}

/// The database container a run creates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSpec {
    pub name: String,
    pub image: String,
    /// The named volume, mounted at `path`…
    pub volume: String,
    /// …or this directory of the engine's host, bound there instead.
    pub bind: Option<String>,
    pub path: String,
    /// `(host port, container port, protocol)`, published on 127.0.0.1;
    /// a host port of 0 lets the engine pick one.
    pub ports: Vec<(u16, u16, String)>,
    /// `NAME=value`, over the image's own.
    pub environment: Vec<String>,
    pub entry_point: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
}

impl Engine {
    /// The local image `reference` (a name, `name@digest` or id); `None` when there is none.
    pub async fn image(&self, reference: &str) -> Result<Option<ImageDetail>, DockerError> {
        match self.docker.inspect_image(reference).await {
            Ok(i) => Ok(Some(ImageDetail {
                id: i.id.unwrap_or_default(),
                repo_digests: i.repo_digests.unwrap_or_default(),
                exposed_ports: i
                    .config
                    .and_then(|c| c.exposed_ports)
                    .map(|p| p.into_iter().collect())
                    .unwrap_or_default(),
            })),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Whether the named volume `name` exists.
    pub async fn volume_exists(&self, name: &str) -> Result<bool, DockerError> {
        match self.docker.inspect_volume(name).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(false),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Creates the named volume `name` (an existing one is kept as it is).
    pub async fn create_volume(&self, name: &str) -> Result<(), DockerError> {
        let options = bollard::models::VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(HashMap::from([(RUN_LABEL.to_string(), "1".to_string())])),
            ..Default::default()
        };
        self.docker.create_volume(options).await.map(|_| ()).map_err(|e| self.error(e))
    }

    /// Removes the named volume `name`; one that is already gone is fine.
    pub async fn remove_volume(&self, name: &str) -> Result<(), DockerError> {
        match self.docker.remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                Ok(())
            }
            Err(e) => Err(self.error(e)),
        }
    }

    /// Creates (not starts) the container `spec` describes; its id.
    pub async fn create_database(&self, spec: &RunSpec) -> Result<String, DockerError> {
        let mount = Mount {
            typ: Some(if spec.bind.is_some() { MountType::BIND } else { MountType::VOLUME }),
            source: Some(spec.bind.clone().unwrap_or_else(|| spec.volume.clone())),
            target: Some(spec.path.clone()),
            ..Default::default()
        };
        let key = |(_, inside, protocol): &(u16, u16, String)| format!("{inside}/{protocol}");
        let bindings = spec
            .ports
            .iter()
            .map(|p| {
                let binding = PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(if p.0 == 0 { String::new() } else { p.0.to_string() }),
                };
                (key(p), Some(vec![binding]))
            })
            .collect();
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            env: (!spec.environment.is_empty()).then(|| spec.environment.clone()),
            entrypoint: spec.entry_point.clone(),
            cmd: spec.command.clone(),
            exposed_ports: Some(spec.ports.iter().map(key).collect()),
            labels: Some(HashMap::from([(RUN_LABEL.to_string(), "1".to_string())])),
            host_config: Some(HostConfig {
                mounts: Some(vec![mount]),
                port_bindings: Some(bindings),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions { name: Some(spec.name.clone()), platform: String::new() };
        self.docker.create_container(Some(options), body).await.map(|r| r.id).map_err(|e| self.error(e))
    }

    /// Renames `container` to `name`.
    pub async fn rename(&self, container: &str, name: &str) -> Result<(), DockerError> {
        let options = RenameContainerOptions { name: name.to_string() };
        self.docker.rename_container(container, options).await.map_err(|e| self.not_found_or(e, container))
    }

    /// The host port the engine published `port` (`5432/tcp`) of `container` on.
    pub async fn published(&self, container: &str, port: &str) -> Result<Option<u16>, DockerError> {
        let c = self
            .docker
            .inspect_container(container, None)
            .await
            .map_err(|e| self.not_found_or(e, container))?;
        Ok(c.network_settings
            .and_then(|n| n.ports)
            .and_then(|p| p.get(port).cloned().flatten())
            .and_then(|b| b.into_iter().find_map(|b| b.host_port?.parse().ok())))
    }
}
