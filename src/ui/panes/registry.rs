//! Registry: ECR repositories and their images.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::{render_planned, setting_line};
use crate::app::AppState;

pub fn render(frame: &mut Frame, area: Rect, state: &AppState) {
    let p = &state.settings.profile;
    let mut needs = vec![setting_line(
        "repository",
        p.repository.as_deref(),
        "repository",
    )];
    if let Some(registry) = &p.registry {
        needs.push(setting_line("push to", Some(registry), "registry"));
    }
    render_planned(
        frame,
        area,
        "Will list ECR repositories and tags.",
        needs,
        state,
    );
}
