//! Tailing task logs: against moto (streams found from the task definition's
//! awslogs configuration, several tasks merged in time order, a service's
//! later tasks picked up, Live Tail unavailable so polling takes over), and
//! Live Tail itself with recorded replies, since moto has none.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use wharf::logs::{TailEvent, TailMode, TailTarget, tail};

use crate::support::moto_clients;

/// Events until `lines` lines have come (or `timeout` passes).
async fn collect(rx: &mut mpsc::Receiver<TailEvent>, lines: usize, timeout: Duration) -> Vec<TailEvent> {
    let mut events = Vec::new();
    let mut count = 0;
    let _ = tokio::time::timeout(timeout, async {
        while count < lines {
            let Some(event) = rx.recv().await else { break };
            if let TailEvent::Lines(l) = &event {
                count += l.len();
            }
            events.push(event);
        }
    })
    .await;
    events
}

fn lines(events: &[TailEvent]) -> Vec<String> {
    events
        .iter()
        .flat_map(|e| match e {
            TailEvent::Lines(l) => l.iter().map(|l| format!("[{}] {}", l.source, l.text)).collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn notes(events: &[TailEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            TailEvent::Note(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

fn target(cluster: &str, service: &str, follow: bool) -> TailTarget {
    TailTarget {
        cluster: cluster.into(),
        service: Some(service.into()),
        task: None,
        replacing: None,
        since: None,
        newest: wharf::app::shared::FIRST_LINES,
        follow,
        live: true,
    }
}

/// Runs a one-off task of the service (moto runs nothing; it is listed) and
/// returns its id and log stream.
async fn start_task(cluster: &str, service: &str) -> (String, String) {
    let clients = moto_clients().await;
    let task =
        wharf::aws::ecs::run_one_off(&clients.ecs, cluster, service, None, vec!["true".into()], "wharf-it")
            .await
            .unwrap();
    let stream = format!("backup/db/{}", task.id);
    (task.id, stream)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_services_tasks_are_merged_in_time_order_and_a_later_task_is_picked_up() {
    let (cluster, service, _) = crate::remote::ecs_service().await;
    let (a, stream_a) = start_task(&cluster, &service).await;
    let (b, stream_b) = start_task(&cluster, &service).await;
    let base = wharf::time::unix_now() * 1000;
    crate::ecs::put_events_at(&stream_a, base, &[("a1", 0), ("a2", 20), ("a3", 40)]).await;
    crate::ecs::put_events_at(&stream_b, base, &[("b1", 10), ("b2", 30)]).await;
    let (short_a, short_b): (String, String) = (a.chars().take(8).collect(), b.chars().take(8).collect());

    // Without follow: what is there, one time line, then the end.
    let clients = crate::support::realistic_clients().await;
    let (tx, mut rx) = mpsc::channel(64);
    tail(&clients.ecs, &clients.logs, target(&cluster, &service, false), tx).await.unwrap();
    let events = collect(&mut rx, usize::MAX, Duration::from_secs(1)).await;
    let mut sources: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            TailEvent::Source(s) => Some(s.to_string()),
            _ => None,
        })
        .collect();
    sources.sort();
    let mut expected = vec![short_a.clone(), short_b.clone()];
    expected.sort();
    assert_eq!(sources, expected);
    let (pa, pb) = (format!("[{short_a}]"), format!("[{short_b}]"));
    assert_eq!(
        lines(&events),
        [format!("{pa} a1"), format!("{pb} b1"), format!("{pa} a2"), format!("{pb} b2"), format!("{pa} a3")]
    );

    // Following: Live Tail can't be had from moto, so it polls; new lines come
    // once each, and a task started later is read within the 10 s re-listing.
    let (tx, mut rx) = mpsc::channel(64);
    let clients2 = clients.clone();
    let reader = tokio::spawn({
        let target = target(&cluster, &service, true);
        async move { tail(&clients2.ecs, &clients2.logs, target, tx).await }
    });
    let first = collect(&mut rx, 5, Duration::from_secs(20)).await;
    assert_eq!(lines(&first).len(), 5, "{first:?}");
    let more = collect(&mut rx, usize::MAX, Duration::from_millis(1500)).await;
    let all: Vec<TailEvent> = first.iter().chain(more.iter()).cloned().collect();
    assert!(all.contains(&TailEvent::Mode(TailMode::Polling)), "{all:?}");
    assert!(
        notes(&all).iter().any(|n| n.starts_with("polling: Live Tail is not available here")),
        "{:?}",
        notes(&all)
    );
    crate::ecs::put_events(&stream_b, &[("b3", 50)]).await;
    let (c, stream_c) = start_task(&cluster, &service).await;
    crate::ecs::put_events(&stream_c, &[("c1", 60)]).await;
    let later = collect(&mut rx, 2, Duration::from_secs(25)).await;
    let short_c: String = c.chars().take(8).collect();
    let mut got = lines(&later);
    got.sort();
    let mut expected = vec![format!("[{short_b}] b3"), format!("[{short_c}] c1")];
    expected.sort();
    assert_eq!(got, expected, "{later:?}");
    assert!(later.contains(&TailEvent::Source(Arc::from(short_c.as_str()))));
    let quiet = collect(&mut rx, 1, Duration::from_secs(3)).await;
    assert!(lines(&quiet).is_empty(), "no line twice: {quiet:?}");
    drop(rx);
    let ended = tokio::time::timeout(Duration::from_secs(10), reader).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "the tail ends when nobody reads: {ended:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_that_is_not_there_is_an_error_naming_it() {
    let (cluster, _, _) = crate::remote::ecs_service().await;
    let clients = crate::support::realistic_clients().await;
    let (tx, _rx) = mpsc::channel(64);
    let mut t = target(&cluster, "unused", false);
    t.task = Some("0123456789abcdef0123456789abcdef".into());
    let error = tail(&clients.ecs, &clients.logs, t, tx).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("no ECS task `0123456789abcdef0123456789abcdef` in cluster `{cluster}`")
    );
}

mod live {
    //! Live Tail with recorded replies: ECS describes one task whose container
    //! logs to `/ecs/app`; CloudWatch has two lines when the tail starts, a
    //! Live Tail session hands over two more and closes, the catch-up read
    //! finds those two (skipped) and one the session missed; the next session
    //! is refused, so polling takes over.

    use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
    use aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsOutput;
    use aws_sdk_cloudwatchlogs::types::{LogGroup, OutputLogEvent};
    use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
    use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
    use aws_sdk_ecs::types::{ContainerDefinition, LogConfiguration, LogDriver, Task, TaskDefinition};
    use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::event_stream::{Header, HeaderValue, Message};

    use super::*;

    const TASK: &str = "arn:aws:ecs:eu-west-1:123456789012:task/dev/4f2a91c0aa0011112222333344445555";
    const STREAM: &str = "app/app/4f2a91c0aa0011112222333344445555";
    const GROUP_ARN: &str = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/app";

    fn ecs() -> aws_sdk_ecs::Client {
        let tasks = mock!(aws_sdk_ecs::Client::describe_tasks).then_output(|| {
            DescribeTasksOutput::builder()
                .tasks(
                    Task::builder()
                        .task_arn(TASK)
                        .task_definition_arn("arn:aws:ecs:eu-west-1:123456789012:task-definition/app:3")
                        .last_status("RUNNING")
                        .build(),
                )
                .build()
        });
        let definition = mock!(aws_sdk_ecs::Client::describe_task_definition).then_output(|| {
            let logs = LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", "/ecs/app")
                .options("awslogs-region", "eu-west-1")
                .options("awslogs-stream-prefix", "app")
                .build()
                .unwrap();
            let container = ContainerDefinition::builder().name("app").image("app:1").log_configuration(logs);
            DescribeTaskDefinitionOutput::builder()
                .task_definition(
                    TaskDefinition::builder()
                        .family("app")
                        .revision(3)
                        .container_definitions(container.build())
                        .build(),
                )
                .build()
        });
        let interceptor = MockResponseInterceptor::new()
            .rule_mode(RuleMode::MatchAny)
            .with_rule(&tasks)
            .with_rule(&definition);
        crate::support::mock_ecs(interceptor)
    }

    /// A recorded page of a forward read: its events and its forward token.
    fn page(
        events: Vec<OutputLogEvent>,
        token: &'static str,
    ) -> impl Fn() -> GetLogEventsOutput + Send + Sync {
        move || {
            GetLogEventsOutput::builder().set_events(Some(events.clone())).next_forward_token(token).build()
        }
    }

    fn event(message: &str, timestamp: i64) -> OutputLogEvent {
        OutputLogEvent::builder().message(message).timestamp(timestamp).build()
    }

    /// One event-stream frame as CloudWatch sends it.
    fn frame(kind: &str, payload: &str) -> Vec<u8> {
        let message = Message::new(payload.as_bytes().to_vec())
            .add_header(Header::new(":message-type", HeaderValue::String("event".into())))
            .add_header(Header::new(":event-type", HeaderValue::String(kind.to_string().into())))
            .add_header(Header::new(":content-type", HeaderValue::String("application/json".into())));
        let mut out = Vec::new();
        aws_smithy_eventstream::frame::write_message_to(&message, &mut out).unwrap();
        out
    }

    /// A session's opening and one update handing over `lines` (message, time).
    fn session_body(lines: &[(&str, i64)]) -> Vec<u8> {
        let results: Vec<String> = lines
            .iter()
            .map(|(m, t)| {
                format!(
                    r#"{{"logStreamName":"{STREAM}","logGroupIdentifier":"{GROUP_ARN}","message":"{m}","timestamp":{t},"ingestionTime":{t}}}"#
                )
            })
            .collect();
        let mut body = frame("sessionStart", r#"{"requestId":"r1","sessionId":"s1"}"#);
        body.extend(frame(
            "sessionUpdate",
            &format!(r#"{{"sessionMetadata":{{"sampled":false}},"sessionResults":[{}]}}"#, results.join(",")),
        ));
        body
    }

    /// A session that hands over two lines and is closed by AWS.
    fn session() -> HttpResponse {
        let body = session_body(&[("live 1", 3000), ("live 2", 4000)]);
        HttpResponse::new(StatusCode::try_from(200).unwrap(), SdkBody::from(body))
    }

    /// The tail of the one task, followed, from the head of its stream (these
    /// recorded replies are forward reads).
    fn task_target() -> TailTarget {
        TailTarget {
            cluster: "dev".into(),
            service: None,
            task: Some(TASK.into()),
            replacing: None,
            since: None,
            newest: 0,
            follow: true,
            live: true,
        }
    }

    fn logs(live: &Rule, reads: &Rule) -> aws_sdk_cloudwatchlogs::Client {
        let groups = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups).then_output(|| {
            DescribeLogGroupsOutput::builder()
                .log_groups(
                    LogGroup::builder().log_group_name("/ecs/app").arn(format!("{GROUP_ARN}:*")).build(),
                )
                .build()
        });
        let interceptor = MockResponseInterceptor::new()
            .rule_mode(RuleMode::MatchAny)
            .with_rule(&groups)
            .with_rule(live)
            .with_rule(reads);
        aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::Config::builder()
                .behavior_version(aws_sdk_cloudwatchlogs::config::BehaviorVersion::latest())
                .region(aws_sdk_cloudwatchlogs::config::Region::new("eu-west-1"))
                .credentials_provider(aws_sdk_cloudwatchlogs::config::Credentials::new(
                    "a", "b", None, None, "t",
                ))
                .http_client(create_mock_http_client())
                .interceptor(interceptor)
                .build(),
        )
    }

    #[tokio::test]
    async fn live_tail_lines_come_once_and_polling_takes_over_when_it_is_refused() {
        let live = mock!(aws_sdk_cloudwatchlogs::Client::start_live_tail)
            .match_requests(|r| {
                r.log_group_identifiers() == [GROUP_ARN.to_string()]
                    && r.log_stream_names() == [STREAM.to_string()]
            })
            .sequence()
            .http_response(session)
            .http_status(
                400,
                Some(r#"{"__type":"InvalidOperationException","message":"Live Tail is off"}"#.into()),
            )
            .repeatedly()
            .build();
        let reads = mock!(aws_sdk_cloudwatchlogs::Client::get_log_events)
            .sequence()
            .output(page(vec![event("history 1", 1000), event("history 2", 2000)], "f1"))
            .output(page(vec![], "f1"))
            .output(page(vec![event("live 1", 3000), event("live 2", 4000), event("missed", 4500)], "f2"))
            .output(page(vec![], "f2"))
            .repeatedly()
            .build();
        let (tx, mut rx) = mpsc::channel(64);
        let target = task_target();
        let (ecs, logs) = (ecs(), logs(&live, &reads));
        let reader = tokio::spawn(async move { tail(&ecs, &logs, target, tx).await });
        let events = collect(&mut rx, 5, Duration::from_secs(10)).await;
        let label = "[4f2a91c0]";
        assert_eq!(
            lines(&events),
            ["history 1", "history 2", "live 1", "live 2", "missed"].map(|l| format!("{label} {l}"))
        );
        let modes: Vec<&TailEvent> = events.iter().filter(|e| matches!(e, TailEvent::Mode(_))).collect();
        assert_eq!(
            modes,
            [
                &TailEvent::Mode(TailMode::Polling),
                &TailEvent::Mode(TailMode::Live),
                &TailEvent::Mode(TailMode::Polling)
            ],
            "{events:?}"
        );
        let quiet = collect(&mut rx, 1, Duration::from_millis(2500)).await;
        let all: Vec<TailEvent> = events.into_iter().chain(quiet.clone()).collect();
        assert!(lines(&quiet).is_empty(), "nothing twice: {quiet:?}");
        let said = notes(&all);
        assert!(
            said.iter().any(|n| n == "Live Tail stopped (the session was closed by AWS); reading up to date"),
            "{said:?}"
        );
        assert!(
            said.iter().any(|n| n.starts_with("polling: Live Tail is not available here")
                && n.contains("Live Tail is off")),
            "{said:?}"
        );
        assert_eq!(live.num_calls(), 2, "one session, then one refused");
        drop(rx);
        let _ = reader.await;
    }

    /// A session that hands over one line and then stays open.
    fn open_session(message: &'static str, timestamp: i64) -> impl Fn() -> HttpResponse + Send + Sync {
        move || {
            let body = session_body(&[(message, timestamp)]);
            let first: Result<http_body::Frame<bytes::Bytes>, std::io::Error> =
                Ok(http_body::Frame::data(bytes::Bytes::from(body)));
            let stream =
                futures::StreamExt::chain(futures::stream::iter([first]), futures::stream::pending());
            let body = SdkBody::from_body_1_x(http_body_util::StreamBody::new(stream));
            HttpResponse::new(StatusCode::try_from(200).unwrap(), body)
        }
    }

    /// Live Tail is billed by the minute: with nobody looking at the lines
    /// (here for 1 s; 10 minutes in the dashboard) the session stops and
    /// polling goes on; when somebody looks again a session opens again.
    /// No line is shown twice.
    #[tokio::test]
    async fn live_tail_pauses_while_nobody_looks_and_resumes_when_somebody_does() {
        let live = mock!(aws_sdk_cloudwatchlogs::Client::start_live_tail)
            .sequence()
            .http_response(open_session("live 1", 3000))
            .http_response(open_session("live 2", 4000))
            .build();
        let reads = mock!(aws_sdk_cloudwatchlogs::Client::get_log_events)
            .sequence()
            .output(page(vec![event("history 1", 1000)], "f1"))
            .output(page(vec![], "f1"))
            .output(page(vec![event("live 1", 3000)], "f2"))
            .output(page(vec![], "f2"))
            .repeatedly()
            .build();
        let (tx, mut rx) = mpsc::channel(64);
        let (watched, watched_rx) = tokio::sync::watch::channel(true);
        let control = wharf::logs::TailControl {
            older: None,
            watched: watched_rx,
            unwatched_for: Duration::from_secs(1),
        };
        let target = task_target();
        let (ecs, logs) = (ecs(), logs(&live, &reads));
        let reader =
            tokio::spawn(async move { wharf::logs::tail::tail_with(&ecs, &logs, target, tx, control).await });
        let mut events = collect(&mut rx, 2, Duration::from_secs(10)).await;
        assert_eq!(lines(&events), ["[4f2a91c0] history 1", "[4f2a91c0] live 1"]);

        // Nobody looks: after 1 s the session stops, polling goes on.
        watched.send(false).unwrap();
        let quiet = collect(&mut rx, 1, Duration::from_millis(2500)).await;
        assert_eq!(live.num_calls(), 1);
        assert!(notes(&quiet).iter().any(|n| n.starts_with("Live Tail paused: nobody looked")), "{quiet:?}");
        assert!(quiet.contains(&TailEvent::Mode(TailMode::Polling)), "{quiet:?}");
        assert!(lines(&quiet).is_empty(), "live 1 is not shown again: {quiet:?}");
        events.extend(quiet);

        // Somebody looks again: Live Tail again, and its line comes once.
        watched.send(true).unwrap();
        let back = collect(&mut rx, 1, Duration::from_secs(5)).await;
        assert_eq!(lines(&back), ["[4f2a91c0] live 2"], "{back:?}");
        assert!(back.contains(&TailEvent::Mode(TailMode::Live)), "{back:?}");
        assert!(notes(&back).iter().any(|n| n.contains("back to Live Tail")), "{back:?}");
        assert_eq!(live.num_calls(), 2);
        drop(rx);
        let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
    }
}

/// A stream with a long history: the tail starts at its end — the newest
/// lines only, read backwards a page at a time, never the history before them
/// — and then follows on from there; `wharf logs` prints as many of the
/// newest as the profile's `log_lines`.
#[tokio::test(flavor = "multi_thread")]
async fn a_tail_starts_at_the_end_of_a_long_stream_and_follows_on() {
    let (cluster, service, _) = crate::remote::ecs_service().await;
    let (task, stream) = start_task(&cluster, &service).await;
    let base = wharf::time::unix_now() * 1000 - 3_600_000;
    let history: Vec<String> = (0..25_000).map(|i| format!("old {i:05}")).collect();
    for chunk in history.chunks(10_000).enumerate() {
        let (n, lines) = chunk;
        let at: Vec<(&str, i64)> =
            lines.iter().enumerate().map(|(i, l)| (l.as_str(), (n * 10_000 + i) as i64)).collect();
        crate::ecs::put_events_at(&stream, base, &at).await;
    }
    let clients = crate::support::realistic_clients().await;
    let (tx, mut rx) = mpsc::channel(64);
    let mut t = target(&cluster, &service, true);
    t.task = Some(task.clone());
    t.service = None;
    t.newest = 12_000; // more than one page of 10,000
    let reader = tokio::spawn(async move { tail(&clients.ecs, &clients.logs, t, tx).await });
    let first = collect(&mut rx, 12_000, Duration::from_secs(20)).await;
    let lines: Vec<String> = first
        .iter()
        .flat_map(|e| match e {
            TailEvent::Lines(l) => l.iter().map(|l| l.text.clone()).collect(),
            _ => vec![],
        })
        .collect();
    assert_eq!(lines.len(), 12_000, "the newest 12,000 and not one more");
    assert_eq!(lines.first().map(String::as_str), Some("old 13000"));
    assert_eq!(lines.last().map(String::as_str), Some("old 24999"));
    // Then on from the end: a new line arrives once.
    crate::ecs::put_events_at(&stream, base, &[("new 1", 3_599_000)]).await;
    let next = collect(&mut rx, 1, Duration::from_secs(15)).await;
    let new: Vec<String> = next
        .iter()
        .flat_map(|e| match e {
            TailEvent::Lines(l) => l.iter().map(|l| l.text.clone()).collect(),
            _ => vec![],
        })
        .collect();
    assert_eq!(new, ["new 1"]);
    drop(rx);
    let _ = tokio::time::timeout(Duration::from_secs(10), reader).await;

    // The command line: as many of the newest as log_lines says.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("wharf.toml"),
        format!("[profiles.l]\ncluster = \"{cluster}\"\nlog_lines = 3\n"),
    )
    .unwrap();
    let out = crate::support::wharf_against(&crate::support::aws_url(), home.path())
        .args(["logs", "--task", &task])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let short: String = task.chars().take(8).collect();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("[{short}] old 24998\n[{short}] old 24999\n[{short}] new 1\n")
    );
}

fn texts(events: &[TailEvent]) -> Vec<String> {
    events
        .iter()
        .flat_map(|e| match e {
            TailEvent::Lines(l) => l.iter().map(|l| l.text.clone()).collect(),
            _ => vec![],
        })
        .collect()
}

/// A task of a fresh service whose stream holds `n` lines `old 00000`… a
/// millisecond apart, an hour ago.
async fn task_with_history(n: usize) -> (String, String, String) {
    let (cluster, service, _) = crate::remote::ecs_service().await;
    let (task, stream) = start_task(&cluster, &service).await;
    let base = wharf::time::unix_now() * 1000 - 3_600_000;
    let history: Vec<String> = (0..n).map(|i| format!("old {i:05}")).collect();
    for (c, chunk) in history.chunks(10_000).enumerate() {
        let at: Vec<(&str, i64)> =
            chunk.iter().enumerate().map(|(i, l)| (l.as_str(), (c * 10_000 + i) as i64)).collect();
        crate::ecs::put_events_at(&stream, base, &at).await;
    }
    (cluster, task, stream)
}

/// Scrolling past the top: each request for older lines reads one more
/// page backwards from where the last stopped, through the realism layer,
/// until the stream's start, which is said; every line comes exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn older_lines_come_a_page_at_a_time_back_to_the_start_each_once() {
    let (cluster, task, _) = task_with_history(2_500).await;
    let clients = crate::support::realistic_clients().await;
    let (tx, mut rx) = mpsc::channel(64);
    let (older, older_rx) = mpsc::channel(4);
    let (_watched, watched_rx) = tokio::sync::watch::channel(true);
    let control = wharf::logs::TailControl {
        older: Some(older_rx),
        watched: watched_rx,
        unwatched_for: wharf::logs::tail::UNWATCHED_FOR,
    };
    let mut t = target(&cluster, "", true);
    (t.task, t.service, t.newest) = (Some(task), None, 1_000);
    let reader = tokio::spawn(async move {
        wharf::logs::tail::tail_with(&clients.ecs, &clients.logs, t, tx, control).await
    });
    let first = texts(&collect(&mut rx, 1_000, Duration::from_secs(20)).await);
    assert_eq!(first.len(), 1_000);
    assert_eq!((first[0].as_str(), first[999].as_str()), ("old 01500", "old 02499"));

    let mut all = first;
    let mut answers = Vec::new();
    for _ in 0..5 {
        older.send(1_000).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match rx.recv().await {
                    Some(TailEvent::Older { lines, more }) => break (lines, more),
                    Some(TailEvent::Lines(l)) => panic!("no new lines were written: {l:?}"),
                    Some(_) => {}
                    None => panic!("the tail ended"),
                }
            }
        })
        .await
        .expect("an answer to the request for older lines");
        answers.push((answer.0.len(), answer.1));
        let mut before: Vec<String> = answer.0.into_iter().map(|l| l.text).collect();
        before.append(&mut all);
        all = before;
        if !answer.1 {
            break;
        }
    }
    assert_eq!(answers.last().map(|a| a.1), Some(false), "the start is said: {answers:?}");
    assert!(answers[..answers.len() - 1].iter().all(|a| a.1), "{answers:?}");
    assert_eq!(answers[0], (1_000, true));
    let expected: Vec<String> = (0..2_500).map(|i| format!("old {i:05}")).collect();
    assert_eq!(all.len(), expected.len(), "every line once: {answers:?}");
    assert!(all == expected, "in order, none twice, none missing");
    drop(rx);
    let _ = tokio::time::timeout(Duration::from_secs(10), reader).await;
}

/// Reading up to date from far behind (here from the head of 25,000 lines;
/// after a Live Tail session, from where the last read stopped) hands the
/// lines over a page at a time, not all at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_catch_up_is_handed_over_a_page_at_a_time() {
    let (cluster, task, _) = task_with_history(25_000).await;
    let clients = crate::support::realistic_clients().await;
    let (tx, mut rx) = mpsc::channel(64);
    let mut t = target(&cluster, "", false);
    (t.task, t.service, t.since) = (Some(task), None, Some(0));
    let reader = tokio::spawn(async move { tail(&clients.ecs, &clients.logs, t, tx).await });
    let events = collect(&mut rx, 25_000, Duration::from_secs(30)).await;
    let sizes: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            TailEvent::Lines(l) => Some(l.len()),
            _ => None,
        })
        .collect();
    assert!(sizes.len() >= 3 && sizes.iter().all(|&n| n <= 10_000), "batches: {sizes:?}");
    let expected: Vec<String> = (0..25_000).map(|i| format!("old {i:05}")).collect();
    assert!(texts(&events) == expected, "every line once, in order");
    reader.await.unwrap().unwrap();
}
