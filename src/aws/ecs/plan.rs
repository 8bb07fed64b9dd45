//! Deploys and rollbacks: a change of a service's task definition worked out
//! as a [`Plan`] (what changes, shown before anything is done) and applied.

use super::family_revision;
use crate::aws::error::{AwsError, from_sdk};

/// A change of a service's task definition, worked out and not yet made.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub cluster: String,
    pub service: String,
    /// `family:revision` now.
    pub from: String,
    /// `family:revision` after: an existing revision (rollback) or `family:(new)`.
    pub to: String,
    /// What changes, a line each: `container app: image A → B`.
    pub changes: Vec<String>,
    target: Target,
}

#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// Register this definition, then point the service at it.
    Register(Box<aws_sdk_ecs::types::TaskDefinition>),
    /// Point the service at this existing revision (its ARN).
    Existing(String),
}

impl Plan {
    /// A change back to an existing revision (its ARN), as a rollback makes it.
    pub fn existing(
        cluster: &str,
        service: &str,
        from: &str,
        to: &str,
        changes: Vec<String>,
        arn: &str,
    ) -> Plan {
        Plan {
            cluster: cluster.into(),
            service: service.into(),
            from: from.into(),
            to: to.into(),
            changes,
            target: Target::Existing(arn.into()),
        }
    }

    /// The diff as a user reads it before saying yes.
    pub fn diff(&self) -> String {
        let mut text =
            format!("{}/{}: task definition {} → {}\n", self.cluster, self.service, self.from, self.to);
        for change in &self.changes {
            text.push_str(&format!("  {change}\n"));
        }
        text
    }
}

/// The service and the task definition it runs now.
pub(super) async fn current_definition(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<(aws_sdk_ecs::types::Service, aws_sdk_ecs::types::TaskDefinition), AwsError> {
    let described =
        ecs.describe_services().cluster(cluster).services(service).send().await.map_err(from_sdk)?;
    let svc = described.services().first().cloned().ok_or_else(|| {
        let why = described.failures().first().and_then(|f| f.reason()).unwrap_or("MISSING");
        AwsError::NotFound(format!("no ECS service `{service}` in cluster `{cluster}` ({why})"))
    })?;
    let arn = svc
        .task_definition()
        .ok_or_else(|| AwsError::Service(format!("service `{service}` has no task definition")))?;
    let definition = describe_definition(ecs, arn).await?;
    Ok((svc, definition))
}

/// The container of `definition` named `name`, else its first essential one.
pub(super) fn chosen_container<'a>(
    definition: &'a aws_sdk_ecs::types::TaskDefinition,
    name: Option<&str>,
) -> Result<&'a aws_sdk_ecs::types::ContainerDefinition, AwsError> {
    let containers = definition.container_definitions();
    let arn = definition.task_definition_arn().unwrap_or_default();
    match name {
        Some(name) => containers.iter().find(|c| c.name() == Some(name)).ok_or_else(|| {
            let names: Vec<_> = containers.iter().filter_map(|c| c.name()).collect();
            AwsError::NotFound(format!(
                "no container `{name}` in task definition {arn} (it has {})",
                names.join(", ")
            ))
        }),
        None => containers
            .iter()
            .find(|c| c.essential().unwrap_or(true))
            .or_else(|| containers.first())
            .ok_or_else(|| AwsError::Service(format!("task definition {arn} has no containers"))),
    }
}

pub(super) async fn describe_definition(
    ecs: &aws_sdk_ecs::Client,
    arn: &str,
) -> Result<aws_sdk_ecs::types::TaskDefinition, AwsError> {
    ecs.describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(from_sdk)?
        .task_definition
        .ok_or_else(|| AwsError::Service(format!("ECS returned no task definition for {arn}")))
}

fn name_of(definition: &aws_sdk_ecs::types::TaskDefinition) -> String {
    format!("{}:{}", definition.family().unwrap_or_default(), definition.revision())
}

/// The repository part of an image reference: `host/path` without tag or digest.
fn repository_of(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => without_digest,
    }
}

/// A new revision of `service`'s task definition with `container` (else the one
/// whose image is in the same repository as `image`, else the only one)
/// running `image` (`repository@sha256:…`); every other field as it is.
pub async fn plan_deploy(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    container: Option<&str>,
    image: &str,
) -> Result<Plan, AwsError> {
    let (_, definition) = current_definition(ecs, cluster, service).await?;
    let containers = definition.container_definitions();
    let wanted_repo = repository_of(image).rsplit('/').next().unwrap_or_default();
    let index = match container {
        Some(name) => containers.iter().position(|c| c.name() == Some(name)),
        None => containers
            .iter()
            .position(|c| c.image().is_some_and(|i| repository_of(i).rsplit('/').next() == Some(wanted_repo)))
            .or((containers.len() == 1).then_some(0)),
    }
    .ok_or_else(|| {
        let names: Vec<_> = containers.iter().filter_map(|c| c.name()).collect();
        AwsError::NotFound(format!(
            "which container runs {wanted_repo}? {} has {}; set container in wharf.toml",
            name_of(&definition),
            names.join(", ")
        ))
    })?;
    let old = &containers[index];
    let old_image = old.image().unwrap_or_default().to_string();
    let mut changed = containers.to_vec();
    changed[index].image = Some(image.to_string());
    let mut new = definition.clone();
    new.container_definitions = Some(changed);
    let changes = if old_image == image {
        vec![]
    } else {
        vec![format!("container {}: image {old_image} → {image}", old.name().unwrap_or_default())]
    };
    Ok(Plan {
        cluster: cluster.into(),
        service: service.into(),
        from: name_of(&definition),
        to: format!("{}:(new)", definition.family().unwrap_or_default()),
        changes,
        target: Target::Register(Box::new(new)),
    })
}

/// Back to what the service ran before: its previous deployment's task
/// definition, else the family's previous revision.
pub async fn plan_rollback(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Plan, AwsError> {
    let (svc, current) = current_definition(ecs, cluster, service).await?;
    let current_arn = current.task_definition_arn().unwrap_or_default();
    let previous_arn = svc
        .deployments()
        .iter()
        .filter(|d| d.status() != Some("PRIMARY"))
        .filter_map(|d| d.task_definition())
        .find(|arn| *arn != current_arn)
        .map(str::to_string);
    let previous_arn = match previous_arn {
        Some(arn) => arn,
        None if current.revision() > 1 => {
            format!("{}:{}", current.family().unwrap_or_default(), current.revision() - 1)
        }
        None => {
            return Err(AwsError::NotFound(format!(
                "{service} runs {}, the family's first revision: there is nothing to roll back to",
                name_of(&current)
            )));
        }
    };
    let previous = describe_definition(ecs, &previous_arn).await?;
    let mut changes = Vec::new();
    for now in current.container_definitions() {
        let before = previous.container_definitions().iter().find(|c| c.name() == now.name());
        let (a, b) = (now.image().unwrap_or_default(), before.and_then(|c| c.image()).unwrap_or("(none)"));
        if a != b {
            changes.push(format!("container {}: image {a} → {b}", now.name().unwrap_or_default()));
        }
    }
    Ok(Plan {
        cluster: cluster.into(),
        service: service.into(),
        from: name_of(&current),
        to: name_of(&previous),
        changes,
        target: Target::Existing(previous.task_definition_arn().unwrap_or_default().to_string()),
    })
}

/// Carries `plan` out: registers the new revision if there is one, and points
/// the service at it. Returns the service's task definition, `family:revision`.
pub async fn apply(ecs: &aws_sdk_ecs::Client, plan: &Plan) -> Result<String, AwsError> {
    // The diff was shown a while ago: if the service has moved since, it is
    // out of date, and applying it would undo someone else's change.
    let described = ecs
        .describe_services()
        .cluster(&plan.cluster)
        .services(&plan.service)
        .send()
        .await
        .map_err(from_sdk)?;
    let now = described.services().first().and_then(|s| s.task_definition()).map(family_revision);
    if now.as_deref() != Some(plan.from.as_str()) {
        return Err(AwsError::Service(format!(
            "{} now runs {} and the change was worked out from {}: it moved since the diff was shown, so nothing \
             was changed; look again and deploy anew",
            plan.service,
            now.as_deref().unwrap_or("nothing"),
            plan.from
        )));
    }
    let arn = match &plan.target {
        Target::Existing(arn) => arn.clone(),
        Target::Register(d) => {
            let out = ecs
                .register_task_definition()
                .set_family(d.family().map(str::to_string))
                .set_task_role_arn(d.task_role_arn().map(str::to_string))
                .set_execution_role_arn(d.execution_role_arn().map(str::to_string))
                .set_network_mode(d.network_mode().cloned())
                .set_container_definitions(Some(d.container_definitions().to_vec()))
                .set_volumes(Some(d.volumes().to_vec()))
                .set_placement_constraints(Some(d.placement_constraints().to_vec()))
                .set_requires_compatibilities(Some(d.requires_compatibilities().to_vec()))
                .set_cpu(d.cpu().map(str::to_string))
                .set_memory(d.memory().map(str::to_string))
                .set_pid_mode(d.pid_mode().cloned())
                .set_ipc_mode(d.ipc_mode().cloned())
                .set_proxy_configuration(d.proxy_configuration().cloned())
                .set_inference_accelerators(Some(d.inference_accelerators().to_vec()))
                .set_ephemeral_storage(d.ephemeral_storage().cloned())
                .set_runtime_platform(d.runtime_platform().cloned())
                .set_enable_fault_injection(d.enable_fault_injection())
                .send()
                .await
                .map_err(|e| match from_sdk(e) {
                    AwsError::Service(m) => AwsError::Service(format!(
                        "the task definition could not be re-registered as read: {m}"
                    )),
                    other => other,
                })?;
            out.task_definition().and_then(|t| t.task_definition_arn()).unwrap_or_default().to_string()
        }
    };
    ecs.update_service()
        .cluster(&plan.cluster)
        .service(&plan.service)
        .task_definition(&arn)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(family_revision(&arn))
}
