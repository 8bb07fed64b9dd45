//! Two machines on one engine: each has its own XDG home (config, state,
//! cache) with its `wharf.toml`, its own name (`WHARF_HOST`) and its own
//! database container.

use std::process::Output;

use crate::backup::stderr;
use crate::support::{Cleanup, aws_url, docker, wharf_against};

pub(crate) struct Machine {
    pub home: tempfile::TempDir,
    pub host: &'static str,
    pub container: String,
    /// Set for every run: a machine of its own has its own lock directory.
    pub env: Vec<(String, String)>,
}

impl Machine {
    /// `profile`: the lines of its `[profiles.dev]` (bucket, repository…);
    /// `database`: those of `[profiles.dev.database]` besides the container.
    pub fn new(
        host: &'static str,
        container: String,
        profile: &str,
        database: &str,
        cleanup: &mut Cleanup,
    ) -> Machine {
        let home = tempfile::tempdir().unwrap();
        cleanup.containers.push(container.clone());
        cleanup.volumes.push(format!("{container}-data"));
        let toml = format!(
            "[profiles.dev]\n{profile}[profiles.dev.database]\ncontainer = \"{container}\"\n{database}"
        );
        std::fs::write(home.path().join("wharf.toml"), toml).unwrap();
        Machine { home, host, container, env: Vec::new() }
    }

    pub fn wharf(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// wharf with `args` as this machine runs it, to be started.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = wharf_against(&aws_url(), self.home.path());
        command.args(args).env("WHARF_HOST", self.host).env("AWS_MAX_ATTEMPTS", "2");
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs wharf with `--json`, wants `status`, and returns what it printed.
    pub fn json(&self, args: &[&str], status: i32) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.wharf(&all);
        assert_eq!(out.status.code(), Some(status), "wharf {args:?}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("wharf {args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
        })
    }

    /// Writes `text` to `/data/note` in its container.
    pub fn write(&self, text: &str) {
        docker(&["exec", &self.container, "sh", "-c", &format!("echo {text} > /data/note")]);
    }

    pub fn note(&self) -> String {
        docker(&["exec", &self.container, "cat", "/data/note"])
    }
}
