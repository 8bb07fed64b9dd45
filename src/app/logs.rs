//! The Logs pane's part of [`super::update`]: starting a tail, taking in its
//! lines, moving through them, searching, and saving them to a file.

use std::path::PathBuf;

use super::action::Action;
use super::effect::Effect;
use super::shared::service_target;
use super::state::{AppState, LogsPane, Overlay, PaneId, Prompt, PromptPurpose, TimeMode};
use crate::aws::AwsStatus;
use crate::logs::buffer::clean;
use crate::logs::{TailEvent, TailTarget};

/// `l`: tail the task or service selected in the ECS pane, the new tasks of
/// the deploy selected in the Jobs pane, or else the profile's service.
pub(super) fn start_tail(state: &mut AppState, effects: &mut Vec<Effect>) {
    if !matches!(state.aws, AwsStatus::Ready { .. }) {
        state.flash = Some("tail logs needs AWS credentials, and none were found".into());
        return;
    }
    let target = match state.focus {
        PaneId::Ecs => ecs_target(state),
        PaneId::Jobs => {
            let job = state.jobs.visible().get(state.jobs.cursor.selected).copied();
            match job.and_then(|j| j.logs.clone()) {
                Some(target) => Some(target),
                None => {
                    state.flash = Some("tail logs: select a deploy or rollback job".into());
                    return;
                }
            }
        }
        PaneId::Logs => state.logs.target.clone(),
        _ => None,
    };
    let target = target.or_else(|| {
        let p = &state.settings.profile;
        Some(service_target(p.cluster.clone()?, p.service.clone()?))
    });
    match target {
        Some(target) => begin(state, target, effects),
        None => state.flash = Some(
            "tail logs: select a service or task in the ECS pane (or set cluster and service in wharf.toml)"
                .into(),
        ),
    }
}

/// The selected task, or the selected (or opened) service.
fn ecs_target(state: &AppState) -> Option<TailTarget> {
    let ecs = &state.ecs;
    let cluster = ecs.cluster.clone()?;
    match &ecs.service {
        Some(service) => {
            let mut target = service_target(cluster, service.clone());
            if let Some(task) = ecs.visible_tasks().get(ecs.task_cursor.selected) {
                target.task = Some(task.id.clone());
                target.service = None;
            }
            Some(target)
        }
        None => {
            let service = ecs.visible_services().get(ecs.service_cursor.selected)?.name.clone();
            Some(service_target(cluster, service))
        }
    }
}

fn begin(state: &mut AppState, target: TailTarget, effects: &mut Vec<Effect>) {
    let old = &state.logs;
    let mut pane = LogsPane::new(old.buffer.capacity());
    (pane.tail, pane.wrap, pane.time) = (old.tail + 1, old.wrap, old.time);
    let target = TailTarget { newest: target.newest.min(pane.buffer.capacity()), ..target };
    pane.target = Some(target.clone());
    effects.push(Effect::Tail { id: pane.tail, target });
    state.logs = pane;
    state.focus = PaneId::Logs;
}

/// What a tail handed over; answers of an earlier tail are dropped.
pub(super) fn apply_tail(state: &mut AppState, id: u64, event: TailEvent) {
    let pane = &mut state.logs;
    if id != pane.tail {
        return;
    }
    match event {
        TailEvent::Source(label) => pane.sources.push(label),
        TailEvent::Lines(lines) => {
            pane.buffer.extend(lines.into_iter().map(|mut l| {
                l.text = clean(l.text);
                l
            }));
        }
        TailEvent::Older { lines, more } => {
            pane.loading_older = false;
            pane.older_exist = more;
            let lines = lines.into_iter().map(|mut l| {
                l.text = clean(l.text);
                l
            });
            let (added, room) = pane.buffer.prepend(lines.collect());
            // The view stays on the lines it showed.
            pane.bottom += added;
            pane.current = pane.current.map(|c| c + added);
            if !room {
                pane.older_exist = false;
                state.flash = Some(format!(
                    "the pane holds {} lines (log_lines in wharf.toml): older ones are not read",
                    pane.buffer.capacity()
                ));
            }
        }
        TailEvent::Note(text) => pane.note = Some(text),
        TailEvent::Mode(mode) => pane.mode = Some(mode),
        TailEvent::Ended(error) => {
            pane.ended = true;
            pane.failed = error;
        }
    }
}

/// Rows the Logs pane shows (roughly: its share of the screen), for page keys.
fn page(state: &AppState) -> i64 {
    let screen = i64::from(state.size.1.saturating_sub(2));
    let rows = if state.zoomed { screen } else { screen * 31 / 100 };
    (rows - 4).max(1)
}

/// The Logs pane's own handling of `action`; false when it is not the pane's.
pub(super) fn perform(state: &mut AppState, action: &Action, effects: &mut Vec<Effect>) -> bool {
    let page = page(state);
    let pane = &mut state.logs;
    match action {
        Action::Down => scroll(pane, 1),
        Action::Up => scroll(pane, -1),
        Action::PageDown => scroll(pane, page),
        Action::PageUp => scroll(pane, -page),
        Action::Top => {
            pane.follow = false;
            pane.bottom = pane.buffer.first_seq();
        }
        _ => return perform_more(state, action),
    }
    // Scrolled to within a page of the oldest line held: read older ones.
    let pane = &mut state.logs;
    let near_top = pane.view_bottom().is_some_and(|b| b < pane.buffer.first_seq() + page.unsigned_abs() * 2);
    if near_top && !pane.follow {
        ask_for_older(state, effects);
    }
    true
}

/// Lines each stream is asked for when the view reaches the oldest line held.
pub const OLDER_LINES: usize = 1_000;

fn ask_for_older(state: &mut AppState, effects: &mut Vec<Effect>) {
    let pane = &mut state.logs;
    if pane.loading_older || !pane.older_exist || pane.ended || pane.target.is_none() {
        return;
    }
    if pane.buffer.dropped() > 0 || pane.buffer.len() >= pane.buffer.capacity() {
        pane.older_exist = false;
        state.flash = Some(format!(
            "the pane holds {} lines (log_lines in wharf.toml): older ones are not read",
            pane.buffer.capacity()
        ));
        return;
    }
    pane.loading_older = true;
    effects.push(Effect::TailOlder { id: pane.tail, lines: OLDER_LINES });
}

fn perform_more(state: &mut AppState, action: &Action) -> bool {
    let pane = &mut state.logs;
    match action {
        Action::Bottom => pane.follow = true,
        Action::Follow => {
            pane.bottom = pane.view_bottom().unwrap_or(0);
            pane.follow = !pane.follow;
            state.flash =
                Some(if pane.follow { "following new lines" } else { "paused: new lines wait below" }.into());
        }
        Action::Wrap => pane.wrap = !pane.wrap,
        Action::Timestamps => {
            pane.time = pane.time.next();
            let now = match pane.time {
                TimeMode::Utc => "times in UTC",
                TimeMode::Local => "times in local time",
                TimeMode::Off => "times hidden",
            };
            state.flash = Some(now.into());
        }
        Action::SearchNext | Action::SearchPrev => {
            let forward = *action == Action::SearchNext;
            jump(state, forward);
        }
        Action::Save => ask_where_to_save(state),
        Action::Back => {
            pane.cursor.filter.clear();
            pane.buffer.search("");
            pane.current = None;
        }
        Action::Filter if pane.target.is_none() => {
            state.flash = Some("nothing to search: no logs are tailed (l on a service or task)".into());
        }
        Action::Open => {}
        _ => return false,
    }
    true
}

/// Moves the view by `delta` lines; reaching the newest line follows again.
fn scroll(pane: &mut LogsPane, delta: i64) {
    let (Some(from), Some(last)) = (pane.view_bottom(), pane.buffer.last_seq()) else { return };
    let first = pane.buffer.first_seq();
    let to = from.saturating_add_signed(delta).clamp(first, last);
    if delta > 0 && to == last {
        pane.follow = true;
    } else {
        pane.follow = false;
        pane.bottom = to;
    }
}

/// Searches for what was typed after `/` (enter), and shows the newest match
/// at or above the view.
pub(super) fn search(state: &mut AppState) {
    let pane = &mut state.logs;
    let query = pane.cursor.filter.clone();
    pane.buffer.search(&query);
    pane.current = None;
    if query.is_empty() {
        return;
    }
    let from = pane.view_bottom().unwrap_or(0);
    let found = pane.buffer.next_match(from + 1, false).or_else(|| pane.buffer.next_match(from, true));
    match found {
        Some(seq) => show_match(pane, seq),
        None => state.flash = Some(format!("no line matches `{query}`")),
    }
}

fn show_match(pane: &mut LogsPane, seq: u64) {
    pane.current = Some(seq);
    pane.follow = false;
    pane.bottom = seq;
}

/// `n` (newer) and `N` (older): the next match from the current one.
fn jump(state: &mut AppState, forward: bool) {
    let pane = &mut state.logs;
    let Some(search) = pane.buffer.current_search() else {
        state.flash = Some("no search: press / to search the logs".into());
        return;
    };
    let query = search.query.clone();
    let from = pane.current.or(pane.view_bottom()).unwrap_or(0);
    match pane.buffer.next_match(from, forward) {
        Some(seq) => show_match(pane, seq),
        None => {
            let way = if forward { "below" } else { "above" };
            state.flash = Some(format!("no more matches of `{query}` {way}"));
        }
    }
}

fn ask_where_to_save(state: &mut AppState) {
    let pane = &state.logs;
    let Some(target) = &pane.target else {
        state.flash = Some("nothing to save: no logs are tailed (l on a service or task)".into());
        return;
    };
    if pane.buffer.is_empty() {
        state.flash = Some("nothing to save yet: no lines have arrived".into());
        return;
    }
    let slug: String = target
        .describe()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .collect();
    let when =
        chrono::DateTime::from_timestamp(state.clock.wall, 0).unwrap_or_default().format("%Y%m%dT%H%M%SZ");
    let title = format!("Save {} lines to the file", pane.buffer.len());
    state.overlay = Some(Overlay::Prompt(Prompt::new(
        title,
        format!("wharf-{slug}-{when}.log"),
        PromptPurpose::SaveLogs,
    )));
}

/// The save prompt's answer: every line held, oldest first, each with its
/// full UTC time and its task, to a file that must not exist yet.
pub(super) fn save(state: &mut AppState, text: &str, effects: &mut Vec<Effect>) -> Result<(), String> {
    let path = text.trim();
    if path.is_empty() {
        return Err("give a file name".into());
    }
    let path = match path.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(rest),
        None => PathBuf::from(path),
    };
    // Checked here so the prompt can say so; the write itself never overwrites either.
    if path.exists() {
        return Err(format!("{} already exists: give another name", path.display()));
    }
    let buffer = &state.logs.buffer;
    let mut out = String::with_capacity(buffer.len() * 96);
    for (_, line) in buffer.iter_from(0) {
        let time = chrono::DateTime::from_timestamp_millis(line.timestamp).unwrap_or_default();
        out.push_str(&format!("{} [{}] {}\n", time.format("%Y-%m-%dT%H:%M:%S%.3fZ"), line.source, line.text));
    }
    effects.push(Effect::SaveLogs { path, text: out, lines: buffer.len() });
    Ok(())
}
