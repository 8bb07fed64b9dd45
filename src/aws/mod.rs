//! The AWS side: one SDK configuration built from aws-config's default chain
//! with the profile and command line laid over it, and the clients made from it.
//! No SDK type travels past this module.

pub mod ecr;
pub mod ecs;
pub mod error;
pub mod init;
pub mod logs;
pub mod metrics;
pub mod pace;
pub mod s3;

pub use ecr::{RegistryAuth, RegistryImage, Repository, TokenCache};
pub use error::AwsError;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;

use crate::config::Profile;

/// The SDK's clients by wharf's names: the layers above hand them to `aws::`
/// functions and never name the SDK themselves.
pub type EcsClient = aws_sdk_ecs::Client;
pub type EcrClient = aws_sdk_ecr::Client;
pub type S3Client = aws_sdk_s3::Client;
pub type LogsClient = aws_sdk_cloudwatchlogs::Client;

/// The AWS clients wharf uses, all from one configuration.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub ecr: aws_sdk_ecr::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub s3: aws_sdk_s3::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub metrics: aws_sdk_cloudwatch::Client,
    /// ECR registry tokens, shared by every push of the session.
    pub ecr_tokens: ecr::TokenCache,
    /// ECS's service-read calls wait on this, to stay under the account's quota.
    pub service_reads: std::sync::Arc<pace::Pace>,
}

/// What the status line and the AWS panes say about the AWS connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsStatus {
    /// The configuration is being loaded and the credentials looked for.
    Checking,
    /// Credentials were found.
    Ready { region: Option<String>, endpoint: Option<String> },
    /// No usable credentials: the AWS panes say so, the Docker side works on.
    NoCredentials { region: Option<String>, endpoint: Option<String>, error: String },
}

impl AwsStatus {
    pub fn region(&self) -> Option<&str> {
        match self {
            AwsStatus::Checking => None,
            AwsStatus::Ready { region, .. } | AwsStatus::NoCredentials { region, .. } => region.as_deref(),
        }
    }
}

/// Loads the SDK configuration: the default chain (environment, shared files,
/// `AWS_ENDPOINT_URL` …) overridden by the profile's `aws_profile`, `region`
/// and `endpoint_url` (which already carry `--aws-profile`, `--region`, `--endpoint-url`).
pub async fn load_config(profile: &Profile) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(name) = &profile.aws_profile {
        loader = loader.profile_name(name);
    }
    if let Some(region) = &profile.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &profile.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

impl AwsClients {
    /// Makes the clients. With an endpoint URL (an emulator, a local S3 server)
    /// S3 uses path-style addressing: `bucket.localhost` does not resolve.
    pub fn new(config: &SdkConfig) -> AwsClients {
        // The control-plane clients retry throttling for longer, adaptively
        // (the SDK slows itself down when AWS throttles); every client counts
        // throttled attempts for the status line.
        let patient = aws_config::retry::RetryConfig::adaptive().with_max_attempts(read_attempts());
        let ecr = aws_sdk_ecr::config::Builder::from(config)
            .retry_config(patient.clone())
            .interceptor(pace::ThrottleCounter)
            .build();
        let ecs = aws_sdk_ecs::config::Builder::from(config)
            .retry_config(patient.clone())
            .interceptor(pace::ThrottleCounter)
            .build();
        let metrics = aws_sdk_cloudwatch::config::Builder::from(config)
            .retry_config(patient.clone())
            .interceptor(pace::ThrottleCounter)
            .build();
        let logs = aws_sdk_cloudwatchlogs::config::Builder::from(config)
            .retry_config(patient)
            .interceptor(pace::ThrottleCounter)
            .build();
        let s3 = s3_config(config).to_builder().interceptor(pace::ThrottleCounter).build();
        AwsClients {
            ecr: aws_sdk_ecr::Client::from_conf(ecr),
            ecs: aws_sdk_ecs::Client::from_conf(ecs),
            s3: aws_sdk_s3::Client::from_conf(s3),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs),
            metrics: aws_sdk_cloudwatch::Client::from_conf(metrics),
            ecr_tokens: ecr::TokenCache::default(),
            service_reads: std::sync::Arc::new(pace::Pace::service_reads()),
        }
    }
}

/// Attempts an ECS, ECR or CloudWatch Logs call gets before a throttling
/// error is final (the SDK's default is 3): with backoff, about a minute.
const READ_ATTEMPTS: u32 = 8;

/// `AWS_MAX_ATTEMPTS` when the user set it (as the AWS CLI and every SDK
/// read it), else [`READ_ATTEMPTS`].
fn read_attempts() -> u32 {
    std::env::var("AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(READ_ATTEMPTS)
}

/// The S3 client's configuration: path-style whenever an endpoint URL is set.
pub fn s3_config(config: &SdkConfig) -> aws_sdk_s3::Config {
    aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some()).build()
}

/// Loads the configuration and looks for credentials, for the status line;
/// the clients come along when credentials were found.
pub async fn connect(profile: &Profile) -> (AwsStatus, Option<AwsClients>) {
    let config = load_config(profile).await;
    let mut status = probe(&config).await;
    if let AwsStatus::NoCredentials { error, .. } = &mut status {
        *error = with_login_hint(error, profile.aws_profile.as_deref());
    }
    let clients = matches!(status, AwsStatus::Ready { .. }).then(|| AwsClients::new(&config));
    (status, clients)
}

/// An SSO session that has expired (or was never started) says exactly what
/// to run for the profile in use.
pub fn with_login_hint(error: &str, aws_profile: Option<&str>) -> String {
    let lower = error.to_lowercase();
    if !(lower.contains("sso") || lower.contains("expired")) {
        return error.to_string();
    }
    let login = match aws_profile {
        Some(name) => format!("aws sso login --profile {name}"),
        None => "aws sso login".to_string(),
    };
    format!("{error}; run `{login}`")
}

/// Looks for credentials in `config`.
pub async fn probe(config: &SdkConfig) -> AwsStatus {
    let region = config.region().map(|r| r.to_string());
    let endpoint = config.endpoint_url().map(str::to_string);
    let Some(provider) = config.credentials_provider() else {
        return AwsStatus::NoCredentials {
            region,
            endpoint,
            error: "no credentials provider is configured".into(),
        };
    };
    match provider.provide_credentials().await {
        Ok(_) => AwsStatus::Ready { region, endpoint },
        Err(e) => {
            let error = crate::error::one_line(&e);
            tracing::warn!(%error, "no AWS credentials");
            AwsStatus::NoCredentials { region, endpoint, error }
        }
    }
}

/// AWS's commercial regions, for switching to one.
pub const REGIONS: [&str; 17] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-south-1",
    "sa-east-1",
];

/// The profiles of the AWS CLI's shared files, as the SDK reads them
/// (`AWS_CONFIG_FILE`, else `~/.aws/config`; `AWS_SHARED_CREDENTIALS_FILE`,
/// else `~/.aws/credentials`), sorted.
pub async fn profile_names() -> Vec<String> {
    names_in(&aws_runtime::env_config::file::EnvConfigFiles::default()).await
}

/// The profiles of a config file and a credentials file, sorted, each once.
pub async fn profile_names_in(config: &std::path::Path, credentials: &std::path::Path) -> Vec<String> {
    use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
    let files = EnvConfigFiles::builder()
        .with_file(EnvConfigFileKind::Config, config)
        .with_file(EnvConfigFileKind::Credentials, credentials)
        .build();
    names_in(&files).await
}

async fn names_in(files: &aws_runtime::env_config::file::EnvConfigFiles) -> Vec<String> {
    use aws_types::os_shim_internal::{Env, Fs};
    match aws_config::profile::load(&Fs::real(), &Env::real(), files, None).await {
        Ok(set) => {
            let mut names: Vec<String> = set.profiles().map(str::to_string).collect();
            names.sort();
            names
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the AWS CLI's profiles");
            Vec::new()
        }
    }
}
