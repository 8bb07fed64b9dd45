//! ECS: what a remote backup needs — a one-off task of a service's task
//! definition on the service's cluster and network, with one container's
//! command replaced, and where that task stands.

use aws_sdk_ecs::types::{ContainerOverride, TaskOverride};

pub mod backup;
mod plan;

use plan::describe_definition;
pub use plan::{Plan, apply, plan_deploy, plan_rollback};

use super::error::{AwsError, from_sdk};
use super::logs::LogStream;
use super::pace::Pace;
pub use crate::model::ecs::{
    ContainerSpec, ServiceEvent, ServiceInfo, StartedTask, TaskContainer, TaskInfo, TaskState,
};

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
    let (svc, definition) = plan::current_definition(ecs, cluster, service).await?;
    let definition_arn = definition.task_definition_arn().unwrap_or_default();
    let chosen = plan::chosen_container(&definition, container)?;
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
    let logs = awslogs_stream(chosen, &id);
    Ok(StartedTask {
        arn,
        id,
        task_definition: format!("{}:{}", definition.family().unwrap_or_default(), definition.revision()),
        image: chosen.image().unwrap_or_default().to_string(),
        container: name,
        logs,
    })
}

/// The stream a container of task `id` logs to with the `awslogs` driver:
/// `<prefix>/<container>/<task id>` in the configured group.
fn awslogs_stream(c: &aws_sdk_ecs::types::ContainerDefinition, id: &str) -> Option<LogStream> {
    let l = c.log_configuration().filter(|l| l.log_driver().as_str() == "awslogs")?;
    let options = l.options()?;
    let group = options.get("awslogs-group")?.clone();
    let prefix = options.get("awslogs-stream-prefix")?;
    Some(LogStream { group, stream: format!("{prefix}/{}/{id}", c.name().unwrap_or_default()) })
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

/// Service events kept per service.
const EVENTS: usize = 10;
/// Describe calls in flight at once.
const DESCRIBES: usize = 4;

/// `…:task-definition/family:3` → `family:3`.
fn family_revision(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_string()
}

/// Every cluster's name, through all pages, sorted.
pub async fn clusters(ecs: &aws_sdk_ecs::Client) -> Result<Vec<String>, AwsError> {
    let mut pages = ecs.list_clusters().into_paginator().items().send();
    let mut names = Vec::new();
    while let Some(arn) = pages.next().await {
        let arn = arn.map_err(from_sdk)?;
        names.push(arn.rsplit('/').next().unwrap_or(&arn).to_string());
    }
    names.sort();
    Ok(names)
}

fn service_info(s: &aws_sdk_ecs::types::Service) -> ServiceInfo {
    let primary = s.deployments().iter().find(|d| d.status() == Some("PRIMARY"));
    let definition = primary.and_then(|d| d.task_definition()).or(s.task_definition()).unwrap_or_default();
    ServiceInfo {
        name: s.service_name().unwrap_or_default().to_string(),
        status: s.status().unwrap_or_default().to_string(),
        desired: s.desired_count(),
        running: s.running_count(),
        pending: s.pending_count(),
        task_definition: family_revision(definition),
        rollout: primary.and_then(|d| d.rollout_state()).map(|r| r.as_str().to_string()),
        events: s
            .events()
            .iter()
            .take(EVENTS)
            .map(|e| ServiceEvent {
                at: e.created_at().map(|t| t.secs()),
                message: e.message().unwrap_or_default().to_string(),
            })
            .collect(),
    }
}

/// One service, described.
pub async fn service(
    ecs: &aws_sdk_ecs::Client,
    pace: &Pace,
    cluster: &str,
    service: &str,
) -> Result<ServiceInfo, AwsError> {
    let names = [service.to_string()];
    let described = describe_services(ecs, pace, cluster, &names).await?;
    described
        .into_iter()
        .next()
        .ok_or_else(|| AwsError::NotFound(format!("no ECS service `{service}` in cluster `{cluster}`")))
}

/// Every service of `cluster`, sorted by name.
pub async fn services(
    ecs: &aws_sdk_ecs::Client,
    pace: &Pace,
    cluster: &str,
) -> Result<Vec<ServiceInfo>, AwsError> {
    services_as_they_come(ecs, pace, cluster, |_| {}).await
}

/// Every service of `cluster`, sorted by name, as it comes: listed a page of
/// 100 at a time, the names handed to `so_far` as each page arrives; then
/// described ten at a time in name order (the top of the list, what is on
/// screen, first), each call paced to stay under the account's service-read
/// quota, `so_far` hearing each batch. Services that go away in between are
/// left out.
pub async fn services_as_they_come(
    ecs: &aws_sdk_ecs::Client,
    pace: &Pace,
    cluster: &str,
    mut so_far: impl FnMut(&[ServiceInfo]),
) -> Result<Vec<ServiceInfo>, AwsError> {
    use futures::StreamExt;
    let mut list: Vec<ServiceInfo> = Vec::new();
    list_service_pages(ecs, pace, cluster, |page| {
        list.extend(page.iter().map(|name| ServiceInfo::listed(name)));
        list.sort_by(|a, b| a.name.cmp(&b.name));
        so_far(&list);
    })
    .await?;
    let mut names: Vec<String> = list.iter().map(|s| s.name.clone()).collect();
    names.dedup();
    let batches: Vec<Vec<String>> = names.chunks(10).map(<[String]>::to_vec).collect();
    let describes = batches
        .iter()
        .map(|batch| describe_services(ecs, pace, cluster, batch))
        // Boxed: a lazy iterator of these futures trips the compiler's Send check in spawned loads.
        .map(futures::FutureExt::boxed)
        .collect::<Vec<_>>();
    // In order, a few in flight: the top of the list is described first.
    let mut described = futures::stream::iter(describes).buffered(DESCRIBES);
    let mut batch = batches.iter();
    while let Some(services) = described.next().await {
        let asked = batch.next().map(Vec::as_slice).unwrap_or_default();
        let services = services?;
        for name in asked {
            match services.iter().find(|s| &s.name == name) {
                Some(found) => {
                    if let Ok(i) = list.binary_search_by(|s| s.name.cmp(name)) {
                        list[i] = found.clone();
                    }
                }
                // Deleted since it was listed.
                None => list.retain(|s| &s.name != name),
            }
        }
        so_far(&list);
    }
    Ok(list)
}

/// The services of `cluster` named `names`, described ten a call (those ECS
/// no longer has are left out): what a refresh of the rows on screen asks.
pub async fn services_named(
    ecs: &aws_sdk_ecs::Client,
    pace: &Pace,
    cluster: &str,
    names: &[String],
) -> Result<Vec<ServiceInfo>, AwsError> {
    let mut described = Vec::with_capacity(names.len());
    for batch in names.chunks(10) {
        described.extend(describe_services(ecs, pace, cluster, batch).await?);
    }
    Ok(described)
}

/// The names of `cluster`'s services, sorted, without describing them.
pub async fn service_names(
    ecs: &aws_sdk_ecs::Client,
    pace: &Pace,
    cluster: &str,
) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    list_service_pages(ecs, pace, cluster, |page| names.extend_from_slice(page)).await?;
    names.sort();
    names.dedup();
    Ok(names)
}

/// Lists `cluster`'s services a page of 100 at a time, each call paced and
/// its throttling outlasted, handing each page's names on as it comes.
async fn list_service_pages(
    ecs: &aws_sdk_ecs::Client,
    pace: &Pace,
    cluster: &str,
    mut on_page: impl FnMut(&[String]),
) -> Result<(), AwsError> {
    let mut token: Option<String> = None;
    loop {
        let page = patiently(|| async {
            pace.ready().await;
            ecs.list_services()
                .cluster(cluster)
                .max_results(100)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(from_sdk)
        })
        .await?;
        let names: Vec<String> =
            page.service_arns().iter().map(|arn| arn.rsplit('/').next().unwrap_or(arn).to_string()).collect();
        on_page(&names);
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(());
        }
    }
}

/// Up to ten services of `cluster` by name, described (those ECS no longer
/// has are left out), the call paced and its throttling outlasted.
async fn describe_services(
    ecs: &aws_sdk_ecs::Client,
    pace: &Pace,
    cluster: &str,
    names: &[String],
) -> Result<Vec<ServiceInfo>, AwsError> {
    let out = patiently(|| async {
        pace.ready().await;
        ecs.describe_services()
            .cluster(cluster)
            .set_services(Some(names.to_vec()))
            .send()
            .await
            .map_err(from_sdk)
    })
    .await?;
    Ok(out.services().iter().map(service_info).collect())
}

/// Rounds of the SDK's own retries a throttled call gets before it fails.
const PATIENCE: u32 = 4;

/// Runs `call` again while AWS still throttles it after the SDK's retries,
/// waiting longer each time (2, 4, 8 s): throttling that retries outlast never
/// fails a listing; only one that outlasts these does.
async fn patiently<T, F, Fut>(call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    use backon::Retryable;
    let rounds = backon::ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_secs(2))
        .with_factor(2.0)
        .with_max_times(PATIENCE as usize);
    call.retry(rounds)
        .when(|e| matches!(e, AwsError::Throttled(_)))
        .notify(
            |e, wait| tracing::warn!(error = %e, ?wait, "throttled by ECS after the SDK's retries; waiting"),
        )
        .await
}

/// The tasks of `cluster` (of `service` when given), running and recently
/// stopped: listed through all pages, described a hundred at a time.
pub async fn tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: Option<&str>,
) -> Result<Vec<TaskInfo>, AwsError> {
    use aws_sdk_ecs::types::DesiredStatus;
    use futures::StreamExt;
    let mut arns = Vec::new();
    for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let mut pages = ecs
            .list_tasks()
            .cluster(cluster)
            .set_service_name(service.map(str::to_string))
            .desired_status(status)
            .into_paginator()
            .items()
            .send();
        while let Some(arn) = pages.next().await {
            arns.push(arn.map_err(from_sdk)?);
        }
    }
    let batches = arns
        .chunks(100)
        .map(|batch| ecs.describe_tasks().cluster(cluster).set_tasks(Some(batch.to_vec())).send())
        .map(futures::FutureExt::boxed)
        .collect::<Vec<_>>();
    let mut described = futures::stream::iter(batches).buffer_unordered(DESCRIBES);
    let mut tasks = Vec::new();
    while let Some(out) = described.next().await {
        for t in out.map_err(from_sdk)?.tasks() {
            let arn = t.task_arn().unwrap_or_default();
            tasks.push(TaskInfo {
                id: arn.rsplit('/').next().unwrap_or(arn).to_string(),
                last_status: t.last_status().unwrap_or_default().to_string(),
                desired_status: t.desired_status().unwrap_or_default().to_string(),
                health: t.health_status().map(|h| h.as_str().to_string()),
                started_at: t.started_at().map(|s| s.secs()),
                stopped_reason: t.stopped_reason().filter(|r| !r.is_empty()).map(str::to_string),
                task_definition: family_revision(t.task_definition_arn().unwrap_or_default()),
                containers: t
                    .containers()
                    .iter()
                    .map(|c| TaskContainer {
                        name: c.name().unwrap_or_default().to_string(),
                        image: c.image().unwrap_or_default().to_string(),
                        digest: c.image_digest().map(str::to_string),
                        last_status: c.last_status().map(str::to_string),
                        exit_code: c.exit_code(),
                    })
                    .collect(),
            });
        }
    }
    // Running first, then the newest.
    tasks.sort_by(|a, b| {
        (a.last_status != "RUNNING").cmp(&(b.last_status != "RUNNING")).then(b.started_at.cmp(&a.started_at))
    });
    Ok(tasks)
}

/// Where each container of task `task` (an id or ARN) logs: `(container, stream)`,
/// the stream `None` for a container without the `awslogs` driver.
pub async fn log_streams(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    task: &str,
) -> Result<Vec<(String, Option<LogStream>)>, AwsError> {
    let out = ecs.describe_tasks().cluster(cluster).tasks(task).send().await.map_err(from_sdk)?;
    let found = out
        .tasks()
        .first()
        .ok_or_else(|| AwsError::NotFound(format!("no ECS task `{task}` in cluster `{cluster}`")))?;
    let arn = found.task_arn().unwrap_or_default();
    let id = arn.rsplit('/').next().unwrap_or(arn);
    let definition = describe_definition(ecs, found.task_definition_arn().unwrap_or_default()).await?;
    Ok(definition
        .container_definitions()
        .iter()
        .map(|c| (c.name().unwrap_or_default().to_string(), awslogs_stream(c, id)))
        .collect())
}

/// The container of `service`'s current task definition named by the first of
/// `names` it has, else its only container; `None` when it has several and
/// none of those names.
pub async fn service_container(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    names: &[&str],
) -> Result<Option<ContainerSpec>, AwsError> {
    let described =
        ecs.describe_services().cluster(cluster).services(service).send().await.map_err(from_sdk)?;
    let svc =
        described.services().iter().find(|s| s.status() != Some("INACTIVE")).ok_or_else(|| {
            AwsError::NotFound(format!("no ECS service `{service}` in cluster `{cluster}`"))
        })?;
    let definition = describe_definition(ecs, svc.task_definition().unwrap_or_default()).await?;
    let containers = definition.container_definitions();
    let chosen = names
        .iter()
        .find_map(|n| containers.iter().find(|c| c.name() == Some(*n)))
        .or((containers.len() == 1).then(|| &containers[0]));
    Ok(chosen.map(|c| ContainerSpec {
        name: c.name().unwrap_or_default().to_string(),
        definition: format!("{}:{}", definition.family().unwrap_or_default(), definition.revision()),
        image: c.image().unwrap_or_default().to_string(),
        ports: c
            .port_mappings()
            .iter()
            .filter_map(|p| {
                let inside = u16::try_from(p.container_port()?).ok()?;
                let outside = p.host_port().and_then(|h| u16::try_from(h).ok()).filter(|h| *h != 0);
                let protocol = p.protocol().map_or("tcp", |p| p.as_str()).to_string();
                Some((outside.unwrap_or(inside), inside, protocol))
            })
            .collect(),
        environment: c
            .environment()
            .iter()
            .filter_map(|kv| Some(format!("{}={}", kv.name()?, kv.value().unwrap_or_default())))
            .collect(),
        entry_point: (!c.entry_point().is_empty()).then(|| c.entry_point().to_vec()),
        command: (!c.command().is_empty()).then(|| c.command().to_vec()),
    }))
}
