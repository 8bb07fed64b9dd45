//! `wharf tasks`: the ECS pane from the command line — clusters, a cluster's
//! services, or a service's tasks and latest events.

use std::process::ExitCode;

use super::{code, exit, print_json, run_job};
use crate::app::Clock;
use crate::aws::{self, AwsStatus, ecs};
use crate::cli::{ChangeArgs, ServiceArgs};
use crate::config::Settings;
use crate::format;
use crate::jobs::{DeployJob, JobSpec};

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
            Ok(list) if json => print_json(&list),
            Ok(list) => {
                println!("CLUSTER");
                list.iter().for_each(|c| println!("{c}"));
                code(exit::OK)
            }
            Err(e) => failed("ECS clusters", e),
        };
    };
    let Some(service) = service else {
        let services = match ecs::services(&clients.ecs, &clients.service_reads, &cluster).await {
            Ok(s) => s,
            Err(e) => return failed(&format!("the services of {cluster}"), e),
        };
        if json {
            return print_json(&services);
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
    // One service: described alone, not the whole cluster.
    let info = match ecs::service(&clients.ecs, &clients.service_reads, &cluster, &service).await {
        Ok(info) => info,
        Err(aws::AwsError::NotFound(message)) => {
            eprintln!("error: {message}");
            return code(exit::FAILED);
        }
        Err(e) => return failed(&format!("service {service}"), e),
    };
    let tasks = match ecs::tasks(&clients.ecs, &cluster, Some(&service)).await {
        Ok(t) => t,
        Err(e) => return failed(&format!("the tasks of {service}"), e),
    };
    if json {
        return print_json(&serde_json::json!({ "service": info, "tasks": tasks }));
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

/// What a deploy points the service at.
pub enum Target {
    /// A new revision with this image (a tag of the profile's repository, or a URI with digest).
    New { tag: Option<String>, image: Option<String> },
    /// What it ran before.
    Previous,
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    code(exit::USAGE)
}

/// `wharf deploy` and `wharf rollback`: the plan, its diff, a yes, the job.
pub async fn deploy(settings: &Settings, at: &ServiceArgs, target: Target, change: &ChangeArgs) -> ExitCode {
    if settings.read_only && !change.dry_run {
        return usage("deploy and rollback change a service, and --read-only is set (--dry-run still works)");
    }
    let Some(cluster) = at.cluster.clone().or_else(|| settings.profile.cluster.clone()) else {
        return usage("no ECS cluster: give --cluster, or set cluster in wharf.toml");
    };
    let Some(service) = at.service.clone().or_else(|| settings.profile.service.clone()) else {
        return usage("no ECS service: give --service, or set service in wharf.toml");
    };
    let (status, clients) = aws::connect(&settings.profile).await;
    let (AwsStatus::Ready { .. }, Some(clients)) = (&status, clients) else {
        if let AwsStatus::NoCredentials { error, .. } = status {
            eprintln!("error: no AWS credentials: {error}");
        }
        return code(exit::FAILED);
    };
    let plan = match target {
        Target::Previous => ecs::plan_rollback(&clients.ecs, &cluster, &service).await,
        Target::New { tag, image } => {
            let image = match (tag, image) {
                (_, Some(image)) if image.contains("@sha256:") => image,
                (_, Some(image)) => {
                    return usage(&format!("--image `{image}` has no digest: give REPOSITORY@sha256:…"));
                }
                (Some(tag), None) => {
                    let Some(repository) = settings.profile.repository.clone() else {
                        return usage(
                            "--tag needs the profile's repository; give --image URI@DIGEST instead",
                        );
                    };
                    match aws::ecr::digest_of(&clients.ecr, &repository, &tag).await {
                        Ok((uri, digest)) => format!("{uri}@{digest}"),
                        Err(e) => {
                            eprintln!("error: cannot resolve {repository}:{tag} to a digest: {e}");
                            return code(exit::FAILED);
                        }
                    }
                }
                (None, None) => return usage("give --tag or --image"),
            };
            ecs::plan_deploy(&clients.ecs, &cluster, &service, settings.profile.container.as_deref(), &image)
                .await
        }
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return code(exit::FAILED);
        }
    };
    if change.dry_run {
        print!("{}", plan.diff());
        println!("dry run: nothing was registered or updated");
        return code(exit::OK);
    }
    eprint!("{}", plan.diff());
    if !change.yes {
        let protected = if settings.profile.protected { " (a protected profile)" } else { "" };
        return usage(&format!(
            "this changes service `{service}`{protected}; add --yes to go ahead, or --dry-run to only look"
        ));
    }
    let job = DeployJob {
        plan,
        wait: change.wait,
        timeout: change.timeout.map_or(crate::jobs::deploy::DEFAULT_TIMEOUT, |t| t.0),
        poll: std::time::Duration::from_secs(3),
    };
    run_job(JobSpec::Deploy(job), change.json, Some(clients)).await
}
