//! The Logs pane: what `l` tails, lines coming in (and going, past the ring
//! buffer's size), moving, following, searching, saving, and how it looks.

use std::sync::Arc;

use crossterm::event::KeyCode;
use ratatui::style::Color;
use wharf::app::Keymap;
use wharf::app::{Action, AppState, Effect, Loaded, Overlay, PaneId, update};
use wharf::aws::AwsStatus;
use wharf::aws::ecs::{ServiceInfo, TaskInfo};
use wharf::config::{Profile, Settings};
use wharf::logs::{LogLine, TailEvent, TailMode, TailTarget};

use crate::panes::{render, snapshot};
use crate::support::{NOW, code, key, sample_engine, state_with};

const TASK: &str = "5f0c6e2a9b1d4c3e8f7a6b5c4d3e2f1a";

fn ready(profile: Profile) -> AppState {
    let mut s = state_with(Settings { profile, ..Settings::default() }, Keymap::defaults().unwrap());
    update(&mut s, Action::Engine(sample_engine()));
    update(&mut s, Action::Aws(AwsStatus::Ready { region: Some("eu-west-1".into()), endpoint: None }));
    s
}

fn dev() -> Profile {
    Profile { cluster: Some("dev".into()), service: Some("api".into()), ..Profile::default() }
}

/// The profile's service loaded with one task, the ECS pane focused on it.
fn with_a_task() -> AppState {
    let mut s = ready(dev());
    let service = ServiceInfo {
        name: "api".into(),
        status: "ACTIVE".into(),
        desired: 1,
        running: 1,
        pending: 0,
        task_definition: "api:3".into(),
        rollout: Some("COMPLETED".into()),
        events: vec![],
    };
    update(&mut s, Action::Loaded(Loaded::Services { cluster: "dev".into(), result: Ok(vec![service]) }));
    let task = TaskInfo {
        id: TASK.into(),
        last_status: "RUNNING".into(),
        desired_status: "RUNNING".into(),
        health: None,
        started_at: Some(NOW - 60),
        stopped_reason: None,
        task_definition: "api:3".into(),
        containers: vec![],
    };
    let tasks = Loaded::Tasks { cluster: "dev".into(), service: "api".into(), result: Ok(vec![task]) };
    update(&mut s, Action::Loaded(tasks));
    update(&mut s, key('3'));
    s
}

fn tail_effect(effects: &[Effect]) -> (u64, TailTarget) {
    match effects {
        [Effect::Tail { id, target }] => (*id, target.clone()),
        other => panic!("expected one tail, got {other:?}"),
    }
}

fn line(source: &str, n: usize, text: &str) -> LogLine {
    LogLine { timestamp: NOW * 1000 - 60_000 + n as i64 * 250, source: Arc::from(source), text: text.into() }
}

/// Tail number `id` hands over `count` lines from `sources` in turn.
fn feed(s: &mut AppState, id: u64, sources: &[&str], count: usize, text: impl Fn(usize) -> String) {
    for source in sources {
        update(s, Action::Tail(id, TailEvent::Source(Arc::from(*source))));
    }
    let lines = (0..count).map(|n| line(sources[n % sources.len()], n, &text(n))).collect();
    update(s, Action::Tail(id, TailEvent::Lines(lines)));
}

/// A tail of the profile's task, started with `l`, with its number.
fn tailing() -> (AppState, u64) {
    let mut s = with_a_task();
    let (id, _) = tail_effect(&update(&mut s, key('l')));
    update(&mut s, Action::Tail(id, TailEvent::Mode(TailMode::Polling)));
    (s, id)
}

fn request(n: usize) -> String {
    format!("GET /api/items/{n} 200 {}ms", n % 7)
}

#[test]
fn l_tails_the_selected_task_or_service_and_an_earlier_tails_lines_are_dropped() {
    let mut s = with_a_task();
    let (first, target) = tail_effect(&update(&mut s, key('l')));
    assert_eq!((target.cluster.as_str(), target.task.as_deref(), target.service), ("dev", Some(TASK), None));
    assert!(target.follow && target.live);
    assert_eq!(s.focus, PaneId::Logs);

    update(&mut s, key('3'));
    update(&mut s, code(KeyCode::Esc));
    let (second, target) = tail_effect(&update(&mut s, key('l')));
    assert_eq!(
        (target.task, target.service.as_deref()),
        (None, Some("api")),
        "a service, at the services level"
    );
    assert!(second > first);

    feed(&mut s, first, &["old"], 3, request);
    assert!(s.logs.buffer.is_empty(), "lines of the tail before are dropped");
    feed(&mut s, second, &["5f0c6e2a"], 3, request);
    assert_eq!(s.logs.buffer.len(), 3);
    update(&mut s, Action::Tail(second, TailEvent::Ended(Some("access denied: no".into()))));
    assert_eq!((s.logs.ended, s.logs.failed.as_deref()), (true, Some("access denied: no")));
}

#[test]
fn l_needs_aws_and_something_to_tail() {
    let mut s = state_with(Settings::default(), Keymap::defaults().unwrap());
    update(&mut s, key('3'));
    assert!(update(&mut s, key('l')).is_empty());
    assert_eq!(s.flash.as_deref(), Some("tail logs needs AWS credentials, and none were found"));
    let mut s = ready(Profile::default());
    update(&mut s, key('4'));
    assert!(update(&mut s, key('l')).is_empty());
    assert_eq!(
        s.flash.as_deref(),
        Some(
            "tail logs: select a service or task in the ECS pane (or set cluster and service in wharf.toml)"
        )
    );
    // In the Logs pane with a profile service: that service.
    let mut s = ready(dev());
    update(&mut s, key('4'));
    let (_, target) = tail_effect(&update(&mut s, key('l')));
    assert_eq!(target.service.as_deref(), Some("api"));
}

#[test]
fn l_on_a_deploy_job_tails_the_tasks_that_are_not_on_the_old_revision() {
    let mut s = ready(dev());
    let plan = wharf::aws::ecs::Plan::existing(
        "dev",
        "api",
        "api:3",
        "api:2",
        vec!["container api: image a → b".into()],
        "arn:aws:ecs:eu-west-1:123456789012:task-definition/api:2",
    );
    update(&mut s, Action::Loaded(Loaded::Plan(Ok(plan))));
    assert!(matches!(s.overlay, Some(Overlay::Confirm(_))));
    crate::update::a_moment_later(&mut s);
    let started = update(&mut s, key('y'));
    assert!(matches!(started.as_slice(), [Effect::StartJob { .. }]), "{started:?}");
    update(&mut s, key('6'));
    let (_, target) = tail_effect(&update(&mut s, key('l')));
    assert_eq!(target.service.as_deref(), Some("api"));
    assert_eq!(target.replacing.as_deref(), Some("api:3"));
    assert_eq!(target.describe(), "service api, new tasks");
}

#[test]
fn moving_up_pauses_new_lines_wait_below_and_the_bottom_follows_again() {
    let (mut s, id) = tailing();
    feed(&mut s, id, &["5f0c6e2a"], 100, request);
    assert_eq!(s.logs.view_bottom(), Some(99));
    update(&mut s, key('k'));
    update(&mut s, key('k'));
    assert!(!s.logs.follow);
    assert_eq!(s.logs.view_bottom(), Some(97));
    feed(&mut s, id, &["5f0c6e2a"], 5, request);
    assert_eq!(s.logs.view_bottom(), Some(97), "the view stays where it was");
    assert_eq!(s.logs.below(), 7);
    update(&mut s, code(KeyCode::PageUp));
    assert!(s.logs.view_bottom() < Some(97));
    update(&mut s, key('g'));
    assert_eq!(s.logs.view_bottom(), Some(0));
    update(&mut s, key('G'));
    assert!(s.logs.follow);
    assert_eq!(s.logs.view_bottom(), Some(104));
    update(&mut s, key('f'));
    assert_eq!((s.logs.follow, s.flash.as_deref()), (false, Some("paused: new lines wait below")));
    update(&mut s, key('f'));
    assert!(s.logs.follow);
    // Down on the newest line follows again.
    update(&mut s, key('k'));
    update(&mut s, key('j'));
    assert!(s.logs.follow);
}

#[test]
fn the_ring_buffer_keeps_log_lines_lines_and_counts_the_rest() {
    let mut s = ready(Profile { log_lines: Some(5), ..dev() });
    update(&mut s, key('4'));
    let (id, _) = tail_effect(&update(&mut s, key('l')));
    feed(&mut s, id, &["a"], 12, |n| format!("line {n}"));
    assert_eq!((s.logs.buffer.len(), s.logs.buffer.dropped()), (5, 7));
    let held: Vec<_> = s.logs.buffer.iter_from(0).map(|(_, l)| l.text.clone()).collect();
    assert_eq!(held, ["line 7", "line 8", "line 9", "line 10", "line 11"]);
}

fn type_text(s: &mut AppState, text: &str) {
    for c in text.chars() {
        update(s, key(c));
    }
}

#[test]
fn search_goes_to_the_newest_match_and_n_and_shift_n_move_between_matches() {
    let (mut s, id) = tailing();
    let text = |n: usize| if n % 40 == 10 { format!("ERROR timeout after {n}s") } else { request(n) };
    feed(&mut s, id, &["5f0c6e2a"], 100, text);
    update(&mut s, key('/'));
    assert!(s.filtering);
    type_text(&mut s, "error");
    update(&mut s, code(KeyCode::Enter));
    assert!(!s.filtering);
    assert_eq!(s.logs.buffer.current_search().map(|x| x.count()), Some(3));
    assert_eq!((s.logs.current, s.logs.follow), (Some(90), false), "the newest match, paused there");
    update(&mut s, key('N'));
    assert_eq!(s.logs.current, Some(50));
    update(&mut s, key('N'));
    update(&mut s, key('N'));
    assert_eq!(s.logs.current, Some(10));
    assert_eq!(s.flash.as_deref(), Some("no more matches of `error` above"));
    update(&mut s, key('n'));
    assert_eq!(s.logs.current, Some(50));
    // New lines that match join the search.
    feed(&mut s, id, &["5f0c6e2a"], 20, |n| if n == 5 { "another error".into() } else { request(n) });
    assert_eq!(s.logs.buffer.current_search().map(|x| x.count()), Some(4));
    update(&mut s, code(KeyCode::Esc));
    assert!(s.logs.buffer.current_search().is_none());
    update(&mut s, key('/'));
    type_text(&mut s, "nowhere");
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.flash.as_deref(), Some("no line matches `nowhere`"));
    update(&mut s, key('n'));
    assert_eq!(s.logs.current, None);
}

#[test]
fn s_saves_every_line_with_its_full_time_and_task_to_a_new_file() {
    let (mut s, id) = tailing();
    update(&mut s, key('s'));
    assert_eq!(s.flash.as_deref(), Some("nothing to save yet: no lines have arrived"));
    feed(&mut s, id, &["5f0c6e2a"], 2, request);
    update(&mut s, key('s'));
    let Some(Overlay::Prompt(prompt)) = &s.overlay else { panic!("{:?}", s.overlay) };
    assert_eq!(prompt.text, "wharf-task-5f0c6e2a-20261121T120000Z.log");
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("taken.log");
    std::fs::write(&taken, "keep me").unwrap();
    update(
        &mut s,
        Action::Input(crossterm::event::KeyEvent::new(
            KeyCode::Char('u'),
            crossterm::event::KeyModifiers::CONTROL,
        )),
    );
    update(&mut s, Action::Paste(taken.display().to_string()));
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    let Some(Overlay::Prompt(prompt)) = &s.overlay else { panic!("{:?}", s.overlay) };
    assert_eq!(prompt.error, Some(format!("{} already exists: give another name", taken.display())));
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "keep me");

    let path = dir.path().join("api.log");
    update(
        &mut s,
        Action::Input(crossterm::event::KeyEvent::new(
            KeyCode::Char('u'),
            crossterm::event::KeyModifiers::CONTROL,
        )),
    );
    update(&mut s, Action::Paste(path.display().to_string()));
    let effects = update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.overlay, None);
    assert_eq!(
        effects,
        [Effect::SaveLogs {
            path,
            text: "2026-11-21T11:59:00.000Z [5f0c6e2a] GET /api/items/0 200 0ms\n\
                   2026-11-21T11:59:00.250Z [5f0c6e2a] GET /api/items/1 200 1ms\n"
                .into(),
            lines: 2,
        }]
    );
}

#[test]
fn w_and_t_change_wrapping_and_times() {
    let (mut s, _) = tailing();
    update(&mut s, key('w'));
    assert!(s.logs.wrap);
    update(&mut s, key('t'));
    assert_eq!(s.flash.as_deref(), Some("times in local time"));
    update(&mut s, key('t'));
    assert_eq!(s.flash.as_deref(), Some("times hidden"));
    update(&mut s, key('t'));
    assert_eq!(s.flash.as_deref(), Some("times in UTC"));
}

// --- how it looks -----------------------------------------------------------

#[test]
fn logs_pane_idle() {
    let mut s = ready(dev());
    update(&mut s, key('4'));
    snapshot("logs_idle", &s);
}

#[test]
fn logs_pane_following_three_tasks() {
    let mut s = with_a_task();
    update(&mut s, code(KeyCode::Esc));
    let (id, _) = tail_effect(&update(&mut s, key('l')));
    update(&mut s, Action::Tail(id, TailEvent::Mode(TailMode::Live)));
    feed(&mut s, id, &["5f0c6e2a", "0a1b2c3d", "9e8d7c6b"], 60, request);
    snapshot("logs_following", &s);
    // Each task's prefix has its own colour.
    let terminal = render(&s, 120, 40);
    let buffer = terminal.backend().buffer();
    let colour_of = |text: &str| {
        (0..40u16).find_map(|y| {
            let row: String = (0..120u16).map(|x| buffer[(x, y)].symbol().to_string()).collect();
            let at = row.find(text)?;
            let x = row[..at].chars().count() as u16;
            Some(buffer[(x, y)].fg)
        })
    };
    let colours = [colour_of("5f0c6e2a GET"), colour_of("0a1b2c3d GET"), colour_of("9e8d7c6b GET")];
    assert_eq!(colours, [Some(Color::Cyan), Some(Color::Green), Some(Color::Magenta)]);
}

#[test]
fn logs_pane_wrapped_and_paused() {
    let (mut s, id) = tailing();
    feed(&mut s, id, &["5f0c6e2a"], 30, |n| {
        format!(
            "{} {}",
            request(n),
            "payload={\"user\":42,\"items\":[1,2,3],\"note\":\"a long line that wraps\"}"
        )
    });
    update(&mut s, key('w'));
    update(&mut s, key('k'));
    update(&mut s, key('k'));
    update(&mut s, key('k'));
    feed(&mut s, id, &["5f0c6e2a"], 4, request);
    snapshot("logs_wrapped_paused", &s);
}

#[test]
fn logs_pane_search_highlights_the_matches() {
    let (mut s, id) = tailing();
    let text = |n: usize| {
        if n.is_multiple_of(3) { format!("ERROR db timeout, error count {n}") } else { request(n) }
    };
    feed(&mut s, id, &["5f0c6e2a"], 40, text);
    update(&mut s, key('/'));
    type_text(&mut s, "error");
    update(&mut s, code(KeyCode::Enter));
    update(&mut s, key('N'));
    snapshot("logs_search", &s);
    let terminal = render(&s, 120, 40);
    let buffer = terminal.backend().buffer();
    let marked: Vec<(String, Color)> = (0..40u16)
        .flat_map(|y| (60..120u16).map(move |x| (x, y)))
        .filter(|&(x, y)| matches!(buffer[(x, y)].bg, Color::Yellow | Color::LightYellow))
        .map(|(x, y)| (buffer[(x, y)].symbol().to_string(), buffer[(x, y)].bg))
        .collect();
    let words: String = marked.iter().map(|(c, _)| c.as_str()).collect();
    assert!(!words.is_empty() && words.to_lowercase().chars().all(|c| "error".contains(c)), "{words}");
    assert!(marked.iter().any(|(_, bg)| *bg == Color::LightYellow), "the current match stands out");
}

#[test]
fn logs_pane_with_dropped_lines_and_a_note() {
    let mut s = ready(Profile { log_lines: Some(50), ..dev() });
    update(&mut s, key('4'));
    let (id, _) = tail_effect(&update(&mut s, key('l')));
    update(&mut s, Action::Tail(id, TailEvent::Mode(TailMode::Polling)));
    feed(&mut s, id, &["5f0c6e2a"], 1234, request);
    update(
        &mut s,
        Action::Tail(id, TailEvent::Note("throttled by CloudWatch Logs: reading less often".into())),
    );
    snapshot("logs_dropped", &s);
}

#[test]
fn z_zooms_the_focused_pane_to_the_whole_screen_and_back() {
    let (mut s, id) = tailing();
    feed(&mut s, id, &["5f0c6e2a", "0a1b2c3d"], 200, request);
    update(&mut s, key('z'));
    assert!(s.zoomed);
    snapshot("logs_zoomed", &s);
    update(&mut s, key('z'));
    assert!(!s.zoomed);
}

fn older_requests(effects: &[Effect]) -> Vec<(u64, usize)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::TailOlder { id, lines } => Some((*id, *lines)),
            _ => None,
        })
        .collect()
}

fn screen(s: &AppState) -> String {
    format!("{}", render(s, 120, 30).backend())
}

/// The text at the bottom of the view.
fn at_bottom(s: &AppState) -> String {
    s.logs.view_bottom().and_then(|b| s.logs.buffer.get(b)).map(|l| l.text.clone()).unwrap_or_default()
}

#[test]
fn scrolling_past_the_top_loads_older_lines_above_without_moving_the_view() {
    let (mut s, id) = tailing();
    feed(&mut s, id, &["5f0c6e2a"], 100, request);
    assert!(older_requests(&update(&mut s, key('k'))).is_empty(), "far from the top: nothing asked");
    let asked = older_requests(&update(&mut s, key('g')));
    assert_eq!(asked, [(id, wharf::app::logs::OLDER_LINES)]);
    assert!(screen(&s).contains("loading older…"), "{}", screen(&s));
    assert!(older_requests(&update(&mut s, key('k'))).is_empty(), "one request at a time");

    let seen = at_bottom(&s);
    let older = (0..50).map(|n| line("5f0c6e2a", n, &format!("older {n}"))).collect();
    update(&mut s, Action::Tail(id, TailEvent::Older { lines: older, more: true }));
    assert_eq!(s.logs.buffer.len(), 150);
    assert_eq!(at_bottom(&s), seen, "the view stays on the lines it showed");
    assert!(!screen(&s).contains("loading older…"));
    let first: Vec<String> = s.logs.buffer.iter_from(0).take(2).map(|(_, l)| l.text.clone()).collect();
    assert_eq!(first, ["older 0", "older 1"]);

    // Up to the new top: asked again; the stream's start reached, never again.
    let asked = older_requests(&update(&mut s, key('g')));
    assert_eq!(asked.len(), 1);
    update(&mut s, Action::Tail(id, TailEvent::Older { lines: vec![], more: false }));
    assert!(older_requests(&update(&mut s, key('g'))).is_empty());
    // An answer for an earlier tail is dropped.
    update(&mut s, Action::Tail(id - 1, TailEvent::Older { lines: vec![line("x", 0, "stale")], more: true }));
    assert_eq!(s.logs.buffer.len(), 150);
}

#[test]
fn older_lines_stop_at_what_the_pane_holds() {
    let mut s = ready(Profile { log_lines: Some(120), ..dev() });
    update(&mut s, key('4'));
    let (id, _) = tail_effect(&update(&mut s, key('l')));
    feed(&mut s, id, &["a"], 100, |n| format!("line {n}"));
    assert_eq!(older_requests(&update(&mut s, key('g'))).len(), 1);
    let older = (0..50).map(|n| line("a", n, &format!("older {n}"))).collect();
    update(&mut s, Action::Tail(id, TailEvent::Older { lines: older, more: true }));
    assert_eq!((s.logs.buffer.len(), s.logs.buffer.dropped()), (120, 0), "the newest 20 of them fit");
    assert_eq!(s.logs.buffer.get(0).map(|l| l.text.as_str()), Some("older 30"));
    assert!(s.flash.as_deref().is_some_and(|f| f.contains("holds 120 lines (log_lines")), "{:?}", s.flash);
    assert!(older_requests(&update(&mut s, key('g'))).is_empty());
}

#[test]
fn the_logs_are_watched_while_the_terminal_has_focus_and_the_pane_is_on_screen() {
    let (mut s, _) = tailing();
    assert!(s.logs_watched());
    update(&mut s, key('1'));
    assert!(s.logs_watched(), "another pane focused: the Logs pane is still on screen");
    update(&mut s, key('z'));
    assert!(!s.logs_watched(), "another pane zoomed hides it");
    update(&mut s, key('z'));
    update(&mut s, Action::Focus(false));
    assert!(!s.logs_watched(), "the terminal lost the focus");
    update(&mut s, Action::Focus(true));
    assert!(s.logs_watched());
}
