//! `wharf init`: what the profile's loop needs on AWS and does not have,
//! worked out first without changing anything (the plan a dry run prints),
//! then created in order. Run again, it finds everything there and changes
//! nothing.
//!
//! Each init has an id of its own (`init_id`, saved in the profile by its
//! first run) and tags what it makes — and what another init made that it
//! uses too — `wharf:init:<id>`. Some things are shared by name between
//! projects whose profiles have the same name (the role, the log group, the
//! security group); `--destroy` (`destroy.rs`) takes its own tag off and
//! removes a thing only when no other init's tag is left, and never what
//! carries no wharf tag at all.
//!
//! The service runs on Fargate in the default VPC's public subnets with a
//! public IP (so its task can pull from ECR and write its logs) behind a
//! security group with no way in; `--public ADDRESS` opens the database's
//! port to that one address. A `subnets` setting names private subnets
//! instead: no public IP then, and they need a NAT gateway or VPC endpoints.

pub mod destroy;

use serde::Serialize;

use crate::aws::AwsError;
use crate::aws::init::{self as aws_init, InitClients, InitTag, Resource, TaskSpec};
use crate::config::{Preset, Settings};

pub use destroy::{DestroyPlan, Removal, destroy, plan_destroy};

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
    /// This init's own id (`init_id` in the profile).
    pub init_id: String,
    /// The id was made now: it is saved into the profile before anything is created.
    pub new_id: bool,
    pub repository: String,
    pub bucket: String,
    /// Normalised (empty or ending in `/`): what the backup role may write under.
    pub prefix: String,
    /// The cluster and the service, when the profile names them.
    pub ecs: Option<(String, String)>,
    /// The container of the task definition.
    pub container: String,
    /// The port the database listens on, when its preset says.
    pub port: Option<u16>,
    pub docker_host: Option<String>,
    /// `--public`: the database's port reachable from this CIDR.
    pub public: Option<String>,
    /// Private subnets to run the service in, instead of the default VPC's public ones.
    pub subnets: Option<Vec<String>>,
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
                "init needs {} (give --repository and --bucket, run `wharf init` on a terminal to be asked, \
                 or press b in the dashboard, whose bucket list can create one)",
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
        let (init_id, new_id) = match p.init_id.clone() {
            Some(id) => (id, false),
            None => (crate::snapshots::random_word(8), true),
        };
        Ok(InitRequest {
            profile: settings
                .profile_name
                .clone()
                .unwrap_or_else(|| crate::config::save::FIRST_PROFILE.into()),
            init_id,
            new_id,
            repository: p.repository.clone().unwrap_or_default(),
            bucket: p.bucket.clone().unwrap_or_default(),
            prefix: crate::snapshots::normalise_prefix(p.prefix.as_deref()),
            ecs,
            container,
            port,
            docker_host: settings.docker_host.clone(),
            public: None,
            subnets: p.subnets.clone().filter(|s| !s.is_empty()),
        })
    }

    /// The tag this init puts on what it makes and uses.
    pub fn tag(&self) -> InitTag {
        InitTag::new(&self.init_id, &self.profile)
    }

    /// The task execution role's name (shared by every project with this profile name).
    pub fn role(&self) -> String {
        format!("wharf-{}-task-execution", self.profile)
    }

    /// The role remote backups' tasks take (shared likewise; each init puts
    /// its own policy on it, for its own bucket and prefix).
    pub fn backup_role(&self) -> String {
        format!("wharf-{}-backup", self.profile)
    }

    /// The log group's name (shared likewise).
    pub fn log_group(&self) -> String {
        format!("/wharf/{}", self.profile)
    }

    /// The service's security group (shared likewise).
    pub fn security_group(&self) -> String {
        format!("wharf-{}", self.profile)
    }
}

/// One thing init does.
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
    /// A bucket that was there, given what of init's settings it lacks.
    SecureBucket {
        name: String,
        lacks: Vec<String>,
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
    /// The service's security group: no way in.
    SecurityGroup {
        name: String,
        vpc: String,
    },
    /// The role a remote backup's task takes.
    BackupRole {
        name: String,
    },
    /// This init's policy on it: write under its bucket and prefix, nothing else.
    BackupPolicy {
        role: String,
        bucket: String,
        prefix: String,
    },
    /// The group's members may reach the database's port: a backup task
    /// beside the service reaches it, nothing from outside.
    AllowMembers {
        group: String,
        port: u16,
    },
    /// `--public`: the one way in, from one address to one port.
    Allow {
        group: String,
        port: u16,
        from: String,
    },
    Service {
        cluster: String,
        name: String,
        /// The task gets a public IP (public subnets) or not (private ones).
        public_ip: bool,
    },
    /// Another init made it: this one uses it too (its tag goes on it).
    Adopt {
        what: String,
        resource: Resource,
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
            Step::SecureBucket { name, lacks } => {
                format!("on S3 bucket {name}, which lacks them: {}", lacks.join(", "))
            }
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
            Step::SecurityGroup { name, vpc } => {
                format!("security group {name} in {vpc}: nothing may come in (its tasks may go out)")
            }
            Step::Allow { group, port, from } => format!("a way into {group}: TCP {port} from {from} only"),
            Step::BackupRole { name } => format!("IAM role {name}, for remote backups' tasks to take"),
            Step::BackupPolicy { role, bucket, prefix } => format!(
                "policy on {role}: s3:PutObject (and a multipart upload's calls) on s3://{bucket}/{prefix}* only"
            ),
            Step::AllowMembers { group, port } => {
                format!("a way into {group}: TCP {port} from the group's own members (a backup task)")
            }
            Step::Service { cluster, name, public_ip: true } => format!(
                "ECS service {name} in {cluster}: 1 task on Fargate in the default VPC's public subnets, \
                 a public IP (to reach ECR and CloudWatch) behind its security group"
            ),
            Step::Service { cluster, name, public_ip: false } => format!(
                "ECS service {name} in {cluster}: 1 task on Fargate in the profile's subnets, no public IP"
            ),
            Step::Adopt { what, .. } => {
                format!("{what}, which another wharf init made, marked as used by this one too")
            }
        }
    }

    /// The verb the plan shows it with.
    fn verb(&self) -> &'static str {
        match self {
            Step::SecureBucket { .. } => "secure",
            Step::Adopt { .. } => "share",
            Step::Allow { .. } | Step::AllowMembers { .. } => "open",
            Step::BackupPolicy { .. } => "allow",
            _ => "create",
        }
    }

    /// The verb while it is done.
    fn doing(&self) -> &'static str {
        match self {
            Step::SecureBucket { .. } => "securing",
            Step::Adopt { .. } => "sharing",
            Step::Allow { .. } | Step::AllowMembers { .. } => "opening",
            Step::BackupPolicy { .. } => "allowing",
            _ => "creating",
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
    /// What the user should know of the network (private subnets).
    pub notes: Vec<String>,
}

impl InitPlan {
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.present.iter().map(|p| format!("  there:  {p}")).collect();
        lines
            .extend(self.steps.iter().map(|s| format!("  {:<7} {}", format!("{}:", s.verb()), s.describe())));
        if self.waits_for_image {
            lines.push(
                "  later:  the task definition and the service, once the repository holds an image (push one, then run wharf init again)"
                    .into(),
            );
        }
        lines.extend(self.notes.iter().map(|n| format!("  note:   {n}")));
        lines
    }
}

/// Whether `what` there needs this init's tag (another init made it), is
/// this init's already, or is no wharf init's (used, never tagged: a
/// `--destroy` must never take it away).
async fn look_at(
    c: &InitClients,
    request: &InitRequest,
    plan: &mut InitPlan,
    what: String,
    resource: Resource,
) -> Result<(), AwsError> {
    let tags = aws_init::tags_of(c, &resource).await?;
    let tag = request.tag();
    if tags.contains_key(&tag.key) {
        plan.present.push(what);
    } else if tags.keys().any(|k| k.starts_with(aws_init::INIT_TAG) || k == aws_init::LEGACY_TAG) {
        plan.present.push(what.clone());
        plan.steps.push(Step::Adopt { what, resource });
    } else {
        plan.present.push(format!("{what} (not made by wharf init: --destroy leaves it)"));
    }
    Ok(())
}

/// Looks at what is there; changes nothing.
pub async fn plan(c: &InitClients, request: &InitRequest) -> Result<InitPlan, AwsError> {
    let mut plan =
        InitPlan { steps: Vec::new(), present: Vec::new(), waits_for_image: false, notes: Vec::new() };
    let repository = aws_init::repository(c, &request.repository).await?;
    match &repository {
        Some(r) => {
            let what = format!("ECR repository {} ({})", request.repository, r.uri);
            look_at(c, request, &mut plan, what, Resource::Repository { arn: r.arn.clone() }).await?;
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
        let bucket = Resource::Bucket { name: request.bucket.clone() };
        look_at(c, request, &mut plan, format!("S3 bucket {}", request.bucket), bucket).await?;
        let lacks = aws_init::bucket_settings(c, &request.bucket).await?.lacks();
        if !lacks.is_empty() {
            let lacks = lacks.into_iter().map(str::to_string).collect();
            plan.steps.push(Step::SecureBucket { name: request.bucket.clone(), lacks });
        }
    } else {
        plan.steps.push(Step::Bucket { name: request.bucket.clone() });
    }
    let Some((cluster, service)) = &request.ecs else {
        return Ok(plan);
    };
    match aws_init::cluster(c, cluster).await? {
        Some(arn) => {
            look_at(c, request, &mut plan, format!("ECS cluster {cluster}"), Resource::Ecs { arn }).await?
        }
        None => plan.steps.push(Step::Cluster { name: cluster.clone() }),
    }
    let role = request.role();
    match aws_init::role(c, &role).await? {
        Some(_) => {
            let resource = Resource::Role { name: role.clone() };
            look_at(c, request, &mut plan, format!("IAM role {role}"), resource).await?;
            if !aws_init::role_can_execute(c, &role).await? {
                plan.steps.push(Step::RolePolicy { role: role.clone() });
            }
        }
        None => {
            plan.steps.push(Step::Role { name: role.clone() });
            plan.steps.push(Step::RolePolicy { role });
        }
    }
    let backup_role = request.backup_role();
    let backup_there = aws_init::role(c, &backup_role).await?.is_some();
    if backup_there {
        let resource = Resource::Role { name: backup_role.clone() };
        look_at(c, request, &mut plan, format!("IAM role {backup_role}"), resource).await?;
    } else {
        plan.steps.push(Step::BackupRole { name: backup_role.clone() });
    }
    let wanted: serde_json::Value =
        serde_json::from_str(&aws_init::backup_policy(&request.bucket, &request.prefix)).unwrap_or_default();
    let has = match backup_there {
        true => {
            aws_init::role_policy(c, &backup_role, &aws_init::backup_policy_name(&request.init_id)).await?
        }
        false => None,
    };
    if has.and_then(|h| serde_json::from_str::<serde_json::Value>(&h).ok()) != Some(wanted) {
        plan.steps.push(Step::BackupPolicy {
            role: backup_role,
            bucket: request.bucket.clone(),
            prefix: request.prefix.clone(),
        });
    }
    match aws_init::log_group(c, &request.log_group()).await? {
        Some((arn, _)) => {
            let what = format!("CloudWatch log group {}", request.log_group());
            look_at(c, request, &mut plan, what, Resource::LogGroup { arn }).await?;
        }
        None => plan.steps.push(Step::LogGroup { name: request.log_group(), days: LOG_DAYS }),
    }
    let network = match &request.subnets {
        Some(subnets) => {
            plan.notes.push(format!(
                "subnets {} are taken as private: the task gets no public IP, and reaches ECR, S3 and \
                 CloudWatch Logs only through a NAT gateway or VPC endpoints for them",
                subnets.join(", ")
            ));
            aws_init::network_of(c, subnets).await?
        }
        None => aws_init::default_network(c).await?,
    };
    let group = request.security_group();
    let group_id = aws_init::security_group(c, &network.vpc, &group).await?;
    match &group_id {
        Some(id) => {
            let what = format!("security group {group} ({id})");
            look_at(c, request, &mut plan, what, Resource::SecurityGroup { id: id.clone() }).await?;
        }
        None => plan.steps.push(Step::SecurityGroup { name: group.clone(), vpc: network.vpc.clone() }),
    }
    let service_there = aws_init::service(c, cluster, service).await?;
    let newest = match &repository {
        Some(r) => crate::aws::ecr::images(&c.aws.ecr, &request.repository)
            .await?
            .into_iter()
            .next()
            .map(|image| format!("{}@{}", r.uri, image.digest)),
        None => None,
    };
    let ports = match &newest {
        Some(image) => exposed_ports(request, image).await,
        None => request.port.into_iter().collect(),
    };
    if let Some(&port) = ports.first() {
        let members = match &group_id {
            Some(id) => aws_init::members_may_reach(c, id).await?.contains(&port),
            None => false,
        };
        if !members {
            plan.steps.push(Step::AllowMembers { group: group.clone(), port });
        }
    }
    if let Some(from) = &request.public {
        let Some(&port) = ports.first() else {
            return Err(AwsError::Service(
                "--public: no port to open (the image exposes none and the preset names none)".into(),
            ));
        };
        let open = match &group_id {
            Some(id) => aws_init::ways_in(c, id).await?.contains(&(port, from.clone())),
            None => false,
        };
        if !open {
            plan.steps.push(Step::Allow { group: group.clone(), port, from: from.clone() });
        }
    }
    if let Some(arn) = service_there {
        let what = format!("ECS service {service} in {cluster}");
        look_at(c, request, &mut plan, what, Resource::Ecs { arn }).await?;
        return Ok(plan);
    }
    let Some(image) = newest else {
        plan.waits_for_image = true;
        return Ok(plan);
    };
    // A revision with this image is there already (an init cut short after registering it): used as it is.
    if aws_init::registered_image(c, service, &request.container).await?.as_deref() == Some(image.as_str()) {
        plan.present.push(format!("task definition {service} running {image}"));
    } else {
        plan.steps.push(Step::TaskDefinition {
            family: service.clone(),
            container: request.container.clone(),
            image,
            ports,
        });
    }
    let public_ip = request.subnets.is_none();
    plan.steps.push(Step::Service { cluster: cluster.clone(), name: service.clone(), public_ip });
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
    let tag = request.tag();
    let mut done = Vec::new();
    let mut role_arn = None;
    let network = match &request.subnets {
        Some(subnets) => aws_init::network_of(c, subnets).await?,
        None if request.ecs.is_some() => aws_init::default_network(c).await?,
        None => aws_init::Network { vpc: String::new(), subnets: Vec::new(), security_group: None },
    };
    let mut group_id = match request.ecs {
        Some(_) => aws_init::security_group(c, &network.vpc, &request.security_group()).await?,
        None => None,
    };
    for step in &plan.steps {
        say(&format!("{} {}", step.doing(), step.describe()));
        match step {
            Step::Repository { name } => aws_init::create_repository(c, name, &tag).await?,
            Step::ExpireUntagged { repository } => aws_init::expire_untagged(c, repository).await?,
            Step::Bucket { name } => aws_init::create_bucket(c, name, &tag).await?,
            Step::SecureBucket { name, .. } => {
                let has = aws_init::bucket_settings(c, name).await?;
                aws_init::secure_bucket(c, name, &has).await?;
            }
            Step::Cluster { name } => aws_init::create_cluster(c, name, &tag).await?,
            Step::Role { name } => role_arn = Some(aws_init::create_execution_role(c, name, &tag).await?),
            Step::RolePolicy { role } => aws_init::let_role_execute(c, role).await?,
            Step::LogGroup { name, days } => aws_init::create_log_group(c, name, *days, &tag).await?,
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
                aws_init::register(c, &spec, &tag).await?;
            }
            Step::SecurityGroup { name, vpc } => {
                group_id = Some(aws_init::create_security_group(c, vpc, name, &tag).await?);
            }
            Step::BackupRole { name } => {
                aws_init::create_backup_role(c, name, &tag).await?;
            }
            Step::BackupPolicy { role, bucket, prefix } => {
                let name = aws_init::backup_policy_name(&request.init_id);
                aws_init::allow_backup(c, role, &name, &aws_init::backup_policy(bucket, prefix)).await?;
            }
            Step::AllowMembers { port, .. } => {
                let id = group_id
                    .clone()
                    .ok_or_else(|| AwsError::NotFound("the security group is not there".into()))?;
                aws_init::allow_members(c, &id, *port).await?;
            }
            Step::Allow { port, from, .. } => {
                let id = group_id
                    .clone()
                    .ok_or_else(|| AwsError::NotFound("the security group is not there".into()))?;
                aws_init::allow(c, &id, *port, from).await?;
            }
            Step::Service { cluster, name, public_ip } => {
                let mut network = network.clone();
                network.security_group = group_id.clone();
                // The family's newest revision: the one just registered, or the one there.
                aws_init::create_service(c, cluster, name, name, network, *public_ip, &tag).await?;
            }
            Step::Adopt { resource, .. } => aws_init::add_tag(c, resource, &tag).await?,
        }
        done.push(step.describe());
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
    /// Where a new `init_id` is saved: the file and its profile.
    pub save_to: (std::path::PathBuf, String),
    /// The plan the user said yes to.
    pub plan: Option<InitPlan>,
}

/// Makes the bucket `name` with init's settings and `tag`, through the AWS
/// side `profile` names (a first run's "create bucket").
pub async fn create_bucket(
    profile: &crate::config::Profile,
    name: &str,
    tag: &InitTag,
) -> Result<(), AwsError> {
    let clients = InitClients::new(&crate::aws::load_config(profile).await);
    aws_init::create_bucket(&clients, name, tag).await
}

/// Saves a new init's id into `profile` of `file` before anything is made,
/// so that whatever it makes is found again as its own.
pub fn save_id(request: &InitRequest, file: &std::path::Path, profile: &str) -> Result<(), String> {
    if !request.new_id {
        return Ok(());
    }
    let chosen = [crate::config::save::Chosen::new("init_id", &request.init_id)];
    let edited = crate::config::save::prepare(file, profile, &chosen)?;
    crate::config::save::commit(file, edited.before.as_deref(), &edited.after)
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
        save_id(&self.request, &self.save_to.0, &self.save_to.1)?;
        let created =
            apply(&clients, &self.request, &now, |line| ctx.progress(super::Progress::stage(line))).await?;
        let mut summary = match created.len() {
            0 => "nothing missing".to_string(),
            n => format!("{n} done: {}", created.join("; ")),
        };
        if now.waits_for_image {
            summary.push_str("; the service waits for an image (push one, then init again)");
        }
        Ok(super::JobOutput {
            summary,
            json: serde_json::json!({ "plan": now, "created": created, "init_id": self.request.init_id }),
            copy: None,
            attention: None,
        })
    }
}
