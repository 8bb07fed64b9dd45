//! One file per pane; each is a function of [`crate::app::AppState`].

pub mod ecs;
pub mod images;
pub mod jobs;
pub mod logs;
pub mod registry;
pub mod snapshots;

use ratatui::style::{Color, Stylize};
use ratatui::text::{Line, Span};

use crate::app::{AppState, Cursor};
use crate::aws::AwsStatus;

/// The filter line shown under a list's tabs while a filter is typed or set.
pub(crate) fn filter_span(cursor: &Cursor, editing: bool) -> Option<Span<'static>> {
    if editing {
        Some(Span::from(format!("/{}█", cursor.filter)).fg(Color::Yellow))
    } else if !cursor.filter.is_empty() {
        Some(Span::from(format!("/{}", cursor.filter)).fg(Color::Yellow))
    } else {
        None
    }
}

/// A configured value, or what to set when it is missing.
pub(crate) fn setting_line(label: &str, value: Option<&str>, key: &str) -> Line<'static> {
    match value {
        Some(v) => Line::from(vec![
            Span::from(format!("{label}: ")).fg(Color::DarkGray),
            Span::from(v.to_string()).bold(),
        ]),
        None => Line::from(vec![
            Span::from(format!("{label}: ")).fg(Color::DarkGray),
            Span::from("not set").fg(Color::Yellow),
            Span::from(format!(" ({key} in wharf.toml)")).fg(Color::DarkGray),
        ]),
    }
}

/// The AWS connection as the AWS panes report it; the full error is in the log.
pub(crate) fn aws_line(state: &AppState) -> Line<'static> {
    match &state.aws {
        AwsStatus::Checking => Line::from(Span::from("AWS: looking for credentials…").fg(Color::DarkGray)),
        AwsStatus::Ready { region, endpoint } => {
            let mut text = format!("AWS: ready, {}", region.as_deref().unwrap_or("no region"));
            if let Some(e) = endpoint {
                text.push_str(&format!(", {e}"));
            }
            Line::from(Span::from(text).fg(Color::Green))
        }
        AwsStatus::NoCredentials { .. } => Line::from(vec![
            Span::from("AWS: no credentials").fg(Color::Yellow),
            Span::from(" (see the log)").fg(Color::DarkGray),
        ]),
    }
}
