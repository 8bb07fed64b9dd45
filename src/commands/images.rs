//! `wharf images`: the Images pane as a table or JSON.

use std::process::ExitCode;

use super::{code, exit};
use crate::config::Settings;
use crate::docker::Engine;
use crate::format;

pub async fn images(settings: &Settings, json: bool, containers: bool) -> ExitCode {
    let engine = match Engine::connect(settings.docker_host.as_deref()).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return code(exit::FAILED);
        }
    };
    let now = crate::app::Clock::now().wall;
    let result = if containers {
        engine.containers().await.map(|list| {
            if json {
                serde_json::to_string_pretty(&list).unwrap_or_default()
            } else {
                let mut out = format!("{:<24} {:<32} {:<10} {}\n", "NAME", "IMAGE", "STATE", "STATUS");
                for c in list {
                    out.push_str(&format!("{:<24} {:<32} {:<10} {}\n", c.name, c.image, c.state, c.status));
                }
                out
            }
        })
    } else {
        engine.images().await.map(|list| {
            if json {
                serde_json::to_string_pretty(&list).unwrap_or_default()
            } else {
                let mut out = format!("{:<48} {:<12} {:>10} {:>4}\n", "REPOSITORY:TAG", "ID", "SIZE", "AGE");
                for i in list {
                    out.push_str(&format!(
                        "{:<48} {:<12} {:>10} {:>4}\n",
                        i.reference(),
                        i.short_id(),
                        format::bytes(i.size),
                        format::age(i.created, now)
                    ));
                }
                out
            }
        })
    };
    match result {
        Ok(text) => {
            println!("{}", text.trim_end());
            code(exit::OK)
        }
        Err(e) => {
            eprintln!("error: {e}");
            code(exit::FAILED)
        }
    }
}
