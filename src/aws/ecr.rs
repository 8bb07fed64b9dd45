//! ECR: repositories and the images in them, as wharf's own types.

use serde::Serialize;

use super::error::{AwsError, from_sdk};

/// An ECR repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repository {
    pub name: String,
    /// `ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME` (emulators name hosts that don't exist).
    pub uri: String,
    /// Unix seconds.
    pub created: Option<i64>,
}

/// One image in a repository; an untagged image has no tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryImage {
    pub tags: Vec<String>,
    /// `sha256:…`
    pub digest: String,
    /// Unix seconds.
    pub pushed_at: Option<i64>,
    pub size: Option<u64>,
}

impl RegistryImage {
    /// The 12 hex digits after `sha256:`.
    pub fn short_digest(&self) -> &str {
        let hex = self.digest.strip_prefix("sha256:").unwrap_or(&self.digest);
        &hex[..hex.len().min(12)]
    }
}

/// Every repository, through all pages.
pub async fn repositories(ecr: &aws_sdk_ecr::Client) -> Result<Vec<Repository>, AwsError> {
    let mut pages = ecr.describe_repositories().into_paginator().items().send();
    let mut repositories = Vec::new();
    while let Some(item) = pages.next().await {
        let r = item.map_err(from_sdk)?;
        repositories.push(Repository {
            name: r.repository_name().unwrap_or_default().to_string(),
            uri: r.repository_uri().unwrap_or_default().to_string(),
            created: r.created_at().map(|t| t.secs()),
        });
    }
    repositories.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(repositories)
}

/// Every image in `repository`, through all pages, newest first.
pub async fn images(ecr: &aws_sdk_ecr::Client, repository: &str) -> Result<Vec<RegistryImage>, AwsError> {
    let mut pages = ecr.describe_images().repository_name(repository).into_paginator().items().send();
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
