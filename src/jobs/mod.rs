//! The job pool: every long-running thing wharf does (bake now; push, deploy,
//! backup, restore, prune later) runs here, under a concurrency limit, with a
//! cancellation token and a bounded event channel back to whoever watches.

pub mod backup;
pub mod bake;
pub mod console;
pub mod databases;
pub mod deploy;
pub mod export;
pub mod init;
mod layers;
pub mod lock;
mod mssql;
pub mod mysql;
pub mod prune;
pub mod pull;
pub mod push;
pub mod remote_backup;
pub mod restore;
pub mod run;
pub mod sync;
pub mod uploads;

use std::collections::HashMap;
use std::error::Error;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::aws::AwsClients;

pub use backup::BackupJob;
pub use bake::BakeJob;
pub use deploy::DeployJob;
pub use prune::PruneJob;
pub use pull::PullJob;
pub use push::PushJob;
pub use remote_backup::RemoteBackupJob;
pub use restore::{RecoverJob, RestoreJob};
pub use run::RunJob;
pub use sync::SyncJob;

/// Identifies a job for the whole session.
pub type JobId = u64;

/// What kind of work a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Bake,
    Push,
    Backup,
    RemoteBackup,
    Restore,
    Recover,
    Prune,
    Deploy,
    Pull,
    Run,
    Sync,
    Init,
    Export,
}

impl JobKind {
    pub fn label(self) -> &'static str {
        match self {
            JobKind::Bake => "bake",
            JobKind::Push => "push",
            JobKind::Backup => "backup",
            JobKind::RemoteBackup => "remote",
            JobKind::Restore => "restore",
            JobKind::Recover => "recover",
            JobKind::Prune => "prune",
            JobKind::Deploy => "deploy",
            JobKind::Pull => "pull",
            JobKind::Run => "run",
            JobKind::Sync => "sync",
            JobKind::Init => "init",
            JobKind::Export => "export",
        }
    }
}

/// How far a job has got. `total` is `None` while the size is unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// What the job is doing now, in a few words.
    pub stage: String,
    pub done: u64,
    pub total: Option<u64>,
    /// Whether `done`/`total` count bytes (throughput and ETA are shown then).
    pub bytes: bool,
    /// A line per part (the layers of a push), for the selected job.
    pub detail: Vec<String>,
}

impl Progress {
    /// A step with no measurable amount, e.g. "committing".
    pub fn stage(stage: impl Into<String>) -> Progress {
        Progress { stage: stage.into(), ..Progress::default() }
    }
}

/// What a finished job produced: a line for people and a value for `--json`.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutput {
    pub summary: String,
    pub json: serde_json::Value,
    /// What the copy key puts on the clipboard (a pushed image's URI with digest).
    pub copy: Option<String>,
    /// Done, but with something the user must act on (a backup kept off the
    /// line of history): said on stderr, and the command exits with its code.
    pub attention: Option<Attention>,
}

/// The exit status of a backup kept off the line of history.
pub const DIVERGED: u8 = 3;

/// What a finished job asks of the user, and the exit status that says so.
#[derive(Debug, Clone, PartialEq)]
pub struct Attention {
    pub code: u8,
    pub message: String,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobResult {
    Done(JobOutput),
    /// The error and its causes, outermost first.
    Failed(Vec<String>),
    /// Another operation held the container and the job was asked not to
    /// wait (`--no-wait`): nothing was done.
    Busy(String),
    Cancelled,
}

/// A change in one job's life, sent from the pool to the event loop.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    pub id: JobId,
    pub update: JobUpdate,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobUpdate {
    /// A slot was free and the job began.
    Started,
    Progress(Progress),
    Finished(JobResult),
}

/// A job to run, with everything it needs.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSpec {
    Bake(BakeJob),
    Push(PushJob),
    Backup(BackupJob),
    RemoteBackup(RemoteBackupJob),
    Restore(RestoreJob),
    /// Finish (or put back) restores that were cut short.
    Recover(RecoverJob),
    Prune(PruneJob),
    Deploy(DeployJob),
    Pull(PullJob),
    Run(RunJob),
    Sync(Box<SyncJob>),
    Init(Box<init::InitJob>),
    Export(export::ExportJob),
}

impl JobSpec {
    pub fn kind(&self) -> JobKind {
        match self {
            JobSpec::Bake(_) => JobKind::Bake,
            JobSpec::Push(_) => JobKind::Push,
            JobSpec::Backup(_) => JobKind::Backup,
            JobSpec::RemoteBackup(_) => JobKind::RemoteBackup,
            JobSpec::Restore(_) => JobKind::Restore,
            JobSpec::Recover(_) => JobKind::Recover,
            JobSpec::Prune(_) => JobKind::Prune,
            JobSpec::Deploy(_) => JobKind::Deploy,
            JobSpec::Pull(_) => JobKind::Pull,
            JobSpec::Run(_) => JobKind::Run,
            JobSpec::Sync(_) => JobKind::Sync,
            JobSpec::Init(_) => JobKind::Init,
            JobSpec::Export(_) => JobKind::Export,
        }
    }

    /// Jobs that clean up after themselves when cancelled (abort an upload,
    /// delete a temp file) see the cancellation and return [`Cancelled`];
    /// the others are simply dropped.
    pub fn cleans_up(&self) -> bool {
        matches!(
            self,
            JobSpec::Backup(_)
                | JobSpec::RemoteBackup(_)
                | JobSpec::Restore(_)
                | JobSpec::Recover(_)
                | JobSpec::Run(_)
                | JobSpec::Sync(_)
        )
    }

    /// What the job works on, for the Jobs pane.
    pub fn target(&self) -> String {
        match self {
            JobSpec::Bake(b) => format!("{} → {}", b.container, b.reference),
            JobSpec::Push(p) => format!("{} → {}:{}", p.image, p.repository, p.tag),
            JobSpec::Backup(b) => format!("{} → s3://{}/{}", b.container, b.bucket, b.prefix),
            JobSpec::RemoteBackup(r) => {
                format!("{}/{} → s3://{}/{}", r.cluster, r.service, r.bucket, r.prefix)
            }
            JobSpec::Restore(r) => format!("{} → {}", r.label(), r.container),
            JobSpec::Recover(_) => "restores cut short".into(),
            JobSpec::Prune(p) => format!("s3://{}/{} ({} snapshots)", p.bucket, p.prefix, p.doomed.len()),
            JobSpec::Deploy(d) => format!("{}/{} → {}", d.plan.cluster, d.plan.service, d.plan.to),
            JobSpec::Pull(p) => p.reference(),
            JobSpec::Run(r) => format!("{} → {}", r.image, r.container),
            JobSpec::Sync(s) => match &s.snapshot {
                Some(id) => format!("{} → {id}", s.run.container),
                None => format!("{} → head of s3://{}/{}", s.run.container, s.bucket, s.prefix),
            },
            JobSpec::Init(i) => format!("profile {} on AWS", i.request.profile),
            JobSpec::Export(e) => {
                format!("{} → {}", e.id, e.output.as_ref().map_or(".".into(), |p| p.display().to_string()))
            }
        }
    }

    /// Runs the job; `aws` is there when credentials were found.
    pub async fn run(self, ctx: JobContext, aws: Option<AwsClients>) -> Result<JobOutput, JobError> {
        match self {
            JobSpec::Bake(b) => b.run(ctx).await,
            JobSpec::Push(p) => p.run(ctx, aws).await,
            JobSpec::Backup(b) => b.run(ctx, aws).await,
            JobSpec::RemoteBackup(r) => r.run(ctx, aws).await,
            JobSpec::Restore(r) => r.run(ctx, aws).await,
            JobSpec::Recover(r) => r.run(ctx).await,
            JobSpec::Prune(p) => p.run(ctx, aws).await,
            JobSpec::Deploy(d) => d.run(ctx, aws).await,
            JobSpec::Pull(p) => p.run(ctx, aws).await,
            JobSpec::Run(r) => r.run(ctx, aws).await,
            JobSpec::Sync(s) => s.run(ctx, aws).await,
            JobSpec::Init(i) => i.run(ctx).await,
            JobSpec::Export(e) => e.run(ctx, aws).await,
        }
    }
}

/// Handed to a running job: where to report progress and how to notice cancellation.
#[derive(Debug, Clone)]
pub struct JobContext {
    id: JobId,
    events: mpsc::Sender<JobEvent>,
    pub cancel: CancellationToken,
}

impl JobContext {
    /// A context outside the pool, whose progress goes nowhere: for the
    /// read-only work a command does before it starts a job (a sync's plan).
    pub fn quiet() -> JobContext {
        let (events, _) = mpsc::channel(1);
        JobContext { id: 0, events, cancel: CancellationToken::new() }
    }

    /// Reports progress; if the channel is full the tick is dropped, the next one will do.
    pub fn progress(&self, progress: Progress) {
        let _ = self.events.try_send(JobEvent { id: self.id, update: JobUpdate::Progress(progress) });
    }
}

/// The error type jobs return; its `source()` chain is shown in the Jobs pane.
pub type JobError = Box<dyn Error + Send + Sync + 'static>;

/// A job that needs AWS, started without credentials.
#[derive(Debug, thiserror::Error)]
#[error("AWS has no credentials for this; set AWS_PROFILE or aws_profile in wharf.toml")]
pub struct NoAws;

/// Returned by a job that saw its cancellation and cleaned up.
#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// Runs jobs, at most `limit` at once; the rest wait in a queue.
pub struct JobPool {
    slots: Arc<Semaphore>,
    events: mpsc::Sender<JobEvent>,
    tokens: HashMap<JobId, CancellationToken>,
    tasks: JoinSet<()>,
}

impl JobPool {
    /// Default number of jobs that run at once.
    pub const DEFAULT_LIMIT: usize = 3;

    pub fn new(limit: usize, events: mpsc::Sender<JobEvent>) -> JobPool {
        JobPool {
            slots: Arc::new(Semaphore::new(limit.max(1))),
            events,
            tokens: HashMap::new(),
            tasks: JoinSet::new(),
        }
    }

    /// Queues `spec` under `id`; it runs once a slot is free.
    pub fn submit(&mut self, id: JobId, spec: JobSpec, aws: Option<AwsClients>) {
        if spec.cleans_up() {
            self.submit_cleaning_up(id, move |ctx| spec.run(ctx, aws));
        } else {
            self.submit_with(id, move |ctx| spec.run(ctx, aws));
        }
    }

    /// Queues any work under `id`; `work` runs once a slot is free, and is
    /// dropped at its next await point when cancelled.
    pub fn submit_with<F, Fut>(&mut self, id: JobId, work: F)
    where
        F: FnOnce(JobContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<JobOutput, JobError>> + Send + 'static,
    {
        self.spawn(id, work, false);
    }

    /// Queues work that watches `ctx.cancel` itself, cleans up, and returns [`Cancelled`].
    pub fn submit_cleaning_up<F, Fut>(&mut self, id: JobId, work: F)
    where
        F: FnOnce(JobContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<JobOutput, JobError>> + Send + 'static,
    {
        self.spawn(id, work, true);
    }

    fn spawn<F, Fut>(&mut self, id: JobId, work: F, cleans_up: bool)
    where
        F: FnOnce(JobContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<JobOutput, JobError>> + Send + 'static,
    {
        let cancel = CancellationToken::new();
        self.tokens.insert(id, cancel.clone());
        let slots = self.slots.clone();
        let events = self.events.clone();
        self.tasks.spawn(async move {
            let result = run(id, slots, events.clone(), cancel, work, cleans_up).await;
            // The result must arrive, so wait for room rather than drop it.
            let _ = events.send(JobEvent { id, update: JobUpdate::Finished(result) }).await;
        });
    }

    /// Asks job `id` to stop; it is dropped at its next await point.
    pub fn cancel(&self, id: JobId) {
        if let Some(token) = self.tokens.get(&id) {
            token.cancel();
        }
    }

    /// Asks every job to stop; those that clean up do so, and report when done.
    pub fn cancel_all(&self) {
        for token in self.tokens.values() {
            token.cancel();
        }
    }

    /// Cancels everything and waits up to `grace` for the jobs to wind down.
    pub async fn shutdown(mut self, grace: Duration) {
        for token in self.tokens.values() {
            token.cancel();
        }
        let _ = tokio::time::timeout(grace, async { while self.tasks.join_next().await.is_some() {} }).await;
    }
}

async fn run<F, Fut>(
    id: JobId,
    slots: Arc<Semaphore>,
    events: mpsc::Sender<JobEvent>,
    cancel: CancellationToken,
    work: F,
    cleans_up: bool,
) -> JobResult
where
    F: FnOnce(JobContext) -> Fut,
    Fut: Future<Output = Result<JobOutput, JobError>>,
{
    let _permit = tokio::select! {
        biased;
        _ = cancel.cancelled() => return JobResult::Cancelled,
        permit = slots.acquire_owned() => match permit {
            Ok(p) => p,
            Err(_) => return JobResult::Failed(vec!["the job pool has shut down".into()]),
        },
    };
    let _ = events.send(JobEvent { id, update: JobUpdate::Started }).await;
    let context = JobContext { id, events, cancel: cancel.clone() };
    // A job that panics ends as Failed with the panic's message, never stays "running".
    let work = std::panic::AssertUnwindSafe(work(context)).catch_unwind();
    let result = if cleans_up {
        work.await
    } else {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return JobResult::Cancelled,
            result = work => result,
        }
    };
    match result {
        Ok(Ok(output)) => JobResult::Done(output),
        Ok(Err(e)) if e.is::<Cancelled>() => JobResult::Cancelled,
        Ok(Err(e)) if e.is::<lock::Busy>() => JobResult::Busy(e.to_string()),
        Ok(Err(e)) => JobResult::Failed(crate::error::chain(e.as_ref())),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            tracing::error!(id, message, "a job panicked");
            JobResult::Failed(vec![format!("the job panicked: {message}")])
        }
    }
}

/// An argument vector from words.
pub(crate) fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}
