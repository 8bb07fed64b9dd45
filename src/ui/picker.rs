//! A list to pick from, over the panes: the filter being typed, the items
//! with what is said beside each, the selected one reversed.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, List, ListItem, ListState, Paragraph};

use crate::app::Picker;

pub fn draw(frame: &mut Frame, area: Rect, picker: &Picker) {
    let visible = picker.visible();
    let rows = (visible.len() as u16).clamp(3, 14);
    let popup = super::centred(area, 76, rows + 5);
    frame.render_widget(Clear, popup);
    let block = Block::bordered().border_type(BorderType::Rounded).title(format!(" {} ", picker.title));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let [filter, list, keys] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let typed = Line::from(vec![
        Span::from("/ ").fg(Color::Cyan),
        Span::from(picker.cursor.filter.clone()),
        "█".into(),
    ]);
    frame.render_widget(Paragraph::new(typed), filter);
    let message = if picker.loading {
        Some(Line::from("loading…").fg(Color::DarkGray))
    } else if let Some(error) = &picker.error {
        Some(Line::from(error.clone()).fg(Color::Red))
    } else if visible.is_empty() && picker.items.is_empty() && picker.creates.is_some() {
        Some(Line::from("none yet: type a name to create one").fg(Color::Yellow))
    } else if visible.is_empty() && picker.items.is_empty() {
        Some(Line::from("nothing to pick from").fg(Color::Yellow))
    } else if visible.is_empty() {
        Some(Line::from("nothing matches the filter").fg(Color::DarkGray))
    } else {
        None
    };
    if let Some(message) = message {
        frame.render_widget(Paragraph::new(message), list);
    } else {
        let label_width = visible.iter().map(|i| i.label.chars().count()).max().unwrap_or(0).min(40);
        let items: Vec<ListItem> = visible
            .iter()
            .map(|item| {
                ListItem::new(Line::from(vec![
                    Span::from(format!("{:<label_width$}  ", item.label)),
                    Span::from(item.detail.clone()).fg(Color::DarkGray),
                ]))
            })
            .collect();
        let list_widget = List::new(items).highlight_style(Style::new().add_modifier(Modifier::REVERSED));
        let mut list_state = ListState::default().with_selected(Some(picker.cursor.selected));
        frame.render_stateful_widget(list_widget, list, &mut list_state);
    }
    let hint = "type to filter · ↑/↓ move · enter pick · esc cancel";
    frame.render_widget(Paragraph::new(Line::from(hint).fg(Color::DarkGray)), keys);
}
