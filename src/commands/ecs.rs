//! `wharf tasks`: the ECS pane from the command line — clusters, a cluster's
//! services, or a service's tasks and latest events.

use std::process::ExitCode;

use super::{code, exit};
use crate::app::Clock;
use crate::aws::{self, AwsStatus, ecs};
use crate::config::Settings;
use crate::ui::format;

pub async fn tasks(
    settings: &Settings,
    cluster: Option<String>,
    service: Option<String>,
    json: bool,
) -> ExitCode {
    let (status, clients) = aws::connect(&settings.profile).await;
    let (AwsStatus::Ready { .. }, Some(clients)) = (&status, clients) else {
        if let AwsStatus::NoCredentials { error, .. } = status {
            eprintln!("error: no AWS credentials: {error}");
        }
        return code(exit::FAILED);
    };
    let cluster = cluster.or_else(|| settings.profile.cluster.clone());
    let service = service.or_else(|| settings.profile.service.clone());
    let now = Clock::now().wall;
    let failed = |what: &str, e: aws::AwsError| {
        eprintln!("error: cannot list {what}: {e}");
        code(exit::FAILED)
    };
    let Some(cluster) = cluster else {
        return match ecs::clusters(&clients.ecs).await {
            Ok(list) if json => print(&list),
            Ok(list) => {
                println!("CLUSTER");
                list.iter().for_each(|c| println!("{c}"));
                code(exit::OK)
            }
            Err(e) => failed("ECS clusters", e),
        };
    };
    let services = match ecs::services(&clients.ecs, &cluster).await {
        Ok(s) => s,
        Err(e) => return failed(&format!("the services of {cluster}"), e),
    };
    let Some(service) = service else {
        if json {
            return print(&services);
        }
        println!("{:<32} {:>9} {:<32} ROLLOUT", "SERVICE", "TASKS", "TASK DEF");
        for s in &services {
            let tasks = format!("{}/{}", s.running, s.desired);
            println!(
                "{:<32} {tasks:>9} {:<32} {}",
                s.name,
                s.task_definition,
                s.rollout.as_deref().unwrap_or("–")
            );
        }
        return code(exit::OK);
    };
    let Some(info) = services.iter().find(|s| s.name == service) else {
        eprintln!("error: no ECS service `{service}` in cluster `{cluster}`");
        return code(exit::FAILED);
    };
    let tasks = match ecs::tasks(&clients.ecs, &cluster, Some(&service)).await {
        Ok(t) => t,
        Err(e) => return failed(&format!("the tasks of {service}"), e),
    };
    if json {
        return print(&serde_json::json!({ "service": info, "tasks": tasks }));
    }
    println!(
        "{cluster} › {service}: {}/{} running, {} pending · {} · {}",
        info.running,
        info.desired,
        info.pending,
        info.task_definition,
        info.rollout.as_deref().unwrap_or("–")
    );
    println!("{:<34} {:<18} {:<9} {:>5}  IMAGES", "TASK", "STATUS", "HEALTH", "UP");
    for t in &tasks {
        let images: Vec<String> = t
            .containers
            .iter()
            .map(|c| c.short_digest().map_or(c.image.clone(), |d| format!("{}@{d}", c.image)))
            .collect();
        println!(
            "{:<34} {:<18} {:<9} {:>5}  {}{}",
            t.id,
            format!("{}/{}", t.last_status, t.desired_status),
            t.health.as_deref().unwrap_or("–"),
            t.started_at.map_or("–".into(), |s| format::age(s, now)),
            images.join(", "),
            t.stopped_reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
        );
    }
    for e in &info.events {
        let age = e.at.map_or(String::new(), |t| format!("{} ago: ", format::age(t, now)));
        println!("event {age}{}", e.message);
    }
    code(exit::OK)
}

fn print<T: serde::Serialize>(value: &T) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            code(exit::OK)
        }
        Err(e) => {
            eprintln!("error: {e}");
            code(exit::FAILED)
        }
    }
}
