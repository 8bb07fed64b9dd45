//! Logs: the CloudWatch lines of the task or service being tailed, newest at
//! the bottom. Only the lines on screen are laid out, so a frame costs the
//! same with 100 lines held or a million.

use std::ops::Range;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use unicode_width::UnicodeWidthChar;

use super::aws_line;
use crate::app::{AppState, LogsPane, PaneId, TimeMode};
use crate::logs::{Search, TailMode};
use crate::model::logs::LogLine;

/// Task prefix colours, in the order the tasks came.
const PALETTE: [Color; 6] =
    [Color::Cyan, Color::Green, Color::Magenta, Color::Yellow, Color::Blue, Color::LightRed];

pub fn render(frame: &mut Frame, area: Rect, state: &AppState) {
    let pane = &state.logs;
    if pane.target.is_none() {
        render_idle(frame, area, state);
        return;
    }
    let footer = pane.failed.is_some() || pane.note.is_some();
    let [head, body, foot] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(u16::from(footer))])
            .areas(area);
    let editing = state.filtering && state.focus == PaneId::Logs;
    frame.render_widget(Paragraph::new(heading(pane, editing)), head);
    if let Some(error) = &pane.failed {
        let line =
            Line::from(vec![Span::from("tail stopped: ").bold(), Span::from(error.clone())]).fg(Color::Red);
        frame.render_widget(Paragraph::new(line), foot);
    } else if let Some(note) = &pane.note {
        frame.render_widget(Paragraph::new(Line::from(note.clone()).fg(Color::Yellow)), foot);
    }
    if pane.buffer.is_empty() {
        let text = match (pane.ended, &pane.failed) {
            (_, Some(_)) => "no lines",
            (true, None) => "no lines in these streams",
            (false, None) => "waiting for lines…",
        };
        frame.render_widget(Paragraph::new(Line::from(text).fg(Color::DarkGray)), body);
        return;
    }
    let rows = visible_rows(pane, body.width, body.height, state.clock.wall);
    frame.render_widget(Paragraph::new(rows), body);
}

fn render_idle(frame: &mut Frame, area: Rect, state: &AppState) {
    let p = &state.settings.profile;
    let mut lines = vec![
        Line::from("No logs tailed yet."),
        Line::from(vec![
            Span::from("l").bold(),
            Span::from(
                " on a service or task in ECS (3), or on a deploy in Jobs (6), tails its CloudWatch logs.",
            ),
        ]),
    ];
    if let (Some(cluster), Some(service)) = (&p.cluster, &p.service) {
        lines.push(Line::from(vec![
            Span::from("l").bold(),
            Span::from(format!(" here tails the profile's service {service} in {cluster}.")),
        ]));
    }
    lines.push(aws_line(state));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}

fn heading(pane: &LogsPane, editing: bool) -> Line<'static> {
    let sep = || Span::from(" · ").fg(Color::DarkGray);
    let mut spans = Vec::new();
    if let Some(target) = &pane.target {
        spans.push(Span::from(target.describe()).bold().fg(Color::Cyan));
    }
    if pane.loading_older {
        spans.extend([sep(), Span::from("loading older…").fg(Color::Yellow)]);
    }
    spans.push(sep());
    spans.push(Span::from(format!("{} lines", thousands(pane.buffer.len() as u64))));
    if pane.buffer.dropped() > 0 {
        spans.push(Span::from(format!(" ({} dropped)", thousands(pane.buffer.dropped()))).fg(Color::Yellow));
    }
    spans.push(sep());
    if pane.follow {
        spans.push(Span::from("following").fg(Color::Green));
    } else {
        let below = pane.below();
        let text = if below > 0 { format!("paused, {} below", thousands(below)) } else { "paused".into() };
        spans.push(Span::from(text).fg(Color::Yellow));
    }
    if editing {
        spans.extend([sep(), Span::from(format!("/{}█", pane.cursor.filter)).fg(Color::Yellow)]);
    } else if let Some(search) = pane.buffer.current_search() {
        let at = pane.current.and_then(|c| search.position(c));
        let count = match at {
            Some(at) => format!(" {at}/{}", search.count()),
            None => format!(" {}", search.count()),
        };
        spans.extend([sep(), Span::from(format!("/{}{count}", search.query)).fg(Color::Yellow)]);
    }
    let mode = match (pane.mode, pane.ended) {
        (_, true) => "ended",
        (Some(TailMode::Live), _) => "live tail",
        (Some(TailMode::Polling), _) => "polling",
        (None, false) => "reading",
    };
    spans.extend([sep(), Span::from(mode).fg(Color::DarkGray)]);
    if pane.wrap {
        spans.extend([sep(), Span::from("wrap").fg(Color::DarkGray)]);
    }
    spans.extend([
        sep(),
        Span::from(match pane.time {
            TimeMode::Utc => "UTC",
            TimeMode::Local => "local time",
            TimeMode::Off => "no times",
        })
        .fg(Color::DarkGray),
    ]);
    Line::from(spans)
}

/// `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The rows on screen: the view's bottom line last (or, near the start, the
/// first line first), each line cut or wrapped to `width`.
fn visible_rows(pane: &LogsPane, width: u16, height: u16, now: i64) -> Vec<Line<'static>> {
    let (Some(bottom), Some(last)) = (pane.view_bottom(), pane.buffer.last_seq()) else { return Vec::new() };
    let height = usize::from(height);
    let layout = |seq: u64| -> Vec<Line<'static>> {
        let Some(line) = pane.buffer.get(seq) else { return Vec::new() };
        let styled = styled_line(pane, seq, line, now);
        if pane.wrap { hard_wrap(styled, usize::from(width)) } else { vec![styled] }
    };
    let mut rows: Vec<Line<'static>> = Vec::with_capacity(height);
    // Upwards from the bottom line…
    let mut seq = bottom;
    loop {
        let mut lines = layout(seq);
        lines.append(&mut rows);
        rows = lines;
        if rows.len() >= height || seq == pane.buffer.first_seq() {
            break;
        }
        seq -= 1;
    }
    // …and, when the lines above do not fill the view, downwards after it.
    let mut seq = bottom;
    while rows.len() < height && seq < last {
        seq += 1;
        rows.extend(layout(seq));
    }
    if rows.len() > height {
        if seq > bottom {
            rows.truncate(height);
        } else {
            rows.drain(..rows.len() - height);
        }
    }
    rows
}

fn styled_line(pane: &LogsPane, seq: u64, line: &LogLine, now: i64) -> Line<'static> {
    let mut spans = Vec::with_capacity(4);
    if let Some(time) = clock(line.timestamp, pane.time, now) {
        spans.push(Span::from(time).fg(Color::DarkGray));
    }
    if pane.sources.len() > 1 {
        let index = pane.sources.iter().position(|s| *s == line.source).unwrap_or(0);
        let colour = PALETTE[index % PALETTE.len()];
        spans.push(Span::from(format!("{} ", line.source)).fg(colour));
    }
    match pane.buffer.current_search() {
        Some(search) if search.position(seq).is_some() => {
            let current = pane.current == Some(seq);
            spans.extend(highlighted(&line.text, search, current));
        }
        _ => spans.push(Span::from(line.text.clone())),
    }
    Line::from(spans)
}

/// The line's text with every occurrence of the search marked.
fn highlighted(text: &str, search: &Search, current: bool) -> Vec<Span<'static>> {
    let mark = if current {
        Style::new().fg(Color::Black).bg(Color::LightYellow).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::Black).bg(Color::Yellow)
    };
    let mut spans = Vec::new();
    let mut at = 0;
    let ranges: Vec<Range<usize>> = search.ranges(text).collect();
    for range in ranges {
        if range.start > at {
            spans.push(Span::from(text[at..range.start].to_string()));
        }
        spans.push(Span::styled(text[range.clone()].to_string(), mark));
        at = range.end;
    }
    if at < text.len() {
        spans.push(Span::from(text[at..].to_string()));
    }
    spans
}

/// `19:04:05Z ` (UTC) or `20:04:05 ` (local); the date too when not today.
fn clock(ms: i64, mode: TimeMode, now: i64) -> Option<String> {
    let utc = chrono::DateTime::from_timestamp_millis(ms)?;
    let today = (now - ms.div_euclid(1000)).abs() < 20 * 3600;
    Some(match (mode, today) {
        (TimeMode::Off, _) => return None,
        (TimeMode::Utc, true) => utc.format("%H:%M:%SZ ").to_string(),
        (TimeMode::Utc, false) => utc.format("%m-%d %H:%M:%SZ ").to_string(),
        (TimeMode::Local, true) => utc.with_timezone(&chrono::Local).format("%H:%M:%S ").to_string(),
        (TimeMode::Local, false) => utc.with_timezone(&chrono::Local).format("%m-%d %H:%M:%S ").to_string(),
    })
}

/// Splits a line into rows of at most `width` columns, keeping each piece's style.
fn hard_wrap(line: Line<'static>, width: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let mut rows = Vec::new();
    let mut row: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for span in line.spans {
        let mut piece = String::new();
        for c in span.content.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > width && used > 0 {
                if !piece.is_empty() {
                    row.push(Span::styled(std::mem::take(&mut piece), span.style));
                }
                rows.push(Line::from(std::mem::take(&mut row)));
                used = 0;
            }
            piece.push(c);
            used += w;
        }
        if !piece.is_empty() {
            row.push(Span::styled(piece, span.style));
        }
    }
    if !row.is_empty() || rows.is_empty() {
        rows.push(Line::from(row));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_the_width_keeping_styles() {
        let line = Line::from(vec![Span::from("ab").fg(Color::Red), Span::from("cdefg")]);
        let rows = hard_wrap(line, 3);
        let text: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
        assert_eq!(text, ["abc", "def", "g"]);
        assert_eq!(rows[0].spans[0].style.fg, Some(Color::Red));
        assert_eq!(rows[0].spans[1].style.fg, None);
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
