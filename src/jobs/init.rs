//! `wharf init`: what the profile's loop needs on AWS and does not have,
//! worked out first without changing anything (the plan a dry run prints),
//! then created in order. Run again, it finds everything there and changes
//! nothing. `--destroy` removes what init made (it carries the
//! `wharf:profile` tag), the repository and the bucket only when asked.

use serde::Serialize;

use crate::aws::AwsError;
use crate::aws::init::{self as aws_init, InitClients, TaskSpec};
use crate::config::{Preset, Settings};

/// Days the log group keeps lines.
pub const LOG_DAYS: i32 = 14;
/// The service's task size: a quarter vCPU and 512 MiB, the smallest Fargate has.
pub const CPU: u32 = 256;
pub const MEMORY: u32 = 512;
/// Fargate's list prices (Linux/x86, us-east-1 and eu-west-1 alike within a
/// few percent), as of [`crate::snapshots::pricing::PRICES_AS_OF`].
const VCPU_HOUR: f64 = 0.04048;
const GB_HOUR: f64 = 0.004445;
const HOURS_A_MONTH: f64 = 730.0;

/// The names init works with, from the profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitRequest {
    pub profile: String,
    pub repository: String,
    pub bucket: String,
    /// The cluster and the service, when the profile names them.
    pub ecs: Option<(String, String)>,
    /// The container of the task definition.
    pub container: String,
    /// The port the database listens on, when its preset says.
    pub port: Option<u16>,
    pub docker_host: Option<String>,
    /// `--public`: the service gets a public IP, reachable from this CIDR only.
    pub public: Option<String>,
}

impl InitRequest {
    pub fn from_settings(settings: &Settings) -> Result<InitRequest, String> {
        let p = &settings.profile;
        let mut missing = Vec::new();
        if p.repository.is_none() {
            missing.push("repository");
        }
        if p.bucket.is_none() {
            missing.push("bucket");
        }
        if !missing.is_empty() {
            return Err(format!(
                "init needs {} in the profile (`b` in the dashboard picks the bucket; set repository in wharf.toml)",
                missing.join(" and ")
            ));
        }
        let database = p.database.clone().unwrap_or_default();
        let ecs = p.cluster.clone().zip(p.service.clone());
        let container = p
            .container
            .clone()
            .or(database.container.clone())
            .or_else(|| p.service.clone())
            .unwrap_or_else(|| "db".into());
        let port = match database.preset {
            Some(Preset::Postgres) => Some(5432),
            Some(Preset::Mysql) => Some(3306),
            Some(Preset::Mssql) => Some(1433),
            _ => None,
        };
        Ok(InitRequest {
            profile: settings
                .profile_name
                .clone()
                .unwrap_or_else(|| crate::config::save::FIRST_PROFILE.into()),
            repository: p.repository.clone().unwrap_or_default(),
            bucket: p.bucket.clone().unwrap_or_default(),
            ecs,
            container,
            port,
            docker_host: settings.docker_host.clone(),
            public: None,
        })
    }

    /// The task execution role's name.
    pub fn role(&self) -> String {
        format!("wharf-{}-task-execution", self.profile)
    }

    /// The log group's name.
    pub fn log_group(&self) -> String {
        format!("/wharf/{}", self.profile)
    }

    /// The security group of a public service.
    pub fn security_group(&self) -> String {
        format!("wharf-{}-public", self.profile)
    }
}

/// One thing init creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "create", rename_all = "snake_case")]
pub enum Step {
    Repository {
        name: String,
    },
    ExpireUntagged {
        repository: String,
    },
    Bucket {
        name: String,
    },
    Cluster {
        name: String,
    },
    Role {
        name: String,
    },
    RolePolicy {
        role: String,
    },
    LogGroup {
        name: String,
        days: i32,
    },
    /// The service's task definition; its image is known only once the repository has one.
    TaskDefinition {
        family: String,
        container: String,
        image: String,
        ports: Vec<u16>,
    },
    /// `--public`: the one way in, from one address to one port.
    SecurityGroup {
        name: String,
        port: u16,
        from: String,
    },
    Service {
        cluster: String,
        name: String,
        public: bool,
    },
}

impl Step {
    pub fn describe(&self) -> String {
        match self {
            Step::Repository { name } => format!("ECR repository {name} (scan on push)"),
            Step::ExpireUntagged { repository } => {
                format!(
                    "lifecycle policy on {repository}: untagged images expire after {} days",
                    aws_init::UNTAGGED_DAYS
                )
            }
            Step::Bucket { name } => format!(
                "S3 bucket {name} (Block Public Access, default encryption, incomplete uploads aborted after 1 day)"
            ),
            Step::Cluster { name } => format!("ECS cluster {name}"),
            Step::Role { name } => format!("IAM role {name}, for ECS tasks to take"),
            Step::RolePolicy { role } => format!("AmazonECSTaskExecutionRolePolicy attached to {role}"),
            Step::LogGroup { name, days } => format!("CloudWatch log group {name} (kept {days} days)"),
            Step::TaskDefinition { family, container, image, ports } => {
                let ports = if ports.is_empty() {
                    String::new()
                } else {
                    format!(", port {}", ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", "))
                };
                format!(
                    "task definition {family}: container {container} runs {image}{ports}, {} vCPU / {MEMORY} MiB on Fargate, about ${:.2}/month",
                    f64::from(CPU) / 1024.0,
                    monthly_price()
                )
            }
            Step::SecurityGroup { name, port, from } => {
                format!("security group {name}: TCP {port} from {from} only")
            }
            Step::Service { cluster, name, public: false } => {
                format!("ECS service {name} in {cluster}: 1 task on Fargate, default VPC, no public IP")
            }
            Step::Service { cluster, name, public: true } => format!(
                "ECS service {name} in {cluster}: 1 task on Fargate, default VPC, a public IP behind its security group"
            ),
        }
    }
}

/// What one Fargate task of [`CPU`] and [`MEMORY`] costs a month, running all the time.
pub fn monthly_price() -> f64 {
    (f64::from(CPU) / 1024.0 * VCPU_HOUR + f64::from(MEMORY) / 1024.0 * GB_HOUR) * HOURS_A_MONTH
}

/// What init would do, and what it found already there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InitPlan {
    pub steps: Vec<Step>,
    pub present: Vec<String>,
    /// The service waits for the repository's first image.
    pub waits_for_image: bool,
}

impl InitPlan {
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.present.iter().map(|p| format!("  there:  {p}")).collect();
        lines.extend(self.steps.iter().map(|s| format!("  create: {}", s.describe())));
        if self.waits_for_image {
            lines.push(
                "  later:  the task definition and the service, once the repository holds an image (push one, then run wharf init again)"
                    .into(),
            );
        }
        lines
    }
}

/// Looks at what is there; changes nothing.
pub async fn plan(c: &InitClients, request: &InitRequest) -> Result<InitPlan, AwsError> {
    let mut plan = InitPlan { steps: Vec::new(), present: Vec::new(), waits_for_image: false };
    let repository = aws_init::repository(c, &request.repository).await?;
    match &repository {
        Some(r) => {
            plan.present.push(format!("ECR repository {} ({})", request.repository, r.uri));
            if !r.expires_untagged {
                plan.steps.push(Step::ExpireUntagged { repository: request.repository.clone() });
            }
        }
        None => {
            plan.steps.push(Step::Repository { name: request.repository.clone() });
            plan.steps.push(Step::ExpireUntagged { repository: request.repository.clone() });
        }
    }
    if aws_init::bucket_exists(c, &request.bucket).await? {
        plan.present.push(format!("S3 bucket {}", request.bucket));
    } else {
        plan.steps.push(Step::Bucket { name: request.bucket.clone() });
    }
    let Some((cluster, service)) = &request.ecs else {
        return Ok(plan);
    };
    match aws_init::cluster(c, cluster).await? {
        Some(_) => plan.present.push(format!("ECS cluster {cluster}")),
        None => plan.steps.push(Step::Cluster { name: cluster.clone() }),
    }
    match aws_init::role(c, &request.role()).await? {
        Some(_) if aws_init::role_can_execute(c, &request.role()).await? => {
            plan.present.push(format!("IAM role {}", request.role()));
        }
        Some(_) => plan.steps.push(Step::RolePolicy { role: request.role() }),
        None => {
            plan.steps.push(Step::Role { name: request.role() });
            plan.steps.push(Step::RolePolicy { role: request.role() });
        }
    }
    match aws_init::log_group(c, &request.log_group()).await? {
        Some(_) => plan.present.push(format!("CloudWatch log group {}", request.log_group())),
        None => plan.steps.push(Step::LogGroup { name: request.log_group(), days: LOG_DAYS }),
    }
    if aws_init::service(c, cluster, service).await?.is_some() {
        plan.present.push(format!("ECS service {service} in {cluster}"));
        return Ok(plan);
    }
    let newest = match &repository {
        Some(r) => crate::aws::ecr::images(&c.aws.ecr, &request.repository)
            .await?
            .into_iter()
            .next()
            .map(|image| (format!("{}@{}", r.uri, image.digest), image)),
        None => None,
    };
    let Some((image, _)) = newest else {
        plan.waits_for_image = true;
        return Ok(plan);
    };
    let ports = exposed_ports(request, &image).await;
    // A revision with this image is there already (an init cut short after registering it): used as it is.
    if aws_init::registered_image(c, service, &request.container).await?.as_deref() == Some(image.as_str()) {
        plan.present.push(format!("task definition {service} running {image}"));
    } else {
        plan.steps.push(Step::TaskDefinition {
            family: service.clone(),
            container: request.container.clone(),
            image,
            ports: ports.clone(),
        });
    }
    if let Some(from) = &request.public {
        let Some(&port) = ports.first() else {
            return Err(AwsError::Service(
                "--public: no port to open (the image exposes none and the preset names none)".into(),
            ));
        };
        match aws_init::security_group(c, &request.security_group()).await? {
            Some(_) => plan.present.push(format!("security group {}", request.security_group())),
            None => plan.steps.push(Step::SecurityGroup {
                name: request.security_group(),
                port,
                from: from.clone(),
            }),
        }
    }
    let public = request.public.is_some();
    plan.steps.push(Step::Service { cluster: cluster.clone(), name: service.clone(), public });
    Ok(plan)
}

/// The ports the image exposes, when this engine has it; else the preset's.
async fn exposed_ports(request: &InitRequest, image: &str) -> Vec<u16> {
    let engine = crate::docker::Engine::connect(request.docker_host.as_deref()).await.ok();
    let detail = match &engine {
        Some(engine) => engine.image(image).await.ok().flatten(),
        None => None,
    };
    let mut ports: Vec<u16> = detail
        .map(|d| d.exposed_ports.iter().filter_map(|p| p.split('/').next()?.parse().ok()).collect())
        .unwrap_or_default();
    if ports.is_empty() {
        ports.extend(request.port);
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Carries `plan` out in order, saying each step as it starts.
pub async fn apply(
    c: &InitClients,
    request: &InitRequest,
    plan: &InitPlan,
    say: impl Fn(&str),
) -> Result<Vec<String>, AwsError> {
    let profile = request.profile.as_str();
    let mut done = Vec::new();
    let mut role_arn = None;
    let mut security_group = None;
    for step in &plan.steps {
        say(&format!("creating {}", step.describe()));
        match step {
            Step::Repository { name } => aws_init::create_repository(c, name, profile).await?,
            Step::ExpireUntagged { repository } => aws_init::expire_untagged(c, repository).await?,
            Step::Bucket { name } => aws_init::create_bucket(c, name, profile).await?,
            Step::Cluster { name } => aws_init::create_cluster(c, name, profile).await?,
            Step::Role { name } => role_arn = Some(aws_init::create_execution_role(c, name, profile).await?),
            Step::RolePolicy { role } => aws_init::let_role_execute(c, role).await?,
            Step::LogGroup { name, days } => aws_init::create_log_group(c, name, *days, profile).await?,
            Step::TaskDefinition { family, container, image, ports } => {
                let execution_role = match role_arn.clone() {
                    Some(arn) => arn,
                    None => aws_init::role(c, &request.role()).await?.unwrap_or_default(),
                };
                let spec = TaskSpec {
                    family: family.clone(),
                    container: container.clone(),
                    image: image.clone(),
                    ports: ports.clone(),
                    cpu: CPU,
                    memory: MEMORY,
                    execution_role,
                    log_group: request.log_group(),
                };
                aws_init::register(c, &spec, profile).await?;
            }
            Step::SecurityGroup { name, port, from } => {
                let vpc = aws_init::default_network(c).await?.vpc;
                security_group =
                    Some(aws_init::create_security_group(c, &vpc, name, *port, from, profile).await?);
            }
            Step::Service { cluster, name, public } => {
                // The family's newest revision: the one just registered, or the one there.
                let mut network = aws_init::default_network(c).await?;
                if *public {
                    network.security_group = match security_group.clone() {
                        Some(id) => Some(id),
                        None => {
                            aws_init::security_group(c, &request.security_group()).await?.map(|(id, _)| id)
                        }
                    };
                }
                aws_init::create_service(c, cluster, name, name, network, *public, profile).await?;
            }
        }
        done.push(step.describe());
    }
    Ok(done)
}

/// One thing `--destroy` removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "remove", rename_all = "snake_case")]
pub enum Removal {
    Service { cluster: String, name: String },
    Cluster { name: String },
    Role { name: String },
    LogGroup { name: String },
    SecurityGroup { name: String, id: String },
    Repository { name: String },
    Bucket { name: String },
}

impl Removal {
    pub fn describe(&self) -> String {
        match self {
            Removal::Service { cluster, name } => format!("ECS service {name} in {cluster}"),
            Removal::Cluster { name } => format!("ECS cluster {name}"),
            Removal::Role { name } => format!("IAM role {name}"),
            Removal::LogGroup { name } => format!("CloudWatch log group {name} and its lines"),
            Removal::SecurityGroup { name, .. } => format!("security group {name}"),
            Removal::Repository { name } => format!("ECR repository {name} and every image in it"),
            Removal::Bucket { name } => format!("S3 bucket {name} and every snapshot in it"),
        }
    }
}

/// What `--destroy` would remove: only what carries this profile's tag;
/// the rest is named and kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestroyPlan {
    pub removals: Vec<Removal>,
    pub kept: Vec<String>,
}

pub async fn plan_destroy(
    c: &InitClients,
    request: &InitRequest,
    include_data: bool,
) -> Result<DestroyPlan, AwsError> {
    let mine = |tag: Option<String>| tag.as_deref() == Some(request.profile.as_str());
    let mut plan = DestroyPlan { removals: Vec::new(), kept: Vec::new() };
    if let Some((cluster, service)) = &request.ecs {
        if let Some(arn) = aws_init::service(c, cluster, service).await? {
            if mine(aws_init::tagged_profile(c, &arn).await?) {
                plan.removals.push(Removal::Service { cluster: cluster.clone(), name: service.clone() });
            } else {
                plan.kept.push(format!("ECS service {service}: not made by wharf init for this profile"));
            }
        }
        if let Some(arn) = aws_init::cluster(c, cluster).await? {
            if mine(aws_init::tagged_profile(c, &arn).await?) {
                plan.removals.push(Removal::Cluster { name: cluster.clone() });
            } else {
                plan.kept.push(format!("ECS cluster {cluster}: not made by wharf init for this profile"));
            }
        }
        if aws_init::role(c, &request.role()).await?.is_some() {
            if mine(aws_init::role_profile(c, &request.role()).await?) {
                plan.removals.push(Removal::Role { name: request.role() });
            } else {
                plan.kept
                    .push(format!("IAM role {}: not made by wharf init for this profile", request.role()));
            }
        }
        if let Some((id, tag)) = aws_init::security_group(c, &request.security_group()).await? {
            if mine(tag) {
                plan.removals.push(Removal::SecurityGroup { name: request.security_group(), id });
            } else {
                let name = request.security_group();
                plan.kept.push(format!("security group {name}: not made by wharf init for this profile"));
            }
        }
        if let Some((arn, _)) = aws_init::log_group(c, &request.log_group()).await? {
            if mine(aws_init::log_group_profile(c, &arn).await?) {
                plan.removals.push(Removal::LogGroup { name: request.log_group() });
            } else {
                plan.kept.push(format!(
                    "log group {}: not made by wharf init for this profile",
                    request.log_group()
                ));
            }
        }
    }
    if let Some(repository) = aws_init::repository(c, &request.repository).await? {
        if !include_data {
            plan.kept.push(format!("ECR repository {} (its images: add --include-data)", request.repository));
        } else if mine(aws_init::tagged_profile(c, &repository.arn).await?) {
            plan.removals.push(Removal::Repository { name: request.repository.clone() });
        } else {
            plan.kept.push(format!(
                "ECR repository {}: not made by wharf init for this profile",
                request.repository
            ));
        }
    }
    if aws_init::bucket_exists(c, &request.bucket).await? {
        if !include_data {
            plan.kept.push(format!("S3 bucket {} (its snapshots: add --include-data)", request.bucket));
        } else if mine(aws_init::bucket_profile(c, &request.bucket).await?) {
            plan.removals.push(Removal::Bucket { name: request.bucket.clone() });
        } else {
            plan.kept.push(format!("S3 bucket {}: not made by wharf init for this profile", request.bucket));
        }
    }
    Ok(plan)
}

pub async fn destroy(
    c: &InitClients,
    plan: &DestroyPlan,
    say: impl Fn(&str),
) -> Result<Vec<String>, AwsError> {
    let mut done = Vec::new();
    for removal in &plan.removals {
        say(&format!("removing {}", removal.describe()));
        match removal {
            Removal::Service { cluster, name } => aws_init::delete_service(c, cluster, name).await?,
            Removal::Cluster { name } => aws_init::delete_cluster(c, name).await?,
            Removal::Role { name } => aws_init::delete_role(c, name).await?,
            Removal::LogGroup { name } => aws_init::delete_log_group(c, name).await?,
            Removal::SecurityGroup { id, .. } => aws_init::delete_security_group(c, id).await?,
            Removal::Repository { name } => aws_init::delete_repository(c, name).await?,
            Removal::Bucket { name } => aws_init::delete_bucket(c, name).await?,
        }
        done.push(removal.describe());
    }
    Ok(done)
}

/// `wharf init` from the dashboard's set-up panel: planned first (shown in a
/// confirmation), and refused when what is there changed since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitJob {
    pub request: InitRequest,
    /// The settings it connects with (IAM and EC2 clients are made for it alone).
    pub profile: crate::config::Profile,
    /// The plan the user said yes to.
    pub plan: Option<InitPlan>,
}

impl InitJob {
    async fn clients(&self) -> InitClients {
        InitClients::new(&crate::aws::load_config(&self.profile).await)
    }

    /// What it would create, for the confirmation.
    pub async fn plan(&self) -> Result<InitPlan, AwsError> {
        plan(&self.clients().await, &self.request).await
    }

    pub async fn run(self, ctx: super::JobContext) -> Result<super::JobOutput, super::JobError> {
        ctx.progress(super::Progress::stage("looking at what is there"));
        let clients = self.clients().await;
        let now = plan(&clients, &self.request).await?;
        if self.plan.as_ref().is_some_and(|shown| shown.steps != now.steps) {
            return Err("what is on AWS changed since the plan was shown; nothing created (open the set-up panel again)".into());
        }
        let created =
            apply(&clients, &self.request, &now, |line| ctx.progress(super::Progress::stage(line))).await?;
        let mut summary = match created.len() {
            0 => "nothing missing".to_string(),
            n => format!("created {n}: {}", created.join("; ")),
        };
        if now.waits_for_image {
            summary.push_str("; the service waits for an image (push one, then init again)");
        }
        Ok(super::JobOutput {
            summary,
            json: serde_json::json!({ "plan": now, "created": created }),
            copy: None,
            attention: None,
        })
    }
}
