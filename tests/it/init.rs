//! `wharf init` against moto, checked with the SDK's own clients: the dry run
//! creates nothing; the set-up is created as documented; the service comes
//! once the repository holds an image; a second run changes nothing (no new
//! revision); `--destroy` removes only what init made, the data only when asked.

use std::path::Path;

use crate::support::{moto_url, put_ecr_image, unique, wharf_against};

struct Names {
    profile: String,
    repository: String,
    bucket: String,
    cluster: String,
    service: String,
}

fn names() -> Names {
    let n = unique("init").to_lowercase();
    Names {
        profile: format!("p{}", n.replace('-', "")),
        repository: format!("wharf-it-{n}"),
        bucket: format!("wharf-it-{n}"),
        cluster: format!("wharf-it-{n}"),
        service: format!("db-{n}"),
    }
}

fn write_profile(home: &Path, n: &Names, protected: bool) {
    let text = format!(
        "[profiles.{}]\nrepository = \"{}\"\nbucket = \"{}\"\ncluster = \"{}\"\nservice = \"{}\"\nprotected = {protected}\n[profiles.{}.database]\ncontainer = \"app-db\"\npreset = \"postgres\"\n",
        n.profile, n.repository, n.bucket, n.cluster, n.service, n.profile
    );
    std::fs::write(home.join("wharf.toml"), text).unwrap();
}

fn init(home: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = wharf_against(&moto_url(), home).arg("init").args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), json, stderr)
}

struct Sdk {
    ecr: aws_sdk_ecr::Client,
    ecs: aws_sdk_ecs::Client,
    s3: aws_sdk_s3::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    iam: aws_sdk_iam::Client,
}

async fn sdk() -> Sdk {
    let config = crate::support::moto_config().await;
    let s3 = aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build();
    Sdk {
        ecr: aws_sdk_ecr::Client::new(&config),
        ecs: aws_sdk_ecs::Client::new(&config),
        s3: aws_sdk_s3::Client::from_conf(s3),
        logs: aws_sdk_cloudwatchlogs::Client::new(&config),
        iam: aws_sdk_iam::Client::new(&config),
    }
}

fn steps(json: &serde_json::Value) -> Vec<String> {
    json["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["create"].as_str().unwrap().to_string())
        .collect()
}

async fn log_group_there(sdk: &Sdk, group: &str) -> bool {
    let out = sdk.logs.describe_log_groups().log_group_name_prefix(group).send().await.unwrap();
    !out.log_groups().is_empty()
}

/// The `init_id` the profile's first init saved.
fn init_id(home: &Path, profile: &str) -> String {
    let text = std::fs::read_to_string(home.join("wharf.toml")).unwrap();
    let file = wharf::config::ConfigFile::parse(&text, "wharf.toml").unwrap();
    file.profiles[profile].init_id.clone().unwrap_or_else(|| panic!("no init_id saved:\n{text}"))
}

async fn revisions(sdk: &Sdk, family: &str) -> usize {
    let out = sdk.ecs.list_task_definitions().family_prefix(family).send().await.unwrap();
    out.task_definition_arns().len()
}

#[tokio::test(flavor = "multi_thread")]
async fn init_creates_what_the_loop_needs_once_and_destroy_removes_only_what_it_made() {
    let home = tempfile::tempdir().unwrap();
    let n = names();
    write_profile(home.path(), &n, false);
    let sdk = sdk().await;

    // The dry run says everything and creates nothing.
    let (status, plan, stderr) = init(home.path(), &["--dry-run", "--json"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(
        steps(&plan),
        [
            "repository",
            "expire_untagged",
            "bucket",
            "cluster",
            "role",
            "role_policy",
            "backup_role",
            "backup_policy",
            "log_group",
            "security_group",
            "allow_members"
        ]
    );
    assert_eq!(plan["plan"]["waits_for_image"], true);
    assert!(sdk.ecr.describe_repositories().repository_names(&n.repository).send().await.is_err());
    assert!(sdk.s3.head_bucket().bucket(&n.bucket).send().await.is_err());
    let role = format!("wharf-{}-task-execution", n.profile);
    assert!(sdk.iam.get_role().role_name(&role).send().await.is_err());
    // Without --yes: said, exit 2, nothing created.
    let (status, _, stderr) = init(home.path(), &[]);
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains("add --yes"), "{stderr}");
    assert!(sdk.s3.head_bucket().bucket(&n.bucket).send().await.is_err());

    // Before the first push: everything but the task definition and the service.
    let (status, out, stderr) = init(home.path(), &["--yes", "--json"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stderr.contains("the service waits") || out["plan"]["waits_for_image"] == true, "{stderr}");
    let repo = sdk.ecr.describe_repositories().repository_names(&n.repository).send().await.unwrap();
    let repo = &repo.repositories()[0];
    assert_eq!(repo.image_scanning_configuration().map(|c| c.scan_on_push()), Some(true));
    let policy = sdk.ecr.get_lifecycle_policy().repository_name(&n.repository).send().await.unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.lifecycle_policy_text().unwrap()).unwrap();
    assert_eq!(policy["rules"][0]["selection"]["tagStatus"], "untagged");
    assert_eq!(policy["rules"][0]["selection"]["countNumber"], 14);
    let block = sdk.s3.get_public_access_block().bucket(&n.bucket).send().await.unwrap();
    let block = block.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            block.block_public_acls(),
            block.ignore_public_acls(),
            block.block_public_policy(),
            block.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let encryption = sdk.s3.get_bucket_encryption().bucket(&n.bucket).send().await.unwrap();
    let rule = &encryption.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default().map(|d| d.sse_algorithm().as_str()),
        Some("AES256")
    );
    let lifecycle = sdk.s3.get_bucket_lifecycle_configuration().bucket(&n.bucket).send().await.unwrap();
    let abort =
        lifecycle.rules()[0].abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation());
    assert_eq!(abort, Some(1));
    // Its id is saved in the profile, and what it made carries it.
    let id = init_id(home.path(), &n.profile);
    let tags = sdk.s3.get_bucket_tagging().bucket(&n.bucket).send().await.unwrap();
    let tags: Vec<(&str, &str)> = tags.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [(format!("wharf:init:{id}").as_str(), n.profile.as_str())]);
    let clusters = sdk.ecs.describe_clusters().clusters(&n.cluster).send().await.unwrap();
    assert_eq!(clusters.clusters()[0].status(), Some("ACTIVE"));
    let attached = sdk.iam.list_attached_role_policies().role_name(&role).send().await.unwrap();
    let attached: Vec<&str> = attached.attached_policies().iter().filter_map(|p| p.policy_name()).collect();
    assert_eq!(attached, ["AmazonECSTaskExecutionRolePolicy"]);
    let group = format!("/wharf/{}", n.profile);
    let groups = sdk.logs.describe_log_groups().log_group_name_prefix(&group).send().await.unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(14));
    assert!(
        sdk.ecs
            .describe_services()
            .cluster(&n.cluster)
            .services(&n.service)
            .send()
            .await
            .unwrap()
            .services()
            .is_empty()
    );

    // The first push: the next init registers the task definition pinned to its digest, and the service.
    let digest = put_ecr_image(&sdk.ecr, &n.repository, "v1").await;
    let (status, out, stderr) = init(home.path(), &["--yes", "--json"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(steps(&out), ["task_definition", "service"]);
    let described = sdk.ecs.describe_task_definition().task_definition(&n.service).send().await.unwrap();
    let definition = described.task_definition().unwrap();
    let container = &definition.container_definitions()[0];
    assert_eq!(container.name(), Some("app-db"));
    assert_eq!(container.image(), Some(format!("{}@{digest}", repo.repository_uri().unwrap()).as_str()));
    assert_eq!(container.port_mappings()[0].container_port(), Some(5432));
    let options = container.log_configuration().unwrap().options().unwrap();
    assert_eq!(options.get("awslogs-group"), Some(&group));
    assert_eq!((definition.cpu(), definition.memory()), (Some("256"), Some("512")));
    assert!(definition.execution_role_arn().is_some_and(|a| a.ends_with(&role)));
    let services = sdk.ecs.describe_services().cluster(&n.cluster).services(&n.service).send().await.unwrap();
    let service = &services.services()[0];
    // A public IP, to reach ECR and CloudWatch from the default VPC's subnets, behind a group with no way in.
    let network = service.network_configuration().and_then(|c| c.awsvpc_configuration()).unwrap();
    assert_eq!(network.assign_public_ip().map(|a| a.as_str()), Some("ENABLED"));
    assert!(!network.subnets().is_empty());
    let ec2 = aws_sdk_ec2::Client::new(&crate::support::moto_config().await);
    let groups =
        ec2.describe_security_groups().group_ids(network.security_groups()[0].clone()).send().await.unwrap();
    let security_group = &groups.security_groups()[0];
    assert_eq!(security_group.group_name(), Some(format!("wharf-{}", n.profile).as_str()));
    // The only way in: the database's port, from the group's own members (a backup task beside it).
    let rules = security_group.ip_permissions();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert!(rules[0].ip_ranges().is_empty(), "nothing from outside: {rules:?}");
    let members: Vec<Option<&str>> = rules[0].user_id_group_pairs().iter().map(|p| p.group_id()).collect();
    assert_eq!((rules[0].from_port(), members), (Some(5432), vec![security_group.group_id()]));
    // The backup role may write under the bucket (the profile has no prefix) and nothing else.
    let backup = format!("wharf-{}-backup", n.profile);
    let policy = sdk
        .iam
        .get_role_policy()
        .role_name(&backup)
        .policy_name(format!("wharf-backup-{id}"))
        .send()
        .await
        .unwrap();
    let policy =
        percent_encoding::percent_decode_str(policy.policy_document()).decode_utf8_lossy().to_string();
    let policy: serde_json::Value = serde_json::from_str(&policy).unwrap();
    assert_eq!(policy["Statement"][0]["Resource"], format!("arn:aws:s3:::{}/*", n.bucket).as_str());
    assert_eq!(policy["Statement"][0]["Action"][0], "s3:PutObject");
    assert!(out["plan"]["steps"][0]["image"].as_str().is_some_and(|i| i.ends_with(&digest)));

    // Again: nothing missing, nothing registered.
    let before = revisions(&sdk, &n.service).await;
    let (status, out, stderr) = init(home.path(), &["--yes", "--json"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(steps(&out).is_empty(), "{out}");
    assert!(stderr.contains("nothing missing"), "{stderr}");
    assert_eq!(revisions(&sdk, &n.service).await, before);

    // Destroy: asks first; then the service, cluster, role and log group go; the data stays.
    let (status, _, stderr) = init(home.path(), &["--destroy"]);
    assert_eq!(status, 2, "{stderr}");
    let (status, out, stderr) = init(home.path(), &["--destroy", "--yes", "--json"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(out["removed"].as_array().map(Vec::len), Some(6), "{out}");
    assert!(sdk.iam.get_role().role_name(&backup).send().await.is_err(), "the backup role went too");
    assert!(sdk.iam.get_role().role_name(&role).send().await.is_err());
    let clusters = sdk.ecs.describe_clusters().clusters(&n.cluster).send().await.unwrap();
    assert!(clusters.clusters().iter().all(|c| c.status() != Some("ACTIVE")));
    assert!(!log_group_there(&sdk, &group).await);
    assert!(sdk.s3.head_bucket().bucket(&n.bucket).send().await.is_ok(), "the snapshots stay");
    assert!(sdk.ecr.describe_repositories().repository_names(&n.repository).send().await.is_ok());
    let (status, _, stderr) = init(home.path(), &["--destroy", "--include-data", "--yes"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(sdk.s3.head_bucket().bucket(&n.bucket).send().await.is_err());
    assert!(sdk.ecr.describe_repositories().repository_names(&n.repository).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn what_init_did_not_make_is_used_and_never_destroyed_and_protected_wants_the_name() {
    let home = tempfile::tempdir().unwrap();
    let n = names();
    write_profile(home.path(), &n, true);
    let sdk = sdk().await;
    // Somebody's cluster and log group of the same names, without wharf's tag.
    sdk.ecs.create_cluster().cluster_name(&n.cluster).send().await.unwrap();
    let group = format!("/wharf/{}", n.profile);
    sdk.logs.create_log_group().log_group_name(&group).send().await.unwrap();

    let (status, out, stderr) = init(home.path(), &["--yes", "--json"]);
    assert_eq!(status, 0, "{stderr}");
    let made = steps(&out);
    assert!(!made.contains(&"cluster".to_string()) && !made.contains(&"log_group".to_string()), "{made:?}");
    let present = out["plan"]["present"].to_string();
    assert!(present.contains(&format!("ECS cluster {}", n.cluster)), "{present}");

    // Protected: --yes alone is not enough to destroy.
    let (status, _, stderr) = init(home.path(), &["--destroy", "--include-data", "--yes"]);
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains(&format!("--confirm {}", n.profile)), "{stderr}");
    let (status, out, stderr) =
        init(home.path(), &["--destroy", "--include-data", "--yes", "--confirm", &n.profile, "--json"]);
    assert_eq!(status, 0, "{stderr}");
    let kept = out["plan"]["kept"].to_string();
    assert!(kept.contains("not made by wharf init"), "{kept}");
    let clusters = sdk.ecs.describe_clusters().clusters(&n.cluster).send().await.unwrap();
    assert_eq!(clusters.clusters()[0].status(), Some("ACTIVE"), "somebody's cluster stays");
    assert!(log_group_there(&sdk, &group).await, "somebody's log group stays");
    assert!(sdk.s3.head_bucket().bucket(&n.bucket).send().await.is_err(), "init's own bucket went");
}

/// "create what's missing" in the set-up panel, as a user does it in a
/// terminal: the plan shown, a yes, the job, the resources there.
#[tokio::test(flavor = "multi_thread")]
async fn the_settings_panel_creates_whats_missing_after_showing_the_plan() {
    let n = names();
    let config = format!(
        "[profiles.{p}]\nrepository = \"{r}\"\nbucket = \"{b}\"\ncluster = \"{c}\"\nservice = \"{s}\"\n",
        p = n.profile,
        r = n.repository,
        b = n.bucket,
        c = n.cluster,
        s = n.service
    );
    let url = moto_url();
    let env: Vec<(&str, &str)> = vec![
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ENDPOINT_URL", &url),
    ];
    let mut session = crate::e2e::Session::start_with(120, 40, &env, Some(&config));
    session.wait_for("Snapshots");
    session.send(b",");
    session.wait_for("Settings of profile");
    session.send(b"create\r");
    session.wait_for("Create on AWS?");
    let shown = session.contents();
    assert!(shown.contains(&format!("create: ECS cluster {}", n.cluster)), "{shown}");
    assert!(shown.contains("create: CloudWatch log group"), "{shown}");
    std::thread::sleep(std::time::Duration::from_millis(400));
    session.send(b"y");
    session.wait_for("10 done:");
    let sdk = sdk().await;
    assert!(sdk.ecr.describe_repositories().repository_names(&n.repository).send().await.is_ok());
    let clusters = sdk.ecs.describe_clusters().clusters(&n.cluster).send().await.unwrap();
    assert_eq!(clusters.clusters()[0].status(), Some("ACTIVE"));
    session.send(b"q");
    let (status, transcript, _) = session.finish();
    assert_eq!(status, 0, "{transcript}");
}

#[tokio::test(flavor = "multi_thread")]
async fn public_opens_the_databases_port_to_one_address_only_and_destroy_closes_it() {
    let home = tempfile::tempdir().unwrap();
    let n = names();
    write_profile(home.path(), &n, false);
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&crate::support::moto_config().await);
    // The whole internet is not one address.
    let (status, _, stderr) = init(home.path(), &["--public", "0.0.0.0/0", "--yes"]);
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains("is not one IP address"), "{stderr}");

    let (status, _, stderr) = init(home.path(), &["--yes"]);
    assert_eq!(status, 0, "{stderr}");
    put_ecr_image(&sdk.ecr, &n.repository, "v1").await;
    let (status, out, stderr) = init(home.path(), &["--public", "203.0.113.7", "--yes", "--json"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(steps(&out), ["allow", "task_definition", "service"]);
    let name = format!("wharf-{}", n.profile);
    let named = aws_sdk_ec2::types::Filter::builder().name("group-name").values(&name).build();
    let groups = ec2.describe_security_groups().filters(named.clone()).send().await.unwrap();
    let group = &groups.security_groups()[0];
    let rules = group.ip_permissions();
    assert_eq!(rules.len(), 1, "one way in: {rules:?}");
    assert_eq!(
        (rules[0].from_port(), rules[0].to_port(), rules[0].ip_protocol()),
        (Some(5432), Some(5432), Some("tcp"))
    );
    let ranges: Vec<&str> = rules[0].ip_ranges().iter().filter_map(|r| r.cidr_ip()).collect();
    assert_eq!(ranges, ["203.0.113.7/32"]);
    let services = sdk.ecs.describe_services().cluster(&n.cluster).services(&n.service).send().await.unwrap();
    let network =
        services.services()[0].network_configuration().and_then(|c| c.awsvpc_configuration()).unwrap();
    assert_eq!(network.assign_public_ip().map(|a| a.as_str()), Some("ENABLED"));
    assert_eq!(network.security_groups(), [group.group_id().unwrap().to_string()]);

    let (status, _, stderr) = init(home.path(), &["--destroy", "--yes"]);
    assert_eq!(status, 0, "{stderr}");
    let groups = ec2.describe_security_groups().filters(named).send().await.unwrap();
    assert!(groups.security_groups().is_empty(), "the way in is closed");
    let (status, _, stderr) = init(home.path(), &["--destroy", "--include-data", "--yes"]);
    assert_eq!(status, 0, "{stderr}");
}

/// An init cut short (kill -9) after the role was created and before its
/// policy was attached: the next one attaches the policy and makes no second role.
#[tokio::test(flavor = "multi_thread")]
async fn an_init_cut_short_between_the_role_and_its_policy_is_finished_by_the_next() {
    let home = tempfile::tempdir().unwrap();
    let n = names();
    write_profile(home.path(), &n, false);
    let sdk = sdk().await;
    let role = format!("wharf-{}-task-execution", n.profile);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let tag = aws_sdk_iam::types::Tag::builder().key("wharf:profile").value(&n.profile).build().unwrap();
    sdk.iam.create_role().role_name(&role).assume_role_policy_document(trust).tags(tag).send().await.unwrap();

    let (status, plan, stderr) = init(home.path(), &["--dry-run", "--json"]);
    assert_eq!(status, 0, "{stderr}");
    let planned = steps(&plan);
    assert!(
        planned.contains(&"role_policy".to_string()) && !planned.contains(&"role".to_string()),
        "{planned:?}"
    );
    let (status, _, stderr) = init(home.path(), &["--yes"]);
    assert_eq!(status, 0, "{stderr}");
    let attached = sdk.iam.list_attached_role_policies().role_name(&role).send().await.unwrap();
    assert_eq!(attached.attached_policies().len(), 1);
    let (status, _, stderr) = init(home.path(), &["--destroy", "--include-data", "--yes"]);
    assert_eq!(status, 0, "{stderr}");
}

/// Two projects, each its own directory and wharf.toml, both calling their
/// profile `dev`-like by the same name, in one account: they share the role,
/// the log group and the security group by name, and each one's destroy
/// leaves what the other still uses.
#[tokio::test(flavor = "multi_thread")]
async fn two_projects_with_the_same_profile_name_share_what_they_must_and_destroy_only_their_own() {
    let sdk = sdk().await;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let shared = names();
    let mut other = names();
    other.profile = shared.profile.clone();
    other.cluster = shared.cluster.clone(); // one cluster for both, too
    write_profile(a.path(), &shared, false);
    write_profile(b.path(), &other, false);
    for (home, n) in [(a.path(), &shared), (b.path(), &other)] {
        let (status, _, stderr) = init(home, &["--yes"]);
        assert_eq!(status, 0, "{stderr}");
        put_ecr_image(&sdk.ecr, &n.repository, "v1").await;
        let (status, _, stderr) = init(home, &["--yes"]);
        assert_eq!(status, 0, "{stderr}");
    }
    let (id_a, id_b) = (init_id(a.path(), &shared.profile), init_id(b.path(), &shared.profile));
    assert_ne!(id_a, id_b, "each init its own id");
    let role = format!("wharf-{}-task-execution", shared.profile);
    let tags = sdk.iam.list_role_tags().role_name(&role).send().await.unwrap();
    let mut keys: Vec<&str> = tags.tags().iter().map(|t| t.key()).collect();
    keys.sort();
    let mut both = [format!("wharf:init:{id_a}"), format!("wharf:init:{id_b}")];
    both.sort();
    assert_eq!(keys, both, "the second init marked the role as its too");

    // A's destroy: its service goes; the cluster, role, log group and group stay, untagged by A.
    let (status, out, stderr) = init(a.path(), &["--destroy", "--yes", "--json"]);
    assert_eq!(status, 0, "{stderr}");
    let plan = out["plan"]["removals"].to_string();
    assert!(plan.contains("untag"), "{plan}");
    let services =
        sdk.ecs.describe_services().cluster(&shared.cluster).services(&shared.service).send().await.unwrap();
    assert!(services.services().iter().all(|s| s.status() == Some("INACTIVE")), "A's service went");
    assert!(sdk.iam.get_role().role_name(&role).send().await.is_ok(), "B still needs the role");
    let (status, dry, stderr) = init(b.path(), &["--dry-run", "--json"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(steps(&dry).is_empty(), "B lacks nothing after A's destroy: {dry}");

    // B's destroy: now everything shared is B's alone, and goes.
    let (status, out, stderr) = init(b.path(), &["--destroy", "--yes", "--json"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(out["left"].as_array().is_some_and(Vec::is_empty), "{out}");
    assert!(sdk.iam.get_role().role_name(&role).send().await.is_err(), "the role went with the last user");
    assert!(!log_group_there(&sdk, &format!("/wharf/{}", shared.profile)).await);
    let clusters = sdk.ecs.describe_clusters().clusters(&shared.cluster).send().await.unwrap();
    assert!(clusters.clusters().iter().all(|c| c.status() != Some("ACTIVE")), "the shared cluster went last");
    for (home, _) in [(a.path(), &shared), (b.path(), &other)] {
        let (status, _, stderr) = init(home, &["--destroy", "--include-data", "--yes"]);
        assert_eq!(status, 0, "{stderr}");
    }
}

/// What init saves (its id) goes where the settings were read from: a
/// `--config` path (its directory's mode untouched, the file's kept) and a
/// symbolic link (written through, still a link). `./wharf.toml` is what
/// every other test here uses.
#[tokio::test(flavor = "multi_thread")]
async fn settings_are_saved_where_they_are_read_whatever_the_path() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
    let n = names();
    let place = tempfile::tempdir().unwrap();
    let project = place.path().join("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::set_permissions(&project, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = project.join("wharf.toml");
    write_profile(&project, &n, false);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = wharf_against(&moto_url(), elsewhere.path())
        .args(["--config", file.to_str().unwrap(), "init", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!init_id(&project, &n.profile).is_empty());
    assert_eq!(mode(&project), 0o755, "the user's directory is left as it was");
    assert_eq!(mode(&file), 0o640, "the file keeps its mode");

    // A link in the working directory to the project's file.
    let m = names();
    let linked = tempfile::tempdir().unwrap();
    let real = place.path().join("real.toml");
    write_profile(place.path(), &m, false);
    std::fs::rename(place.path().join("wharf.toml"), &real).unwrap();
    std::os::unix::fs::symlink(&real, linked.path().join("wharf.toml")).unwrap();
    let (status, _, stderr) = init(linked.path(), &["--yes"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(std::fs::symlink_metadata(linked.path().join("wharf.toml")).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(&real).unwrap().contains("init_id = "), "written through the link");
    for (home, args) in
        [(elsewhere.path(), vec!["--config", file.to_str().unwrap()]), (linked.path(), vec![])]
    {
        let out = wharf_against(&moto_url(), home)
            .args(args)
            .args(["init", "--destroy", "--include-data", "--yes"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
