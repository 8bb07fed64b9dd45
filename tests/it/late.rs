//! One way to know an answer is current (`app::asked`): for each kind of
//! load (AWS's, the engine's, a file's), an answer to a request that a newer
//! one of the same view overtook is dropped, and the newer one's answer
//! lands; an answer for a view the user left (a service closed, a repository
//! left, a picker closed) is dropped too. The ticket is the only thing that
//! tells the answers apart: no pane keeps numbers or compares places.

use wharf::app::asked::{Ticket, View};
use wharf::app::state::{PickPurpose, Picker};
use wharf::app::{Action, AppState, Effect, LoadRequest, Loaded, Overlay, update};
use wharf::model::ecs::{ServiceInfo, TaskInfo};
use wharf::model::metrics::Utilization;
use wharf::model::registry::{RegistryImage, Repository};

use crate::panes::configured;
use crate::support::key;

/// Asks for `view` twice (the second overtaking the first), then hands
/// over `late` with the first request's ticket and `current` with the
/// second's; `probe` reads what the answer would change. Returns the probe
/// before, after the late answer, and after the current one.
fn overtaken(
    s: &mut AppState,
    view: View,
    late: Loaded,
    current: Loaded,
    probe: impl Fn(&AppState) -> String,
) -> (String, String, String) {
    s.asked.ask(view);
    let first: Ticket = s.asked.ticket(s.connection, view);
    s.asked.ask(view);
    let second = s.asked.ticket(s.connection, view);
    assert_ne!(first, second);
    let before = probe(s);
    update(s, Action::Answer { ticket: first, loaded: late });
    let after_late = probe(s);
    update(s, Action::Answer { ticket: second, loaded: current });
    (before, after_late, probe(s))
}

fn service(name: &str, desired: i32) -> ServiceInfo {
    ServiceInfo { desired, status: "ACTIVE".into(), ..ServiceInfo::listed(name) }
}

fn task(id: &str) -> TaskInfo {
    TaskInfo {
        id: id.into(),
        last_status: "RUNNING".into(),
        desired_status: "RUNNING".into(),
        health: None,
        started_at: None,
        stopped_reason: None,
        task_definition: "app:1".into(),
        containers: vec![],
    }
}

/// The confirmation dialog open, by its lines.
fn dialog(s: &AppState) -> String {
    match &s.overlay {
        Some(Overlay::Confirm(c)) => c.lines.join(" "),
        other => format!("{other:?}"),
    }
}

#[test]
fn every_kind_of_load_drops_an_answer_a_newer_request_overtook() {
    let mut s = configured();
    let names = |list: Option<&Vec<String>>| format!("{list:?}");

    // Clusters.
    let probe = |s: &AppState| names(s.ecs.clusters.loaded());
    let (before, late, now) = overtaken(
        &mut s,
        View::Clusters,
        Loaded::Clusters(Ok(vec!["old".into()])),
        Loaded::Clusters(Ok(vec!["dev".into()])),
        probe,
    );
    assert_eq!((late, now), (before, names(Some(&vec!["dev".into()]))), "clusters");

    // Services (the load number the pane waits for, in both).
    let listed =
        |desired| Loaded::Services { cluster: "dev".into(), result: Ok(vec![service("app", desired)]) };
    let probe = |s: &AppState| format!("{:?}", s.ecs.services.loaded().map(|l| l[0].desired));
    let (before, late, now) = overtaken(&mut s, View::Services, listed(1), listed(3), probe);
    assert_eq!((late, now.as_str()), (before, "Some(3)"), "services");

    // Tasks.
    let tasks =
        |id: &str| Loaded::Tasks { cluster: "dev".into(), service: "app".into(), result: Ok(vec![task(id)]) };
    let probe = |s: &AppState| format!("{:?}", s.ecs.tasks.loaded().map(|l| l[0].id.clone()));
    let (before, late, now) = overtaken(&mut s, View::Tasks, tasks("old"), tasks("new"), probe);
    assert_eq!((late, now.as_str()), (before, "Some(\"new\")"), "tasks");

    // Utilization.
    let metrics = |cpu| Loaded::Metrics {
        cluster: "dev".into(),
        result: Ok(vec![("app".into(), Utilization { cpu: vec![(1, cpu)], memory: vec![] })]),
    };
    let probe = |s: &AppState| format!("{:?}", s.ecs.metrics.get("app").map(|u| u.cpu.clone()));
    let (before, late, now) = overtaken(&mut s, View::Metrics, metrics(1.0), metrics(2.0), probe);
    assert_eq!((late, now.as_str()), (before, "Some([(1, 2.0)])"), "utilization");

    // Repositories.
    let repository =
        |name: &str| Repository { name: name.into(), uri: format!("1.dkr/{name}"), created: None };
    let probe = |s: &AppState| format!("{:?}", s.registry.repositories.loaded().map(|l| l[0].name.clone()));
    let (before, late, now) = overtaken(
        &mut s,
        View::Repositories,
        Loaded::Repositories(Ok(vec![repository("old")])),
        Loaded::Repositories(Ok(vec![repository("app")])),
        probe,
    );
    assert_eq!((late, now.as_str()), (before, "Some(\"app\")"), "repositories");

    // Registry images.
    let image = |tag: &str| Loaded::Images {
        repository: "app".into(),

        result: Ok(vec![RegistryImage {
            tags: vec![tag.into()],
            digest: "sha256:1".into(),
            pushed_at: None,
            size: None,
        }]),
    };
    let probe = |s: &AppState| format!("{:?}", s.registry.images.loaded().map(|l| l[0].tags.clone()));
    let (before, late, now) = overtaken(&mut s, View::RegistryImages, image("old"), image("v2"), probe);
    assert_eq!((late, now.as_str()), (before, "Some([\"v2\"])"), "registry images");

    // Snapshots.
    let (bucket, prefix) = wharf::app::shared::snapshot_place(&s).unwrap();
    let snapshots = |list: Vec<wharf::snapshots::Snapshot>| Loaded::Snapshots {
        bucket: bucket.clone(),
        prefix: prefix.clone(),
        here: None,
        etag: None,
        result: Ok(list),
    };
    let probe = |s: &AppState| format!("{:?}", s.snapshots.list.loaded().map(Vec::len));
    let (before, late, now) = overtaken(
        &mut s,
        View::Snapshots,
        snapshots(vec![]),
        snapshots(crate::support::sample_snapshots()),
        probe,
    );
    assert_eq!((late, now.as_str()), (before, "Some(2)"), "snapshots");

    // A deploy plan: the late one never opens a dialog.
    let plan = |to: &str| {
        Loaded::Plan(Ok(wharf::aws::ecs::Plan::existing("dev", "app", "app:8", to, vec![], "arn:td")))
    };
    let (before, late, now) = overtaken(&mut s, View::DeployPlan, plan("app:9"), plan("app:10"), dialog);
    assert_eq!(late, before, "deploy plan");
    assert!(now.contains("app:10") && !now.contains("app:9"), "{now}");
    s.overlay = None;

    // A picker's list: the tags of a sync.
    s.overlay = Some(Overlay::Pick(Picker { loading: true, ..Picker::new("tags", PickPurpose::SyncTag) }));
    let tags = |tag: &str| {
        Loaded::SyncTags(Ok(vec![RegistryImage {
            tags: vec![tag.into()],
            digest: "sha256:2".into(),
            pushed_at: None,
            size: None,
        }]))
    };
    let probe = |s: &AppState| match &s.overlay {
        Some(Overlay::Pick(p)) => {
            format!("{:?}", p.items.iter().map(|i| i.value.clone()).collect::<Vec<_>>())
        }
        other => format!("{other:?}"),
    };
    let (before, late, now) = overtaken(&mut s, View::TagPicker, tags("old"), tags("v2"), probe);
    assert_eq!((late, now.as_str()), (before, "[\"v2\"]"), "picker");
    s.overlay = None;

    // A local load: the switch picker's choices (files read on this machine).
    let choices = |aws: &str| {
        Loaded::SwitchChoices(Ok(wharf::app::state::Choices {
            profiles: Default::default(),
            aws_profiles: vec![aws.to_string()],
        }))
    };
    let picker = Picker::new("switch", PickPurpose::Switch(Box::default()));
    s.overlay = Some(Overlay::Pick(Picker { loading: true, ..picker }));
    let (before, late, now) =
        overtaken(&mut s, View::SwitchPicker, choices("old"), choices("sandbox"), probe);
    assert!(late == before && now.contains("aws:sandbox") && !now.contains("aws:old"), "{late} {now}");
    s.overlay = None;

    // A restore's preview, asked from the Snapshots pane: the late one opens nothing.
    update(&mut s, key('5'));
    let effects = update(&mut s, key('r'));
    let [Effect::Load(LoadRequest::RestorePreview(job))] = &effects[..] else { panic!("{effects:?}") };
    let preview =
        |line: &str| Loaded::RestorePreview { job: job.clone(), result: Ok(vec![line.to_string()]) };
    let (before, late, now) = overtaken(
        &mut s,
        View::RestorePreview,
        preview("from before"),
        preview("what it replaces now"),
        dialog,
    );
    assert_eq!(late, before, "restore preview");
    assert_eq!(now, "what it replaces now");
}

#[test]
fn asking_for_a_view_through_the_dashboard_makes_the_earlier_request_late() {
    let mut s = configured();
    // The Registry's repository opened twice: the first request's images come late.
    update(&mut s, key('2'));
    let first = s.asked.ticket(s.connection, View::RegistryImages);
    update(&mut s, key('R'));
    let second = s.asked.ticket(s.connection, View::RegistryImages);
    assert_ne!(first, second, "R asked again");
    assert!(!s.asked.is_current(&first) && s.asked.is_current(&second));
    // A switch: the connection moves on, and no answer from before is current.
    let before = s.connection;
    s.connection += 1;
    assert!(s.asked.is_current(&second) && second.connection == before);
    let images = Loaded::Images { repository: "app".into(), result: Ok(vec![]) };
    update(&mut s, Action::Answer { ticket: second, loaded: images });
    assert!(
        !matches!(s.registry.images.loaded(), Some(l) if l.is_empty()),
        "an answer from before the switch"
    );
}

/// Leaving a view makes its answer late, though no newer request was made.
#[test]
fn an_answer_for_a_view_the_user_left_is_dropped() {
    let mut s = configured();
    let answer = |s: &mut AppState, ticket, loaded| update(s, Action::Answer { ticket, loaded });
    update(&mut s, key('3'));
    // The profile's service is open; its tasks are asked for. Back to the services: the tasks' answer is late.
    assert_eq!(s.ecs.service.as_deref(), Some("app"));
    let tasks = s.asked.ticket(s.connection, View::Tasks);
    update(&mut s, crate::support::code(crossterm::event::KeyCode::Esc));
    let loaded = Loaded::Tasks { cluster: "dev".into(), service: "app".into(), result: Ok(vec![task("t1")]) };
    answer(&mut s, tasks, loaded);
    assert!(s.ecs.tasks.loaded().is_none_or(|t| t.is_empty()), "{:?}", s.ecs.tasks);
    // Back to the clusters: the services' listing, and its metrics, are late.
    let (services, metrics) =
        (s.asked.ticket(s.connection, View::Services), s.asked.ticket(s.connection, View::Metrics));
    update(&mut s, crate::support::code(crossterm::event::KeyCode::Esc));
    assert_eq!(s.ecs.cluster, None);
    answer(&mut s, services, Loaded::Services { cluster: "dev".into(), result: Ok(vec![service("app", 1)]) });
    assert!(s.ecs.services.loaded().is_none(), "{:?}", s.ecs.services);
    let utilization = Utilization { cpu: vec![(1, 50.0)], memory: vec![] };
    answer(
        &mut s,
        metrics,
        Loaded::Metrics { cluster: "dev".into(), result: Ok(vec![("app".into(), utilization)]) },
    );
    assert!(s.ecs.metrics.is_empty());

    // A picker closed before its list came: the list is late, even when
    // another picker is open by then.
    s.overlay = Some(Overlay::Pick(Picker { loading: true, ..Picker::new("tags", PickPurpose::SyncTag) }));
    s.asked.ask(View::TagPicker);
    let tags = s.asked.ticket(s.connection, View::TagPicker);
    update(&mut s, crate::support::code(crossterm::event::KeyCode::Esc));
    assert_eq!(s.overlay, None);
    update(&mut s, key('@'));
    let Some(Overlay::Pick(switch)) = &s.overlay else { panic!("{:?}", s.overlay) };
    assert!(switch.loading);
    let image =
        RegistryImage { tags: vec!["v1".into()], digest: "sha256:1".into(), pushed_at: None, size: None };
    answer(&mut s, tags, Loaded::SyncTags(Ok(vec![image])));
    let Some(Overlay::Pick(switch)) = &s.overlay else { panic!("{:?}", s.overlay) };
    assert!(switch.loading && switch.items.is_empty(), "the tags never fill the switch picker: {switch:?}");
}

/// A refresh of the service rows on screen does not make the listing late:
/// a cluster still being listed when a service is opened (and refreshed)
/// gets its whole list.
#[test]
fn refreshing_the_rows_on_screen_leaves_the_listing_current() {
    let mut s = configured();
    let listing = s.asked.ticket(s.connection, View::Services);
    update(&mut s, key('3'));
    // `R` with the profile's service open: its tasks and its row asked again.
    let effects = update(&mut s, key('R'));
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Load(LoadRequest::ServicesNamed { .. }))),
        "{effects:?}"
    );
    let rows = s.asked.ticket(s.connection, View::ServiceRows);
    assert!(s.asked.is_current(&listing), "a refresh of the rows is not a new listing");
    let whole =
        Loaded::Services { cluster: "dev".into(), result: Ok(vec![service("app", 1), service("web", 2)]) };
    update(&mut s, Action::Answer { ticket: listing, loaded: whole });
    assert_eq!(s.ecs.services.loaded().map(Vec::len), Some(2));
    assert!(s.ecs.services_complete);
    // The rows' refresh lands on the listing…
    let fresh = Loaded::ServicesNamed { cluster: "dev".into(), result: Ok(vec![service("app", 4)]) };
    update(&mut s, Action::Answer { ticket: rows, loaded: fresh.clone() });
    assert_eq!(s.ecs.services.loaded().unwrap()[0].desired, 4);
    // …but a new listing makes the refresh asked before it late.
    s.asked.ask(View::Services);
    let old = Loaded::ServicesNamed { cluster: "dev".into(), result: Ok(vec![service("app", 9)]) };
    update(&mut s, Action::Answer { ticket: rows, loaded: old });
    assert_eq!(s.ecs.services.loaded().unwrap()[0].desired, 4);
}
