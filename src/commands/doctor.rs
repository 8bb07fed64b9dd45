//! `wharf doctor [--fix]`: what wharf left behind when a process died mid-job,
//! and (with `--fix`) settling it.

use std::process::ExitCode;

use serde_json::json;

use super::{code, exit, print_json};
use crate::aws;
use crate::config::{Dirs, Settings};
use crate::docker::Engine;
use crate::doctor::{self, Look};
use crate::snapshots;

pub async fn doctor(settings: &Settings, fix: bool, json: bool) -> ExitCode {
    let dirs = Dirs::new();
    let engine = match Engine::connect(settings.docker_host.as_deref()).await {
        Ok(e) => Some(e),
        Err(e) => {
            eprintln!("warning: {e}");
            None
        }
    };
    let profile = &settings.profile;
    let place = profile.bucket.clone().map(|b| (b, snapshots::normalise_prefix(profile.prefix.as_deref())));
    let clients = if place.is_some() { aws::connect(profile).await.1 } else { None };
    let look = Look { dirs: &dirs, engine: engine.as_ref(), aws: clients.as_ref(), place };
    let (found, notes) = doctor::find(&look).await;
    for note in &notes {
        eprintln!("note: {note}");
    }
    if !fix {
        let lines: Vec<String> = found.iter().map(|l| l.describe()).collect();
        if json {
            let _ = print_json(&json!({ "leftovers": lines, "notes": notes }));
        } else if lines.is_empty() {
            println!("nothing left behind");
        } else {
            for line in &lines {
                println!("{line}");
            }
            println!("run `wharf doctor --fix` to settle {}", if lines.len() == 1 { "it" } else { "them" });
        }
        return code(if found.is_empty() { exit::OK } else { exit::FAILED });
    }
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for leftover in &found {
        match doctor::fix(&look, leftover).await {
            Ok(message) => done.push(message),
            Err(message) => failed.push(format!("{}: {message}", leftover.describe())),
        }
    }
    if json {
        let _ = print_json(&json!({ "fixed": done, "failed": failed, "notes": notes }));
    } else {
        if found.is_empty() {
            println!("nothing left behind");
        }
        for line in &done {
            println!("{line}");
        }
    }
    for line in &failed {
        eprintln!("error: {line}");
    }
    code(if failed.is_empty() { exit::OK } else { exit::FAILED })
}
