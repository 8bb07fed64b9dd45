//! Jobs: running and finished jobs with progress, throughput, ETA and errors.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use super::filter_span;
use crate::app::{AppState, JobState, JobView, PaneId};
use crate::format;

const BAR: usize = 8;

pub fn render(frame: &mut Frame, area: Rect, state: &AppState) {
    let pane = &state.jobs;
    let jobs = pane.visible();
    let editing = state.filtering && state.focus == PaneId::Jobs;
    let mut body = area;
    if let Some(filter) = filter_span(&pane.cursor, editing) {
        let [f, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
        frame.render_widget(Paragraph::new(Line::from(filter)), f);
        body = rest;
    }
    if jobs.is_empty() {
        let text = if pane.jobs.is_empty() {
            let key = state
                .keymap
                .keys_label(crate::app::Section::Images, &crate::app::Action::Bake)
                .unwrap_or_else(|| "bake".into());
            format!("no jobs yet — {key} on a container bakes it into an image")
        } else {
            format!("no jobs match /{}", pane.cursor.filter)
        };
        frame.render_widget(Paragraph::new(text).fg(Color::DarkGray).wrap(Wrap { trim: true }), body);
        return;
    }
    let selected = pane.cursor.selected.min(jobs.len() - 1);
    // The selected job's result or error chain gets the lines under the list.
    let error_lines: Vec<Line> = match &jobs[selected].state {
        JobState::Done(summary, _) => vec![Line::from(format!("✓ {summary}")).fg(Color::Green)],
        JobState::Attention { summary, message } => vec![
            Line::from(format!("⚠ {message}")).fg(Color::Yellow),
            Line::from(format!("  {summary}")).fg(Color::DarkGray),
        ],
        JobState::Running | JobState::Cancelling => {
            // The selected job's stage, rate and ETA, then its parts (the layers of a push).
            let job = jobs[selected];
            let now = state.clock.mono;
            let mut summary = vec![job.progress.stage.clone()];
            if let Some(pct) = percent(job) {
                summary.push(format!("{pct}%"));
            }
            summary.extend(job.throughput(now).map(format::rate));
            summary.extend(job.eta(now).map(|d| format!("eta {}", format::clock(d))));
            std::iter::once(Line::from(summary.join(" · ")).fg(Color::Cyan))
                .chain(job.progress.detail.iter().map(|d| Line::from(d.clone()).fg(Color::DarkGray)))
                .collect()
        }
        JobState::Failed(chain) => chain
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let prefix = if i == 0 { "error: " } else { "  caused by: " };
                Line::from(format!("{prefix}{e}")).fg(Color::Red)
            })
            .collect(),
        _ => Vec::new(),
    };
    // Lines wrap: count the rows they take at this width.
    let rows: usize = error_lines.iter().map(|l| l.width().div_ceil(body.width.max(1) as usize).max(1)).sum();
    let error_height = (rows as u16).min(body.height.saturating_sub(3));
    let [list, errors] = Layout::vertical([Constraint::Min(0), Constraint::Length(error_height)]).areas(body);

    let now = state.clock.mono;
    // Narrow: the state column carries the percentage; wider: a bar; widest: rate and ETA.
    let with_bar = list.width >= 56;
    let with_rate = list.width >= 90;
    let rows = jobs.iter().map(|job| {
        let (label, colour) = state_label(job);
        let state_text = match (with_bar, percent(job)) {
            (false, Some(pct)) => format!("{label} {pct}%"),
            _ => label.to_string(),
        };
        let mut cells = vec![
            Cell::from(job.kind.label()),
            // A job started under another profile (before a switch) says which.
            Cell::from(match &job.profile {
                Some(p) if job.profile != state.settings.profile_name => format!("[{p}] {}", job.target),
                _ => job.target.clone(),
            }),
            Cell::from(state_text).fg(colour),
        ];
        if with_bar {
            cells.push(Cell::from(progress_text(job)));
        }
        if with_rate {
            cells.push(Cell::from(job.throughput(now).map(format::rate).unwrap_or_default()));
            cells.push(Cell::from(
                job.eta(now).map(|d| format!("eta {}", format::clock(d))).unwrap_or_default(),
            ));
        }
        cells.push(Cell::from(Line::from(format::clock(job.elapsed(now))).right_aligned()));
        Row::new(cells)
    });
    let mut widths =
        vec![Constraint::Length(7), Constraint::Fill(1), Constraint::Length(if with_bar { 10 } else { 12 })];
    let mut header = vec!["KIND", "TARGET", "STATE"];
    if with_bar {
        widths.push(Constraint::Length(BAR as u16 + 5));
        header.push("PROGRESS");
    }
    if with_rate {
        widths.extend([Constraint::Length(11), Constraint::Length(9)]);
        header.extend(["RATE", "ETA"]);
    }
    widths.push(Constraint::Length(7));
    header.push("ELAPSED");
    let focused = state.focus == PaneId::Jobs;
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().fg(Color::DarkGray).add_modifier(Modifier::BOLD)))
        .column_spacing(1)
        .row_highlight_style(if focused {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        });
    let mut table_state = TableState::default().with_selected(Some(selected));
    frame.render_stateful_widget(table, list, &mut table_state);
    frame.render_widget(Paragraph::new(error_lines).wrap(Wrap { trim: false }), errors);
}

fn state_label(job: &JobView) -> (&'static str, Color) {
    match job.state {
        JobState::Queued => ("queued", Color::DarkGray),
        JobState::Running => ("running", Color::Cyan),
        JobState::Cancelling => ("cancelling", Color::Yellow),
        JobState::Done(..) => ("done", Color::Green),
        JobState::Attention { .. } => ("look", Color::Yellow),
        JobState::Failed(_) => ("failed", Color::Red),
        JobState::Cancelled => ("cancelled", Color::Yellow),
    }
}

fn percent(job: &JobView) -> Option<u64> {
    let total = job.progress.total.filter(|t| *t > 0)?;
    job.state.is_active().then(|| job.progress.done.min(total) * 100 / total)
}

/// A bar with the percentage when the amount is known, else the current stage.
fn progress_text(job: &JobView) -> String {
    match &job.state {
        JobState::Done(..) | JobState::Attention { .. } => format::bar(1, 1, BAR),
        JobState::Failed(_) | JobState::Cancelled => "—".into(),
        _ => match job.progress.total {
            Some(total) if total > 0 => {
                let pct = job.progress.done.min(total) * 100 / total;
                format!("{} {pct:>3}%", format::bar(job.progress.done, total, BAR))
            }
            _ => job.progress.stage.clone(),
        },
    }
}
