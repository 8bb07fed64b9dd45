//! The local engine as wharf shows it: images and containers.

use serde::Serialize;

/// A local image, one row per `repository:tag` (untagged images get `<none>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    pub repository: String,
    pub tag: String,
    /// The full image id, `sha256:…`.
    pub id: String,
    pub size: u64,
    /// Unix seconds.
    pub created: i64,
    /// The manifest digests (`sha256:…`) registries know it by: a pushed or
    /// pulled image has the one its registry serves.
    pub digests: Vec<String>,
}

impl ImageInfo {
    /// `repository:tag` as `docker images` would show it.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// The 12-character id `docker images` shows.
    pub fn short_id(&self) -> &str {
        crate::format::short_digest(&self.id)
    }
}

/// A local container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    /// The id (`sha256:…`) of the image it was created from.
    pub image_id: String,
    /// `running`, `exited`, `created`, `paused` …
    pub state: String,
    /// The engine's own words: `Up 3 minutes`, `Exited (0) 2 hours ago`.
    pub status: String,
}
