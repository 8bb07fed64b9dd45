//! `wharf doctor [--fix]`: what wharf left behind when a process died mid-job,
//! and (with `--fix`) settling it.

use std::process::ExitCode;

use serde_json::json;

use super::{code, exit, print_json};
use crate::aws;
use crate::config::{Dirs, Settings};
use crate::docker::Engine;
use crate::doctor::{self, Look};
use crate::format;
use crate::snapshots::{self, cache};

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
    let limit = profile.cache_limit.unwrap_or(crate::config::DEFAULT_CACHE_LIMIT).0;
    let usage = cache::usage(&dirs.cache);
    let cache_line = format!(
        "cache: {} in snapshot copies and manifests (limit {}; the least recently used go first), {} in safety copies (the newest {} per container)",
        format::bytes(usage.bounded),
        format::bytes(limit),
        format::bytes(usage.safety),
        crate::jobs::restore::SAFETY_COPIES_KEPT
    );
    let cache_json = json!({ "bytes": usage.bounded, "limit": limit, "safety_bytes": usage.safety });
    if !fix {
        let lines: Vec<String> = found.iter().map(|l| l.describe()).collect();
        if json {
            let _ = print_json(&json!({ "leftovers": lines, "notes": notes, "cache": cache_json }));
            return code(if found.is_empty() { exit::OK } else { exit::FAILED });
        }
        println!("{cache_line}");
        if usage.bounded > limit {
            println!("  over its limit: `wharf doctor --fix` trims it");
        }
        if lines.is_empty() {
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
    // Trimmed after the restores cut short are settled: their snapshots are free to go then.
    let trimmed = cache::trim(&dirs.cache, limit, &crate::jobs::restore::journal_snapshots(&dirs.state));
    if !trimmed.removed.is_empty() {
        done.push(format!(
            "trimmed the cache to its limit of {}: {} snapshot cop{} ({}) deleted, the least recently used",
            format::bytes(limit),
            trimmed.removed.len(),
            if trimmed.removed.len() == 1 { "y" } else { "ies" },
            format::bytes(trimmed.freed)
        ));
    }
    if json {
        let _ = print_json(&json!({ "fixed": done, "failed": failed, "notes": notes, "cache": cache_json }));
    } else {
        println!("{cache_line}");
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
