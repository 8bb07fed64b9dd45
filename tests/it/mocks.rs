//! What moto cannot do, with recorded replies (`aws-smithy-mocks`): ECR lists
//! that come in pages, throttling with and without the SDK's retries, expired
//! credentials, and the registry token's expiry.

use std::time::Duration;

use aws_sdk_ecr::Client;
use aws_sdk_ecr::config::retry::RetryConfig;
use aws_sdk_ecr::operation::describe_images::DescribeImagesOutput;
use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesOutput;
use aws_sdk_ecr::operation::get_authorization_token::GetAuthorizationTokenOutput;
use aws_sdk_ecr::primitives::DateTime;
use aws_sdk_ecr::types::{AuthorizationData, ImageDetail, Repository};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use wharf::aws::{AwsError, TokenCache, ecr};

/// An ECR client answered by `rules`, with the SDK's standard retries (fast backoff).
fn client(rules: &[&Rule]) -> Client {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let config = aws_sdk_ecr::Config::builder()
        .with_test_defaults()
        .region(aws_sdk_ecr::config::Region::new("eu-west-1"))
        .retry_config(
            RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1)),
        )
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .build();
    Client::from_conf(config)
}

/// An error reply as ECR's JSON protocol sends it.
fn error_body(code: &str, message: &str) -> Option<String> {
    Some(format!(r#"{{"__type":"{code}","message":"{message}"}}"#))
}

fn repository(name: &str) -> Repository {
    Repository::builder()
        .repository_name(name)
        .repository_uri(format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/{name}"))
        .build()
}

#[tokio::test]
async fn repositories_are_read_through_every_page() {
    let page = |names: &'static [&'static str], next: Option<&'static str>| {
        move || {
            DescribeRepositoriesOutput::builder()
                .set_repositories(Some(names.iter().map(|n| repository(n)).collect()))
                .set_next_token(next.map(str::to_string))
                .build()
        }
    };
    let first = mock!(Client::describe_repositories)
        .match_requests(|r| r.next_token().is_none())
        .then_output(page(&["web", "api"], Some("t1")));
    let second = mock!(Client::describe_repositories)
        .match_requests(|r| r.next_token() == Some("t1"))
        .then_output(page(&["db"], Some("t2")));
    let last = mock!(Client::describe_repositories)
        .match_requests(|r| r.next_token() == Some("t2"))
        .then_output(page(&["auth", "worker"], None));
    let ecr_client = client(&[&first, &second, &last]);

    let names: Vec<String> =
        ecr::repositories(&ecr_client).await.unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["api", "auth", "db", "web", "worker"], "all pages, sorted by name");
    assert_eq!((first.num_calls(), second.num_calls(), last.num_calls()), (1, 1, 1));
}

#[tokio::test]
async fn images_are_read_through_every_page_newest_first() {
    let image = |tag: &str, digest: &str, pushed: i64| {
        ImageDetail::builder()
            .image_tags(tag)
            .image_digest(format!("sha256:{digest}"))
            .image_pushed_at(DateTime::from_secs(pushed))
            .image_size_in_bytes(1000)
            .build()
    };
    let first =
        mock!(Client::describe_images).match_requests(|r| r.next_token().is_none()).then_output(move || {
            DescribeImagesOutput::builder()
                .image_details(image("v1", "aa", 100))
                .image_details(image("v3", "cc", 300))
                .next_token("more")
                .build()
        });
    let second = mock!(Client::describe_images)
        .match_requests(|r| r.next_token() == Some("more") && r.repository_name() == Some("app"))
        .then_output(move || DescribeImagesOutput::builder().image_details(image("v2", "bb", 200)).build());
    let ecr_client = client(&[&first, &second]);

    let tags: Vec<String> =
        ecr::images(&ecr_client, "app").await.unwrap().into_iter().map(|i| i.tags.join(",")).collect();
    assert_eq!(tags, ["v3", "v2", "v1"]);
    assert_eq!(second.num_calls(), 1);
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_and_then_succeeds() {
    let rule = mock!(Client::describe_repositories)
        .sequence()
        .http_status(400, error_body("ThrottlingException", "Rate exceeded"))
        .times(2)
        .output(|| DescribeRepositoriesOutput::builder().repositories(repository("app")).build())
        .build();
    let ecr_client = client(&[&rule]);

    let repositories = ecr::repositories(&ecr_client).await.unwrap();
    assert_eq!(repositories.len(), 1);
    assert_eq!(rule.num_calls(), 3, "two throttled attempts, then the answer");
}

#[tokio::test]
async fn throttling_past_the_retries_says_so() {
    let rule = mock!(Client::describe_repositories)
        .sequence()
        .http_status(400, error_body("ThrottlingException", "Rate exceeded"))
        .times(3)
        .build();
    let ecr_client = client(&[&rule]);

    let error = ecr::repositories(&ecr_client).await.unwrap_err();
    assert_eq!(error, AwsError::Throttled("Rate exceeded".into()));
    assert_eq!(error.to_string(), "throttled by AWS, still after the SDK's retries: Rate exceeded");
    assert_eq!(rule.num_calls(), 3, "the SDK tried three times");
}

#[tokio::test]
async fn expired_credentials_say_what_to_do() {
    let rule = mock!(Client::get_authorization_token).sequence().http_status(
        400,
        error_body("ExpiredTokenException", "The security token included in the request is expired"),
    );
    let rule = rule.build();
    let ecr_client = client(&[&rule]);

    let error = ecr::authorization(&ecr_client).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the AWS credentials have expired (The security token included in the request is expired); \
         refresh them (e.g. `aws sso login`) and try again"
    );
}

#[tokio::test]
async fn access_denied_and_a_missing_repository_are_told_apart() {
    let denied = mock!(Client::describe_repositories)
        .match_requests(|r| r.repository_names() == ["secret"])
        .sequence()
        .http_status(
            400,
            error_body("AccessDeniedException", "not authorized to perform ecr:DescribeRepositories"),
        )
        .build();
    let missing = mock!(Client::describe_repositories)
        .match_requests(|r| r.repository_names() == ["gone"])
        .sequence()
        .http_status(
            400,
            error_body("RepositoryNotFoundException", "The repository with name 'gone' does not exist"),
        )
        .build();
    let ecr_client = client(&[&denied, &missing]);

    let error = ecr::repository(&ecr_client, "secret").await.unwrap_err();
    assert_eq!(error.to_string(), "access denied: not authorized to perform ecr:DescribeRepositories");
    let error = ecr::repository(&ecr_client, "gone").await.unwrap_err();
    assert!(matches!(error, AwsError::NotFound(_)), "{error:?}");
}

/// A `get_authorization_token` reply for `AWS:<password>` that expires at `expires`.
fn token_rule(password: &'static str, expires: i64) -> Rule {
    use base64::Engine as _;
    mock!(Client::get_authorization_token)
        .sequence()
        .output(move || {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
            GetAuthorizationTokenOutput::builder()
                .authorization_data(
                    AuthorizationData::builder()
                        .authorization_token(token)
                        .proxy_endpoint("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com")
                        .expires_at(DateTime::from_secs(expires))
                        .build(),
                )
                .build()
        })
        .repeatedly()
        .build()
}

#[tokio::test]
async fn the_registry_token_is_reused_until_shortly_before_it_expires() {
    let now = 1_800_000_000;
    let rule = token_rule("first", now + 12 * 3600);
    let ecr_client = client(&[&rule]);
    let cache = TokenCache::default();

    let a = cache.get(&ecr_client, now).await.unwrap();
    let b = cache.get(&ecr_client, now + 11 * 3600).await.unwrap();
    assert_eq!((a.password.as_str(), b.password.as_str()), ("first", "first"));
    assert_eq!(rule.num_calls(), 1, "one call to ECR for both pushes");

    // Five minutes before the end it is no longer handed out.
    let c = cache.get(&ecr_client, now + 12 * 3600 - TokenCache::MARGIN_SECS).await.unwrap();
    assert_eq!(c.password, "first");
    assert_eq!(rule.num_calls(), 2, "a fresh token was asked for");
}

#[tokio::test]
async fn an_expired_registry_token_is_never_handed_out() {
    let now = 1_800_000_000;
    let rule = token_rule("stale", now - 60);
    let ecr_client = client(&[&rule]);
    let cache = TokenCache::default();
    cache.get(&ecr_client, now).await.unwrap();
    cache.get(&ecr_client, now).await.unwrap();
    assert_eq!(rule.num_calls(), 2, "a token already expired is asked for again each time");
    assert!(
        !format!("{:?}", cache.get(&ecr_client, now).await.unwrap()).contains("stale"),
        "the password stays out of Debug output"
    );
}
