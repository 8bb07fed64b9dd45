//! What a remote backup asks of ECS: the service's database container and
//! the task that runs it now (its private address), the backup task's
//! definition (registered again only when it changed), the task started in
//! the service's own network, and where its two containers stand.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerCondition, ContainerDefinition,
    ContainerDependency, DesiredStatus, KeyValuePair, LaunchType, LogConfiguration, LogDriver, MountPoint,
    NetworkConfiguration, NetworkMode, Secret, Tag, Volume,
};
use sha2::{Digest, Sha256};

use super::super::error::{AwsError, from_sdk};
use crate::model::ecs::{BackupTask, ServiceDatabase};

/// The tag a backup task definition carries: what it was registered from,
/// hashed, so that an unchanged one is used again rather than registered.
const SPEC_TAG: &str = "wharf:spec";

/// The service's database container (`container`, else its first essential
/// one) and the task that runs it now.
pub async fn service_database(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    container: Option<&str>,
) -> Result<ServiceDatabase, AwsError> {
    let (svc, definition) = super::plan::current_definition(ecs, cluster, service).await?;
    let definition_arn = definition.task_definition_arn().unwrap_or_default();
    let chosen = super::plan::chosen_container(&definition, container)?;
    let log = chosen.log_configuration().filter(|l| l.log_driver() == &LogDriver::Awslogs).and_then(|l| {
        let options = l.options()?;
        Some((
            options.get("awslogs-group")?.clone(),
            options.get("awslogs-region").cloned().unwrap_or_default(),
        ))
    });
    let network = svc.network_configuration().and_then(|n| n.awsvpc_configuration());
    Ok(ServiceDatabase {
        cluster: cluster.to_string(),
        service: service.to_string(),
        task_definition: definition_arn.rsplit('/').next().unwrap_or(definition_arn).to_string(),
        container: chosen.name().unwrap_or_default().to_string(),
        image: chosen.image().unwrap_or_default().to_string(),
        environment: chosen
            .environment()
            .iter()
            .filter_map(|kv| Some((kv.name()?.to_string(), kv.value().unwrap_or_default().to_string())))
            .collect(),
        secrets: chosen
            .secrets()
            .iter()
            .map(|s| (s.name().to_string(), s.value_from().to_string()))
            .collect(),
        port: chosen
            .port_mappings()
            .iter()
            .find_map(|p| p.container_port())
            .and_then(|p| u16::try_from(p).ok()),
        execution_role: definition.execution_role_arn().map(str::to_string),
        log,
        subnets: network.map(|n| n.subnets().to_vec()).unwrap_or_default(),
        security_groups: network.map(|n| n.security_groups().to_vec()).unwrap_or_default(),
        public_ip: network.and_then(|n| n.assign_public_ip()) == Some(&AssignPublicIp::Enabled),
        running: running_task(ecs, cluster, service).await?,
    })
}

/// A task of the service that runs now (a running one first, else one
/// starting that has its address already), and its private address.
async fn running_task(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Option<(String, String)>, AwsError> {
    let listed = ecs
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Running)
        .send()
        .await
        .map_err(from_sdk)?;
    let arns: Vec<String> = listed.task_arns().iter().take(100).cloned().collect();
    if arns.is_empty() {
        return Ok(None);
    }
    let described =
        ecs.describe_tasks().cluster(cluster).set_tasks(Some(arns)).send().await.map_err(from_sdk)?;
    let mut tasks: Vec<_> = described.tasks().iter().filter(|t| t.last_status() != Some("STOPPED")).collect();
    tasks.sort_by_key(|t| t.last_status() != Some("RUNNING"));
    Ok(tasks.into_iter().find_map(|t| {
        let from_attachment = t
            .attachments()
            .iter()
            .flat_map(|a| a.details())
            .find(|d| d.name() == Some("privateIPv4Address"))
            .and_then(|d| d.value());
        let from_container =
            t.containers().iter().flat_map(|c| c.network_interfaces()).find_map(|n| n.private_ipv4_address());
        let address = from_attachment.or(from_container)?;
        Some((t.task_arn()?.to_string(), address.to_string()))
    }))
}

/// The backup task's definition: the newest revision of its family when it
/// was registered from the same `task`, else a new one. Its ARN, and whether
/// it is new.
pub async fn backup_definition(
    ecs: &aws_sdk_ecs::Client,
    task: &BackupTask,
) -> Result<(String, bool), AwsError> {
    let spec =
        format!("{:x}", Sha256::digest(serde_json::to_vec(task).unwrap_or_default()))[..32].to_string();
    let newest = ecs
        .describe_task_definition()
        .task_definition(&task.family)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await;
    if let Ok(out) = newest
        && out.tags().iter().any(|t| t.key() == Some(SPEC_TAG) && t.value() == Some(spec.as_str()))
        && let Some(arn) = out.task_definition().and_then(|t| t.task_definition_arn())
    {
        return Ok((arn.to_string(), false));
    }
    // Each container's soft share of the task's memory (moto runs no task without one).
    let share = i32::try_from(task.memory as usize / task.containers.len().max(1)).unwrap_or(128);
    let containers = task.containers.iter().map(|c| {
        let log = task.log.as_ref().and_then(|(group, region)| {
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", group)
                .options("awslogs-region", region)
                .options("awslogs-stream-prefix", "wharf-backup")
                .build()
                .ok()
        });
        let depends = c.after_success_of.as_ref().map(|other| {
            ContainerDependency::builder()
                .container_name(other)
                .condition(ContainerCondition::Success)
                .build()
        });
        ContainerDefinition::builder()
            .name(&c.name)
            .image(&c.image)
            .essential(c.essential)
            .set_user(c.user.clone())
            .memory_reservation(share)
            .set_entry_point(Some(c.entry_point.clone()))
            .set_command(Some(c.command.clone()))
            .set_environment(Some(
                c.environment.iter().map(|(k, v)| KeyValuePair::builder().name(k).value(v).build()).collect(),
            ))
            .set_secrets(Some(
                c.secrets
                    .iter()
                    .filter_map(|(k, v)| Secret::builder().name(k).value_from(v).build().ok())
                    .collect(),
            ))
            .mount_points(MountPoint::builder().source_volume(&c.mount.0).container_path(&c.mount.1).build())
            .set_depends_on(depends.and_then(|d| d.ok()).map(|d| vec![d]))
            .set_log_configuration(log)
            .build()
    });
    let out = ecs
        .register_task_definition()
        .family(&task.family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu(task.cpu.to_string())
        .memory(task.memory.to_string())
        .set_execution_role_arn(task.execution_role.clone())
        .task_role_arn(&task.task_role)
        .volumes(Volume::builder().name(&task.volume).build())
        .set_container_definitions(Some(containers.collect()))
        .tags(Tag::builder().key(SPEC_TAG).value(&spec).build())
        .send()
        .await
        .map_err(from_sdk)?;
    let arn = out.task_definition().and_then(|t| t.task_definition_arn()).unwrap_or_default();
    Ok((arn.to_string(), true))
}

/// Starts one task of the backup definition `arn` in the service's network; its ARN.
pub async fn run_backup_task(
    ecs: &aws_sdk_ecs::Client,
    db: &ServiceDatabase,
    arn: &str,
    overrides: &[(String, Vec<(String, String)>)],
) -> Result<String, AwsError> {
    let overrides = overrides
        .iter()
        .map(|(container, env)| {
            let env = env.iter().map(|(k, v)| KeyValuePair::builder().name(k).value(v).build()).collect();
            aws_sdk_ecs::types::ContainerOverride::builder()
                .name(container)
                .set_environment(Some(env))
                .build()
        })
        .collect();
    let address = if db.public_ip { AssignPublicIp::Enabled } else { AssignPublicIp::Disabled };
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(db.subnets.clone()))
        .set_security_groups(Some(db.security_groups.clone()))
        .assign_public_ip(address)
        .build()
        .map_err(|e| AwsError::Service(e.to_string()))?;
    let out = ecs
        .run_task()
        .cluster(&db.cluster)
        .task_definition(arn)
        .count(1)
        .launch_type(LaunchType::Fargate)
        .started_by("wharf-backup")
        .overrides(
            aws_sdk_ecs::types::TaskOverride::builder().set_container_overrides(Some(overrides)).build(),
        )
        .network_configuration(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
        .send()
        .await
        .map_err(from_sdk)?;
    if let Some(failure) = out.failures().first() {
        return Err(AwsError::Service(format!(
            "ECS did not start the backup task: {}",
            failure.reason().unwrap_or("no reason given")
        )));
    }
    out.tasks()
        .first()
        .and_then(|t| t.task_arn())
        .map(str::to_string)
        .ok_or_else(|| AwsError::Service("ECS started no backup task".into()))
}

/// Where one container of a task stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// The task's status, why it stopped, and its containers.
pub async fn task_containers(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arn: &str,
) -> Result<(String, Option<String>, Vec<ContainerState>), AwsError> {
    let out = ecs.describe_tasks().cluster(cluster).tasks(arn).send().await.map_err(from_sdk)?;
    let task = out.tasks().first().ok_or_else(|| AwsError::NotFound(format!("task {arn} is gone")))?;
    let containers = task
        .containers()
        .iter()
        .map(|c| ContainerState {
            name: c.name().unwrap_or_default().to_string(),
            exit_code: c.exit_code(),
            reason: c.reason().map(str::to_string),
        })
        .collect();
    Ok((
        task.last_status().unwrap_or("UNKNOWN").to_string(),
        task.stopped_reason().map(str::to_string),
        containers,
    ))
}
