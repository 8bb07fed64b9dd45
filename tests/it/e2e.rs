//! The real binary in a pseudo-terminal: it draws the panes with the engine's
//! images, opens help, copes with resizes, quits on `q` or a signal, and leaves
//! the terminal as it found it (raw mode off, main screen, cursor shown).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use crate::support::{eventually, test_image};

struct Session {
    master: Box<dyn portable_pty::MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    screen: Arc<Mutex<vt100::Parser>>,
    transcript: Arc<Mutex<String>>,
    home: tempfile::TempDir,
}

fn nz(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).unwrap()
}

const TIMEOUT: Duration = Duration::from_secs(20);

impl Session {
    /// Starts `wharf` under `sh`, which afterwards prints its exit status and the
    /// terminal's modes (`stty -a`), so the test can see what wharf left behind.
    fn start(cols: u16, rows: u16) -> Session {
        let home = tempfile::tempdir().unwrap();
        let pair =
            native_pty_system().openpty(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).unwrap();
        let mut cmd = CommandBuilder::new("sh");
        cmd.args(["-c", "\"$WHARF\"; echo \"EXIT=$?\"; stty -a"]);
        cmd.env("WHARF", env!("CARGO_BIN_EXE_wharf"));
        cmd.env("TERM", "xterm-256color");
        cmd.env("XDG_CONFIG_HOME", home.path().join("config"));
        cmd.env("XDG_STATE_HOME", home.path().join("state"));
        cmd.env("AWS_EC2_METADATA_DISABLED", "true");
        cmd.env_remove("DOCKER_HOST");
        cmd.env_remove("WHARF_PROFILE");
        cmd.cwd(home.path());
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let screen = Arc::new(Mutex::new(vt100::Parser::new(nz(rows), nz(cols), 0)));
        let transcript = Arc::new(Mutex::new(String::new()));
        let mut reader = pair.master.try_clone_reader().unwrap();
        let (s, t) = (screen.clone(), transcript.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock().unwrap().process(&buf[..n]);
                t.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let writer = pair.master.take_writer().unwrap();
        Session { master: pair.master, writer, child, screen, transcript, home }
    }

    fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    fn wait_for(&self, text: &str) {
        eventually(TIMEOUT, &format!("{text:?} on screen"), || self.contents().contains(text));
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    fn resize(&self, cols: u16, rows: u16) {
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
    fn finish(mut self) -> (i32, String, vt100::Parser) {
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

fn assert_restored(transcript: &str, screen: &vt100::Parser) {
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
