//! ECS: cluster → services → tasks.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::{render_planned, setting_line};
use crate::app::AppState;

pub fn render(frame: &mut Frame, area: Rect, state: &AppState) {
    let p = &state.settings.profile;
    let needs = vec![
        setting_line("cluster", p.cluster.as_deref(), "cluster"),
        setting_line("service", p.service.as_deref(), "service"),
    ];
    render_planned(frame, area, "Will show clusters → services → tasks.", needs, state);
}
