//! The Registry side against moto's ECR: listing repositories and images, the
//! `wharf tags` command, and how the pane's state follows loads.

use wharf::app::Keymap;
use wharf::app::asked::View;
use wharf::app::{Action, Effect, Load, LoadRequest, Loaded, PaneId, update};
use wharf::aws::{AwsError, AwsStatus, ecr};
use wharf::config::{Profile, Settings};

use crate::support::{code, key, moto_clients, put_ecr_image, state, state_with, unique};

#[tokio::test]
async fn lists_repositories_and_their_images_newest_first() {
    let clients = moto_clients().await;
    let name = unique("wharf-it-repo");
    clients.ecr.create_repository().repository_name(&name).send().await.unwrap();
    let first = put_ecr_image(&clients.ecr, &name, "v1").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = put_ecr_image(&clients.ecr, &name, "v2").await;

    let repositories = ecr::repositories(&clients.ecr).await.unwrap();
    let repo = repositories.iter().find(|r| r.name == name).expect("repository listed");
    assert!(repo.uri.ends_with(&format!("/{name}")), "{}", repo.uri);

    let images = ecr::images(&clients.ecr, &name).await.unwrap();
    let listed: Vec<_> = images.iter().map(|i| (i.tags.clone(), i.digest.clone())).collect();
    assert_eq!(listed, [(vec!["v2".to_string()], second), (vec!["v1".to_string()], first)]);
    assert!(images.iter().all(|i| i.pushed_at.is_some() && i.size.is_some()));
}

#[tokio::test]
async fn a_missing_repository_is_not_found() {
    let clients = moto_clients().await;
    let err = ecr::images(&clients.ecr, "wharf-no-such-repo").await.unwrap_err();
    assert!(matches!(err, AwsError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_endpoint_says_so() {
    let creds = aws_credential_types::Credentials::new("testing", "testing", None, None, "test");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(creds)
        .load()
        .await;
    let clients = wharf::aws::AwsClients::new(&config);
    let err = ecr::repositories(&clients.ecr).await.unwrap_err();
    assert!(matches!(err, AwsError::Unreachable(_)), "{err:?}");
    assert!(err.to_string().starts_with("cannot reach the AWS endpoint: "), "{err}");
}

fn wharf_tags(args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    crate::support::wharf_against(&crate::support::aws_url(), home.path())
        .arg("tags")
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn wharf_tags_prints_what_ecr_holds() {
    let clients = moto_clients().await;
    let name = unique("wharf-it-tags");
    clients.ecr.create_repository().repository_name(&name).send().await.unwrap();
    let digest = put_ecr_image(&clients.ecr, &name, "release-1").await;

    let out = wharf_tags(&[&name, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["tags"], serde_json::json!(["release-1"]));
    assert_eq!(json[0]["digest"], digest.as_str());

    let out = wharf_tags(&["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json.as_array().unwrap().iter().any(|r| r["name"] == name.as_str()));

    let out = wharf_tags(&[&name]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("release-1") && table.contains(&digest[7..19]), "{table}");

    let out = wharf_tags(&["wharf-no-such-repo"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "error: no ECR repository `wharf-no-such-repo`\n");
}

fn ready() -> Action {
    Action::Aws(AwsStatus::Ready { region: Some("eu-west-1".into()), endpoint: None })
}

#[test]
fn credentials_start_the_registry_loads() {
    let mut s = state();
    assert_eq!(
        update(&mut s, ready()),
        [Effect::Load(LoadRequest::Repositories), Effect::Load(LoadRequest::Clusters)],
        "the registry's and the ECS pane's lists"
    );
    assert_eq!(s.registry.repositories, Load::Loading);

    let profile = Profile { repository: Some("app".into()), ..Profile::default() };
    let mut s = state_with(Settings { profile, ..Settings::default() }, Keymap::defaults().unwrap());
    let effects = update(&mut s, ready());
    assert_eq!(
        effects,
        [
            Effect::Load(LoadRequest::Repositories),
            Effect::Load(LoadRequest::Images { repository: "app".into() }),
            Effect::Load(LoadRequest::Clusters),
        ]
    );
    assert_eq!(s.registry.open.as_deref(), Some("app"));

    let mut s = state();
    let none = AwsStatus::NoCredentials { region: None, endpoint: None, error: "none".into() };
    assert!(update(&mut s, Action::Aws(none)).is_empty(), "nothing to load without credentials");
}

fn repository(name: &str) -> wharf::aws::Repository {
    wharf::aws::Repository {
        name: name.into(),
        uri: format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/{name}"),
        created: None,
    }
}

#[test]
fn enter_opens_a_repository_and_esc_goes_back() {
    let mut s = state();
    update(&mut s, ready());
    update(&mut s, Action::Loaded(Loaded::Repositories(Ok(vec![repository("api"), repository("db")]))));
    update(&mut s, key('2'));
    assert_eq!(s.focus, PaneId::Registry);
    update(&mut s, key('j'));
    let effects = update(&mut s, code(crossterm::event::KeyCode::Enter));
    assert_eq!(effects, [Effect::Load(LoadRequest::Images { repository: "db".into() })]);
    assert_eq!(s.registry.images, Load::Loading);

    // An answer for a repository the user has left is dropped.
    let asked = s.asked.ticket(s.connection, View::RegistryImages);
    update(&mut s, code(crossterm::event::KeyCode::Esc));
    assert_eq!(s.registry.open, None);
    let loaded = Loaded::Images { repository: "db".into(), result: Ok(vec![]) };
    update(&mut s, Action::Answer { ticket: asked, loaded });
    assert_eq!(s.registry.images, Load::Loading);

    // Errors are kept for the pane, in words.
    update(&mut s, code(crossterm::event::KeyCode::Enter));
    update(
        &mut s,
        Action::Loaded(Loaded::Images {
            repository: "db".into(),
            result: Err(AwsError::AccessDenied("not allowed: ecr:DescribeImages".into())),
        }),
    );
    assert_eq!(s.registry.images, Load::Failed("access denied: not allowed: ecr:DescribeImages".into()));
}

/// Leaving a repository and opening it again asks again; the first answer,
/// arriving late, is for the view that was left and is dropped by its ticket,
/// though it names the same repository.
#[test]
fn a_late_answer_for_a_view_left_is_dropped_even_for_the_same_repository() {
    let mut s = state();
    update(&mut s, ready());
    update(&mut s, Action::Loaded(Loaded::Repositories(Ok(vec![repository("api"), repository("db")]))));
    update(&mut s, key('2'));
    update(&mut s, key('j'));
    update(&mut s, code(crossterm::event::KeyCode::Enter));
    let first = s.asked.ticket(s.connection, View::RegistryImages);
    update(&mut s, code(crossterm::event::KeyCode::Esc));
    // Left: even with nothing asked since, the first answer is late.
    let late = || Loaded::Images {
        repository: "db".into(),
        result: Err(AwsError::AccessDenied("the first answer".into())),
    };
    update(&mut s, Action::Answer { ticket: first, loaded: late() });
    assert_eq!(s.registry.images, Load::Loading, "the answer for a view left is dropped");
    let effects = update(&mut s, code(crossterm::event::KeyCode::Enter));
    let second = s.asked.ticket(s.connection, View::RegistryImages);
    assert_eq!(effects, [Effect::Load(LoadRequest::Images { repository: "db".into() })]);
    assert_ne!(first, second);
    update(&mut s, Action::Answer { ticket: first, loaded: late() });
    assert_eq!(s.registry.images, Load::Loading, "the late answer is dropped");
    let answer = Loaded::Images { repository: "db".into(), result: Ok(vec![]) };
    update(&mut s, Action::Answer { ticket: second, loaded: answer });
    assert_eq!(s.registry.images, Load::Loaded(vec![]));
}
