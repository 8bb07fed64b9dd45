//! Pull: an image from the profile's ECR repository, by digest, with
//! per-layer progress; the pulled image checked against the digest the
//! registry serves, and only then given its tag — a pull cut short leaves no
//! new name behind.

use futures::StreamExt;
use serde_json::json;

use super::layers::{Layers, Refusal};
use super::{JobContext, JobError, JobOutput, NoAws, Progress};
use crate::aws::{AwsClients, AwsError, ecr};
use crate::config::{RegistryOverride, registry_host};
use crate::docker::{DockerError, Engine, RegistryLogin};
use crate::registry;

/// What to pull from a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// A tag, resolved to its digest by the registry first.
    Tag(String),
    /// `sha256:…`
    Digest(String),
}

impl Wanted {
    /// `TAG` or `sha256:…` (after `@` in `REPO@sha256:…`).
    pub fn parse(reference: &str) -> (String, Wanted) {
        if let Some((named, digest)) = reference.split_once('@') {
            // `REPO:TAG@sha256:…` is the digest; the tag beside it says nothing more.
            let repository = match named.rsplit_once(':') {
                Some((repository, tag)) if !tag.contains('/') => repository,
                _ => named,
            };
            return (repository.to_string(), Wanted::Digest(digest.to_string()));
        }
        match reference.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => {
                (repository.to_string(), Wanted::Tag(tag.to_string()))
            }
            _ => (reference.to_string(), Wanted::Tag("latest".into())),
        }
    }
}

/// Pull `wanted` of the ECR `repository` into the local engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullJob {
    pub repository: String,
    pub wanted: Wanted,
    /// Pull from this registry host instead of the one in the repository URI.
    pub registry: Option<RegistryOverride>,
    pub docker_host: Option<String>,
}

/// What a pull brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The local name: `host/path:tag`, or `host/path@sha256:…` for a digest.
    pub image: String,
    pub digest: String,
    /// The local image id.
    pub id: String,
    /// It was here already: nothing moved.
    pub already: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("ECR: {0}")]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("the registry refused the pull: {0} (check the ECR permissions of these credentials)")]
    Denied(String),
    #[error("cannot reach the registry: {0}")]
    Unreachable(String),
    #[error("the registry could not give the image: {0}")]
    Rejected(String),
    #[error("cannot resolve the tag: {0}")]
    Registry(#[from] registry::RegistryError),
    #[error("the engine finished the pull and has no image {0}")]
    Missing(String),
    #[error(transparent)]
    InTheClear(#[from] crate::docker::InTheClear),
    #[error(transparent)]
    Untrusted(#[from] crate::config::UntrustedRegistry),
}

impl PullJob {
    /// `REPO:TAG` or `REPO@sha256:…` for display.
    pub fn reference(&self) -> String {
        match &self.wanted {
            Wanted::Tag(t) => format!("{}:{t}", self.repository),
            Wanted::Digest(d) => format!("{}@{d}", self.repository),
        }
    }

    pub async fn run(self, ctx: JobContext, aws: Option<AwsClients>) -> Result<JobOutput, JobError> {
        let aws = aws.ok_or(NoAws)?;
        let pulled = self.pull(&ctx, &aws).await?;
        let summary = if pulled.already {
            format!("{} is here already ({})", pulled.image, crate::format::short_digest(&pulled.digest))
        } else {
            format!("{} @ {}", pulled.image, pulled.digest)
        };
        Ok(JobOutput {
            summary,
            copy: Some(pulled.image.clone()),
            attention: None,
            json: json!({"image": pulled.image, "digest": pulled.digest, "pulled": !pulled.already}),
        })
    }

    /// The pull itself, for the jobs (sync) that pull as one of their steps.
    pub async fn pull(&self, ctx: &JobContext, aws: &AwsClients) -> Result<Pulled, PullError> {
        // The engine is handed the registry's credentials: never across a network in the clear.
        crate::docker::may_take_credentials(self.docker_host.as_deref())?;
        let Resolved { name, digest, login } =
            resolve(ctx, aws, &self.repository, &self.wanted, self.registry.as_ref()).await?;
        let by_digest = format!("{name}@{digest}");
        let engine = Engine::connect(self.docker_host.as_deref()).await?;
        let already = engine.image(&by_digest).await?.is_some_and(|i| i.is(&digest));
        if !already {
            let mut events = Box::pin(engine.pull(&name, &digest, &login).await?);
            let mut layers = Layers::default();
            while let Some(event) = events.next().await {
                let event = event?;
                if let Some(error) = event.error {
                    return Err(match Refusal::of(error) {
                        Refusal::Denied(e) => PullError::Denied(e),
                        Refusal::Unreachable(e) => PullError::Unreachable(e),
                        Refusal::Other(e) => PullError::Rejected(e),
                    });
                }
                if layers.update(&event, &digest) {
                    ctx.progress(layers.progress("pulling"));
                }
            }
        }
        // The engine names a pull by digest `name@digest` only when it is that digest.
        let image = engine.image(&by_digest).await?.filter(|i| i.is(&digest));
        let image = image.ok_or_else(|| PullError::Missing(by_digest.clone()))?;
        let local = match &self.wanted {
            Wanted::Tag(tag) => {
                engine.tag(&image.id, &name, tag).await?;
                format!("{name}:{tag}")
            }
            Wanted::Digest(_) => by_digest.clone(),
        };
        if !already {
            remember_pulled(&crate::config::Dirs::new().state, &image.id, &[by_digest, local.clone()]);
        }
        Ok(Pulled { image: local, digest, id: image.id, already })
    }
}

/// The names wharf gave the images it pulled on this machine, by image id
/// (`$XDG_STATE_HOME/wharf/pulled.json`): what a sync may take away again
/// once no container uses them. Names the user gave are never in it.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct PulledNames(std::collections::BTreeMap<String, Vec<String>>);

fn pulled_file(state: &std::path::Path) -> std::path::PathBuf {
    state.join("pulled.json")
}

fn read_pulled(state: &std::path::Path) -> PulledNames {
    std::fs::read(pulled_file(state)).ok().and_then(|t| serde_json::from_slice(&t).ok()).unwrap_or_default()
}

fn write_pulled(state: &std::path::Path, pulled: &PulledNames) {
    let file = pulled_file(state);
    let written = serde_json::to_vec_pretty(pulled).map_err(std::io::Error::other).and_then(|text| {
        crate::files::private_dir(state).and_then(|()| crate::files::write_atomic(&file, &text))
    });
    if let Err(e) = written {
        tracing::warn!(file = %file.display(), error = %e, "cannot remember the images wharf pulled");
    }
}

/// Remembers that wharf pulled image `id` and named it `names`.
pub fn remember_pulled(state: &std::path::Path, id: &str, names: &[String]) {
    let mut pulled = read_pulled(state);
    let known = pulled.0.entry(id.to_string()).or_default();
    for name in names {
        if !known.contains(name) {
            known.push(name.clone());
        }
    }
    write_pulled(state, &pulled);
}

/// Takes away the names wharf gave image `id` when it pulled it, if no
/// container uses the image any more (the image goes with its last name);
/// says which names went.
pub async fn forget_if_unused(
    engine: &Engine,
    state: &std::path::Path,
    id: &str,
) -> Result<Vec<String>, DockerError> {
    let mut pulled = read_pulled(state);
    let Some(names) = pulled.0.get(id).cloned() else { return Ok(Vec::new()) };
    if engine.containers().await?.iter().any(|c| c.image_id == id) {
        return Ok(Vec::new());
    }
    for name in &names {
        engine.untag(name).await?;
    }
    pulled.0.remove(id);
    write_pulled(state, &pulled);
    Ok(names)
}

/// An image of an ECR repository as this machine reaches it.
pub struct Resolved {
    /// `host/path`: the registry host (or the `registry` override) and the repository.
    pub name: String,
    /// The manifest digest `wanted` is (a tag asked of the registry).
    pub digest: String,
    pub login: RegistryLogin,
}

/// Where `wanted` of the ECR `repository` is: an ECR token (cached), the
/// repository's URI (its host, unless `registry` overrides it), and the
/// digest a tag points at, as the registry itself answers.
pub async fn resolve(
    ctx: &JobContext,
    aws: &AwsClients,
    repository: &str,
    wanted: &Wanted,
    registry: Option<&RegistryOverride>,
) -> Result<Resolved, PullError> {
    ctx.progress(Progress::stage("looking up the repository"));
    let found = ecr::repository(&aws.ecr, repository).await?;
    let (uri_host, path) = found.uri.split_once('/').unwrap_or((&found.uri, &found.name));
    // Where the token may go is settled before it is asked for.
    let host = registry_host(registry, uri_host)?;
    ctx.progress(Progress::stage("asking ECR for a token"));
    let auth = aws.ecr_tokens.get(&aws.ecr, crate::time::unix_now()).await?;
    let digest = match wanted {
        Wanted::Digest(d) => d.clone(),
        Wanted::Tag(tag) => {
            ctx.progress(Progress::stage(format!("asking the registry what {tag} is")));
            registry::manifest_digest(&host, path, tag, &auth.username, &auth.password).await?
        }
    };
    Ok(Resolved {
        name: format!("{host}/{path}"),
        digest,
        login: RegistryLogin {
            username: auth.username.clone(),
            password: auth.password.clone(),
            server: host,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::Wanted;

    #[test]
    fn references_name_a_repository_and_a_tag_or_a_digest() {
        let digest = "sha256:0123abcd";
        let parse = |r: &str| Wanted::parse(r);
        assert_eq!(parse("app:v1"), ("app".into(), Wanted::Tag("v1".into())));
        assert_eq!(parse("team/app"), ("team/app".into(), Wanted::Tag("latest".into())));
        assert_eq!(parse(":v2"), (String::new(), Wanted::Tag("v2".into())));
        assert_eq!(parse(&format!("team/app@{digest}")), ("team/app".into(), Wanted::Digest(digest.into())));
        assert_eq!(parse(&format!("app:v1@{digest}")), ("app".into(), Wanted::Digest(digest.into())));
    }
}
