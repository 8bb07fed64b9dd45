//! ECR: repositories and the images in them, as wharf's own types.

use std::sync::Arc;

use tokio::sync::Mutex;

use super::error::{AwsError, from_sdk};
pub use crate::model::registry::{RegistryImage, Repository};

/// The most ECR hands over in one page (its default is 100).
const PAGE: i32 = 1000;

/// Every repository, through all pages of 1,000.
pub async fn repositories(ecr: &aws_sdk_ecr::Client) -> Result<Vec<Repository>, AwsError> {
    let mut pages = ecr.describe_repositories().max_results(PAGE).into_paginator().items().send();
    let mut repositories = Vec::new();
    while let Some(item) = pages.next().await {
        repositories.push(repository_of(&item.map_err(from_sdk)?));
    }
    repositories.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(repositories)
}

/// Every image in `repository`, through all pages of 1,000, newest first.
pub async fn images(ecr: &aws_sdk_ecr::Client, repository: &str) -> Result<Vec<RegistryImage>, AwsError> {
    let mut pages =
        ecr.describe_images().repository_name(repository).max_results(PAGE).into_paginator().items().send();
    let mut images = Vec::new();
    while let Some(item) = pages.next().await {
        let i = item.map_err(from_sdk)?;
        images.push(RegistryImage {
            tags: i.image_tags().to_vec(),
            digest: i.image_digest().unwrap_or_default().to_string(),
            pushed_at: i.image_pushed_at().map(|t| t.secs()),
            size: i.image_size_in_bytes().and_then(|s| u64::try_from(s).ok()),
        });
    }
    images.sort_by(|a, b| b.pushed_at.cmp(&a.pushed_at).then_with(|| a.digest.cmp(&b.digest)));
    Ok(images)
}

/// Credentials for the registry behind ECR, from `get_authorization_token`.
/// The password is never shown, logged or printed.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
    /// `https://ACCOUNT.dkr.ecr.REGION.amazonaws.com`
    pub endpoint: String,
    /// Unix seconds.
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("endpoint", &self.endpoint)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Gets and decodes (`AWS:<password>`) a registry token.
pub async fn authorization(ecr: &aws_sdk_ecr::Client) -> Result<RegistryAuth, AwsError> {
    use base64::Engine as _;
    let out = ecr.get_authorization_token().send().await.map_err(from_sdk)?;
    let data = out
        .authorization_data()
        .first()
        .ok_or_else(|| AwsError::Service("ECR returned no authorization data".into()))?;
    let token = data.authorization_token().unwrap_or_default();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| AwsError::Service("ECR's authorization token is not base64 text".into()))?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or_else(|| AwsError::Service("ECR's authorization token is not user:password".into()))?;
    Ok(RegistryAuth {
        username: username.to_string(),
        password: password.to_string(),
        endpoint: data.proxy_endpoint().unwrap_or_default().to_string(),
        expires_at: data.expires_at().map(|t| t.secs()),
    })
}

/// ECR tokens last twelve hours; one is reused until shortly before it expires,
/// so a session of pushes asks ECR once.
#[derive(Debug, Clone, Default)]
pub struct TokenCache {
    cached: Arc<Mutex<Option<RegistryAuth>>>,
}

impl TokenCache {
    /// A token this close to its expiry is not handed out again.
    pub const MARGIN_SECS: i64 = 5 * 60;

    /// The cached token while it has more than [`Self::MARGIN_SECS`] to live
    /// at `now` (Unix seconds), else a new one from ECR. A token without an
    /// expiry is not kept.
    pub async fn get(&self, ecr: &aws_sdk_ecr::Client, now: i64) -> Result<RegistryAuth, AwsError> {
        let mut cached = self.cached.lock().await;
        if let Some(auth) =
            cached.as_ref().filter(|a| a.expires_at.is_some_and(|t| t - now > Self::MARGIN_SECS))
        {
            return Ok(auth.clone());
        }
        let auth = authorization(ecr).await?;
        *cached = auth.expires_at.is_some().then(|| auth.clone());
        Ok(auth)
    }
}

/// Creates a repository (tags mutable, as a first push expects).
pub async fn create_repository(ecr: &aws_sdk_ecr::Client, name: &str) -> Result<Repository, AwsError> {
    let out = ecr.create_repository().repository_name(name).send().await.map_err(from_sdk)?;
    let r = out.repository().ok_or_else(|| AwsError::Service("ECR returned no repository".into()))?;
    Ok(repository_of(r))
}

fn repository_of(r: &aws_sdk_ecr::types::Repository) -> Repository {
    Repository {
        name: r.repository_name().unwrap_or_default().to_string(),
        uri: r.repository_uri().unwrap_or_default().to_string(),
        created: r.created_at().map(|t| t.secs()),
    }
}

/// One repository by name; `NotFound` when it does not exist.
pub async fn repository(ecr: &aws_sdk_ecr::Client, name: &str) -> Result<Repository, AwsError> {
    let out = ecr.describe_repositories().repository_names(name).send().await.map_err(from_sdk)?;
    let r = out
        .repositories()
        .first()
        .ok_or_else(|| AwsError::NotFound(format!("no ECR repository `{name}`")))?;
    Ok(repository_of(r))
}

/// The repository's URI and the digest `tag` points at.
pub async fn digest_of(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    tag: &str,
) -> Result<(String, String), AwsError> {
    let repo = self::repository(ecr, repository).await?;
    let out = ecr
        .describe_images()
        .repository_name(repository)
        .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(tag).build())
        .send()
        .await
        .map_err(from_sdk)?;
    let digest = out
        .image_details()
        .first()
        .and_then(|d| d.image_digest())
        .ok_or_else(|| AwsError::NotFound(format!("no tag `{tag}` in {repository}")))?;
    Ok((repo.uri, digest.to_string()))
}
