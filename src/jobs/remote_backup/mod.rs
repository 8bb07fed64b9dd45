//! Remote backup: the database that runs in ECS, backed up to a snapshot.
//!
//! For the `postgres` and `mysql` presets nothing needs to be written by
//! hand (`task.rs`): a backup task of two containers that share a volume —
//! the service's own database image running only its client against the
//! address of the task that runs the database now, with the credentials the
//! service's container has (the same variable names and secret references,
//! never copied values), and an uploader (the AWS CLI's image) that sends the
//! dump to the snapshot's key once the dump has exited 0 — started in the
//! service's network, with a role allowed to write under the profile's
//! bucket and prefix alone.
//!
//! With a `remote_backup_command` (the `custom` preset, or an override) a
//! one-off task of the service's own task definition runs it (`custom.rs`).
//!
//! Either way, wharf follows the task, checks the object in S3, reads it
//! back once to record its SHA-256, and only then writes the manifest.

mod custom;
pub mod task;

use std::time::Duration;

use serde_json::json;

pub use custom::fill;
pub use task::{DEFAULT_UPLOADER, RemotePlan};

use super::{JobContext, JobError, JobOutput, NoAws};
use crate::aws::s3;
use crate::aws::{AwsClients, AwsError};
use crate::config::{Preset, Settings, StorageClass};
use crate::format;
use crate::snapshots::{self, Manifest, Source};

/// Lines of each container's log kept for the Jobs pane and for a failure's message.
const LOG_TAIL: usize = 8;

/// Back up the database `service` on `cluster` runs to a new snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteBackupJob {
    pub cluster: String,
    pub service: String,
    /// The service's database container (else its first essential one).
    pub container: Option<String>,
    /// `remote_backup_command`: run instead, in a one-off task of the
    /// service's own definition (`{bucket}`, `{key}`, `{id}`,
    /// `{storage_class}` filled in).
    pub command: Option<Vec<String>>,
    /// How the dump is taken and how a restore applies it.
    pub preset: Preset,
    /// The database user and name (else the service's own variables say).
    pub user: Option<String>,
    pub database: Option<String>,
    pub bucket: String,
    /// Normalised (empty or ending in `/`).
    pub prefix: String,
    pub storage_class: StorageClass,
    /// The role the backup task takes (`wharf init` makes it).
    pub role: String,
    /// The uploader container's image.
    pub uploader_image: String,
    /// Where the uploader sends to when the profile names an endpoint (an emulator).
    pub endpoint: Option<String>,
    /// The snapshot's id, when it was chosen for a plan shown first.
    pub id: Option<String>,
    /// How long the task may take.
    pub timeout: Duration,
    /// How often the task and its logs are looked at.
    pub poll: Duration,
}

impl RemoteBackupJob {
    /// The job the profile (and the flags over it) describe; the error says what is missing.
    pub fn from_settings(
        settings: &Settings,
        cluster: Option<String>,
        service: Option<String>,
        storage_class: Option<StorageClass>,
        bucket: String,
        prefix: String,
    ) -> Result<RemoteBackupJob, String> {
        let profile = &settings.profile;
        let cluster = cluster
            .or_else(|| profile.cluster.clone())
            .ok_or("no ECS cluster: give --cluster, or set cluster in wharf.toml")?;
        let service = service
            .or_else(|| profile.service.clone())
            .ok_or("no ECS service: give --service, or set service in wharf.toml")?;
        let database = profile.database.clone().unwrap_or_default();
        let preset = database.preset.unwrap_or(Preset::Custom);
        let command = profile.remote_backup_command.clone().filter(|c| !c.is_empty());
        match (&command, preset) {
            (Some(c), _) if !c.iter().any(|a| a.contains("{key}")) => {
                return Err(
                    "remote_backup_command never mentions {key}: the task would not know where to write"
                        .into(),
                );
            }
            (Some(_), _) | (None, Preset::Postgres | Preset::Mysql) => {}
            (None, Preset::Mssql) => {
                return Err(
                    "SQL Server's BACKUP writes to the server's own disk, which a second task cannot \
                            read: set remote_backup_command (writing the zstd-compressed backup to \
                            s3://{bucket}/{key}) for this service"
                        .into(),
                );
            }
            (None, _) => {
                return Err("no remote_backup_command in wharf.toml, and the database preset is neither \
                            postgres nor mysql (whose backups need none): set database.preset, or the \
                            argument vector the task runs, writing to s3://{bucket}/{key}"
                    .into());
            }
        }
        let name = settings.profile_name.as_deref().unwrap_or(crate::config::save::FIRST_PROFILE);
        Ok(RemoteBackupJob {
            cluster,
            service,
            container: profile.container.clone(),
            command,
            preset,
            user: database.user,
            database: database.name,
            bucket,
            prefix,
            storage_class: storage_class.or(profile.storage_class).unwrap_or(StorageClass::Standard),
            role: format!("wharf-{name}-backup"),
            uploader_image: profile.uploader_image.clone().unwrap_or_else(|| DEFAULT_UPLOADER.into()),
            endpoint: profile.endpoint_url.clone(),
            id: None,
            timeout: DEFAULT_TIMEOUT,
            poll: Duration::from_secs(2),
        })
    }
}

/// How long a remote backup task may run before it is stopped.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum RemoteBackupError {
    #[error("ECS/S3: {0}")]
    Aws(#[from] AwsError),
    #[error(
        "the {name} `{value}` has `{bad}` in it, which is not safe in remote_backup_command: only letters, \
         digits, '.', '_', '-' and '/' are filled in; nothing was started"
    )]
    Unsafe { name: String, value: String, bad: char },
    #[error("the backup task {task} stopped with {status}{}", tail(.log))]
    Failed { task: String, status: String, log: Vec<String> },
    #[error("the backup task {task} did not stop within {}; it was stopped", humantime::format_duration(*.timeout))]
    TimedOut { task: String, timeout: Duration },
    #[error("the backup task {task} exited 0 but wrote nothing to s3://{bucket}/{key}")]
    NothingStored { task: String, bucket: String, key: String },
    #[error(
        "s3://{bucket}/{key} is not a whole zstd stream ({why}); remote_backup_command must compress with zstd"
    )]
    NotZstd { bucket: String, key: String, why: String },
    #[error("{0}; nothing was started")]
    CannotStart(String),
}

fn tail(log: &[String]) -> String {
    if log.is_empty() { String::new() } else { format!("; its last lines: {}", log.join(" | ")) }
}

/// What the task stored, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub task: String,
    /// The database's image, and the task definition the task ran.
    pub image: String,
    pub task_definition: String,
    /// `none` (the dump as the client wrote it) or `zstd`.
    pub compression: &'static str,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    pub sha256: String,
    /// The database dumped (`*`: every one), for the dump presets.
    pub database: Option<String>,
}

impl RemoteBackupJob {
    /// What the backup will do, in words, before anything is started: the
    /// two containers, the address and the role (or the command, for a
    /// `remote_backup_command`). Chooses the snapshot's id the job then uses.
    pub async fn preview(&mut self, aws: &AwsClients) -> Result<Vec<String>, RemoteBackupError> {
        let id = self.id.get_or_insert_with(|| {
            snapshots::new_id(crate::time::unix_now(), &self.service, &snapshots::host_name())
        });
        let id = id.clone();
        match &self.command {
            Some(command) => Ok(vec![
                format!(
                    "a one-off task of {}'s own task definition in {}, running remote_backup_command:",
                    self.service, self.cluster
                ),
                format!(
                    "  {}",
                    fill(command, &self.bucket, &self.key(&id), &id, self.storage_class)?.join(" ")
                ),
            ]),
            None => Ok(self.plan(aws, &id).await?.lines(self)),
        }
    }

    /// The key its data goes to: `data.dump` as a client writes it, `data.dump.zst` from a command.
    pub fn key(&self, id: &str) -> String {
        let key = snapshots::data_key(&self.prefix, id, "dump");
        match self.command {
            Some(_) => key,
            None => key.trim_end_matches(".zst").to_string(),
        }
    }

    pub async fn run(self, ctx: JobContext, aws: Option<AwsClients>) -> Result<JobOutput, JobError> {
        let aws = aws.ok_or(NoAws)?;
        let now = crate::time::unix_now();
        let id =
            self.id.clone().unwrap_or_else(|| snapshots::new_id(now, &self.service, &snapshots::host_name()));
        let key = self.key(&id);
        let stored = match &self.command {
            Some(command) => self.run_command(&ctx, &aws, command, &id, &key).await?,
            None => {
                let plan = self.plan(&aws, &id).await?;
                self.run_task(&ctx, &aws, &plan).await?
            }
        };
        self.record(&aws, now, &id, &key, stored).await
    }

    /// The size of what the task stored under `key`, or why nothing is there.
    async fn stored_size(&self, aws: &AwsClients, task: &str, key: &str) -> Result<u64, RemoteBackupError> {
        match s3::head(&aws.s3, &self.bucket, key).await {
            Ok(o) => Ok(o.size),
            Err(AwsError::NotFound(_)) => Err(RemoteBackupError::NothingStored {
                task: task.to_string(),
                bucket: self.bucket.clone(),
                key: key.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// The manifest, written once what the task stored is read back.
    pub async fn record(
        &self,
        aws: &AwsClients,
        now: i64,
        id: &str,
        key: &str,
        stored: Stored,
    ) -> Result<JobOutput, JobError> {
        let object = s3::head(&aws.s3, &self.bucket, key).await.map_err(RemoteBackupError::from)?;
        let manifest = Manifest {
            format: snapshots::WHOLE,
            id: id.to_string(),
            created: snapshots::rfc3339(now),
            source: Source {
                kind: "ecs_task".into(),
                name: format!("{}/{} task {}", self.cluster, self.service, stored.task),
                image: stored.image.clone(),
                image_id: stored.task_definition.clone(),
                path: None,
            },
            preset: self.preset.as_str().into(),
            content: "dump".into(),
            compression: stored.compression.into(),
            key: key.to_string(),
            raw_bytes: stored.raw_bytes,
            stored_bytes: stored.stored_bytes,
            sha256: stored.sha256.clone(),
            storage_class: object.storage_class.clone(),
            wharf_version: env!("CARGO_PKG_VERSION").into(),
            host: Some(snapshots::host_name()),
            parent: None,
            database: stored.database.clone(),
            chunks: Vec::new(),
            new_bytes: None,
            new_chunks: None,
        };
        let body = serde_json::to_vec_pretty(&manifest)?;
        let manifest_key = snapshots::manifest_key(&self.prefix, id);
        s3::put(&aws.s3, &self.bucket, &manifest_key, body, StorageClass::Standard)
            .await
            .map_err(RemoteBackupError::from)?;
        Ok(JobOutput {
            attention: None,
            summary: format!(
                "{id}: task {} stored {} ({}) in s3://{}/{key}",
                stored.task,
                format::bytes(stored.stored_bytes),
                object.storage_class,
                self.bucket
            ),
            copy: Some(id.to_string()),
            json: json!({
                "id": id,
                "bucket": self.bucket,
                "key": key,
                "storage_class": object.storage_class,
                "raw_bytes": stored.raw_bytes,
                "stored_bytes": stored.stored_bytes,
                "sha256": stored.sha256,
                "compression": stored.compression,
                "task": stored.task,
            }),
        })
    }
}
