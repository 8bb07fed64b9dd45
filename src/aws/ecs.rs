//! ECS: what a remote backup needs — a one-off task of a service's task
//! definition on the service's cluster and network, with one container's
//! command replaced, and where that task stands.

use aws_sdk_ecs::types::{ContainerOverride, TaskOverride};

use super::error::{AwsError, from_sdk};
use super::logs::LogStream;

/// A one-off task that was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedTask {
    pub arn: String,
    /// The last part of the ARN, as the console shows it.
    pub id: String,
    /// The task definition, `family:revision`.
    pub task_definition: String,
    pub container: String,
    pub image: String,
    /// Where the container's `awslogs` output goes, if it has that configuration.
    pub logs: Option<LogStream>,
}

/// Where a task stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    /// PROVISIONING, PENDING, RUNNING, DEPROVISIONING, STOPPED …
    pub last_status: String,
    pub stopped_reason: Option<String>,
    /// The chosen container's exit code, once it has one.
    pub exit_code: Option<i32>,
    /// Why the container stopped, in ECS's words.
    pub container_reason: Option<String>,
}

/// Starts one task of `service`'s current task definition on `cluster`, in the
/// service's network configuration and launch type, with `container` (else the
/// first essential container) running `command` instead of its own.
pub async fn run_one_off(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    container: Option<&str>,
    command: Vec<String>,
    started_by: &str,
) -> Result<StartedTask, AwsError> {
    let described =
        ecs.describe_services().cluster(cluster).services(service).send().await.map_err(from_sdk)?;
    let svc = described.services().first().ok_or_else(|| {
        let why = described.failures().first().and_then(|f| f.reason()).unwrap_or("MISSING");
        AwsError::NotFound(format!("no ECS service `{service}` in cluster `{cluster}` ({why})"))
    })?;
    let definition_arn = svc
        .task_definition()
        .ok_or_else(|| AwsError::Service(format!("service `{service}` has no task definition")))?;
    let definition = ecs
        .describe_task_definition()
        .task_definition(definition_arn)
        .send()
        .await
        .map_err(from_sdk)?
        .task_definition
        .ok_or_else(|| AwsError::Service(format!("ECS returned no task definition for {definition_arn}")))?;
    let containers = definition.container_definitions();
    let chosen = match container {
        Some(name) => containers.iter().find(|c| c.name() == Some(name)).ok_or_else(|| {
            let names: Vec<_> = containers.iter().filter_map(|c| c.name()).collect();
            AwsError::NotFound(format!(
                "no container `{name}` in task definition {} (it has {})",
                definition_arn,
                names.join(", ")
            ))
        })?,
        None => containers
            .iter()
            .find(|c| c.essential().unwrap_or(true))
            .or_else(|| containers.first())
            .ok_or_else(|| {
                AwsError::Service(format!("task definition {definition_arn} has no containers"))
            })?,
    };
    let name = chosen.name().unwrap_or_default().to_string();

    let mut run = ecs
        .run_task()
        .cluster(cluster)
        .task_definition(definition_arn)
        .count(1)
        .started_by(started_by)
        .overrides(
            TaskOverride::builder()
                .container_overrides(
                    ContainerOverride::builder().name(&name).set_command(Some(command)).build(),
                )
                .build(),
        )
        .set_network_configuration(svc.network_configuration().cloned())
        .set_platform_version(svc.platform_version().map(str::to_string));
    run = if svc.capacity_provider_strategy().is_empty() {
        run.set_launch_type(svc.launch_type().cloned())
    } else {
        run.set_capacity_provider_strategy(Some(svc.capacity_provider_strategy().to_vec()))
    };
    let out = run.send().await.map_err(from_sdk)?;
    let task = out.tasks().first().ok_or_else(|| {
        let why = out.failures().first().and_then(|f| f.reason()).unwrap_or("no reason given");
        AwsError::Service(format!("ECS started no task: {why}"))
    })?;
    let arn = task.task_arn().unwrap_or_default().to_string();
    let id = arn.rsplit('/').next().unwrap_or(&arn).to_string();
    let logs = chosen.log_configuration().filter(|l| l.log_driver().as_str() == "awslogs").and_then(|l| {
        let options = l.options()?;
        let group = options.get("awslogs-group")?.clone();
        let prefix = options.get("awslogs-stream-prefix")?;
        Some(LogStream { group, stream: format!("{prefix}/{name}/{id}") })
    });
    Ok(StartedTask {
        arn,
        id,
        task_definition: format!("{}:{}", definition.family().unwrap_or_default(), definition.revision()),
        image: chosen.image().unwrap_or_default().to_string(),
        container: name,
        logs,
    })
}

/// Where task `arn` stands, and `container`'s exit code.
pub async fn task_state(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arn: &str,
    container: &str,
) -> Result<TaskState, AwsError> {
    let out = ecs.describe_tasks().cluster(cluster).tasks(arn).send().await.map_err(from_sdk)?;
    let task = out.tasks().first().ok_or_else(|| AwsError::NotFound(format!("task {arn} is gone")))?;
    let chosen = task.containers().iter().find(|c| c.name() == Some(container));
    Ok(TaskState {
        last_status: task.last_status().unwrap_or("UNKNOWN").to_string(),
        stopped_reason: task.stopped_reason().map(str::to_string),
        exit_code: chosen.and_then(|c| c.exit_code()),
        container_reason: chosen.and_then(|c| c.reason()).map(str::to_string),
    })
}

/// Stops task `arn`, saying why.
pub async fn stop_task(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arn: &str,
    reason: &str,
) -> Result<(), AwsError> {
    ecs.stop_task().cluster(cluster).task(arn).reason(reason).send().await.map_err(from_sdk)?;
    Ok(())
}
