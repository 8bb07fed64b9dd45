//! The charts the panes draw: a container's last ten minutes, a service's
//! last three hours (CPU and memory over time), and a database's size over
//! its snapshots.

use ratatui::Frame;
use ratatui::layout::{Direction, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Bar, BarChart, Chart, Dataset, GraphType, LegendPosition, Paragraph, Wrap};

use crate::format;
use crate::model::metrics::{History, StatsSample, Utilization};
use crate::model::snapshots::Snapshot;

/// CPU's and memory's colours, in every chart and on every row.
pub const CPU: Color = Color::Cyan;
pub const MEMORY: Color = Color::Magenta;

/// Percentages over time: each series as (seconds before now, percent),
/// `span` seconds wide, with the axis labelled in `unit` seconds (60: minutes).
/// A named line on a chart: (x, y) points in its colour.
type Series<'a> = (&'a str, Color, &'a [(f64, f64)]);

fn percent_chart(frame: &mut Frame, area: Rect, series: [Series; 2], span: f64, unit: f64) {
    // Up to a tenth above the highest point, in steps of 10 %: a quiet
    // container's 3 % is not a flat line at the bottom of 100 %.
    let highest = series.iter().flat_map(|(_, _, points)| points.iter().map(|p| p.1)).fold(0.0, f64::max);
    let top = ((highest * 1.1 / 10.0).ceil() * 10.0).max(10.0);
    let datasets = series
        .iter()
        .map(|(name, colour, points)| {
            Dataset::default()
                .name(*name)
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(*colour))
                .data(points)
        })
        .collect();
    let suffix = if unit >= 60.0 { "m" } else { "s" };
    let label = |at: f64| Line::from(format!("-{}{suffix}", (at / unit).round())).fg(Color::DarkGray);
    let x = Axis::default().bounds([-span, 0.0]).labels([
        label(span),
        label(span / 2.0),
        Line::from("now").fg(Color::DarkGray),
    ]);
    let y = Axis::default()
        .bounds([0.0, top])
        .labels([0.0, top / 2.0, top].map(|v| Line::from(format!("{v:.0}%")).fg(Color::DarkGray)));
    // The newest points are on the right: the legend goes top left.
    let chart = Chart::new(datasets).x_axis(x).y_axis(y).legend_position(Some(LegendPosition::TopLeft));
    frame.render_widget(chart, area);
}

/// A running container's chart: the latest figures in words, then CPU and
/// memory over the last ten minutes.
pub fn container(
    frame: &mut Frame,
    heading: Rect,
    body: Rect,
    name: &str,
    running: bool,
    history: Option<&History>,
) {
    let Some((history, latest)) = history.and_then(|h| Some((h, h.latest()?))) else {
        let words = Line::from(vec![
            Span::from(name.to_string()).bold().fg(Color::Cyan),
            "  waiting for the engine's first reading…  esc back".fg(Color::DarkGray),
        ]);
        frame.render_widget(words, heading);
        return;
    };
    let mut line = container_line(name, latest);
    if !running {
        // Its figures are from before it stopped: said, not shown as now.
        line.spans.insert(1, Span::from("  stopped; its last readings:").fg(Color::Yellow));
    }
    frame.render_widget(line, heading);
    let points = |f: fn(&StatsSample) -> f64| -> Vec<(f64, f64)> {
        history.last(History::KEEP).map(|s| ((s.at - latest.at) as f64, f(s))).collect()
    };
    let (cpu, memory) = (points(|s| s.cpu_percent), points(StatsSample::mem_percent));
    percent_chart(frame, body, [("CPU", CPU, &cpu), ("memory", MEMORY, &memory)], History::KEEP as f64, 60.0);
}

fn container_line(name: &str, s: &StatsSample) -> Line<'static> {
    Line::from(vec![
        Span::from(name.to_string()).bold().fg(Color::Cyan),
        Span::from(format!("  CPU {:.1}%", s.cpu_percent)).fg(CPU),
        Span::from(format!(
            " · memory {} / {} ({:.1}%)",
            format::bytes(s.mem_used),
            format::bytes(s.mem_limit),
            s.mem_percent()
        ))
        .fg(MEMORY),
        Span::from(format!(" · network ↓{} ↑{}", format::bytes(s.net_rx), format::bytes(s.net_tx))),
        "  esc back".fg(Color::DarkGray),
    ])
}

/// A service's chart: CPU and memory utilization over the last three hours,
/// or the words for none.
pub fn service(
    frame: &mut Frame,
    area: Rect,
    utilization: Option<&Utilization>,
    failed: Option<&str>,
    now: i64,
) {
    match utilization {
        None => {
            let words = match failed {
                Some(e) => format!("no utilization: CloudWatch did not answer: {e}"),
                None => "asking CloudWatch for utilization…".into(),
            };
            frame.render_widget(Paragraph::new(words).fg(Color::DarkGray).wrap(Wrap { trim: true }), area)
        }
        Some(u) if u.is_empty() => frame.render_widget(
            Line::from(
                "no metrics: CloudWatch has no CPU or memory utilization for this service in the last 3 h",
            )
            .fg(Color::DarkGray),
            area,
        ),
        Some(u) => {
            let points = |series: &[(i64, f64)]| -> Vec<(f64, f64)> {
                series.iter().map(|(t, v)| ((t - now) as f64, *v)).collect()
            };
            let (cpu, memory) = (points(&u.cpu), points(&u.memory));
            let span = crate::aws::metrics::SPAN_SECS as f64;
            percent_chart(frame, area, [("CPU", CPU, &cpu), ("memory", MEMORY, &memory)], span, 60.0);
        }
    }
}

/// The database's size (before compression) in each snapshot of the same
/// source, oldest at the top, the opened one marked; as many as fit.
pub fn sizes(frame: &mut Frame, area: Rect, snapshots: &[&Snapshot], opened: &str) {
    let mut sized: Vec<(&Snapshot, u64)> =
        snapshots.iter().filter_map(|s| Some((*s, s.manifest.as_ref()?.raw_bytes))).collect();
    sized.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    let room = usize::from(area.height.saturating_sub(1));
    let sized = &sized[sized.len().saturating_sub(room)..];
    if sized.is_empty() {
        return;
    }
    let bars: Vec<Bar> = sized
        .iter()
        .map(|(s, bytes)| {
            let colour = if s.id == opened { Color::Cyan } else { Color::DarkGray };
            // Ids begin with their UTC time: 20261205T180000Z → 12-05 18:00.
            let when =
                s.id.get(4..13)
                    .map_or(s.id.clone(), |t| format!("{}-{} {}:{}", &t[0..2], &t[2..4], &t[5..7], &t[7..9]));
            Bar::new(*bytes)
                .label(Line::from(when))
                .text_value(format::bytes(*bytes))
                .style(Style::new().fg(colour))
                .value_style(Style::new().fg(Color::Black).bg(colour))
        })
        .collect();
    let [title, chart] = ratatui::layout::Layout::vertical([
        ratatui::layout::Constraint::Length(1),
        ratatui::layout::Constraint::Min(0),
    ])
    .areas(area);
    frame.render_widget(Line::from("database size by snapshot").fg(Color::DarkGray).bold(), title);
    frame.render_widget(
        BarChart::horizontal(bars).direction(Direction::Horizontal).bar_width(1).bar_gap(0),
        chart,
    );
}
