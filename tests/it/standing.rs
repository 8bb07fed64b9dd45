//! Where this machine stands, at a glance, from what the panes already hold:
//! the Images pane marks what the profile's service runs and what ECR's tags
//! point at; the status line says "in sync" or what is behind.

use wharf::app::{Action, AppState, Loaded, update};
use wharf::docker::EngineUpdate;
use wharf::model::ecs::{TaskContainer, TaskInfo};
use wharf::model::registry::RegistryImage;

use crate::panes::{configured, render};
use crate::support::{container, image, key, sample_snapshots};

const NEW: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const OLD: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The engine with `db` (the profile's database container) on `db:v1` when
/// `with_container`, and the older `db:v0` beside it.
fn engine(with_container: bool) -> EngineUpdate {
    let mut v1 = image("db", "v1", "a1", 200_000_000, 600);
    v1.digests = vec![NEW.into()];
    let mut v0 = image("db", "v0", "a0", 200_000_000, 86_400);
    v0.digests = vec![OLD.into()];
    let mut db = container("db", "db:v1", "running", "Up 5 minutes");
    db.image_id = v1.id.clone();
    let containers = if with_container { vec![db] } else { Vec::new() };
    EngineUpdate::Snapshot {
        endpoint: "unix:///var/run/docker.sock".into(),
        api_version: "1.41".into(),
        images: vec![v1, v0],
        containers,
    }
}

fn service_runs(s: &mut AppState, digest: &str) {
    let task = TaskInfo {
        id: "0a1b2c3d".into(),
        last_status: "RUNNING".into(),
        desired_status: "RUNNING".into(),
        health: None,
        started_at: Some(crate::support::NOW - 3_600),
        stopped_reason: None,
        task_definition: "app:4".into(),
        containers: vec![TaskContainer {
            name: "db".into(),
            image: format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/db@{digest}"),
            digest: Some(digest.into()),
            last_status: Some("RUNNING".into()),
            exit_code: None,
        }],
    };
    let loaded = Loaded::Tasks { cluster: "dev".into(), service: "app".into(), result: Ok(vec![task]) };
    update(s, Action::Loaded(loaded));
}

fn status_line(s: &AppState) -> String {
    let screen = format!("{}", render(s, 120, 40).backend());
    screen.lines().rev().nth(1).unwrap_or_default().to_string()
}

#[test]
fn the_images_pane_marks_what_ecs_runs_and_ecr_tags_and_the_status_line_says_what_is_behind() {
    let mut s = configured();
    update(&mut s, Action::Engine(engine(true)));
    // What the panes load anyway: the service's tasks, the repository's images, the snapshots.
    service_runs(&mut s, NEW);
    let pushed = |tag: &str, digest: &str| RegistryImage {
        tags: vec![tag.into()],
        digest: digest.into(),
        pushed_at: None,
        size: None,
    };
    let result = Ok(vec![pushed("v1", NEW), pushed("v0", OLD)]);
    update(&mut s, Action::Loaded(Loaded::Images { repository: "app".into(), result }));
    let mut list = sample_snapshots();
    list[0].head = true;
    let (head, older) = (list[0].id.clone(), list[1].id.clone());
    list[0].manifest.as_mut().unwrap().parent = Some(older.clone());
    let listed = crate::support::snapshots_listed(&s, Some(&head), Ok(list.clone()));
    update(&mut s, listed);
    update(&mut s, key('1'));

    let screen = format!("{}", render(&s, 120, 40).backend());
    let row = |name: &str| screen.lines().find(|l| l.contains(name)).unwrap_or_default().to_string();
    assert!(row("db:v1").contains("db:v1 ECS ECR:v1"), "{screen}");
    assert!(row("db:v0").contains("db:v0 ECR:v0") && !row("db:v0").contains("ECS"), "{screen}");
    assert!(status_line(&s).contains("in sync"), "{screen}");
    insta::assert_snapshot!("standing_in_sync_120x40", render(&s, 120, 40).backend());

    // The container holds another snapshot than head: the data is behind.
    let listed = crate::support::snapshots_listed(&s, Some(&older), Ok(list));
    update(&mut s, listed);
    assert!(status_line(&s).contains("behind: data (S syncs)"), "{}", status_line(&s));
    // The service moved on to another image: the image is behind too.
    service_runs(&mut s, OLD);
    assert!(status_line(&s).contains("behind: image, data (S syncs)"), "{}", status_line(&s));
    let screen = format!("{}", render(&s, 120, 40).backend());
    assert!(screen.lines().any(|l| l.contains("db:v0 ECS ECR:v0")), "{screen}");
    // Nothing here yet.
    update(&mut s, Action::Engine(engine(false)));
    assert!(status_line(&s).contains("no db on this machine (S syncs)"), "{}", status_line(&s));
}

#[test]
fn nothing_is_claimed_before_anything_is_known() {
    let mut s = configured();
    update(&mut s, Action::Engine(engine(true)));
    let line = status_line(&s);
    assert!(!line.contains("in sync") && !line.contains("behind"), "{line}");
    // Snapshots but no head (an older wharf's): nothing to be behind of.
    let listed = crate::support::snapshots_listed(&s, None, Ok(sample_snapshots()));
    update(&mut s, listed);
    let line = status_line(&s);
    assert!(!line.contains("in sync") && !line.contains("behind"), "{line}");
}
