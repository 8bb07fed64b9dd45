//! `wharf init --destroy`: what this init made, taken away again — and only
//! that. Each resource's tags say who uses it: this init's own tag comes off,
//! and the resource goes only when no other init's tag is left (two projects
//! whose profiles share a name share the role, the log group and the
//! security group). What carries no wharf tag is never touched; what an
//! older wharf tagged `wharf:profile=…` may be another project's, and is
//! left for the user to judge.
//!
//! The service is scaled to 0 and its tasks waited for before it is deleted,
//! and it is gone before its cluster goes (AWS refuses a cluster whose tasks
//! are still draining). Whatever AWS refuses is said, with what is left; the
//! rest goes on, and a second run finishes it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::InitRequest;
use crate::aws::AwsError;
use crate::aws::init::{self as aws_init, InitClients, Resource};

/// How long the service's tasks may take to stop, and the service to be gone.
const DRAIN_WITHIN: Duration = Duration::from_secs(600);
/// How long a security group may stay in use by the network interfaces of
/// tasks just stopped (AWS detaches them within minutes).
const DETACH_WITHIN: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_secs(5);

/// One thing `--destroy` does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "remove", rename_all = "snake_case")]
pub enum Removal {
    Service {
        cluster: String,
        name: String,
    },
    Cluster {
        name: String,
    },
    Role {
        name: String,
    },
    LogGroup {
        name: String,
    },
    SecurityGroup {
        name: String,
        id: String,
    },
    Repository {
        name: String,
    },
    Bucket {
        name: String,
    },
    /// Another init still uses it: only this init's tag comes off.
    Untag {
        what: String,
        resource: Resource,
        others: Vec<String>,
    },
}

impl Removal {
    pub fn describe(&self) -> String {
        match self {
            Removal::Service { cluster, name } => {
                format!("ECS service {name} in {cluster} (scaled to 0 and its tasks stopped first)")
            }
            Removal::Cluster { name } => format!("ECS cluster {name}"),
            Removal::Role { name } => format!("IAM role {name}"),
            Removal::LogGroup { name } => format!("CloudWatch log group {name} and its lines"),
            Removal::SecurityGroup { name, .. } => format!("security group {name}"),
            Removal::Repository { name } => format!("ECR repository {name} and every image in it"),
            Removal::Bucket { name } => format!("S3 bucket {name} and every snapshot in it"),
            Removal::Untag { what, others, .. } => {
                format!(
                    "this init's tag on {what}, which stays: {} still use{} it",
                    others.join(", "),
                    if others.len() == 1 { "s" } else { "" }
                )
            }
        }
    }

    /// The verb the plan shows it with.
    pub fn verb(&self) -> &'static str {
        match self {
            Removal::Untag { .. } => "untag",
            _ => "remove",
        }
    }
}

/// What `--destroy` would do: remove what only this init uses, untag what
/// others use too; the rest is named and kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestroyPlan {
    pub removals: Vec<Removal>,
    pub kept: Vec<String>,
}

/// Who uses a resource, by its tags.
enum Users {
    /// This init alone.
    OnlyUs,
    /// This init and these others.
    UsAnd(Vec<String>),
    /// Only these others.
    Others(Vec<String>),
    /// No wharf init.
    Nobody,
}

fn users(tags: &BTreeMap<String, String>, ours: &str) -> Users {
    let others: Vec<String> = tags
        .iter()
        .filter(|(k, _)| k.as_str() != ours)
        .filter_map(|(k, v)| {
            if k.starts_with(aws_init::INIT_TAG) {
                Some(format!("the wharf init of profile {v} ({})", k.trim_start_matches(aws_init::INIT_TAG)))
            } else if k == aws_init::LEGACY_TAG {
                Some(format!("an older wharf init ({k}={v})"))
            } else {
                None
            }
        })
        .collect();
    match (tags.contains_key(ours), others.is_empty()) {
        (true, true) => Users::OnlyUs,
        (true, false) => Users::UsAnd(others),
        (false, false) => Users::Others(others),
        (false, true) => Users::Nobody,
    }
}

impl DestroyPlan {
    /// Puts `what` in the plan as its users say: `removal` when this init alone uses it.
    async fn judge(
        &mut self,
        c: &InitClients,
        request: &InitRequest,
        what: String,
        resource: Resource,
        removal: Removal,
    ) -> Result<(), AwsError> {
        let tags = aws_init::tags_of(c, &resource).await?;
        match users(&tags, &request.tag().key) {
            Users::OnlyUs => self.removals.push(removal),
            Users::UsAnd(others) => self.removals.push(Removal::Untag { what, resource, others }),
            Users::Others(others) => {
                self.kept.push(format!("{what}: used by {}, not this init", others.join(", ")))
            }
            Users::Nobody => self.kept.push(format!("{what}: not made by wharf init")),
        }
        Ok(())
    }
}

pub async fn plan_destroy(
    c: &InitClients,
    request: &InitRequest,
    include_data: bool,
) -> Result<DestroyPlan, AwsError> {
    let mut plan = DestroyPlan { removals: Vec::new(), kept: Vec::new() };
    if let Some((cluster, service)) = &request.ecs {
        if let Some(arn) = aws_init::service(c, cluster, service).await? {
            let removal = Removal::Service { cluster: cluster.clone(), name: service.clone() };
            let what = format!("ECS service {service} in {cluster}");
            plan.judge(c, request, what, Resource::Ecs { arn }, removal).await?;
        }
        if let Some(arn) = aws_init::cluster(c, cluster).await? {
            let removal = Removal::Cluster { name: cluster.clone() };
            plan.judge(c, request, format!("ECS cluster {cluster}"), Resource::Ecs { arn }, removal).await?;
        }
        let role = request.role();
        if aws_init::role(c, &role).await?.is_some() {
            let removal = Removal::Role { name: role.clone() };
            plan.judge(
                c,
                request,
                format!("IAM role {role}"),
                Resource::Role { name: role.clone() },
                removal,
            )
            .await?;
        }
        let backup = request.backup_role();
        if aws_init::role(c, &backup).await?.is_some() {
            let removal = Removal::Role { name: backup.clone() };
            let resource = Resource::Role { name: backup.clone() };
            plan.judge(c, request, format!("IAM role {backup}"), resource, removal).await?;
        }
        let network = match &request.subnets {
            Some(subnets) => aws_init::network_of(c, subnets).await?,
            None => aws_init::default_network(c).await?,
        };
        let group = request.security_group();
        if let Some(id) = aws_init::security_group(c, &network.vpc, &group).await? {
            let removal = Removal::SecurityGroup { name: group.clone(), id: id.clone() };
            let what = format!("security group {group}");
            plan.judge(c, request, what, Resource::SecurityGroup { id }, removal).await?;
        }
        let log_group = request.log_group();
        if let Some((arn, _)) = aws_init::log_group(c, &log_group).await? {
            let removal = Removal::LogGroup { name: log_group.clone() };
            let what = format!("log group {log_group}");
            plan.judge(c, request, what, Resource::LogGroup { arn }, removal).await?;
        }
    }
    if let Some(repository) = aws_init::repository(c, &request.repository).await? {
        let what = format!("ECR repository {}", request.repository);
        if include_data {
            let removal = Removal::Repository { name: request.repository.clone() };
            plan.judge(c, request, what, Resource::Repository { arn: repository.arn }, removal).await?;
        } else {
            plan.kept.push(format!("{what} (its images: add --include-data)"));
        }
    }
    if aws_init::bucket_exists(c, &request.bucket).await? {
        let what = format!("S3 bucket {}", request.bucket);
        if include_data {
            let removal = Removal::Bucket { name: request.bucket.clone() };
            plan.judge(c, request, what, Resource::Bucket { name: request.bucket.clone() }, removal).await?;
        } else {
            plan.kept.push(format!("{what} (its snapshots: add --include-data)"));
        }
    }
    // Untagging first, then the service before its cluster, the group last but the data.
    plan.removals.sort_by_key(|r| match r {
        Removal::Untag { .. } => 0,
        Removal::Service { .. } => 1,
        Removal::Cluster { .. } => 2,
        Removal::Role { .. } | Removal::LogGroup { .. } => 3,
        Removal::SecurityGroup { .. } => 4,
        Removal::Repository { .. } | Removal::Bucket { .. } => 5,
    });
    Ok(plan)
}

/// What a destroy did, and what is left (each with why).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Destroyed {
    pub done: Vec<String>,
    pub left: Vec<String>,
}

/// Carries `plan` out; a refusal is said and the rest goes on.
pub async fn destroy(
    c: &InitClients,
    request: &InitRequest,
    plan: &DestroyPlan,
    say: impl Fn(&str),
) -> Destroyed {
    let mut outcome = Destroyed::default();
    for removal in &plan.removals {
        say(&format!(
            "{} {}",
            if removal.verb() == "untag" { "untagging" } else { "removing" },
            removal.describe()
        ));
        let done = match removal {
            Removal::Service { cluster, name } => remove_service(c, cluster, name, &say).await,
            Removal::Cluster { name } => aws_init::delete_cluster(c, name).await,
            Removal::Role { name } => aws_init::delete_role(c, name).await,
            Removal::LogGroup { name } => aws_init::delete_log_group(c, name).await,
            Removal::SecurityGroup { id, .. } => remove_security_group(c, id, &say).await,
            Removal::Repository { name } => aws_init::delete_repository(c, name).await,
            Removal::Bucket { name } => aws_init::delete_bucket(c, name).await,
            Removal::Untag { resource, .. } => {
                // A shared role keeps its other inits' policies; this init's own goes with its tag.
                if let Resource::Role { name } = resource {
                    let policy = aws_init::backup_policy_name(&request.init_id);
                    if let Err(e) = aws_init::remove_role_policy(c, name, &policy).await {
                        outcome.left.push(format!("{}: {e}", removal.describe()));
                        continue;
                    }
                }
                aws_init::remove_tag(c, resource, &request.tag().key).await
            }
        };
        match done {
            Ok(()) => outcome.done.push(removal.describe()),
            Err(e) => outcome.left.push(format!("{}: {e}", removal.describe())),
        }
    }
    outcome
}

/// Scales the service to 0, waits for its tasks to stop, deletes it and
/// waits until it is gone.
async fn remove_service(
    c: &InitClients,
    cluster: &str,
    name: &str,
    say: &impl Fn(&str),
) -> Result<(), AwsError> {
    aws_init::scale_to_zero(c, cluster, name).await?;
    let started = tokio::time::Instant::now();
    loop {
        let left = aws_init::tasks_left(c, cluster, name).await?;
        if left == 0 {
            break;
        }
        if started.elapsed() > DRAIN_WITHIN {
            return Err(AwsError::Service(format!(
                "{left} task{} of {name} still running after {} minutes; run --destroy again later",
                if left == 1 { "" } else { "s" },
                DRAIN_WITHIN.as_secs() / 60
            )));
        }
        say(&format!("waiting for {left} task{} of {name} to stop", if left == 1 { "" } else { "s" }));
        tokio::time::sleep(POLL).await;
    }
    aws_init::delete_service(c, cluster, name).await?;
    while aws_init::service(c, cluster, name).await?.is_some() {
        if started.elapsed() > DRAIN_WITHIN {
            return Err(AwsError::Service(format!("{name} is still draining; run --destroy again later")));
        }
        say(&format!("waiting for {name} to be gone"));
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// Deletes the security group, trying again while the network interfaces of
/// tasks just stopped still hold it.
async fn remove_security_group(c: &InitClients, id: &str, say: &impl Fn(&str)) -> Result<(), AwsError> {
    let started = tokio::time::Instant::now();
    loop {
        match aws_init::delete_security_group(c, id).await {
            Err(AwsError::Service(m))
                if m.contains("DependencyViolation") && started.elapsed() < DETACH_WITHIN =>
            {
                say("waiting for the stopped tasks' network interfaces to let go of the security group");
                tokio::time::sleep(POLL).await;
            }
            other => return other,
        }
    }
}
