//! `wharf init`: the plan first (what is there, what would be created), then,
//! with `--yes`, the creation; `--destroy` the other way round. With no file
//! and no names, it asks for them on a terminal (names offered from the
//! directory and the local images), or takes `--repository`, `--bucket`,
//! `--cluster` and `--service`; what it was given is saved with its id.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use super::snapshots::usage;
use super::{code, exit, print_json};
use crate::aws::init::InitClients;
use crate::config::Settings;
use crate::config::save::Chosen;
use crate::jobs::init::{self, InitRequest};

/// What `wharf init` was asked for.
#[derive(Debug, Clone, Default)]
pub struct InitFlags {
    pub dry_run: bool,
    pub yes: bool,
    pub destroy: bool,
    /// `--public [ADDRESS]`: empty when no address was given.
    pub public: Option<String>,
    pub include_data: bool,
    pub confirm: Option<String>,
    pub json: bool,
    pub repository: Option<String>,
    pub bucket: Option<String>,
    pub cluster: Option<String>,
    pub service: Option<String>,
}

pub async fn init(settings: &Settings, flags: InitFlags) -> ExitCode {
    if settings.read_only && !flags.dry_run {
        return usage(
            "init creates (or removes) things on AWS, and --read-only is set (--dry-run still works)",
        );
    }
    let mut settings = settings.clone();
    let mut chosen = given(&flags);
    if !flags.destroy {
        match ask_missing(&settings, &chosen).await {
            Ok(asked) => chosen.extend(asked),
            Err(status) => return status,
        }
    }
    crate::app::setup::apply(&mut settings.profile, &chosen);
    let mut request = match InitRequest::from_settings(&settings) {
        Ok(request) => request,
        Err(message) => return usage(&message),
    };
    request.public = match flags.public.as_deref() {
        None => None,
        Some("") => match crate::aws::init::caller_address().await {
            Ok(address) => Some(address),
            Err(e) => {
                eprintln!("error: {e}; give the address yourself: --public ADDRESS");
                return code(exit::FAILED);
            }
        },
        Some(address) => match crate::net::single_address(address) {
            Some(cidr) => Some(cidr),
            None => return usage(&format!("--public: `{address}` is not one IP address (like 203.0.113.7)")),
        },
    };
    let (status, _) = crate::aws::connect(&settings.profile).await;
    if !matches!(status, crate::aws::AwsStatus::Ready { .. }) {
        eprintln!("error: init needs AWS credentials, and none were found");
        return code(exit::FAILED);
    }
    let clients = InitClients::new(&crate::aws::load_config(&settings.profile).await);
    if flags.destroy {
        return destroy(&settings, &clients, &request, &flags).await;
    }
    eprintln!("looking at what profile {} has on AWS…", request.profile);
    let plan = match init::plan(&clients, &request).await {
        Ok(plan) => plan,
        Err(e) => return failed(&e),
    };
    if flags.dry_run || plan.steps.is_empty() {
        if plan.steps.is_empty() {
            eprintln!("nothing missing: everything the profile needs is there");
        }
        return report(&plan.lines(), &serde_json::json!({ "plan": plan, "created": [] }), flags.json);
    }
    for line in plan.lines() {
        eprintln!("{line}");
    }
    if !flags.yes {
        return usage("init creates what is listed above; add --yes to go ahead (--dry-run only shows it)");
    }
    // Saved before anything is made: a run cut short is found again as this init's by the next.
    if let Err(message) = save(&settings, &request, &chosen) {
        eprintln!("error: {message}; nothing was created");
        return code(exit::FAILED);
    }
    match init::apply(&clients, &request, &plan, |line| eprintln!("{line}")).await {
        Ok(created) => {
            let mut lines: Vec<String> = created.iter().map(|c| format!("done: {c}")).collect();
            if plan.waits_for_image {
                lines.push("the service waits for an image: push one, then run wharf init again".into());
            }
            report(&lines, &serde_json::json!({ "plan": plan, "created": created }), flags.json)
        }
        Err(e) => failed(&e),
    }
}

/// The names given as flags, as settings.
fn given(flags: &InitFlags) -> Vec<Chosen> {
    [
        ("repository", &flags.repository),
        ("bucket", &flags.bucket),
        ("cluster", &flags.cluster),
        ("service", &flags.service),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.as_ref().map(|v| Chosen::new(key, v.trim())))
    .collect()
}

/// The repository and bucket the profile lacks, asked on a terminal (a name
/// offered for each); without a terminal, the usage error that says which flags.
async fn ask_missing(settings: &Settings, chosen: &[Chosen]) -> Result<Vec<Chosen>, ExitCode> {
    let has = |key: &str, set: &Option<String>| set.is_some() || chosen.iter().any(|c| c.key == key);
    let p = &settings.profile;
    let missing: Vec<&str> = [("repository", &p.repository), ("bucket", &p.bucket)]
        .into_iter()
        .filter(|(key, set)| !has(key, set))
        .map(|(key, _)| key)
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(usage(&format!(
            "init needs {} for profile {}: give {} (or run it on a terminal to be asked)",
            missing.join(" and "),
            settings.profile_name.as_deref().unwrap_or(crate::config::save::FIRST_PROFILE),
            missing.iter().map(|k| format!("--{k} NAME")).collect::<Vec<_>>().join(" ")
        )));
    }
    let here = std::env::current_dir()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().to_string()))
        .map(|n| name_like(&n))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "app".into());
    let images = local_repositories(settings).await;
    let mut asked = Vec::new();
    for key in missing {
        let (offered, hint) = match key {
            "repository" => {
                let hint = if images.is_empty() {
                    String::new()
                } else {
                    format!(" (local images: {})", images.join(", "))
                };
                (images.iter().find(|i| **i == here).cloned().unwrap_or_else(|| here.clone()), hint)
            }
            _ => (
                format!("{here}-wharf-{}", crate::snapshots::random_word(5)),
                " (bucket names are global: one of yours alone)".to_string(),
            ),
        };
        let what =
            if key == "repository" { "ECR repository for the images" } else { "S3 bucket for the snapshots" };
        eprint!("{what}{hint} [{offered}]: ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line).is_err() {
            return Err(usage("init: nothing could be read from the terminal"));
        }
        let name = line.trim();
        asked.push(Chosen::new(key, if name.is_empty() { offered } else { name.to_string() }));
    }
    Ok(asked)
}

/// `text` as an ECR repository or bucket name would have it: lowercase
/// letters, digits and `-`.
fn name_like(text: &str) -> String {
    let name: String =
        text.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    name.trim_matches('-').to_string()
}

/// The local images' repository names, to offer.
async fn local_repositories(settings: &Settings) -> Vec<String> {
    let Ok(engine) = crate::docker::Engine::connect(settings.docker_host.as_deref()).await else {
        return Vec::new();
    };
    let mut names: Vec<String> = engine
        .images()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.repository.rsplit('/').next().unwrap_or(&i.repository).to_string())
        .filter(|r| r != "<none>")
        .collect();
    names.sort();
    names.dedup();
    names.truncate(8);
    names
}

/// The names init was given and its new id, into the profile's file.
fn save(settings: &Settings, request: &InitRequest, chosen: &[Chosen]) -> Result<(), String> {
    let (file, profile) = crate::config::save::target(settings, &crate::config::Dirs::new());
    let mut all = chosen.to_vec();
    if request.new_id {
        all.push(Chosen::new("init_id", &request.init_id));
    }
    if all.is_empty() {
        return Ok(());
    }
    let edited = crate::config::save::prepare(&file, &profile, &all)?;
    crate::config::save::commit(&file, edited.before.as_deref(), &edited.after)?;
    eprintln!(
        "saved in {} (profile {profile}): {}",
        file.display(),
        all.iter().map(|c| c.key.as_str()).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

async fn destroy(
    settings: &Settings,
    clients: &InitClients,
    request: &InitRequest,
    flags: &InitFlags,
) -> ExitCode {
    let plan = match init::plan_destroy(clients, request, flags.include_data).await {
        Ok(plan) => plan,
        Err(e) => return failed(&e),
    };
    let mut lines: Vec<String> =
        plan.removals.iter().map(|r| format!("  {:<7} {}", format!("{}:", r.verb()), r.describe())).collect();
    lines.extend(plan.kept.iter().map(|k| format!("  keep:   {k}")));
    if flags.dry_run || plan.removals.is_empty() {
        if plan.removals.is_empty() {
            eprintln!("nothing to remove: nothing here is this init's alone (init id {})", request.init_id);
        }
        return report(&lines, &serde_json::json!({ "plan": plan, "removed": [] }), flags.json);
    }
    for line in &lines {
        eprintln!("{line}");
    }
    if settings.profile.protected && flags.confirm.as_deref() != Some(request.profile.as_str()) {
        return usage(&format!(
            "profile {} is protected: add --confirm {} (and --yes) to remove what is listed above",
            request.profile, request.profile
        ));
    }
    if !flags.yes {
        return usage("--destroy removes what is listed above; add --yes to go ahead");
    }
    let outcome = init::destroy(clients, request, &plan, |line| eprintln!("{line}")).await;
    let mut lines: Vec<String> = outcome.done.iter().map(|r| format!("done: {r}")).collect();
    lines.extend(outcome.left.iter().map(|r| format!("left: {r}")));
    if !outcome.left.is_empty() {
        lines.push("run `wharf init --destroy` again to finish".into());
    }
    let status = report(
        &lines,
        &serde_json::json!({ "plan": plan, "removed": outcome.done, "left": outcome.left }),
        flags.json,
    );
    if outcome.left.is_empty() { status } else { code(exit::FAILED) }
}

fn report(lines: &[String], json: &serde_json::Value, as_json: bool) -> ExitCode {
    if as_json {
        return print_json(json);
    }
    for line in lines {
        println!("{line}");
    }
    code(exit::OK)
}

fn failed(e: &crate::aws::AwsError) -> ExitCode {
    eprintln!("error: {e}");
    code(exit::FAILED)
}
