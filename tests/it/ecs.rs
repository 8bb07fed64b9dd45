//! The ECS pane's data and `wharf tasks`, against moto's ECS.

use std::process::Output;

use crate::support::moto_clients;

fn wharf(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    wharf_in(home.path(), args)
}

fn wharf_in(home: &std::path::Path, args: &[&str]) -> Output {
    crate::support::wharf_against(&crate::support::aws_url(), home).args(args).output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn wharf_tasks_lists_clusters_services_and_a_services_tasks() {
    let (cluster, service, _) = crate::remote::ecs_service().await;
    let clients = moto_clients().await;
    let task =
        wharf::aws::ecs::run_one_off(&clients.ecs, &cluster, &service, None, vec!["true".into()], "wharf-it")
            .await
            .unwrap();

    let out = wharf(&["tasks", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let clusters: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(clusters.contains(&cluster), "{clusters:?}");

    let out = wharf(&["tasks", "--cluster", &cluster, "--json"]);
    let services: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(services[0]["name"], service.as_str());
    assert_eq!(services[0]["task_definition"], format!("{service}:1"));
    assert_eq!(services[0]["desired"], 0);

    let out = wharf(&["tasks", "--cluster", &cluster, "--service", &service, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["service"]["name"], service.as_str());
    let tasks = listed["tasks"].as_array().unwrap();
    let found = tasks.iter().find(|t| t["id"] == task.id.as_str()).expect("the task is listed");
    assert_eq!(found["containers"][0]["image"], "postgres:16");
    assert_eq!(found["task_definition"], format!("{service}:1"));

    let out = wharf(&["tasks", "--cluster", &cluster, "--service", &service]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("{cluster} › {service}: 0/0 running")), "{text}");
    assert!(text.contains(&task.id), "{text}");

    let out = wharf(&["tasks", "--cluster", &cluster, "--service", "no-such-service"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!("error: no ECS service `no-such-service` in cluster `{cluster}`")
    );
    let out = wharf(&["tasks", "--cluster", "wharf-no-such-cluster"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("error: cannot list the services of wharf-no-such-cluster")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn services_come_as_names_first_then_described_in_name_order_each_exactly_once() {
    let (cluster, service, _) = crate::remote::ecs_service().await;
    let clients = moto_clients().await;
    let definition = format!("{service}:1");
    for i in 0..134 {
        clients
            .ecs
            .create_service()
            .cluster(&cluster)
            .service_name(format!("extra-{i:03}"))
            .task_definition(&definition)
            .desired_count(0)
            .send()
            .await
            .unwrap();
    }
    // Through a realism layer of its own: ECS's pages, and a service-read
    // bucket small enough that the listing has to pace itself.
    let layer = crate::support::Realism::start(&["--latency-ms", "10", "--bucket", "service_read=8/40"]);
    let clients = crate::support::clients_at(&layer.url).await;
    // wharf paces itself a little under the quota, as it does by default (45/19 against 50/20).
    let pace = wharf::aws::pace::Pace::new(6, 35);
    let mut shown: Vec<(usize, usize)> = Vec::new();
    let services = wharf::aws::ecs::services_as_they_come(&clients.ecs, &pace, &cluster, |s| {
        shown.push((s.len(), s.iter().filter(|s| s.described()).count()))
    })
    .await
    .unwrap();
    assert_eq!(services.len(), 135);
    assert!(services.iter().all(|s| s.described() && s.status == "ACTIVE"), "every one described");
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(names, unique, "each exactly once, sorted by name");
    // Names first (two pages of 100, none described), then fourteen batches of ten, in order.
    assert_eq!(shown[..2], [(100, 0), (135, 0)], "{shown:?}");
    let described: Vec<usize> = shown[2..].iter().map(|(_, d)| *d).collect();
    let expected: Vec<usize> = (1..=14).map(|i| (i * 10).min(135)).collect();
    assert_eq!(described, expected, "the top of the list first");
    let stats = layer.stats();
    let calls = |kind: &str, action: &str| {
        stats[kind][format!("AmazonEC2ContainerServiceV20141113.{action}")].as_u64().unwrap_or(0)
    };
    assert_eq!(calls("pages", "ListServices"), 2, "maxResults 100: two pages");
    assert_eq!(calls("refused", "DescribeServices"), 0, "never more than ten a call");
    assert_eq!(
        calls("throttled", "DescribeServices") + calls("throttled", "ListServices"),
        0,
        "paced under the quota: {stats}"
    );

    // Paced faster than the account allows (another tool takes from the same
    // bucket, say): throttled, retried, and still every service, once.
    let tight = crate::support::Realism::start(&["--latency-ms", "10", "--bucket", "service_read=2/5"]);
    let clients = crate::support::clients_at(&tight.url).await;
    let hasty = wharf::aws::pace::Pace::new(100, 1000);
    let before = wharf::aws::pace::throttled();
    let services = wharf::aws::ecs::services(&clients.ecs, &hasty, &cluster).await.unwrap();
    assert_eq!(services.len(), 135);
    assert!(services.iter().all(|s| s.described()));
    let stats = tight.stats();
    assert!(calls_throttled(&stats) > 0, "the layer throttled: {stats}");
    assert!(wharf::aws::pace::throttled() > before, "and the status line's count saw it");
}

fn calls_throttled(stats: &serde_json::Value) -> u64 {
    stats["throttled"].as_object().map_or(0, |m| m.values().filter_map(|v| v.as_u64()).sum())
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_pins_the_digest_in_a_new_revision_and_rollback_returns() {
    let (cluster, service, _) = crate::remote::ecs_service().await;
    let clients = moto_clients().await;
    let repository = crate::support::unique("wharf-it-deploy");
    let uri = clients
        .ecr
        .create_repository()
        .repository_name(&repository)
        .send()
        .await
        .unwrap()
        .repository()
        .unwrap()
        .repository_uri()
        .unwrap()
        .to_string();
    let digest = crate::support::put_ecr_image(&clients.ecr, &repository, "v2").await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("wharf.toml"),
        format!(
            "[profiles.d]\ncluster = \"{cluster}\"\nservice = \"{service}\"\nrepository = \"{repository}\"\n"
        ),
    )
    .unwrap();
    let revisions = || async {
        let out =
            moto_clients().await.ecs.list_task_definitions().family_prefix(&service).send().await.unwrap();
        out.task_definition_arns().len()
    };
    let current = || async {
        let out = moto_clients()
            .await
            .ecs
            .describe_services()
            .cluster(&cluster)
            .services(&service)
            .send()
            .await
            .unwrap();
        out.services()[0].task_definition().unwrap().rsplit('/').next().unwrap().to_string()
    };
    let pinned = format!("{uri}@{digest}");

    let out = wharf_in(home.path(), &["deploy", "--tag", "v2", "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&format!("container db: image postgres:16 → {pinned}")), "{text}");
    assert!(text.contains(&format!("task definition {service}:1 → {service}:(new)")), "{text}");
    assert_eq!(
        (revisions().await, current().await),
        (1, format!("{service}:1")),
        "a dry run changes nothing"
    );

    let out = wharf_in(home.path(), &["deploy", "--tag", "v2"]);
    assert_eq!(out.status.code(), Some(2), "no --yes: nothing happens");
    assert_eq!(revisions().await, 1);

    // No --wait: moto stores the new task definition but makes no deployment to watch
    // (the rollout is covered with recorded replies below).
    let out = wharf_in(home.path(), &["deploy", "--tag", "v2", "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["task_definition"], format!("{service}:2"));
    assert_eq!(current().await, format!("{service}:2"), "the service runs the new revision");
    let new =
        clients.ecs.describe_task_definition().task_definition(format!("{service}:2")).send().await.unwrap();
    let new = new.task_definition().unwrap();
    let container = &new.container_definitions()[0];
    assert_eq!(container.image(), Some(pinned.as_str()), "pinned to the digest");
    assert_eq!(container.memory(), Some(512));
    let logs = container.log_configuration().unwrap().options().unwrap();
    assert_eq!(
        logs.get("awslogs-stream-prefix").map(String::as_str),
        Some("backup"),
        "log configuration intact"
    );
    assert_eq!((new.cpu(), new.memory()), (Some("256"), Some("512")));
    assert_eq!(new.network_mode().map(|m| m.as_str()), Some("awsvpc"));
    assert_eq!(new.requires_compatibilities().first().map(|c| c.as_str()), Some("FARGATE"));

    let out = wharf_in(home.path(), &["rollback", "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains(&format!("container db: image {pinned} → postgres:16")), "{text}");
    let out = wharf_in(home.path(), &["rollback", "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(current().await, format!("{service}:1"), "back to what it ran before");
    assert_eq!(revisions().await, 2, "a rollback registers nothing");

    let out = wharf_in(home.path(), &["deploy", "--image", "app:latest", "--yes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no digest"));
    let out = wharf_in(home.path(), &["--read-only", "deploy", "--tag", "v2", "--yes"]);
    assert_eq!(out.status.code(), Some(2));
}

/// ECS answering a deploy with recorded replies: the service on revision 1
/// (when the plan is worked out, and again when it is applied), then, after
/// the update, `rollout` one state per `describe_services`.
fn ecs_rolling_out(
    rollout: &'static [(&'static str, i32, i32)],
) -> (aws_sdk_ecs::Client, aws_smithy_mocks::Rule) {
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
    use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionOutput;
    use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
    use aws_sdk_ecs::types::{
        ContainerDefinition, Deployment, DeploymentRolloutState, Service, ServiceEvent, TaskDefinition,
    };
    use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, mock};
    let arn = |rev: i32| format!("arn:aws:ecs:eu-west-1:123456789012:task-definition/app:{rev}");
    let service = move |rev: i32, state: &str, running: i32, desired: i32, event: &str| {
        Service::builder()
            .service_name("app")
            .task_definition(arn(rev))
            .desired_count(desired)
            .running_count(running)
            .deployments(
                Deployment::builder()
                    .status("PRIMARY")
                    .task_definition(arn(rev))
                    .rollout_state(DeploymentRolloutState::from(state))
                    .build(),
            )
            .events(ServiceEvent::builder().message(event).build())
            .build()
    };
    let mut sequence = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .output(move || {
            DescribeServicesOutput::builder().services(service(1, "COMPLETED", 2, 2, "steady")).build()
        })
        .output(move || {
            DescribeServicesOutput::builder().services(service(1, "COMPLETED", 2, 2, "steady")).build()
        });
    for (state, running, desired) in rollout {
        let event = format!("(service app) {state} with {running} of {desired}");
        sequence = sequence.output(move || {
            DescribeServicesOutput::builder().services(service(2, state, *running, *desired, &event)).build()
        });
    }
    let describe = sequence.build();
    let definition = move |rev: i32, image: &str| {
        TaskDefinition::builder()
            .task_definition_arn(arn(rev))
            .family("app")
            .revision(rev)
            .container_definitions(
                ContainerDefinition::builder().name("app").image(image).memory(512).build(),
            )
            .build()
    };
    let read = mock!(aws_sdk_ecs::Client::describe_task_definition).then_output(move || {
        DescribeTaskDefinitionOutput::builder().task_definition(definition(1, "repo/app:v1")).build()
    });
    let register = mock!(aws_sdk_ecs::Client::register_task_definition).then_output(move || {
        RegisterTaskDefinitionOutput::builder().task_definition(definition(2, "repo/app@sha256:2")).build()
    });
    let update =
        mock!(aws_sdk_ecs::Client::update_service).then_output(|| UpdateServiceOutput::builder().build());
    let interceptor = MockResponseInterceptor::new()
        .rule_mode(RuleMode::MatchAny)
        .with_rule(&describe)
        .with_rule(&read)
        .with_rule(&register)
        .with_rule(&update);
    (crate::support::mock_ecs(interceptor), describe)
}

async fn deploy_with(ecs: aws_sdk_ecs::Client) -> (wharf::jobs::JobResult, Vec<String>) {
    use wharf::jobs::{DeployJob, JobPool, JobSpec, JobUpdate};
    let plan = wharf::aws::ecs::plan_deploy(&ecs, "dev", "app", None, "repo/app@sha256:2").await.unwrap();
    assert_eq!(plan.changes, ["container app: image repo/app:v1 → repo/app@sha256:2"]);
    let mut clients = moto_clients().await;
    clients.ecs = ecs;
    let job = DeployJob {
        plan,
        wait: true,
        timeout: std::time::Duration::from_secs(5),
        poll: std::time::Duration::from_millis(1),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let mut pool = JobPool::new(1, tx);
    pool.submit(1, JobSpec::Deploy(job), Some(clients));
    let mut stages = Vec::new();
    loop {
        match rx.recv().await.unwrap().update {
            JobUpdate::Progress(p) => stages.push(p.stage),
            JobUpdate::Finished(result) => return (result, stages),
            JobUpdate::Started => {}
        }
    }
}

#[tokio::test]
async fn a_deploy_with_wait_follows_the_rollout_to_completed() {
    let (ecs, describe) =
        ecs_rolling_out(&[("IN_PROGRESS", 0, 2), ("IN_PROGRESS", 1, 2), ("COMPLETED", 2, 2)]);
    let (result, stages) = deploy_with(ecs).await;
    let wharf::jobs::JobResult::Done(output) = result else { panic!("{result:?}") };
    assert_eq!(output.json["task_definition"], "app:2");
    assert_eq!(output.json["rolled_out"], true);
    assert_eq!(
        stages.iter().filter(|s| s.starts_with("rollout")).collect::<Vec<_>>(),
        [
            "rollout IN_PROGRESS: 0/2 running, 0 pending",
            "rollout IN_PROGRESS: 1/2 running, 0 pending",
            "rollout COMPLETED: 2/2 running, 0 pending"
        ]
    );
    assert_eq!(describe.num_calls(), 5, "once to plan, once to check nothing moved, three times watching");
}

#[tokio::test]
async fn a_failed_rollout_fails_the_deploy_with_the_services_events() {
    let (ecs, _) = ecs_rolling_out(&[("IN_PROGRESS", 0, 2), ("FAILED", 0, 2)]);
    let (result, _) = deploy_with(ecs).await;
    let wharf::jobs::JobResult::Failed(chain) = result else { panic!("{result:?}") };
    assert_eq!(chain[0], "the rollout of app:2 FAILED; latest events: (service app) FAILED with 0 of 2");
}

/// Puts `lines` into a stream of `/wharf/it`, each at now + its offset (ms).
pub async fn put_events(stream: &str, lines: &[(&str, i64)]) {
    let base = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    put_events_at(stream, base, lines).await;
}

/// Puts `lines` into a stream of `/wharf/it`, each at `base` + its offset (ms).
pub async fn put_events_at(stream: &str, base: i64, lines: &[(&str, i64)]) {
    let logs = moto_clients().await.logs;
    let _ = logs.create_log_stream().log_group_name("/wharf/it").log_stream_name(stream).send().await;
    let events: Vec<_> = lines
        .iter()
        .map(|(m, offset)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(base + offset)
                .message(*m)
                .build()
                .unwrap()
        })
        .collect();
    logs.put_log_events()
        .log_group_name("/wharf/it")
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn wharf_logs_prints_a_tasks_events_in_order_and_follow_shows_new_ones_once() {
    use std::io::BufRead;
    let (cluster, service, _) = crate::remote::ecs_service().await;
    let clients = moto_clients().await;
    let task =
        wharf::aws::ecs::run_one_off(&clients.ecs, &cluster, &service, None, vec!["true".into()], "wharf-it")
            .await
            .unwrap();
    let stream = format!("backup/db/{}", task.id);
    put_events(&stream, &[("first", 0), ("second", 1), ("third", 2)]).await;

    let out = wharf(&["logs", "--cluster", &cluster, "--task", &task.id]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let short: String = task.id.chars().take(8).collect();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("[{short}] first\n[{short}] second\n[{short}] third\n")
    );

    let home = tempfile::tempdir().unwrap();
    let mut child = crate::support::wharf_against(&crate::support::aws_url(), home.path())
        .args(["logs", "--cluster", &cluster, "--task", &task.id, "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut read = |n: usize| (0..n).map(|_| lines.next().unwrap().unwrap()).collect::<Vec<_>>();
    assert_eq!(read(3).len(), 3, "what is there first");
    put_events(&stream, &[("fourth", 10), ("fifth", 11)]).await;
    assert_eq!(read(2), [format!("[{short}] fourth"), format!("[{short}] fifth")]);
    put_events(&stream, &[("sixth", 20)]).await;
    assert_eq!(read(1), [format!("[{short}] sixth")], "each line once, none skipped");
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn a_deploy_is_refused_when_the_service_moved_since_the_diff_was_shown() {
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
    use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionOutput;
    use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
    use aws_sdk_ecs::types::{ContainerDefinition, Service, TaskDefinition};
    use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, mock};
    let arn = |rev: i32| format!("arn:aws:ecs:eu-west-1:123456789012:task-definition/app:{rev}");
    let on = move |rev: i32| {
        DescribeServicesOutput::builder()
            .services(Service::builder().service_name("app").task_definition(arn(rev)).build())
            .build()
    };
    // The plan is worked out on revision 1; someone deploys revision 3 before the yes.
    let describe = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .output(move || on(1))
        .output(move || on(3))
        .build();
    let read = mock!(aws_sdk_ecs::Client::describe_task_definition).then_output(move || {
        let container = ContainerDefinition::builder().name("app").image("repo/app:v1").memory(512).build();
        let definition = TaskDefinition::builder()
            .task_definition_arn(arn(1))
            .family("app")
            .revision(1)
            .container_definitions(container);
        DescribeTaskDefinitionOutput::builder().task_definition(definition.build()).build()
    });
    let register = mock!(aws_sdk_ecs::Client::register_task_definition)
        .then_output(|| RegisterTaskDefinitionOutput::builder().build());
    let update =
        mock!(aws_sdk_ecs::Client::update_service).then_output(|| UpdateServiceOutput::builder().build());
    let interceptor = MockResponseInterceptor::new()
        .rule_mode(RuleMode::MatchAny)
        .with_rule(&describe)
        .with_rule(&read)
        .with_rule(&register)
        .with_rule(&update);
    let ecs = crate::support::mock_ecs(interceptor);
    let plan = wharf::aws::ecs::plan_deploy(&ecs, "dev", "app", None, "repo/app@sha256:2").await.unwrap();
    let error = wharf::aws::ecs::apply(&ecs, &plan).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "app now runs app:3 and the change was worked out from app:1: it moved since the diff was shown, so \
         nothing was changed; look again and deploy anew"
    );
    assert_eq!((register.num_calls(), update.num_calls()), (0, 0), "nothing registered, nothing updated");
}
