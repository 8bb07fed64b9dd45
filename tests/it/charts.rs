//! Charts: a running container's CPU and memory from the engine, an ECS
//! service's utilization from CloudWatch metric data, and a database's size
//! over its snapshots.

use std::time::Duration;

use ratatui::style::Color;

use wharf::app::asked::View;
use wharf::app::{Action, AppState, Effect, LoadRequest, Loaded, update};
use wharf::model::metrics::Utilization;

use crate::e2e::Session;
use crate::panes::{configured, render};
use crate::support::{Cleanup, code, docker, eventually, key, test_image, unique};

/// Snapshots of `db` whose database grew: 1.0, 1.5, 2.0, 2.5 GB.
fn growing() -> Vec<wharf::snapshots::Snapshot> {
    let template = crate::support::sample_snapshots().remove(0);
    (0..4u64)
        .map(|i| {
            let mut s = template.clone();
            s.id = format!("2026112{i}T101500Z-db");
            let m = s.manifest.as_mut().unwrap();
            m.id = s.id.clone();
            m.raw_bytes = 1_000_000_000 + i * 500_000_000;
            s
        })
        .collect()
}

#[test]
fn an_opened_snapshot_draws_the_databases_size_over_its_snapshots() {
    let mut s = configured();
    let listed = crate::support::snapshots_listed(&s, None, Ok(growing()));
    update(&mut s, listed);
    update(&mut s, key('5'));
    update(&mut s, key('z'));
    update(&mut s, key('j'));
    update(&mut s, code(crossterm::event::KeyCode::Enter));
    let terminal = render(&s, 120, 40);
    let buffer = terminal.backend().buffer().clone();
    let text: Vec<String> = (0..buffer.area.height)
        .map(|y| (0..buffer.area.width).map(|x| buffer[(x, y)].symbol().to_string()).collect())
        .collect();
    let at = text.iter().position(|l| l.contains("database size by snapshot")).expect("the chart's title");
    let bars: Vec<&String> = text[at + 1..at + 5].iter().collect();
    // Oldest at the top, each labelled with its time and its size, longer as it grew.
    for (bar, (when, size)) in bars.iter().zip([
        ("11-20 10:15", "1.0 GB"),
        ("11-21", "1.5 GB"),
        ("11-22", "2.0 GB"),
        ("11-23", "2.5 GB"),
    ]) {
        assert!(bar.contains(when) && bar.contains(size), "{bar}");
    }
    let length = |l: &str| l.matches('█').count();
    assert!(length(bars[0]) < length(bars[1]) && length(bars[1]) < length(bars[3]), "{bars:#?}");
    // The opened snapshot's bar is the one in colour.
    let opened = s.snapshots.open.clone().unwrap();
    let label = format!("11-{}", &opened[6..8]);
    for (i, bar) in bars.iter().enumerate() {
        let y = (at + 1 + i) as u16;
        let x = bar[..bar.find('█').unwrap()].chars().count() as u16;
        let expected = if bar.contains(&label) { Color::Cyan } else { Color::DarkGray };
        assert_eq!(buffer[(x, y)].fg, expected, "{bar}");
    }
    assert!(bars.iter().any(|b| b.contains(&label)), "{opened}");
}

#[test]
fn utilization_is_kept_for_the_cluster_shown_and_says_when_there_is_none() {
    let mut s = configured();
    let cluster = s.ecs.cluster.clone().expect("the profile's cluster");
    let service = s.ecs.service.clone().expect("the profile's service");
    let busy = Utilization { cpu: vec![(1, 10.0), (2, 42.0)], memory: vec![(1, 17.0), (2, 18.0)] };
    // Asked for once a second comes, as the dashboard asks while ECS is looked at.
    let effects = update(&mut s, Action::RefreshTick);
    assert!(effects.iter().any(|e| matches!(e, Effect::Load(LoadRequest::Metrics { .. }))), "{effects:?}");
    // An answer for a cluster left (esc from the service, esc from the cluster) is dropped.
    let asked = s.asked.ticket(s.connection, View::Metrics);
    let mut left = s.clone();
    update(&mut left, crate::support::key('3'));
    update(&mut left, crate::support::code(crossterm::event::KeyCode::Esc));
    update(&mut left, crate::support::code(crossterm::event::KeyCode::Esc));
    assert_eq!(left.ecs.cluster, None);
    let late =
        Loaded::Metrics { cluster: cluster.clone(), result: Ok(vec![(service.clone(), busy.clone())]) };
    update(&mut left, Action::Answer { ticket: asked, loaded: late });
    assert!(left.ecs.metrics.is_empty());
    let answer = Loaded::Metrics {
        cluster,
        result: Ok(vec![(service.clone(), busy.clone()), ("quiet".into(), Utilization::default())]),
    };
    crate::support::answer(&mut s, View::Metrics, answer);
    assert_eq!(s.ecs.metrics.get(&service), Some(&busy));
    assert_eq!(s.ecs.metrics.get("quiet").map(Utilization::is_empty), Some(true));
}

/// A container with a core kept busy.
fn busy_container(cleanup: &mut Cleanup) -> String {
    let name = unique("wharf-it-busy");
    docker(&["run", "-d", "--name", &name, test_image(), "sh", "-c", "while :; do :; done"]);
    cleanup.containers.push(name.clone());
    name
}

#[test]
fn a_busy_container_shows_its_cpu_and_memory_and_its_chart_on_enter() {
    let mut cleanup = Cleanup::default();
    let name = busy_container(&mut cleanup);
    let mut session = Session::start_with(140, 40, &[], None);
    session.wait_for("Containers (");
    session.send(b"z]");
    session.send(b"/");
    session.send(name.as_bytes());
    session.send(b"\r");
    // Its row: CPU near one core (the loop), a line of bars, and the memory in use.
    let row = |session: &Session| {
        session.contents().lines().find(|l| l.contains(&name) && l.contains("running")).map(str::to_string)
    };
    eventually(Duration::from_secs(15), "the container's CPU on its row", || {
        row(&session).is_some_and(|r| {
            let cpu = r
                .split('%')
                .next()
                .and_then(|s| s.split_whitespace().last())
                .and_then(|v| v.parse::<f64>().ok());
            let memory = r.split('%').nth(1).is_some_and(|m| m.contains("kB") || m.contains("MB"));
            cpu.is_some_and(|c| c >= 50.0) && memory
        })
    });
    let shown = row(&session).unwrap();
    assert!(shown.chars().any(|c| "▁▂▃▄▅▆▇█".contains(c)), "a line of bars: {shown}");
    // enter: the chart of the last ten minutes, the figures in words above it.
    session.send(b"\r");
    eventually(Duration::from_secs(5), "the container's chart", || {
        let screen = session.contents();
        screen.contains("CPU ")
            && screen.contains("memory ")
            && screen.contains("-10m")
            && screen.contains("now")
    });
    let screen = session.contents();
    assert!(screen.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)), "a line drawn:\n{screen}");
    // esc: back to the list.
    session.send(b"\x1b");
    eventually(Duration::from_secs(5), "the list again", || !session.contents().contains("-10m"));
    session.send(b"q");
    let (status, _, _) = session.finish();
    assert_eq!(status, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_services_utilization_from_cloudwatch_is_on_its_row_and_in_its_chart() {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let (cluster, service, _) = crate::remote::ecs_service().await;
    let quiet = unique("quiet");
    let clients = crate::support::moto_clients().await;
    let definition =
        clients.ecs.describe_services().cluster(&cluster).services(&service).send().await.unwrap().services()
            [0]
        .task_definition()
        .unwrap()
        .to_string();
    clients
        .ecs
        .create_service()
        .cluster(&cluster)
        .service_name(&quiet)
        .task_definition(definition)
        .send()
        .await
        .unwrap();
    // The last half hour, a point a minute: CPU climbing to 42 %, memory at 17 %.
    let now = wharf::time::unix_now();
    for (metric, value) in [("CPUUtilization", None), ("MemoryUtilization", Some(17.25))] {
        let data: Vec<MetricDatum> = (0..30i64)
            .map(|m| {
                let value = value.unwrap_or(12.25 + m as f64);
                MetricDatum::builder()
                    .metric_name(metric)
                    .dimensions(Dimension::builder().name("ClusterName").value(&cluster).build())
                    .dimensions(Dimension::builder().name("ServiceName").value(&service).build())
                    .timestamp(DateTime::from_secs(now - (29 - m) * 60 - 30))
                    .value(value)
                    .build()
            })
            .collect();
        clients
            .metrics
            .put_metric_data()
            .namespace("AWS/ECS")
            .set_metric_data(Some(data))
            .send()
            .await
            .unwrap();
    }
    let config = format!("[profiles.t]\ncluster = \"{cluster}\"\n");
    // Through the realism layer: moto sends CloudWatch's timestamps as AWS does not.
    let url = crate::support::aws_url();
    let env = [
        ("AWS_ENDPOINT_URL", url.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "eu-west-1"),
    ];
    let mut session = Session::start_with(140, 40, &env, Some(&config));
    session.send(b"3z");
    let row = |session: &Session, name: &str| {
        session.contents().lines().find(|l| l.contains(name)).map(str::to_string).unwrap_or_default()
    };
    eventually(Duration::from_secs(20), "the services' utilization", || {
        row(&session, &service).contains("41%") && row(&session, &quiet).contains("no metrics")
    });
    let busy = row(&session, &service);
    assert!(busy.contains("17%") && busy.chars().any(|c| "▁▂▃▄▅▆▇█".contains(c)), "{busy}");
    // The service opened: its chart over the last three hours.
    session.send(b"/");
    session.send(service.as_bytes());
    session.send(b"\r\r");
    eventually(Duration::from_secs(10), "the service's chart", || {
        let screen = session.contents();
        screen.contains("-180m") && screen.contains("now") && screen.contains("CPU")
    });
    let screen = session.contents();
    assert!(screen.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)), "a line drawn:\n{screen}");
    assert!(!screen.contains("no metrics"), "{screen}");
    session.send(b"q");
    let (status, _, _) = session.finish();
    assert_eq!(status, 0);
}

/// The text of a frame of `s` at 120×40, row by row.
fn screen(s: &AppState) -> String {
    let terminal = render(s, 120, 40);
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| (0..buffer.area.width).map(|x| buffer[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn utilization_cloudwatch_refused_is_said_not_awaited_forever() {
    let mut s = configured();
    update(&mut s, Action::RefreshTick);
    let cluster = s.ecs.cluster.clone().unwrap();
    let denied = Err(wharf::aws::AwsError::AccessDenied("not allowed: cloudwatch:GetMetricData".into()));
    crate::support::answer(&mut s, View::Metrics, Loaded::Metrics { cluster, result: denied });
    update(&mut s, key('3'));
    update(&mut s, key('z'));
    let shown = screen(&s);
    assert!(
        shown.contains("CloudWatch did not answer: access denied: not allowed: cloudwatch:GetMetricData"),
        "{shown}"
    );
    assert!(!shown.contains("asking CloudWatch"), "{shown}");
}

#[test]
fn a_container_that_stopped_says_its_figures_are_its_last() {
    let mut s = configured();
    let id = |s: &AppState| s.images.containers.iter().find(|c| c.name == "db").unwrap().id.clone();
    let db = id(&s);
    let reading = |at| wharf::model::metrics::StatsSample {
        at,
        cpu_percent: 80.0,
        mem_used: 1 << 20,
        mem_limit: 1 << 30,
        net_rx: 0,
        net_tx: 0,
    };
    update(&mut s, Action::Stats(db.clone(), reading(100)));
    update(&mut s, key('1'));
    update(&mut s, key(']'));
    update(&mut s, key('z'));
    update(&mut s, code(crossterm::event::KeyCode::Enter));
    assert_eq!(s.images.open.as_deref(), Some(db.as_str()));
    let shown = screen(&s);
    assert!(shown.contains("CPU 80.0%") && !shown.contains("stopped"), "{shown}");
    // The engine says it stopped: the chart stays, and says its figures are from before.
    let wharf::docker::EngineUpdate::Snapshot { endpoint, api_version, images, mut containers } =
        crate::support::sample_engine()
    else {
        unreachable!()
    };
    containers.iter_mut().filter(|c| c.name == "db").for_each(|c| c.state = "exited".into());
    update(
        &mut s,
        Action::Engine(wharf::docker::EngineUpdate::Snapshot { endpoint, api_version, images, containers }),
    );
    let shown = screen(&s);
    assert!(shown.contains("stopped; its last readings:") && shown.contains("CPU 80.0%"), "{shown}");
}
