//! A remote backup with the profile's own `remote_backup_command` (the
//! `custom` preset, or an override of the others): a one-off task of the
//! service's own task definition runs it in place of the database's command,
//! and the command writes the zstd-compressed dump to the snapshot's key
//! itself. wharf follows its log, waits for it to stop, checks its exit code,
//! and reads the object back once (a whole zstd stream, its SHA-256).

use std::collections::VecDeque;

use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::{LOG_TAIL, RemoteBackupError, RemoteBackupJob, Stored};
use crate::aws::ecs::{self, StartedTask};
use crate::aws::{AwsClients, logs, s3};
use crate::config::StorageClass;
use crate::jobs::{Cancelled, JobContext, JobError, Progress};

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
    /// Runs `command` in a one-off task of the service; what it stored under `key`.
    pub(super) async fn run_command(
        &self,
        ctx: &JobContext,
        aws: &AwsClients,
        command: &[String],
        id: &str,
        key: &str,
    ) -> Result<Stored, JobError> {
        let command = fill(command, &self.bucket, key, id, self.storage_class)?;
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
            r = self.watch(ctx, aws, &task) => r.map_err(JobError::from),
        };
        if let Err(e) = watched {
            // Cancelled or given up on: the task must not go on writing.
            if !matches!(e.downcast_ref::<RemoteBackupError>(), Some(RemoteBackupError::Failed { .. })) {
                let _ = ecs::stop_task(&aws.ecs, &self.cluster, &task.arn, "stopped by wharf").await;
            }
            return Err(e);
        }
        let size = self.stored_size(aws, &task.id, key).await?;
        let (sha256, raw_bytes) = tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(Cancelled.into()),
            r = self.read_back(ctx, aws, key, size) => r?,
        };
        Ok(Stored {
            task: task.id.clone(),
            image: task.image.clone(),
            task_definition: task.task_definition.clone(),
            compression: "zstd",
            raw_bytes,
            stored_bytes: size,
            sha256,
            database: None,
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
