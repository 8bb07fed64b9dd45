//! Bake: commit a container (say, one with a freshly restored database) to a new
//! image, ready to push.

use serde_json::json;

use super::{JobContext, JobError, JobOutput, Progress};
use crate::docker::{Engine, parse_reference};

/// Commit `container` to the image `reference` (`repository:tag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BakeJob {
    pub container: String,
    pub reference: String,
    /// The engine to use (`--docker-host` / `DOCKER_HOST`).
    pub docker_host: Option<String>,
}

impl BakeJob {
    pub async fn run(self, ctx: JobContext) -> Result<JobOutput, JobError> {
        // Refuse a bad name before touching the engine.
        parse_reference(&self.reference)?;
        ctx.progress(Progress::stage("connecting to the engine"));
        let engine = Engine::connect(self.docker_host.as_deref()).await?;
        ctx.progress(Progress::stage(format!("committing {}", self.container)));
        let id = engine.commit(&self.container, &self.reference).await?;
        let short = crate::format::short_digest(&id);
        Ok(JobOutput {
            attention: None,
            summary: format!("{} ({short})", self.reference),
            copy: Some(self.reference.clone()),
            json: json!({ "container": self.container, "image": self.reference, "id": id }),
        })
    }
}
