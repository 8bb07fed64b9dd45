//! The snapshot bucket as init makes it: Block Public Access, default
//! encryption, and multipart uploads left open aborted after a day; and how a
//! bucket that was there is checked for those and given what it lacks.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    CreateBucketConfiguration, ExpirationStatus, LifecycleRule, LifecycleRuleFilter,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

use super::tags::{InitTag, Resource, add_tag};
use super::{InitClients, build_error};
use crate::aws::error::{AwsError, from_sdk};

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

/// Deletes every object of the bucket, every open upload, and the bucket.
pub async fn delete_bucket(c: &InitClients, name: &str) -> Result<(), AwsError> {
    for upload in crate::aws::s3::open_uploads(&c.aws.s3, name, "").await? {
        crate::aws::s3::abort(&c.aws.s3, name, &upload.key, &upload.upload_id).await?;
    }
    let keys: Vec<String> =
        crate::aws::s3::list(&c.aws.s3, name, "").await?.into_iter().map(|o| o.key).collect();
    crate::aws::s3::delete(&c.aws.s3, name, &keys).await?;
    c.aws.s3.delete_bucket().bucket(name).send().await.map_err(from_sdk)?;
    Ok(())
}
