//! Snapshots: what is under the profile's bucket and prefix, newest first, with
//! what it costs a month; `enter` shows a snapshot's manifest and what its
//! storage class asks before a restore or a delete.

use std::collections::HashMap;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{aws_line, filter_span, setting_line};
use crate::app::{AppState, Load, PaneId};
use crate::aws::AwsStatus;
use crate::format;
use crate::model::snapshots::Snapshot;
use crate::snapshots::graph::GraphRow;
use crate::snapshots::pricing;

/// From this inner width on, the stored size gets a column; from `WIDE` on, class, raw size and age too.
const MEDIUM: u16 = 52;
const WIDE: u16 = 70;
/// From this inner width on, the machine each snapshot came from.
const HOSTS: u16 = 100;
/// Below this inner width a manifest's SHA-256 is shortened.
const FULL_SHA: u16 = 80;

pub fn render(frame: &mut Frame, area: Rect, state: &AppState) {
    let p = &state.settings.profile;
    let place = p.bucket.as_ref().map(|b| format!("s3://{b}/{}", p.prefix.as_deref().unwrap_or("")));
    if !matches!(state.aws, AwsStatus::Ready { .. }) || place.is_none() {
        let ready = matches!(state.aws, AwsStatus::Ready { .. });
        let bucket = if place.is_none() && ready && !state.settings.read_only {
            Line::from(vec![
                Span::from("bucket: ").fg(Color::DarkGray),
                Span::from("not set").fg(Color::Yellow),
                Span::from(" — b picks one from S3").fg(Color::DarkGray),
            ])
        } else {
            setting_line("bucket", place.as_deref(), "bucket")
        };
        let lines = vec![
            Line::from("Database snapshots in S3: back up (b), restore (r), manifests (enter)."),
            bucket,
            aws_line(state),
        ];
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
        return;
    }
    let pane = &state.snapshots;
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    if let Some(snapshot) = pane.opened() {
        let title = Line::from(vec![
            Span::from(snapshot.id.clone()).bold().fg(Color::Cyan),
            "  esc back".fg(Color::DarkGray),
        ]);
        frame.render_widget(Paragraph::new(title), head);
        let lines = manifest_lines(snapshot, state.clock.wall, area.width >= FULL_SHA);
        // Below the manifest, when there is room: the database's size over its snapshots.
        let used = (lines.len() as u16).saturating_add(1);
        let [text, chart] = Layout::vertical([Constraint::Length(used), Constraint::Min(0)]).areas(body);
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text);
        if chart.height >= 4 {
            let source = |s: &Snapshot| s.manifest.as_ref().map(|m| m.source.name.clone());
            let same: Vec<&Snapshot> = pane
                .list
                .loaded()
                .map(|all| all.iter().filter(|s| source(s) == source(snapshot)).collect())
                .unwrap_or_default();
            crate::ui::charts::sizes(frame, chart, &same, &snapshot.id);
        }
        return;
    }
    let editing = state.filtering && state.focus == PaneId::Snapshots;
    let mut spans = vec![Span::from(place.unwrap_or_default()).fg(Color::DarkGray)];
    if let Some(list) = pane.list.loaded() {
        spans.push(Span::from(format!("  {} · {}", list.len(), monthly(list))).fg(Color::DarkGray));
    }
    if let Some(f) = filter_span(&pane.cursor, editing) {
        spans.extend(["  ".into(), f]);
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), head);
    match &pane.list {
        Load::Loaded(_) => {}
        Load::Idle | Load::Loading => {
            frame.render_widget(Paragraph::new("loading snapshots…").fg(Color::DarkGray), body);
            return;
        }
        Load::Failed(error) => {
            let lines =
                vec![Line::from("cannot list snapshots").fg(Color::Red).bold(), Line::from(error.clone())];
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), body);
            return;
        }
    }
    let visible = pane.visible();
    if visible.is_empty() {
        let text = if pane.cursor.filter.is_empty() {
            "no snapshots yet — b backs up the profile's database"
        } else {
            "no snapshot matches the filter"
        };
        frame.render_widget(Paragraph::new(text).fg(Color::DarkGray), body);
        return;
    }
    let (wide, medium) = (area.width >= WIDE, area.width >= MEDIUM);
    // The line of history, drawn over the whole list (a filter shows some of
    // its rows), once there is one: a head, or manifests that name parents.
    let all = pane.list.loaded().map(Vec::as_slice).unwrap_or_default();
    let drawn = &pane.line;
    let lined = !drawn.is_empty();
    let width = art_width(drawn);
    let hosts =
        area.width >= HOSTS && all.iter().any(|s| s.manifest.as_ref().is_some_and(|m| m.host.is_some()));
    // Where each stands in the whole list (a filter may hide head).
    let standings = crate::snapshots::graph::standings(all, drawn, pane.here.as_deref());
    let standing: HashMap<&str, _> = all.iter().map(|s| s.id.as_str()).zip(standings).collect();
    let marks: Vec<(&str, Style)> = visible
        .iter()
        .map(|s| {
            let (off_line, here) =
                standing.get(s.id.as_str()).map_or((false, false), |st| (st.off_line, st.here));
            let (bold, cyan) = (Style::new().bold(), Style::new().fg(Color::Cyan).bold());
            match (s.is_complete(), s.head, here) {
                (false, _, _) => ("incomplete", Style::new().fg(Color::Yellow)),
                (true, true, true) => ("head · here", cyan),
                (true, true, false) => ("head", cyan),
                (true, false, true) if off_line => ("here · off line", bold.fg(Color::Yellow)),
                (true, false, true) => ("here", bold.fg(Color::Magenta)),
                (true, false, false) if off_line => ("off line", Style::new().fg(Color::Yellow)),
                (true, false, false) => ("ok", Style::new().fg(Color::Green)),
            }
        })
        .collect();
    let state_width = marks.iter().map(|(text, _)| text.chars().count()).max().unwrap_or(5).max(5);
    let rows = visible.iter().zip(&marks).map(|(s, (mark, style))| {
        let mut id = Vec::new();
        if lined {
            let art = drawn.get(s.id.as_str()).map_or(String::new(), |r| r.art.clone());
            // What cannot be restored is a hollow dot.
            let art = if s.is_complete() { art } else { art.replace('●', "○") };
            let colour = if style.fg == Some(Color::Yellow) { Color::Yellow } else { Color::Cyan };
            id.push(Span::from(format!("{art:<width$} ")).fg(colour));
        }
        id.push(Span::from(s.id.clone()));
        let mut cells = vec![Cell::from(Line::from(id))];
        if hosts {
            let host = s.manifest.as_ref().and_then(|m| m.host.clone()).unwrap_or_else(|| "–".into());
            cells.push(Cell::from(host));
        }
        if wide {
            cells.push(Cell::from(s.storage_class().short().to_string()));
            let raw = s.manifest.as_ref().map_or("–".into(), |m| format::bytes(m.raw_bytes));
            cells.push(Cell::from(Line::from(raw).right_aligned()));
        }
        if medium {
            let stored = s.stored_bytes().map_or("–".into(), format::bytes);
            cells.push(Cell::from(Line::from(stored).right_aligned()));
        }
        if wide {
            let age = s.created().map_or("–".into(), |t| format::age(t, state.clock.wall));
            cells.push(Cell::from(Line::from(age).right_aligned()));
        }
        cells.push(Cell::from(*mark).style(*style));
        Row::new(cells)
    });
    let columns: &[(&str, Constraint, bool)] = &[
        ("ID", Constraint::Fill(1), true),
        ("HOST", Constraint::Length(10), hosts),
        ("CLASS", Constraint::Length(10), wide),
        ("RAW", Constraint::Length(9), wide),
        ("STORED", Constraint::Length(9), medium),
        ("AGE", Constraint::Length(4), wide),
        ("STATE", Constraint::Length(state_width as u16), true),
    ];
    let shown = columns.iter().filter(|c| c.2);
    let (header, widths): (Vec<&str>, Vec<Constraint>) = shown.map(|c| (c.0, c.1)).unzip();
    let header_style = Style::new().fg(Color::DarkGray).add_modifier(Modifier::BOLD);
    let highlight = if state.focus == PaneId::Snapshots {
        Style::new().add_modifier(Modifier::REVERSED)
    } else {
        Style::new()
    };
    let table =
        Table::new(rows, widths).header(Row::new(header).style(header_style)).row_highlight_style(highlight);
    let mut table_state = TableState::default().with_selected(Some(pane.cursor.selected));
    frame.render_stateful_widget(table, body, &mut table_state);
}

/// Columns the widest row of the graph takes, so that the ids line up.
fn art_width(drawn: &HashMap<String, GraphRow>) -> usize {
    drawn.values().map(|r| r.art.chars().count()).max().unwrap_or(0)
}

/// `$0.05/month`, over what is listed (each chunk once), and the PUT
/// requests of the newest chunked backup: `$0.05/month · last backup 12 PUTs`.
fn monthly(list: &[Snapshot]) -> String {
    let total: f64 = pricing::stored_by_class(list)
        .values()
        .map(|(class, bytes)| pricing::monthly_cost(class, *bytes))
        .sum();
    let puts =
        pricing::last_backup_puts(list).map_or(String::new(), |(n, _)| format!(" · last backup {n} PUTs"));
    // An empty sum of floats is -0.0, which prints as "-0.00".
    format!("${:.2}/month{puts}", total + 0.0)
}

fn manifest_lines(s: &Snapshot, now: i64, full_sha: bool) -> Vec<Line<'static>> {
    let field = |k: &str, v: String| {
        Line::from(vec![Span::from(format!("{k:<9}")).fg(Color::DarkGray), Span::from(v)])
    };
    let mut lines = Vec::new();
    if let Some(problem) = &s.problem {
        lines.push(Line::from(format!("cannot be restored: {problem}")).fg(Color::Yellow));
    }
    let class = s.storage_class().clone();
    let stored = s.stored_bytes().unwrap_or(0);
    let age = s.created().map_or("?".into(), |t| format::age(t, now));
    if let Some(m) = &s.manifest {
        lines.push(field("created", format!("{} ({age} ago)", m.created)));
        // Where it stands in the line of history (manifests of older wharfs say nothing of it).
        if let Some(host) = &m.host {
            let after = m.parent.as_ref().map_or(String::new(), |p| format!(", after {p}"));
            let head = if s.head { " · head of the line" } else { "" };
            lines.push(field("made", format!("on {host}{after}{head}")));
        }
        lines.push(field("source", format!("{} {} ({})", m.source.kind, m.source.name, m.source.image)));
        lines.push(field(
            "size",
            match m.new_bytes.filter(|_| m.is_chunked()) {
                Some(new) => format!(
                    "{} raw → {} in {} chunks, {} of them new with this backup",
                    format::bytes(m.raw_bytes),
                    format::bytes(m.stored_bytes),
                    m.chunks.len(),
                    format::bytes(new)
                ),
                None => {
                    format!("{} raw → {} stored", format::bytes(m.raw_bytes), format::bytes(m.stored_bytes))
                }
            },
        ));
    }
    lines.push(field("class", format!("{class}, ${:.3}/month", pricing::monthly_cost(&class, stored))));
    if let Some(w) = pricing::restore_warning(&class, stored) {
        lines.push(Line::from(format!("restore: {w}")).fg(Color::Yellow));
    }
    let age_days = s.created().map_or(0, |t| ((now - t).max(0) / 86_400) as u32);
    if let Some(w) = pricing::delete_warning(&class, age_days) {
        lines.push(Line::from(format!("delete: {w}")).fg(Color::Yellow));
    }
    if let Some(m) = &s.manifest {
        let sha =
            if full_sha { m.sha256.clone() } else { format!("{}…", &m.sha256[..m.sha256.len().min(24)]) };
        lines.push(field("sha256", sha));
        let preset = m.source.path.as_ref().map_or(m.preset.clone(), |p| format!("{} {p}", m.preset));
        lines.push(field("preset", format!("{preset} ({}, {})", m.content, m.compression)));
        lines.push(field("key", m.key.clone()));
        lines.push(field("wharf", m.wharf_version.clone()));
    }
    lines
}
