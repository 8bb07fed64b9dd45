//! What `wharf init` creates on AWS, looked at and created one call at a
//! time: the ECR repository, the snapshot bucket, the ECS cluster, the task
//! execution role, the log group, and the service's task definition and
//! service. Everything created is tagged `wharf:profile=<name>`, and what is
//! removed again must carry that tag.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_ec2::types::Filter;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType, LogConfiguration,
    LogDriver, NetworkConfiguration, NetworkMode, PortMapping,
};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    CreateBucketConfiguration, ExpirationStatus, LifecycleRule, LifecycleRuleFilter,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tagging,
};

use super::AwsClients;
use super::error::{AwsError, from_sdk};

/// What an init made or uses carries `wharf:init:<its id>`, valued with its
/// profile's name: one tag per init, so that `--destroy` can tell whether
/// another init (another project's, with the same profile name, say) still
/// uses a resource.
pub const INIT_TAG: &str = "wharf:init:";
/// What older inits put on what they made (`wharf:profile=<name>`): read, never written.
pub const LEGACY_TAG: &str = "wharf:profile";

/// One init's tag.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InitTag {
    pub key: String,
    pub value: String,
}

impl InitTag {
    pub fn new(init_id: &str, profile: &str) -> InitTag {
        InitTag { key: format!("{INIT_TAG}{init_id}"), value: profile.to_string() }
    }
}

/// Something init made or uses, as its tags are reached.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resource {
    /// An ECR repository, by ARN.
    Repository {
        arn: String,
    },
    Bucket {
        name: String,
    },
    /// An ECS cluster or service, by ARN.
    Ecs {
        arn: String,
    },
    Role {
        name: String,
    },
    /// A log group, by ARN.
    LogGroup {
        arn: String,
    },
    SecurityGroup {
        id: String,
    },
}

/// Every tag of `r`.
pub async fn tags_of(c: &InitClients, r: &Resource) -> Result<BTreeMap<String, String>, AwsError> {
    Ok(match r {
        Resource::Repository { arn } => {
            let out = c.aws.ecr.list_tags_for_resource().resource_arn(arn).send().await.map_err(from_sdk)?;
            out.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
        }
        Resource::Ecs { arn } => {
            let out = c.aws.ecs.list_tags_for_resource().resource_arn(arn).send().await.map_err(from_sdk)?;
            out.tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                .collect()
        }
        Resource::Role { name } => {
            let out = c.iam.list_role_tags().role_name(name).send().await.map_err(from_sdk)?;
            out.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
        }
        Resource::LogGroup { arn } => {
            let out = c.aws.logs.list_tags_for_resource().resource_arn(arn).send().await.map_err(from_sdk)?;
            out.tags().cloned().unwrap_or_default().into_iter().collect()
        }
        Resource::SecurityGroup { id } => {
            let of = Filter::builder().name("resource-id").values(id).build();
            let out = c.ec2.describe_tags().filters(of).send().await.map_err(from_sdk)?;
            out.tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                .collect()
        }
        Resource::Bucket { name } => bucket_tags(c, name).await?,
    })
}

async fn bucket_tags(c: &InitClients, name: &str) -> Result<BTreeMap<String, String>, AwsError> {
    match c.aws.s3.get_bucket_tagging().bucket(name).send().await {
        Ok(out) => Ok(out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()),
        Err(e) => match from_sdk(e) {
            AwsError::NotFound(_) => Ok(BTreeMap::new()),
            AwsError::Service(m) if m.contains("NoSuchTagSet") => Ok(BTreeMap::new()),
            other => Err(other),
        },
    }
}

async fn put_bucket_tags(
    c: &InitClients,
    name: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    if tags.is_empty() {
        c.aws.s3.delete_bucket_tagging().bucket(name).send().await.map_err(from_sdk)?;
        return Ok(());
    }
    let set = tags
        .iter()
        .map(|(k, v)| aws_sdk_s3::types::Tag::builder().key(k).value(v).build().map_err(build_error))
        .collect::<Result<Vec<_>, _>>()?;
    let tagging = Tagging::builder().set_tag_set(Some(set)).build().map_err(build_error)?;
    c.aws.s3.put_bucket_tagging().bucket(name).tagging(tagging).send().await.map_err(from_sdk)?;
    Ok(())
}

/// Puts `tag` on `r` (beside its other tags).
pub async fn add_tag(c: &InitClients, r: &Resource, tag: &InitTag) -> Result<(), AwsError> {
    let (key, value) = (tag.key.as_str(), tag.value.as_str());
    match r {
        Resource::Repository { arn } => {
            let t = aws_sdk_ecr::types::Tag::builder().key(key).value(value).build().map_err(build_error)?;
            c.aws.ecr.tag_resource().resource_arn(arn).tags(t).send().await.map_err(from_sdk)?;
        }
        Resource::Ecs { arn } => {
            let t = aws_sdk_ecs::types::Tag::builder().key(key).value(value).build();
            c.aws.ecs.tag_resource().resource_arn(arn).tags(t).send().await.map_err(from_sdk)?;
        }
        Resource::Role { name } => {
            let t = aws_sdk_iam::types::Tag::builder().key(key).value(value).build().map_err(build_error)?;
            c.iam.tag_role().role_name(name).tags(t).send().await.map_err(from_sdk)?;
        }
        Resource::LogGroup { arn } => {
            c.aws.logs.tag_resource().resource_arn(arn).tags(key, value).send().await.map_err(from_sdk)?;
        }
        Resource::SecurityGroup { id } => {
            let t = aws_sdk_ec2::types::Tag::builder().key(key).value(value).build();
            c.ec2.create_tags().resources(id).tags(t).send().await.map_err(from_sdk)?;
        }
        Resource::Bucket { name } => {
            let mut tags = bucket_tags(c, name).await?;
            tags.insert(key.to_string(), value.to_string());
            put_bucket_tags(c, name, &tags).await?;
        }
    }
    Ok(())
}

/// Takes the tag `key` off `r`.
pub async fn remove_tag(c: &InitClients, r: &Resource, key: &str) -> Result<(), AwsError> {
    match r {
        Resource::Repository { arn } => {
            c.aws.ecr.untag_resource().resource_arn(arn).tag_keys(key).send().await.map_err(from_sdk)?;
        }
        Resource::Ecs { arn } => {
            c.aws.ecs.untag_resource().resource_arn(arn).tag_keys(key).send().await.map_err(from_sdk)?;
        }
        Resource::Role { name } => {
            c.iam.untag_role().role_name(name).tag_keys(key).send().await.map_err(from_sdk)?;
        }
        Resource::LogGroup { arn } => {
            c.aws.logs.untag_resource().resource_arn(arn).tag_keys(key).send().await.map_err(from_sdk)?;
        }
        Resource::SecurityGroup { id } => {
            let t = aws_sdk_ec2::types::Tag::builder().key(key).build();
            c.ec2.delete_tags().resources(id).tags(t).send().await.map_err(from_sdk)?;
        }
        Resource::Bucket { name } => {
            let mut tags = bucket_tags(c, name).await?;
            tags.remove(key);
            put_bucket_tags(c, name, &tags).await?;
        }
    }
    Ok(())
}

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

pub async fn bucket_exists(c: &InitClients, name: &str) -> Result<bool, AwsError> {
    match c.aws.s3.head_bucket().bucket(name).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
        Err(e) => match from_sdk(e) {
            AwsError::NotFound(_) => Ok(false),
            AwsError::AccessDenied(m) => Err(AwsError::AccessDenied(format!(
                "bucket `{name}` exists and is not yours to use ({m}); bucket names are global: pick another"
            ))),
            other => Err(other),
        },
    }
}

/// A bucket with Block Public Access on, default encryption, and incomplete
/// multipart uploads aborted after a day.
pub async fn create_bucket(c: &InitClients, name: &str, tag: &InitTag) -> Result<(), AwsError> {
    let mut create = c.aws.s3.create_bucket().bucket(name);
    if let Some(region) = c.region().filter(|r| *r != "us-east-1") {
        let location = CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::from(region))
            .build();
        create = create.create_bucket_configuration(location);
    }
    create.send().await.map_err(from_sdk)?;
    add_tag(c, &Resource::Bucket { name: name.to_string() }, tag).await?;
    secure_bucket(c, name, &BucketSettings::default()).await
}

/// What of init's settings a bucket has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketSettings {
    pub blocks_public_access: bool,
    pub encrypted: bool,
    pub aborts_incomplete_uploads: bool,
}

impl BucketSettings {
    /// What it lacks, in words.
    pub fn lacks(&self) -> Vec<&'static str> {
        let mut lacks = Vec::new();
        if !self.blocks_public_access {
            lacks.push("Block Public Access");
        }
        if !self.encrypted {
            lacks.push("default encryption");
        }
        if !self.aborts_incomplete_uploads {
            lacks.push("incomplete uploads aborted after 1 day");
        }
        lacks
    }
}

/// Which of init's settings the bucket `name` has.
pub async fn bucket_settings(c: &InitClients, name: &str) -> Result<BucketSettings, AwsError> {
    let absent = |e: &AwsError| {
        matches!(e, AwsError::NotFound(_))
            || matches!(e, AwsError::Service(m) if m.contains("NoSuch") || m.contains("NotFound"))
    };
    let blocks_public_access =
        match c.aws.s3.get_public_access_block().bucket(name).send().await.map_err(from_sdk) {
            Ok(out) => out.public_access_block_configuration().is_some_and(|b| {
                b.block_public_acls() == Some(true)
                    && b.ignore_public_acls() == Some(true)
                    && b.block_public_policy() == Some(true)
                    && b.restrict_public_buckets() == Some(true)
            }),
            Err(e) if absent(&e) => false,
            Err(e) => return Err(e),
        };
    let encrypted = match c.aws.s3.get_bucket_encryption().bucket(name).send().await.map_err(from_sdk) {
        Ok(out) => out.server_side_encryption_configuration().is_some_and(|e| !e.rules().is_empty()),
        Err(e) if absent(&e) => false,
        Err(e) => return Err(e),
    };
    let aborts_incomplete_uploads =
        match c.aws.s3.get_bucket_lifecycle_configuration().bucket(name).send().await.map_err(from_sdk) {
            Ok(out) => out.rules().iter().any(|r| {
                r.status() == &ExpirationStatus::Enabled && r.abort_incomplete_multipart_upload().is_some()
            }),
            Err(e) if absent(&e) => false,
            Err(e) => return Err(e),
        };
    Ok(BucketSettings { blocks_public_access, encrypted, aborts_incomplete_uploads })
}

/// Gives the bucket what of init's settings `has` says it lacks.
pub async fn secure_bucket(c: &InitClients, name: &str, has: &BucketSettings) -> Result<(), AwsError> {
    if !has.blocks_public_access {
        let block = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        c.aws
            .s3
            .put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(block)
            .send()
            .await
            .map_err(from_sdk)?;
    }
    if !has.encrypted {
        let default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .map_err(build_error)?;
        let rule =
            ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).build();
        let encryption =
            ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(build_error)?;
        c.aws
            .s3
            .put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(encryption)
            .send()
            .await
            .map_err(from_sdk)?;
    }
    if !has.aborts_incomplete_uploads {
        // Whatever rules the bucket has stay; the abort rule joins them.
        let mut rules: Vec<LifecycleRule> =
            match c.aws.s3.get_bucket_lifecycle_configuration().bucket(name).send().await {
                Ok(out) => out.rules().to_vec(),
                Err(_) => Vec::new(),
            };
        rules.retain(|r| r.id() != Some("wharf-abort-incomplete-uploads"));
        let abort = AbortIncompleteMultipartUpload::builder().days_after_initiation(1).build();
        rules.push(
            LifecycleRule::builder()
                .id("wharf-abort-incomplete-uploads")
                .status(ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().prefix("").build())
                .abort_incomplete_multipart_upload(abort)
                .build()
                .map_err(build_error)?,
        );
        let lifecycle =
            BucketLifecycleConfiguration::builder().set_rules(Some(rules)).build().map_err(build_error)?;
        c.aws
            .s3
            .put_bucket_lifecycle_configuration()
            .bucket(name)
            .lifecycle_configuration(lifecycle)
            .send()
            .await
            .map_err(from_sdk)?;
    }
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

/// Where a service on Fargate runs: the subnets of the account's default VPC
/// and that VPC's default security group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub vpc: String,
    pub subnets: Vec<String>,
    pub security_group: Option<String>,
}

pub async fn default_network(c: &InitClients) -> Result<Network, AwsError> {
    let default = Filter::builder().name("is-default").values("true").build();
    let vpcs = c.ec2.describe_vpcs().filters(default).send().await.map_err(from_sdk)?;
    let Some(vpc) = vpcs.vpcs().first().and_then(|v| v.vpc_id()) else {
        return Err(AwsError::NotFound(
            "this region has no default VPC for the service's network; create one (`aws ec2 create-default-vpc`)".into(),
        ));
    };
    let in_vpc = || Filter::builder().name("vpc-id").values(vpc).build();
    let subnets = c.ec2.describe_subnets().filters(in_vpc()).send().await.map_err(from_sdk)?;
    let named_default = Filter::builder().name("group-name").values("default").build();
    let groups = c
        .ec2
        .describe_security_groups()
        .filters(in_vpc())
        .filters(named_default)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(Network {
        vpc: vpc.to_string(),
        subnets: subnets.subnets().iter().filter_map(|s| s.subnet_id().map(str::to_string)).collect(),
        security_group: groups.security_groups().first().and_then(|g| g.group_id().map(str::to_string)),
    })
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

/// This machine's address as AWS sees it (checkip.amazonaws.com), for `--public`.
pub async fn caller_address() -> Result<String, AwsError> {
    use http_body_util::BodyExt;
    let failed = |m: String| {
        AwsError::Unreachable(format!("cannot ask checkip.amazonaws.com for this machine's address: {m}"))
    };
    let client = crate::net::https_client().map_err(failed)?;
    let request = hyper::Request::get("https://checkip.amazonaws.com/")
        .body(http_body_util::Empty::new())
        .map_err(|e| failed(e.to_string()))?;
    let response = tokio::time::timeout(std::time::Duration::from_secs(10), client.request(request))
        .await
        .map_err(|_| failed("no answer in 10 s".into()))?
        .map_err(|e| failed(e.to_string()))?;
    let body = response.into_body().collect().await.map_err(|e| failed(e.to_string()))?.to_bytes();
    let text = String::from_utf8_lossy(&body).trim().to_string();
    crate::net::single_address(&text).ok_or_else(|| failed(format!("it answered `{text}`")))
}

/// A security group in `vpc` with no way in (nothing may reach what is in
/// it; what is in it may reach out): its id.
pub async fn create_security_group(
    c: &InitClients,
    vpc: &str,
    name: &str,
    tag: &InitTag,
) -> Result<String, AwsError> {
    let t = aws_sdk_ec2::types::Tag::builder().key(&tag.key).value(&tag.value).build();
    let tags = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
        .tags(t)
        .build();
    let created = c
        .ec2
        .create_security_group()
        .vpc_id(vpc)
        .group_name(name)
        .description(format!("wharf init, profile {}: no way in but what --public opens", tag.value))
        .tag_specifications(tags)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(created.group_id().unwrap_or_default().to_string())
}

/// The ways in the security group `id` allows: `(port, from CIDR)`.
pub async fn ways_in(c: &InitClients, id: &str) -> Result<Vec<(u16, String)>, AwsError> {
    let out = c.ec2.describe_security_groups().group_ids(id).send().await.map_err(from_sdk)?;
    Ok(out
        .security_groups()
        .iter()
        .flat_map(|g| g.ip_permissions())
        .flat_map(|p| {
            let port = p.from_port().and_then(|p| u16::try_from(p).ok()).unwrap_or(0);
            p.ip_ranges().iter().filter_map(move |r| Some((port, r.cidr_ip()?.to_string())))
        })
        .collect())
}

/// Lets `from` (a CIDR) reach `port` over TCP in the security group `id`.
pub async fn allow(c: &InitClients, id: &str, port: u16, from: &str) -> Result<(), AwsError> {
    let range =
        aws_sdk_ec2::types::IpRange::builder().cidr_ip(from).description("wharf init --public").build();
    let rule = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(i32::from(port))
        .to_port(i32::from(port))
        .ip_ranges(range)
        .build();
    c.ec2
        .authorize_security_group_ingress()
        .group_id(id)
        .ip_permissions(rule)
        .send()
        .await
        .map_err(from_sdk)?;
    Ok(())
}

/// The id of the security group `name` in `vpc`.
pub async fn security_group(c: &InitClients, vpc: &str, name: &str) -> Result<Option<String>, AwsError> {
    let in_vpc = Filter::builder().name("vpc-id").values(vpc).build();
    let named = Filter::builder().name("group-name").values(name).build();
    let out =
        c.ec2.describe_security_groups().filters(in_vpc).filters(named).send().await.map_err(from_sdk)?;
    Ok(out.security_groups().first().and_then(|g| g.group_id().map(str::to_string)))
}

pub async fn delete_security_group(c: &InitClients, id: &str) -> Result<(), AwsError> {
    c.ec2.delete_security_group().group_id(id).send().await.map_err(from_sdk)?;
    Ok(())
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

/// The network of `subnets` (given by the profile): their VPC.
pub async fn network_of(c: &InitClients, subnets: &[String]) -> Result<Network, AwsError> {
    let out =
        c.ec2.describe_subnets().set_subnet_ids(Some(subnets.to_vec())).send().await.map_err(from_sdk)?;
    let vpcs: std::collections::BTreeSet<&str> = out.subnets().iter().filter_map(|s| s.vpc_id()).collect();
    let vpc = match vpcs.into_iter().collect::<Vec<_>>()[..] {
        [vpc] => vpc.to_string(),
        [] => return Err(AwsError::NotFound(format!("no subnets {} in this region", subnets.join(", ")))),
        _ => return Err(AwsError::Service(format!("subnets {} are in different VPCs", subnets.join(", ")))),
    };
    Ok(Network { vpc, subnets: subnets.to_vec(), security_group: None })
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

/// Deletes every object of the bucket, every open upload, and the bucket.
pub async fn delete_bucket(c: &InitClients, name: &str) -> Result<(), AwsError> {
    for upload in super::s3::open_uploads(&c.aws.s3, name, "").await? {
        super::s3::abort(&c.aws.s3, name, &upload.key, &upload.upload_id).await?;
    }
    let keys: Vec<String> = super::s3::list(&c.aws.s3, name, "").await?.into_iter().map(|o| o.key).collect();
    super::s3::delete(&c.aws.s3, name, &keys).await?;
    c.aws.s3.delete_bucket().bucket(name).send().await.map_err(from_sdk)?;
    Ok(())
}

fn ecs_tag(tag: &InitTag) -> aws_sdk_ecs::types::Tag {
    aws_sdk_ecs::types::Tag::builder().key(&tag.key).value(&tag.value).build()
}

fn build_error(e: aws_smithy_types::error::operation::BuildError) -> AwsError {
    AwsError::Service(format!("a request could not be built: {e}"))
}
