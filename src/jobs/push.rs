//! Push: a local image to an ECR repository, with per-layer progress, and the
//! pushed digest confirmed by the registry itself.

use futures::StreamExt;
use serde_json::json;

use super::layers::{Layers, Refusal};
use super::{JobContext, JobError, JobOutput, NoAws, Progress};
use crate::aws::{AwsClients, AwsError, ecr};
use crate::config::{RegistryOverride, registry_host};
use crate::docker::{DockerError, Engine, RegistryLogin};
use crate::registry;

/// Push `image` (a local `repository:tag` or id) to the ECR `repository` as `tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushJob {
    pub image: String,
    pub repository: String,
    pub tag: String,
    /// Push to this registry host instead of the one in the repository URI.
    pub registry: Option<RegistryOverride>,
    pub docker_host: Option<String>,
    /// Create the repository first when it does not exist (the user said yes to that).
    pub create_repository: bool,
}

/// Why a push failed, in words that say what to do.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("no ECR repository `{0}`; create it first")]
    NoRepository(String),
    #[error("ECR: {0}")]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("the registry refused the push: {0} (check the ECR permissions of these credentials)")]
    Denied(String),
    #[error("the registry rejected the push: {0}")]
    Rejected(String),
    #[error("cannot reach the registry: {0}")]
    Unreachable(String),
    #[error("the engine finished without reporting a digest; nothing is known to be pushed")]
    NoDigest,
    #[error("the registry holds {registry} for {reference}, not the pushed {pushed}")]
    DigestMismatch { reference: String, pushed: String, registry: String },
    #[error("cannot confirm the push: {0}")]
    Registry(#[from] registry::RegistryError),
    #[error(transparent)]
    InTheClear(#[from] crate::docker::InTheClear),
    #[error(transparent)]
    Untrusted(#[from] crate::config::UntrustedRegistry),
}

impl PushJob {
    pub async fn run(self, ctx: JobContext, aws: Option<AwsClients>) -> Result<JobOutput, JobError> {
        let aws = aws.ok_or(NoAws)?;
        // The engine is handed the registry's credentials: never across a network in the clear.
        crate::docker::may_take_credentials(self.docker_host.as_deref()).map_err(PushError::from)?;
        ctx.progress(Progress::stage("looking up the repository"));
        let repository = match ecr::repository(&aws.ecr, &self.repository).await {
            Ok(r) => r,
            Err(AwsError::NotFound(_)) if self.create_repository => {
                ctx.progress(Progress::stage(format!("creating ECR repository {}", self.repository)));
                ecr::create_repository(&aws.ecr, &self.repository).await?
            }
            Err(AwsError::NotFound(_)) => return Err(PushError::NoRepository(self.repository.clone()).into()),
            Err(e) => return Err(PushError::Aws(e).into()),
        };
        let (uri_host, path) = repository.uri.split_once('/').unwrap_or((&repository.uri, &repository.name));
        // Where the token may go is settled before it is asked for.
        let host = registry_host(self.registry.as_ref(), uri_host).map_err(PushError::from)?;
        let target = format!("{host}/{path}");
        ctx.progress(Progress::stage("asking ECR for a token"));
        let auth = aws.ecr_tokens.get(&aws.ecr, crate::time::unix_now()).await?;

        let engine = Engine::connect(self.docker_host.as_deref()).await?;
        engine.tag(&self.image, &target, &self.tag).await?;
        let login = RegistryLogin {
            username: auth.username.clone(),
            password: auth.password.clone(),
            server: host.clone(),
        };
        let mut events = Box::pin(engine.push(&target, &self.tag, &login).await?);
        let mut layers = Layers::default();
        let mut digest = None;
        while let Some(event) = events.next().await {
            let event = event?;
            if let Some(error) = event.error {
                return Err(match Refusal::of(error) {
                    Refusal::Denied(e) => PushError::Denied(e),
                    Refusal::Unreachable(e) => PushError::Unreachable(e),
                    Refusal::Other(e) => PushError::Rejected(e),
                }
                .into());
            }
            if event.digest.is_some() {
                digest = event.digest.clone();
            }
            if layers.update(&event, &self.tag) {
                ctx.progress(layers.progress("pushing"));
            }
        }
        let pushed = digest.ok_or(PushError::NoDigest)?;
        ctx.progress(Progress::stage("confirming the digest with the registry"));
        let served =
            registry::manifest_digest(&host, path, &self.tag, &auth.username, &auth.password).await?;
        if served != pushed {
            return Err(PushError::DigestMismatch {
                reference: format!("{target}:{}", self.tag),
                pushed,
                registry: served,
            }
            .into());
        }
        let image_uri = format!("{}@{pushed}", repository.uri);
        Ok(JobOutput {
            attention: None,
            summary: format!("{target}:{} @ {pushed}", self.tag),
            copy: Some(image_uri.clone()),
            json: json!({
                "repository": repository.name,
                "tag": self.tag,
                "digest": pushed,
                "image_uri": image_uri,
            }),
        })
    }
}
