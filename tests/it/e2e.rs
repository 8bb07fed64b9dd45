//! The real binary in a pseudo-terminal: it draws the panes with the engine's
//! images, opens help, copes with resizes, quits on `q` or a signal, and leaves
//! the terminal as it found it (raw mode off, main screen, cursor shown).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use crate::support::{eventually, test_image};

pub(crate) struct Session {
    master: Box<dyn portable_pty::MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    screen: Arc<Mutex<vt100::Parser>>,
    transcript: Arc<Mutex<String>>,
    /// Every screen the session showed, for what was on it only briefly.
    frames: Arc<Mutex<Vec<String>>>,
    pub(crate) home: tempfile::TempDir,
}

fn nz(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).unwrap()
}

pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

impl Session {
    /// Starts `wharf` under `sh`, which afterwards prints its exit status and the
    /// terminal's modes (`stty -a`), so the test can see what wharf left behind.
    fn start(cols: u16, rows: u16) -> Session {
        Session::start_with(cols, rows, &[], None)
    }

    /// [`Session::start`] with more environment, and a `wharf.toml` in its directory.
    pub(crate) fn start_with(cols: u16, rows: u16, env: &[(&str, &str)], config: Option<&str>) -> Session {
        let home = tempfile::tempdir().unwrap();
        if let Some(config) = config {
            std::fs::write(home.path().join("wharf.toml"), config).unwrap();
        }
        let pair =
            native_pty_system().openpty(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).unwrap();
        let mut cmd = CommandBuilder::new("sh");
        // WHARF_ARGS: a subcommand and its arguments, split on spaces.
        cmd.args(["-c", "\"$WHARF\" $WHARF_ARGS; echo \"EXIT=$?\"; stty -a"]);
        cmd.env("WHARF", env!("CARGO_BIN_EXE_wharf"));
        cmd.env("TERM", "xterm-256color");
        cmd.env("XDG_CONFIG_HOME", home.path().join("config"));
        cmd.env("XDG_STATE_HOME", home.path().join("state"));
        cmd.env("XDG_CACHE_HOME", home.path().join("cache"));
        for (name, value) in env {
            cmd.env(name, value);
        }
        cmd.env("AWS_EC2_METADATA_DISABLED", "true");
        cmd.env_remove("DOCKER_HOST");
        cmd.env_remove("WHARF_PROFILE");
        cmd.cwd(home.path());
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let screen = Arc::new(Mutex::new(vt100::Parser::new(nz(rows), nz(cols), 0)));
        let transcript = Arc::new(Mutex::new(String::new()));
        let mut reader = pair.master.try_clone_reader().unwrap();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let (s, t, f) = (screen.clone(), transcript.clone(), frames.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut screen = s.lock().unwrap();
                screen.process(&buf[..n]);
                let mut frames: std::sync::MutexGuard<Vec<String>> = f.lock().unwrap();
                let now = screen.screen().contents();
                if frames.last() != Some(&now) {
                    frames.push(now);
                }
                t.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let writer = pair.master.take_writer().unwrap();
        Session { master: pair.master, writer, child, screen, transcript, frames, home }
    }

    /// Whether `text` was ever on screen.
    pub(crate) fn was_shown(&self, text: &str) -> bool {
        self.frames.lock().unwrap().iter().any(|f| f.contains(text))
    }

    /// Bytes the program has written to the terminal so far.
    pub(crate) fn written(&self) -> usize {
        self.transcript.lock().unwrap().len()
    }

    pub(crate) fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    pub(crate) fn wait_for(&self, text: &str) {
        let start = Instant::now();
        while !self.contents().contains(text) {
            if start.elapsed() > TIMEOUT {
                panic!("timed out after {TIMEOUT:?} waiting for {text:?} on screen:\n{}", self.contents());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    pub(crate) fn resize(&self, cols: u16, rows: u16) {
        // The emulator first, so that the frame drawn for the new size lands in a screen of that size.
        self.screen.lock().unwrap().screen_mut().set_size(nz(rows), nz(cols));
        self.master.resize(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).unwrap();
    }

    /// The pid of wharf itself (the shell's child).
    fn wharf_pid(&self) -> u32 {
        let sh = self.child.process_id().unwrap();
        let children = std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children")).unwrap();
        children.split_whitespace().next().expect("wharf is running").parse().unwrap()
    }

    /// Waits for the shell to report wharf's exit status and the terminal modes.
    pub(crate) fn finish(mut self) -> (i32, String, vt100::Parser) {
        eventually(TIMEOUT, "wharf to exit and stty to report", || {
            let t = self.transcript.lock().unwrap();
            t.contains("EXIT=") && t.contains("icanon")
        });
        let _ = self.child.wait();
        let transcript = self.transcript.lock().unwrap().clone();
        let code = transcript
            .split("EXIT=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        let screen =
            std::mem::replace(&mut *self.screen.lock().unwrap(), vt100::Parser::new(nz(1), nz(1), 0));
        (code, transcript, screen)
    }
}

pub(crate) fn assert_restored(transcript: &str, screen: &vt100::Parser) {
    let modes = transcript.rsplit("EXIT=").next().unwrap();
    let words: Vec<&str> = modes.split_whitespace().collect();
    assert!(words.contains(&"icanon") && words.contains(&"echo"), "raw mode left on: {modes}");
    assert!(!screen.screen().alternate_screen(), "still on the alternate screen");
    assert!(!screen.screen().hide_cursor(), "cursor left hidden");
}

/// Waits for the six panes, then filters the Images pane down to the test image
/// (other tests add images, which could push it out of view) and waits for it.
fn wait_for_dashboard(session: &mut Session) {
    for title in ["Images", "Registry", "ECS", "Logs", "Snapshots", "Jobs"] {
        session.wait_for(title);
    }
    session.send(b"/busybox:latest\r");
    session.wait_for(crate::support::TEST_IMAGE);
}

#[test]
fn opens_shows_images_helps_resizes_and_quits_cleanly() {
    test_image();
    let mut session = Session::start(120, 40);
    wait_for_dashboard(&mut session);
    // Hints on the status line (once the filter typed above is kept).
    session.wait_for("? help");

    session.send(b"?");
    session.wait_for("Help — keys from the loaded keymap");
    assert!(session.contents().contains("bake container"));
    session.send(b"\x1b");
    eventually(TIMEOUT, "help to close", || !session.contents().contains("Help — keys"));

    session.resize(50, 15);
    session.wait_for("terminal too small");
    session.resize(100, 30);
    eventually(TIMEOUT, "panes after growing", || {
        let c = session.contents();
        c.contains("Snapshots") && !c.contains("too small")
    });

    // The log goes to its file, never to the terminal.
    let log = session.home.path().join("state/wharf/wharf.log");
    let logged = std::fs::read_to_string(&log).expect("log file");
    assert!(logged.contains("wharf starting"), "{logged}");
    session.send(b"q");
    let (code, transcript, screen) = session.finish();
    assert_eq!(code, 0);
    assert_restored(&transcript, &screen);
    assert!(!transcript.contains("wharf starting"));
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    test_image();
    for (signal, expected) in [("TERM", 143), ("HUP", 129)] {
        let mut session = Session::start(100, 30);
        wait_for_dashboard(&mut session);
        let pid = session.wharf_pid();
        let status =
            std::process::Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status();
        assert!(status.unwrap().success());
        let (code, transcript, screen) = session.finish();
        assert_eq!(code, expected, "exit status after SIG{signal}");
        assert_restored(&transcript, &screen);
    }
}

#[test]
fn dashboard_without_config_shows_truthful_empty_aws_panes() {
    let mut session = Session::start(120, 40);
    wait_for_dashboard(&mut session);
    session.wait_for("cluster: not set");
    session.wait_for("bucket: not set");
    session.wait_for("No logs tailed yet.");
    let contents = session.contents();
    assert!(!contents.contains("Not in this build yet."), "every pane is built:\n{contents}");
    session.send(b"q");
    let (code, _, _) = session.finish();
    assert_eq!(code, 0);
}

/// Moto's endpoint and test credentials for a session.
fn aws_env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", url.to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "eu-west-1".into()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn quitting_during_a_backup_waits_for_its_clean_up_and_leaves_no_upload() {
    let mut cleanup = crate::support::Cleanup::default();
    let container = crate::backup::data_container(&mut cleanup);
    crate::backup::fill(&container, 160);
    let bucket = crate::backup::bucket().await;
    let config = format!(
        "[profiles.t]\nbucket = \"{bucket}\"\nprefix = \"quit\"\n[profiles.t.database]\ncontainer = \"{container}\"\npath = \"/data\"\n"
    );
    let env = aws_env(&crate::support::aws_url());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut session = Session::start_with(120, 40, &env, Some(&config));
    wait_for_dashboard(&mut session);
    session.wait_for("AWS: ready");
    session.send(b"5");
    session.send(b"b");
    session.wait_for("backing up: read");
    session.send(b"q");
    session.wait_for("Quit and cancel them?");
    std::thread::sleep(wharf::app::DIALOG_GUARD + Duration::from_millis(100));
    session.send(b"y");
    eventually(TIMEOUT, "wharf to exit", || session.transcript.lock().unwrap().contains("EXIT="));
    assert!(session.was_shown("Cleaning up 1 job"), "the clean-up is shown while it runs");
    let (code, transcript, screen) = session.finish();
    assert_eq!(code, 0);
    assert_restored(&transcript, &screen);
    // No snapshot, no lock, no upload: only the chunks sent so far, which a prune frees.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("wharf.toml"), &config).unwrap();
    let pruned = crate::backup::wharf(&["prune", "--yes", "--json"], home.path());
    assert_eq!(pruned.status.code(), Some(0), "{}", crate::backup::stderr(&pruned));
    let pruned: serde_json::Value = serde_json::from_slice(&pruned.stdout).unwrap();
    assert!(pruned["chunks_kept_because"].is_null(), "the backup's lock went with it: {pruned}");
    assert!(pruned["freed_chunks"].as_u64().unwrap() > 0, "{pruned}");
    let s3 = crate::support::moto_clients().await.s3;
    crate::backup::nothing_left(&s3, &bucket, "quit/").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_finishes_a_restore_that_kill_9_cut_short() {
    use crate::restore::{
        Layout, data_set, journal_phase, kill_during, listing, running, snapshot_of, target,
    };
    let mut cleanup = crate::support::Cleanup::default();
    let scratch = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let bucket = crate::backup::bucket().await;
    let new = data_set(7, 40 << 20);
    let id = snapshot_of(&mut cleanup, scratch.path(), home.path(), &bucket, &new).await;
    let wanted = listing(&target(&mut cleanup, scratch.path(), test_image(), Layout::OwnFs, false, &new));
    let container =
        target(&mut cleanup, scratch.path(), test_image(), Layout::Volume, true, &data_set(8, 1 << 20));
    let args: Vec<String> =
        ["restore", &id, "--container", &container, "--bucket", &bucket, "--yes"].map(String::from).to_vec();
    // Killed while the snapshot goes in: the volume holds part of it.
    let mut tries = 0;
    while journal_phase(home.path()) != "replacing" {
        tries += 1;
        assert!(tries <= 5, "no kill landed while the snapshot went in");
        let out = crate::backup::wharf(&["doctor", "--fix"], home.path());
        assert_eq!(out.status.code(), Some(0));
        kill_during(home.path(), &args, Some("restoring 2"), Duration::from_millis(30));
    }
    assert!(!running(&container), "stopped for the restore, and left so by the kill");

    let xdg = |dir: &str| home.path().join(dir).display().to_string();
    let (state, cache, config) = (xdg("state"), xdg("cache"), xdg("config"));
    let env = [
        ("XDG_STATE_HOME", state.as_str()),
        ("XDG_CACHE_HOME", cache.as_str()),
        ("XDG_CONFIG_HOME", config.as_str()),
    ];
    let mut session = Session::start_with(120, 40, &env, None);
    wait_for_dashboard(&mut session);
    // Said in the status line (until the next key: the filter typed above may
    // land in the same frame) and in the Jobs pane's list.
    eventually(TIMEOUT, "the start to say so", || {
        session.was_shown("1 restore was cut short: finishing (see Jobs)") || session.was_shown("recover")
    });
    eventually(Duration::from_secs(60), "the restore to be finished", || {
        journal_phase(home.path()) == "none"
    });
    session.send(b"6");
    let done = || {
        let c = session.contents();
        c.contains("recover") && c.contains("was cut short; it is now")
    };
    for _ in 0..100 {
        if done() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(done(), "the Jobs pane says what was done:\n{}", session.contents());
    assert_eq!(listing(&container), wanted, "exactly the snapshot");
    assert!(running(&container), "started again");
    session.send(b"q");
    let (code, _, _) = session.finish();
    assert_eq!(code, 0);
}

/// `NO_COLOR=1`: the real screen has no colour in any cell (checked in the
/// terminal emulator), while the focused pane's border stays bold and the
/// selected row reverse — the meaning colour carried is kept.
#[test]
fn no_color_draws_without_colour_and_keeps_bold_and_reverse() {
    test_image();
    let mut session = Session::start_with(120, 40, &[("NO_COLOR", "1")], None);
    wait_for_dashboard(&mut session);
    session.wait_for("? help");
    std::thread::sleep(Duration::from_millis(300));
    let (mut coloured, mut bold, mut reverse) = (0, 0, 0);
    {
        let parser = session.screen.lock().unwrap();
        let screen = parser.screen();
        let (rows, cols) = screen.size();
        for row in 0..rows.get() {
            for col in 0..cols.get() {
                let Some(cell) = screen.cell(row, col) else { continue };
                if cell.fgcolor() != vt100::Color::Default || cell.bgcolor() != vt100::Color::Default {
                    coloured += 1;
                }
                bold += usize::from(cell.bold());
                reverse += usize::from(cell.inverse());
            }
        }
    }
    assert_eq!(coloured, 0, "no cell has a colour:\n{}", session.contents());
    assert!(bold > 0 && reverse > 0, "bold {bold}, reverse {reverse}:\n{}", session.contents());
    session.send(b"q");
    let (code, transcript, screen) = session.finish();
    assert_eq!(code, 0);
    assert_restored(&transcript, &screen);
}
