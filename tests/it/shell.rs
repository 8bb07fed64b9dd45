//! A shell and the SQL client in a container, on a real terminal (a
//! pseudo-terminal) through the engine's exec API: what is typed runs in the
//! container, the TTY follows the terminal's size, and the dashboard comes
//! back intact when the command ends.

use std::process::Command;

use crate::backup::postgres_container;
use crate::e2e::{Session, TIMEOUT, assert_restored};
use crate::support::{Cleanup, docker, eventually, test_image, unique};

/// A container of the busybox test image that stays up.
fn running_container(cleanup: &mut Cleanup, image: &str) -> String {
    let name = unique("wharf-it-shell");
    docker(&["run", "-d", "--name", &name, image, "sleep", "600"]);
    cleanup.containers.push(name.clone());
    name
}

#[test]
fn the_shell_key_hands_the_terminal_to_the_container_and_the_dashboard_comes_back() {
    test_image();
    let mut cleanup = Cleanup::default();
    let container = running_container(&mut cleanup, crate::support::TEST_IMAGE);
    let mut session = Session::start_with(120, 40, &[], None);
    session.wait_for("Images");
    // The Containers tab, filtered down to the one container, then the key.
    session.send(b"1]");
    session.send(format!("/{container}\r").as_bytes());
    session.wait_for(&container);
    session.send(b"e");
    session.wait_for(&format!("wharf: sh in {container}"));

    // Typed in the container's shell; its answer comes back on this terminal.
    session.send(b"echo wharf-$((6*7))\r");
    session.wait_for("wharf-42");
    // The TTY follows the terminal's size.
    session.resize(100, 30);
    session.send(b"stty size\r");
    session.wait_for("30 100");
    // Ctrl-C goes to the container's shell, not to wharf.
    session.send(b"sleep 30\r");
    std::thread::sleep(std::time::Duration::from_millis(300));
    session.send(b"\x03");
    session.send(b"echo typed > /tmp/typed; exit 3\r");

    // The dashboard is back, whole, and says how the shell ended.
    session.wait_for(&format!("sh in {container} ended with exit code 3"));
    for title in ["Images", "Registry", "ECS", "Logs", "Snapshots", "Jobs"] {
        session.wait_for(title);
    }
    assert!(!session.contents().contains("wharf-42"), "the shell's lines were left on the dashboard");
    assert_eq!(docker(&["exec", &container, "cat", "/tmp/typed"]), "typed");
    // Keys reach the dashboard again.
    session.send(b"?");
    session.wait_for("Help — keys from the loaded keymap");
    session.send(b"\x1b");
    eventually(TIMEOUT, "help to close", || !session.contents().contains("Help — keys"));
    session.send(b"q");
    let (code, transcript, screen) = session.finish();
    assert_eq!(code, 0, "{transcript}");
    assert_restored(&transcript, &screen);
}

#[test]
fn wharf_shell_sql_opens_psql_as_the_backups_log_in_and_exits_with_it() {
    let mut cleanup = Cleanup::default();
    let container = postgres_container(&mut cleanup);
    crate::backup::psql(&container, "postgres", "CREATE DATABASE app");
    crate::backup::psql(
        &container,
        "app",
        "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('from the day')",
    );
    let config = crate::backup::postgres_profile("unused-bucket", &container);
    let mut session = Session::start_with(120, 40, &[("WHARF_ARGS", "shell --sql")], Some(&config));
    session.wait_for("app=#");
    session.send(b"SELECT body || ' and ' || 6*7 AS answer FROM notes;\r");
    session.wait_for("from the day and 42");
    session.send(b"ALTER TABLE notes ADD COLUMN at timestamptz;\r");
    session.wait_for("ALTER TABLE");
    session.send(b"\\q\r");
    let (code, transcript, screen) = session.finish();
    assert_eq!(code, 0, "{transcript}");
    assert_restored(&transcript, &screen);
    let columns = crate::backup::psql(
        &container,
        "app",
        "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'notes'",
    );
    assert_eq!(columns, "body,at", "the schema change typed in psql is in the database");
}

#[test]
fn what_cannot_be_opened_is_said_before_the_terminal_is_handed_over() {
    test_image();
    let mut cleanup = Cleanup::default();
    // An image with no shell at all: busybox as `sleep` only.
    let image = unique("wharf-test/no-shell").to_lowercase();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.path().join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", root.path().join("bin/sleep")).unwrap();
    let tar = Command::new("tar").arg("-C").arg(root.path()).args(["-c", "."]).output().unwrap();
    let mut import = Command::new("docker")
        .args(["import", "-", &image])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    import.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
    assert!(import.wait().unwrap().success());
    cleanup.images.push(image.clone());
    let bare = running_container(&mut cleanup, &image);
    let stopped = unique("wharf-it-stopped");
    docker(&["create", "--name", &stopped, crate::support::TEST_IMAGE, "sleep", "600"]);
    cleanup.containers.push(stopped.clone());

    let cases = [
        (
            format!("shell --container {bare}"),
            1,
            format!("container `{bare}` has no shell (looked for bash and sh)"),
        ),
        (
            format!("shell --container {stopped}"),
            1,
            format!("container `{stopped}` is not running; start it first"),
        ),
        (
            format!("shell --sql --container {bare}"),
            2,
            "the SQL client needs a database preset (postgres, mysql or mssql)".to_string(),
        ),
    ];
    for (args, status, message) in cases {
        let session = Session::start_with(120, 40, &[("WHARF_ARGS", &args)], None);
        let (code, transcript, screen) = session.finish();
        assert_eq!(code, status, "{args}: {transcript}");
        assert!(transcript.contains(&message), "{args}: {transcript}");
        assert_restored(&transcript, &screen);
    }

    // Not a terminal: said, exit 2, nothing started.
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["shell", "--container", &bare])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wharf shell needs a terminal"));
    eventually(TIMEOUT, "nothing left running in the container", || {
        docker(&["top", &bare]).lines().count() == 2
    });
}
