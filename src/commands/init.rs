//! `wharf init`: the plan first (what is there, what would be created), then,
//! with `--yes`, the creation; `--destroy` the other way round.

use std::process::ExitCode;

use super::snapshots::usage;
use super::{code, exit, print_json};
use crate::aws::init::InitClients;
use crate::config::Settings;
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
}

pub async fn init(settings: &Settings, flags: InitFlags) -> ExitCode {
    if settings.read_only && !flags.dry_run {
        return usage(
            "init creates (or removes) things on AWS, and --read-only is set (--dry-run still works)",
        );
    }
    let mut request = match InitRequest::from_settings(settings) {
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
        return destroy(settings, &clients, &request, &flags).await;
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
    match init::apply(&clients, &request, &plan, |line| eprintln!("{line}")).await {
        Ok(created) => {
            let mut lines: Vec<String> = created.iter().map(|c| format!("created {c}")).collect();
            if plan.waits_for_image {
                lines.push("the service waits for an image: push one, then run wharf init again".into());
            }
            report(&lines, &serde_json::json!({ "plan": plan, "created": created }), flags.json)
        }
        Err(e) => failed(&e),
    }
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
        plan.removals.iter().map(|r| format!("  remove: {}", r.describe())).collect();
    lines.extend(plan.kept.iter().map(|k| format!("  keep:   {k}")));
    if flags.dry_run || plan.removals.is_empty() {
        if plan.removals.is_empty() {
            eprintln!(
                "nothing to remove: nothing here was made by wharf init for profile {}",
                request.profile
            );
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
    match init::destroy(clients, &plan, |line| eprintln!("{line}")).await {
        Ok(removed) => {
            let lines: Vec<String> = removed.iter().map(|r| format!("removed {r}")).collect();
            report(&lines, &serde_json::json!({ "plan": plan, "removed": removed }), flags.json)
        }
        Err(e) => failed(&e),
    }
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
