//! Run: the profile's database container, created from an image on a machine
//! that has none — its data on a named volume, its ports, environment and
//! command from the container of the same name in the profile's ECS task
//! definition (ports on 127.0.0.1 only; plain variables, never secrets), else
//! from the image. With a snapshot: a directory snapshot fills the volume
//! before the first start; a dump goes in once the server answers its
//! preset's readiness check. Whatever fails or is cancelled, what the run
//! created is removed again.

use std::time::Duration;

use serde_json::json;

use super::lock::{self, Wait};
use super::restore::{RestoreError, RestoreJob};
use super::{Cancelled, JobContext, JobError, JobOutput, Progress, argv, mssql, mysql};
use crate::aws::{AwsClients, ecs};
use crate::config::{Preset, Settings};
use crate::docker::{DockerError, Engine, ImageDetail, RunSpec};

/// How long a database may take to answer after its first start (an
/// initialisation of a new data directory included).
const READY_WITHIN: Duration = Duration::from_secs(180);

/// How long a started container must keep running to count as started.
const STILL_RUNNING_AFTER: Duration = Duration::from_millis(500);

/// The ECS service whose task definition the container is modelled on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    pub cluster: String,
    pub service: String,
    /// Container names to look for in it, in order (else its only container).
    pub names: Vec<String>,
}

/// Create and start `container` from `image`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunJob {
    pub image: String,
    pub container: String,
    /// How data leaves and enters it: also which readiness check says the server is up.
    pub preset: Preset,
    /// Where the data lives in the container (`database.path`): the volume's mount point.
    pub path: String,
    pub service: Option<ServiceRef>,
    /// The snapshot to fill it with: a restore into the new container.
    pub restore: Option<Box<RestoreJob>>,
    /// The database user a readiness check connects as, and the database a
    /// dump goes into (created first when the new server lacks it).
    pub user: Option<String>,
    pub database: Option<String>,
    pub docker_host: Option<String>,
    /// Whether to wait while another operation holds the container.
    pub wait: Wait,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "a container `{0}` exists already: `wharf sync` brings it to the head of the line, `wharf restore` fills it"
    )]
    Exists(String),
    #[error("no local image `{0}`: `wharf pull` it first")]
    NoImage(String),
    #[error("{container} did not answer `{check}` within {seconds} s")]
    NotReady { container: String, check: String, seconds: u64 },
    #[error("{0} stopped as soon as it started (exit code {1}); what the run made is removed again")]
    Stopped(String, i64),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Restore(#[from] RestoreError),
}

/// The named volume a run keeps `container`'s data on.
pub fn volume_for(container: &str) -> String {
    format!("{container}-data")
}

impl RunJob {
    /// A run of the profile's database container (else `container`) from
    /// `image`, modelled on the profile's service; the error says what is missing.
    pub fn from_settings(
        settings: &Settings,
        image: String,
        container: Option<String>,
    ) -> Result<RunJob, String> {
        let database = settings.profile.database.clone().unwrap_or_default();
        let container = container
            .or(database.container.clone())
            .ok_or("no container to run: give --container, or set database.container in wharf.toml")?;
        let preset = database.preset.unwrap_or(Preset::Path);
        let path = database.path.clone().or_else(|| data_directory(preset).map(str::to_string)).ok_or(
            "where does the database keep its data? set database.path in wharf.toml (it goes on a named volume)",
        )?;
        let profile = &settings.profile;
        let service = match (&profile.cluster, &profile.service) {
            (Some(cluster), Some(service)) => Some(ServiceRef {
                cluster: cluster.clone(),
                service: service.clone(),
                names: [Some(container.clone()), profile.container.clone()].into_iter().flatten().collect(),
            }),
            _ => None,
        };
        Ok(RunJob {
            image,
            container,
            preset,
            path,
            service,
            restore: None,
            user: database.user,
            database: database.name,
            docker_host: settings.docker_host.clone(),
            wait: Wait::Yes,
        })
    }

    pub async fn run(self, ctx: JobContext, aws: Option<AwsClients>) -> Result<JobOutput, JobError> {
        let doing = |name: &str| format!("a run is making {name}");
        let _lock =
            lock::take_for(self.docker_host.as_deref(), &self.container, doing, self.wait, &ctx).await?;
        match self.create_and_start(&ctx, aws.as_ref()).await {
            Ok(output) => Ok(output),
            Err(RunError::Restore(RestoreError::Cancelled)) => Err(Cancelled.into()),
            Err(e) => Err(e.into()),
        }
    }

    /// The run, for sync (which holds the container's lock).
    pub(crate) async fn create_and_start(
        &self,
        ctx: &JobContext,
        aws: Option<&AwsClients>,
    ) -> Result<JobOutput, RunError> {
        ctx.progress(Progress::stage("connecting to the engine"));
        let engine = Engine::connect(self.docker_host.as_deref()).await?;
        match engine.container(&self.container).await {
            Ok(_) => return Err(RunError::Exists(self.container.clone())),
            Err(DockerError::NoSuchContainer(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let image = engine.image(&self.image).await?.ok_or_else(|| RunError::NoImage(self.image.clone()))?;
        let volume = volume_for(&self.container);
        let (mut spec, from) = self.blueprint(ctx, aws, &image).await;
        spec.volume = volume.clone();
        // A volume that is already there may hold somebody's data: it is used, and never removed.
        let new_volume = !engine.volume_exists(&volume).await?;
        engine.create_volume(&volume).await?;
        // Not raced against the cancel: a restore under way sees it and puts back what it replaced.
        let outcome = match engine.create_database(&spec).await {
            Ok(_) => self.fill_and_start(ctx, aws, &engine).await,
            Err(e) => Err(e.into()),
        };
        let restored = match outcome {
            Ok(restored) => restored,
            Err(e) => {
                // Nothing of the user's is in what this run made: take it all away again.
                let _ = engine.remove(&self.container).await;
                if new_volume {
                    let _ = engine.remove_volume(&volume).await;
                }
                return Err(e);
            }
        };
        let mut ports = Vec::new();
        for (_, inside, protocol) in &spec.ports {
            let key = format!("{inside}/{protocol}");
            if let Some(outside) = engine.published(&self.container, &key).await? {
                ports.push(json!({"container": key, "host": format!("127.0.0.1:{outside}")}));
            }
        }
        let published: Vec<String> = ports
            .iter()
            .filter_map(|p| Some(format!("{} → {}", p["host"].as_str()?, p["container"].as_str()?)))
            .collect();
        let kept = if new_volume { "" } else { " (there before: kept as it was)" };
        let mut summary =
            format!("{} runs {} with its data on volume {volume}{kept}", self.container, self.image);
        if !published.is_empty() {
            summary.push_str(&format!("; ports {}", published.join(", ")));
        }
        summary.push_str(&format!("; set up from {from}"));
        if let Some(r) = &restored {
            summary.push_str(&format!("; {} restored", r.json["id"].as_str().unwrap_or("the snapshot")));
        }
        Ok(JobOutput {
            summary,
            copy: None,
            attention: None,
            json: json!({
                "container": self.container,
                "image": self.image,
                "volume": volume,
                "volume_was_there": !new_volume,
                "ports": ports,
                "from": from,
                "snapshot": restored.as_ref().map(|r| r.json["id"].clone()),
            }),
        })
    }

    /// Ports, environment and command: from the service's task definition when
    /// it has this container, else from the image; and where they came from.
    pub(crate) async fn blueprint(
        &self,
        ctx: &JobContext,
        aws: Option<&AwsClients>,
        image: &ImageDetail,
    ) -> (RunSpec, String) {
        let mut spec = RunSpec {
            name: self.container.clone(),
            image: self.image.clone(),
            path: self.path.clone(),
            ..RunSpec::default()
        };
        let mut from = "the image".to_string();
        let defined = match (&self.service, aws) {
            (Some(s), Some(aws)) => {
                ctx.progress(Progress::stage(format!("reading {}'s task definition", s.service)));
                let names: Vec<&str> = s.names.iter().map(String::as_str).collect();
                match ecs::service_container(&aws.ecs, &s.cluster, &s.service, &names).await {
                    Ok(found) => found,
                    Err(e) => {
                        from = format!("the image (the task definition: {})", crate::error::one_line(&e));
                        None
                    }
                }
            }
            _ => None,
        };
        match defined {
            Some(c) => {
                from = format!("container {} of {}", c.name, c.definition);
                spec.ports = c.ports;
                spec.environment = c.environment;
                spec.entry_point = c.entry_point;
                spec.command = c.command;
            }
            None => {
                spec.ports = image
                    .exposed_ports
                    .iter()
                    .filter_map(|p| {
                        let (port, protocol) = p.split_once('/').unwrap_or((p, "tcp"));
                        let port = port.parse().ok()?;
                        Some((port, port, protocol.to_string()))
                    })
                    .collect();
            }
        }
        // A port already taken here (another database, the other machine's
        // container on one engine) is published where the engine finds room.
        // Only known for an engine on this machine; another one says so when it starts.
        if crate::docker::on_this_machine(self.docker_host.as_deref()) {
            for port in &mut spec.ports {
                if port.2 == "tcp" && std::net::TcpListener::bind(("127.0.0.1", port.0)).is_err() {
                    port.0 = 0;
                }
            }
        }
        (spec, from)
    }

    /// Puts the snapshot in (before the first start for a directory, after the
    /// server answers for a dump) and starts the container.
    async fn fill_and_start(
        &self,
        ctx: &JobContext,
        aws: Option<&AwsClients>,
        engine: &Engine,
    ) -> Result<Option<JobOutput>, RunError> {
        let Some(restore) = &self.restore else {
            self.start(ctx, engine).await?;
            return Ok(None);
        };
        let manifest = restore.manifest(ctx, aws).await?;
        if manifest.content == "tar" {
            let restored = restore.restore(ctx, aws).await?;
            self.start(ctx, engine).await?;
            return Ok(Some(restored));
        }
        self.start(ctx, engine).await?;
        // A preset a newer wharf wrote and this one does not know: no check, no database made.
        let preset = manifest.preset.parse::<Preset>().unwrap_or(Preset::Custom);
        self.ready(ctx, engine, preset).await?;
        let database = manifest.database.as_deref().or(self.database.as_deref());
        self.create_database(engine, preset, database).await?;
        Ok(Some(restore.restore(ctx, aws).await?))
    }

    /// Starts the container, and says so if it stops again at once (an image
    /// whose command ends, a server that cannot read its data).
    async fn start(&self, ctx: &JobContext, engine: &Engine) -> Result<(), RunError> {
        ctx.progress(Progress::stage(format!("starting {}", self.container)));
        engine.start(&self.container).await?;
        tokio::time::sleep(STILL_RUNNING_AFTER).await;
        let state = engine.container(&self.container).await?;
        if !state.running {
            return Err(RunError::Stopped(self.container.clone(), state.exit_code));
        }
        Ok(())
    }

    /// Waits until the server answers its preset's readiness check.
    pub(crate) async fn ready(
        &self,
        ctx: &JobContext,
        engine: &Engine,
        preset: Preset,
    ) -> Result<(), RunError> {
        let checks: Vec<Vec<String>> = match preset {
            Preset::Postgres => vec![argv(&["pg_isready", "-q", "-h", "127.0.0.1"])],
            Preset::Mysql => vec![
                argv(&["mariadb-admin", "ping", "-h", "127.0.0.1", "--silent"]),
                argv(&["mysqladmin", "ping", "-h", "127.0.0.1", "--silent"]),
            ],
            _ => vec![],
        };
        let check = match preset {
            Preset::Mssql => "sqlcmd … SELECT 1".to_string(),
            _ => checks.first().map(|c| c.join(" ")).unwrap_or_default(),
        };
        if check.is_empty() {
            return Ok(());
        }
        ctx.progress(Progress::stage(format!("waiting for {} to answer `{check}`", self.container)));
        let started = tokio::time::Instant::now();
        loop {
            let answered = if preset == Preset::Mssql {
                mssql::ready(engine, &self.container, self.user.as_deref().unwrap_or("sa")).await.is_ok()
            } else {
                let mut any = false;
                for c in &checks {
                    if engine.exec(&self.container, c).await.is_ok() {
                        any = true;
                        break;
                    }
                }
                any
            };
            if answered {
                return Ok(());
            }
            let state = engine.container(&self.container).await?;
            if !state.running {
                return Err(RunError::Stopped(self.container.clone(), state.exit_code));
            }
            if ctx.cancel.is_cancelled() {
                return Err(RunError::Restore(RestoreError::Cancelled));
            }
            if started.elapsed() > READY_WITHIN {
                return Err(RunError::NotReady {
                    container: self.container.clone(),
                    check,
                    seconds: READY_WITHIN.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Where the official images of a preset's server keep their data.
pub fn data_directory(preset: Preset) -> Option<&'static str> {
    match preset {
        Preset::Postgres => Some("/var/lib/postgresql/data"),
        Preset::Mysql => Some("/var/lib/mysql"),
        Preset::Mssql => Some("/var/opt/mssql"),
        Preset::Path | Preset::Custom => None,
    }
}

impl RunJob {
    /// A new server has only its own databases: the one the dump goes into
    /// (and the restore's safety copy reads) is created first. A dump of
    /// every database (`*`) makes its own.
    async fn create_database(
        &self,
        engine: &Engine,
        preset: Preset,
        database: Option<&str>,
    ) -> Result<(), RunError> {
        let argv = match (preset, database.filter(|d| *d != super::databases::ALL)) {
            (Preset::Postgres, Some(name)) => {
                let user = self.user.as_deref().unwrap_or("postgres");
                let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
                argv(&["psql", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", "postgres", "-c", &sql])
            }
            (Preset::Mysql, Some(name)) => {
                let user = self.user.as_deref().unwrap_or("root");
                let sql = format!("CREATE DATABASE IF NOT EXISTS `{}`", name.replace('`', "``"));
                argv(&["mysql", "-u", user, "-e", &sql])
            }
            _ => return Ok(()),
        };
        let env = mysql::client_env(engine, &self.container, preset, &argv).await?;
        match engine.exec_env(&self.container, &argv, &env).await {
            Err(DockerError::Command { stderr, .. }) if stderr.contains("already exists") => Ok(()),
            other => Ok(other?),
        }
    }
}
