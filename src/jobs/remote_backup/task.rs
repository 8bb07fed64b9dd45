//! The backup task for the `postgres` and `mysql` presets, built from stock
//! images: the service's database image running only its client against the
//! address of the service's running task, writing the dump to a volume the
//! two containers share; and the AWS CLI's image sending it to S3 once the
//! dump exited 0 (a dump that fails never uploads).
//!
//! The definition holds nothing that changes from one backup to the next
//! (the address, the key): those go in as environment overrides when the
//! task is run, so the same revision serves every backup until the service
//! or the settings change.

use std::collections::{BTreeMap, VecDeque};

use sha2::{Digest, Sha256};

use super::{LOG_TAIL, RemoteBackupError, RemoteBackupJob, Stored};
use crate::aws::ecs::backup::{self, ContainerState};
use crate::aws::{AwsClients, logs, s3};
use crate::config::Preset;
use crate::jobs::{Cancelled, JobContext, JobError, Progress};
use crate::model::ecs::{BackupContainer, BackupTask, ServiceDatabase};
use crate::model::logs::LogStream;

/// The AWS CLI's own image, a version that is known to work; `uploader_image` overrides it.
pub const DEFAULT_UPLOADER: &str = "amazon/aws-cli:2.17.0";
/// The volume both containers share, and where they see it.
pub const VOLUME: &str = "wharf-dump";
pub const MOUNT: &str = "/wharf";
/// The containers' names.
pub const DUMP: &str = "dump";
pub const UPLOAD: &str = "upload";

/// The dump commands: POSIX shell, every value from the environment (never
/// pasted into the text), the password under the client's own variable.
const PG_DUMP: &str = r#"export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"; exec pg_dump -Fc -h "$WHARF_DB_HOST" -p "$WHARF_DB_PORT" -U "$WHARF_DB_USER" -d "$WHARF_DB_NAME" -f /wharf/dump"#;
const PG_DUMPALL: &str = r#"export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"; exec pg_dumpall --clean --if-exists -h "$WHARF_DB_HOST" -p "$WHARF_DB_PORT" -U "$WHARF_DB_USER" -f /wharf/dump"#;
const MYSQLDUMP: &str = r#"export MYSQL_PWD="${MYSQL_PWD:-${MARIADB_ROOT_PASSWORD:-$MYSQL_ROOT_PASSWORD}}"; d=$(command -v mariadb-dump || command -v mysqldump); exec "$d" --single-transaction --routines -h "$WHARF_DB_HOST" -P "$WHARF_DB_PORT" -u "$WHARF_DB_USER" --result-file=/wharf/dump "$WHARF_DB_NAME""#;
const MYSQLDUMP_ALL: &str = r#"export MYSQL_PWD="${MYSQL_PWD:-${MARIADB_ROOT_PASSWORD:-$MYSQL_ROOT_PASSWORD}}"; d=$(command -v mariadb-dump || command -v mysqldump); exec "$d" --all-databases --single-transaction --routines --events -h "$WHARF_DB_HOST" -P "$WHARF_DB_PORT" -u "$WHARF_DB_USER" --result-file=/wharf/dump"#;
/// The upload: the dump whole, to the key, in the storage class (and to an endpoint when one is named).
const UPLOAD_CMD: &str = r#"exec aws s3 cp /wharf/dump "s3://$WHARF_BUCKET/$WHARF_KEY" --storage-class "$WHARF_STORAGE_CLASS" --only-show-errors ${WHARF_ENDPOINT:+--endpoint-url "$WHARF_ENDPOINT"}"#;

/// A remote backup worked out: the task as it will be defined, what goes in
/// at its start, and the service it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePlan {
    pub service: ServiceDatabase,
    pub task: BackupTask,
    /// Per container: the variables set when the task is run.
    pub overrides: Vec<(String, Vec<(String, String)>)>,
    /// The running task's address and the database's port, user and name.
    pub address: String,
    pub port: u16,
    pub user: String,
    pub database: String,
    pub key: String,
}

impl RemotePlan {
    /// The plan in words, shown before the task is started.
    pub fn lines(&self, job: &RemoteBackupJob) -> Vec<String> {
        let s = &self.service;
        let names =
            |vars: &[(String, String)]| vars.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ");
        let client = match job.preset {
            Preset::Mysql => "mysqldump",
            _ if self.database == crate::jobs::databases::ALL => "pg_dumpall",
            _ => "pg_dump -Fc",
        };
        vec![
            format!(
                "backup task {} in {}'s network ({} subnet{}, groups {}{}), taking role {}",
                self.task.family,
                s.service,
                s.subnets.len(),
                if s.subnets.len() == 1 { "" } else { "s" },
                s.security_groups.join(", "),
                if s.public_ip { ", a public IP" } else { "" },
                job.role
            ),
            format!(
                "  dump:   {} runs {client} of {} as {} against task {} of {} at {}:{}, with its variables ({}) and secrets ({})",
                s.image,
                self.database,
                self.user,
                s.running.as_ref().map_or("?", |(arn, _)| arn.rsplit('/').next().unwrap_or(arn)),
                s.service,
                self.address,
                self.port,
                if s.environment.is_empty() { "none".into() } else { names(&s.environment) },
                if s.secrets.is_empty() { "none".into() } else { names(&s.secrets) },
            ),
            format!(
                "  upload: {} sends it to s3://{}/{} ({}) once the dump exited 0",
                job.uploader_image,
                job.bucket,
                self.key,
                job.storage_class.as_str()
            ),
            format!(
                "  role:   {} may s3:PutObject (and a multipart upload's calls) under s3://{}/{}* only; `wharf init` \
                 makes it, else give it, trusted by ecs-tasks.amazonaws.com, this policy:",
                job.role, job.bucket, job.prefix
            ),
            format!("          {}", crate::aws::init::backup_policy(&job.bucket, &job.prefix)),
        ]
    }
}

impl RemoteBackupJob {
    /// Works out the backup task for the snapshot `id`: reads the service
    /// and finds its running task; starts nothing.
    pub async fn plan(&self, aws: &AwsClients, id: &str) -> Result<RemotePlan, RemoteBackupError> {
        let service =
            backup::service_database(&aws.ecs, &self.cluster, &self.service, self.container.as_deref())
                .await?;
        self.plan_for(service, id)
    }

    /// The backup task for the snapshot `id` of `service`'s database.
    pub fn plan_for(&self, service: ServiceDatabase, id: &str) -> Result<RemotePlan, RemoteBackupError> {
        let (_, address) = service.running.clone().ok_or_else(|| {
            RemoteBackupError::CannotStart(format!(
                "service {} in {} has no running task: there is no database to back up from",
                self.service, self.cluster
            ))
        })?;
        let env = |name: &str| service.environment.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let (default_port, default_user) = match self.preset {
            Preset::Mysql => (3306, "root".to_string()),
            _ => (5432, env("POSTGRES_USER").unwrap_or_else(|| "postgres".into())),
        };
        let user = self.user.clone().unwrap_or(default_user);
        let database = self.database.clone().unwrap_or_else(|| match self.preset {
            Preset::Mysql => env("MARIADB_DATABASE")
                .or_else(|| env("MYSQL_DATABASE"))
                .unwrap_or_else(|| crate::jobs::databases::ALL.into()),
            _ => env("POSTGRES_DB").unwrap_or_else(|| user.clone()),
        });
        let port = service.port.unwrap_or(default_port);
        let all = database == crate::jobs::databases::ALL;
        let script = match (self.preset, all) {
            (Preset::Mysql, false) => MYSQLDUMP,
            (Preset::Mysql, true) => MYSQLDUMP_ALL,
            (_, false) => PG_DUMP,
            (_, true) => PG_DUMPALL,
        };
        // The task takes its role in the service's own account (its execution role's).
        let account = service
            .execution_role
            .as_deref()
            .and_then(|arn| arn.split(':').nth(4))
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                RemoteBackupError::CannotStart(format!(
                    "{}'s task definition has no execution role (it pulls the image and reads the secrets)",
                    service.task_definition
                ))
            })?;
        let shell = |text: &str| (vec!["sh".to_string(), "-c".to_string()], vec![text.to_string()]);
        let (dump_entry, dump_command) = shell(script);
        let mut dump_env = service.environment.clone();
        dump_env.extend([
            ("WHARF_DB_PORT".to_string(), port.to_string()),
            ("WHARF_DB_USER".to_string(), user.clone()),
            ("WHARF_DB_NAME".to_string(), database.clone()),
        ]);
        let (upload_entry, upload_command) = shell(UPLOAD_CMD);
        let region = service.log.as_ref().map(|(_, r)| r.clone()).filter(|r| !r.is_empty());
        let mount = (VOLUME.to_string(), MOUNT.to_string());
        // The uploader first: it is what says whether the backup is there (ECS reports it first).
        let containers = vec![
            BackupContainer {
                name: UPLOAD.into(),
                image: self.uploader_image.clone(),
                entry_point: upload_entry,
                command: upload_command,
                environment: region.iter().map(|r| ("AWS_DEFAULT_REGION".to_string(), r.clone())).collect(),
                secrets: Vec::new(),
                essential: true,
                user: None,
                after_success_of: Some(DUMP.into()),
                mount: mount.clone(),
            },
            BackupContainer {
                name: DUMP.into(),
                image: service.image.clone(),
                entry_point: dump_entry,
                command: dump_command,
                environment: dump_env,
                secrets: service.secrets.clone(),
                essential: false,
                // Root: a database image often runs as its own user, who may
                // not write to the task's fresh volume; the client needs no more.
                user: Some("0".into()),
                after_success_of: None,
                mount,
            },
        ];
        let key = self.key(id);
        let mut upload_env = vec![
            ("WHARF_BUCKET".to_string(), self.bucket.clone()),
            ("WHARF_KEY".to_string(), key.clone()),
            ("WHARF_STORAGE_CLASS".to_string(), self.storage_class.as_str().to_string()),
        ];
        upload_env.extend(self.endpoint.clone().map(|e| ("WHARF_ENDPOINT".to_string(), e)));
        Ok(RemotePlan {
            task: BackupTask {
                family: format!("wharf-backup-{}", self.service),
                containers,
                volume: VOLUME.into(),
                execution_role: service.execution_role.clone(),
                task_role: format!("arn:aws:iam::{account}:role/{}", self.role),
                log: service.log.clone(),
                cpu: 256,
                memory: 512,
            },
            overrides: vec![
                (DUMP.into(), vec![("WHARF_DB_HOST".to_string(), address.clone())]),
                (UPLOAD.into(), upload_env),
            ],
            address,
            port,
            user,
            database,
            key,
            service,
        })
    }

    /// Registers the task (when it changed), runs it, follows both
    /// containers, and reads back what it stored.
    pub(super) async fn run_task(
        &self,
        ctx: &JobContext,
        aws: &AwsClients,
        plan: &RemotePlan,
    ) -> Result<Stored, JobError> {
        ctx.progress(Progress::stage(format!("defining the backup task {}", plan.task.family)));
        let (definition, _) =
            backup::backup_definition(&aws.ecs, &plan.task).await.map_err(RemoteBackupError::from)?;
        ctx.progress(Progress::stage(format!("starting {} beside {}", plan.task.family, self.service)));
        let arn = backup::run_backup_task(&aws.ecs, &plan.service, &definition, &plan.overrides)
            .await
            .map_err(RemoteBackupError::from)?;
        let id = arn.rsplit('/').next().unwrap_or(&arn).to_string();
        let watched = tokio::select! {
            _ = ctx.cancel.cancelled() => Err(JobError::from(Cancelled)),
            r = self.watch_both(ctx, aws, plan, &arn, &id) => r.map_err(JobError::from),
        };
        if let Err(e) = watched {
            if !matches!(e.downcast_ref::<RemoteBackupError>(), Some(RemoteBackupError::Failed { .. })) {
                let _ = crate::aws::ecs::stop_task(&aws.ecs, &self.cluster, &arn, "stopped by wharf").await;
            }
            return Err(e);
        }
        let definition = definition.rsplit('/').next().unwrap_or(&definition).to_string();
        self.collect(ctx, aws, plan, &id, &definition).await
    }

    /// What task `task` (of the definition `definition`, `family:revision`)
    /// stored for `plan`, read back once for its SHA-256.
    pub async fn collect(
        &self,
        ctx: &JobContext,
        aws: &AwsClients,
        plan: &RemotePlan,
        task: &str,
        definition: &str,
    ) -> Result<Stored, JobError> {
        let size = self.stored_size(aws, task, &plan.key).await?;
        let sha256 = tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(Cancelled.into()),
            r = self.hash_back(ctx, aws, &plan.key, size) => r?,
        };
        Ok(Stored {
            task: task.to_string(),
            image: plan.service.image.clone(),
            task_definition: definition.to_string(),
            compression: "none",
            raw_bytes: size,
            stored_bytes: size,
            sha256,
            database: Some(plan.database.clone()),
        })
    }

    /// Follows the task and both containers' logs until it stops; fails
    /// unless the upload exited 0, with the failing container's last lines.
    async fn watch_both(
        &self,
        ctx: &JobContext,
        aws: &AwsClients,
        plan: &RemotePlan,
        arn: &str,
        id: &str,
    ) -> Result<(), RemoteBackupError> {
        let started = tokio::time::Instant::now();
        let mut lines: BTreeMap<&str, VecDeque<String>> = BTreeMap::new();
        let mut tokens: BTreeMap<&str, Option<String>> = BTreeMap::new();
        loop {
            let (status, stopped_reason, containers) =
                backup::task_containers(&aws.ecs, &self.cluster, arn).await?;
            if let Some((group, _)) = &plan.task.log {
                for name in [DUMP, UPLOAD] {
                    let stream =
                        LogStream { group: group.clone(), stream: format!("wharf-backup/{name}/{id}") };
                    // A log that cannot be read is no reason to fail the backup.
                    if let Ok((new, next)) =
                        logs::log_events(&aws.logs, &stream, tokens.get(name).cloned().flatten()).await
                    {
                        tokens.insert(name, next);
                        let kept = lines.entry(name).or_default();
                        for line in new {
                            kept.push_back(line);
                            if kept.len() > LOG_TAIL {
                                kept.pop_front();
                            }
                        }
                    }
                }
            }
            ctx.progress(Progress {
                stage: format!("task {id} of {}: {status}", plan.task.family),
                detail: lines
                    .iter()
                    .flat_map(|(name, l)| l.iter().map(move |line| format!("{name}: {line}")))
                    .collect(),
                ..Progress::default()
            });
            if status == "STOPPED" {
                return verdict(id, stopped_reason, &containers, &lines);
            }
            if started.elapsed() > self.timeout {
                return Err(RemoteBackupError::TimedOut { task: id.to_string(), timeout: self.timeout });
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Reads the object once for its SHA-256.
    async fn hash_back(
        &self,
        ctx: &JobContext,
        aws: &AwsClients,
        key: &str,
        size: u64,
    ) -> Result<String, JobError> {
        use futures::StreamExt;
        let mut hasher = Sha256::new();
        let mut done = 0;
        let mut chunks = std::pin::pin!(s3::download(&aws.s3, &self.bucket, key, size));
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(RemoteBackupError::from)?;
            hasher.update(&chunk);
            done += chunk.len() as u64;
            ctx.progress(Progress {
                stage: "reading the snapshot back to record its SHA-256".into(),
                done,
                total: Some(size),
                bytes: true,
                detail: vec![],
            });
        }
        Ok(format!("{:x}", hasher.finalize()))
    }
}

/// How the stopped task `id` went: the upload exited 0, or which container
/// failed and its last lines.
pub fn verdict(
    id: &str,
    stopped_reason: Option<String>,
    containers: &[ContainerState],
    lines: &BTreeMap<&str, VecDeque<String>>,
) -> Result<(), RemoteBackupError> {
    let of = |name: &str| containers.iter().find(|c| c.name == name);
    let log = |name: &str| lines.get(name).map(|l| l.iter().cloned().collect()).unwrap_or_default();
    if of(UPLOAD).and_then(|c| c.exit_code) == Some(0) {
        return Ok(());
    }
    let words = |c: &ContainerState, what: &str| {
        let code = c.exit_code.map_or("no exit code".to_string(), |code| format!("exit code {code}"));
        let why = c.reason.clone().or(stopped_reason.clone()).map(|r| format!(" ({r})")).unwrap_or_default();
        format!("{what} {code}{why}")
    };
    let (status, log) = match (of(DUMP), of(UPLOAD)) {
        (Some(dump), _) if dump.exit_code != Some(0) => (words(dump, "the dump failed:"), log(DUMP)),
        (_, Some(upload)) => (words(upload, "the upload failed:"), log(UPLOAD)),
        _ => (stopped_reason.clone().unwrap_or_else(|| "no container reported".into()), log(DUMP)),
    };
    Err(RemoteBackupError::Failed { task: id.to_string(), status, log })
}
