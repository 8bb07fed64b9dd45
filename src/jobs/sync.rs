//! Sync: this machine to the head of the loop in one step. The image is the
//! one the profile's ECS service runs (or a tag of the repository), pulled by
//! digest when it is not here; the data is the head of the line of history
//! (or a snapshot asked for). No container: it is run; a container on an
//! older image: it is recreated on the new one, keeping its data mount; data
//! that is not the wanted snapshot: restored (safely). Already there: nothing
//! is changed. [`SyncJob::plan`] works all of that out first, read-only, so
//! it can be shown (and `--dry-run` stops there).

use serde::Serialize;
use serde_json::json;

use super::lock::{self, Wait};
use super::pull::{PullJob, Wanted, resolve};
use super::restore::{RestoreError, RestoreJob, SnapshotSource};
use super::run::{RunError, RunJob, ServiceRef};
use super::{Cancelled, JobContext, JobError, JobOutput, NoAws, Progress};
use crate::aws::{AwsClients, AwsError, ecs};
use crate::config::Settings;
use crate::docker::{ContainerDetail, DockerError, Engine};
use crate::snapshots::line;

/// Which image this machine should run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// The one the service runs (its digest).
    Service(ServiceRef),
    /// A tag of the profile's repository.
    Tag { repository: String, tag: String },
}

/// Bring `run.container` to the wanted image and snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncJob {
    pub image: ImageSource,
    /// The snapshot to take; `None`: the head of the line.
    pub snapshot: Option<String>,
    pub bucket: String,
    pub prefix: String,
    /// Pull from this registry host instead of the one in the repository URI.
    pub registry: Option<crate::config::RegistryOverride>,
    /// How the container is run when it is missing or recreated (its `image`
    /// and `restore` are filled in by the plan).
    pub run: RunJob,
    /// How data is restored (its `source` is filled in by the plan).
    pub restore: RestoreJob,
    /// The plan shown before and confirmed: applied only if it still holds.
    pub plan: Option<SyncPlan>,
    /// Whether to wait while another operation holds the container.
    pub wait: Wait,
}

/// One thing a sync does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Pull {
        image: String,
    },
    Run {
        image: String,
        snapshot: Option<String>,
    },
    Recreate {
        from: String,
        to: String,
    },
    Restore {
        snapshot: String,
        replacing: Option<String>,
    },
    /// The old container a recreate cut short left aside, named back.
    PutBack {
        aside: String,
    },
    /// The old container a recreate cut short left aside, its data already in the new one.
    RemoveAside {
        aside: String,
    },
}

impl Step {
    /// The step as a line of the plan.
    pub fn line(&self, container: &str) -> String {
        match self {
            Step::Pull { image } => format!("pull {image}"),
            Step::Run { image, snapshot: Some(s) } => {
                format!("run {container} from {image} with snapshot {s} on a new volume")
            }
            Step::Run { image, snapshot: None } => format!("run {container} from {image} on a new volume"),
            Step::Recreate { from, to } => {
                format!("recreate {container} on {to} (it runs {from}), keeping its data")
            }
            Step::Restore { snapshot, replacing: Some(r) } => {
                format!(
                    "restore {snapshot} into {container}, replacing its data (from {r}; a safety copy is kept)"
                )
            }
            Step::PutBack { aside } => {
                format!("name {aside} back to {container} (a recreate was cut short) and start it")
            }
            Step::RemoveAside { aside } => {
                format!("remove {aside} (a recreate cut short left it; its data is in {container})")
            }
            Step::Restore { snapshot, replacing: None } => format!(
                "restore {snapshot} into {container}, replacing its data (of no known snapshot; a safety copy is kept)"
            ),
        }
    }

    /// Whether the step replaces anything the user has (asks for a yes).
    pub fn replaces(&self) -> bool {
        matches!(self, Step::Recreate { .. } | Step::Restore { .. })
    }
}

/// What a sync will do, worked out without changing anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncPlan {
    pub container: String,
    /// The ECR repository the image is in.
    pub repository: String,
    /// `host/path@sha256:…`
    pub image: String,
    pub digest: String,
    /// Where the image was chosen: `service C/S`, `tag T`.
    pub image_from: String,
    /// The snapshot to take, and whose it is.
    pub snapshot: Option<String>,
    pub snapshot_from: String,
    pub steps: Vec<Step>,
}

impl SyncPlan {
    /// The plan as a user reads it before saying yes.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!("image: {} ({})", self.image, self.image_from),
            match &self.snapshot {
                Some(s) => format!("data: snapshot {s} ({})", self.snapshot_from),
                None => format!("data: {}", self.snapshot_from),
            },
        ];
        if self.steps.is_empty() {
            lines.push(format!("{} is in sync: nothing to do", self.container));
        }
        lines.extend(self.steps.iter().map(|s| format!("  {}", s.line(&self.container))));
        lines
    }

    pub fn replaces(&self) -> bool {
        self.steps.iter().any(Step::replaces)
    }

    /// What `--json` says: the steps `done`, or (a dry run, or nothing to do) that `would_do`.
    pub fn report(&self, done: bool) -> serde_json::Value {
        let (done, would_do) = if done { (&self.steps[..], &[][..]) } else { (&[][..], &self.steps[..]) };
        json!({
            "container": self.container,
            "image": self.image,
            "snapshot": self.snapshot,
            "in_sync_before": self.steps.is_empty(),
            "done": done,
            "would_do": would_do,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("the service runs `{0}`, which is not an image of an ECR repository")]
    NotEcr(String),
    #[error(
        "{0}'s task definition has several containers: set container in wharf.toml to say which runs the database"
    )]
    WhichContainer(String),
    #[error(
        "{container} keeps {path} in its own file system, not on a volume: recreating it would lose that data; \
         back it up (`wharf backup`), remove the container, and sync again"
    )]
    OwnFileSystem { container: String, path: String },
    #[error(
        "{0} was left aside by a recreate cut short, and {1} mounts other data: look at both, keep one \
         (wharf leaves them as they are)"
    )]
    TwoContainers(String, String),
    #[error("things changed since the plan was shown ({0}): look at the new plan and sync again")]
    Changed(String),
    #[error(transparent)]
    Pull(#[from] super::pull::PullError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Restore(#[from] RestoreError),
}

impl SyncJob {
    /// The sync job the profile and the flags describe; the error says what is missing.
    pub fn from_settings(
        settings: &Settings,
        tag: Option<String>,
        snapshot: Option<String>,
        container: Option<String>,
        bucket: String,
        prefix: String,
    ) -> Result<SyncJob, String> {
        let run = RunJob::from_settings(settings, String::new(), container)?;
        let profile = &settings.profile;
        let image = match (tag, &profile.repository, &run.service) {
            (Some(tag), Some(repository), _) => ImageSource::Tag { repository: repository.clone(), tag },
            (Some(_), None, _) => {
                return Err("--tag needs the profile's repository: set repository in wharf.toml".into());
            }
            (None, _, Some(service)) => ImageSource::Service(service.clone()),
            (None, _, None) => {
                return Err("which image? set cluster and service in wharf.toml (sync takes what the service runs), or give --tag".into());
            }
        };
        let source = SnapshotSource::S3 { id: String::new(), bucket: bucket.clone(), prefix: prefix.clone() };
        let restore =
            RestoreJob::from_settings(settings, source, Some(run.container.clone()), Some(run.path.clone()))?;
        Ok(SyncJob {
            image,
            snapshot,
            bucket,
            prefix,
            registry: settings.registry(),
            run,
            restore,
            plan: None,
            wait: Wait::Yes,
        })
    }

    pub async fn run(self, ctx: JobContext, aws: Option<AwsClients>) -> Result<JobOutput, JobError> {
        let aws = aws.ok_or(NoAws)?;
        let doing = |name: &str| format!("a sync is bringing {name} to the head of the line");
        let host = self.run.docker_host.as_deref();
        let _lock = lock::take_for(host, &self.run.container, doing, self.wait, &ctx).await?;
        match self.apply(&ctx, &aws).await {
            Ok(output) => Ok(output),
            Err(SyncError::Restore(RestoreError::Cancelled))
            | Err(SyncError::Run(RunError::Restore(RestoreError::Cancelled))) => Err(Cancelled.into()),
            Err(e) => Err(e.into()),
        }
    }

    /// The image ECR repository name, the tag or digest wanted, and where that was chosen.
    async fn wanted_image(&self, aws: &AwsClients) -> Result<(String, Wanted, String), SyncError> {
        match &self.image {
            ImageSource::Tag { repository, tag } => {
                Ok((repository.clone(), Wanted::Tag(tag.clone()), format!("tag {tag} of {repository}")))
            }
            ImageSource::Service(s) => {
                let names: Vec<&str> = s.names.iter().map(String::as_str).collect();
                let c = ecs::service_container(&aws.ecs, &s.cluster, &s.service, &names)
                    .await?
                    .ok_or_else(|| SyncError::WhichContainer(s.service.clone()))?;
                let (_, path) = c.image.split_once('/').ok_or_else(|| SyncError::NotEcr(c.image.clone()))?;
                let (repository, wanted) = Wanted::parse(path);
                Ok((repository, wanted, format!("what {}/{} runs", s.cluster, s.service)))
            }
        }
    }

    /// Works out what the sync does; changes nothing.
    pub async fn plan(&self, ctx: &JobContext, aws: &AwsClients) -> Result<SyncPlan, SyncError> {
        ctx.progress(Progress::stage("working out what this machine lacks"));
        let (repository, wanted, image_from) = self.wanted_image(aws).await?;
        let resolved = resolve(ctx, aws, &repository, &wanted, self.registry.as_ref()).await?;
        let (image, digest) = (format!("{}@{}", resolved.name, resolved.digest), resolved.digest);

        let (snapshot, snapshot_from) = match &self.snapshot {
            Some(id) => (Some(id.clone()), "asked for".to_string()),
            None => match line::head(&aws.s3, &self.bucket, &self.prefix).await? {
                Some((head, _)) => (Some(head.snapshot), format!("head of the line, from {}", head.host)),
                None => (None, "no snapshot in the line yet: the data stays as it is".into()),
            },
        };

        let engine = Engine::connect(self.run.docker_host.as_deref()).await?;
        let local = engine.image(&image).await?.filter(|i| i.is(&digest));
        let mut steps = Vec::new();
        if local.is_none() {
            steps.push(Step::Pull { image: image.clone() });
        }
        let mut container = lookup(&engine, &self.run.container).await?;
        // A recreate cut short (kill -9, a lost engine) left the old container aside.
        if let Some(left) = lookup(&engine, &aside_name(&self.run.container)).await? {
            match &container {
                None => {
                    steps.push(Step::PutBack { aside: left.name.clone() });
                    container = Some(left);
                }
                // Only when both mount the same volume or directory: nothing is in the old one alone.
                Some(new)
                    if self.data_mount(new).ok().is_some_and(|m| self.data_mount(&left).ok() == Some(m)) =>
                {
                    steps.push(Step::RemoveAside { aside: left.name.clone() });
                }
                Some(_) => {
                    return Err(SyncError::TwoContainers(left.name.clone(), self.run.container.clone()));
                }
            }
        }
        match container {
            None => steps.push(Step::Run { image: image.clone(), snapshot: snapshot.clone() }),
            Some(c) => {
                if local.as_ref().is_none_or(|i| i.id != c.image_id) {
                    self.data_mount(&c)?;
                    steps.push(Step::Recreate { from: c.image.clone(), to: image.clone() });
                }
                let parent =
                    line::parent_of(&self.restore.state, &self.bucket, &self.prefix, &self.run.container);
                if let Some(s) = &snapshot
                    && parent.as_ref() != Some(s)
                {
                    steps.push(Step::Restore { snapshot: s.clone(), replacing: parent });
                }
            }
        }
        Ok(SyncPlan {
            container: self.run.container.clone(),
            repository,
            image,
            digest,
            image_from,
            snapshot,
            snapshot_from,
            steps,
        })
    }

    /// Where `c` keeps its data, for a recreate to mount again: a named
    /// volume's name, or a bound directory (`Some`).
    fn data_mount(&self, c: &ContainerDetail) -> Result<(String, Option<String>), SyncError> {
        let own = || SyncError::OwnFileSystem { container: c.name.clone(), path: self.run.path.clone() };
        let mount = c.mounts.iter().find(|m| m.destination == self.run.path).ok_or_else(own)?;
        match (mount.kind.as_str(), &mount.name) {
            ("volume", Some(name)) => Ok((name.clone(), None)),
            ("bind", _) => Ok((String::new(), Some(mount.source.clone()))),
            _ => Err(own()),
        }
    }

    async fn apply(&self, ctx: &JobContext, aws: &AwsClients) -> Result<JobOutput, SyncError> {
        let plan = self.plan(ctx, aws).await?;
        if let Some(shown) = &self.plan
            && shown.steps != plan.steps
        {
            return Err(SyncError::Changed(plan.lines().join("; ")));
        }
        let mut done = Vec::new();
        for step in &plan.steps {
            if ctx.cancel.is_cancelled() {
                return Err(SyncError::Restore(RestoreError::Cancelled));
            }
            match step {
                Step::Pull { .. } => {
                    let pull = PullJob {
                        repository: plan.repository.clone(),
                        wanted: Wanted::Digest(plan.digest.clone()),
                        registry: self.registry.clone(),
                        docker_host: self.run.docker_host.clone(),
                    };
                    let pulled = tokio::select! {
                        pulled = pull.pull(ctx, aws) => pulled?,
                        _ = ctx.cancel.cancelled() => return Err(SyncError::Restore(RestoreError::Cancelled)),
                    };
                    // Named as `wharf pull` names it, never left `<none>`.
                    let tag = self.tag_for(aws, &plan).await;
                    let name = plan.image.split_once('@').map_or(plan.image.as_str(), |(n, _)| n);
                    let engine = Engine::connect(self.run.docker_host.as_deref()).await?;
                    engine.tag(&pulled.id, name, &tag).await?;
                    let state = &self.restore.state;
                    super::pull::remember_pulled(state, &pulled.id, &[format!("{name}:{tag}")]);
                }
                Step::Run { image, snapshot } => {
                    let mut run = self.run.clone();
                    run.image = image.clone();
                    run.restore = snapshot.as_ref().map(|id| Box::new(self.restore_of(id)));
                    run.create_and_start(ctx, Some(aws)).await?;
                }
                Step::Recreate { to, .. } => self.recreate(ctx, to).await?,
                Step::PutBack { aside } => {
                    let engine = Engine::connect(self.run.docker_host.as_deref()).await?;
                    engine.rename(aside, &plan.container).await?;
                    engine.start(&plan.container).await?;
                }
                Step::RemoveAside { aside } => {
                    Engine::connect(self.run.docker_host.as_deref()).await?.remove(aside).await?;
                }
                Step::Restore { snapshot, .. } => {
                    self.restore_of(snapshot).restore(ctx, Some(aws)).await?;
                }
            }
            done.push(step.line(&plan.container));
        }
        if !done.is_empty() {
            self.until_ready(ctx).await?;
        }
        let summary = if done.is_empty() {
            format!("{} is in sync: {}, {}", plan.container, short(&plan.image), snapshot_words(&plan))
        } else {
            format!("{} synced: {}", plan.container, done.join("; "))
        };
        Ok(JobOutput { summary, copy: None, attention: None, json: plan.report(true) })
    }

    /// The tag a pulled image gets: the one asked for, else one ECR gives its
    /// digest, else `sha256-` and the digest's first 12 digits.
    async fn tag_for(&self, aws: &AwsClients, plan: &SyncPlan) -> String {
        if let ImageSource::Tag { tag, .. } = &self.image {
            return tag.clone();
        }
        let tags = match crate::aws::ecr::images(&aws.ecr, &plan.repository).await {
            Ok(images) => {
                images.into_iter().find(|i| i.digest == plan.digest).map(|i| i.tags).unwrap_or_default()
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot ask ECR for the pulled image's tags");
                Vec::new()
            }
        };
        tags.into_iter()
            .min()
            .unwrap_or_else(|| format!("sha256-{}", crate::format::short_digest(&plan.digest)))
    }

    /// Waits, when the container runs, for its server to answer the preset's
    /// readiness check: "synced" means it can be used.
    async fn until_ready(&self, ctx: &JobContext) -> Result<(), SyncError> {
        let engine = Engine::connect(self.run.docker_host.as_deref()).await?;
        if lookup(&engine, &self.run.container).await?.is_some_and(|c| c.running) {
            self.run.ready(ctx, &engine, self.run.preset).await?;
        }
        Ok(())
    }

    fn restore_of(&self, id: &str) -> RestoreJob {
        let mut restore = self.restore.clone();
        restore.source = SnapshotSource::S3 {
            id: id.to_string(),
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
        };
        restore
    }

    /// The container again on `image`, as it was made (its mounts, ports,
    /// environment, networks, restart policy and labels); put back as it was
    /// if the new one cannot be made or started. The image it ran before goes
    /// when wharf pulled it and nothing uses it now.
    async fn recreate(&self, ctx: &JobContext, image: &str) -> Result<(), SyncError> {
        ctx.progress(Progress::stage(format!("recreating {} on the new image", self.run.container)));
        let engine = Engine::connect(self.run.docker_host.as_deref()).await?;
        let old = engine.container(&self.run.container).await?;
        self.data_mount(&old)?;
        engine.image(image).await?.ok_or_else(|| RunError::NoImage(image.to_string()))?;
        engine.stop(&old).await?;
        let aside = aside_name(&old.name);
        engine.rename(&old.id, &aside).await?;
        let made = async {
            let id = engine.create_like(&old.id, &old.name, image).await?;
            engine.start(&id).await
        }
        .await;
        if let Err(e) = made {
            let _ = engine.remove(&old.name).await;
            let _ = engine.rename(&old.id, &old.name).await;
            if old.running {
                let _ = engine.start(&old.id).await;
            }
            return Err(e.into());
        }
        engine.remove(&old.id).await?;
        match super::pull::forget_if_unused(&engine, &self.restore.state, &old.image_id).await {
            Ok(names) if !names.is_empty() => {
                tracing::info!(?names, "removed the image the container ran before")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot remove the image the container ran before"),
        }
        Ok(())
    }
}

/// Where a recreate keeps the old container until the new one runs.
fn aside_name(container: &str) -> String {
    format!("{container}-wharf-replaced")
}

async fn lookup(engine: &Engine, name: &str) -> Result<Option<ContainerDetail>, DockerError> {
    match engine.container(name).await {
        Ok(c) => Ok(Some(c)),
        Err(DockerError::NoSuchContainer(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn short(image: &str) -> String {
    match image.split_once('@') {
        Some((name, digest)) => format!("{name}@{}", crate::format::short_digest(digest)),
        None => image.to_string(),
    }
}

fn snapshot_words(plan: &SyncPlan) -> String {
    match &plan.snapshot {
        Some(s) => format!("snapshot {s} ({})", plan.snapshot_from),
        None => plan.snapshot_from.clone(),
    }
}
