//! The import rules of ARCHITECTURE.md, checked on the source tree so they
//! stay held: each top-level module imports only its own layer and those
//! below it; no AWS SDK name outside `src/aws/`; no source file over 700
//! lines. A failure names the file, the line and the rule.

use std::path::{Path, PathBuf};

/// Layers, lowest first; a module may use modules of its own layer or lower.
const LAYERS: &[&[&str]] = &[
    &["model", "format", "files", "net", "time", "error"],
    &["records", "config", "logging", "registry"],
    &["aws", "docker"],
    &["logs", "snapshots"],
    &["jobs", "doctor"],
    &["app"],
    &["ui"],
    &["session"],
    &["dashboard", "commands", "cli", "lib", "main"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/aws/ecs/mod.rs` → `aws`; `src/format.rs` → `format`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.strip_suffix(".rs").unwrap_or(&first).to_string()
}

#[test]
fn each_layer_imports_only_itself_and_the_layers_below() {
    let src = crate::support::repo_path("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 50, "the source tree was not found at {}", src.display());
    let mut broken = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(own) = layer_of(&module) else {
            broken.push(format!("{}: module `{module}` is in no layer of ARCHITECTURE.md", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            let mut rest = line;
            while let Some(at) = rest.find("crate::") {
                let used: String =
                    rest[at + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                rest = &rest[at + 7..];
                match layer_of(&used) {
                    Some(layer) if layer > own => broken.push(format!(
                        "{}:{}: `{module}` (layer {own}) uses `crate::{used}` (layer {layer}), a layer above it",
                        file.display(),
                        n + 1
                    )),
                    _ => {}
                }
            }
            let sdk = line.contains("aws_sdk_") || line.contains("aws_smithy_");
            if sdk && module != "aws" {
                broken.push(format!("{}:{}: an AWS SDK name outside src/aws/", file.display(), n + 1));
            }
        }
        let lines = text.lines().count();
        if lines > 700 {
            broken.push(format!("{}: {lines} lines, more than 700", file.display()));
        }
    }
    assert!(broken.is_empty(), "the import rules are broken:\n{}", broken.join("\n"));
}

/// Inside `app/`, lowest first (see `src/app/shared.rs`): the state and its
/// vocabulary with what the panes share; the set-ups any pane may start; the
/// panes; and the top that hands each action to its pane.
const APP_LAYERS: &[&[&str]] = &[
    &["action", "asked", "effect", "keymap", "overlay", "shared", "standing", "state", "watch"],
    &["setup"],
    &["charts", "ecs", "images", "jobs", "logs", "machine", "registry", "settings", "snapshots", "switch"],
    &["keys", "mod", "refresh", "update"],
];
/// The panes' layer: a pane never uses another pane.
const PANES: usize = 2;

/// The modules of `app/` a line names: `super::ecs::…`, `super::{ecs, jobs}`, `crate::app::state::…`.
fn app_modules_named(line: &str) -> Vec<String> {
    let mut named = Vec::new();
    for prefix in ["super::", "crate::app::"] {
        let mut rest = line;
        while let Some(at) = rest.find(prefix) {
            rest = &rest[at + prefix.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inside = group.split('}').next().unwrap_or_default();
                named.extend(
                    inside.split(',').map(|m| m.trim().split("::").next().unwrap_or_default().to_string()),
                );
            } else {
                named.push(rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect());
            }
        }
    }
    named.retain(|m| !m.is_empty() && m != "self");
    named
}

#[test]
fn inside_app_no_pane_uses_another_pane_or_the_files_above_it() {
    let app = crate::support::repo_path("src/app");
    let layer = |m: &str| APP_LAYERS.iter().position(|l| l.contains(&m));
    let mut broken = Vec::new();
    let mut files = Vec::new();
    sources(&app, &mut files);
    for file in &files {
        let module = module_of(&app, file);
        let Some(own) = layer(&module) else {
            broken.push(format!("{}: `app::{module}` is in no layer of app/", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for used in app_modules_named(line) {
                if used == module {
                    continue;
                }
                let Some(theirs) = layer(&used) else { continue };
                let sideways = theirs == own && own == PANES;
                if theirs > own || sideways {
                    let how = if sideways { "another pane" } else { "a file above it" };
                    broken.push(format!("{}:{}: `{module}` uses `{used}`, {how}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(broken.is_empty(), "app/'s layers are broken:\n{}", broken.join("\n"));
}
