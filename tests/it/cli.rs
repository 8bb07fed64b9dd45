//! The real binary's subcommands: output, exit statuses and error text.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{Cleanup, docker, test_image, unique};

/// Runs `wharf` in an empty directory with its own XDG directories.
fn wharf(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(args)
        .current_dir(home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env_remove("WHARF_PROFILE")
        .env_remove("DOCKER_HOST")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run wharf")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn images_json_lists_the_test_image() {
    let image = test_image();
    let home = tempfile::tempdir().unwrap();
    let out = wharf(&["images", "--json"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| format!("{}:{}", r["repository"].as_str().unwrap(), r["tag"].as_str().unwrap()) == image)
        .expect("listed");
    assert_eq!(row["id"].as_str().unwrap(), docker(&["image", "inspect", "--format", "{{.Id}}", image]));
    assert!(row["size"].as_u64().unwrap() > 0);
    // The table form names it too.
    let out = wharf(&["images"], home.path());
    assert!(String::from_utf8_lossy(&out.stdout).contains(image));
}

#[test]
fn bake_commits_and_prints_json() {
    let image = test_image();
    let home = tempfile::tempdir().unwrap();
    let mut cleanup = Cleanup::default();
    let name = unique("wharf-cli-bake");
    docker(&["create", "--name", &name, image, "true"]);
    cleanup.containers.push(name.clone());
    let reference = format!("wharf-cli/{name}:v1");
    cleanup.images.push(reference.clone());
    let out = wharf(&["bake", "--container", &name, "--tag", &reference, "--json"], home.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["image"], reference.as_str());
    assert_eq!(json["container"], name.as_str());
    assert_eq!(
        json["id"].as_str().unwrap(),
        docker(&["image", "inspect", "--format", "{{.Id}}", &reference])
    );
}

#[test]
fn bake_failures_and_refusals_have_their_exit_status() {
    let home = tempfile::tempdir().unwrap();
    let out = wharf(&["bake", "--container", "wharf-none", "--tag", "x/y:z"], home.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).lines().last(), Some("error: no such container `wharf-none`"));

    let out = wharf(&["bake", "--container", "c", "--tag", "Not Valid"], home.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: --tag: invalid image reference `Not Valid`"),
        "{}",
        stderr(&out)
    );

    let out = wharf(&["--read-only", "bake", "--container", "c", "--tag", "x:y"], home.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "error: bake changes the engine's images, and --read-only is set\n");

    let out = wharf(&["bake", "--container", "c"], home.path());
    assert_eq!(out.status.code(), Some(2), "clap usage errors exit 2");
}

#[test]
fn configuration_errors_exit_2_naming_file_and_line() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("wharf.toml"), "[profiles.dev]\nregion = \"eu-west-1\"\nbuckt = \"x\"\n")
        .unwrap();
    let out = wharf(&["images"], home.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: wharf.toml:3:1: unknown key `buckt`, expected one of"),
        "{}",
        stderr(&out)
    );
    let out = wharf(&["--profile", "prod", "images"], home.path());
    assert_eq!(
        stderr(&out),
        "error: wharf.toml:3:1: unknown key `buckt`, expected one of `aws_profile`, `region`, `endpoint_url`, `registry`, `repository`, `cluster`, `service`, `container`, `bucket`, `prefix`, `storage_class`, `keep`, `older_than`, `protected`, `remote_backup_command`, `uploader_image`, `log_lines`, `cache_limit`, `snapshot_format`, `init_id`, `subnets`, `database`\n"
    );
    std::fs::write(home.path().join("wharf.toml"), "[profiles.dev]\n").unwrap();
    let out = wharf(&["--profile", "prod", "images"], home.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "error: no profile `prod` in wharf.toml (profiles: dev)\n");
}

#[test]
fn a_bad_keymap_stops_the_dashboard_before_anything_is_drawn() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("config/wharf");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keymap.toml"), "[jobs]\ncancel = [\"x\"]\nkill = [\"k\"]\n").unwrap();
    let out = wharf(&[], home.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "something was drawn");
    let expected = format!(
        "error: {}:3:1: in [jobs]: unknown action `kill`, expected one of",
        dir.join("keymap.toml").display()
    );
    assert!(stderr(&out).starts_with(&expected), "{}", stderr(&out));
}

#[test]
fn an_unreachable_engine_is_named() {
    let home = tempfile::tempdir().unwrap();
    let out = wharf(&["--docker-host", "unix:///nonexistent/docker.sock", "images"], home.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: Docker engine unreachable at unix:///nonexistent/docker.sock: "),
        "{}",
        stderr(&out)
    );
}
