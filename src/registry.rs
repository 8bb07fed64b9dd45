//! The registry's own answer about what it holds: a `HEAD` of a manifest gives
//! its `Docker-Content-Digest`. Works for ECR and any registry (distribution API).

use base64::Engine as _;
use http_body_util::Empty;

/// Manifest types a pushed image may have; the registry answers with the one it holds.
const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.index.v1+json";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("the registry at {0} refused the credentials")]
    Unauthorized(String),
    #[error("the registry has no {0}")]
    NotFound(String),
    #[error("cannot reach the registry at {host}: {message}")]
    Unreachable { host: String, message: String },
    #[error("the registry answered {0}")]
    Other(String),
}

/// `http` for registries on this machine (as the engine allows), else
/// `https`: the ECR token never goes over plain HTTP to another machine.
pub fn base_url(host: &str) -> String {
    format!("{}://{host}", if crate::net::is_loopback(host) { "http" } else { "https" })
}

/// The digest the registry at `host` serves for `repository:tag`.
pub async fn manifest_digest(
    host: &str,
    repository: &str,
    tag: &str,
    username: &str,
    password: &str,
) -> Result<String, RegistryError> {
    let unreachable = |m: String| RegistryError::Unreachable { host: host.to_string(), message: m };
    let client = crate::net::https_client().map_err(unreachable)?;
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let request = hyper::Request::head(format!("{}/v2/{repository}/manifests/{tag}", base_url(host)))
        .header(hyper::header::ACCEPT, ACCEPT)
        .header(hyper::header::AUTHORIZATION, format!("Basic {credentials}"))
        .body(Empty::new())
        .map_err(|e| RegistryError::Other(e.to_string()))?;
    let response = tokio::time::timeout(std::time::Duration::from_secs(30), client.request(request))
        .await
        .map_err(|_| unreachable("no answer in 30 s".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    match response.status().as_u16() {
        200 => response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| RegistryError::Other("200 without a Docker-Content-Digest header".into())),
        401 | 403 => Err(RegistryError::Unauthorized(host.to_string())),
        404 => Err(RegistryError::NotFound(format!("{repository}:{tag}"))),
        other => Err(RegistryError::Other(other.to_string())),
    }
}
