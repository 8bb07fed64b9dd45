//! Every pane drawn on a `TestBackend` at 80×24 and 120×40, as `insta`
//! snapshots; colours (which snapshots drop) are checked separately.

use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use wharf::app::Keymap;
use wharf::app::state::PromptPurpose;
use wharf::app::{Action, AppState, JobState, JobView, Overlay, PaneId, Prompt, update};
use wharf::aws::AwsStatus;
use wharf::config::{ConfigFile, Settings};
use wharf::docker::EngineUpdate;
use wharf::jobs::{JobKind, Progress};

use crate::support::{key, repo_path, sample_engine, state, state_with};

pub(crate) fn render(state: &AppState, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| wharf::ui::draw(f, state)).unwrap();
    terminal
}

pub(crate) fn snapshot(name: &str, state: &AppState) {
    for (w, h) in [(80, 24), (120, 40)] {
        let terminal = render(state, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), terminal.backend());
    }
}

fn loaded() -> AppState {
    let mut s = state();
    update(&mut s, Action::Engine(sample_engine()));
    update(
        &mut s,
        Action::Aws(AwsStatus::NoCredentials { region: None, endpoint: None, error: "none".into() }),
    );
    s
}

pub(crate) fn configured() -> AppState {
    let text = std::fs::read_to_string(repo_path("tests/fixtures/config/full.toml")).unwrap();
    let file = ConfigFile::parse(&text, "full.toml").unwrap();
    let settings = Settings {
        profile_name: Some("dev".into()),
        profile: file.profiles["dev"].clone(),
        ..Settings::default()
    };
    let mut s = state_with(settings, Keymap::defaults().unwrap());
    update(&mut s, Action::Engine(sample_engine()));
    update(
        &mut s,
        Action::Aws(AwsStatus::Ready {
            region: Some("eu-west-1".into()),
            endpoint: Some("http://127.0.0.1:4566".into()),
        }),
    );
    s
}

fn jobs(s: &mut AppState) {
    let now = s.clock.mono;
    let job = |id, target: &str, state, progress, started: u64, finished: Option<u64>| JobView {
        id,
        kind: JobKind::Bake,
        target: target.into(),
        state,
        progress,
        queued_at: now - Duration::from_secs(started + 1),
        started_at: Some(now - Duration::from_secs(started)),
        finished_at: finished.map(|f| now - Duration::from_secs(f)),
        repository: None,
        logs: None,
        profile: None,
    };
    s.jobs.jobs = vec![
        job(
            1,
            "db → db:v1",
            JobState::Done("db:v1 (9a8b7c6d5e4f)".into(), Some("db:v1".into())),
            Progress::stage("done"),
            90,
            Some(88),
        ),
        job(
            2,
            "db → db:v2",
            JobState::Running,
            Progress {
                stage: "writing".into(),
                done: 50_000_000,
                total: Some(200_000_000),
                bytes: true,
                detail: vec![],
            },
            10,
            None,
        ),
        job(
            3,
            "app → app:x",
            JobState::Failed(vec!["bake failed".into(), "no such container `app`".into()]),
            Progress::stage("committing"),
            30,
            Some(29),
        ),
    ];
    s.jobs.next_id = 3;
}

#[test]
fn dashboard_with_images() {
    snapshot("images", &loaded());
}

#[test]
fn dashboard_with_a_full_profile() {
    snapshot("configured", &configured());
}

#[test]
fn containers_tab_with_a_filter() {
    let mut s = loaded();
    update(&mut s, key(']'));
    update(&mut s, key('/'));
    update(&mut s, key('d'));
    snapshot("containers_filtered", &s);
}

#[test]
fn engine_states() {
    snapshot("connecting", &state());
    let mut s = loaded();
    update(
        &mut s,
        Action::Engine(EngineUpdate::Unreachable {
            endpoint: "unix:///var/run/docker.sock".into(),
            error: "Docker engine unreachable at unix:///var/run/docker.sock: Socket not found: /var/run/docker.sock"
                .into(),
            retry_in: Duration::from_secs(4),
        }),
    );
    snapshot("unreachable", &s);
    let buffer = render(&s, 120, 40).backend().buffer().clone();
    let red = buffer.content().iter().any(|c| c.symbol() == "D" && c.fg == Color::Red);
    assert!(red, "the unreachable message is red");
}

#[test]
fn jobs_pane_with_running_done_and_failed_jobs() {
    let mut s = loaded();
    jobs(&mut s);
    update(&mut s, key('6'));
    update(&mut s, key('G'));
    snapshot("jobs", &s);
}

#[test]
fn help_lists_the_loaded_bindings() {
    let mut s = loaded();
    update(&mut s, key('?'));
    snapshot("help", &s);
}

#[test]
fn custom_keymap_changes_hints_and_help() {
    let km = Keymap::load(Some(&repo_path("tests/fixtures/keymap/custom.toml"))).unwrap();
    let mut s = state_with(Settings::default(), km);
    update(&mut s, Action::Engine(sample_engine()));
    let terminal = render(&s, 80, 24);
    insta::assert_snapshot!("custom_keymap_80x24", terminal.backend());
    update(&mut s, key('?'));
    let terminal = render(&s, 120, 40);
    insta::assert_snapshot!("custom_keymap_help_120x40", terminal.backend());
}

#[test]
fn overlays() {
    let mut s = loaded();
    s.overlay = Some(Overlay::Prompt(Prompt {
        title: "Bake db into image".into(),
        text: "Bad Name".into(),
        purpose: PromptPurpose::BakeTag { container: "db".into() },
        error: Some("invalid image reference `Bad Name`: the repository must be lowercase".into()),
        choices: vec![],
        note: vec![],
    }));
    snapshot("bake_prompt", &s);
    jobs(&mut s);
    s.overlay = Some(Overlay::ConfirmQuit);
    snapshot("confirm_quit", &s);
}

#[test]
fn read_only_and_focus_are_visible() {
    let mut s = crate::support::read_only_state();
    update(&mut s, key('3'));
    snapshot("read_only_ecs_focused", &s);
    let buffer = render(&s, 80, 24).backend().buffer().clone();
    // The ECS pane (middle row, left) has the cyan border; Images has not.
    assert_eq!(buffer[(0, 9)].fg, Color::Cyan, "focused border");
    assert_ne!(buffer[(0, 0)].fg, Color::Cyan, "unfocused border");
    assert_eq!(s.focus, PaneId::Ecs);
}

#[test]
fn too_small_says_so() {
    let terminal = render(&loaded(), 59, 20);
    insta::assert_snapshot!("too_small_59x20", terminal.backend());
    let terminal = render(&loaded(), 60, 20);
    let text = format!("{}", terminal.backend());
    assert!(!text.contains("too small") && text.contains("Images"), "60×20 is big enough");
}

fn registry_loaded() -> AppState {
    use wharf::app::Loaded;
    use wharf::aws::{RegistryImage, Repository};
    let mut s = configured();
    let uri = |n: &str| format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/{n}");
    let repos = ["api", "app", "db"].map(|n| Repository { name: n.into(), uri: uri(n), created: None });
    update(&mut s, Action::Loaded(Loaded::Repositories(Ok(repos.to_vec()))));
    let image = |tags: &[&str], digest: &str, age: i64, size| RegistryImage {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        digest: format!("sha256:{digest}"),
        pushed_at: Some(crate::support::NOW - age),
        size: Some(size),
    };
    let images = vec![
        image(
            &["v3", "latest"],
            "b7e1f2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f",
            120,
            187_300_000,
        ),
        image(
            &["v2"],
            "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
            86_400,
            186_000_000,
        ),
        image(
            &[],
            "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
            86_400 * 9,
            150_000_000,
        ),
    ];
    update(&mut s, Action::Loaded(Loaded::Images { repository: "app".into(), result: Ok(images) }));
    update(&mut s, key('2'));
    s
}

#[test]
fn push_prompt_offers_the_live_repositories_and_missing_ones_are_confirmed() {
    let mut s = registry_loaded();
    update(&mut s, Action::Aws(wharf::aws::AwsStatus::Ready { region: None, endpoint: None }));
    update(
        &mut s,
        Action::Loaded(wharf::app::Loaded::Repositories(Ok(vec![
            wharf::aws::Repository { name: "api".into(), uri: "h/api".into(), created: None },
            wharf::aws::Repository { name: "app".into(), uri: "h/app".into(), created: None },
            wharf::aws::Repository { name: "worker".into(), uri: "h/worker".into(), created: None },
        ]))),
    );
    update(&mut s, key('1'));
    update(&mut s, key('p'));
    update(&mut s, crate::support::ctrl('u'));
    for c in "a:v2".chars() {
        update(&mut s, key(c));
    }
    snapshot("push_prompt_choices", &s);
    update(&mut s, crate::support::ctrl('u'));
    for c in "billing:v2".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, crate::support::code(crossterm::event::KeyCode::Enter));
    snapshot("confirm_create_repository", &s);
}

#[test]
fn registry_images_of_the_profiles_repository() {
    snapshot("registry_images", &registry_loaded());
}

#[test]
fn registry_repositories_filtered() {
    let mut s = registry_loaded();
    update(&mut s, crate::support::code(crossterm::event::KeyCode::Esc));
    update(&mut s, key('/'));
    update(&mut s, key('a'));
    snapshot("registry_repositories", &s);
}

#[test]
fn registry_errors_are_shown_in_words() {
    use wharf::app::Loaded;
    use wharf::aws::AwsError;
    let mut s = configured();
    update(
        &mut s,
        Action::Loaded(Loaded::Images {
            repository: "app".into(),
            result: Err(AwsError::Throttled("Rate exceeded".into())),
        }),
    );
    snapshot("registry_throttled", &s);
}

#[test]
fn a_push_in_progress_shows_each_layer() {
    let mut s = configured();
    let now = s.clock.mono;
    s.jobs.jobs = vec![JobView {
        id: 1,
        kind: JobKind::Push,
        target: "app:dev → app:dev".into(),
        state: JobState::Running,
        progress: Progress {
            stage: "pushing: 1/3 layers done".into(),
            done: 70_000_000,
            total: Some(190_000_000),
            bytes: true,
            detail: vec![
                "3f4a5b6c7d8e Layer already exists".into(),
                "8e9f0a1b2c3d Pushing 40.0 MB / 120.0 MB".into(),
                "c0ffee123456 Waiting".into(),
            ],
        },
        queued_at: now - Duration::from_secs(8),
        started_at: Some(now - Duration::from_secs(7)),
        finished_at: None,
        repository: Some("app".into()),
        logs: None,
        profile: None,
    }];
    s.jobs.next_id = 1;
    update(&mut s, key('6'));
    snapshot("push_progress", &s);
}

#[test]
fn snapshots_pane_lists_manifests_costs_and_asks_before_restoring() {
    use wharf::app::Loaded;
    let mut s = configured();
    let listed = crate::support::snapshots_listed(&s, None, Ok(crate::support::sample_snapshots()));
    update(&mut s, listed);
    update(&mut s, key('5'));
    snapshot("snapshots_list", &s);
    update(&mut s, crate::support::code(crossterm::event::KeyCode::Enter));
    snapshot("snapshots_manifest", &s);
    update(&mut s, crate::support::code(crossterm::event::KeyCode::Esc));
    let effects = update(&mut s, key('r'));
    let [wharf::app::Effect::Load(wharf::app::LoadRequest::RestorePreview(job))] = &effects[..] else {
        panic!("{effects:?}")
    };
    // What the preview works out (tests/it/restore.rs runs the real one).
    let lines = [
        "Snapshot 20261120T101500Z-db: 412.0 MB of data, made 1d ago on laptop from db:/var/lib/data.",
        "It replaces, in container `db`: /var/lib/data (named volume pgdata), 398.2 MB now.",
        "`db` is running: it is stopped first and started again after.",
        "What is there now is kept as a safety copy first (`wharf restore --undo` puts it back).",
        "ONEZONE_IA: reading it back costs about $0.003 ($0.01/GB retrieval)",
    ];
    let result = Ok(lines.iter().map(|l| l.to_string()).collect());
    update(&mut s, Action::Loaded(Loaded::RestorePreview { job: job.clone(), result }));
    snapshot("snapshots_confirm_restore", &s);
}

#[test]
fn snapshots_pane_loading_and_errors() {
    let mut s = configured();
    update(&mut s, key('5'));
    snapshot("snapshots_loading", &s);
    let missing = wharf::aws::AwsError::NotFound("The specified bucket does not exist".into());
    let listed = crate::support::snapshots_listed(&s, None, Err(missing));
    update(&mut s, listed);
    snapshot("snapshots_error", &s);
}

#[test]
fn a_backup_in_progress() {
    let mut s = configured();
    let now = s.clock.mono;
    s.jobs.jobs = vec![JobView {
        id: 1,
        kind: JobKind::Backup,
        target: "db → s3://my-snapshots/app/".into(),
        state: JobState::Running,
        progress: Progress {
            stage: "backing up: read 640.0 MB, stored 160.0 MB, 4.0×".into(),
            done: 640_000_000,
            total: Some(1_200_000_000),
            bytes: true,
            detail: vec![],
        },
        queued_at: now - Duration::from_secs(9),
        started_at: Some(now - Duration::from_secs(8)),
        finished_at: None,
        repository: None,
        logs: None,
        profile: None,
    }];
    update(&mut s, key('6'));
    snapshot("backup_in_progress", &s);
}

#[test]
fn ecs_pane_services_and_tasks() {
    use wharf::app::Loaded;
    use wharf::aws::ecs::{ServiceEvent, ServiceInfo, TaskContainer, TaskInfo};
    let mut s = configured();
    let now = crate::support::NOW;
    let service = |name: &str, running, desired, rollout: &str| ServiceInfo {
        name: name.into(),
        status: "ACTIVE".into(),
        desired,
        running,
        pending: desired - running,
        task_definition: format!("{name}:7"),
        rollout: Some(rollout.into()),
        events: vec![
            ServiceEvent {
                at: Some(now - 90),
                message: format!("(service {name}) has reached a steady state."),
            },
            ServiceEvent { at: Some(now - 600), message: format!("(service {name}) has started 1 tasks.") },
        ],
    };
    let services = vec![service("app", 2, 2, "COMPLETED"), service("worker", 0, 1, "IN_PROGRESS")];
    update(&mut s, Action::Loaded(Loaded::Services { cluster: "dev".into(), result: Ok(services) }));
    let task = |id: &str, status: &str, digest: &str, up: i64| TaskInfo {
        id: id.into(),
        last_status: status.into(),
        desired_status: "RUNNING".into(),
        health: Some("HEALTHY".into()),
        started_at: Some(now - up),
        stopped_reason: None,
        task_definition: "app:7".into(),
        containers: vec![TaskContainer {
            name: "app".into(),
            image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v3".into(),
            digest: Some(format!("sha256:{digest}")),
            last_status: Some(status.into()),
            exit_code: None,
        }],
    };
    let tasks = vec![
        task("5f0c6e2a9b1d4c3e8f7a6b5c4d3e2f1a", "RUNNING", "b7e1f2a3c4d5e6f708192a3b", 3600),
        task("0a1b2c3d4e5f60718293a4b5c6d7e8f9", "PENDING", "b7e1f2a3c4d5e6f708192a3b", 20),
    ];
    update(
        &mut s,
        Action::Loaded(Loaded::Tasks { cluster: "dev".into(), service: "app".into(), result: Ok(tasks) }),
    );
    update(&mut s, key('3'));
    snapshot("ecs_tasks", &s);
    update(&mut s, crate::support::code(crossterm::event::KeyCode::Esc));
    snapshot("ecs_services", &s);
}

#[test]
fn ecs_pane_shows_names_as_pages_arrive_and_what_is_described_as_it_is() {
    use wharf::app::Loaded;
    use wharf::aws::ecs::ServiceInfo;
    let mut s = configured();
    update(&mut s, key('3'));
    update(&mut s, crate::support::code(crossterm::event::KeyCode::Esc));
    let mut described = ServiceInfo::listed("api");
    described.status = "ACTIVE".into();
    described.desired = 2;
    described.running = 2;
    described.task_definition = "api:12".into();
    described.rollout = Some("COMPLETED".into());
    let services = vec![described, ServiceInfo::listed("billing"), ServiceInfo::listed("cron")];
    update(&mut s, Action::Loaded(Loaded::ServicesSoFar { cluster: "dev".into(), services }));
    snapshot("ecs_services_listed", &s);
}

#[test]
fn the_status_line_says_when_aws_throttles_and_stops_saying_it_after_a_while() {
    let mut s = configured();
    let status = |s: &AppState| {
        let terminal = render(s, 120, 40);
        let buffer = terminal.backend().buffer();
        (0..buffer.area.width).map(|x| buffer[(x, 38)].symbol().to_string()).collect::<String>()
    };
    assert!(!status(&s).contains("throttled"), "{}", status(&s));
    update(&mut s, Action::Throttled(3));
    assert!(status(&s).contains("throttled by AWS: slowing down, retrying"), "{}", status(&s));
    s.clock.mono += wharf::app::THROTTLE_SHOWN;
    assert!(!status(&s).contains("throttled"), "{}", status(&s));
    update(&mut s, Action::Throttled(3));
    assert!(!status(&s).contains("throttled"), "the same count again is nothing new");
}

#[test]
fn the_snapshots_pane_draws_the_line_of_history() {
    let mut s = configured();
    // The laptop backed up b; home synced it and backed up c, then d (head).
    // The laptop, still at b, backed up e: off the line, and what it holds.
    let template = crate::support::sample_snapshots().remove(0);
    let at = |id: &str, host: &str, parent: Option<&str>, head: bool| {
        let mut snapshot = template.clone();
        snapshot.id = id.into();
        snapshot.head = head;
        let manifest = snapshot.manifest.as_mut().unwrap();
        manifest.id = id.into();
        manifest.host = Some(host.into());
        manifest.parent = parent.map(String::from);
        snapshot
    };
    let (a, b, c, d, e) = (
        "20261127T0900Z-db",
        "20261128T0900Z-db",
        "20261129T1800Z-db",
        "20261129T2300Z-db",
        "20261129T1900Z-db",
    );
    let mut incomplete = crate::support::sample_snapshots().remove(1);
    incomplete.id = "20261126T0900Z-db".into();
    let list = vec![
        at(d, "home", Some(c), true),
        at(e, "laptop", Some(b), false),
        at(c, "home", Some(b), false),
        at(b, "laptop", Some(a), false),
        at(a, "laptop", None, false),
        incomplete,
    ];
    let listed = crate::support::snapshots_listed(&s, Some(e), Ok(list));
    update(&mut s, listed);
    update(&mut s, key('5'));
    update(&mut s, key('z'));
    let screen = format!("{}", render(&s, 120, 40).backend());
    let row = |id: &str| screen.lines().find(|l| l.contains(id)).unwrap_or_else(|| panic!("{id}:\n{screen}"));
    for (id, art, host, state) in [
        (d, "●  ", "home", "head"),
        (e, "│ ●", "laptop", "here · off line"),
        (c, "● │", "home", "ok"),
        (b, "●─╯", "laptop", "ok"),
        (a, "●  ", "laptop", "ok"),
    ] {
        let line = row(id);
        assert!(line.contains(&format!("{art} {id}")), "{id}: {line}");
        assert!(line.contains(host) && line.contains(state), "{id}: {line}");
    }
    assert!(row("20261126T0900Z-db").contains("incomplete"));
    insta::assert_snapshot!("snapshots_line_120x40", render(&s, 120, 40).backend());
    insta::assert_snapshot!("snapshots_line_80x24", render(&s, 80, 24).backend());
}

/// At 120×40 the help shows every binding of every section at once, the
/// focused pane's first, with nothing to scroll.
#[test]
fn help_fits_every_binding_on_a_120_by_40_screen() {
    let mut s = loaded();
    update(&mut s, key('4'));
    update(&mut s, key('?'));
    let screen = format!("{}", render(&s, 120, 40).backend());
    for section in wharf::app::Section::ALL {
        for binding in s.keymap.bindings(section) {
            let description = binding.action.description();
            assert!(
                screen.contains(description),
                "`{description}` of [{}] not on screen:\n{screen}",
                section.name()
            );
        }
    }
    assert!(!screen.contains("scroll"), "nothing to scroll:\n{screen}");
    let first = screen.lines().find(|l| l.contains('[')).unwrap_or_default();
    assert!(first.contains("[logs]"), "the focused pane's keys first:\n{screen}");
}

/// A confirmation shows every line however its words wrap, and an empty
/// bucket costs $0.00 (not "-0.00").
#[test]
fn a_confirmation_shows_every_wrapped_line_and_nothing_costs_nothing() {
    use wharf::app::{Confirm, Confirmed};
    let mut s = configured();
    let listed = crate::support::snapshots_listed(&s, None, Ok(Vec::new()));
    update(&mut s, listed);
    let long = format!(
        "  there:  task definition db running 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:{}",
        "f".repeat(64)
    );
    let lines =
        vec![long, "  create: a cluster".into(), "  create: the last line, which must be seen".into()];
    let job = wharf::jobs::PruneJob { bucket: "b".into(), prefix: "p/".into(), doomed: Vec::new() };
    s.overlay = Some(Overlay::Confirm(Confirm {
        title: "Create on AWS".into(),
        lines,
        on_yes: Confirmed::Prune(job),
    }));
    for (w, h) in [(120, 40), (80, 24)] {
        let screen = format!("{}", render(&s, w, h).backend());
        assert!(screen.contains("the last line, which must be seen"), "{w}x{h}:\n{screen}");
    }
    s.overlay = None;
    update(&mut s, key('5'));
    let screen = format!("{}", render(&s, 120, 40).backend());
    assert!(screen.contains("0 · $0.00/month") && !screen.contains("-0.00"), "{screen}");
}
