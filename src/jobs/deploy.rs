//! Deploy and rollback: carry out a [`Plan`] (register the digest-pinned
//! revision, or pick the previous one, and point the service at it), then,
//! when asked, watch the rollout until it completes, fails or times out.

use std::time::Duration;

use serde_json::json;

use super::{JobContext, JobError, JobOutput, NoAws, Progress};
use crate::aws::ecs::{self, Plan};
use crate::aws::{AwsClients, AwsError};

/// How long a rollout may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, PartialEq)]
pub struct DeployJob {
    pub plan: Plan,
    /// Watch the rollout to its end.
    pub wait: bool,
    pub timeout: Duration,
    pub poll: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("ECS: {0}")]
    Aws(#[from] AwsError),
    #[error("the rollout of {to} FAILED{}", latest_events(.events))]
    Failed { to: String, events: Vec<String> },
    #[error("the rollout of {to} did not finish within {}{}", humantime::format_duration(*.timeout), latest_events(.events))]
    TimedOut { to: String, timeout: Duration, events: Vec<String> },
}

fn latest_events(events: &[String]) -> String {
    if events.is_empty() { String::new() } else { format!("; latest events: {}", events.join(" | ")) }
}

impl DeployJob {
    pub async fn run(self, ctx: JobContext, aws: Option<AwsClients>) -> Result<JobOutput, JobError> {
        let aws = aws.ok_or(NoAws)?;
        let plan = &self.plan;
        ctx.progress(Progress::stage(format!("pointing {} at {}", plan.service, plan.to)));
        let to = ecs::apply(&aws.ecs, plan).await.map_err(DeployError::from)?;
        if self.wait {
            self.watch(&ctx, &aws, &to).await?;
        }
        Ok(JobOutput {
            attention: None,
            summary: format!(
                "{}/{}: {} → {to}{}",
                plan.cluster,
                plan.service,
                plan.from,
                if self.wait { ", rolled out" } else { "" }
            ),
            copy: Some(to.clone()),
            json: json!({
                "cluster": plan.cluster,
                "service": plan.service,
                "from": plan.from,
                "task_definition": to,
                "changes": plan.changes,
                "rolled_out": self.wait,
            }),
        })
    }

    /// Until the service's primary deployment runs `to` and has rolled out.
    async fn watch(&self, ctx: &JobContext, aws: &AwsClients, to: &str) -> Result<(), DeployError> {
        let started = tokio::time::Instant::now();
        let plan = &self.plan;
        loop {
            let s = ecs::service(&aws.ecs, &aws.service_reads, &plan.cluster, &plan.service).await?;
            let latest: Vec<String> = s.events.iter().take(3).map(|e| e.message.clone()).collect();
            let rollout = s.rollout.clone().unwrap_or_else(|| "–".into());
            ctx.progress(Progress {
                stage: format!(
                    "rollout {rollout}: {}/{} running, {} pending",
                    s.running, s.desired, s.pending
                ),
                done: u64::try_from(s.running).unwrap_or(0),
                total: u64::try_from(s.desired).ok().filter(|d| *d > 0),
                bytes: false,
                detail: latest.clone(),
            });
            if s.task_definition == to {
                match s.rollout.as_deref() {
                    Some("COMPLETED") => return Ok(()),
                    Some("FAILED") => return Err(DeployError::Failed { to: to.into(), events: latest }),
                    // No rollout state (older services, emulators): settled when the counts are.
                    None if s.running == s.desired && s.pending == 0 => return Ok(()),
                    _ => {}
                }
            }
            if started.elapsed() > self.timeout {
                return Err(DeployError::TimedOut { to: to.into(), timeout: self.timeout, events: latest });
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}
