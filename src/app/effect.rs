//! The words `update` and the event loop speak: [`Effect`]s it asks for,
//! [`LoadRequest`]s for the background, and the [`Loaded`] answers.

use std::path::PathBuf;

use super::overlay::{Choices, SavePlan, Setup};
use crate::aws::AwsError;
use crate::aws::ecs::Plan;
use crate::docker::ContainerDetail;
use crate::jobs::console::{Console, ConsoleRequest};
use crate::jobs::sync::SyncPlan;
use crate::jobs::{JobId, JobSpec, RestoreJob, SyncJob};
use crate::logs::TailTarget;
use crate::model::ecs::{ServiceInfo, TaskInfo};
use crate::model::registry::{RegistryImage, Repository};
use crate::snapshots::Snapshot;

/// Work the event loop starts on behalf of `update`.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    StartJob {
        id: JobId,
        spec: JobSpec,
    },
    CancelJob(JobId),
    Load(LoadRequest),
    /// Read something on this machine in the background.
    LoadLocal(LocalLoad),
    /// Put text on the clipboard of the terminal (OSC 52: works over SSH and in tmux).
    Copy(String),
    /// Start tail number `id` (ending the one before).
    Tail {
        id: u64,
        target: TailTarget,
    },
    /// Ask tail `id` for up to `lines` more lines per stream from before its oldest.
    TailOlder {
        id: u64,
        lines: usize,
    },
    /// Hand the terminal to a shell or SQL client in a container until it ends.
    Attach(Console),
    /// Connect to AWS again with `profile`'s settings (after a switch).
    Connect(Box<crate::config::Profile>),
    /// Write a set-up's choices to `wharf.toml`.
    SaveSettings(Box<SavePlan>),
    /// Write the Logs pane's lines to a new file.
    SaveLogs {
        path: PathBuf,
        text: String,
        lines: usize,
    },
}

/// Something to fetch in the background for a pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadRequest {
    Repositories,
    Images {
        repository: String,
    },
    Snapshots {
        bucket: String,
        prefix: String,
        /// The database container whose place in the line is read with the list.
        container: Option<String>,
    },
    /// `HEAD.json`'s ETag, asked only to differ from `etag`; the listing is
    /// read again when it does, when what `container` holds here is no longer
    /// `here`, or when `whole`.
    SnapshotsIfMoved {
        bucket: String,
        prefix: String,
        container: Option<String>,
        etag: Option<String>,
        here: Option<String>,
        whole: bool,
    },
    Clusters,
    Services {
        cluster: String,
    },
    /// These services (the rows on screen) described again.
    ServicesNamed {
        cluster: String,
        names: Vec<String>,
    },
    Tasks {
        cluster: String,
        service: String,
    },
    /// The tags of a repository, newest image first, for a sync's picker.
    SyncTags {
        repository: String,
    },
    /// The last hours of these services' CPU and memory utilization.
    Metrics {
        cluster: String,
        services: Vec<String>,
    },
    /// Work out a deploy of `image` (`repository@sha256:…`) to the service.
    DeployPlan {
        cluster: String,
        service: String,
        container: Option<String>,
        image: String,
    },
    RollbackPlan {
        cluster: String,
        service: String,
    },
    /// Work out what a restore would replace, for its confirmation.
    RestorePreview(Box<RestoreJob>),
    /// Work out what a sync would do, for its confirmation.
    SyncPlan(Box<SyncJob>),
    /// S3's buckets, for a set-up to pick from.
    Buckets,
    /// The names of `cluster`'s services, for a set-up to pick from.
    ServiceNames {
        cluster: String,
    },
    /// What `wharf init` would create, for a confirmation.
    InitPlan(Box<crate::jobs::init::InitJob>),
    /// What a remote backup would run, for a confirmation.
    RemotePreview(Box<crate::jobs::RemoteBackupJob>),
    /// A bucket made for a set-up, with init's settings and `tag`, through
    /// the AWS side `settings` name.
    CreateBucket {
        name: String,
        tag: crate::aws::init::InitTag,
        settings: Box<crate::config::Profile>,
        setup: Setup,
    },
}

/// Something to read on this machine (the engine, a file): no AWS needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalLoad {
    /// Check a shell or SQL client can be opened, and work out its command.
    Console(ConsoleRequest),
    /// The container a set-up picked, as the engine describes it.
    ContainerDetail { container: String, setup: Setup },
    /// `file` with a set-up's choices written into `profile`, for a yes.
    SetupPreview { setup: Setup, file: PathBuf, profile: String },
    /// The wharf profiles of `file` and the AWS profiles there are to switch to.
    SwitchChoices { file: Option<PathBuf> },
    /// The databases of the `preset` server in `container`, as `user` sees them.
    Databases { container: String, preset: crate::config::Preset, user: Option<String>, setup: Setup },
}

/// The answer to a [`LoadRequest`] or a [`LocalLoad`].
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    Repositories(Result<Vec<Repository>, AwsError>),
    Images {
        repository: String,
        result: Result<Vec<RegistryImage>, AwsError>,
    },
    /// The snapshots under `bucket`/`prefix`, and the one the database
    /// container holds on this machine, if known.
    Snapshots {
        bucket: String,
        prefix: String,
        here: Option<String>,
        /// `HEAD.json`'s ETag, read before the listing (`None`: no head).
        etag: Option<String>,
        result: Result<Vec<Snapshot>, AwsError>,
    },
    /// Head has not moved, nor what this machine holds: the listing shown is current.
    SnapshotsUnmoved {
        bucket: String,
        prefix: String,
        result: Result<(), AwsError>,
    },
    Clusters(Result<Vec<String>, AwsError>),
    Services {
        cluster: String,
        result: Result<Vec<ServiceInfo>, AwsError>,
    },
    /// Services on screen described again: they replace their rows.
    ServicesNamed {
        cluster: String,
        result: Result<Vec<ServiceInfo>, AwsError>,
    },
    /// The services described so far; the whole list follows as `Services`.
    ServicesSoFar {
        cluster: String,
        services: Vec<ServiceInfo>,
    },
    Tasks {
        cluster: String,
        service: String,
        result: Result<Vec<TaskInfo>, AwsError>,
    },
    Metrics {
        cluster: String,
        result: Result<Vec<(String, crate::model::metrics::Utilization)>, AwsError>,
    },
    SyncTags(Result<Vec<crate::model::registry::RegistryImage>, AwsError>),
    /// A deploy or rollback worked out, to be confirmed.
    Plan(Result<Plan, AwsError>),
    /// The Logs pane's lines were saved: what to tell the user.
    LogsSaved(Result<String, String>),
    /// What earlier runs left behind, found at start: how many restores were
    /// cut short, and the other leftovers in words.
    Leftovers {
        restores: usize,
        others: Vec<String>,
    },
    /// What a restore would replace (the confirmation's lines), or why it cannot be done.
    RestorePreview {
        job: Box<RestoreJob>,
        result: Result<Vec<String>, String>,
    },
    /// What a sync would do, or why it cannot be worked out.
    SyncPlan {
        job: Box<SyncJob>,
        result: Result<SyncPlan, String>,
    },
    /// A console ready to attach, or why it cannot be opened (in words, with what it was).
    Console(Result<Console, String>),
    Buckets(Result<Vec<String>, AwsError>),
    ServiceNames(Result<Vec<String>, AwsError>),
    InitPlan {
        job: Box<crate::jobs::init::InitJob>,
        result: Result<crate::jobs::init::InitPlan, AwsError>,
    },
    SwitchChoices(Result<Choices, String>),
    ContainerDetail {
        setup: Setup,
        result: Result<ContainerDetail, String>,
    },
    /// What a remote backup would run (its snapshot's id chosen), or why it cannot.
    RemotePreview {
        job: Box<crate::jobs::RemoteBackupJob>,
        result: Result<Vec<String>, String>,
    },
    /// The bucket a set-up asked for, made (or why not).
    BucketCreated {
        setup: Setup,
        name: String,
        result: Result<(), String>,
    },
    /// The databases of the server a set-up picked, for its list.
    Databases {
        setup: Setup,
        result: Result<Vec<crate::jobs::databases::DatabaseInfo>, String>,
    },
    /// What saving a set-up writes, and the profile's lines as they will read.
    SetupPreview {
        result: Result<(SavePlan, Vec<String>), String>,
    },
    /// The set-up's choices are in the file (or why not).
    SettingsSaved {
        plan: Box<SavePlan>,
        result: Result<(), String>,
    },
}
