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
    let services = vec![service("api", 1), service("db", 1), service("web", 2)];
    update(&mut s, Action::Loaded(Loaded::Services { cluster: "dev".into(), result: Ok(services) }));
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
    let answer = Loaded::ServicesNamed { cluster: "dev".into(), result: Ok(vec![service("db", 3)]) };
    update(&mut s, Action::Loaded(answer));
    assert_eq!(s.ecs.services.loaded().unwrap()[1].desired, 3);
    let unmoved = Loaded::SnapshotsUnmoved { bucket: "snaps".into(), prefix: String::new(), result: Ok(()) };
    update(&mut s, Action::Loaded(unmoved));
    update(&mut s, Action::Loaded(Loaded::Repositories(Ok(vec![]))));

    // ECS every 5 s, the snapshots' head every 15 s, the registry every 60 s.
    later(&mut s, ECS_EVERY);
    let requests = asked(&update(&mut s, Action::RefreshTick)).len();
    assert_eq!(requests, 1, "only ECS is due after 5 s");
    update(&mut s, Action::Loaded(Loaded::ServicesNamed { cluster: "dev".into(), result: Ok(vec![]) }));
    later(&mut s, SNAPSHOTS_EVERY);
    let effects = update(&mut s, Action::RefreshTick);
    let requests = asked(&effects);
    assert_eq!(requests.len(), 2, "ECS and the snapshots after 15 s more: {requests:?}");
    assert!(!requests.iter().any(|r| matches!(r, LoadRequest::Repositories)));
    // The listing is read whole now and then, head moved or not (a diverged backup moves none).
    update(&mut s, Action::Loaded(Loaded::ServicesNamed { cluster: "dev".into(), result: Ok(vec![]) }));
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
    let effects = update(&mut s, Action::RefreshTick);
    let requests = asked(&effects);
    assert_eq!(requests.len(), 4, "focus back: every pane on screen at once: {requests:?}");
    assert!(
        requests.iter().any(|r| matches!(r, LoadRequest::Metrics { .. })),
        "and the services' utilization"
    );

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
        matches!(requests[..], [LoadRequest::ServicesNamed { .. }, LoadRequest::Metrics { .. }]),
        "ECS fills the screen now: {requests:?}"
    );
}

#[test]
fn a_refresh_that_fails_keeps_the_rows_and_says_so_until_one_succeeds() {
    let mut s = dashboard();
    update(&mut s, Action::RefreshTick);
    let failed = Loaded::ServicesNamed {
        cluster: "dev".into(),

        result: Err(wharf::aws::AwsError::Throttled("Rate exceeded".into())),
    };
    update(&mut s, Action::Loaded(failed));
    assert_eq!(s.ecs.services.loaded().map(Vec::len), Some(3), "the rows stay");
    let note = refresh::note(&s, PaneId::Ecs).unwrap();
    assert!(
        note.starts_with("refresh failed · rows from 0s ago: ") && note.contains("Rate exceeded"),
        "{note}"
    );
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
    let ok = Loaded::ServicesNamed { cluster: "dev".into(), result: Ok(vec![service("api", 0)]) };
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

/// The real binary in a terminal, left open on one home through its own
/// realism layer (whose counts are this test's alone): another machine's
/// backup shows with the status line saying so, a desired count changed
/// through the API shows, a refresh that fails keeps the rows and says so
/// (until one succeeds), and with the terminal unfocused nothing is asked.
#[tokio::test(flavor = "multi_thread")]
async fn a_dashboard_left_open_follows_what_others_change_and_rests_unfocused() {
    use crate::e2e::Session;
    let layer = crate::support::Realism::start(&[]);
    let mut cleanup = crate::support::Cleanup::default();
    let container = crate::backup::data_container(&mut cleanup);
    crate::backup::fill(&container, 2);
    let (cluster, service, bucket) = crate::remote::ecs_service().await;
    let config = format!(
        "[profiles.t]\nbucket = \"{bucket}\"\nprefix = \"live/\"\ncluster = \"{cluster}\"\n\
         [profiles.t.database]\ncontainer = \"{container}\"\npath = \"/data\"\n"
    );
    let env = [
        ("AWS_ENDPOINT_URL", layer.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "eu-west-1"),
        // A failed refresh is final after two attempts, not the eight wharf makes by default.
        ("AWS_MAX_ATTEMPTS", "2"),
    ];
    let mut session = Session::start_with(140, 40, &env, Some(&config));
    session.wait_for("no snapshots yet");
    // The row's TASKS column is running/desired (moto runs as many as desired).
    let row = |session: &Session, desired: &str| {
        session.contents().lines().any(|l| l.contains(service.as_str()) && l.contains(&format!("/{desired}")))
    };
    crate::support::eventually(crate::e2e::TIMEOUT, "the service's row", || row(&session, "0 "));
    // Past the first refresh the dashboard makes as it opens: what follows is the refreshes' own.
    std::thread::sleep(Duration::from_secs(3));

    // The home machine backs up: head moves, and this screen follows within 20 s.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("wharf.toml"), &config).unwrap();
    let out = crate::support::wharf_against(&crate::support::moto_url(), home.path())
        .env("WHARF_HOST", "home")
        .args(["backup", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id =
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["id"].as_str().unwrap().to_string();
    let short = &id[..16];
    let seen = std::time::Instant::now();
    crate::support::eventually(Duration::from_secs(20), "the other machine's snapshot", || {
        session.contents().contains(short)
    });
    crate::support::eventually(Duration::from_secs(5), "the status line saying behind", || {
        session.contents().contains("behind: data")
    });
    eprintln!("another machine's backup on screen after {:?}", seen.elapsed());

    // The service scaled through the API (as from the console): the row moves within 10 s.
    let ecs = crate::support::moto_clients().await.ecs;
    ecs.update_service().cluster(&cluster).service(&service).desired_count(3).send().await.unwrap();
    let seen = std::time::Instant::now();
    crate::support::eventually(Duration::from_secs(10), "the new desired count", || row(&session, "3 "));
    eprintln!("a desired count changed through the API on screen after {:?}", seen.elapsed());

    // ECS fails every DescribeServices: the row stays, the heading says the refresh failed.
    layer.fail("DescribeServices", 1000);
    crate::support::eventually(Duration::from_secs(20), "the failed refresh said", || {
        session.contents().contains("refresh failed")
    });
    assert!(row(&session, "3 "), "the rows stay:\n{}", session.contents());
    assert!(session.contents().contains("rows from"), "{}", session.contents());
    layer.fail("DescribeServices", 0);
    crate::support::eventually(Duration::from_secs(20), "a refresh that succeeds again", || {
        !session.contents().contains("refresh failed")
    });
    assert!(row(&session, "3 "));

    // The terminal loses focus: "paused", and no call at all for 30 s.
    session.send(b"\x1b[O");
    session.wait_for("paused");
    std::thread::sleep(Duration::from_secs(2));
    let calls = |layer: &crate::support::Realism| {
        let stats = layer.stats();
        stats["calls"].as_object().map_or(0, |m| m.values().filter_map(|v| v.as_u64()).sum::<u64>())
    };
    let before = calls(&layer);
    std::thread::sleep(Duration::from_secs(30));
    assert_eq!(calls(&layer), before, "nothing asked while nobody looks");
    // Focus back: asked at once.
    session.send(b"\x1b[I");
    crate::support::eventually(Duration::from_secs(5), "a refresh on focus", || calls(&layer) > before);
    assert!(!session.contents().contains("paused"));

    // Idle: ECS fills the screen and refreshes every 5 s with the same rows; not a byte is written.
    session.send(b"3");
    session.send(b"z");
    std::thread::sleep(Duration::from_secs(3));
    let describes = |layer: &crate::support::Realism| {
        layer.stats()["calls"]["AmazonEC2ContainerServiceV20141113.DescribeServices"].as_u64().unwrap_or(0)
    };
    let (written, described) = (session.written(), describes(&layer));
    std::thread::sleep(Duration::from_secs(12));
    assert!(describes(&layer) >= described + 2, "the rows were asked for again meanwhile");
    assert_eq!(session.written(), written, "nothing changed on screen, nothing was written");
    session.send(b"q");
    let (code, _, _) = session.finish();
    assert_eq!(code, 0);
}

#[test]
fn a_tall_screen_of_services_is_asked_for_under_three_percent_of_the_read_quota() {
    let mut s = dashboard();
    let many: Vec<ServiceInfo> = (0..2000).map(|i| service(&format!("svc-{i:05}"), 1)).collect();
    update(&mut s, Action::Loaded(Loaded::Services { cluster: "dev".into(), result: Ok(many) }));
    // ECS fills a tall terminal: 94 rows on screen, ten DescribeServices a round.
    update(&mut s, Action::Resize(200, 100));
    update(&mut s, key('3'));
    update(&mut s, key('z'));
    let mut calls = 0;
    for _ in 0..600 {
        later(&mut s, Duration::from_secs(1));
        for request in asked(&update(&mut s, Action::RefreshTick)) {
            if let LoadRequest::ServicesNamed { names, .. } = request {
                calls += names.len().div_ceil(10);
                let answer = Loaded::ServicesNamed { cluster: "dev".into(), result: Ok(vec![]) };
                update(&mut s, Action::Loaded(answer));
            }
        }
    }
    // The service-read quota refills 20 a second: 1,200 a minute; 3 % is 36.
    let a_minute = calls as f64 / 10.0;
    assert!(a_minute <= 36.0, "{a_minute} DescribeServices a minute");
    assert!(a_minute >= 20.0, "the rows are still refreshed: {a_minute} a minute");
}

/// The clusters' list is a view of its own: `R` asks for it again at once
/// (a cluster made since appears), it refreshes by itself every minute, and
/// a refresh that fails keeps the list.
#[test]
fn the_clusters_list_refreshes_and_a_failed_refresh_keeps_it() {
    let mut s = dashboard();
    update(&mut s, Action::Loaded(Loaded::Clusters(Ok(vec!["dev".into()]))));
    update(&mut s, key('3'));
    // The services' refresh failed; back on the clusters, that is not said of them.
    let failed = Loaded::ServicesNamed {
        cluster: "dev".into(),
        result: Err(wharf::aws::AwsError::Service("x".into())),
    };
    update(&mut s, Action::Loaded(failed));
    assert!(refresh::note(&s, PaneId::Ecs).is_some_and(|n| n.starts_with("refresh failed")));
    update(&mut s, crate::support::code(crossterm::event::KeyCode::Esc));
    assert_eq!(s.ecs.cluster, None);
    assert!(!refresh::note(&s, PaneId::Ecs).is_some_and(|n| n.starts_with("refresh failed")));
    // The first tick asks for everything looked at; then `R` asks again at once.
    update(&mut s, Action::RefreshTick);
    let effects = update(&mut s, key('R'));
    assert_eq!(asked(&effects), [&LoadRequest::Clusters], "{effects:?}");
    update(&mut s, Action::Loaded(Loaded::Clusters(Ok(vec!["dev".into(), "new".into()]))));
    assert_eq!(s.ecs.visible_clusters(), ["dev", "new"]);
    // By itself: not before a minute, then once (the other panes ask what is theirs meanwhile).
    let clusters =
        |effects: &[Effect]| asked(effects).into_iter().filter(|r| **r == LoadRequest::Clusters).count();
    later(&mut s, Duration::from_secs(30));
    assert_eq!(clusters(&update(&mut s, Action::RefreshTick)), 0);
    later(&mut s, Duration::from_secs(31));
    assert_eq!(clusters(&update(&mut s, Action::RefreshTick)), 1);
    let failed = Loaded::Clusters(Err(wharf::aws::AwsError::Service("connection refused".into())));
    update(&mut s, Action::Loaded(failed));
    assert_eq!(s.ecs.visible_clusters(), ["dev", "new"], "the list stays");
    let note = refresh::note(&s, PaneId::Ecs).unwrap();
    assert!(note.starts_with("refresh failed · rows from") && note.contains("connection refused"), "{note}");
}
