//! What the dashboard does for the state's effects: jobs submitted and
//! cancelled, AWS connected, loads started, a log tail run, the clipboard
//! set, files written, the terminal handed to a console.

use tokio::sync::mpsc;

use super::load::{load, load_here, save_logs};
use super::{Dashboard, RunningTail, connect, hand_over, run_tail};
use crate::app::{Action, Effect, LoadRequest, Loaded, update};

impl Dashboard {
    pub(super) async fn perform(&mut self, effect: Effect) {
        match effect {
            Effect::StartJob { id, spec } => self.pool.submit(id, spec, self.aws.clone()),
            Effect::CancelJob(id) => self.pool.cancel(id),
            // Running jobs keep the clients they were given.
            Effect::Connect(profile) => {
                self.connection += 1;
                self.aws = None;
                connect(self.aws_tx.clone(), self.connection, *profile);
            }
            Effect::Copy(text) => copy(&text),
            Effect::Tail { id, target } => self.tail(id, target),
            Effect::TailOlder { id, lines } => {
                if let Some(t) = self.tail.as_ref().filter(|t| t.id == id) {
                    let _ = t.older.try_send(lines);
                }
            }
            Effect::SaveLogs { path, text, lines } => {
                let tx = self.load_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = tx.blocking_send(Loaded::LogsSaved(save_logs(&path, &text, lines)));
                });
            }
            Effect::Attach(console) => {
                let (guard, input, stop) = (&mut self.guard, &mut self.input, &self.stop);
                let words = hand_over(guard, input, stop, &console, &self.state.settings).await;
                if let Ok(size) = self.guard.terminal.size() {
                    update(&mut self.state, Action::Resize(size.width, size.height));
                }
                update(&mut self.state, Action::ConsoleEnded(words));
            }
            // The engine or a file, not AWS; its answer is ticketed all the same.
            Effect::LoadLocal(request) => {
                let (tx, docker_host) = (self.answer_tx.clone(), self.state.settings.docker_host.clone());
                let ticket = self.state.asked.ticket(self.state.connection, request.view());
                tokio::spawn(async move {
                    let _ = tx.send((ticket, load_here(request, docker_host).await)).await;
                });
            }
            Effect::SaveSettings(plan) => {
                let tx = self.load_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let result = crate::config::save::commit(&plan.file, plan.before.as_deref(), &plan.after);
                    let _ = tx.blocking_send(Loaded::SettingsSaved { plan, result });
                });
            }
            // A restore's preview needs no AWS for a cached snapshot or an undo.
            Effect::Load(LoadRequest::RestorePreview(job)) => {
                let (tx, clients, now) = (self.answer_tx.clone(), self.aws.clone(), self.state.clock.wall);
                let ticket =
                    self.state.asked.ticket(self.state.connection, crate::app::asked::View::RestorePreview);
                tokio::spawn(async move {
                    let result = job.preview(clients.as_ref(), now).await;
                    let result = result.map_err(|e| crate::error::chain(&e).join(": "));
                    let _ = tx.send((ticket, Loaded::RestorePreview { job, result })).await;
                });
            }
            Effect::Load(request) => {
                if let Some(clients) = self.aws.clone() {
                    let tx = self.answer_tx.clone();
                    let ticket = self.state.asked.ticket(self.state.connection, request.view());
                    tokio::spawn(async move {
                        let loaded = load(&clients, request, &tx, ticket).await;
                        let _ = tx.send((ticket, loaded)).await;
                    });
                }
            }
        }
    }

    /// A new log tail for the Logs pane, in place of the one running.
    fn tail(&mut self, id: u64, target: crate::logs::TailTarget) {
        if let Some(old) = self.tail.take() {
            old.cancel.cancel();
        }
        let Some(clients) = self.aws.clone() else { return };
        let cancel = self.stop.child_token();
        let (older, older_rx) = mpsc::channel(4);
        let (watched, watched_rx) = tokio::sync::watch::channel(self.state.logs_watched());
        let control = crate::logs::TailControl {
            older: Some(older_rx),
            watched: watched_rx,
            unwatched_for: crate::logs::tail::UNWATCHED_FOR,
        };
        tokio::spawn(run_tail(clients, id, target, control, self.tail_tx.clone(), cancel.clone()));
        self.tail = Some(RunningTail { id, cancel, older, watched });
    }
}

/// The terminal's clipboard (OSC 52: works over SSH, and in tmux with `set-clipboard on`).
fn copy(text: &str) {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let _ =
        crossterm::execute!(std::io::stdout(), crossterm::style::Print(format!("\x1b]52;c;{encoded}\x07")));
}
