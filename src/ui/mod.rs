//! Drawing: a pure function from [`AppState`] to a frame. One file per pane in
//! `panes/`; this file lays them out and draws the status line and overlays.

pub mod charts;
pub mod panes;
mod picker;
pub mod terminal;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::app::Section;
use crate::app::{Action, AppState, EngineView, Overlay, PaneId};
use crate::aws::AwsStatus;
use crate::config::Theme;

/// The smallest terminal wharf draws its panes in.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 20;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, state: &AppState) {
    draw_in_colour(frame, state);
    if state.settings.no_color {
        // What colour said is also said by words, bold or reverse: keep those, drop the colours.
        for cell in frame.buffer_mut().content.iter_mut() {
            cell.fg = Color::Reset;
            cell.bg = Color::Reset;
            cell.underline_color = Color::Reset;
        }
    } else if let Some(palette) = palette(state.settings.theme) {
        for cell in frame.buffer_mut().content.iter_mut() {
            cell.fg = palette(cell.fg);
            cell.bg = palette(cell.bg);
        }
    }
}

/// The panes are drawn in the terminal's 16 named colours; a fixed theme
/// turns each into a 256-colour tone chosen for its background.
fn palette(theme: Theme) -> Option<fn(Color) -> Color> {
    fn dark(c: Color) -> Color {
        match c {
            Color::Cyan => Color::Indexed(80),
            Color::DarkGray => Color::Indexed(245),
            Color::Yellow => Color::Indexed(221),
            Color::LightYellow => Color::Indexed(229),
            Color::Green => Color::Indexed(114),
            Color::Red => Color::Indexed(203),
            Color::Magenta => Color::Indexed(176),
            Color::Black => Color::Indexed(234),
            other => other,
        }
    }
    fn light(c: Color) -> Color {
        match c {
            Color::Cyan => Color::Indexed(25),
            Color::DarkGray => Color::Indexed(242),
            Color::Yellow => Color::Indexed(130),
            Color::LightYellow => Color::Indexed(223),
            Color::Green => Color::Indexed(28),
            Color::Red => Color::Indexed(160),
            Color::Magenta => Color::Indexed(90),
            Color::Black => Color::Indexed(255),
            other => other,
        }
    }
    match theme {
        Theme::Terminal => None,
        Theme::Dark => Some(dark),
        Theme::Light => Some(light),
    }
}

fn draw_in_colour(frame: &mut Frame, state: &AppState) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(frame, area);
        return;
    }
    let [panes, status] = Layout::vertical([Constraint::Min(0), Constraint::Length(2)]).areas(area);
    if state.zoomed {
        draw_pane(frame, panes, state, state.focus);
    } else {
        draw_grid(frame, panes, state);
    }
    draw_status(frame, status, state);
    match &state.overlay {
        Some(Overlay::Help { scroll }) => draw_help(frame, area, state, *scroll),
        Some(Overlay::ConfirmQuit) => draw_confirm_quit(frame, area, state),
        Some(Overlay::Prompt(prompt)) => draw_prompt(frame, area, prompt),
        Some(Overlay::Confirm(confirm)) => draw_confirm(frame, area, confirm),
        Some(Overlay::Pick(picker)) => picker::draw(frame, area, picker),
        None => {}
    }
    if state.cleaning_up {
        draw_cleaning_up(frame, area, state);
    }
}

/// Quitting while jobs clean up after themselves.
fn draw_cleaning_up(frame: &mut Frame, area: Rect, state: &AppState) {
    let n = state.jobs.active_count();
    let text = vec![
        Line::from(format!("Cleaning up {n} job{}…", if n == 1 { "" } else { "s" })),
        Line::from("(aborting uploads, putting back what a restore replaced)"),
        Line::from(""),
        Line::from(vec![
            Span::from("ctrl-c").bold().fg(Color::Cyan),
            " quit now; `wharf doctor` finds what is left".into(),
        ]),
    ];
    let popup = centred(area, 60, 6);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(text).block(Block::bordered().border_type(BorderType::Rounded).title(" Quitting ")),
        popup,
    );
}

/// The six panes, two to a row.
fn draw_grid(frame: &mut Frame, panes: Rect, state: &AppState) {
    let rows = Layout::vertical([
        Constraint::Percentage(38),
        Constraint::Percentage(31),
        Constraint::Percentage(31),
    ])
    .split(panes);
    let grid =
        [(PaneId::Images, PaneId::Registry), (PaneId::Ecs, PaneId::Logs), (PaneId::Snapshots, PaneId::Jobs)];
    for (row, (left, right)) in rows.iter().zip(grid) {
        let [l, r] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(*row);
        draw_pane(frame, l, state, left);
        draw_pane(frame, r, state, right);
    }
}

fn draw_pane(frame: &mut Frame, area: Rect, state: &AppState, pane: PaneId) {
    let focused = state.focus == pane;
    let number = PaneId::ALL.iter().position(|p| *p == pane).map_or(0, |i| i + 1);
    let border = if focused { Style::new().fg(Color::Cyan) } else { Style::new().fg(Color::DarkGray) };
    let title =
        if focused { Span::from(pane.title()).bold().fg(Color::Cyan) } else { Span::from(pane.title()) };
    let mut heading = vec![" ".into(), title, " ".into()];
    // Paused while nobody looks, or a refresh that failed (the rows kept).
    if let Some(note) = crate::app::refresh::note(state, pane) {
        let colour = if note == "paused" { Color::DarkGray } else { Color::Yellow };
        heading.push(Span::from(format!("· {note} ")).fg(colour));
    }
    let block = Block::new()
        .borders(Borders::ALL)
        .border_type(if focused { BorderType::Thick } else { BorderType::Plain })
        .border_style(border)
        .title(Line::from(heading))
        .title_top(Line::from(format!(" {number} ")).right_aligned().fg(Color::DarkGray));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    match pane {
        PaneId::Images => panes::images::render(frame, inner, state),
        PaneId::Registry => panes::registry::render(frame, inner, state),
        PaneId::Ecs => panes::ecs::render(frame, inner, state),
        PaneId::Logs => panes::logs::render(frame, inner, state),
        PaneId::Snapshots => panes::snapshots::render(frame, inner, state),
        PaneId::Jobs => panes::jobs::render(frame, inner, state),
    }
}

fn draw_too_small(frame: &mut Frame, area: Rect) {
    let text = Text::from(vec![
        Line::from("terminal too small").bold(),
        Line::from(format!("{}×{} — wharf needs at least {MIN_WIDTH}×{MIN_HEIGHT}", area.width, area.height)),
        Line::from("q quits"),
    ]);
    let height = 3.min(area.height);
    let y = area.y + area.height.saturating_sub(height) / 2;
    frame
        .render_widget(Paragraph::new(text).centered().wrap(Wrap { trim: true }), Rect { y, height, ..area });
}

fn draw_status(frame: &mut Frame, area: Rect, state: &AppState) {
    let [info, hints] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let sep = || Span::from(" · ").fg(Color::DarkGray);
    let s = &state.settings;
    let mut spans = Vec::new();
    if area.width >= 100 {
        spans.push(Span::from(" wharf ").bold().fg(Color::Black).bg(Color::Cyan));
    }
    let name = s.profile_name.clone().unwrap_or_else(|| "none".into());
    // A protected profile (production) stands out, in words too for NO_COLOR.
    let name = if s.profile.protected {
        Span::from(format!("{name} (protected)")).bold().fg(Color::Red)
    } else {
        Span::from(name).bold()
    };
    spans.extend([" profile ".into(), name, sep()]);
    // This machine against the loop, where it is read first.
    if let Some((words, in_sync)) = crate::app::standing::summary(state) {
        spans.extend([Span::from(words).fg(if in_sync { Color::Green } else { Color::Yellow }), sep()]);
    }
    if let Some(aws_profile) = &s.profile.aws_profile {
        spans.extend(["aws ".into(), Span::from(aws_profile.clone()).bold(), sep()]);
    }
    let region = s.profile.region.as_deref().or(state.aws.region());
    spans.push(Span::from(region.unwrap_or("no region").to_string()).bold());
    match &state.aws {
        AwsStatus::Checking => spans.extend([sep(), Span::from("checking credentials").fg(Color::DarkGray)]),
        AwsStatus::Ready { .. } if state.throttled_lately() => {
            spans.extend([sep(), Span::from("throttled by AWS: slowing down, retrying").fg(Color::Yellow)])
        }
        AwsStatus::Ready { .. } => {}
        AwsStatus::NoCredentials { .. } => {
            spans.extend([sep(), Span::from("no AWS credentials").fg(Color::Yellow)])
        }
    }
    spans.push(sep());
    spans.push("docker ".into());
    let (endpoint, style) = match &state.images.engine {
        EngineView::Connecting { endpoint } => (endpoint.clone(), Style::new().fg(Color::DarkGray)),
        EngineView::Connected { endpoint, api_version } => {
            (format!("{endpoint} {api_version}"), Style::new().add_modifier(Modifier::BOLD))
        }
        EngineView::Unreachable { endpoint, .. } => {
            (format!("{endpoint} unreachable"), Style::new().fg(Color::Red))
        }
    };
    spans.push(Span::styled(endpoint, style));
    if s.read_only {
        spans.push(sep());
        spans.push(Span::from("read-only").fg(Color::Yellow).bold());
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), info);

    let line = match &state.flash {
        Some(message) => Line::from(Span::from(format!(" {message}")).fg(Color::Yellow)),
        None => hint_line(state),
    };
    frame.render_widget(Paragraph::new(line), hints);
}

/// Key hints for the focused pane, generated from the loaded keymap: the pane's
/// own actions first, then what every pane has, most needed first.
pub fn hint_line(state: &AppState) -> Line<'static> {
    let mut hints: Vec<(String, &'static str)> = Vec::new();
    let logs = state.focus == PaneId::Logs;
    if state.filtering && logs {
        hints.push(("enter".into(), "search"));
        hints.push(("esc".into(), "cancel search"));
    } else if state.filtering {
        hints.push(("enter".into(), "keep filter"));
        hints.push(("esc".into(), "clear filter"));
    } else {
        let section = state.focus.section();
        for binding in state.keymap.bindings(section) {
            if let Some(key) = binding.keys.first() {
                hints.push((key.to_string(), binding.action.description()));
            }
        }
        let common = [
            (Section::List, Action::Filter),
            (Section::Global, Action::Help),
            (Section::Global, Action::Quit),
            (Section::Global, Action::NextPane),
            (Section::List, Action::Down),
            (Section::List, Action::Up),
        ];
        for (section, action) in common {
            if state.focused_cursor().is_none()
                && matches!(action, Action::Filter | Action::Down | Action::Up)
            {
                continue;
            }
            if let Some(key) = first_key(state, section, &action) {
                let description =
                    if logs && action == Action::Filter { "search" } else { action.description() };
                hints.push((key, description));
            }
        }
    }
    let mut spans = vec![Span::from(" ")];
    for (keys, description) in hints {
        spans.push(Span::from(keys).fg(Color::Cyan).bold());
        spans.push(Span::from(format!(" {description}  ")));
    }
    Line::from(spans)
}

fn first_key(state: &AppState, section: Section, action: &Action) -> Option<String> {
    state
        .keymap
        .bindings(section)
        .find(|b| &b.action == action)
        .and_then(|b| b.keys.first())
        .map(|k| k.to_string())
}

/// A rectangle of `width`×`height` centred in `area`, clipped to it.
pub(crate) fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height }
}

/// Width of one column of the help: keys, then what they do.
const HELP_COLUMN: u16 = 38;

/// The bindings in columns, a block per section with the focused pane's
/// first: at 120×40 every binding is on screen at once; on smaller screens the
/// columns scroll together.
fn draw_help(frame: &mut Frame, area: Rect, state: &AppState, scroll: u16) {
    let first = state.key_sections();
    let order = first.into_iter().chain(Section::ALL.into_iter().filter(|s| !first.contains(s)));
    let blocks: Vec<Vec<Line>> = order
        .filter_map(|section| {
            let bindings: Vec<_> = state.keymap.bindings(section).collect();
            if bindings.is_empty() {
                return None;
            }
            let mut lines = vec![Line::from(format!("[{}]", section.name())).bold().fg(Color::Cyan)];
            for b in bindings {
                let keys = b.keys.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ");
                lines.push(Line::from(vec![
                    Span::from(format!("  {keys:<14} ")).bold(),
                    Span::from(b.action.description()),
                ]));
            }
            Some(lines)
        })
        .collect();
    let popup = Rect {
        x: area.x + 1,
        y: area.y + 1,
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(2),
    };
    let inner_width = popup.width.saturating_sub(2);
    let height = usize::from(popup.height.saturating_sub(2)).max(1);
    let count = usize::from((inner_width / HELP_COLUMN).max(1));
    // Blocks flow down a column and on to the next; one taller than a column takes the rest of it.
    let mut columns: Vec<Vec<Line>> = vec![Vec::new()];
    for block in blocks {
        let last = columns.len() - 1;
        let used = columns[last].len();
        if used > 0 && used + 1 + block.len() > height && columns.len() < count {
            columns.push(Vec::new());
        } else if used > 0 {
            columns[last].push(Line::from(""));
        }
        if let Some(column) = columns.last_mut() {
            column.extend(block);
        }
    }
    let tallest = columns.iter().map(Vec::len).max().unwrap_or(0);
    let max_scroll = u16::try_from(tallest.saturating_sub(height)).unwrap_or(u16::MAX);
    let hint = if max_scroll > 0 { " j/k scroll · esc close " } else { " esc close " };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .title(" Help — keys from the loaded keymap ")
        .title_bottom(Line::from(hint).right_aligned());
    frame.render_widget(Clear, popup);
    let inside = block.inner(popup);
    frame.render_widget(block, popup);
    let widths = vec![Constraint::Length(HELP_COLUMN); columns.len()];
    let areas = Layout::horizontal(widths).split(inside);
    for (lines, column) in columns.into_iter().zip(areas.iter()) {
        frame.render_widget(Paragraph::new(lines).scroll((scroll.min(max_scroll), 0)), *column);
    }
}

fn draw_confirm_quit(frame: &mut Frame, area: Rect, state: &AppState) {
    let n = state.jobs.active_count();
    let text = vec![
        Line::from(format!("{n} job{} still running.", if n == 1 { " is" } else { "s are" })),
        Line::from("Quit and cancel them?"),
        Line::from(""),
        Line::from(vec![
            Span::from("y").bold().fg(Color::Cyan),
            " quit   ".into(),
            Span::from("any other key").bold().fg(Color::Cyan),
            " stay".into(),
        ]),
    ];
    let popup = centred(area, 44, 6);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(text).block(Block::bordered().border_type(BorderType::Rounded).title(" Quit? ")),
        popup,
    );
}

fn draw_confirm(frame: &mut Frame, area: Rect, confirm: &crate::app::Confirm) {
    let text: Vec<Line> = confirm.lines.iter().map(|l| Line::from(l.clone())).collect();
    // The answer sits in the bottom border: it stays in sight however the text wraps.
    let answer = Line::from(vec![
        " ".into(),
        Span::from("y").bold().fg(Color::Cyan),
        " yes   ".into(),
        Span::from("any other key").bold().fg(Color::Cyan),
        " no, change nothing ".into(),
    ]);
    let widest =
        text.iter().map(Line::width).max().unwrap_or(0).max(confirm.title.len() + 4).max(answer.width());
    let width = (widest as u16 + 4).min(area.width);
    // The rows the text takes once wrapped at words, so that no line is cut off.
    let paragraph = Paragraph::new(text).wrap(Wrap { trim: false });
    let rows = paragraph.line_count(width.saturating_sub(2).max(1));
    let popup = centred(area, width, (rows as u16 + 2).min(area.height));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        paragraph.block(
            Block::bordered()
                .border_type(BorderType::Rounded)
                .title(format!(" {}? ", confirm.title))
                .title_bottom(answer),
        ),
        popup,
    );
}

fn draw_prompt(frame: &mut Frame, area: Rect, prompt: &crate::app::Prompt) {
    let mut text: Vec<Line> = prompt.note.iter().map(|l| Line::from(l.clone())).collect();
    let note_rows: u16 = prompt.note.iter().map(|l| l.chars().count().div_ceil(54).max(1) as u16).sum();
    text.push(Line::from(vec![
        Span::from("> ").fg(Color::Cyan),
        Span::from(prompt.text.clone()),
        Span::from("█"),
    ]));
    match &prompt.error {
        Some(e) => text.push(Line::from(Span::from(e.clone()).fg(Color::Red))),
        None => text.push(Line::from("")),
    }
    let mut choice_rows = 0;
    if !prompt.choices.is_empty() {
        let mut spans = vec![Span::from("tab ").bold().fg(Color::Cyan)];
        let typed = prompt.choice_part();
        for (i, name) in prompt.matching_choices().into_iter().enumerate() {
            let used: usize = spans.iter().map(|s| s.width()).sum();
            if used + name.len() + 3 > 52 {
                spans.push(Span::from(" …").fg(Color::DarkGray));
                break;
            }
            if i > 0 {
                spans.push(Span::from(" · ").fg(Color::DarkGray));
            }
            let span = Span::from(name.to_string());
            spans.push(if name == typed { span.bold() } else { span });
        }
        text.push(Line::from(spans));
        choice_rows = 1;
    }
    text.push(Line::from(Span::from("enter confirm · esc cancel").fg(Color::DarkGray)));
    // Room for the error however it wraps.
    let error_rows = prompt.error.as_ref().map_or(1, |e| e.chars().count().div_ceil(54).max(1)) as u16;
    let popup = centred(area, 58, 4 + error_rows + choice_rows + note_rows);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().border_type(BorderType::Rounded).title(format!(" {} ", prompt.title))),
        popup,
    );
}
