//! Who uses what init made: one tag per init, read and written on every kind
//! of resource init deals in (each service has its own tag calls).

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;
use aws_sdk_s3::types::Tagging;

use super::{InitClients, build_error};
use crate::aws::error::{AwsError, from_sdk};

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
