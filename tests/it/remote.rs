//! Remote backup against moto's ECS, CloudWatch Logs and S3: wharf starts a
//! one-off task of the service's task definition with the backup command; moto
//! runs nothing, so the test does what the task would (write the dump to the
//! key in its command, log a line) and wharf must notice, check and record it.

use std::time::Duration;

use tokio::sync::mpsc;
use wharf::config::{Preset, StorageClass};
use wharf::jobs::{JobPool, JobResult, JobSpec, JobUpdate, RemoteBackupJob};

use crate::support::{moto_clients, repo_path, unique};

/// A subnet and a security group of moto's default VPC, with DNS hostnames on
/// (what `run_task` with awsvpc needs there); made with boto3, as wharf has no
/// EC2 client.
pub(crate) fn network() -> (String, String) {
    let script = format!(
        "import boto3
ec2 = boto3.client('ec2', endpoint_url='{}', region_name='eu-west-1', aws_access_key_id='testing', aws_secret_access_key='testing')
vpc = ec2.describe_vpcs(Filters=[{{'Name': 'isDefault', 'Values': ['true']}}])['Vpcs'][0]['VpcId']
ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={{'Value': True}})
subnet = ec2.describe_subnets(Filters=[{{'Name': 'vpc-id', 'Values': [vpc]}}])['Subnets'][0]['SubnetId']
group = ec2.describe_security_groups(Filters=[{{'Name': 'vpc-id', 'Values': [vpc]}}])['SecurityGroups'][0]['GroupId']
print(subnet, group)",
        crate::support::moto_url()
    );
    let out =
        std::process::Command::new(repo_path(".venv/bin/python")).args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let (subnet, group) = text.trim().split_once(' ').unwrap();
    (subnet.to_string(), group.to_string())
}

/// A cluster with a FARGATE service whose task definition logs to CloudWatch;
/// returns (cluster, service, bucket).
pub async fn ecs_service() -> (String, String, String) {
    use aws_sdk_ecs::types::{
        AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType,
        LogConfiguration, LogDriver, NetworkConfiguration, NetworkMode,
    };
    let clients = moto_clients().await;
    let (cluster, service, bucket) = (unique("wharf-it-cluster"), unique("db"), unique("wharf-it-remote"));
    let (subnet, group) = network();
    clients.ecs.create_cluster().cluster_name(&cluster).send().await.unwrap();
    let _ = clients.logs.create_log_group().log_group_name("/wharf/it").send().await;
    let container = ContainerDefinition::builder()
        .name("db")
        .image("postgres:16")
        .memory(512)
        .essential(true)
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", "/wharf/it")
                .options("awslogs-region", "eu-west-1")
                .options("awslogs-stream-prefix", "backup")
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
        .cpu("256")
        .memory("512")
        .container_definitions(container)
        .send()
        .await
        .unwrap();
    let arn = definition.task_definition().unwrap().task_definition_arn().unwrap().to_string();
    let vpc = AwsVpcConfiguration::builder()
        .subnets(subnet)
        .security_groups(group)
        .assign_public_ip(AssignPublicIp::Disabled)
        .build()
        .unwrap();
    clients
        .ecs
        .create_service()
        .cluster(&cluster)
        .service_name(&service)
        .task_definition(arn)
        .desired_count(0)
        .launch_type(LaunchType::Fargate)
        .network_configuration(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
        .send()
        .await
        .unwrap();
    let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
        .build();
    clients.s3.create_bucket().bucket(&bucket).create_bucket_configuration(location).send().await.unwrap();
    (cluster, service, bucket)
}

/// Plays the task: waits for wharf's one-off task, reads the key from its
/// command override, writes `dump` (zstd-compressed) there when `write`, and
/// logs a line to the task's stream. Returns the command wharf gave the task.
async fn play_the_task(cluster: String, dump: Vec<u8>, write: bool) -> Vec<String> {
    let clients = moto_clients().await;
    let arn = loop {
        let listed =
            clients.ecs.list_tasks().cluster(&cluster).started_by("wharf-backup").send().await.unwrap();
        if let Some(arn) = listed.task_arns().first() {
            break arn.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let described = clients.ecs.describe_tasks().cluster(&cluster).tasks(&arn).send().await.unwrap();
    let task = &described.tasks()[0];
    let overrides = task.overrides().unwrap().container_overrides();
    assert_eq!(overrides[0].name(), Some("db"));
    let command = overrides[0].command().to_vec();
    let (bucket, key) = (&command[1], &command[2]);
    if write {
        let body = zstd::encode_all(&dump[..], 3).unwrap();
        clients.s3.put_object().bucket(bucket).key(key).body(body.into()).send().await.unwrap();
    }
    let id = arn.rsplit('/').next().unwrap();
    let stream = format!("backup/db/{id}");
    clients
        .logs
        .create_log_stream()
        .log_group_name("/wharf/it")
        .log_stream_name(&stream)
        .send()
        .await
        .unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let event = aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
        .timestamp(now)
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
    command
}

fn job(cluster: &str, service: &str, bucket: &str) -> RemoteBackupJob {
    RemoteBackupJob {
        cluster: cluster.into(),
        service: service.into(),
        container: None,
        command: Some(vec![
            "/backup.sh".into(),
            "{bucket}".into(),
            "{key}".into(),
            "--class={storage_class}".into(),
        ]),
        preset: Preset::Custom,
        user: None,
        database: None,
        bucket: bucket.into(),
        prefix: "remote/".into(),
        storage_class: StorageClass::StandardIa,
        role: "default".into(),
        uploader_image: wharf::jobs::remote_backup::DEFAULT_UPLOADER.into(),
        endpoint: None,
        id: None,
        timeout: Duration::from_secs(60),
        poll: Duration::from_millis(200),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_backup_runs_a_task_waits_for_it_and_records_what_it_stored() {
    let (cluster, service, bucket) = ecs_service().await;
    let dump: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let player = tokio::spawn(play_the_task(cluster.clone(), dump.clone(), true));

    let (tx, mut rx) = mpsc::channel(1024);
    let mut pool = JobPool::new(1, tx);
    pool.submit(
        1,
        JobSpec::RemoteBackup(job(&cluster, &service, &bucket)),
        Some(crate::support::realistic_clients().await),
    );
    let mut log_seen = false;
    let result = loop {
        let event = tokio::time::timeout(Duration::from_secs(90), rx.recv()).await.unwrap().unwrap();
        match event.update {
            JobUpdate::Progress(p) => log_seen |= p.detail.iter().any(|l| l.contains("dumping contents")),
            JobUpdate::Finished(result) => break result,
            JobUpdate::Started => {}
        }
    };
    let command = player.await.unwrap();
    let JobResult::Done(output) = result else { panic!("the remote backup failed: {result:?}") };
    let key = output.json["key"].as_str().unwrap();
    assert_eq!(
        command,
        ["/backup.sh", bucket.as_str(), key, "--class=STANDARD_IA"],
        "placeholders filled in"
    );
    assert!(log_seen, "the task's log reached the job's progress");

    let stored = crate::backup::object(&bucket, key).await;
    let manifest_key = key.replace("data.dump.zst", "manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_slice(&crate::backup::object(&bucket, &manifest_key).await).unwrap();
    use sha2::Digest;
    assert_eq!(manifest["sha256"], format!("{:x}", sha2::Sha256::digest(&stored)), "S3's object, hashed");
    assert_eq!(manifest["stored_bytes"], stored.len() as u64);
    assert_eq!(manifest["raw_bytes"], dump.len() as u64, "it decompresses whole");
    assert_eq!(manifest["source"]["kind"], "ecs_task");
    assert!(manifest["source"]["name"].as_str().unwrap().starts_with(&format!("{cluster}/{service} task ")));
    assert_eq!(manifest["content"], "dump");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_that_stores_nothing_fails_the_backup_and_writes_no_manifest() {
    let (cluster, service, bucket) = ecs_service().await;
    let player = tokio::spawn(play_the_task(cluster.clone(), vec![], false));
    let (tx, mut rx) = mpsc::channel(1024);
    let mut pool = JobPool::new(1, tx);
    pool.submit(
        1,
        JobSpec::RemoteBackup(job(&cluster, &service, &bucket)),
        Some(crate::support::realistic_clients().await),
    );
    let result = loop {
        let event = tokio::time::timeout(Duration::from_secs(90), rx.recv()).await.unwrap().unwrap();
        if let JobUpdate::Finished(result) = event.update {
            break result;
        }
    };
    player.await.unwrap();
    let JobResult::Failed(chain) = result else { panic!("{result:?}") };
    assert!(chain[0].contains("exited 0 but wrote nothing to s3://"), "{chain:?}");
    let s3 = moto_clients().await.s3;
    assert!(s3.list_objects_v2().bucket(&bucket).send().await.unwrap().contents().is_empty());
}
