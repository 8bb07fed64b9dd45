//! The remote backup of a `postgres` service without a command: a task of
//! two containers wharf defines itself (the service's own image running
//! pg_dump against the service's running task, then the AWS CLI uploading
//! what it wrote). Against moto: the definition, its reuse, the task started
//! in the service's network with the per-run values, and the record of what
//! it stored. Moto runs no task, so the containers themselves run here on the
//! local engine, as ECS would start them from that definition, against a
//! real PostgreSQL with a password: the dump is restored locally, and a wrong
//! password fails the backup with pg_dump's own words and stores nothing.

use std::collections::{BTreeMap, VecDeque};
use std::process::Command;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wharf::aws::ecs::backup::{self, ContainerState};
use wharf::config::{Preset, StorageClass};
use wharf::jobs::remote_backup::{RemotePlan, task};
use wharf::jobs::{JobContext, RemoteBackupJob};
use wharf::model::ecs::ServiceDatabase;

use crate::backup::{bucket, object, psql, wharf};
use crate::support::{Cleanup, docker, moto_clients, moto_url, realistic_clients, unique};

const ACCOUNT: &str = "123456789012";
const SECRET_ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-password";

fn preset_job(cluster: &str, service: &str, bucket: &str) -> RemoteBackupJob {
    RemoteBackupJob {
        cluster: cluster.into(),
        service: service.into(),
        container: None,
        command: None,
        preset: Preset::Postgres,
        user: None,
        database: None,
        bucket: bucket.into(),
        prefix: "remote/".into(),
        storage_class: StorageClass::StandardIa,
        role: "wharf-it-backup".into(),
        uploader_image: "wharf-test/aws-cli:2".into(),
        endpoint: Some(moto_url()),
        id: None,
        timeout: Duration::from_secs(60),
        poll: Duration::from_millis(200),
    }
}

/// A FARGATE service whose database container has variables (one of them
/// a token), a secret password, a port and an execution role; with `running`,
/// a task of it started as the service would. Returns (cluster, service,
/// subnet, the running task's address).
async fn postgres_service(running: bool) -> (String, String, String, Option<String>) {
    use aws_sdk_ecs::types::{
        AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, KeyValuePair, LaunchType,
        LogConfiguration, LogDriver, NetworkConfiguration, NetworkMode, PortMapping, Secret,
    };
    let clients = moto_clients().await;
    let (cluster, service) = (unique("wharf-it-cluster"), unique("pg"));
    let (subnet, group) = crate::remote::network();
    clients.ecs.create_cluster().cluster_name(&cluster).send().await.unwrap();
    let _ = clients.logs.create_log_group().log_group_name("/wharf/it").send().await;
    let env = |k: &str, v: &str| KeyValuePair::builder().name(k).value(v).build();
    let container = ContainerDefinition::builder()
        .name("db")
        .image("wharf-test/postgres:15")
        .memory(512)
        .essential(true)
        .environment(env("POSTGRES_USER", "app"))
        .environment(env("POSTGRES_DB", "notes"))
        .environment(env("API_TOKEN", "hunter2"))
        .secrets(Secret::builder().name("POSTGRES_PASSWORD").value_from(SECRET_ARN).build().unwrap())
        .port_mappings(PortMapping::builder().container_port(5432).build())
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", "/wharf/it")
                .options("awslogs-region", "eu-west-1")
                .options("awslogs-stream-prefix", "db")
                .build()
                .unwrap(),
        )
        .build();
    let definition = clients
        .ecs
        .register_task_definition()
        .family(&service)
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .execution_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"))
        .cpu("256")
        .memory("512")
        .container_definitions(container)
        .send()
        .await
        .unwrap();
    let arn = definition.task_definition().unwrap().task_definition_arn().unwrap().to_string();
    let network = || {
        let vpc = AwsVpcConfiguration::builder()
            .subnets(&subnet)
            .security_groups(&group)
            .assign_public_ip(AssignPublicIp::Disabled)
            .build()
            .unwrap();
        NetworkConfiguration::builder().awsvpc_configuration(vpc).build()
    };
    clients
        .ecs
        .create_service()
        .cluster(&cluster)
        .service_name(&service)
        .task_definition(&arn)
        .desired_count(1)
        .launch_type(LaunchType::Fargate)
        .network_configuration(network())
        .send()
        .await
        .unwrap();
    let mut address = None;
    if running {
        // Moto's services start no task: one is started as the service's own would be.
        let out = clients
            .ecs
            .run_task()
            .cluster(&cluster)
            .task_definition(&arn)
            .launch_type(LaunchType::Fargate)
            .group(format!("service:{service}"))
            .network_configuration(network())
            .send()
            .await
            .unwrap();
        address = out.tasks()[0]
            .attachments()
            .iter()
            .flat_map(|a| a.details())
            .find(|d| d.name() == Some("privateIPv4Address"))
            .and_then(|d| d.value())
            .map(str::to_string);
        assert!(address.is_some(), "moto gives the task an address");
    }
    (cluster, service, subnet, address)
}

fn env_of(c: &aws_sdk_ecs::types::ContainerDefinition) -> BTreeMap<String, String> {
    c.environment()
        .iter()
        .map(|kv| (kv.name().unwrap_or_default().to_string(), kv.value().unwrap_or_default().to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preset_backup_task_is_defined_from_the_service_run_in_its_network_and_recorded() {
    let (cluster, service, subnet, address) = postgres_service(true).await;
    let address = address.unwrap();
    let bucket = bucket().await;
    let aws = realistic_clients().await;
    let mut job = preset_job(&cluster, &service, &bucket);

    // The plan: the running task's address, the user and database from the service's own variables.
    let preview = job.preview(&aws).await.unwrap().join("\n");
    let id = job.id.clone().unwrap();
    let plan = job.plan(&aws, &id).await.unwrap();
    assert_eq!(
        (plan.address.as_str(), plan.port, plan.user.as_str(), plan.database.as_str()),
        (address.as_str(), 5432, "app", "notes")
    );
    assert_eq!(plan.key, format!("remote/{id}/data.dump"));
    assert_eq!(plan.task.task_role, format!("arn:aws:iam::{ACCOUNT}:role/wharf-it-backup"));
    for words in ["pg_dump -Fc of notes as app", &address, "POSTGRES_PASSWORD", &plan.key, "wharf-it-backup"]
    {
        assert!(preview.contains(words), "the preview names {words}: {preview}");
    }
    assert!(!preview.contains("hunter2"), "no variable's value is shown: {preview}");
    let policy = format!("\"Resource\":\"arn:aws:s3:::{bucket}/remote/*\"");
    assert!(
        preview.contains(&policy),
        "the role's policy is shown for a service init did not make: {preview}"
    );

    // The definition: registered once, used again while nothing changed.
    let (definition, new) = backup::backup_definition(&aws.ecs, &plan.task).await.unwrap();
    assert!(new);
    let described = aws.ecs.describe_task_definition().task_definition(&definition).send().await.unwrap();
    let d = described.task_definition().unwrap();
    assert_eq!(d.task_role_arn(), Some(plan.task.task_role.as_str()));
    assert_eq!(
        d.execution_role_arn(),
        Some(format!("arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole").as_str())
    );
    assert_eq!(d.network_mode(), Some(&aws_sdk_ecs::types::NetworkMode::Awsvpc));
    assert_eq!(d.volumes().iter().filter_map(|v| v.name()).collect::<Vec<_>>(), [task::VOLUME]);
    let by_name = |name: &str| d.container_definitions().iter().find(|c| c.name() == Some(name)).unwrap();
    let (dump, upload) = (by_name(task::DUMP), by_name(task::UPLOAD));
    assert_eq!(dump.image(), Some("wharf-test/postgres:15"), "the service's own image dumps");
    assert_eq!(dump.essential(), Some(false));
    assert_eq!(dump.user(), Some("0"));
    assert!(dump.command()[0].contains("pg_dump -Fc"), "{:?}", dump.command());
    let dump_env = env_of(dump);
    assert_eq!(dump_env.get("POSTGRES_USER").map(String::as_str), Some("app"));
    assert_eq!(dump_env.get("WHARF_DB_NAME").map(String::as_str), Some("notes"));
    assert!(!dump_env.contains_key("WHARF_DB_HOST"), "the address goes in per run, not in the definition");
    assert_eq!(
        dump.secrets().iter().map(|s| (s.name(), s.value_from())).collect::<Vec<_>>(),
        [("POSTGRES_PASSWORD", SECRET_ARN)]
    );
    assert_eq!(upload.image(), Some("wharf-test/aws-cli:2"));
    assert_eq!(upload.essential(), Some(true));
    let depends: Vec<_> = upload.depends_on().iter().map(|d| (d.container_name(), d.condition())).collect();
    assert_eq!(depends, [(task::DUMP, &aws_sdk_ecs::types::ContainerCondition::Success)]);
    assert!(upload.command()[0].contains("aws s3 cp /wharf/dump"), "{:?}", upload.command());
    for c in [dump, upload] {
        let mounts: Vec<_> =
            c.mount_points().iter().map(|m| (m.source_volume(), m.container_path())).collect();
        assert_eq!(mounts, [(Some(task::VOLUME), Some(task::MOUNT))]);
        let log = c.log_configuration().unwrap().options().unwrap();
        assert_eq!(log.get("awslogs-group").map(String::as_str), Some("/wharf/it"));
    }
    let again = backup::backup_definition(&aws.ecs, &plan.task).await.unwrap();
    assert_eq!(again, (definition.clone(), false));
    let mut other = job.clone();
    other.uploader_image = "wharf-test/aws-cli:other".into();
    let changed = other.plan(&aws, &id).await.unwrap();
    let (newer, new) = backup::backup_definition(&aws.ecs, &changed.task).await.unwrap();
    assert!(new && newer != definition, "a changed task is a new revision");

    // Run in the service's network, with the address and the key as overrides.
    let task_arn =
        backup::run_backup_task(&aws.ecs, &plan.service, &definition, &plan.overrides).await.unwrap();
    let described = aws.ecs.describe_tasks().cluster(&cluster).tasks(&task_arn).send().await.unwrap();
    let started = &described.tasks()[0];
    assert_eq!(started.started_by(), Some("wharf-backup"));
    let subnets: Vec<_> = started
        .attachments()
        .iter()
        .flat_map(|a| a.details())
        .filter(|d| d.name() == Some("subnetId"))
        .filter_map(|d| d.value())
        .collect();
    assert_eq!(subnets, [subnet.as_str()]);
    let overrides: BTreeMap<&str, BTreeMap<&str, &str>> = started
        .overrides()
        .unwrap()
        .container_overrides()
        .iter()
        .map(|o| {
            let env = o.environment().iter().map(|kv| (kv.name().unwrap(), kv.value().unwrap())).collect();
            (o.name().unwrap(), env)
        })
        .collect();
    assert_eq!(overrides[task::DUMP]["WHARF_DB_HOST"], address);
    assert_eq!(overrides[task::UPLOAD]["WHARF_KEY"], plan.key);
    assert_eq!(overrides[task::UPLOAD]["WHARF_STORAGE_CLASS"], "STANDARD_IA");
    assert_eq!(overrides[task::UPLOAD]["WHARF_ENDPOINT"], moto_url());

    // What the task stored (as its upload would) is read back and recorded, uncompressed.
    let dump_bytes: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_be_bytes()).collect();
    let s3 = moto_clients().await.s3;
    s3.put_object().bucket(&bucket).key(&plan.key).body(dump_bytes.clone().into()).send().await.unwrap();
    let task_id = task_arn.rsplit('/').next().unwrap();
    let stored = job.collect(&JobContext::quiet(), &aws, &plan, task_id, "wharf-backup-pg:1").await.unwrap();
    assert_eq!((stored.compression, stored.raw_bytes), ("none", dump_bytes.len() as u64));
    assert_eq!(stored.sha256, format!("{:x}", Sha256::digest(&dump_bytes)));
    job.record(&aws, wharf::time::unix_now(), &id, &plan.key, stored).await.unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&object(&bucket, &format!("remote/{id}/manifest.json")).await).unwrap();
    assert_eq!(
        (&manifest["compression"], &manifest["key"], &manifest["database"], &manifest["source"]["kind"]),
        (&"none".into(), &plan.key.clone().into(), &"notes".into(), &"ecs_task".into())
    );
}

/// Plays the backup task on moto: waits for it, writes `dump` to the key its
/// upload container was given, and logs a line to the dump container's
/// stream. Returns the overrides' address.
async fn play_the_backup_task(cluster: String, bucket: String, dump: Vec<u8>) -> String {
    let clients = moto_clients().await;
    let arn = loop {
        let listed =
            clients.ecs.list_tasks().cluster(&cluster).started_by("wharf-backup").send().await.unwrap();
        if let Some(arn) = listed.task_arns().first() {
            break arn.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let described = clients.ecs.describe_tasks().cluster(&cluster).tasks(&arn).send().await.unwrap();
    let overrides = described.tasks()[0].overrides().unwrap().container_overrides().to_vec();
    let var = |container: &str, name: &str| {
        let o = overrides.iter().find(|o| o.name() == Some(container)).unwrap();
        o.environment()
            .iter()
            .find(|kv| kv.name() == Some(name))
            .and_then(|kv| kv.value())
            .unwrap()
            .to_string()
    };
    let key = var(task::UPLOAD, "WHARF_KEY");
    clients.s3.put_object().bucket(&bucket).key(&key).body(dump.into()).send().await.unwrap();
    let id = arn.rsplit('/').next().unwrap();
    let stream = format!("wharf-backup/{}/{id}", task::DUMP);
    clients
        .logs
        .create_log_stream()
        .log_group_name("/wharf/it")
        .log_stream_name(&stream)
        .send()
        .await
        .unwrap();
    let event = aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
        .timestamp(wharf::time::unix_now() * 1000)
        .message("pg_dump: dumping contents of table public.notes")
        .build()
        .unwrap();
    clients
        .logs
        .put_log_events()
        .log_group_name("/wharf/it")
        .log_stream_name(&stream)
        .log_events(event)
        .send()
        .await
        .unwrap();
    var(task::DUMP, "WHARF_DB_HOST")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preset_backup_job_runs_the_task_follows_its_logs_and_records_the_dump() {
    use tokio::sync::mpsc;
    use wharf::jobs::{JobPool, JobResult, JobSpec, JobUpdate};
    let (cluster, service, _, address) = postgres_service(true).await;
    let bucket = bucket().await;
    let dump: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let player = tokio::spawn(play_the_backup_task(cluster.clone(), bucket.clone(), dump.clone()));
    let (tx, mut rx) = mpsc::channel(1024);
    let mut pool = JobPool::new(1, tx);
    pool.submit(
        1,
        JobSpec::RemoteBackup(preset_job(&cluster, &service, &bucket)),
        Some(realistic_clients().await),
    );
    let mut log_seen = false;
    let result = loop {
        let event = tokio::time::timeout(Duration::from_secs(90), rx.recv()).await.unwrap().unwrap();
        match event.update {
            JobUpdate::Progress(p) => {
                log_seen |=
                    p.detail.iter().any(|l| l == "dump: pg_dump: dumping contents of table public.notes")
            }
            JobUpdate::Finished(result) => break result,
            JobUpdate::Started => {}
        }
    };
    assert_eq!(Some(player.await.unwrap()), address, "the dump was pointed at the running task");
    let JobResult::Done(output) = result else { panic!("the remote backup failed: {result:?}") };
    assert!(log_seen, "the dump container's log reached the job's progress");
    assert_eq!(output.json["compression"], "none");
    let key = output.json["key"].as_str().unwrap();
    assert!(key.ends_with("/data.dump"), "{key}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&object(&bucket, &key.replace("data.dump", "manifest.json")).await).unwrap();
    assert_eq!(manifest["sha256"], format!("{:x}", Sha256::digest(&dump)));
    assert_eq!((&manifest["raw_bytes"], &manifest["database"]), (&dump.len().into(), &"notes".into()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preset_backup_of_a_service_with_no_running_task_starts_nothing() {
    let (cluster, service, _, _) = postgres_service(false).await;
    let bucket = bucket().await;
    let aws = realistic_clients().await;
    let job = preset_job(&cluster, &service, &bucket);
    let error = job.run(JobContext::quiet(), Some(aws.clone())).await.unwrap_err().to_string();
    assert!(error.contains("has no running task"), "{error}");
    let family = format!("wharf-backup-{service}");
    assert!(
        aws.ecs.describe_task_definition().task_definition(&family).send().await.is_err(),
        "no definition was registered"
    );
    let tasks = aws.ecs.list_tasks().cluster(&cluster).started_by("wharf-backup").send().await.unwrap();
    assert!(tasks.task_arns().is_empty());
    let listed = moto_clients().await.s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));
}

/// The verdict on a stopped task: the upload's exit 0 is success; else the
/// container that failed, its exit code and its last lines.
#[test]
fn a_stopped_task_is_judged_by_its_containers() {
    let state =
        |name: &str, code: Option<i32>| ContainerState { name: name.into(), exit_code: code, reason: None };
    let mut lines: BTreeMap<&str, VecDeque<String>> = BTreeMap::new();
    lines.insert(task::DUMP, VecDeque::from(["pg_dump: error: connection refused".to_string()]));
    lines.insert(task::UPLOAD, VecDeque::from(["upload failed: AccessDenied".to_string()]));
    assert!(task::verdict("t", None, &[state("dump", Some(0)), state("upload", Some(0))], &lines).is_ok());
    let dump_failed = task::verdict("t", None, &[state("dump", Some(1)), state("upload", None)], &lines)
        .unwrap_err()
        .to_string();
    assert!(dump_failed.contains("the dump failed: exit code 1"), "{dump_failed}");
    assert!(dump_failed.contains("connection refused"), "{dump_failed}");
    let upload_failed = task::verdict("t", None, &[state("dump", Some(0)), state("upload", Some(1))], &lines)
        .unwrap_err()
        .to_string();
    assert!(upload_failed.contains("the upload failed: exit code 1"), "{upload_failed}");
    assert!(upload_failed.contains("AccessDenied"), "{upload_failed}");
    let never = task::verdict("t", Some("CannotPullContainerError: no such image".into()), &[], &lines)
        .unwrap_err()
        .to_string();
    assert!(never.contains("CannotPullContainerError"), "{never}");
}

/// What ECS would do with the plan's task, done on the local engine: the
/// dump container on the database's network with its variables, secrets
/// (their values given here, as ECS reads them from Secrets Manager) and the
/// run's overrides; the upload container only once the dump exited 0. Both
/// share a named volume. Returns each container's state and log.
fn run_as_ecs_would(
    plan: &RemotePlan,
    network: &str,
    secrets: &BTreeMap<&str, &str>,
    cleanup: &mut Cleanup,
) -> (Vec<ContainerState>, BTreeMap<&'static str, VecDeque<String>>) {
    let volume = unique("wharf-it-taskvol");
    docker(&["volume", "create", &volume]);
    cleanup.volumes.push(volume.clone());
    let mut states = Vec::new();
    let mut logs = BTreeMap::new();
    for name in [task::DUMP, task::UPLOAD] {
        let c = plan.task.containers.iter().find(|c| c.name == name).unwrap();
        if let Some(after) = &c.after_success_of
            && states.iter().any(|s: &ContainerState| &s.name == after && s.exit_code != Some(0))
        {
            break;
        }
        let container = unique(&format!("wharf-it-task-{name}"));
        cleanup.containers.push(container.clone());
        let mut args: Vec<String> = vec!["run".into(), "--name".into(), container.clone()];
        // The dump reaches the database as the service's tasks do; the upload reaches "S3" (moto on this machine).
        args.extend(["--network".into(), if name == task::DUMP { network.into() } else { "host".into() }]);
        args.extend(["-v".into(), format!("{volume}:{}", c.mount.1)]);
        if let Some(user) = &c.user {
            args.extend(["--user".into(), user.clone()]);
        }
        let overrides = plan.overrides.iter().filter(|(n, _)| n == name).flat_map(|(_, env)| env.iter());
        for (k, v) in c.environment.iter().chain(overrides) {
            args.extend(["-e".into(), format!("{k}={v}")]);
        }
        for (k, _) in &c.secrets {
            args.extend(["-e".into(), format!("{k}={}", secrets[k.as_str()])]);
        }
        if name == task::UPLOAD {
            // The task role's credentials, as ECS hands them to the task.
            for kv in
                ["AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_DEFAULT_REGION=eu-west-1"]
            {
                args.extend(["-e".into(), kv.into()]);
            }
        }
        args.extend(["--entrypoint".into(), c.entry_point[0].clone(), c.image.clone()]);
        args.extend(c.entry_point[1..].iter().cloned());
        args.extend(c.command.iter().cloned());
        let status = Command::new("docker").args(&args).output().unwrap();
        let log =
            format!("{}{}", String::from_utf8_lossy(&status.stdout), String::from_utf8_lossy(&status.stderr));
        logs.insert(name, log.lines().map(str::to_string).collect());
        states.push(ContainerState { name: name.into(), exit_code: status.status.code(), reason: None });
    }
    (states, logs)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_preset_backup_tasks_containers_dump_a_real_database_that_restores_here() {
    let built = Command::new("bash").arg(crate::support::repo_path("scripts/test-image-awscli.sh")).status();
    assert!(built.unwrap().success(), "scripts/test-image-awscli.sh failed");
    let built =
        Command::new("bash").arg(crate::support::repo_path("scripts/test-image-postgres.sh")).status();
    assert!(built.unwrap().success(), "scripts/test-image-postgres.sh failed");
    // The service's network, removed after its containers (declared first, dropped last).
    let network = Network::create();
    let network = network.0.as_str();
    let mut cleanup = Cleanup::default();
    let database = unique("wharf-it-servicedb");
    cleanup.containers.push(database.clone());
    docker(&[
        "run",
        "-d",
        "--name",
        &database,
        "--network",
        network,
        "-e",
        "POSTGRES_USER=app",
        "-e",
        "POSTGRES_DB=notes",
        "-e",
        "POSTGRES_PASSWORD=s3cret",
        "wharf-test/postgres:15",
    ]);
    crate::support::eventually(Duration::from_secs(60), "the service's PostgreSQL", || {
        Command::new("docker")
            .args([
                "exec",
                &database,
                "pg_isready",
                "-q",
                "-h",
                "/var/run/postgresql",
                "-U",
                "app",
                "-d",
                "notes",
            ])
            .status()
            .is_ok_and(|s| s.success())
    });
    let sql = |q: &str| {
        docker(&[
            "exec",
            &database,
            "psql",
            "-U",
            "app",
            "-d",
            "notes",
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
            "-c",
            q,
        ])
    };
    sql(
        "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes SELECT i, md5(i::text) FROM generate_series(1, 3000) i",
    );
    let fingerprint = "SELECT count(*) || ':' || md5(string_agg(id || body, ',' ORDER BY id)) FROM notes";
    let before = sql(fingerprint);
    let service = local_service(
        "wharf-test/postgres:15",
        &[("POSTGRES_USER", "app"), ("POSTGRES_DB", "notes")],
        ("POSTGRES_PASSWORD", 5432),
        &database,
        network,
    );
    let bucket = bucket().await;
    let aws = realistic_clients().await;

    // A wrong password: pg_dump says why, the upload never starts, nothing is stored.
    let job = preset_job("dev", "pg", &bucket);
    let id = wharf::snapshots::new_id(wharf::time::unix_now(), "pg", "it-remote");
    let plan = job.plan_for(service.clone(), &id).unwrap();
    let secrets = BTreeMap::from([("POSTGRES_PASSWORD", "wrong")]);
    let (states, logs) = run_as_ecs_would(&plan, network, &secrets, &mut cleanup);
    assert_eq!(states.len(), 1, "the upload waits for the dump's success: {states:?}");
    let lines = logs.iter().map(|(k, v)| (*k, v.clone())).collect();
    let error = task::verdict("abc", None, &states, &lines).unwrap_err().to_string();
    assert!(error.contains("the dump failed: exit code 1"), "{error}");
    assert!(error.contains("password authentication failed"), "pg_dump's words: {error}");
    let listed = moto_clients().await.s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0), "nothing is stored");

    // The right one: the dump is uploaded, read back, recorded, and restores into a local PostgreSQL.
    let id = wharf::snapshots::new_id(wharf::time::unix_now() + 1, "pg", "it-remote");
    let plan = job.plan_for(service, &id).unwrap();
    let secrets = BTreeMap::from([("POSTGRES_PASSWORD", "s3cret")]);
    let (states, logs) = run_as_ecs_would(&plan, network, &secrets, &mut cleanup);
    let lines = logs.iter().map(|(k, v)| (*k, v.clone())).collect();
    task::verdict("abc", None, &states, &lines).unwrap_or_else(|e| panic!("{e}"));
    let stored = job.collect(&JobContext::quiet(), &aws, &plan, "abc", "wharf-backup-pg:1").await.unwrap();
    let head = moto_clients().await.s3.head_object().bucket(&bucket).key(&plan.key).send().await.unwrap();
    assert_eq!(head.storage_class().map(|c| c.as_str()), Some("STANDARD_IA"));
    job.record(&aws, wharf::time::unix_now(), &id, &plan.key, stored).await.unwrap();

    let local = crate::backup::postgres_container(&mut cleanup);
    psql(&local, "postgres", "CREATE DATABASE notes");
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "[profiles.pg]\nbucket = \"{bucket}\"\nprefix = \"remote/\"\n[profiles.pg.database]\ncontainer = \"{local}\"\npreset = \"postgres\"\nuser = \"postgres\"\nname = \"notes\"\n"
    );
    std::fs::write(home.path().join("wharf.toml"), config).unwrap();
    let out = wharf(&["restore", &id, "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(psql(&local, "notes", fingerprint), before);
}

/// The service as `service_database` would read it from ECS, its running
/// task being the local container `running` on `network`.
fn local_service(
    image: &str,
    environment: &[(&str, &str)],
    (secret, port): (&str, u16),
    running: &str,
    network: &str,
) -> ServiceDatabase {
    let address = docker(&[
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
        running,
    ]);
    ServiceDatabase {
        cluster: "dev".into(),
        service: "db".into(),
        task_definition: "db:3".into(),
        container: "db".into(),
        image: image.into(),
        environment: environment.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        secrets: vec![(secret.into(), SECRET_ARN.into())],
        port: Some(port),
        execution_role: Some(format!("arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole")),
        log: None,
        subnets: vec!["subnet-1".into()],
        security_groups: vec!["sg-1".into()],
        public_ip: false,
        running: Some(("arn:aws:ecs:eu-west-1:123456789012:task/dev/abc".into(), address.trim().into())),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mysql_preset_backup_tasks_containers_dump_a_real_mariadb_that_restores_here() {
    for script in ["scripts/test-image-awscli.sh", "scripts/test-image-mariadb.sh"] {
        let built = Command::new("bash").arg(crate::support::repo_path(script)).status();
        assert!(built.unwrap().success(), "{script} failed");
    }
    let network = Network::create();
    let network = network.0.as_str();
    let mut cleanup = Cleanup::default();
    let start = |name: &str, env: &[&str]| {
        let mut args = vec!["run", "-d", "--name", name, "--network", network];
        for e in env {
            args.extend(["-e", e]);
        }
        args.push("wharf-test/mariadb:10");
        docker(&args);
    };
    let (database, local) = (unique("wharf-it-servicedb"), unique("wharf-it-localdb"));
    cleanup.containers.extend([database.clone(), local.clone()]);
    start(&database, &["MARIADB_ROOT_PASSWORD=s3cret", "MARIADB_DATABASE=shop"]);
    start(&local, &["MARIADB_DATABASE=shop"]);
    let sql = |container: &str, password: &str, q: &str| {
        docker(&[
            "exec",
            "-e",
            &format!("MYSQL_PWD={password}"),
            container,
            "mariadb",
            "-u",
            "root",
            "-N",
            "-B",
            "-e",
            q,
        ])
    };
    for (container, password) in [(&database, "s3cret"), (&local, "")] {
        crate::support::eventually(Duration::from_secs(90), "MariaDB", || {
            Command::new("docker")
                .args([
                    "exec",
                    "-e",
                    &format!("MYSQL_PWD={password}"),
                    container,
                    "mariadb",
                    "-u",
                    "root",
                    "-e",
                    "USE shop",
                ])
                .output()
                .is_ok_and(|o| o.status.success())
        });
    }
    sql(
        &database,
        "s3cret",
        "CREATE TABLE shop.items (id INT PRIMARY KEY, body TEXT); INSERT INTO shop.items SELECT seq, MD5(seq) FROM shop.seq_1_to_3000",
    );
    let fingerprint = "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(id, body ORDER BY id))) FROM shop.items";
    let before = sql(&database, "s3cret", fingerprint);
    let service = local_service(
        "wharf-test/mariadb:10",
        &[("MARIADB_DATABASE", "shop")],
        ("MARIADB_ROOT_PASSWORD", 3306),
        &database,
        network,
    );
    let bucket = bucket().await;
    let aws = realistic_clients().await;
    let job = RemoteBackupJob { preset: Preset::Mysql, ..preset_job("dev", "db", &bucket) };
    let id = wharf::snapshots::new_id(wharf::time::unix_now(), "db", "it-remote");
    let plan = job.plan_for(service, &id).unwrap();
    assert_eq!((plan.user.as_str(), plan.database.as_str(), plan.port), ("root", "shop", 3306));
    let secrets = BTreeMap::from([("MARIADB_ROOT_PASSWORD", "s3cret")]);
    let (states, logs) = run_as_ecs_would(&plan, network, &secrets, &mut cleanup);
    let lines = logs.iter().map(|(k, v)| (*k, v.clone())).collect();
    task::verdict("abc", None, &states, &lines).unwrap_or_else(|e| panic!("{e}"));
    let stored = job.collect(&JobContext::quiet(), &aws, &plan, "abc", "wharf-backup-db:1").await.unwrap();
    job.record(&aws, wharf::time::unix_now(), &id, &plan.key, stored).await.unwrap();
    let dump = String::from_utf8_lossy(&object(&bucket, &plan.key).await).to_string();
    assert!(dump.contains("CREATE TABLE `items`"), "mysqldump's SQL, uncompressed");

    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "[profiles.m]\nbucket = \"{bucket}\"\nprefix = \"remote/\"\n[profiles.m.database]\ncontainer = \"{local}\"\npreset = \"mysql\"\nuser = \"root\"\nname = \"shop\"\n"
    );
    std::fs::write(home.path().join("wharf.toml"), config).unwrap();
    let out = wharf(&["restore", &id, "--yes"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(sql(&local, "", fingerprint), before);
}

/// A user-defined network of the engine's, removed when dropped.
struct Network(String);

impl Network {
    fn create() -> Network {
        let name = unique("wharf-it-vpc");
        docker(&["network", "create", &name]);
        Network(name)
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["network", "rm", &self.0]).output();
    }
}
