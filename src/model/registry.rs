//! ECR as wharf shows it: repositories and their images.

use serde::Serialize;

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
        crate::format::short_digest(&self.digest)
    }
}
