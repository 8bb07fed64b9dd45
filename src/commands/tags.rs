//! `wharf tags`: the Registry pane as a table or JSON.

use std::process::ExitCode;

use super::{code, exit, print_json};
use crate::app::Clock;
use crate::aws::{self, AwsClients, AwsStatus, ecr};
use crate::config::Settings;
use crate::format;

pub async fn tags(settings: &Settings, repository: Option<String>, json: bool) -> ExitCode {
    let (status, clients) = aws::connect(&settings.profile).await;
    let (AwsStatus::Ready { .. }, Some(clients)) = (&status, clients) else {
        if let AwsStatus::NoCredentials { error, .. } = status {
            eprintln!("error: no AWS credentials: {error}");
        }
        return code(exit::FAILED);
    };
    match repository.or_else(|| settings.profile.repository.clone()) {
        Some(repository) => images(&clients, &repository, json).await,
        None => repositories(&clients, json).await,
    }
}

async fn repositories(clients: &AwsClients, json: bool) -> ExitCode {
    match ecr::repositories(&clients.ecr).await {
        Ok(list) if json => print_json(&list),
        Ok(list) => {
            println!("{:<32} URI", "REPOSITORY");
            for r in list {
                println!("{:<32} {}", r.name, r.uri);
            }
            code(exit::OK)
        }
        Err(e) => {
            eprintln!("error: cannot list ECR repositories: {e}");
            code(exit::FAILED)
        }
    }
}

async fn images(clients: &AwsClients, repository: &str, json: bool) -> ExitCode {
    match ecr::images(&clients.ecr, repository).await {
        Ok(list) if json => print_json(&list),
        Ok(list) => {
            let now = Clock::now().wall;
            println!("{:<32} {:<12} {:<30} {:>10}", "TAG", "DIGEST", "PUSHED", "SIZE");
            for i in list {
                let tags = if i.tags.is_empty() { "<untagged>".to_string() } else { i.tags.join(",") };
                let pushed = i
                    .pushed_at
                    .map_or("–".into(), |t| format!("{} ago, {}", format::age(t, now), format::utc(t)));
                let size = i.size.map(format::bytes).unwrap_or_default();
                println!("{tags:<32} {:<12} {pushed:<30} {size:>10}", i.short_digest());
            }
            code(exit::OK)
        }
        Err(aws::AwsError::NotFound(_)) => {
            eprintln!("error: no ECR repository `{repository}`");
            code(exit::FAILED)
        }
        Err(e) => {
            eprintln!("error: cannot list the images of {repository}: {e}");
            code(exit::FAILED)
        }
    }
}
