//! `wharf logs`: a task's (or a service's tasks') CloudWatch logs, merged in
//! time order with a task prefix; `--follow` keeps reading with forward tokens,
//! once a second while lines arrive and less often when idle, each line once.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use super::{code, exit};
use crate::aws::logs::{self, LogStream};
use crate::aws::{self, AwsClients, AwsError, AwsStatus, ecs};
use crate::config::{Age, Settings};

/// Poll intervals while following: quick while lines arrive, up to the slow one when idle.
const QUICK: Duration = Duration::from_secs(1);
const SLOW: Duration = Duration::from_secs(5);
/// How often a followed service's task list is read again (new deployments).
const TASKS_EVERY: Duration = Duration::from_secs(10);

pub struct LogsRequest {
    pub task: Option<String>,
    pub service: Option<String>,
    pub cluster: Option<String>,
    pub follow: bool,
    pub since: Option<Age>,
}

/// One stream being read: whose it is, and where reading got to.
struct Source {
    label: String,
    stream: LogStream,
    token: Option<String>,
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
    let start = request.since.map(|a| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(now.saturating_sub(a.0).as_millis()).unwrap_or(0)
    });
    let mut sources: BTreeMap<String, Source> = BTreeMap::new();
    let tasks = || async {
        match &request.task {
            Some(task) => Ok(vec![task.clone()]),
            None => {
                let list = ecs::tasks(&clients.ecs, &cluster, service.as_deref()).await?;
                Ok::<_, AwsError>(list.into_iter().map(|t| t.id).collect())
            }
        }
    };
    let mut last_tasks = tokio::time::Instant::now();
    if let Err(e) = add_sources(&clients, &cluster, tasks().await, &mut sources, request.task.is_some()).await
    {
        eprintln!("error: {e}");
        return code(exit::FAILED);
    }
    let mut wait = QUICK;
    loop {
        let mut batch: Vec<(i64, String, String)> = Vec::new();
        for source in sources.values_mut() {
            // Read this stream to its end: pages come while the token moves.
            loop {
                match logs::events(&clients.logs, &source.stream, start, source.token.clone()).await {
                    Ok((events, next)) => {
                        let moved = next != source.token;
                        source.token = next;
                        let empty = events.is_empty();
                        batch.extend(
                            events.into_iter().map(|e| (e.timestamp, source.label.clone(), e.message)),
                        );
                        if empty || !moved {
                            break;
                        }
                    }
                    Err(AwsError::Throttled(m)) => {
                        eprintln!("throttled by CloudWatch Logs, slowing down: {m}");
                        wait = SLOW;
                        break;
                    }
                    Err(e) => {
                        eprintln!("error: reading {}: {e}", source.stream.stream);
                        return code(exit::FAILED);
                    }
                }
            }
        }
        // Several tasks: one time line, each line with its task.
        batch.sort_by_key(|e| e.0);
        let mut out = std::io::stdout().lock();
        for (_, label, message) in &batch {
            if writeln!(out, "{label} {message}").is_err() {
                return code(exit::OK); // stdout went away (a pager closed).
            }
        }
        let _ = out.flush();
        drop(out);
        if !request.follow {
            return code(exit::OK);
        }
        wait = if batch.is_empty() { (wait * 2).min(SLOW) } else { QUICK };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tokio::signal::ctrl_c() => return code(exit::OK),
        }
        if request.task.is_none() && last_tasks.elapsed() >= TASKS_EVERY {
            last_tasks = tokio::time::Instant::now();
            let _ = add_sources(&clients, &cluster, tasks().await, &mut sources, false).await;
        }
    }
}

/// Adds the log streams of tasks not read yet; says which containers have none.
async fn add_sources(
    clients: &AwsClients,
    cluster: &str,
    tasks: Result<Vec<String>, AwsError>,
    sources: &mut BTreeMap<String, Source>,
    strict: bool,
) -> Result<(), AwsError> {
    for task in tasks? {
        let short: String = task.rsplit('/').next().unwrap_or(&task).chars().take(8).collect();
        if sources.keys().any(|k| k.starts_with(&format!("{short}/"))) {
            continue;
        }
        let streams = match ecs::log_streams(&clients.ecs, cluster, &task).await {
            Ok(s) => s,
            Err(e) if !strict => {
                eprintln!("skipping task {short}: {e}");
                continue;
            }
            Err(e) => return Err(e),
        };
        let several = streams.len() > 1;
        for (container, stream) in streams {
            let label = if several { format!("[{short} {container}]") } else { format!("[{short}]") };
            match stream {
                Some(stream) => {
                    sources.insert(format!("{short}/{container}"), Source { label, stream, token: None });
                }
                None => {
                    eprintln!("{label} has no awslogs log configuration: its output is not in CloudWatch")
                }
            }
        }
    }
    Ok(())
}
