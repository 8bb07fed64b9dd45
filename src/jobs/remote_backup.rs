//! Remote backup: how data leaves a database that runs in ECS. A one-off task
//! of the service's task definition runs the profile's `remote_backup_command`
//! (which writes the zstd-compressed dump to the snapshot's key itself); wharf
//! follows its logs, waits for it to stop, checks its exit code and the object
//! in S3, reads the object back once to record its SHA-256 (and to check that it
//! is a whole zstd stream), and only then writes the manifest.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{Cancelled, JobContext, JobError, JobOutput, NoAws, Progress};
use crate::aws::ecs::{self, StartedTask};
use crate::aws::logs;
use crate::aws::s3;
use crate::aws::{AwsClients, AwsError};
use crate::config::{Preset, Settings, StorageClass};
use crate::format;
use crate::snapshots::{self, Manifest, Source};
use tokio_util::io::{StreamReader, SyncIoBridge};

/// Lines of the task's log kept for the Jobs pane and for a failure's message.
const LOG_TAIL: usize = 8;

/// Run `command` (with `{bucket}`, `{key}`, `{id}`, `{storage_class}` filled
/// in) as a one-off task of `service` on `cluster`, and record what it stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteBackupJob {
    pub cluster: String,
    pub service: String,
    /// The container whose command is replaced (else the first essential one).
    pub container: Option<String>,
    pub command: Vec<String>,
    /// How a restore applies it (the profile's database preset).
    pub preset: Preset,
    pub bucket: String,
    /// Normalised (empty or ending in `/`).
    pub prefix: String,
    pub storage_class: StorageClass,
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
        let command = profile.remote_backup_command.clone().filter(|c| !c.is_empty()).ok_or(
            "no remote_backup_command in wharf.toml: the argument vector the task runs, writing to s3://{bucket}/{key}",
        )?;
        if !command.iter().any(|a| a.contains("{key}")) {
            return Err(
                "remote_backup_command never mentions {key}: the task would not know where to write".into()
            );
        }
        Ok(RemoteBackupJob {
            cluster,
            service,
            container: profile.container.clone(),
            command,
            preset: profile.database.as_ref().and_then(|d| d.preset).unwrap_or(Preset::Custom),
            bucket,
            prefix,
            storage_class: storage_class.or(profile.storage_class).unwrap_or(StorageClass::Standard),
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
    #[error(
        "the backup task {task} exited 0 but wrote nothing to s3://{bucket}/{key}; check remote_backup_command"
    )]
    NothingStored { task: String, bucket: String, key: String },
    #[error(
        "s3://{bucket}/{key} is not a whole zstd stream ({why}); remote_backup_command must compress with zstd"
    )]
    NotZstd { bucket: String, key: String, why: String },
}

fn tail(log: &[String]) -> String {
    if log.is_empty() { String::new() } else { format!("; its last lines: {}", log.join(" | ")) }
}

/// `template` with the snapshot's place filled in. The command usually
/// reaches a shell (`sh -c "… {key}"`), so every value is checked to hold only
/// letters, digits, `.`, `_`, `-` and `/`: a bucket or prefix with anything
/// else (a quote, a space, `$`, `;`) is refused, never quoted around.
pub fn fill(
    template: &[String],
    bucket: &str,
    key: &str,
    id: &str,
    class: StorageClass,
) -> Result<Vec<String>, RemoteBackupError> {
    for (name, value) in [("bucket", bucket), ("key", key), ("id", id)] {
        if let Some(bad) = value.chars().find(|c| !(c.is_ascii_alphanumeric() || "._-/".contains(*c))) {
            return Err(RemoteBackupError::Unsafe { name: name.into(), value: value.into(), bad });
        }
    }
    Ok(template
        .iter()
        .map(|arg| {
            arg.replace("{bucket}", bucket)
                .replace("{key}", key)
                .replace("{id}", id)
                .replace("{storage_class}", class.as_str())
        })
        .collect())
}

impl RemoteBackupJob {
    pub async fn run(self, ctx: JobContext, aws: Option<AwsClients>) -> Result<JobOutput, JobError> {
        let aws = aws.ok_or(NoAws)?;
        let now = crate::time::unix_now();
        let id = snapshots::new_id(now, &self.service, &snapshots::host_name());
        let key = snapshots::data_key(&self.prefix, &id, "dump");
        let command = fill(&self.command, &self.bucket, &key, &id, self.storage_class)?;
        ctx.progress(Progress::stage(format!("starting a task of {} on {}", self.service, self.cluster)));
        let task = ecs::run_one_off(
            &aws.ecs,
            &self.cluster,
            &self.service,
            self.container.as_deref(),
            command,
            "wharf-backup",
        )
        .await
        .map_err(RemoteBackupError::from)?;

        let watched = tokio::select! {
            _ = ctx.cancel.cancelled() => Err(JobError::from(Cancelled)),
            r = self.watch(&ctx, &aws, &task) => r.map_err(JobError::from),
        };
        if let Err(e) = watched {
            // Cancelled or given up on: the task must not go on writing.
            if !matches!(e.downcast_ref::<RemoteBackupError>(), Some(RemoteBackupError::Failed { .. })) {
                let _ = ecs::stop_task(&aws.ecs, &self.cluster, &task.arn, "stopped by wharf").await;
            }
            return Err(e);
        }

        ctx.progress(Progress::stage("checking the object in S3"));
        let object = match s3::head(&aws.s3, &self.bucket, &key).await {
            Ok(o) => o,
            Err(AwsError::NotFound(_)) => {
                return Err(RemoteBackupError::NothingStored {
                    task: task.id.clone(),
                    bucket: self.bucket.clone(),
                    key,
                }
                .into());
            }
            Err(e) => return Err(RemoteBackupError::from(e).into()),
        };
        let (sha256, raw_bytes) = tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(Cancelled.into()),
            r = self.read_back(&ctx, &aws, &key, object.size) => r?,
        };

        let manifest = Manifest {
            format: snapshots::FORMAT,
            id: id.clone(),
            created: snapshots::rfc3339(now),
            source: Source {
                kind: "ecs_task".into(),
                name: format!("{}/{} task {}", self.cluster, self.service, task.id),
                image: task.image.clone(),
                image_id: task.task_definition.clone(),
                path: None,
            },
            preset: self.preset.as_str().into(),
            content: "dump".into(),
            compression: "zstd".into(),
            key: key.clone(),
            raw_bytes,
            stored_bytes: object.size,
            sha256: sha256.clone(),
            storage_class: object.storage_class.clone(),
            wharf_version: env!("CARGO_PKG_VERSION").into(),
            host: Some(snapshots::host_name()),
            parent: None,
            database: None,
        };
        let body = serde_json::to_vec_pretty(&manifest)?;
        s3::put(
            &aws.s3,
            &self.bucket,
            &snapshots::manifest_key(&self.prefix, &id),
            body,
            StorageClass::Standard,
        )
        .await
        .map_err(RemoteBackupError::from)?;
        Ok(JobOutput {
            attention: None,
            summary: format!(
                "{id}: task {} stored {} ({}) in s3://{}/{key}",
                task.id,
                format::bytes(object.size),
                object.storage_class,
                self.bucket
            ),
            copy: Some(id.clone()),
            json: json!({
                "id": id,
                "bucket": self.bucket,
                "key": key,
                "storage_class": object.storage_class,
                "raw_bytes": raw_bytes,
                "stored_bytes": object.size,
                "sha256": sha256,
                "task": task.arn,
            }),
        })
    }

    /// Follows the task and its log until it stops; fails unless it exited 0.
    async fn watch(
        &self,
        ctx: &JobContext,
        aws: &AwsClients,
        task: &StartedTask,
    ) -> Result<(), RemoteBackupError> {
        let started = tokio::time::Instant::now();
        let mut log: VecDeque<String> = VecDeque::new();
        let mut token = None;
        loop {
            let state = ecs::task_state(&aws.ecs, &self.cluster, &task.arn, &task.container).await?;
            if let Some(stream) = &task.logs {
                // A log that cannot be read is no reason to fail the backup.
                if let Ok((lines, next)) = logs::log_events(&aws.logs, stream, token.clone()).await {
                    token = next;
                    for line in lines {
                        log.push_back(line);
                        if log.len() > LOG_TAIL {
                            log.pop_front();
                        }
                    }
                }
            }
            ctx.progress(Progress {
                stage: format!("task {} of {}: {}", task.id, task.task_definition, state.last_status),
                detail: log.iter().cloned().collect(),
                ..Progress::default()
            });
            if state.last_status == "STOPPED" {
                return match state.exit_code {
                    Some(0) => Ok(()),
                    code => {
                        let status = match code {
                            Some(c) => format!("exit code {c}"),
                            None => "no exit code".to_string(),
                        };
                        let why = [state.stopped_reason, state.container_reason]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>();
                        let status =
                            if why.is_empty() { status } else { format!("{status} ({})", why.join("; ")) };
                        Err(RemoteBackupError::Failed { task: task.id.clone(), status, log: log.into() })
                    }
                };
            }
            if started.elapsed() > self.timeout {
                return Err(RemoteBackupError::TimedOut { task: task.id.clone(), timeout: self.timeout });
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Reads the object once: its SHA-256, and the size it decompresses to
    /// (which also shows it is a whole zstd stream).
    async fn read_back(
        &self,
        ctx: &JobContext,
        aws: &AwsClients,
        key: &str,
        size: u64,
    ) -> Result<(String, u64), JobError> {
        let (tx, rx) = mpsc::channel::<Bytes>(2);
        // The decoder reads on a blocking thread from what the download hands over.
        let chunks = futures::stream::unfold(rx, |mut rx| async {
            Some((Ok::<_, std::io::Error>(rx.recv().await?), rx))
        })
        .boxed();
        let mut reader = SyncIoBridge::new(StreamReader::new(chunks));
        let counter = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
            let mut decoder = zstd::stream::read::Decoder::new(&mut reader)?;
            std::io::copy(&mut decoder, &mut std::io::sink())
        });
        let mut hasher = Sha256::new();
        let mut done = 0;
        let mut chunks = std::pin::pin!(s3::download(&aws.s3, &self.bucket, key, size));
        let mut tx = Some(tx);
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(RemoteBackupError::from)?;
            hasher.update(&chunk);
            done += chunk.len() as u64;
            if let Some(t) = &tx
                && t.send(chunk).await.is_err()
            {
                tx = None; // The decoder stopped; its error says why.
            }
            ctx.progress(Progress {
                stage: "reading the snapshot back to record its SHA-256".into(),
                done,
                total: Some(size),
                bytes: true,
                detail: vec![],
            });
        }
        drop(tx);
        let raw = counter.await.map_err(|e| JobError::from(e.to_string()))?.map_err(|e| {
            RemoteBackupError::NotZstd {
                bucket: self.bucket.clone(),
                key: key.to_string(),
                why: e.to_string(),
            }
        })?;
        Ok((format!("{:x}", hasher.finalize()), raw))
    }
}
