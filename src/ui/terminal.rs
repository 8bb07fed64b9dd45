//! Entering and leaving the terminal's dashboard mode. Whatever ends the
//! dashboard (quit, a signal, an error, a panic) leaves the terminal as it was:
//! raw mode off, the alternate screen left, the cursor shown.

use std::io::{self, Stdout, stdout};

use crossterm::event::{DisableBracketedPaste, DisableFocusChange, EnableBracketedPaste, EnableFocusChange};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Restores the terminal when dropped, on every way out of the dashboard.
pub struct TerminalGuard {
    pub terminal: Tui,
}

impl TerminalGuard {
    /// Switches to raw mode and the alternate screen.
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        let mut out = stdout();
        if let Err(e) =
            execute!(out, EnterAlternateScreen, EnableBracketedPaste, EnableFocusChange, cursor::Hide)
        {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(out)) {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if let Ok(mut ui) = UI_THREAD.lock() {
            *ui = None;
        }
        restore();
    }
}

/// Leaves dashboard mode. Safe to call more than once, and on a terminal that is
/// gone (a dropped SSH session): errors are ignored, there is nobody to tell.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), DisableBracketedPaste, DisableFocusChange, LeaveAlternateScreen, cursor::Show);
}

/// Gives the terminal to something else for a while (a shell in a container):
/// the main screen and the cursor back, raw mode kept.
pub fn step_aside() -> io::Result<()> {
    execute!(stdout(), DisableBracketedPaste, DisableFocusChange, LeaveAlternateScreen, cursor::Show)
}

/// Takes the terminal back after [`step_aside`].
pub fn take_back() -> io::Result<()> {
    execute!(stdout(), EnterAlternateScreen, EnableBracketedPaste, EnableFocusChange, cursor::Hide)
}

/// The thread that draws the dashboard, while it is open.
static UI_THREAD: std::sync::Mutex<Option<std::thread::ThreadId>> = std::sync::Mutex::new(None);

/// A panic on the thread that draws ends the dashboard: the terminal is
/// restored before the report is printed, so that it can be read. A panic
/// anywhere else (a job) leaves the screen alone: it goes to the log, and the
/// job ends as Failed with its message.
fn install_panic_hook() {
    if let Ok(mut ui) = UI_THREAD.lock() {
        *ui = Some(std::thread::current().id());
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ui = UI_THREAD.lock().map(|t| *t).unwrap_or(None);
            match ui {
                Some(thread) if thread != std::thread::current().id() => {
                    tracing::error!(panic = %info, "a panic off the dashboard's thread");
                }
                _ => {
                    restore();
                    previous(info);
                }
            }
        }));
    });
}
