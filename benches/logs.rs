//! Logs pane benchmark: one million log lines through the pane's own code.
//!
//! - ingest: batches of 10,000 lines (the most CloudWatch hands over per read)
//!   applied with `update`, as the dashboard does, into a ring buffer of 1M
//!   lines (nothing dropped) and of the default 100k (900k dropped);
//! - draw: a whole 200×60 frame with the Logs pane focused and 1M lines held,
//!   following, wrapped, paused half-way with a search highlighted;
//! - search: over the 1M lines held, next to `grep -c` over the same lines in a
//!   file (what a user does with `aws logs tail > file`);
//! - memory: the process's resident size after each ingest.
//!
//! Run with `cargo bench --bench logs`.

use std::io::Write;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use wharf::app::Keymap;
use wharf::app::{Action, AppState, Clock, update};
use wharf::aws::AwsStatus;
use wharf::config::{Profile, Settings};
use wharf::logs::{LogLine, TailEvent};

const LINES: usize = 1_000_000;
const BATCH: usize = 10_000;
const DRAWS: usize = 300;

fn lines() -> Vec<LogLine> {
    let sources: [Arc<str>; 3] = [Arc::from("5f0c6e2a"), Arc::from("0a1b2c3d"), Arc::from("9e8d7c6b")];
    let start = wharf::time::unix_now() * 1000 - 3_600_000;
    (0..LINES)
        .map(|n| {
            let text = if n % 50 == 7 {
                format!(
                    "ERROR upstream timed out after 3000ms request_id={n:08x} path=/api/items/{}",
                    n % 977
                )
            } else {
                format!(
                    "INFO GET /api/items/{} 200 {}ms request_id={n:08x} user_agent=\"curl/8.5.0\"",
                    n % 977,
                    n % 83
                )
            };
            LogLine { timestamp: start + n as i64 * 3, source: sources[n % 3].clone(), text }
        })
        .collect()
}

/// A dashboard tailing a service, Logs focused, at 200×60.
fn tailing(capacity: usize) -> (AppState, u64) {
    let profile = Profile {
        cluster: Some("dev".into()),
        service: Some("api".into()),
        log_lines: Some(capacity),
        ..Profile::default()
    };
    let settings = Settings { profile, ..Settings::default() };
    let mut state = AppState::new(settings, Keymap::defaults().expect("keymap"), Clock::now());
    state.size = (200, 60);
    update(&mut state, Action::Aws(AwsStatus::Ready { region: Some("eu-west-1".into()), endpoint: None }));
    update(&mut state, Action::FocusLogs);
    update(&mut state, Action::TailLogs);
    let id = state.logs.tail;
    for source in ["5f0c6e2a", "0a1b2c3d", "9e8d7c6b"] {
        update(&mut state, Action::Tail(id, TailEvent::Source(Arc::from(source))));
    }
    (state, id)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn ingest(capacity: usize, all: &[LogLine]) -> (AppState, f64) {
    let (mut state, id) = tailing(capacity);
    // The batches are made before the clock starts: making them is the tail's work.
    let batches: Vec<Vec<LogLine>> = all.chunks(BATCH).map(<[LogLine]>::to_vec).collect();
    let start = Instant::now();
    for batch in batches {
        update(&mut state, Action::Tail(id, TailEvent::Lines(batch)));
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    (state, rate)
}

fn median(mut xs: Vec<Duration>) -> (Duration, Duration) {
    xs.sort();
    (xs[xs.len() / 2], xs[xs.len() * 99 / 100])
}

fn draws(state: &AppState) -> (Duration, Duration) {
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    let mut times = Vec::with_capacity(DRAWS);
    for _ in 0..DRAWS {
        let start = Instant::now();
        terminal.draw(|f| wharf::ui::draw(f, state)).expect("draw");
        times.push(start.elapsed());
    }
    median(times)
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn search(state: &mut AppState, query: &str) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..7 {
        let start = Instant::now();
        state.logs.buffer.search(query);
        times.push(start.elapsed());
        count = state.logs.buffer.current_search().map_or(0, |s| s.count());
    }
    (median(times).0, count)
}

fn grep(args: &[&str], file: &std::path::Path) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..7 {
        let start = Instant::now();
        let out = Command::new("grep").args(args).arg(file).output().expect("grep");
        times.push(start.elapsed());
        count = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    }
    (median(times).0, count)
}

fn main() {
    let all = lines();
    println!(
        "{} lines, {:.1} MB of text\n",
        all.len(),
        all.iter().map(|l| l.text.len()).sum::<usize>() as f64 / 1e6
    );
    let before = rss_mib();

    let (_, small_rate) = ingest(wharf::logs::buffer::DEFAULT_CAPACITY, &all);
    let small_rss = rss_mib();
    let (mut state, rate) = ingest(LINES, &all);
    let full_rss = rss_mib();
    println!("ingest (update with 10k-line batches)");
    println!("  into 1M lines (nothing dropped):   {:>10.0} lines/s", rate);
    println!("  into 100k lines (900k dropped):    {:>10.0} lines/s", small_rate);
    println!("  target: ≥ 200,000 lines/s\n");
    println!(
        "resident memory: {before:.0} MiB with the lines made, +{:.0} MiB after the 100k-line pane, {full_rss:.0} MiB with 1M held\n",
        small_rss - before
    );

    println!(
        "draw a 200×60 frame, Logs focused, {} lines held ({DRAWS} frames; median, p99)",
        state.logs.buffer.len()
    );
    let (m, p) = draws(&state);
    println!("  following:                {} {}", ms(m), ms(p));
    update(&mut state, Action::Wrap);
    let (m, p) = draws(&state);
    println!("  wrapped:                  {} {}", ms(m), ms(p));
    update(&mut state, Action::Wrap);
    state.logs.follow = false;
    state.logs.bottom = (LINES / 2) as u64;
    state.logs.cursor.filter = "error".into();
    state.logs.buffer.search("error");
    let (m, p) = draws(&state);
    println!("  paused half-way, matches highlighted: {} {}", ms(m), ms(p));
    println!("  target: ≤ 2 ms\n");

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("logs.txt");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).expect("file"));
        for l in &all {
            writeln!(out, "[{}] {}", l.source, l.text).expect("write");
        }
    }
    println!("search over {} lines (median of 7)", state.logs.buffer.len());
    println!(
        "  {:<38} {:>11} {:>9}   {:<26} {:>11} {:>9}   ratio",
        "wharf", "time", "matches", "grep -c", "time", "matches"
    );
    for (query, grep_args) in [
        ("error", vec!["-c", "-i", "error"]),
        ("ERROR", vec!["-c", "ERROR"]),
        ("request_id=0007a120", vec!["-c", "request_id=0007a120"]),
    ] {
        let (t, n) = search(&mut state, query);
        let (g, gn) = grep(&grep_args, &file);
        println!(
            "  {:<38} {:>11} {:>9}   {:<26} {:>11} {:>9}   {:.2}",
            format!("/{query}"),
            ms(t),
            n,
            grep_args.join(" "),
            ms(g),
            gn,
            t.as_secs_f64() / g.as_secs_f64()
        );
    }
    println!("  target: ≤ 100 ms");
}
