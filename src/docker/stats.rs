//! A running container's CPU, memory and network, as `docker stats` reads
//! them: the engine's stats stream (one reading a second), turned into the
//! figures the Containers tab draws.

use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::StatsOptions;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Engine;
use crate::model::metrics::StatsSample;

/// Sends one sample a second for `container` until it stops, the engine goes
/// away, the receiver does, or `cancel` fires. Ends quietly: a container that
/// stopped simply has no newer sample.
pub async fn follow(
    engine: Engine,
    container: String,
    tx: mpsc::Sender<(String, StatsSample)>,
    cancel: CancellationToken,
) {
    let options = StatsOptions { stream: true, one_shot: false };
    let mut stream = engine.docker.stats(&container, Some(options));
    loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => return,
            next = stream.next() => next,
        };
        let Some(Ok(reading)) = next else { return };
        let Some(sample) = sample(&reading) else { continue };
        if tx.send((container.clone(), sample)).await.is_err() {
            return;
        }
    }
}

/// The figures of one reading, as the docker CLI computes them: CPU as the
/// share of the host's time since the reading before (100 % = one core busy),
/// memory without the page cache the kernel can take back. `None` for a
/// reading of a stopped container (no memory limit, no CPU time).
pub fn sample(r: &ContainerStatsResponse) -> Option<StatsSample> {
    let memory = r.memory_stats.as_ref()?;
    let limit = memory.limit.filter(|l| *l > 0)?;
    let usage = memory.usage.unwrap_or(0);
    let cache = memory
        .stats
        .as_ref()
        .and_then(|s| s.get("inactive_file").or_else(|| s.get("total_inactive_file")).copied())
        .unwrap_or(0);
    let cpu = |s: &Option<bollard::models::ContainerCpuStats>| {
        let s = s.as_ref()?;
        Some((s.cpu_usage.as_ref()?.total_usage?, s.system_cpu_usage?, s.online_cpus))
    };
    let cpu_percent = match (cpu(&r.cpu_stats), cpu(&r.precpu_stats)) {
        (Some((total, system, cpus)), Some((pre_total, pre_system, _))) if system > pre_system => {
            let cpus = f64::from(cpus.unwrap_or(1).max(1));
            total.saturating_sub(pre_total) as f64 / (system - pre_system) as f64 * cpus * 100.0
        }
        _ => 0.0,
    };
    let (rx, tx) = r
        .networks
        .iter()
        .flatten()
        .fold((0, 0), |(rx, tx), (_, n)| (rx + n.rx_bytes.unwrap_or(0), tx + n.tx_bytes.unwrap_or(0)));
    // The engine's reading time is a string in its own format; when it came is as good.
    let at = crate::time::unix_now();
    Some(StatsSample {
        at,
        cpu_percent,
        mem_used: usage.saturating_sub(cache),
        mem_limit: limit,
        net_rx: rx,
        net_tx: tx,
    })
}

/// The containers being followed: one stream each, started and stopped as
/// the set wanted changes.
#[derive(Debug, Default)]
pub struct Followers {
    running: std::collections::HashMap<String, CancellationToken>,
}

impl Followers {
    /// Follows exactly `wanted` (container ids) from now on.
    pub fn follow_only(
        &mut self,
        wanted: &[String],
        host: Option<&str>,
        tx: &mpsc::Sender<(String, StatsSample)>,
        stop: &CancellationToken,
    ) {
        self.running.retain(|id, cancel| {
            let keep = wanted.contains(id) && !cancel.is_cancelled();
            if !keep {
                cancel.cancel();
            }
            keep
        });
        for id in wanted {
            if self.running.contains_key(id) {
                continue;
            }
            let cancel = stop.child_token();
            self.running.insert(id.clone(), cancel.clone());
            let (host, tx, id) = (host.map(str::to_string), tx.clone(), id.clone());
            tokio::spawn(async move {
                if let Ok(engine) = Engine::connect(host.as_deref()).await {
                    follow(engine, id, tx, cancel.clone()).await;
                }
                // Ended by itself (the container stopped): asked for again it starts anew.
                cancel.cancel();
            });
        }
    }
}
