//! The ECS pane's data and `wharf tasks`, against moto's ECS.

use std::process::{Command, Output};

use crate::support::{moto_clients, moto_url};

fn wharf(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["--endpoint-url", &moto_url(), "--region", "eu-west-1"])
        .args(args)
        .current_dir(home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn wharf_tasks_lists_clusters_services_and_a_services_tasks() {
    let (cluster, service, _) = crate::remote::ecs_service().await;
    let clients = moto_clients().await;
    let task =
        wharf::aws::ecs::run_one_off(&clients.ecs, &cluster, &service, None, vec!["true".into()], "wharf-it")
            .await
            .unwrap();

    let out = wharf(&["tasks", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let clusters: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(clusters.contains(&cluster), "{clusters:?}");

    let out = wharf(&["tasks", "--cluster", &cluster, "--json"]);
    let services: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(services[0]["name"], service.as_str());
    assert_eq!(services[0]["task_definition"], format!("{service}:1"));
    assert_eq!(services[0]["desired"], 0);

    let out = wharf(&["tasks", "--cluster", &cluster, "--service", &service, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["service"]["name"], service.as_str());
    let tasks = listed["tasks"].as_array().unwrap();
    let found = tasks.iter().find(|t| t["id"] == task.id.as_str()).expect("the task is listed");
    assert_eq!(found["containers"][0]["image"], "postgres:16");
    assert_eq!(found["task_definition"], format!("{service}:1"));

    let out = wharf(&["tasks", "--cluster", &cluster, "--service", &service]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("{cluster} › {service}: 0/0 running")), "{text}");
    assert!(text.contains(&task.id), "{text}");

    let out = wharf(&["tasks", "--cluster", &cluster, "--service", "no-such-service"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!("error: no ECS service `no-such-service` in cluster `{cluster}`")
    );
    let out = wharf(&["tasks", "--cluster", "wharf-no-such-cluster"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("error: cannot list the services of wharf-no-such-cluster")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn services_are_described_ten_at_a_time_and_all_come_back() {
    let (cluster, service, _) = crate::remote::ecs_service().await;
    let clients = moto_clients().await;
    let definition = format!("{service}:1");
    for i in 0..24 {
        clients
            .ecs
            .create_service()
            .cluster(&cluster)
            .service_name(format!("extra-{i:02}"))
            .task_definition(&definition)
            .desired_count(0)
            .send()
            .await
            .unwrap();
    }
    let services = wharf::aws::ecs::services(&clients.ecs, &cluster).await.unwrap();
    assert_eq!(services.len(), 25, "three describe batches");
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}
