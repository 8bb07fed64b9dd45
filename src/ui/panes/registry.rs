//! Registry: ECR repositories, and the images (tags, digest, pushed at, size)
//! of the one opened.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{aws_line, filter_span, setting_line};
use crate::app::{AppState, Load, PaneId};
use crate::aws::AwsStatus;
use crate::format;

/// Below this inner width the repository URI is left out.
const WIDE: u16 = 56;
/// From this inner width on, push times are given absolutely too.
const WIDEST: u16 = 80;

pub fn render(frame: &mut Frame, area: Rect, state: &AppState) {
    if !matches!(state.aws, AwsStatus::Ready { .. }) {
        let p = &state.settings.profile;
        let lines = vec![
            Line::from("ECR repositories and their tags."),
            setting_line("repository", p.repository.as_deref(), "repository"),
            aws_line(state),
        ];
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
        return;
    }
    let registry = &state.registry;
    let editing = state.filtering && state.focus == PaneId::Registry;
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let wide = area.width >= WIDE;
    let widest = area.width >= WIDEST;
    let header_style = Style::new().fg(Color::DarkGray).add_modifier(Modifier::BOLD);
    let highlight = if state.focus == PaneId::Registry {
        Style::new().add_modifier(Modifier::REVERSED)
    } else {
        Style::new()
    };

    let (cursor, table, len) = match &registry.open {
        Some(repository) => {
            let count =
                registry.images.loaded().map(|i| format!(" ({} images)", i.len())).unwrap_or_default();
            let mut spans = vec![Span::from(repository.clone()).bold().fg(Color::Cyan), Span::from(count)];
            if let Some(f) = filter_span(&registry.image_cursor, editing) {
                spans.extend(["  ".into(), f]);
            }
            frame.render_widget(Paragraph::new(Line::from(spans)), head);
            if let Some(message) = load_message(&registry.images, &format!("images of {repository}")) {
                frame.render_widget(message, body);
                return;
            }
            let images = registry.visible_images();
            let rows = images.iter().map(|i| {
                let tags = if i.tags.is_empty() { "<untagged>".to_string() } else { i.tags.join(", ") };
                let pushed = i.pushed_at.map_or("–".into(), |t| {
                    if widest {
                        format!("{} ago, {}", format::age(t, state.clock.wall), format::utc(t))
                    } else {
                        format!("{} ago", format::age(t, state.clock.wall))
                    }
                });
                Row::new([
                    Cell::from(tags),
                    Cell::from(i.short_digest().to_string()).fg(Color::DarkGray),
                    Cell::from(pushed),
                    Cell::from(Line::from(i.size.map(format::bytes).unwrap_or_default()).right_aligned()),
                ])
            });
            let pushed_width = if widest { 30 } else { 7 };
            let widths = [
                Constraint::Fill(1),
                Constraint::Length(12),
                Constraint::Length(pushed_width),
                Constraint::Length(9),
            ];
            let header = Row::new(["TAG", "DIGEST", "PUSHED", "SIZE"]).style(header_style);
            (&registry.image_cursor, Table::new(rows, widths).header(header), images.len())
        }
        None => {
            let count = registry
                .repositories
                .loaded()
                .map(|r| format!("{} repositories", r.len()))
                .unwrap_or_default();
            let mut spans = vec![Span::from(count).fg(Color::DarkGray)];
            if let Some(f) = filter_span(&registry.repo_cursor, editing) {
                spans.extend(["  ".into(), f]);
            }
            frame.render_widget(Paragraph::new(Line::from(spans)), head);
            if let Some(message) = load_message(&registry.repositories, "ECR repositories") {
                frame.render_widget(message, body);
                return;
            }
            let repositories = registry.visible_repositories();
            let rows = repositories.iter().map(|r| {
                let mut cells = vec![Cell::from(r.name.clone())];
                if wide {
                    cells.push(Cell::from(r.uri.clone()).fg(Color::DarkGray));
                }
                Row::new(cells)
            });
            let (widths, header) = if wide {
                (vec![Constraint::Fill(1), Constraint::Fill(2)], vec!["REPOSITORY", "URI"])
            } else {
                (vec![Constraint::Fill(1)], vec!["REPOSITORY"])
            };
            let table = Table::new(rows, widths).header(Row::new(header).style(header_style));
            (&registry.repo_cursor, table, repositories.len())
        }
    };
    if len == 0 {
        let text = if cursor.filter.is_empty() {
            if registry.open.is_some() {
                "no images in this repository yet"
            } else {
                "no ECR repositories here"
            }
            .to_string()
        } else {
            format!("nothing matches /{}", cursor.filter)
        };
        frame.render_widget(Paragraph::new(text).fg(Color::DarkGray), body);
        return;
    }
    let mut table_state = TableState::default().with_selected(Some(cursor.selected.min(len - 1)));
    frame.render_stateful_widget(
        table.column_spacing(1).row_highlight_style(highlight),
        body,
        &mut table_state,
    );
}

/// What to show instead of a list that is not there (yet).
fn load_message<T>(load: &Load<T>, what: &str) -> Option<Paragraph<'static>> {
    match load {
        Load::Loaded(_) => None,
        Load::Idle | Load::Loading => Some(Paragraph::new(format!("loading {what}…")).fg(Color::DarkGray)),
        Load::Failed(error) => Some(
            Paragraph::new(vec![
                Line::from(format!("cannot list {what}")).fg(Color::Red).bold(),
                Line::from(error.clone()),
            ])
            .wrap(Wrap { trim: true }),
        ),
    }
}
