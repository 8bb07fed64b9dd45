//! Images: local images and, in a second tab, containers, from the local engine.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use super::filter_span;
use crate::app::standing;
use crate::app::{AppState, EngineView, ImagesTab, PaneId};
use crate::format;
use crate::model::metrics::{History, bars};
use crate::ui::charts;

/// Below this inner width the image id and container status columns are left out.
const WIDE: u16 = 56;
/// From this inner width on, a container's CPU has its last minute drawn beside it.
const CHARTED: u16 = 80;
/// Readings in the CPU column's line: one per 5 s of the last minute.
const SPARK: usize = 12;

pub fn render(frame: &mut Frame, area: Rect, state: &AppState) {
    let pane = &state.images;
    let [tabs_area, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);

    let tab = |label: String, active: bool| {
        if active {
            Span::from(label).bold().fg(Color::Cyan).underlined()
        } else {
            Span::from(label).fg(Color::DarkGray)
        }
    };
    let mut tabs = vec![
        tab(format!("Images ({})", pane.images.len()), pane.tab == ImagesTab::Images),
        Span::from(" │ ").fg(Color::DarkGray),
        tab(format!("Containers ({})", pane.containers.len()), pane.tab == ImagesTab::Containers),
    ];
    let cursor = match pane.tab {
        ImagesTab::Images => &pane.image_cursor,
        ImagesTab::Containers => &pane.container_cursor,
    };
    let editing = state.filtering && state.focus == PaneId::Images;
    if let Some(filter) = filter_span(cursor, editing) {
        tabs.push("  ".into());
        tabs.push(filter);
    }
    frame.render_widget(Paragraph::new(Line::from(tabs)), tabs_area);

    let message = match &pane.engine {
        EngineView::Connecting { endpoint } if !pane.loaded => Some(vec![Line::from(
            format!("connecting to the Docker engine at {endpoint}…").fg(Color::DarkGray),
        )]),
        EngineView::Unreachable { endpoint, error, retry_in } => Some(vec![
            Line::from(format!("Docker engine unreachable, retrying in {}s", retry_in.as_secs().max(1)))
                .fg(Color::Red)
                .bold(),
            Line::from(endpoint.clone()),
            Line::from(error.clone()).fg(Color::DarkGray),
        ]),
        _ => None,
    };
    if pane.tab == ImagesTab::Containers
        && let Some(open) = pane.open.as_ref().and_then(|id| pane.containers.iter().find(|c| &c.id == id))
    {
        let [heading, chart] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(body);
        let running = open.state == "running";
        crate::ui::charts::container(frame, heading, chart, &open.name, running, pane.stats.get(&open.id));
        return;
    }
    if let Some(lines) = message {
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), body);
        return;
    }
    let wide = body.width >= WIDE;
    let charted = body.width >= CHARTED;
    let selected = Style::new().add_modifier(Modifier::REVERSED);
    let header_style = Style::new().fg(Color::DarkGray).add_modifier(Modifier::BOLD);
    let (table, len) = match pane.tab {
        ImagesTab::Images => {
            let images = pane.visible_images();
            let rows = images.iter().map(|i| {
                // What the profile's service runs and what ECR's tags point at.
                let mut name = vec![Span::from(i.reference())];
                for mark in standing::image_marks(state, i) {
                    name.push(" ".into());
                    name.push(Span::from(mark).fg(Color::Cyan).bold());
                }
                let mut cells = vec![Cell::from(Line::from(name))];
                if wide {
                    cells.push(Cell::from(i.short_id().to_string()).fg(Color::DarkGray));
                }
                cells.push(Cell::from(Line::from(format::bytes(i.size)).right_aligned()));
                cells.push(Cell::from(Line::from(format::age(i.created, state.clock.wall)).right_aligned()));
                Row::new(cells)
            });
            let mut header = vec!["REPOSITORY:TAG"];
            let mut widths = vec![Constraint::Min(12)];
            if wide {
                header.push("ID");
                widths.push(Constraint::Length(12));
            }
            header.extend(["SIZE", "AGE"]);
            widths.extend([Constraint::Length(9), Constraint::Length(4)]);
            let header = Row::new(header).style(header_style);
            (Table::new(rows, widths).header(header), images.len())
        }
        ImagesTab::Containers => {
            let containers = pane.visible_containers();
            let rows = containers.iter().map(|c| {
                let colour = match c.state.as_str() {
                    "running" => Color::Green,
                    "exited" | "dead" => Color::DarkGray,
                    _ => Color::Yellow,
                };
                let mut cells = vec![
                    Cell::from(c.name.clone()),
                    Cell::from(c.image.clone()),
                    Cell::from(c.state.clone()).fg(colour),
                ];
                if wide {
                    let history = pane.stats.get(&c.id).filter(|_| c.state == "running");
                    cells.extend(usage_cells(history, charted));
                    cells.push(Cell::from(c.status.clone()).fg(Color::DarkGray));
                }
                Row::new(cells)
            });
            let mut header = vec!["NAME", "IMAGE", "STATE"];
            let mut widths = vec![Constraint::Fill(1), Constraint::Fill(1), Constraint::Length(8)];
            if wide {
                let cpu_width = if charted { 5 + 1 + SPARK as u16 } else { 5 };
                header.extend(["CPU", "MEM", "STATUS"]);
                widths.extend([Constraint::Length(cpu_width), Constraint::Length(8), Constraint::Fill(1)]);
            }
            (Table::new(rows, widths).header(Row::new(header).style(header_style)), containers.len())
        }
    };
    if len == 0 {
        let what = if pane.tab == ImagesTab::Images { "images" } else { "containers" };
        let text = if cursor.filter.is_empty() {
            format!("no local {what}")
        } else {
            format!("no {what} match /{}", cursor.filter)
        };
        let [_, empty] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(body);
        frame.render_widget(
            Table::new(Vec::<Row>::new(), [Constraint::Fill(1)]).header(table_header(pane.tab)),
            body,
        );
        frame.render_widget(Paragraph::new(text).fg(Color::DarkGray), empty);
        return;
    }
    let focused = state.focus == PaneId::Images;
    let table = table.column_spacing(1).row_highlight_style(if focused { selected } else { Style::new() });
    let mut table_state = TableState::default().with_selected(Some(cursor.selected.min(len - 1)));
    frame.render_stateful_widget(table, body, &mut table_state);
}

fn table_header(tab: ImagesTab) -> Row<'static> {
    let style = Style::new().fg(Color::DarkGray).add_modifier(Modifier::BOLD);
    match tab {
        ImagesTab::Images => Row::new(["REPOSITORY:TAG"]).style(style),
        ImagesTab::Containers => Row::new(["NAME"]).style(style),
    }
}

/// A running container's CPU (with its last minute as a line of bars, when
/// `charted`) and memory in use; blank for the others.
fn usage_cells(history: Option<&History>, charted: bool) -> [Cell<'static>; 2] {
    let Some((history, latest)) = history.and_then(|h| Some((h, h.latest()?))) else {
        return [Cell::from(""), Cell::from("")];
    };
    let mut cpu = vec![Span::from(format!("{:>4.0}%", latest.cpu_percent))];
    if charted {
        // The highest reading of each 5 s, so a short burst still shows.
        let mut slots: [Option<f64>; SPARK] = [None; SPARK];
        for s in history.last(60) {
            let slot = &mut slots[SPARK - 1 - ((latest.at - s.at) / 5).clamp(0, SPARK as i64 - 1) as usize];
            *slot = Some(slot.map_or(s.cpu_percent, |v| v.max(s.cpu_percent)));
        }
        cpu.push(" ".into());
        cpu.push(Span::from(bars(slots, 100.0)).fg(charts::CPU));
    }
    [Cell::from(Line::from(cpu)), Cell::from(format::bytes(latest.mem_used)).fg(charts::MEMORY)]
}
