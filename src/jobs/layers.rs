//! Per-layer progress of a push or a pull, from the engine's progress lines.

use std::collections::BTreeMap;

use super::Progress;
use crate::docker::TransferEvent;

/// How far one layer has got.
#[derive(Debug, Clone, Default)]
struct Layer {
    status: String,
    current: u64,
    total: Option<u64>,
}

/// The layers of one transfer.
#[derive(Debug, Default)]
pub struct Layers {
    layers: BTreeMap<String, Layer>,
}

/// Statuses after which a layer has nothing left to move.
const FINISHED: [&str; 6] =
    ["Pushed", "Layer already exists", "Download complete", "Pull complete", "Already exists", "Mounted"];
/// Statuses whose byte counts are the layer's transfer.
const MOVING: [&str; 2] = ["Pushing", "Downloading"];

fn finished(status: &str) -> bool {
    FINISHED.iter().any(|f| status.starts_with(f))
}

impl Layers {
    /// Takes in one progress line; `false` when it is not about a layer.
    pub fn update(&mut self, event: &TransferEvent, reference: &str) -> bool {
        let Some(id) = event.layer.as_ref().filter(|id| id.len() >= 12 && id.as_str() != reference) else {
            return false;
        };
        if event.status.starts_with("Pulling from") {
            return false;
        }
        let layer = self.layers.entry(id.clone()).or_default();
        // A layer that finished downloading is still extracted: it stays finished.
        if !finished(&layer.status) || finished(&event.status) {
            layer.status = event.status.clone();
        }
        if MOVING.contains(&event.status.as_str()) {
            if let Some(total) = event.total {
                layer.total = Some(total);
            }
            // The engine counts bytes sent against the layer's size; the two can differ a little.
            let current = event.current.unwrap_or(layer.current);
            layer.current = layer.total.map_or(current, |t| current.min(t));
        } else if finished(&layer.status) {
            layer.current = layer.total.unwrap_or(layer.current);
        }
        true
    }

    /// The transfer as a whole: bytes over all layers, and a line per layer.
    pub fn progress(&self, verb: &str) -> Progress {
        let done: u64 = self.layers.values().map(|l| l.current).sum();
        let total: u64 = self.layers.values().map(|l| l.total.unwrap_or(l.current)).sum();
        let count = self.layers.values().filter(|l| finished(&l.status)).count();
        let detail = self
            .layers
            .iter()
            .map(|(id, l)| match l.total {
                Some(t) if MOVING.contains(&l.status.as_str()) => format!(
                    "{} {} {} / {}",
                    &id[..12.min(id.len())],
                    l.status,
                    crate::format::bytes(l.current),
                    crate::format::bytes(t)
                ),
                _ => format!("{} {}", &id[..12.min(id.len())], l.status),
            })
            .collect();
        Progress {
            stage: format!("{verb}: {count}/{} layers done", self.layers.len()),
            done,
            total: (total > 0).then_some(total),
            bytes: true,
            detail,
        }
    }
}

/// Why the engine stopped a transfer: the registry refused the credentials,
/// could not be reached, or said no.
pub enum Refusal {
    Denied(String),
    Unreachable(String),
    Other(String),
}

impl Refusal {
    pub fn of(error: String) -> Refusal {
        let lower = error.to_lowercase();
        let denied = ["denied", "unauthorized", "authentication required"];
        let unreachable = ["connection refused", "no such host", "i/o timeout", "dial tcp"];
        if denied.iter().any(|d| lower.contains(d)) {
            Refusal::Denied(error)
        } else if unreachable.iter().any(|u| lower.contains(u)) {
            Refusal::Unreachable(error)
        } else {
            Refusal::Other(error)
        }
    }
}
