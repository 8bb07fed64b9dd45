//! The event loop: terminal input, engine updates, job events and AWS status
//! arrive on their own channels; everything waiting is drained, applied with
//! [`update`], and the screen drawn once. Nothing arrives, nothing is drawn.

use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::app::Keymap;
use crate::app::asked::Ticket;
use crate::app::{Action, AppState, Clock, Loaded, update};
use crate::aws::AwsClients;
use crate::config::Settings;
use crate::docker::watch_engine;
use crate::jobs::JobPool;
use crate::jobs::console::Console;
use crate::logs::{TailEvent, TailTarget};
use crate::session::Ended;
use crate::ui::{self, terminal::TerminalGuard};

mod effects;
mod load;
use load::look_for_leftovers;

/// How often credentials are looked for again while there are none.
const RETRY_CREDENTIALS: Duration = Duration::from_secs(20);
/// How often a running job's elapsed time and rate are redrawn.
const TICK: Duration = Duration::from_millis(250);
/// How long quitting waits for cancelled jobs to clean up (abort uploads, put
/// back what a restore replaced) before it leaves them; a second interrupt
/// leaves at once.
pub const CLEAN_UP_FOR: Duration = Duration::from_secs(30);

/// Opens the dashboard and runs it until the user quits or a signal arrives.
/// Returns the exit status: 0, or 128 + the signal's number.
pub async fn run(settings: Settings, keymap: Keymap) -> Result<u8> {
    let mut dashboard = Dashboard::open(settings, keymap)?;
    let mut timers = Timers::new();
    let mut signals = Signals::new()?;
    let mut status = 0;
    // An error on the dashboard's own path ends it, after the same clean-up as a quit.
    let mut failure = None;
    while !dashboard.state.quit {
        let actions = match dashboard.next_actions(&mut timers, &mut signals).await {
            Ok((actions, signalled)) => {
                status = signalled.unwrap_or(status);
                actions
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        if actions.is_empty() {
            continue;
        }
        // A refresh tick alone changes nothing on screen: no frame is drawn for it.
        let unseen = actions.iter().all(|a| matches!(a, Action::RefreshTick));
        dashboard.apply(actions).await;
        if let Err(e) = dashboard.draw(unseen) {
            failure = Some(e);
            break;
        }
    }
    dashboard.close(signals).await;
    match failure {
        Some(e) => Err(e),
        None => Ok(status),
    }
}

/// Everything the event loop holds: the state, the terminal, and the ends
/// of the channels everything else reports on.
struct Dashboard {
    state: AppState,
    guard: TerminalGuard,
    stop: CancellationToken,
    input: Input,
    engine_rx: mpsc::Receiver<crate::docker::EngineUpdate>,
    /// Connections to AWS carry a number: after a switch, an earlier one that
    /// answers late is dropped.
    connection: u64,
    aws: Option<AwsClients>,
    aws_tx: mpsc::Sender<(u64, crate::aws::AwsStatus, Option<AwsClients>)>,
    aws_rx: mpsc::Receiver<(u64, crate::aws::AwsStatus, Option<AwsClients>)>,
    load_tx: mpsc::Sender<Loaded>,
    load_rx: mpsc::Receiver<Loaded>,
    /// AWS answers come with the ticket they were asked with (`app::asked`).
    answer_tx: mpsc::Sender<(Ticket, Loaded)>,
    answer_rx: mpsc::Receiver<(Ticket, Loaded)>,
    job_rx: mpsc::Receiver<crate::jobs::JobEvent>,
    pool: JobPool,
    tail: Option<RunningTail>,
    tail_tx: mpsc::Sender<(u64, TailEvent)>,
    tail_rx: mpsc::Receiver<(u64, TailEvent)>,
    /// The running containers the Containers tab shows, followed for their charts.
    stats_tx: mpsc::Sender<(String, crate::model::metrics::StatsSample)>,
    stats_rx: mpsc::Receiver<(String, crate::model::metrics::StatsSample)>,
    followers: crate::docker::stats::Followers,
}

impl Dashboard {
    /// The terminal set up, the first frame drawn (before anything slow is
    /// even started), then the engine, AWS and the leftovers asked for.
    fn open(settings: Settings, keymap: Keymap) -> Result<Dashboard> {
        let mut guard = TerminalGuard::enter().wrap_err("cannot set up the terminal")?;
        let mut state = AppState::new(settings, keymap, Clock::now());
        let size = guard.terminal.size()?;
        state.size = (size.width, size.height);
        guard.draw(|f| ui::draw(f, &state))?;
        let stop = CancellationToken::new();
        let (engine_tx, engine_rx) = mpsc::channel(8);
        tokio::spawn(watch_engine(state.settings.docker_host.clone(), engine_tx, stop.child_token()));
        let (aws_tx, aws_rx) = mpsc::channel(4);
        connect(aws_tx.clone(), 0, state.settings.profile.clone());
        let (load_tx, load_rx) = mpsc::channel(16);
        let (answer_tx, answer_rx) = mpsc::channel(16);
        let (job_tx, job_rx) = mpsc::channel(256);
        let (tail_tx, tail_rx) = mpsc::channel(64);
        let (stats_tx, stats_rx) = mpsc::channel(64);
        tokio::spawn(look_for_leftovers(state.settings.docker_host.clone(), load_tx.clone()));
        let input = Input::start(&stop);
        Ok(Dashboard {
            state,
            guard,
            input,
            engine_rx,
            connection: 0,
            aws: None,
            aws_tx,
            aws_rx,
            load_tx,
            load_rx,
            answer_tx,
            answer_rx,
            job_rx,
            pool: JobPool::new(JobPool::DEFAULT_LIMIT, job_tx),
            tail: None,
            tail_tx,
            tail_rx,
            stats_tx,
            stats_rx,
            followers: Default::default(),
            stop,
        })
    }

    /// Waits for something to happen, then takes everything else already
    /// waiting: the actions to apply at once, and a signal's exit status.
    async fn next_actions(
        &mut self,
        timers: &mut Timers,
        signals: &mut Signals,
    ) -> Result<(Vec<Action>, Option<u8>)> {
        let mut actions = Vec::new();
        let mut signalled = None;
        let animating = self.state.animating();
        let without_credentials = matches!(self.state.aws, crate::aws::AwsStatus::NoCredentials { .. });
        tokio::select! {
            event = self.input.rx.recv() => match event {
                Some(Ok(event)) => actions.extend(translate(event)),
                Some(Err(e)) => return Err(color_eyre::eyre::Report::new(e).wrap_err("cannot read the terminal")),
                // The terminal is gone: nothing more can be shown or typed.
                None => actions.push(Action::Terminate),
            },
            Some(u) = self.engine_rx.recv() => actions.push(Action::Engine(u)),
            Some(e) = self.job_rx.recv() => actions.push(Action::Job(e)),
            Some((number, status, clients)) = self.aws_rx.recv() => {
                if number == self.connection {
                    self.aws = clients;
                    actions.push(Action::Aws(status));
                }
            }
            Some(loaded) = self.load_rx.recv() => actions.push(Action::Loaded(loaded)),
            Some((ticket, loaded)) = self.answer_rx.recv() => actions.push(Action::Answer { ticket, loaded }),
            Some((id, event)) = self.tail_rx.recv() => actions.push(Action::Tail(id, event)),
            Some((id, sample)) = self.stats_rx.recv() => actions.push(Action::Stats(id, sample)),
            _ = timers.tick.tick(), if animating => actions.push(Action::Tick),
            _ = timers.refresh.tick() => actions.push(Action::RefreshTick),
            _ = timers.retry.tick(), if without_credentials => {
                self.connection += 1;
                connect(self.aws_tx.clone(), self.connection, self.state.settings.profile.clone());
            }
            _ = signals.sigterm.recv() => (signalled, actions) = (Some(128 + 15), vec![Action::Terminate]),
            _ = signals.sighup.recv() => (signalled, actions) = (Some(128 + 1), vec![Action::Terminate]),
            _ = signals.sigint.recv() => (signalled, actions) = (Some(128 + 2), vec![Action::Terminate]),
        }
        self.drain(&mut actions);
        Ok((actions, signalled))
    }

    /// Everything else already waiting, so that it is drawn once.
    fn drain(&mut self, actions: &mut Vec<Action>) {
        while let Ok(Ok(event)) = self.input.rx.try_recv() {
            actions.extend(translate(event));
        }
        while let Ok(u) = self.engine_rx.try_recv() {
            actions.push(Action::Engine(u));
        }
        while let Ok(e) = self.job_rx.try_recv() {
            actions.push(Action::Job(e));
        }
        while let Ok(loaded) = self.load_rx.try_recv() {
            actions.push(Action::Loaded(loaded));
        }
        while let Ok((ticket, loaded)) = self.answer_rx.try_recv() {
            actions.push(Action::Answer { ticket, loaded });
        }
        while let Ok((id, event)) = self.tail_rx.try_recv() {
            actions.push(Action::Tail(id, event));
        }
        while let Ok((id, sample)) = self.stats_rx.try_recv() {
            actions.push(Action::Stats(id, sample));
        }
        // What the SDK retried, for the status line (read where something happened anyway).
        let throttled = crate::aws::pace::throttled();
        if throttled > self.state.throttled.0 {
            actions.push(Action::Throttled(throttled));
        }
    }

    /// The actions applied, their effects carried out, and what follows the
    /// state outside it (the containers followed, the tail's pause) set.
    async fn apply(&mut self, actions: Vec<Action>) {
        self.state.clock = Clock::now();
        for action in actions {
            for effect in update(&mut self.state, action) {
                self.perform(effect).await;
            }
        }
        let followed = crate::app::charts::containers_followed(&self.state);
        let host = self.state.settings.docker_host.as_deref();
        self.followers.follow_only(&followed, host, &self.stats_tx, &self.stop);
        if let Some(t) = &self.tail {
            let now = self.state.logs_watched();
            t.watched.send_if_modified(|was| std::mem::replace(was, now) != now);
        }
    }

    /// A frame, unless quitting or nothing that is seen changed.
    fn draw(&mut self, unseen: bool) -> Result<()> {
        if self.state.quit || unseen {
            return Ok(());
        }
        let state = &self.state;
        self.guard.draw(|f| ui::draw(f, state)).wrap_err("cannot draw on the terminal")?;
        Ok(())
    }

    /// Quitting: running jobs are cancelled and given their clean-up, then
    /// everything started is stopped.
    async fn close(mut self, signals: Signals) {
        let input = &mut self.input.rx;
        clean_up(&mut self.guard, &mut self.state, &mut self.pool, &mut self.job_rx, input, signals).await;
        self.stop.cancel();
        self.pool.shutdown(Duration::from_millis(100)).await;
    }
}

/// The loop's clocks: a running job's animation, the refreshes' once a
/// second, and looking for credentials again while there are none.
struct Timers {
    tick: tokio::time::Interval,
    refresh: tokio::time::Interval,
    retry: tokio::time::Interval,
}

impl Timers {
    fn new() -> Timers {
        let every = |period: Duration, first: tokio::time::Instant| {
            let mut interval = tokio::time::interval_at(first, period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            interval
        };
        let now = tokio::time::Instant::now();
        // Without credentials (an SSO session expired), they are looked for again
        // now and then: after `aws sso login` the panes fill by themselves.
        Timers {
            tick: every(TICK, now),
            refresh: every(Duration::from_secs(1), now),
            retry: every(RETRY_CREDENTIALS, now + RETRY_CREDENTIALS),
        }
    }
}

struct Signals {
    sigterm: Signal,
    sighup: Signal,
    sigint: Signal,
}

impl Signals {
    fn new() -> Result<Signals> {
        Ok(Signals {
            sigterm: signal(SignalKind::terminate())?,
            sighup: signal(SignalKind::hangup())?,
            sigint: signal(SignalKind::interrupt())?,
        })
    }
}

/// Connects to AWS with `profile`'s settings in the background; the answer
/// comes back with `number`.
fn connect(
    tx: mpsc::Sender<(u64, crate::aws::AwsStatus, Option<AwsClients>)>,
    number: u64,
    profile: crate::config::Profile,
) {
    tokio::spawn(async move {
        let (status, clients) = crate::aws::connect(&profile).await;
        let _ = tx.send((number, status, clients)).await;
    });
}

/// Cancels the running jobs and waits, with "cleaning up…" on screen, until
/// each has cleaned up after itself, for at most [`CLEAN_UP_FOR`]; Ctrl-C, `q`
/// or another signal leaves at once (`wharf doctor` finds what is left).
async fn clean_up(
    guard: &mut TerminalGuard,
    state: &mut AppState,
    pool: &mut JobPool,
    job_rx: &mut mpsc::Receiver<crate::jobs::JobEvent>,
    input: &mut mpsc::Receiver<std::io::Result<Event>>,
    mut signals: Signals,
) {
    if state.jobs.active_count() == 0 {
        return;
    }
    pool.cancel_all();
    state.cleaning_up = true;
    let deadline = tokio::time::sleep(CLEAN_UP_FOR);
    tokio::pin!(deadline);
    let mut terminal = true;
    while state.jobs.active_count() > 0 {
        state.clock = Clock::now();
        if terminal {
            // A terminal that is gone (a dropped SSH session) does not stop the clean-up.
            terminal = guard.draw(|f| ui::draw(f, state)).is_ok();
        }
        tokio::select! {
            Some(event) = job_rx.recv() => {
                update(state, Action::Job(event));
            }
            event = input.recv(), if terminal => match event {
                Some(Ok(Event::Key(key))) if forces(&key) => break,
                Some(Ok(_)) => {}
                _ => terminal = false,
            },
            _ = signals.sigterm.recv() => break,
            _ = signals.sighup.recv() => break,
            _ = signals.sigint.recv() => break,
            _ = &mut deadline => {
                tracing::warn!("jobs did not finish cleaning up within {CLEAN_UP_FOR:?}; `wharf doctor` lists what is left");
                break;
            }
            _ = tokio::time::sleep(TICK) => {}
        }
    }
    state.cleaning_up = false;
}

/// Ctrl-C or `q` while cleaning up: leave now.
fn forces(key: &crossterm::event::KeyEvent) -> bool {
    use crossterm::event::{KeyCode, KeyEventKind, KeyModifiers};
    key.kind != KeyEventKind::Release
        && (key.code == KeyCode::Char('q')
            || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)))
}

/// The log tail running for the Logs pane, and what the dashboard tells it.
struct RunningTail {
    id: u64,
    cancel: CancellationToken,
    older: mpsc::Sender<usize>,
    watched: tokio::sync::watch::Sender<bool>,
}

/// Runs one log tail until it ends or is cancelled, handing its events on
/// with its number, and then how it ended.
async fn run_tail(
    clients: AwsClients,
    id: u64,
    target: TailTarget,
    control: crate::logs::TailControl,
    out: mpsc::Sender<(u64, TailEvent)>,
    cancel: CancellationToken,
) {
    let (tx, mut rx) = mpsc::channel(64);
    let reader = crate::logs::tail::tail_with(&clients.ecs, &clients.logs, target, tx, control);
    tokio::pin!(reader);
    let ended = loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            Some(event) = rx.recv() => {
                if out.send((id, event)).await.is_err() {
                    return;
                }
            }
            result = &mut reader => break result,
        }
    };
    // What was handed over before the end still goes first.
    while let Ok(event) = rx.try_recv() {
        let _ = out.send((id, event)).await;
    }
    let _ = out.send((id, TailEvent::Ended(ended.err().map(|e| e.to_string())))).await;
}

/// Hands the terminal to `console` until its command ends: the dashboard stops
/// reading keys and leaves the alternate screen (raw mode stays, so every key,
/// Ctrl-C too, goes to the container), then takes the screen back, redraws all
/// of it and reads keys again. Jobs go on meanwhile. Returns how it ended, in words.
async fn hand_over(
    guard: &mut TerminalGuard,
    input: &mut Input,
    stop: &CancellationToken,
    console: &Console,
    settings: &Settings,
) -> String {
    input.stop().await;
    let program = console.program().to_string();
    let container = console.container.clone();
    let _ = crate::ui::terminal::step_aside();
    print!("wharf: {program} in {container}; the dashboard comes back when it ends\r\n");
    let ended = match crate::docker::Engine::connect(settings.docker_host.as_deref()).await {
        Ok(engine) => crate::session::run(&engine, console, crate::session::told_to_stop()).await,
        Err(e) => Err(e.into()),
    };
    let _ = crate::ui::terminal::take_back();
    let _ = guard.clear();
    *input = Input::start(stop);
    match ended {
        Ok(Ended::Exited(0)) => format!("{program} in {container} ended"),
        Ok(Ended::Exited(code)) => format!("{program} in {container} ended with exit code {code}"),
        Ok(Ended::Left) => format!("left {program} in {container}: wharf was told to stop"),
        Err(e) => format!("{program} in {container}: {}", crate::error::chain(&e).join(": ")),
    }
}

/// The terminal's keys, read in a task that can be stopped while a console
/// has the terminal and started again after.
struct Input {
    rx: mpsc::Receiver<std::io::Result<Event>>,
    stop: CancellationToken,
}

impl Input {
    fn start(parent: &CancellationToken) -> Input {
        let stop = parent.child_token();
        Input { rx: terminal_input(stop.clone()), stop }
    }

    /// Stops reading and waits until the reader has let go of the terminal;
    /// what was typed and not yet handled is dropped.
    async fn stop(&mut self) {
        self.stop.cancel();
        while self.rx.recv().await.is_some() {}
        // crossterm's own reader thread leaves once woken: give it a moment.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Terminal input through a bounded channel like every other source, so that
/// whatever is waiting can be drained without awaiting.
fn terminal_input(stop: CancellationToken) -> mpsc::Receiver<std::io::Result<Event>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut stream = EventStream::new();
        loop {
            let event = tokio::select! {
                _ = stop.cancelled() => return,
                event = stream.next() => event,
            };
            let Some(event) = event else { return };
            let failed = event.is_err();
            if tx.send(event).await.is_err() || failed {
                return;
            }
        }
    });
    rx
}

fn translate(event: Event) -> Option<Action> {
    match event {
        Event::Key(key) => Some(Action::Input(key)),
        Event::Paste(text) => Some(Action::Paste(text)),
        Event::Resize(w, h) => Some(Action::Resize(w, h)),
        Event::FocusGained => Some(Action::Focus(true)),
        Event::FocusLost => Some(Action::Focus(false)),
        _ => None,
    }
}
