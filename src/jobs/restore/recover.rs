//! Restores cut short (`kill -9`, a lost machine) settled: finished, or put
//! back as they were, by the next restore into the container, `wharf doctor
//! --fix`, or the dashboard's start (a `recover` job).

use std::path::{Path, PathBuf};

use serde_json::json;

use super::RestoreError;
use super::journal::{self, Journal, Phase};
use super::replace::{self, Method};
use crate::docker::{DockerError, Engine};
use crate::jobs::lock::{self, Wait};
use crate::jobs::{JobContext, JobError, JobOutput, Progress};
use crate::records::Held;
use crate::snapshots::local::LocalSnapshot;

/// How a restore cut short was settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// Nothing had been changed yet; the container is as it was.
    Untouched(String),
    /// The snapshot was put in, as the restore meant to.
    Finished(String, String),
    /// The safety copy was put back: the container is as it was.
    PutBack(String),
    /// The container is gone: there is nothing to finish.
    Gone(String),
}

impl std::fmt::Display for Recovered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recovered::Untouched(c) => {
                write!(f, "a restore into {c} was cut short before it changed anything; {c} is as it was")
            }
            Recovered::Finished(c, id) => {
                write!(f, "a restore of {id} into {c} was cut short; it is now finished")
            }
            Recovered::PutBack(c) => {
                write!(f, "a restore into {c} was cut short; what {c} held before is put back")
            }
            Recovered::Gone(c) => write!(f, "a restore into {c} was cut short, and {c} no longer exists"),
        }
    }
}

/// Finishes (or puts back) the restore `journal` describes, which was cut
/// short, and clears the journal. `said` hears each step.
pub async fn recover(
    engine: &Engine,
    held: &Held,
    journal: Journal,
    said: &(dyn Fn(String) + Sync),
) -> Result<String, RestoreError> {
    let r = &journal.replacement;
    let name = r.container.clone();
    // Only on the engine it began on: elsewhere its container is another, or none.
    if let Some(on) = &journal.engine
        && on.id != engine.id().await?
    {
        return Err(RestoreError::OtherEngine {
            container: name,
            endpoint: on.endpoint.clone(),
            here: engine.endpoint().to_string(),
        });
    }
    engine.remove(&replace::helper_name(&r.container_id)).await?;
    if let Err(DockerError::NoSuchContainer(_)) = engine.container(&r.container_id).await {
        held.clear()?;
        return Ok(Recovered::Gone(name).to_string());
    }
    let safety = || {
        journal.safety.as_deref().and_then(LocalSnapshot::open).ok_or_else(|| {
            RestoreError::Refused(format!(
                "the safety copy of {name} ({}) is missing: check {name} by hand, then remove {}",
                journal.safety.as_ref().map_or("none".into(), |p| p.display().to_string()),
                "its journal in $XDG_STATE_HOME/wharf/restores/"
            ))
        })
    };
    let quiet = |_| {};
    // Files changed under a running database server are corrupt files.
    let current = engine.container(&r.container_id).await?;
    let rewrites = matches!(journal.phase, Phase::Replacing | Phase::RollingBack);
    if current.running && rewrites && matches!(r.method, Method::Path { .. }) {
        said(format!("stopping {name}"));
        engine.stop(&current).await?;
    }
    let recovered = match journal.phase {
        Phase::Stopping | Phase::Saving => {
            if let Some(dir) = &journal.safety {
                let _ = std::fs::remove_dir_all(dir);
            }
            Recovered::Untouched(name.clone())
        }
        Phase::Replacing => {
            let snapshot = LocalSnapshot::open(&journal.snapshot).filter(|s| matches!(s.check(), Ok(Ok(()))));
            match snapshot {
                Some(snapshot) => {
                    said(format!("putting {} into {name} again", journal.snapshot_id));
                    r.apply(engine, &snapshot, quiet).await?;
                    Recovered::Finished(name.clone(), journal.snapshot_id.clone())
                }
                None => {
                    said(format!("the snapshot is gone from the cache; putting back what {name} held"));
                    r.apply(engine, &safety()?, quiet).await?;
                    Recovered::PutBack(name.clone())
                }
            }
        }
        Phase::RollingBack => {
            said(format!("putting back what {name} held"));
            r.apply(engine, &safety()?, quiet).await?;
            Recovered::PutBack(name.clone())
        }
        Phase::Starting => Recovered::Finished(name.clone(), journal.snapshot_id.clone()),
    };
    if r.was_running {
        engine.start(&r.container_id).await?;
    }
    held.clear()?;
    tracing::info!(%recovered, "recovered a restore that was cut short");
    Ok(recovered.to_string())
}

/// Settles every restore of this user that was cut short and that no other
/// wharf is working on, each under its container's lock (waited for);
/// says what happened to each.
pub async fn recover_all(
    engine: &Engine,
    state: &Path,
    ctx: &JobContext,
    said: &(dyn Fn(String) + Sync),
) -> Vec<Result<String, String>> {
    let mut results = Vec::new();
    for (held, journal) in journal::journals(state).left_over::<Journal>() {
        let recovered = match journal {
            Ok(journal) => {
                let name = journal.replacement.container.clone();
                let doing = format!("wharf is finishing a restore into {name} that was cut short");
                match lock::take(engine, &name, &doing, Wait::Yes, ctx).await {
                    Ok(_lock) => recover(engine, &held, journal, said).await,
                    Err(e) => Err(RestoreError::Refused(e.to_string())),
                }
            }
            Err(e) => Err(e.into()),
        };
        results.push(recovered.map_err(|e| crate::error::chain(&e).join(": ")));
    }
    results
}

/// Settles the restores that were cut short (the dashboard starts this when
/// it finds their journals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverJob {
    pub state: PathBuf,
    pub docker_host: Option<String>,
}

impl RecoverJob {
    pub async fn run(self, ctx: JobContext) -> Result<JobOutput, JobError> {
        let engine = Engine::connect(self.docker_host.as_deref()).await?;
        let said = |stage: String| ctx.progress(Progress::stage(stage));
        let results = recover_all(&engine, &self.state, &ctx, &said).await;
        let failed: Vec<String> = results.iter().filter_map(|r| r.as_ref().err().cloned()).collect();
        if !failed.is_empty() {
            return Err(failed.join("; ").into());
        }
        let done: Vec<String> = results.into_iter().flatten().collect();
        Ok(JobOutput {
            attention: None,
            summary: if done.is_empty() { "nothing to finish".into() } else { done.join("; ") },
            copy: None,
            json: json!({ "recovered": done }),
        })
    }
}
