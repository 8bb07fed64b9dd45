//! The local Docker Engine through bollard. Everything here returns wharf's own
//! types; no bollard type travels past this module.

mod archive;
mod container;
mod exec;
mod run;
pub mod stats;
mod transfer;
mod watch;

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::ContainerConfig;
use bollard::query_parameters::{
    CommitContainerOptions, EventsOptions, ListContainersOptions, ListImagesOptions,
};
use futures::{Stream, StreamExt};

pub use crate::model::images::{ContainerInfo, ImageInfo};
pub use container::{ContainerDetail, HELPER_LABEL, HelperMount, MountInfo, VolumeInfo};
pub use exec::Attached;
pub use run::{ImageDetail, RunSpec};
pub use transfer::{RegistryLogin, TransferEvent};
pub use watch::{EngineUpdate, watch_engine};

/// The default endpoint when neither `--docker-host` nor `DOCKER_HOST` says otherwise.
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

/// How long one engine request may take before it counts as unreachable.
const REQUEST_TIMEOUT_SECS: u64 = 30;
/// How long a commit (bake) may take.
const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Something the engine could not do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerError {
    #[error("Docker engine unreachable at {endpoint}: {message}")]
    Unreachable { endpoint: String, message: String },
    #[error("no such container `{0}`")]
    NoSuchContainer(String),
    #[error("container `{0}` is not running; start it first")]
    NotRunning(String),
    #[error("{command} exited with {code}{}", if stderr.is_empty() { String::new() } else { format!(": {stderr}") })]
    Command { command: String, code: i64, stderr: String },
    #[error("no local image `{0}`")]
    NoSuchImage(String),
    #[error("invalid image reference `{reference}`: {reason}")]
    BadReference { reference: String, reason: String },
    #[error("the Docker engine refused: {0}")]
    Engine(String),
}

impl DockerError {
    /// The error without the endpoint, for where the endpoint is already shown.
    pub fn detail(&self) -> String {
        match self {
            DockerError::Unreachable { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// A connection to one Docker Engine, its API version negotiated.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    endpoint: String,
}

impl Engine {
    /// Connects to `host` (`unix:///path`, `tcp://host:port`, `http://…`), else
    /// to `DOCKER_HOST`, else to the local socket, and negotiates the API version
    /// (engines here speak 1.41, older than bollard's default).
    pub async fn connect(host: Option<&str>) -> Result<Engine, DockerError> {
        let endpoint = endpoint(host);
        let unreachable = |e: bollard::errors::Error| DockerError::Unreachable {
            endpoint: endpoint.clone(),
            message: crate::error::one_line(&e),
        };
        let tls = tls_verify();
        let docker = if let Some(path) = endpoint.strip_prefix("unix://") {
            Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        } else if (endpoint.starts_with("tcp://") || endpoint.starts_with("https://")) && tls {
            // As the docker CLI: DOCKER_TLS_VERIFY, with the keys in DOCKER_CERT_PATH (else ~/.docker).
            let certs = cert_path();
            let files = ["key.pem", "cert.pem", "ca.pem"].map(|f| certs.join(f));
            if let Some(missing) = files.iter().find(|f| !f.is_file()) {
                return Err(DockerError::Unreachable {
                    endpoint: endpoint.clone(),
                    message: format!(
                        "DOCKER_TLS_VERIFY is set, and {} is missing (set DOCKER_CERT_PATH to where key.pem, cert.pem and ca.pem are)",
                        missing.display()
                    ),
                });
            }
            let [key, cert, ca] = &files;
            Docker::connect_with_ssl(&endpoint, key, cert, ca, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
            Docker::connect_with_http(&endpoint, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(DockerError::Unreachable {
                endpoint: endpoint.clone(),
                message: "unsupported scheme; use unix:///path/to/docker.sock or tcp://host:port".into(),
            });
        }
        .map_err(unreachable)?;
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        Ok(Engine { docker, endpoint })
    }

    /// The endpoint as the user would write it.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The engine's own id: the same whichever endpoint reaches it.
    pub async fn id(&self) -> Result<String, DockerError> {
        let info = self.docker.info().await.map_err(|e| self.error(e))?;
        Ok(info.id.filter(|id| !id.is_empty()).unwrap_or_else(|| self.endpoint.clone()))
    }

    /// The API version agreed with the engine, e.g. `1.41`.
    pub fn api_version(&self) -> String {
        self.docker.client_version().to_string()
    }

    /// Local images, newest first, one row per tag.
    pub async fn images(&self) -> Result<Vec<ImageInfo>, DockerError> {
        let summaries =
            self.docker.list_images(Some(ListImagesOptions::default())).await.map_err(|e| self.error(e))?;
        let mut images = Vec::new();
        for s in summaries {
            let size = u64::try_from(s.size).unwrap_or(0);
            let tags: Vec<&String> = s.repo_tags.iter().filter(|t| t.as_str() != "<none>:<none>").collect();
            let mut digests: Vec<String> = s
                .repo_digests
                .iter()
                .filter_map(|d| d.rsplit_once('@'))
                .map(|(_, d)| d.to_string())
                .collect();
            digests.sort();
            digests.dedup();
            if tags.is_empty() {
                images.push(ImageInfo {
                    repository: "<none>".into(),
                    tag: "<none>".into(),
                    id: s.id.clone(),
                    size,
                    created: s.created,
                    digests: digests.clone(),
                });
            }
            for reference in tags {
                let (repository, tag) = split_reference(reference);
                let digests = digests.clone();
                images.push(ImageInfo {
                    repository,
                    tag,
                    id: s.id.clone(),
                    size,
                    created: s.created,
                    digests,
                });
            }
        }
        images.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.reference().cmp(&b.reference())));
        Ok(images)
    }

    /// Every local container, running or not, newest first.
    pub async fn containers(&self) -> Result<Vec<ContainerInfo>, DockerError> {
        let options = ListContainersOptions { all: true, ..Default::default() };
        let summaries = self.docker.list_containers(Some(options)).await.map_err(|e| self.error(e))?;
        Ok(summaries
            .into_iter()
            .map(|c| ContainerInfo {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                image: c.image.unwrap_or_default(),
                image_id: c.image_id.unwrap_or_default(),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                status: c.status.unwrap_or_default(),
            })
            .collect())
    }

    /// Commits `container` to a new image `reference` (`repository:tag`) and
    /// returns the new image's id.
    pub async fn commit(&self, container: &str, reference: &str) -> Result<String, DockerError> {
        let (repository, tag) = parse_reference(reference)?;
        let options = CommitContainerOptions {
            container: Some(container.to_string()),
            repo: Some(repository),
            tag: Some(tag),
            comment: Some("baked by wharf".into()),
            pause: true,
            ..Default::default()
        };
        // A commit answers when it is done: a large one takes longer than the usual request timeout.
        let docker = self.docker.clone().with_timeout(COMMIT_TIMEOUT);
        match docker.commit_container(options, ContainerConfig::default()).await {
            Ok(r) => Ok(r.id),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                Err(DockerError::NoSuchContainer(container.to_string()))
            }
            Err(e) => Err(self.error(e)),
        }
    }

    /// Gives the local image `source` the additional name `repository:tag`.
    pub async fn tag(&self, source: &str, repository: &str, tag: &str) -> Result<(), DockerError> {
        let options = bollard::query_parameters::TagImageOptions {
            repo: Some(repository.into()),
            tag: Some(tag.into()),
        };
        match self.docker.tag_image(source, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                Err(DockerError::NoSuchImage(source.to_string()))
            }
            Err(e) => Err(self.error(e)),
        }
    }

    /// Takes the name `reference` off its image; the image itself goes when
    /// that was its last name and no container uses it (the engine refuses
    /// otherwise, and nothing changes). One already gone is fine.
    pub async fn untag(&self, reference: &str) -> Result<(), DockerError> {
        let options = bollard::query_parameters::RemoveImageOptions::default();
        match self.docker.remove_image(reference, Some(options), None).await {
            Ok(_) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Image and container events since `since` (Unix seconds), as the engine
    /// reports them; the stream ends or fails when the engine goes away. The
    /// request is only sent when the stream is first polled, so `since` is what
    /// makes sure no event between asking and listing is missed.
    pub fn changes(&self, since: i64) -> impl Stream<Item = Result<(), DockerError>> + use<> {
        let filters =
            HashMap::from([("type".to_string(), vec!["image".to_string(), "container".to_string()])]);
        let options =
            EventsOptions { filters: Some(filters), since: Some(since.to_string()), ..Default::default() };
        let endpoint = self.endpoint.clone();
        self.docker.events(Some(options)).filter_map(move |event| {
            let endpoint = endpoint.clone();
            async move {
                match event {
                    // exec_* and health events change nothing the panes show.
                    Ok(e) => {
                        let action = e.action.unwrap_or_default();
                        (!action.starts_with("exec_") && !action.starts_with("health_status"))
                            .then_some(Ok(()))
                    }
                    Err(e) => {
                        Some(Err(DockerError::Unreachable { endpoint, message: crate::error::one_line(&e) }))
                    }
                }
            }
        })
    }

    fn error(&self, e: bollard::errors::Error) -> DockerError {
        match e {
            bollard::errors::Error::DockerResponseServerError { message, .. } => DockerError::Engine(message),
            other => DockerError::Unreachable {
                endpoint: self.endpoint.clone(),
                message: crate::error::one_line(&other),
            },
        }
    }
}

/// An engine registry credentials are not handed to.
#[derive(Debug, thiserror::Error)]
#[error(
    "the Docker engine at {0} is reached over plain TCP: wharf does not hand it the registry's credentials; \
     use TLS (DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH) or an SSH tunnel (ssh -L) to its socket"
)]
pub struct InTheClear(pub String);

/// Refuses, before a push or a pull, an engine that would get the registry's
/// credentials across a network in the clear.
pub fn may_take_credentials(host: Option<&str>) -> Result<(), InTheClear> {
    if in_the_clear(host) { Err(InTheClear(endpoint(host))) } else { Ok(()) }
}

/// Whether what is sent to the engine at `host` (flag or `DOCKER_HOST`)
/// crosses a network in the clear: plain TCP (no `DOCKER_TLS_VERIFY`) to
/// another machine. Registry credentials are never handed over so.
fn in_the_clear(host: Option<&str>) -> bool {
    let endpoint = endpoint(host);
    let address = endpoint.strip_prefix("tcp://").or_else(|| endpoint.strip_prefix("http://"));
    match address {
        Some(_) if endpoint.starts_with("tcp://") && tls_verify() => false,
        Some(address) => !crate::net::is_loopback(address.split('/').next().unwrap_or(address)),
        None => false,
    }
}

/// Whether the engine at `host` runs on this machine (a socket, or TCP to a
/// loopback address): what it publishes on 127.0.0.1 is this machine's.
pub fn on_this_machine(host: Option<&str>) -> bool {
    let endpoint = endpoint(host);
    if endpoint.starts_with("unix://") {
        return true;
    }
    let address = ["tcp://", "http://", "https://"].iter().find_map(|s| endpoint.strip_prefix(s));
    address.is_some_and(|a| crate::net::is_loopback(a.split('/').next().unwrap_or(a)))
}

/// `DOCKER_TLS_VERIFY` set to anything but empty or `0`.
fn tls_verify() -> bool {
    std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Where the engine's TLS keys are: `DOCKER_CERT_PATH`, else `~/.docker`.
fn cert_path() -> std::path::PathBuf {
    match std::env::var_os("DOCKER_CERT_PATH").filter(|p| !p.is_empty()) {
        Some(path) => path.into(),
        None => {
            directories::BaseDirs::new().map_or_else(|| ".docker".into(), |d| d.home_dir().join(".docker"))
        }
    }
}

/// The endpoint wharf will use for `host` (flag or `DOCKER_HOST`, already merged by the caller).
pub fn endpoint(host: Option<&str>) -> String {
    match host {
        Some(h) if !h.is_empty() => h.to_string(),
        _ => DEFAULT_ENDPOINT.to_string(),
    }
}

/// Splits `repo[:port]/name:tag`; a missing tag is `latest`.
pub fn split_reference(reference: &str) -> (String, String) {
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (reference.to_string(), "latest".to_string()),
    }
}

/// Checks and splits a reference the user typed for a new image.
pub fn parse_reference(reference: &str) -> Result<(String, String), DockerError> {
    let bad = |reason: &str| DockerError::BadReference {
        reference: reference.to_string(),
        reason: reason.to_string(),
    };
    if reference.trim().is_empty() {
        return Err(bad("it is empty"));
    }
    if reference.contains('@') {
        return Err(bad("a digest cannot be given to a new image; use repository:tag"));
    }
    let (repository, tag) = split_reference(reference);
    let repo_ok = repository.split('/').all(|part| {
        !part.is_empty()
            && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-:".contains(c))
    });
    if !repo_ok {
        return Err(bad("the repository must be lowercase letters, digits, '.', '_', '-' and '/'"));
    }
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !tag.starts_with(['.', '-']);
    if !tag_ok {
        return Err(bad(
            "the tag must be letters, digits, '.', '_' or '-' (at most 128, not starting with '.' or '-')",
        ));
    }
    Ok((repository, tag))
}
