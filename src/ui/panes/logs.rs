//! Logs: the CloudWatch logs of the selected ECS task or service.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::{render_planned, setting_line};
use crate::app::AppState;

pub fn render(frame: &mut Frame, area: Rect, state: &AppState) {
    let p = &state.settings.profile;
    let needs = vec![setting_line("cluster", p.cluster.as_deref(), "cluster")];
    render_planned(frame, area, "Will tail CloudWatch logs of ECS tasks.", needs, state);
}
