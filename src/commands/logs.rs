//! `wharf logs`: a task's (or a service's tasks') CloudWatch logs, merged in
//! time order with a task prefix; `--follow` keeps reading (see
//! [`crate::logs::tail`]), each line once.

use std::io::Write;
use std::process::ExitCode;

use tokio::sync::mpsc;

use super::{code, exit};
use crate::aws::{self, AwsStatus};
use crate::config::{Age, Settings};
use crate::logs::{TailEvent, TailMode, TailTarget, tail};

pub struct LogsRequest {
    pub task: Option<String>,
    pub service: Option<String>,
    pub cluster: Option<String>,
    pub follow: bool,
    pub since: Option<Age>,
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    code(exit::USAGE)
}

pub async fn logs(settings: &Settings, request: LogsRequest) -> ExitCode {
    let Some(cluster) = request.cluster.clone().or_else(|| settings.profile.cluster.clone()) else {
        return usage("no ECS cluster: give --cluster, or set cluster in wharf.toml");
    };
    let service = request.service.clone().or_else(|| settings.profile.service.clone());
    if request.task.is_none() && service.is_none() {
        return usage("give --task ID or --service S (or set service in wharf.toml)");
    }
    let (status, clients) = aws::connect(&settings.profile).await;
    let (AwsStatus::Ready { .. }, Some(clients)) = (&status, clients) else {
        if let AwsStatus::NoCredentials { error, .. } = status {
            eprintln!("error: no AWS credentials: {error}");
        }
        return code(exit::FAILED);
    };
    let since = request.since.map(|a| {
        let now_ms = crate::time::unix_now().saturating_mul(1000);
        now_ms - i64::try_from(a.0.as_millis()).unwrap_or(i64::MAX / 2)
    });
    let target = TailTarget {
        cluster,
        service: if request.task.is_some() { None } else { service },
        task: request.task,
        replacing: None,
        since,
        // Without --since: each stream's newest lines (as many as the Logs pane keeps), then on.
        newest: settings.profile.log_lines.unwrap_or(crate::logs::buffer::DEFAULT_CAPACITY),
        follow: request.follow,
        live: true,
    };
    let (tx, mut rx) = mpsc::channel(64);
    let reader = tokio::spawn(async move { tail(&clients.ecs, &clients.logs, target, tx).await });
    loop {
        let event = tokio::select! {
            event = rx.recv() => event,
            _ = tokio::signal::ctrl_c() => return code(exit::OK),
        };
        match event {
            Some(TailEvent::Lines(lines)) => {
                let mut out = std::io::stdout().lock();
                for line in &lines {
                    if writeln!(out, "[{}] {}", line.source, line.text).is_err() {
                        return code(exit::OK); // stdout went away (a pager closed).
                    }
                }
                let _ = out.flush();
            }
            Some(TailEvent::Note(text)) => eprintln!("{text}"),
            Some(TailEvent::Mode(TailMode::Live)) => eprintln!("following with CloudWatch Live Tail"),
            Some(
                TailEvent::Mode(TailMode::Polling)
                | TailEvent::Source(_)
                | TailEvent::Ended(_)
                | TailEvent::Older { .. },
            ) => {}
            None => break,
        }
    }
    match reader.await {
        Ok(Ok(())) => code(exit::OK),
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            code(exit::FAILED)
        }
        Err(e) => {
            eprintln!("error: {e}");
            code(exit::FAILED)
        }
    }
}
