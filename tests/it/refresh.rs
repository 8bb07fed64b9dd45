//! Panes that refresh while somebody looks: what each once-a-second tick
//! asks for, that nothing is asked while the terminal is unfocused or the
//! pane hidden, that a failed refresh keeps the rows, and `R`. The real
//! binary against moto, with a second machine moving head and the service
//! changed through the API, is in `refresh_live`.

use std::time::Duration;

use wharf::app::refresh::{self, ECS_EVERY, LISTING_EVERY, REGISTRY_EVERY, SNAPSHOTS_EVERY};
use wharf::app::{Action, Effect, Keymap, LoadRequest, Loaded, PaneId, update};
use wharf::aws::AwsStatus;
use wharf::aws::ecs::ServiceInfo;
use wharf::config::{Profile, Settings};

use crate::support::{key, state_with};

fn service(name: &str, desired: i32) -> ServiceInfo {
    ServiceInfo {
        name: name.into(),
        status: "ACTIVE".into(),
        desired,
        running: desired,
        pending: 0,
        task_definition: format!("{name}:1"),
        rollout: None,
        events: vec![],
    }
}

/// A dashboard on cluster `dev` with three services listed, and a bucket.
fn dashboard() -> wharf::app::AppState {
    let profile = Profile { cluster: Some("dev".into()), bucket: Some("snaps".into()), ..Profile::default() };
    let mut s = state_with(Settings { profile, ..Settings::default() }, Keymap::defaults().unwrap());
    update(&mut s, Action::Resize(120, 40));
    let effects = update(&mut s, Action::Aws(AwsStatus::Ready { region: None, endpoint: None }));
    assert!(!effects.is_empty(), "being ready loads the panes");
    let load = s.ecs.services_load;
    let services = vec![service("api", 1), service("db", 1), service("web", 2)];
    update(&mut s, Action::Loaded(Loaded::Services { load, cluster: "dev".into(), result: Ok(services) }));
    update(&mut s, Action::Loaded(Loaded::Repositories(Ok(vec![]))));
    let snapshots = Loaded::Snapshots {
        bucket: "snaps".into(),
        prefix: String::new(),
        here: None,
        etag: Some("\"e1\"".into()),
        result: Ok(vec![]),
    };
    update(&mut s, Action::Loaded(snapshots));
    s
}

fn later(s: &mut wharf::app::AppState, by: Duration) {
    s.clock.mono += by;
    s.clock.wall += by.as_secs() as i64;
}

fn asked(effects: &[Effect]) -> Vec<&LoadRequest> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Load(request) => Some(request),
            _ => None,
        })
        .collect()
}

#[test]
fn each_pane_asks_when_due_and_never_twice_at_once() {
    let mut s = dashboard();
    let effects = update(&mut s, Action::RefreshTick);
    let requests = asked(&effects);
    assert!(
        requests.iter().any(|r| matches!(r, LoadRequest::ServicesNamed { cluster, names, .. }
            if cluster == "dev" && names == &["api", "db", "web"])),
        "the services on screen, described again: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| matches!(r, LoadRequest::SnapshotsIfMoved { etag: Some(e), whole: false, .. }
            if e == "\"e1\"")),
        "head asked only to differ from the listing's: {requests:?}"
    );
    assert!(requests.iter().any(|r| matches!(r, LoadRequest::Repositories)), "{requests:?}");

    // Answers awaited: nothing is asked again meanwhile, however long.
    later(&mut s, ECS_EVERY);
    assert!(asked(&update(&mut s, Action::RefreshTick)).is_empty());

    // The answers: a count changed in the console moves the row by itself.
    let load = s.ecs.services_load;
    let answer = Loaded::ServicesNamed { cluster: "dev".into(), load, result: Ok(vec![service("db", 3)]) };
    update(&mut s, Action::Loaded(answer));
    assert_eq!(s.ecs.services.loaded().unwrap()[1].desired, 3);
    let unmoved = Loaded::SnapshotsUnmoved { bucket: "snaps".into(), prefix: String::new(), result: Ok(()) };
    update(&mut s, Action::Loaded(unmoved));
    update(&mut s, Action::Loaded(Loaded::Repositories(Ok(vec![]))));

    // ECS every 5 s, the snapshots' head every 15 s, the registry every 60 s.
    later(&mut s, ECS_EVERY);
    let requests = asked(&update(&mut s, Action::RefreshTick)).len();
    assert_eq!(requests, 1, "only ECS is due after 5 s");
    update(&mut s, Action::Loaded(Loaded::ServicesNamed { cluster: "dev".into(), load, result: Ok(vec![]) }));
    later(&mut s, SNAPSHOTS_EVERY);
    let effects = update(&mut s, Action::RefreshTick);
    let requests = asked(&effects);
    assert_eq!(requests.len(), 2, "ECS and the snapshots after 15 s more: {requests:?}");
    assert!(!requests.iter().any(|r| matches!(r, LoadRequest::Repositories)));
    // The listing is read whole now and then, head moved or not (a diverged backup moves none).
    update(&mut s, Action::Loaded(Loaded::ServicesNamed { cluster: "dev".into(), load, result: Ok(vec![]) }));
    let unmoved = Loaded::SnapshotsUnmoved { bucket: "snaps".into(), prefix: String::new(), result: Ok(()) };
    update(&mut s, Action::Loaded(unmoved));
    later(&mut s, LISTING_EVERY);
    let effects = update(&mut s, Action::RefreshTick);
    assert!(
        asked(&effects).iter().any(|r| matches!(r, LoadRequest::SnapshotsIfMoved { whole: true, .. })),
        "{effects:?}"
    );
    assert!(
        asked(&effects).iter().any(|r| matches!(r, LoadRequest::Repositories)),
        "60 s passed: {effects:?}"
    );
    assert!(REGISTRY_EVERY <= LISTING_EVERY);
}

#[test]
fn nobody_looking_asks_nothing_and_looking_again_asks_at_once() {
    let mut s = dashboard();
    update(&mut s, Action::Focus(false));
    for _ in 0..10 {
        later(&mut s, ECS_EVERY);
        assert!(asked(&update(&mut s, Action::RefreshTick)).is_empty(), "the terminal is unfocused");
    }
    assert_eq!(refresh::note(&s, PaneId::Ecs).as_deref(), Some("paused"));
    update(&mut s, Action::Focus(true));
    assert_eq!(refresh::note(&s, PaneId::Ecs), None);
    let requests = asked(&update(&mut s, Action::RefreshTick)).len();
    assert_eq!(requests, 3, "focus back: every pane on screen at once");

    // Another pane filling the screen hides ECS: it is not asked for.
    let mut s = dashboard();
    update(&mut s, key('4'));
    update(&mut s, key('z'));
    assert!(s.zoomed);
    assert!(asked(&update(&mut s, Action::RefreshTick)).is_empty());
    update(&mut s, key('3'));
    let effects = update(&mut s, Action::RefreshTick);
    let requests = asked(&effects);
    assert!(
        matches!(requests[..], [LoadRequest::ServicesNamed { .. }]),
        "ECS fills the screen now: {requests:?}"
    );
}

#[test]
fn a_refresh_that_fails_keeps_the_rows_and_says_so_until_one_succeeds() {
    let mut s = dashboard();
    update(&mut s, Action::RefreshTick);
    let load = s.ecs.services_load;
    let failed = Loaded::ServicesNamed {
        cluster: "dev".into(),
        load,
        result: Err(wharf::aws::AwsError::Throttled("Rate exceeded".into())),
    };
    update(&mut s, Action::Loaded(failed));
    assert_eq!(s.ecs.services.loaded().map(Vec::len), Some(3), "the rows stay");
    let note = refresh::note(&s, PaneId::Ecs).unwrap();
    assert!(note.starts_with("refresh failed: ") && note.contains("Rate exceeded"), "{note}");
    assert!(note.contains("rows from 0s ago"), "{note}");
    // A failed listing of the snapshots keeps its rows too.
    let failed = Loaded::Snapshots {
        bucket: "snaps".into(),
        prefix: String::new(),
        here: None,
        etag: None,
        result: Err(wharf::aws::AwsError::Service("connection refused".into())),
    };
    update(&mut s, Action::Loaded(failed));
    assert!(s.snapshots.list.loaded().is_some());
    assert!(refresh::note(&s, PaneId::Snapshots).unwrap().contains("connection refused"));

    later(&mut s, ECS_EVERY);
    update(&mut s, Action::RefreshTick);
    let ok = Loaded::ServicesNamed { cluster: "dev".into(), load, result: Ok(vec![service("api", 0)]) };
    update(&mut s, Action::Loaded(ok));
    assert_eq!(refresh::note(&s, PaneId::Ecs), None);
    assert_eq!(s.ecs.services.loaded().unwrap()[0].desired, 0);
}

#[test]
fn r_refreshes_the_focused_pane_now() {
    let mut s = dashboard();
    update(&mut s, key('3'));
    let effects = update(&mut s, key('R'));
    assert!(matches!(asked(&effects)[..], [LoadRequest::ServicesNamed { .. }]), "{effects:?}");
    // Again at once, though an answer is awaited and nothing is due.
    assert_eq!(asked(&update(&mut s, key('R'))).len(), 1);
    update(&mut s, key('5'));
    let effects = update(&mut s, key('R'));
    assert!(
        matches!(asked(&effects)[..], [LoadRequest::SnapshotsIfMoved { whole: true, .. }]),
        "the listing read whole: {effects:?}"
    );
    update(&mut s, key('1'));
    assert!(asked(&update(&mut s, key('R'))).is_empty());
    assert_eq!(s.flash.as_deref(), Some("the Images pane follows by itself"));
}
