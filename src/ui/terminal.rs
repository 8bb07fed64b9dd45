//! Entering and leaving the terminal's dashboard mode. Whatever ends the
//! dashboard (quit, a signal, an error, a panic) leaves the terminal as it was:
//! raw mode off, the alternate screen left, the cursor shown.

use std::io::{self, Stdout, stdout};

use crossterm::event::{DisableBracketedPaste, DisableFocusChange, EnableBracketedPaste, EnableFocusChange};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use crossterm::{cursor, execute};
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::buffer::Buffer;
use ratatui::{Frame, Terminal};

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Restores the terminal when dropped, on every way out of the dashboard.
pub struct TerminalGuard {
    pub terminal: Tui,
    /// The last frame written: the same frame again writes nothing.
    last: Option<Buffer>,
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
            Ok(terminal) => Ok(TerminalGuard { terminal, last: None }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl TerminalGuard {
    /// Draws a frame with `render` and writes what changed since the last
    /// one; a frame like the last writes not a byte (ratatui's own `draw`
    /// would still reset colours and hide the cursor), so that an idle
    /// dashboard is silent on a slow link.
    pub fn draw(&mut self, render: impl FnOnce(&mut Frame)) -> io::Result<()> {
        self.terminal.autoresize()?;
        let mut frame = self.terminal.get_frame();
        render(&mut frame);
        let drawn = self.terminal.current_buffer_mut();
        if self.last.as_ref() == Some(drawn) {
            // The next frame starts from an empty buffer, as after a write.
            drawn.reset();
            return Ok(());
        }
        self.last = Some(drawn.clone());
        self.terminal.flush()?;
        self.terminal.hide_cursor()?;
        self.terminal.swap_buffers();
        self.terminal.backend_mut().flush()
    }

    /// Clears the screen (something else wrote on it): the next frame is written whole.
    pub fn clear(&mut self) -> io::Result<()> {
        self.last = None;
        self.terminal.clear()
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
