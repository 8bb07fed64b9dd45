//! Start-up and idle benchmark: the real `wharf` binary in a pseudo-terminal.
//!
//! Measures, over several runs:
//! - time from spawning the process to the first complete frame (all six panes
//!   and the status line on screen);
//! - time until the local images are on screen, next to the peer a user runs
//!   instead to see them: `docker images` followed by `docker ps -a`;
//! - bytes written to the terminal while idle (no input, nothing changing): zero
//!   bytes means zero redraws.
//!
//! Run with `cargo bench --bench startup` (needs the Docker Engine and the test
//! image from `scripts/test-images.sh`).

use std::io::Read;
use std::num::NonZeroU16;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const RUNS: usize = 15;
const IDLE: Duration = Duration::from_secs(5);
const TITLES: [&str; 6] = ["Images", "Registry", "ECS", "Logs", "Snapshots", "Jobs"];

struct Run {
    first_frame: Duration,
    images: Duration,
    idle_bytes: Option<usize>,
}

fn nz(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN)
}

fn run_wharf(image: &str, measure_idle: bool) -> Run {
    let home = tempfile::tempdir().expect("tempdir");
    let pair = native_pty_system()
        .openpty(PtySize { rows: 40, cols: 120, pixel_width: 0, pixel_height: 0 })
        .expect("pty");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_wharf"));
    cmd.env("TERM", "xterm-256color");
    cmd.env("XDG_CONFIG_HOME", home.path().join("config"));
    cmd.env("XDG_STATE_HOME", home.path().join("state"));
    cmd.cwd(home.path());
    let screen = Arc::new(Mutex::new(vt100::Parser::new(nz(40), nz(120), 0)));
    let written = Arc::new(Mutex::new(0usize));
    let mut reader = pair.master.try_clone_reader().expect("reader");
    let start = Instant::now();
    let mut child = pair.slave.spawn_command(cmd).expect("spawn wharf");
    let (s, w) = (screen.clone(), written.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            s.lock().expect("screen").process(&buf[..n]);
            *w.lock().expect("count") += n;
        }
    });
    let until = |pred: &dyn Fn(&str) -> bool| loop {
        if pred(&screen.lock().expect("screen").screen().contents()) {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "wharf did not draw");
        std::thread::sleep(Duration::from_micros(200));
    };
    let first_frame = until(&|c: &str| TITLES.iter().all(|t| c.contains(t)) && c.contains("profile"));
    let images = until(&|c: &str| c.contains(image));
    let idle_bytes = measure_idle.then(|| {
        // Let the one-off background results (AWS credentials) arrive first.
        std::thread::sleep(Duration::from_secs(3));
        let before = *written.lock().expect("count");
        std::thread::sleep(IDLE);
        *written.lock().expect("count") - before
    });
    let _ = child.kill();
    let _ = child.wait();
    Run { first_frame, images, idle_bytes }
}

fn run_docker_cli() -> Duration {
    let start = Instant::now();
    for args in [&["images"][..], &["ps", "-a"][..]] {
        let out = Command::new("docker").args(args).output().expect("docker");
        assert!(out.status.success());
    }
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let status = Command::new("bash").arg("scripts/test-images.sh").status().expect("test images");
    assert!(status.success());
    let image = "wharf-test/busybox:latest";
    // Warm both sides once (page cache, engine).
    run_wharf(image, false);
    run_docker_cli();

    let mut frames = Vec::new();
    let mut images = Vec::new();
    let mut peers = Vec::new();
    for _ in 0..RUNS {
        let r = run_wharf(image, false);
        frames.push(r.first_frame);
        images.push(r.images);
        peers.push(run_docker_cli());
    }
    let idle = run_wharf(image, true).idle_bytes.unwrap_or(usize::MAX);

    let (frame, image_time, peer) = (median(frames.clone()), median(images), median(peers));
    println!("wharf start-up, {RUNS} runs each, medians (120×40 pseudo-terminal)");
    println!("| measure | wharf | docker images + docker ps -a | ratio |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| first complete frame | {} (max {}) | – | – |",
        ms(frame),
        ms(*frames.iter().max().unwrap_or(&frame))
    );
    println!(
        "| local images on screen | {} | {} | {:.2} |",
        ms(image_time),
        ms(peer),
        image_time.as_secs_f64() / peer.as_secs_f64()
    );
    println!(
        "| bytes written while idle for {}s | {idle} ({:.1} draws/s) | – | – |",
        IDLE.as_secs(),
        if idle == 0 { 0.0 } else { f64::NAN }
    );
}
