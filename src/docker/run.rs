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

    /// Creates (not starts) `name` as the container `old` is, on `image`
    /// instead: what `docker run` was told for it — environment, command,
    /// labels, published ports, restart policy, mounts, resources, networks
    /// and their aliases — kept, and what only came from its old image left
    /// for the new image to say. Its id.
    pub async fn create_like(&self, old: &str, name: &str, image: &str) -> Result<String, DockerError> {
        let was = self.docker.inspect_container(old, None).await.map_err(|e| self.not_found_or(e, old))?;
        let config = was.config.clone().unwrap_or_default();
        // What the old image said itself (gone with it: then everything counts as the user's).
        let own = match was.image.as_deref() {
            Some(id) => self.docker.inspect_image(id).await.ok().and_then(|i| i.config).unwrap_or_default(),
            None => Default::default(),
        };
        let given = |mine: &Option<Vec<String>>, images: &Option<Vec<String>>| {
            mine.clone().filter(|m| Some(m) != images.as_ref() && !m.is_empty())
        };
        let env: Vec<String> = config
            .env
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|kv| !own.env.as_ref().is_some_and(|e| e.contains(kv)))
            .collect();
        let labels: HashMap<String, String> = config
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, v)| own.labels.as_ref().and_then(|l| l.get(k)) != Some(v))
            .collect();
        let differs = |mine: &Option<String>, images: &Option<String>| {
            mine.clone().filter(|m| !m.is_empty() && Some(m) != images.as_ref())
        };
        let short_id = was.id.as_deref().map(|id| id[..id.len().min(12)].to_string());
        let networks = was.network_settings.and_then(|n| n.networks).unwrap_or_default();
        let host_config = was.host_config.clone().unwrap_or_default();
        // The default network is `bridge` in the container's list of networks.
        let mode = match host_config.network_mode.clone().unwrap_or_default() {
            m if m.is_empty() || m == "default" => "bridge".to_string(),
            m => m,
        };
        // The endpoint as it was asked for: aliases (not the ones the engine adds itself) and a fixed address.
        let endpoint = |e: &bollard::models::EndpointSettings| bollard::models::EndpointSettings {
            aliases: e.aliases.clone().map(|a| {
                a.into_iter()
                    .filter(|x| {
                        Some(x) != short_id.as_ref()
                            && x != was.name.as_deref().unwrap_or_default().trim_start_matches('/')
                    })
                    .collect()
            }),
            ipam_config: e.ipam_config.clone(),
            links: e.links.clone(),
            driver_opts: e.driver_opts.clone(),
            ..Default::default()
        };
        let first = networks.get(&mode).map(|e| HashMap::from([(mode.clone(), endpoint(e))]));
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            hostname: differs(&config.hostname, &short_id),
            domainname: config.domainname.clone(),
            user: differs(&config.user, &own.user),
            working_dir: differs(&config.working_dir, &own.working_dir),
            env: (!env.is_empty()).then_some(env),
            cmd: given(&config.cmd, &own.cmd),
            entrypoint: given(&config.entrypoint, &own.entrypoint),
            labels: Some(labels),
            exposed_ports: config.exposed_ports.clone(),
            tty: config.tty,
            open_stdin: config.open_stdin,
            stop_signal: differs(&config.stop_signal, &own.stop_signal),
            stop_timeout: config.stop_timeout,
            healthcheck: config.healthcheck.clone().filter(|h| Some(h) != own.healthcheck.as_ref()),
            host_config: Some(host_config),
            networking_config: first
                .map(|endpoints| bollard::models::NetworkingConfig { endpoints_config: Some(endpoints) }),
            ..Default::default()
        };
        let options = CreateContainerOptions { name: Some(name.to_string()), platform: String::new() };
        let id = self.docker.create_container(Some(options), body).await.map_err(|e| self.error(e))?.id;
        // The engine joins one network at creation (API 1.41): the others now.
        for (network, e) in networks.iter().filter(|(n, _)| **n != mode) {
            let request = bollard::models::NetworkConnectRequest {
                container: id.clone(),
                endpoint_config: Some(endpoint(e)),
            };
            if let Err(e) = self.docker.connect_network(network, request).await {
                let _ = self.remove(&id).await;
                return Err(self.error(e));
            }
        }
        Ok(id)
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
