//! `update`: how input and events change the dashboard's state.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use wharf::app::Keymap;
use wharf::app::{Action, Effect, EngineView, ImagesTab, JobState, Overlay, PaneId, update};
use wharf::config::Settings;
use wharf::docker::EngineUpdate;
use wharf::jobs::{BakeJob, JobEvent, JobOutput, JobResult, JobSpec, JobUpdate, Progress};

use crate::support::{code, ctrl, image, key, repo_path, sample_engine, state, state_with};

fn loaded() -> wharf::app::AppState {
    let mut s = state();
    update(&mut s, Action::Engine(sample_engine()));
    s
}

#[test]
fn tab_and_digits_move_focus_around_all_six_panes() {
    let mut s = state();
    let mut seen = vec![s.focus];
    for _ in 0..6 {
        update(&mut s, code(KeyCode::Tab));
        seen.push(s.focus);
    }
    assert_eq!(
        seen,
        [
            PaneId::Images,
            PaneId::Registry,
            PaneId::Ecs,
            PaneId::Logs,
            PaneId::Snapshots,
            PaneId::Jobs,
            PaneId::Images
        ]
    );
    update(&mut s, Action::Input(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)));
    assert_eq!(s.focus, PaneId::Jobs);
    for (c, pane) in
        [('3', PaneId::Ecs), ('5', PaneId::Snapshots), ('1', PaneId::Images), ('6', PaneId::Jobs)]
    {
        update(&mut s, key(c));
        assert_eq!(s.focus, pane);
    }
}

#[test]
fn moving_stays_inside_the_list() {
    let mut s = loaded();
    update(&mut s, key('k'));
    assert_eq!(s.images.image_cursor.selected, 0);
    for _ in 0..5 {
        update(&mut s, key('j'));
    }
    assert_eq!(s.images.image_cursor.selected, 2);
    update(&mut s, key('g'));
    assert_eq!(s.images.image_cursor.selected, 0);
    update(&mut s, key('G'));
    assert_eq!(s.images.selected_image().unwrap().reference(), "wharf-test/busybox:latest");
    update(&mut s, code(KeyCode::PageUp));
    assert_eq!(s.images.image_cursor.selected, 0);
}

#[test]
fn filter_narrows_the_focused_list_and_esc_clears_it() {
    let mut s = loaded();
    update(&mut s, key('G'));
    update(&mut s, key('/'));
    assert!(s.filtering);
    for c in "BUSY".chars() {
        update(&mut s, key(c));
    }
    let visible: Vec<_> = s.images.visible_images().iter().map(|i| i.reference()).collect();
    assert_eq!(visible, ["wharf-test/busybox:latest"]);
    assert_eq!(s.images.image_cursor.selected, 0, "typing resets the selection");
    // While typing, keys are text: `q` does not quit.
    update(&mut s, key('q'));
    assert!(!s.quit);
    assert_eq!(s.images.image_cursor.filter, "BUSYq");
    update(&mut s, code(KeyCode::Backspace));
    update(&mut s, code(KeyCode::Enter));
    assert!(!s.filtering);
    assert_eq!(s.images.image_cursor.filter, "BUSY");
    // The filter is kept after enter and cleared by esc (back).
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.images.visible_images().len(), 3);
    // Filters belong to their list: the containers tab has its own.
    update(&mut s, key('/'));
    update(&mut s, key('d'));
    update(&mut s, code(KeyCode::Enter));
    update(&mut s, key(']'));
    assert_eq!(s.images.tab, ImagesTab::Containers);
    assert_eq!(s.images.visible_containers().len(), 2);
    // Pasted text goes to the field being typed.
    update(&mut s, key('/'));
    update(&mut s, Action::Paste("db\nignored".into()));
    assert_eq!(s.images.container_cursor.filter, "db");
}

#[test]
fn search_in_logs_with_nothing_tailed_says_so() {
    let mut s = state();
    update(&mut s, key('4'));
    update(&mut s, key('/'));
    assert!(!s.filtering);
    assert_eq!(s.flash.as_deref(), Some("nothing to search: no logs are tailed (l on a service or task)"));
    // The next key clears the message.
    update(&mut s, key('j'));
    assert_eq!(s.flash, None);
}

#[test]
fn a_new_engine_snapshot_keeps_the_selection_on_the_same_image() {
    let mut s = loaded();
    update(&mut s, key('j'));
    assert_eq!(s.images.selected_image().unwrap().reference(), "db:baked");
    let EngineUpdate::Snapshot { endpoint, api_version, mut images, containers } = sample_engine() else {
        unreachable!()
    };
    images.insert(0, image("new", "one", "ab", 10, 1));
    update(&mut s, Action::Engine(EngineUpdate::Snapshot { endpoint, api_version, images, containers }));
    assert_eq!(s.images.selected_image().unwrap().reference(), "db:baked");
    assert_eq!(s.images.image_cursor.selected, 2);
}

#[test]
fn an_unreachable_engine_is_recorded_and_a_snapshot_recovers() {
    let mut s = loaded();
    update(
        &mut s,
        Action::Engine(EngineUpdate::Unreachable {
            endpoint: "unix:///var/run/docker.sock".into(),
            error: "connection refused".into(),
            retry_in: Duration::from_secs(2),
        }),
    );
    assert!(matches!(s.images.engine, EngineView::Unreachable { .. }));
    update(&mut s, Action::Engine(sample_engine()));
    assert!(matches!(s.images.engine, EngineView::Connected { .. }));
}

fn open_bake_prompt(s: &mut wharf::app::AppState) {
    update(s, key('B'));
    // From the images tab, bake first shows the containers.
    assert_eq!(s.images.tab, ImagesTab::Containers);
    assert_eq!(s.flash.as_deref(), Some("bake: select a container, then press the key again"));
    update(s, key('B'));
}

#[test]
fn bake_asks_for_a_reference_and_starts_a_job() {
    let mut s = loaded();
    open_bake_prompt(&mut s);
    let Some(Overlay::Prompt(p)) = &s.overlay else { panic!("no prompt: {:?}", s.overlay) };
    assert_eq!(p.text, "db:baked");
    // A bad reference keeps the prompt open with the reason and starts nothing.
    update(&mut s, ctrl('u'));
    for c in "Bad Name".chars() {
        update(&mut s, key(c));
    }
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    let Some(Overlay::Prompt(p)) = &s.overlay else { panic!("prompt closed") };
    assert!(p.error.as_deref().unwrap().starts_with("invalid image reference `Bad Name`"), "{:?}", p.error);
    update(&mut s, ctrl('u'));
    for c in "db:v2".chars() {
        update(&mut s, key(c));
    }
    let effects = update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.overlay, None);
    let expected =
        JobSpec::Bake(BakeJob { container: "db".into(), reference: "db:v2".into(), docker_host: None });
    assert_eq!(effects, [Effect::StartJob { id: 1, spec: expected }]);
    assert_eq!(s.jobs.jobs[0].state, JobState::Queued);
    assert_eq!(s.jobs.jobs[0].target, "db → db:v2");
}

#[test]
fn esc_in_a_prompt_starts_nothing() {
    let mut s = loaded();
    open_bake_prompt(&mut s);
    assert!(update(&mut s, code(KeyCode::Esc)).is_empty());
    assert_eq!(s.overlay, None);
    assert!(s.jobs.jobs.is_empty());
}

#[test]
fn read_only_refuses_bake() {
    let mut s = crate::support::read_only_state();
    update(&mut s, key(']'));
    update(&mut s, key('B'));
    assert_eq!(s.overlay, None);
    assert_eq!(s.flash.as_deref(), Some("read-only: bake is disabled (started with --read-only)"));
}

fn with_running_job() -> wharf::app::AppState {
    let mut s = loaded();
    open_bake_prompt(&mut s);
    update(&mut s, code(KeyCode::Enter));
    update(&mut s, Action::Job(JobEvent { id: 1, update: JobUpdate::Started }));
    s
}

#[test]
fn job_events_move_a_job_through_its_life() {
    let mut s = with_running_job();
    assert_eq!(s.jobs.jobs[0].state, JobState::Running);
    let progress =
        Progress { stage: "pushing".into(), done: 5, total: Some(10), bytes: true, detail: vec![] };
    update(&mut s, Action::Job(JobEvent { id: 1, update: JobUpdate::Progress(progress.clone()) }));
    assert_eq!(s.jobs.jobs[0].progress, progress);
    let chain = vec!["bake failed".to_string(), "no such container `db`".to_string()];
    update(
        &mut s,
        Action::Job(JobEvent { id: 1, update: JobUpdate::Finished(JobResult::Failed(chain.clone())) }),
    );
    assert_eq!(s.jobs.jobs[0].state, JobState::Failed(chain));
    assert!(s.jobs.jobs[0].finished_at.is_some());
    // Events for unknown jobs change nothing.
    let output =
        JobOutput { attention: None, summary: "x".into(), json: serde_json::Value::Null, copy: None };
    update(&mut s, Action::Job(JobEvent { id: 99, update: JobUpdate::Finished(JobResult::Done(output)) }));
    assert_eq!(s.jobs.jobs.len(), 1);
}

#[test]
fn x_cancels_the_selected_running_job_once() {
    let mut s = with_running_job();
    update(&mut s, key('6'));
    assert_eq!(update(&mut s, key('x')), [Effect::CancelJob(1)]);
    assert_eq!(s.jobs.jobs[0].state, JobState::Cancelling);
    assert!(update(&mut s, key('x')).is_empty(), "a second x asks nothing more");
    update(&mut s, Action::Job(JobEvent { id: 1, update: JobUpdate::Finished(JobResult::Cancelled) }));
    assert_eq!(s.jobs.jobs[0].state, JobState::Cancelled);
    assert!(update(&mut s, key('x')).is_empty());
    assert_eq!(s.flash.as_deref(), Some("job 1 has already finished"));
}

#[test]
fn quit_asks_first_while_jobs_run() {
    let mut s = with_running_job();
    update(&mut s, key('q'));
    assert_eq!(s.overlay, Some(Overlay::ConfirmQuit));
    assert!(!s.quit);
    a_moment_later(&mut s);
    update(&mut s, key('n'));
    assert_eq!(s.overlay, None);
    assert!(!s.quit);
    update(&mut s, ctrl('c'));
    a_moment_later(&mut s);
    update(&mut s, key('y'));
    assert!(s.quit);

    let mut idle = loaded();
    update(&mut idle, key('q'));
    assert!(idle.quit, "with nothing running, q quits at once");
}

#[test]
fn help_opens_scrolls_and_closes() {
    let mut s = state();
    update(&mut s, key('?'));
    assert_eq!(s.overlay, Some(Overlay::Help { scroll: 0 }));
    update(&mut s, key('j'));
    update(&mut s, key('j'));
    update(&mut s, key('k'));
    assert_eq!(s.overlay, Some(Overlay::Help { scroll: 1 }));
    update(&mut s, key('1'));
    assert_eq!(s.overlay, Some(Overlay::Help { scroll: 1 }), "keys don't reach the panes under help");
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.overlay, None);
    update(&mut s, key('?'));
    update(&mut s, key('q'));
    assert_eq!(s.overlay, None);
    assert!(!s.quit, "q closes help rather than quitting");
}

#[test]
fn actions_say_what_they_are_missing() {
    let mut s = loaded();
    update(&mut s, key('3'));
    update(&mut s, key('l'));
    assert_eq!(s.flash.as_deref(), Some("tail logs needs AWS credentials, and none were found"));
    update(&mut s, key('2'));
    update(&mut s, key('d'));
    assert_eq!(
        s.flash.as_deref(),
        Some("deploy: open a repository in the Registry pane and select an image")
    );
    update(&mut s, key('3'));
    update(&mut s, key('u'));
    assert_eq!(s.flash.as_deref(), Some("rollback needs AWS credentials, and none were found"));
    update(&mut s, key('5'));
    update(&mut s, key('b'));
    assert_eq!(s.flash.as_deref(), Some("backup needs AWS credentials, and none were found"));
}

#[test]
fn a_custom_keymap_drives_the_same_actions() {
    let km = Keymap::load(Some(&repo_path("tests/fixtures/keymap/custom.toml"))).unwrap();
    let mut s = state_with(Settings::default(), km);
    update(&mut s, Action::Engine(sample_engine()));
    update(&mut s, key('n'));
    assert_eq!(s.images.image_cursor.selected, 1);
    update(&mut s, key('j'));
    assert_eq!(s.images.image_cursor.selected, 1, "j is no longer bound");
    update(&mut s, key(']'));
    update(&mut s, ctrl('b'));
    assert!(matches!(s.overlay, Some(Overlay::Prompt(_))));
}

#[test]
fn signals_and_resizes() {
    let mut s = state();
    update(&mut s, Action::Resize(80, 24));
    assert_eq!(s.size, (80, 24));
    update(&mut s, Action::Terminate);
    assert!(s.quit);
}

#[test]
fn push_asks_for_the_target_and_starts_a_job() {
    use wharf::aws::AwsStatus;
    use wharf::config::Profile;
    use wharf::jobs::PushJob;
    let profile = Profile {
        repository: Some("app".into()),
        registry: Some("127.0.0.1:5000".into()),
        ..Profile::default()
    };
    let mut s = state_with(Settings { profile, ..Settings::default() }, Keymap::defaults().unwrap());
    update(&mut s, Action::Engine(sample_engine()));
    update(&mut s, key('p'));
    assert_eq!(s.flash.as_deref(), Some("push needs AWS credentials, and none were found"));
    update(&mut s, Action::Aws(AwsStatus::Ready { region: None, endpoint: None }));
    update(&mut s, key('j'));
    update(&mut s, key('p'));
    let Some(Overlay::Prompt(p)) = &s.overlay else { panic!("no prompt") };
    assert_eq!(p.text, "app:baked", "the profile's repository and the image's tag");
    update(&mut s, ctrl('u'));
    for c in "app:v7".chars() {
        update(&mut s, key(c));
    }
    let effects = update(&mut s, code(KeyCode::Enter));
    let expected = JobSpec::Push(PushJob {
        image: "db:baked".into(),
        repository: "app".into(),
        tag: "v7".into(),
        registry: Some(wharf::config::RegistryOverride::given("127.0.0.1:5000")),
        docker_host: None,
        create_repository: false,
    });
    assert_eq!(effects, [Effect::StartJob { id: 1, spec: expected }]);
}

#[test]
fn read_only_refuses_push() {
    let mut s = crate::support::read_only_state();
    update(&mut s, Action::Aws(wharf::aws::AwsStatus::Ready { region: None, endpoint: None }));
    update(&mut s, key('p'));
    assert_eq!(s.overlay, None);
    assert_eq!(s.flash.as_deref(), Some("read-only: push is disabled (started with --read-only)"));
}

#[test]
fn a_finished_push_reloads_the_open_repository() {
    use wharf::app::{Effect, LoadRequest};
    use wharf::aws::AwsStatus;
    use wharf::config::Profile;
    let profile = Profile { repository: Some("app".into()), ..Profile::default() };
    let mut s = state_with(Settings { profile, ..Settings::default() }, Keymap::defaults().unwrap());
    update(&mut s, Action::Engine(sample_engine()));
    update(&mut s, Action::Aws(AwsStatus::Ready { region: None, endpoint: None }));
    update(&mut s, key('p'));
    let effects = update(&mut s, code(KeyCode::Enter));
    assert!(matches!(effects[..], [Effect::StartJob { id: 1, .. }]));
    let output = JobOutput {
        attention: None,
        summary: "pushed".into(),
        json: serde_json::Value::Null,
        copy: Some("uri@sha256:1".into()),
    };
    let effects =
        update(&mut s, Action::Job(JobEvent { id: 1, update: JobUpdate::Finished(JobResult::Done(output)) }));
    assert_eq!(effects, [Effect::Load(LoadRequest::Images { repository: "app".into() })]);
}

#[test]
fn y_copies_a_finished_jobs_result() {
    let mut s = with_running_job();
    update(&mut s, key('6'));
    assert!(update(&mut s, key('y')).is_empty(), "a running job has nothing to copy");
    assert_eq!(s.flash.as_deref(), Some("nothing to copy: select a finished push or bake"));
    let output = JobOutput {
        attention: None,
        summary: "db:baked (abc)".into(),
        json: serde_json::Value::Null,
        copy: Some("db:baked".into()),
    };
    update(&mut s, Action::Job(JobEvent { id: 1, update: JobUpdate::Finished(JobResult::Done(output)) }));
    assert_eq!(update(&mut s, key('y')), [Effect::Copy("db:baked".into())]);
    assert_eq!(s.flash.as_deref(), Some("copied db:baked"));
}

/// A dashboard with AWS ready, ECR's list loaded (`api`, `app`) and no profile repository.
fn with_repositories() -> wharf::app::AppState {
    use wharf::app::Loaded;
    use wharf::aws::{AwsStatus, Repository};
    let mut s = loaded();
    update(&mut s, Action::Aws(AwsStatus::Ready { region: None, endpoint: None }));
    let repo = |n: &str| Repository { name: n.into(), uri: format!("h/{n}"), created: None };
    update(&mut s, Action::Loaded(Loaded::Repositories(Ok(vec![repo("api"), repo("app")]))));
    s
}

fn prompt_text(s: &wharf::app::AppState) -> String {
    match &s.overlay {
        Some(Overlay::Prompt(p)) => p.text.clone(),
        other => panic!("no prompt: {other:?}"),
    }
}

#[test]
fn tab_in_the_push_prompt_picks_from_ecrs_repositories_and_keeps_the_tag() {
    let mut s = with_repositories();
    update(&mut s, key('p'));
    update(&mut s, ctrl('u'));
    for c in "ap:v2".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, code(KeyCode::Tab));
    assert_eq!(prompt_text(&s), "api:v2", "the first name starting with what is typed");
    update(&mut s, code(KeyCode::Tab));
    assert_eq!(prompt_text(&s), "app:v2", "then the next");
    update(&mut s, code(KeyCode::Tab));
    assert_eq!(prompt_text(&s), "api:v2", "round the list");
    update(&mut s, ctrl('u'));
    for c in "wo".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, code(KeyCode::Tab));
    assert_eq!(prompt_text(&s), "api", "no name starts with it: the first of all");
    update(&mut s, ctrl('u'));
    update(&mut s, code(KeyCode::Tab));
    assert_eq!(prompt_text(&s), "api", "an empty field takes the first name");
    update(&mut s, ctrl('u'));
    for c in "app".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, code(KeyCode::Tab));
    assert_eq!(prompt_text(&s), "api", "a whole name moves on to the next, round the list");
}

#[test]
fn pushing_to_a_repository_ecr_lacks_asks_to_create_it_first() {
    use wharf::app::{Confirmed, LoadRequest};
    use wharf::jobs::PushJob;
    let mut s = with_repositories();
    update(&mut s, key('p'));
    update(&mut s, ctrl('u'));
    for c in "billing:v1".chars() {
        update(&mut s, key(c));
    }
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty(), "nothing starts before the answer");
    let Some(Overlay::Confirm(confirm)) = s.overlay.clone() else {
        panic!("no confirmation: {:?}", s.overlay)
    };
    assert_eq!(confirm.lines[0], "ECR has no repository `billing`.");
    let Confirmed::CreateRepositoryAndPush(job) = confirm.on_yes.clone() else {
        panic!("{:?}", confirm.on_yes)
    };
    assert_eq!((job.repository.as_str(), job.tag.as_str(), job.create_repository), ("billing", "v1", false));

    // Any key but y: nothing happens.
    a_moment_later(&mut s);
    assert!(update(&mut s, key('n')).is_empty());
    assert_eq!(s.overlay, None);
    assert_eq!(s.flash.as_deref(), Some("Create repository: cancelled, nothing changed"));
    assert!(s.jobs.jobs.is_empty());

    s.overlay = Some(Overlay::Confirm(confirm));
    let effects = update(&mut s, key('y'));
    let expected = JobSpec::Push(PushJob { create_repository: true, ..job });
    assert_eq!(effects, [Effect::StartJob { id: 1, spec: expected }]);

    // Once it lands, ECR's list is read again: it has a new repository.
    let output =
        JobOutput { attention: None, summary: "pushed".into(), json: serde_json::Value::Null, copy: None };
    let effects =
        update(&mut s, Action::Job(JobEvent { id: 1, update: JobUpdate::Finished(JobResult::Done(output)) }));
    assert_eq!(effects, [Effect::Load(LoadRequest::Repositories)]);
}

#[test]
fn pushing_to_a_repository_ecr_has_starts_at_once() {
    let mut s = with_repositories();
    update(&mut s, key('p'));
    update(&mut s, ctrl('u'));
    for c in "api:v1".chars() {
        update(&mut s, key(c));
    }
    let effects = update(&mut s, code(KeyCode::Enter));
    assert!(
        matches!(&effects[..], [Effect::StartJob { id: 1, spec: JobSpec::Push(p) }] if !p.create_repository)
    );
    assert_eq!(s.overlay, None);
}

/// A dashboard with a snapshot bucket and a database in the profile, AWS ready,
/// and two snapshots listed: one complete, one without a manifest.
pub(crate) fn with_snapshots(protected: bool) -> wharf::app::AppState {
    use wharf::aws::AwsStatus;
    use wharf::config::{Database, Profile};
    let profile = Profile {
        bucket: Some("snaps".into()),
        prefix: Some("app".into()),
        protected,
        database: Some(Database {
            container: Some("db".into()),
            path: Some("/var/lib/data".into()),
            ..Database::default()
        }),
        ..Profile::default()
    };
    let mut s = state_with(Settings { profile, ..Settings::default() }, Keymap::defaults().unwrap());
    let effects = update(&mut s, Action::Aws(AwsStatus::Ready { region: None, endpoint: None }));
    assert!(effects.contains(&Effect::Load(wharf::app::LoadRequest::Snapshots {
        bucket: "snaps".into(),
        prefix: "app/".into(),
        container: Some("db".into()),
    })));
    let listed = crate::support::snapshots_listed(&s, None, Ok(crate::support::sample_snapshots()));
    update(&mut s, listed);
    update(&mut s, key('5'));
    s
}

#[test]
fn b_backs_up_the_profiles_database_at_once() {
    let mut s = with_snapshots(false);
    let effects = update(&mut s, key('b'));
    let [Effect::StartJob { id: 1, spec: JobSpec::Backup(job) }] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!((job.container.as_str(), job.path.as_deref()), ("db", Some("/var/lib/data")));
    assert_eq!((job.bucket.as_str(), job.prefix.as_str()), ("snaps", "app/"));
    // When it ends, the list is read again.
    let output =
        JobOutput { attention: None, summary: "ok".into(), json: serde_json::Value::Null, copy: None };
    let effects =
        update(&mut s, Action::Job(JobEvent { id: 1, update: JobUpdate::Finished(JobResult::Done(output)) }));
    assert!(matches!(&effects[..], [Effect::Load(wharf::app::LoadRequest::Snapshots { .. })]), "{effects:?}");
}

/// `r` on the selected snapshot: what it would replace is worked out in the
/// background, and `lines` come back as the confirmation's text.
fn ask_to_restore(s: &mut wharf::app::AppState, lines: &[&str]) -> wharf::jobs::RestoreJob {
    let effects = update(s, key('r'));
    let [Effect::Load(wharf::app::LoadRequest::RestorePreview(job))] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(s.overlay, None, "nothing is asked before it is known what would be replaced");
    let job = (**job).clone();
    let result = Ok(lines.iter().map(|l| l.to_string()).collect());
    update(s, Action::Loaded(wharf::app::Loaded::RestorePreview { job: Box::new(job.clone()), result }));
    job
}

/// Lets the open dialog's first moments pass, in which it takes no answer.
pub fn a_moment_later(s: &mut wharf::app::AppState) {
    s.clock.mono += wharf::app::DIALOG_GUARD;
}

#[test]
fn restore_asks_first_and_a_no_changes_nothing() {
    use wharf::app::Confirmed;
    use wharf::jobs::restore::SnapshotSource;
    let mut s = with_snapshots(false);
    let job = ask_to_restore(
        &mut s,
        &["It replaces, in container `db`: /var/lib/data", "ONEZONE_IA: reading it back costs"],
    );
    assert_eq!(
        job.source,
        SnapshotSource::S3 {
            id: "20261120T101500Z-db".into(),
            bucket: "snaps".into(),
            prefix: "app/".into()
        }
    );
    assert_eq!((job.container.as_str(), job.path.as_deref()), ("db", Some("/var/lib/data")));
    let Some(Overlay::Confirm(confirm)) = s.overlay.clone() else {
        panic!("no confirmation: {:?}", s.overlay)
    };
    assert_eq!(
        confirm.lines,
        ["It replaces, in container `db`: /var/lib/data", "ONEZONE_IA: reading it back costs"]
    );
    a_moment_later(&mut s);
    assert!(update(&mut s, key('n')).is_empty());
    assert!(s.jobs.jobs.is_empty());
    ask_to_restore(&mut s, &["…"]);
    assert!(update(&mut s, key('y')).is_empty(), "a key in the dialog's first moments answers nothing");
    a_moment_later(&mut s);
    let effects = update(&mut s, key('y'));
    let [Effect::StartJob { spec: JobSpec::Restore(started), .. }] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(started, &job);
    let Confirmed::Restore(asked) = confirm.on_yes else { panic!() };
    assert_eq!(&asked, started);
}

#[test]
fn a_protected_profile_wants_the_container_name_typed() {
    let mut s = with_snapshots(true);
    ask_to_restore(&mut s, &["…"]);
    let Some(Overlay::Prompt(p)) = &s.overlay else { panic!("no prompt: {:?}", s.overlay) };
    assert_eq!(p.title, "Protected profile: type `db` to restore");
    a_moment_later(&mut s);
    for c in "dB".chars() {
        update(&mut s, key(c));
    }
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty(), "a wrong name starts nothing");
    let Some(Overlay::Prompt(p)) = &s.overlay else { panic!("the prompt went away") };
    assert_eq!(p.error.as_deref(), Some("type `db` exactly to go ahead, or esc to cancel"));
    update(&mut s, ctrl('u'));
    update(&mut s, key('d'));
    update(&mut s, key('b'));
    let effects = update(&mut s, code(KeyCode::Enter));
    assert!(matches!(&effects[..], [Effect::StartJob { spec: JobSpec::Restore(_), .. }]), "{effects:?}");
}

#[test]
fn an_incomplete_snapshot_is_never_restored_and_read_only_refuses_both() {
    let mut s = with_snapshots(false);
    update(&mut s, key('j'));
    assert!(update(&mut s, key('r')).is_empty());
    assert_eq!(s.overlay, None);
    assert_eq!(
        s.flash.as_deref(),
        Some("20261119T090000Z-db cannot be restored: incomplete: no manifest (an interrupted backup)")
    );
    s.settings.read_only = true;
    for k in ['b', 'r'] {
        assert!(update(&mut s, key(k)).is_empty());
        assert!(s.flash.as_deref().unwrap().starts_with("read-only: "), "{:?}", s.flash);
    }
}

#[test]
fn p_shows_what_a_prune_deletes_and_starts_only_on_a_yes() {
    let mut s = with_snapshots(false);
    assert!(update(&mut s, key('P')).is_empty());
    let Some(Overlay::Confirm(confirm)) = s.overlay.clone() else {
        panic!("no confirmation: {:?}", s.overlay)
    };
    assert_eq!(
        confirm.lines,
        [
            "Delete 1 snapshot (150.0 MB)?",
            "Retention: no retention set: only incomplete snapshots go.",
            "Kept: 1 (`wharf prune --dry-run` says why for each).",
            "  20261119T090000Z-db — incomplete: no manifest (an interrupted backup)",
        ]
    );
    a_moment_later(&mut s);
    let effects = update(&mut s, key('y'));
    let [Effect::StartJob { spec: JobSpec::Prune(job), .. }] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(job.doomed[0].keys[0], "app/20261119T090000Z-db/manifest.json");

    // With a retention of one, the complete snapshot stays too: nothing more goes.
    s.settings.profile.keep = Some(1);
    update(&mut s, key('P'));
    let Some(Overlay::Confirm(confirm)) = &s.overlay else { panic!() };
    assert_eq!(confirm.lines[0], "Delete 1 snapshot (150.0 MB)?");
    a_moment_later(&mut s);
    update(&mut s, key('n'));
    s.settings.profile.keep = Some(0);
    update(&mut s, key('P'));
    let Some(Overlay::Confirm(confirm)) = &s.overlay else { panic!() };
    assert_eq!(confirm.lines[0], "Delete 2 snapshots (460.0 MB)?");
    assert!(
        confirm.lines.last().unwrap().contains("billed for their minimum storage duration"),
        "{confirm:?}"
    );
}

#[test]
fn the_ecs_pane_opens_at_the_profiles_service_and_drills_down_and_back() {
    use wharf::app::{LoadRequest, Loaded};
    use wharf::aws::AwsStatus;
    use wharf::aws::ecs::ServiceInfo;
    use wharf::config::Profile;
    let profile = Profile { cluster: Some("dev".into()), service: Some("api".into()), ..Profile::default() };
    let mut s = state_with(Settings { profile, ..Settings::default() }, Keymap::defaults().unwrap());
    let effects = update(&mut s, Action::Aws(AwsStatus::Ready { region: None, endpoint: None }));
    let dev = s.asked.ticket(s.connection, wharf::app::asked::View::Services);
    for wanted in [
        LoadRequest::Clusters,
        LoadRequest::Services { cluster: "dev".into() },
        LoadRequest::Tasks { cluster: "dev".into(), service: "api".into() },
    ] {
        assert!(effects.contains(&Effect::Load(wanted.clone())), "{wanted:?} in {effects:?}");
    }
    let service = |name: &str| ServiceInfo {
        name: name.into(),
        status: "ACTIVE".into(),
        desired: 1,
        running: 1,
        pending: 0,
        task_definition: format!("{name}:3"),
        rollout: Some("COMPLETED".into()),
        events: vec![],
    };
    update(&mut s, Action::Loaded(Loaded::Clusters(Ok(vec!["dev".into(), "prod".into()]))));
    let services =
        Loaded::Services { cluster: "dev".into(), result: Ok(vec![service("api"), service("web")]) };
    update(&mut s, Action::Answer { ticket: dev, loaded: services.clone() });
    assert_eq!(s.ecs.services.loaded().map(Vec::len), Some(2));

    update(&mut s, key('3'));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(
        (s.ecs.cluster.as_deref(), s.ecs.service.as_deref()),
        (Some("dev"), None),
        "back to the services"
    );
    update(&mut s, key('j'));
    let effects = update(&mut s, code(KeyCode::Enter));
    assert_eq!(effects, [Effect::Load(LoadRequest::Tasks { cluster: "dev".into(), service: "web".into() })]);
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.ecs.cluster, None, "back to the clusters");
    update(&mut s, key('j'));
    let effects = update(&mut s, code(KeyCode::Enter));
    assert_eq!(effects, [Effect::Load(LoadRequest::Services { cluster: "prod".into() })]);
    // dev's listing asked again arrives late, after prod was opened: dropped by its ticket.
    update(&mut s, Action::Answer { ticket: dev, loaded: services });
    assert_eq!(s.ecs.services, wharf::app::Load::Loading, "prod's services are awaited");
}

#[test]
fn b_in_the_ecs_pane_starts_a_remote_backup_of_the_service() {
    use wharf::app::{LoadRequest, Loaded};
    use wharf::aws::AwsStatus;
    use wharf::aws::ecs::ServiceInfo;
    use wharf::config::Profile;
    let profile = Profile {
        cluster: Some("dev".into()),
        bucket: Some("snaps".into()),
        remote_backup_command: Some(vec!["/backup.sh".into(), "{bucket}".into(), "{key}".into()]),
        ..Profile::default()
    };
    let mut s = state_with(Settings { profile, ..Settings::default() }, Keymap::defaults().unwrap());
    update(&mut s, Action::Aws(AwsStatus::Ready { region: None, endpoint: None }));
    let service = ServiceInfo {
        name: "db".into(),
        status: "ACTIVE".into(),
        desired: 1,
        running: 1,
        pending: 0,
        task_definition: "db:4".into(),
        rollout: None,
        events: vec![],
    };
    update(&mut s, Action::Loaded(Loaded::Services { cluster: "dev".into(), result: Ok(vec![service]) }));
    update(&mut s, key('3'));
    // First what would run is worked out and shown; nothing starts yet.
    let effects = update(&mut s, key('b'));
    let [Effect::Load(LoadRequest::RemotePreview(job))] = &effects[..] else {
        panic!("{effects:?} {:?}", s.flash)
    };
    assert_eq!((job.cluster.as_str(), job.service.as_str(), job.bucket.as_str()), ("dev", "db", "snaps"));
    assert!(s.jobs.jobs.is_empty());
    let lines = vec!["task: wharf-backup-db in dev".to_string()];
    update(&mut s, Action::Loaded(Loaded::RemotePreview { job: job.clone(), result: Ok(lines.clone()) }));
    let Some(Overlay::Confirm(confirm)) = s.overlay.clone() else {
        panic!("no confirmation: {:?}", s.overlay)
    };
    assert_eq!(confirm.lines, lines);
    a_moment_later(&mut s);
    let effects = update(&mut s, key('y'));
    let [Effect::StartJob { spec: JobSpec::RemoteBackup(started), .. }] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(started.service, "db");

    // A plan that cannot be made is said, and nothing is asked.
    update(&mut s, key('b'));
    update(
        &mut s,
        Action::Loaded(Loaded::RemotePreview { job: job.clone(), result: Err("no running task".into()) }),
    );
    assert_eq!(s.flash.as_deref(), Some("remote backup: no running task"));
    assert!(!matches!(s.overlay, Some(Overlay::Confirm(_))));

    // Without a command in the profile, nor a preset whose backup needs none, it says what is missing.
    s.settings.profile.remote_backup_command = None;
    assert!(update(&mut s, key('b')).is_empty());
    assert!(
        s.flash.as_deref().unwrap().starts_with("remote backup: no remote_backup_command"),
        "{:?}",
        s.flash
    );
    // A postgres preset needs no command.
    s.settings.profile.database =
        Some(wharf::config::Database { preset: Some(wharf::config::Preset::Postgres), ..Default::default() });
    let effects = update(&mut s, key('b'));
    let [Effect::Load(LoadRequest::RemotePreview(job))] = &effects[..] else {
        panic!("{effects:?} {:?}", s.flash)
    };
    assert_eq!((job.command.as_ref(), job.preset), (None, wharf::config::Preset::Postgres));
}

/// A dashboard with the profile's cluster and service, ECR's `app` repository
/// open with one image, AWS ready.
pub(crate) fn with_registry_image(protected: bool) -> wharf::app::AppState {
    use wharf::app::Loaded;
    use wharf::aws::{AwsStatus, RegistryImage, Repository};
    use wharf::config::Profile;
    let profile = Profile {
        cluster: Some("dev".into()),
        service: Some("app".into()),
        repository: Some("app".into()),
        protected,
        ..Profile::default()
    };
    let mut s = state_with(Settings { profile, ..Settings::default() }, Keymap::defaults().unwrap());
    update(&mut s, Action::Aws(AwsStatus::Ready { region: None, endpoint: None }));
    let repo = Repository {
        name: "app".into(),
        uri: "123.dkr.ecr.eu-west-1.amazonaws.com/app".into(),
        created: None,
    };
    update(&mut s, Action::Loaded(Loaded::Repositories(Ok(vec![repo]))));
    let image =
        RegistryImage { tags: vec!["v3".into()], digest: "sha256:abc".into(), pushed_at: None, size: None };
    update(&mut s, Action::Loaded(Loaded::Images { repository: "app".into(), result: Ok(vec![image]) }));
    update(&mut s, key('2'));
    s
}

fn rollback_plan() -> wharf::aws::ecs::Plan {
    wharf::aws::ecs::Plan::existing(
        "dev",
        "app",
        "app:8",
        "app:7",
        vec!["container app: image repo/app@sha256:new → repo/app@sha256:old".into()],
        "arn:aws:ecs:eu-west-1:123:task-definition/app:7",
    )
}

#[test]
fn d_on_a_registry_image_works_out_the_deploy_and_asks_with_the_diff() {
    use wharf::app::{LoadRequest, Loaded};
    let mut s = with_registry_image(false);
    let effects = update(&mut s, key('d'));
    assert_eq!(
        effects,
        [Effect::Load(LoadRequest::DeployPlan {
            cluster: "dev".into(),
            service: "app".into(),
            container: None,
            image: "123.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:abc".into(),
        })]
    );
    assert!(s.jobs.jobs.is_empty(), "nothing changes before the plan is confirmed");
    update(&mut s, Action::Loaded(Loaded::Plan(Ok(rollback_plan()))));
    let Some(Overlay::Confirm(confirm)) = s.overlay.clone() else { panic!("{:?}", s.overlay) };
    assert_eq!(
        confirm.lines,
        [
            "dev/app: task definition app:8 → app:7",
            "  container app: image repo/app@sha256:new → repo/app@sha256:old"
        ]
    );
    a_moment_later(&mut s);
    let effects = update(&mut s, key('y'));
    let [Effect::StartJob { spec: JobSpec::Deploy(job), .. }] = &effects[..] else { panic!("{effects:?}") };
    assert!(job.wait, "the dashboard follows the rollout in the Jobs pane");

    update(
        &mut s,
        Action::Loaded(Loaded::Plan(Err(wharf::aws::AwsError::NotFound("no ECS service `app`".into())))),
    );
    assert_eq!(s.flash.as_deref(), Some("cannot work out the change: no ECS service `app`"));
}

#[test]
fn a_protected_profile_wants_the_service_typed_and_read_only_refuses() {
    use wharf::app::Loaded;
    let mut s = with_registry_image(true);
    update(&mut s, Action::Loaded(Loaded::Plan(Ok(rollback_plan()))));
    let Some(Overlay::Prompt(p)) = &s.overlay else { panic!("{:?}", s.overlay) };
    assert_eq!(p.title, "Protected profile: type `app` to change it");
    a_moment_later(&mut s);
    update(&mut s, key('x'));
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    update(&mut s, ctrl('u'));
    for c in "app".chars() {
        update(&mut s, key(c));
    }
    assert!(matches!(
        &update(&mut s, code(KeyCode::Enter))[..],
        [Effect::StartJob { spec: JobSpec::Deploy(_), .. }]
    ));

    s.settings.read_only = true;
    assert!(update(&mut s, key('d')).is_empty());
    assert_eq!(s.flash.as_deref(), Some("read-only: deploy is disabled (started with --read-only)"));
    update(&mut s, key('3'));
    assert!(update(&mut s, key('u')).is_empty());
    assert_eq!(s.flash.as_deref(), Some("read-only: rollback is disabled (started with --read-only)"));
    s.settings.read_only = false;
    let effects = update(&mut s, key('u'));
    assert_eq!(
        effects,
        [Effect::Load(wharf::app::LoadRequest::RollbackPlan {
            cluster: "dev".into(),
            service: "app".into()
        })]
    );
}

#[test]
fn a_long_service_list_is_shown_as_it_comes_and_then_whole() {
    use wharf::app::Loaded;
    use wharf::aws::AwsStatus;
    use wharf::aws::ecs::ServiceInfo;
    use wharf::config::Profile;
    let profile = Profile { cluster: Some("big".into()), ..Profile::default() };
    let mut s = state_with(Settings { profile, ..Settings::default() }, Keymap::defaults().unwrap());
    update(&mut s, Action::Aws(AwsStatus::Ready { region: None, endpoint: None }));
    let service = |i: usize| ServiceInfo {
        name: format!("svc-{i:04}"),
        status: "ACTIVE".into(),
        desired: 0,
        running: 0,
        pending: 0,
        task_definition: "app:1".into(),
        rollout: None,
        events: vec![],
    };
    let first: Vec<_> = (0..10).map(service).collect();
    let all: Vec<_> = (0..2000).map(service).collect();
    update(&mut s, Action::Loaded(Loaded::ServicesSoFar { cluster: "big".into(), services: first }));
    assert_eq!(s.ecs.services.loaded().map(Vec::len), Some(10), "the first batch is on screen");
    assert!(!s.ecs.services_complete);
    update(&mut s, Action::Loaded(Loaded::Services { cluster: "big".into(), result: Ok(all.clone()) }));
    assert_eq!(s.ecs.services.loaded().map(Vec::len), Some(2000));
    assert!(s.ecs.services_complete);
    // A late partial answer does not shrink the whole list.
    update(
        &mut s,
        Action::Loaded(Loaded::ServicesSoFar { cluster: "big".into(), services: all[..20].to_vec() }),
    );
    assert_eq!(s.ecs.services.loaded().map(Vec::len), Some(2000));
}

#[test]
fn a_plan_that_arrives_while_a_dialog_is_open_waits_and_never_takes_its_answer() {
    use wharf::app::Loaded;
    let mut s = with_snapshots(false);
    ask_to_restore(&mut s, &["It replaces, in container `db`: /var/lib/data"]);
    let Some(Overlay::Confirm(restore)) = s.overlay.clone() else { panic!("{:?}", s.overlay) };
    a_moment_later(&mut s);
    // A deploy worked out in the background lands now: the open dialog stays.
    update(&mut s, Action::Loaded(Loaded::Plan(Ok(rollback_plan()))));
    assert_eq!(s.overlay, Some(Overlay::Confirm(restore)), "the restore's dialog is still the one open");
    // The y the user meant for the restore answers the restore…
    let effects = update(&mut s, key('y'));
    assert!(matches!(&effects[..], [Effect::StartJob { spec: JobSpec::Restore(_), .. }]), "{effects:?}");
    // …and the deploy's dialog comes next, deaf to a key in its first moments.
    let Some(Overlay::Confirm(deploy)) = s.overlay.clone() else { panic!("{:?}", s.overlay) };
    assert_eq!(deploy.title, "Change the service");
    assert!(update(&mut s, key('y')).is_empty(), "a second y typed at once answers nothing");
    a_moment_later(&mut s);
    let effects = update(&mut s, key('y'));
    assert!(matches!(&effects[..], [Effect::StartJob { spec: JobSpec::Deploy(_), .. }]), "{effects:?}");
}

#[test]
fn restores_cut_short_are_finished_at_start_but_not_under_read_only() {
    use wharf::app::{Effect, Loaded, update};
    let mut s = crate::support::state();
    let effects = update(&mut s, Action::Loaded(Loaded::Leftovers { restores: 1, others: vec![] }));
    assert!(
        effects.iter().any(|e| matches!(e, Effect::StartJob { spec: wharf::jobs::JobSpec::Recover(_), .. })),
        "{effects:?}"
    );
    let mut s = crate::support::read_only_state();
    let effects = update(&mut s, Action::Loaded(Loaded::Leftovers { restores: 2, others: vec![] }));
    assert!(!effects.iter().any(|e| matches!(e, Effect::StartJob { .. })), "{effects:?}");
    let flash = s.flash.clone().unwrap_or_default();
    assert!(
        flash.contains("2 restores were cut short and pending (read-only: nothing is touched)"),
        "{flash}"
    );
    assert!(flash.contains("`wharf doctor --fix` or wharf without --read-only finishes them"), "{flash}");
}

#[test]
fn a_job_done_with_something_to_look_at_is_marked_and_its_message_shown_whole() {
    let mut s = with_running_job();
    update(&mut s, key('6'));
    let message =
        "warning: database postgres in db holds no table of yours: this snapshot has none of your data.";
    let output = JobOutput {
        attention: Some(wharf::jobs::Attention { code: 0, message: message.into() }),
        summary: "20261205T180000Z-db-laptop-aaaaa: 7 kB → 2 kB (STANDARD)".into(),
        json: serde_json::Value::Null,
        copy: None,
    };
    update(&mut s, Action::Job(JobEvent { id: 1, update: JobUpdate::Finished(JobResult::Done(output)) }));
    assert!(
        matches!(&s.jobs.jobs[0].state, wharf::app::JobState::Attention { .. }),
        "{:?}",
        s.jobs.jobs[0].state
    );
    let screen = format!("{:?}", crate::panes::render(&s, 160, 40).backend());
    assert!(screen.contains("look"), "marked, not done:\n{screen}");
    assert!(screen.contains("⚠ warning: database postgres in db holds no table of yours"), "{screen}");
    assert!(!screen.contains("✓"), "{screen}");
}

#[test]
fn an_init_from_the_settings_panel_is_followed_by_the_panes_knowing_what_it_made() {
    use wharf::app::{LoadRequest, Loaded};
    use wharf::aws::AwsStatus;
    use wharf::config::Profile;
    let profile = Profile {
        repository: Some("app".into()),
        bucket: Some("snaps".into()),
        cluster: Some("dev".into()),
        service: Some("db".into()),
        ..Profile::default()
    };
    let settings = Settings { profile, profile_name: Some("dev".into()), ..Settings::default() };
    let mut s = state_with(settings, Keymap::defaults().unwrap());
    update(&mut s, Action::Aws(AwsStatus::Ready { region: None, endpoint: None }));
    update(&mut s, key(','));
    for c in "create".chars() {
        update(&mut s, key(c));
    }
    let effects = update(&mut s, code(KeyCode::Enter));
    let [Effect::Load(LoadRequest::InitPlan(job))] = &effects[..] else { panic!("{effects:?}") };
    assert!(job.request.new_id, "a first init gets an id of its own");
    let plan = wharf::jobs::init::InitPlan {
        steps: vec![wharf::jobs::init::Step::Repository { name: "app".into() }],
        present: vec![],
        waits_for_image: true,
        notes: vec![],
    };
    update(&mut s, Action::Loaded(Loaded::InitPlan { job: job.clone(), result: Ok(plan) }));
    a_moment_later(&mut s);
    let effects = update(&mut s, key('y'));
    let [Effect::StartJob { id, .. }] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(
        s.settings.profile.init_id.as_deref(),
        Some(job.request.init_id.as_str()),
        "in force from now on"
    );
    let done =
        JobOutput { attention: None, summary: "1 done".into(), json: serde_json::Value::Null, copy: None };
    let effects =
        update(&mut s, Action::Job(JobEvent { id: *id, update: JobUpdate::Finished(JobResult::Done(done)) }));
    assert!(effects.contains(&Effect::Load(LoadRequest::Repositories)), "{effects:?}");
    assert!(effects.contains(&Effect::Load(LoadRequest::Clusters)), "{effects:?}");
}
