//! What went wrong talking to AWS, in words a user can act on.

use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};

/// An AWS call that failed, sorted by what the user can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    #[error("no usable AWS credentials: {0}")]
    NoCredentials(String),
    #[error("no AWS region: give --region, set AWS_REGION, or region in wharf.toml")]
    NoRegion,
    #[error("the AWS credentials have expired ({0}); refresh them (e.g. `aws sso login`) and try again")]
    Expired(String),
    #[error("access denied: {0}")]
    AccessDenied(String),
    #[error("throttled by AWS, still after the SDK's retries: {0}")]
    Throttled(String),
    #[error("{0}")]
    NotFound(String),
    #[error("cannot reach the AWS endpoint: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Service(String),
}

/// Sorts an SDK error by its service error code, or by how the call failed.
pub fn from_sdk<E, R>(error: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let chain = crate::error::one_line(&error);
    match &error {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let message = e.message().unwrap_or_default().to_string();
            let code = e.code().unwrap_or_default();
            match code {
                "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => {
                    AwsError::AccessDenied(message)
                }
                "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "SlowDown" => AwsError::Throttled(message),
                "ExpiredTokenException" | "ExpiredToken" | "RequestExpired" | "TokenRefreshRequired" => {
                    AwsError::Expired(message)
                }
                "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch" => AwsError::NoCredentials(format!("{code}: {message}")),
                c if c.ends_with("NotFoundException") || c.starts_with("NoSuch") => {
                    AwsError::NotFound(message)
                }
                "" => AwsError::Service(chain),
                _ => AwsError::Service(format!("{code}: {message}")),
            }
        }
        SdkError::TimeoutError(_) => AwsError::Unreachable(chain),
        SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => AwsError::Unreachable(chain),
        _ if chain.to_lowercase().contains("region") => AwsError::NoRegion,
        _ if chain.contains("credentials") || chain.contains("identity") => AwsError::NoCredentials(chain),
        // The request never got an answer: the connection failed or was cut.
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => AwsError::Unreachable(chain),
        _ => AwsError::Service(chain),
    }
}
