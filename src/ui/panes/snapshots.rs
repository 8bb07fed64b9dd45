//! Snapshots: database snapshots in S3.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::{render_planned, setting_line};
use crate::app::AppState;

pub fn render(frame: &mut Frame, area: Rect, state: &AppState) {
    let p = &state.settings.profile;
    let bucket = p.bucket.as_ref().map(|b| format!("s3://{b}/{}", p.prefix.as_deref().unwrap_or("")));
    let needs = vec![setting_line("bucket", bucket.as_deref(), "bucket")];
    render_planned(frame, area, "Will list S3 snapshots.", needs, state);
}
