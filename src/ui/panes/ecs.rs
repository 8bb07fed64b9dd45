//! ECS: clusters → services → tasks, one level at a time (`enter` drills
//! down, `esc` goes back), starting at the profile's cluster and service.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{aws_line, filter_span, setting_line};
use crate::app::{AppState, Cursor, Load, PaneId};
use crate::aws::AwsStatus;
use crate::format;
use crate::model::ecs::{ServiceInfo, TaskInfo};
use crate::model::metrics::{Utilization, bars};
use crate::ui::charts;

/// From this inner width on, the task definition and task images get columns.
const WIDE: u16 = 56;
/// Service events shown under a service's tasks, when there is room.
const EVENTS: usize = 3;
/// From this inner width on (zoomed), services have CPU and memory columns.
const CHARTED: u16 = 100;
/// Points in those columns' lines of bars: the last minutes.
const SPARK: usize = 10;
/// From this inner height on, an opened service has its utilization chart.
const CHART_ROOM: u16 = 16;

pub fn render(frame: &mut Frame, area: Rect, state: &AppState) {
    if !matches!(state.aws, AwsStatus::Ready { .. }) {
        let p = &state.settings.profile;
        let lines = vec![
            Line::from("ECS clusters → services → tasks."),
            setting_line("cluster", p.cluster.as_deref(), "cluster"),
            setting_line("service", p.service.as_deref(), "service"),
            aws_line(state),
        ];
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
        return;
    }
    let ecs = &state.ecs;
    let editing = state.filtering && state.focus == PaneId::Ecs;
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let wide = area.width >= WIDE;
    let focused = state.focus == PaneId::Ecs;
    match (&ecs.cluster, &ecs.service) {
        (None, _) => {
            heading(
                frame,
                head,
                vec![Span::from("clusters").fg(Color::DarkGray)],
                &ecs.cluster_cursor,
                editing,
            );
            let Some(list) = loaded(frame, body, &ecs.clusters, "ECS clusters") else { return };
            if list.is_empty() {
                empty(frame, body, &ecs.cluster_cursor, "no ECS clusters here");
                return;
            }
            let rows = ecs.visible_clusters().into_iter().map(|c| Row::new([Cell::from(c.clone())]));
            table(
                frame,
                body,
                rows,
                vec![Constraint::Fill(1)],
                vec!["CLUSTER"],
                &ecs.cluster_cursor,
                focused,
            );
        }
        (Some(cluster), None) => {
            let mut crumbs =
                vec![Span::from(cluster.clone()).bold().fg(Color::Cyan), " › services".fg(Color::DarkGray)];
            if let (Load::Loaded(list), false) = (&ecs.services, ecs.services_complete) {
                let described = list.iter().filter(|s| s.described()).count();
                let progress = if described == 0 {
                    format!("  {} so far, listing…", list.len())
                } else {
                    format!("  {} listed, {described} described…", list.len())
                };
                crumbs.push(Span::from(progress).fg(Color::DarkGray));
            }
            heading(frame, head, crumbs, &ecs.service_cursor, editing);
            let Some(list) = loaded(frame, body, &ecs.services, &format!("services of {cluster}")) else {
                return;
            };
            if list.is_empty() {
                empty(frame, body, &ecs.service_cursor, "no services in this cluster");
                return;
            }
            let charted = area.width >= CHARTED;
            let metrics_failed = state.refresh.metrics.failed.as_ref().map(|f| f.0.as_str());
            let rows = ecs.visible_services().into_iter().map(|s| {
                let mut row = service_row(s, wide);
                if charted {
                    row.extend(utilization_cells(ecs.metrics.get(&s.name), metrics_failed.is_some()));
                }
                Row::new(row)
            });
            let (mut widths, mut header) = if wide {
                (
                    vec![
                        Constraint::Fill(1),
                        Constraint::Length(9),
                        Constraint::Fill(1),
                        Constraint::Length(11),
                    ],
                    vec!["SERVICE", "TASKS", "TASK DEF", "ROLLOUT"],
                )
            } else {
                (
                    vec![Constraint::Fill(1), Constraint::Length(9), Constraint::Length(11)],
                    vec!["SERVICE", "TASKS", "ROLLOUT"],
                )
            };
            if charted {
                widths.extend([Constraint::Length(5 + 1 + SPARK as u16); 2]);
                header.extend(["CPU", "MEMORY"]);
            }
            table(frame, body, rows, widths, header, &ecs.service_cursor, focused);
        }
        (Some(cluster), Some(service)) => {
            let mut crumbs = vec![
                Span::from(format!("{cluster} › ")).fg(Color::DarkGray),
                Span::from(service.clone()).bold().fg(Color::Cyan),
            ];
            if let Some(s) = ecs.opened_service() {
                crumbs.push(Span::from(format!(
                    "  {}/{} running · {}{}",
                    s.running,
                    s.desired,
                    s.task_definition,
                    s.rollout.as_ref().map(|r| format!(" · {r}")).unwrap_or_default()
                )));
            }
            heading(frame, head, crumbs, &ecs.task_cursor, editing);
            let body = if body.height >= CHART_ROOM {
                let [chart, rest] =
                    Layout::vertical([Constraint::Length(body.height / 2), Constraint::Min(0)]).areas(body);
                let failed = state.refresh.metrics.failed.as_ref().map(|f| f.0.as_str());
                charts::service(frame, chart, ecs.metrics.get(service), failed, state.clock.wall);
                rest
            } else {
                body
            };
            let events =
                ecs.opened_service().map(|s| &s.events[..s.events.len().min(EVENTS)]).unwrap_or_default();
            let room = body.height.saturating_sub(3) as usize;
            let shown = if room > events.len() { events } else { &[] };
            let [tasks_area, events_area] =
                Layout::vertical([Constraint::Min(0), Constraint::Length(shown.len() as u16)]).areas(body);
            if !shown.is_empty() {
                let lines: Vec<Line> = shown
                    .iter()
                    .map(|e| {
                        let age =
                            e.at.map(|t| format!("{:>4} ", format::age(t, state.clock.wall)))
                                .unwrap_or_default();
                        Line::from(vec![Span::from(age).fg(Color::DarkGray), Span::from(e.message.clone())])
                    })
                    .collect();
                frame.render_widget(Paragraph::new(lines), events_area);
            }
            let Some(list) = loaded(frame, tasks_area, &ecs.tasks, &format!("tasks of {service}")) else {
                return;
            };
            if list.is_empty() {
                empty(
                    frame,
                    tasks_area,
                    &ecs.task_cursor,
                    "no tasks (services here start none until they do)",
                );
                return;
            }
            let rows = ecs.visible_tasks().into_iter().map(|t| task_row(t, wide, state.clock.wall));
            let (widths, header) = if wide {
                (
                    vec![
                        Constraint::Length(12),
                        Constraint::Length(17),
                        Constraint::Length(7),
                        Constraint::Length(5),
                        Constraint::Fill(1),
                    ],
                    vec!["TASK", "STATUS", "HEALTH", "UP", "IMAGE"],
                )
            } else {
                (
                    vec![Constraint::Length(12), Constraint::Fill(1), Constraint::Length(5)],
                    vec!["TASK", "STATUS", "UP"],
                )
            };
            table(frame, tasks_area, rows, widths, header, &ecs.task_cursor, focused);
        }
    }
}

fn heading(frame: &mut Frame, area: Rect, mut spans: Vec<Span<'static>>, cursor: &Cursor, editing: bool) {
    if let Some(f) = filter_span(cursor, editing) {
        spans.extend(["  ".into(), f]);
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The list when it is there; else says loading or why not, and gives `None`.
fn loaded<'a, T>(frame: &mut Frame, area: Rect, load: &'a Load<Vec<T>>, what: &str) -> Option<&'a Vec<T>> {
    match load {
        Load::Loaded(list) => Some(list),
        Load::Idle | Load::Loading => {
            frame.render_widget(Paragraph::new(format!("loading {what}…")).fg(Color::DarkGray), area);
            None
        }
        Load::Failed(error) => {
            let lines = vec![
                Line::from(format!("cannot list {what}")).fg(Color::Red).bold(),
                Line::from(error.clone()),
            ];
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
            None
        }
    }
}

fn empty(frame: &mut Frame, area: Rect, cursor: &Cursor, text: &str) {
    let text = if cursor.filter.is_empty() { text } else { "nothing matches the filter" };
    frame.render_widget(Paragraph::new(text).fg(Color::DarkGray), area);
}

fn table<'a>(
    frame: &mut Frame,
    area: Rect,
    rows: impl IntoIterator<Item = Row<'a>>,
    widths: Vec<Constraint>,
    header: Vec<&'a str>,
    cursor: &Cursor,
    focused: bool,
) {
    let header_style = Style::new().fg(Color::DarkGray).add_modifier(Modifier::BOLD);
    let highlight = if focused { Style::new().add_modifier(Modifier::REVERSED) } else { Style::new() };
    let table =
        Table::new(rows, widths).header(Row::new(header).style(header_style)).row_highlight_style(highlight);
    let mut table_state = TableState::default().with_selected(Some(cursor.selected));
    frame.render_stateful_widget(table, area, &mut table_state);
}

fn service_row(s: &ServiceInfo, wide: bool) -> Vec<Cell<'static>> {
    if !s.described() {
        // Listed, not yet described: the name is all there is.
        let waiting = || Cell::from("…").fg(Color::DarkGray);
        let mut cells = vec![Cell::from(s.name.clone()), waiting()];
        if wide {
            cells.push(waiting());
        }
        cells.push(waiting());
        return cells;
    }
    let tasks = if s.pending > 0 {
        format!("{}/{} +{}", s.running, s.desired, s.pending)
    } else {
        format!("{}/{}", s.running, s.desired)
    };
    let rollout = s.rollout.clone().unwrap_or_else(|| "–".into());
    let colour = match rollout.as_str() {
        "COMPLETED" => Color::Green,
        "FAILED" => Color::Red,
        "IN_PROGRESS" => Color::Yellow,
        _ => Color::DarkGray,
    };
    let mut cells = vec![Cell::from(s.name.clone()), Cell::from(tasks)];
    if wide {
        cells.push(Cell::from(s.task_definition.clone()).fg(Color::DarkGray));
    }
    cells.push(Cell::from(rollout).fg(colour));
    cells
}

/// A service's latest CPU and memory utilization, each with its last
/// points as a line of bars; "no metrics" when CloudWatch has none.
fn utilization_cells(utilization: Option<&Utilization>, failed: bool) -> [Cell<'static>; 2] {
    let Some(u) = utilization else {
        // Not asked yet (…), or CloudWatch did not answer (–: the heading of an opened service says why).
        let mark = if failed { "–" } else { "…" };
        return [Cell::from(mark).fg(Color::DarkGray), Cell::from(mark).fg(Color::DarkGray)];
    };
    if u.is_empty() {
        return [Cell::from("no metrics").fg(Color::DarkGray), Cell::from("")];
    }
    let cell = |series: &[(i64, f64)], colour: Color| {
        let Some(latest) = series.last() else { return Cell::from("–").fg(Color::DarkGray) };
        let recent = series[series.len().saturating_sub(SPARK)..].iter().map(|p| Some(p.1));
        Cell::from(Line::from(vec![
            Span::from(format!("{:>4.0}% ", latest.1)),
            Span::from(bars(recent, 100.0)).fg(colour),
        ]))
    };
    [cell(&u.cpu, charts::CPU), cell(&u.memory, charts::MEMORY)]
}

fn task_row(t: &TaskInfo, wide: bool, now: i64) -> Row<'static> {
    let status = if t.last_status == t.desired_status {
        t.last_status.clone()
    } else {
        format!("{}→{}", t.last_status, t.desired_status)
    };
    let up = t.started_at.map(|s| format::age(s, now)).unwrap_or_else(|| "–".into());
    let id: String = t.id.chars().take(12).collect();
    let mut cells = vec![Cell::from(id), Cell::from(status)];
    if wide {
        cells.push(Cell::from(t.health.clone().unwrap_or_else(|| "–".into())));
        cells.push(Cell::from(up));
        let images: Vec<String> = t
            .containers
            .iter()
            .map(|c| match c.short_digest() {
                Some(d) => format!("{}@{d}", c.image.rsplit('/').next().unwrap_or(&c.image)),
                None => c.image.rsplit('/').next().unwrap_or(&c.image).to_string(),
            })
            .collect();
        let mut text = images.join(", ");
        if let Some(reason) = &t.stopped_reason {
            text = format!("{reason} · {text}");
        }
        cells.push(Cell::from(text).fg(Color::DarkGray));
    } else {
        cells.push(Cell::from(up));
    }
    Row::new(cells)
}
