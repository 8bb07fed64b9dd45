//! What `wharf init` creates on AWS, looked at and created one call at a
//! time: the ECR repository, the snapshot bucket (`bucket.rs`), the ECS
//! cluster, the task execution role, the log group, the network and security
//! group (`network.rs`), and the service's task definition and service.
//! Everything created carries its init's tag (`tags.rs`).

mod bucket;
mod network;
mod tags;

pub use bucket::{
    BucketSettings, bucket_exists, bucket_settings, create_bucket, delete_bucket, secure_bucket,
};
pub use network::{
    Network, allow, allow_members, caller_address, create_security_group, default_network,
    delete_security_group, members_may_reach, network_of, security_group, ways_in,
};
pub use tags::{INIT_TAG, InitTag, LEGACY_TAG, Resource, add_tag, remove_tag, tags_of};

use super::AwsClients;
use super::error::{AwsError, from_sdk};
use aws_config::SdkConfig;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType, LogConfiguration,
    LogDriver, NetworkConfiguration, NetworkMode, PortMapping,
};

/// The AWS-managed policy a task execution role needs (pull from ECR, write logs).
const EXECUTION_POLICY: &str = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";

/// Who may take the task execution role: ECS tasks.
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Untagged images expire after this many days.
pub const UNTAGGED_DAYS: u32 = 14;

/// The clients init needs: the dashboard's, and IAM and EC2 besides.
pub struct InitClients {
    pub aws: AwsClients,
    iam: aws_sdk_iam::Client,
    ec2: aws_sdk_ec2::Client,
    region: Option<String>,
}

impl InitClients {
    pub fn new(config: &SdkConfig) -> InitClients {
        InitClients {
            aws: AwsClients::new(config),
            iam: aws_sdk_iam::Client::new(config),
            ec2: aws_sdk_ec2::Client::new(config),
            region: config.region().map(|r| r.to_string()),
        }
    }

    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
}

/// A repository as init needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryState {
    pub uri: String,
    pub arn: String,
    pub expires_untagged: bool,
}

pub async fn repository(c: &InitClients, name: &str) -> Result<Option<RepositoryState>, AwsError> {
    let found = match c.aws.ecr.describe_repositories().repository_names(name).send().await {
        Ok(out) => out.repositories().first().cloned(),
        Err(e) => match from_sdk(e) {
            AwsError::NotFound(_) => None,
            other => return Err(other),
        },
    };
    let Some(repository) = found else { return Ok(None) };
    let expires_untagged = match c.aws.ecr.get_lifecycle_policy().repository_name(name).send().await {
        Ok(_) => true,
        Err(e) => match from_sdk(e) {
            AwsError::NotFound(_) => false,
            other => return Err(other),
        },
    };
    Ok(Some(RepositoryState {
        uri: repository.repository_uri().unwrap_or_default().to_string(),
        arn: repository.repository_arn().unwrap_or_default().to_string(),
        expires_untagged,
    }))
}

/// A repository that scans each image on push.
pub async fn create_repository(c: &InitClients, name: &str, tag: &InitTag) -> Result<(), AwsError> {
    let scan = aws_sdk_ecr::types::ImageScanningConfiguration::builder().scan_on_push(true).build();
    let tag =
        aws_sdk_ecr::types::Tag::builder().key(&tag.key).value(&tag.value).build().map_err(build_error)?;
    c.aws
        .ecr
        .create_repository()
        .repository_name(name)
        .image_scanning_configuration(scan)
        .tags(tag)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(())
}

/// Untagged images expire after [`UNTAGGED_DAYS`].
pub async fn expire_untagged(c: &InitClients, name: &str) -> Result<(), AwsError> {
    let policy = serde_json::json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("untagged images go after {UNTAGGED_DAYS} days (wharf init)"),
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": UNTAGGED_DAYS
            },
            "action": { "type": "expire" }
        }]
    });
    c.aws
        .ecr
        .put_lifecycle_policy()
        .repository_name(name)
        .lifecycle_policy_text(policy.to_string())
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(())
}

/// The cluster's ARN when it is there and active.
pub async fn cluster(c: &InitClients, name: &str) -> Result<Option<String>, AwsError> {
    let out = c.aws.ecs.describe_clusters().clusters(name).send().await.map_err(from_sdk)?;
    Ok(out
        .clusters()
        .iter()
        .find(|cl| cl.status() == Some("ACTIVE"))
        .and_then(|cl| cl.cluster_arn().map(str::to_string)))
}

pub async fn create_cluster(c: &InitClients, name: &str, tag: &InitTag) -> Result<(), AwsError> {
    c.aws.ecs.create_cluster().cluster_name(name).tags(ecs_tag(tag)).send().await.map_err(from_sdk)?;
    Ok(())
}

/// The role's ARN, when it is there.
pub async fn role(c: &InitClients, name: &str) -> Result<Option<String>, AwsError> {
    match c.iam.get_role().role_name(name).send().await {
        Ok(out) => Ok(out.role().map(|r| r.arn().to_string())),
        Err(e) => match from_sdk(e) {
            AwsError::NotFound(_) => Ok(None),
            other => Err(other),
        },
    }
}

/// A role ECS tasks may take (to pull their image and write their logs, once
/// [`let_role_execute`] has attached the policy).
pub async fn create_execution_role(c: &InitClients, name: &str, tag: &InitTag) -> Result<String, AwsError> {
    let profile = tag.value.clone();
    let tag =
        aws_sdk_iam::types::Tag::builder().key(&tag.key).value(&tag.value).build().map_err(build_error)?;
    let out = c
        .iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(TRUST)
        .description(format!("ECS task execution for wharf profile {profile}"))
        .tags(tag)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(out.role().map(|r| r.arn().to_string()).unwrap_or_default())
}

/// A role a remote backup's task takes: allowed, by [`allow_backup`], to
/// write snapshots under one bucket and prefix, and nothing else.
pub async fn create_backup_role(c: &InitClients, name: &str, tag: &InitTag) -> Result<String, AwsError> {
    let t =
        aws_sdk_iam::types::Tag::builder().key(&tag.key).value(&tag.value).build().map_err(build_error)?;
    let out = c
        .iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(TRUST)
        .description(format!("remote backups of wharf profile {}: writes snapshots to S3", tag.value))
        .tags(t)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(out.role().map(|r| r.arn().to_string()).unwrap_or_default())
}

/// The policy a backup task's role needs to write under `bucket`/`prefix`
/// (a multipart upload's calls included), and nothing more.
pub fn backup_policy(bucket: &str, prefix: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            "Resource": format!("arn:aws:s3:::{bucket}/{prefix}*"),
        }]
    })
    .to_string()
}

/// The name of one init's policy on a shared backup role.
pub fn backup_policy_name(init_id: &str) -> String {
    format!("wharf-backup-{init_id}")
}

/// The policy `policy` of `role`, if it has one.
pub async fn role_policy(c: &InitClients, role: &str, policy: &str) -> Result<Option<String>, AwsError> {
    match c.iam.get_role_policy().role_name(role).policy_name(policy).send().await {
        Ok(out) => {
            // IAM hands it back URL-encoded.
            let decoded = percent_encoding::percent_decode_str(out.policy_document()).decode_utf8_lossy();
            Ok(Some(decoded.to_string()))
        }
        Err(e) => match from_sdk(e) {
            AwsError::NotFound(_) => Ok(None),
            other => Err(other),
        },
    }
}

/// Lets `role` write under `bucket`/`prefix`: the inline policy `policy`.
pub async fn allow_backup(c: &InitClients, role: &str, policy: &str, document: &str) -> Result<(), AwsError> {
    c.iam
        .put_role_policy()
        .role_name(role)
        .policy_name(policy)
        .policy_document(document)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(())
}

/// Takes the inline policy `policy` off `role` (one already gone is fine).
pub async fn remove_role_policy(c: &InitClients, role: &str, policy: &str) -> Result<(), AwsError> {
    match c.iam.delete_role_policy().role_name(role).policy_name(policy).send().await.map_err(from_sdk) {
        Ok(_) | Err(AwsError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether the role has the AWS-managed task execution policy attached.
pub async fn role_can_execute(c: &InitClients, name: &str) -> Result<bool, AwsError> {
    let attached = c.iam.list_attached_role_policies().role_name(name).send().await.map_err(from_sdk)?;
    Ok(attached.attached_policies().iter().any(|p| p.policy_arn() == Some(EXECUTION_POLICY)))
}

/// Attaches the AWS-managed task execution policy.
pub async fn let_role_execute(c: &InitClients, name: &str) -> Result<(), AwsError> {
    c.iam.attach_role_policy().role_name(name).policy_arn(EXECUTION_POLICY).send().await.map_err(from_sdk)?;
    Ok(())
}

pub async fn delete_role(c: &InitClients, name: &str) -> Result<(), AwsError> {
    let inline = c.iam.list_role_policies().role_name(name).send().await.map_err(from_sdk)?;
    for policy in inline.policy_names() {
        remove_role_policy(c, name, policy).await?;
    }
    let attached = c.iam.list_attached_role_policies().role_name(name).send().await.map_err(from_sdk)?;
    for policy in attached.attached_policies() {
        if let Some(arn) = policy.policy_arn() {
            c.iam.detach_role_policy().role_name(name).policy_arn(arn).send().await.map_err(from_sdk)?;
        }
    }
    c.iam.delete_role().role_name(name).send().await.map_err(from_sdk)?;
    Ok(())
}

/// The log group's ARN and retention, when it is there.
pub async fn log_group(c: &InitClients, name: &str) -> Result<Option<(String, Option<i32>)>, AwsError> {
    let out = c.aws.logs.describe_log_groups().log_group_name_prefix(name).send().await.map_err(from_sdk)?;
    Ok(out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
        .map(|g| (g.arn().unwrap_or_default().trim_end_matches(":*").to_string(), g.retention_in_days())))
}

pub async fn create_log_group(c: &InitClients, name: &str, days: i32, tag: &InitTag) -> Result<(), AwsError> {
    let logs = &c.aws.logs;
    logs.create_log_group().log_group_name(name).tags(&tag.key, &tag.value).send().await.map_err(from_sdk)?;
    c.aws
        .logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(days)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(())
}

pub async fn delete_log_group(c: &InitClients, name: &str) -> Result<(), AwsError> {
    c.aws.logs.delete_log_group().log_group_name(name).send().await.map_err(from_sdk)?;
    Ok(())
}

/// The service's ARN when it is there and not deleted.
pub async fn service(c: &InitClients, cluster: &str, name: &str) -> Result<Option<String>, AwsError> {
    let out = match c.aws.ecs.describe_services().cluster(cluster).services(name).send().await {
        Ok(out) => out,
        // No cluster: no service in it either.
        Err(e) => match from_sdk(e) {
            AwsError::NotFound(_) => return Ok(None),
            other => return Err(other),
        },
    };
    Ok(out
        .services()
        .iter()
        .find(|s| s.status() != Some("INACTIVE"))
        .and_then(|s| s.service_arn().map(str::to_string)))
}

/// The task definition init registers for the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    pub family: String,
    pub container: String,
    /// `repository-uri@sha256:…`
    pub image: String,
    pub ports: Vec<u16>,
    pub cpu: u32,
    pub memory: u32,
    pub execution_role: String,
    pub log_group: String,
}

/// The image of `container` in the family's newest active revision, if there is one.
pub async fn registered_image(
    c: &InitClients,
    family: &str,
    container: &str,
) -> Result<Option<String>, AwsError> {
    match c.aws.ecs.describe_task_definition().task_definition(family).send().await {
        Ok(out) => Ok(out
            .task_definition()
            .and_then(|t| t.container_definitions().iter().find(|d| d.name() == Some(container)))
            .and_then(|d| d.image().map(str::to_string))),
        Err(e) => match from_sdk(e) {
            AwsError::NotFound(_) => Ok(None),
            // ECS says "Unable to describe task definition" as a client error.
            AwsError::Service(m) if m.contains("ClientException") => Ok(None),
            other => Err(other),
        },
    }
}

/// Registers `spec`; returns the new revision's ARN.
pub async fn register(c: &InitClients, spec: &TaskSpec, tag: &InitTag) -> Result<String, AwsError> {
    let mut logs = std::collections::HashMap::new();
    logs.insert("awslogs-group".to_string(), spec.log_group.clone());
    logs.insert("awslogs-region".to_string(), c.region().unwrap_or("us-east-1").to_string());
    logs.insert("awslogs-stream-prefix".to_string(), spec.family.clone());
    let log = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .set_options(Some(logs))
        .build()
        .map_err(build_error)?;
    let ports =
        spec.ports.iter().map(|p| PortMapping::builder().container_port(i32::from(*p)).build()).collect();
    let container = ContainerDefinition::builder()
        .name(&spec.container)
        .image(&spec.image)
        .essential(true)
        .set_port_mappings(Some(ports))
        .log_configuration(log)
        .build();
    let out = c
        .aws
        .ecs
        .register_task_definition()
        .family(&spec.family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu(spec.cpu.to_string())
        .memory(spec.memory.to_string())
        .execution_role_arn(&spec.execution_role)
        .container_definitions(container)
        .tags(ecs_tag(tag))
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(out.task_definition().and_then(|t| t.task_definition_arn()).unwrap_or_default().to_string())
}

/// The service on Fargate, one task, in `network`: without a public address,
/// or with one (`public`) behind the network's security group.
pub async fn create_service(
    c: &InitClients,
    cluster: &str,
    name: &str,
    task_definition: &str,
    network: Network,
    public: bool,
    tag: &InitTag,
) -> Result<(), AwsError> {
    let address = if public { AssignPublicIp::Enabled } else { AssignPublicIp::Disabled };
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(network.subnets))
        .set_security_groups(network.security_group.map(|g| vec![g]))
        .assign_public_ip(address)
        .build()
        .map_err(build_error)?;
    c.aws
        .ecs
        .create_service()
        .cluster(cluster)
        .service_name(name)
        .task_definition(task_definition)
        .desired_count(1)
        .launch_type(LaunchType::Fargate)
        .network_configuration(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
        .tags(ecs_tag(tag))
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(())
}

/// Asks the service to run no task.
pub async fn scale_to_zero(c: &InitClients, cluster: &str, name: &str) -> Result<(), AwsError> {
    c.aws
        .ecs
        .update_service()
        .cluster(cluster)
        .service(name)
        .desired_count(0)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(())
}

/// How many tasks of the service are not stopped yet.
pub async fn tasks_left(c: &InitClients, cluster: &str, name: &str) -> Result<usize, AwsError> {
    let mut left = 0;
    for status in [aws_sdk_ecs::types::DesiredStatus::Running, aws_sdk_ecs::types::DesiredStatus::Pending] {
        let mut pages = c
            .aws
            .ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(name)
            .desired_status(status)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            left += page.map_err(from_sdk)?.task_arns().len();
        }
    }
    Ok(left)
}

pub async fn delete_service(c: &InitClients, cluster: &str, name: &str) -> Result<(), AwsError> {
    c.aws.ecs.delete_service().cluster(cluster).service(name).force(true).send().await.map_err(from_sdk)?;
    Ok(())
}

pub async fn delete_cluster(c: &InitClients, name: &str) -> Result<(), AwsError> {
    c.aws.ecs.delete_cluster().cluster(name).send().await.map_err(from_sdk)?;
    Ok(())
}

pub async fn delete_repository(c: &InitClients, name: &str) -> Result<(), AwsError> {
    c.aws.ecr.delete_repository().repository_name(name).force(true).send().await.map_err(from_sdk)?;
    Ok(())
}

fn ecs_tag(tag: &InitTag) -> aws_sdk_ecs::types::Tag {
    aws_sdk_ecs::types::Tag::builder().key(&tag.key).value(&tag.value).build()
}

fn build_error(e: aws_smithy_types::error::operation::BuildError) -> AwsError {
    AwsError::Service(format!("a request could not be built: {e}"))
}
