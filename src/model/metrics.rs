//! What the charts draw: a local container's readings from the engine, and
//! an ECS service's utilization from CloudWatch.

use std::collections::VecDeque;

/// One reading of a running container.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsSample {
    /// Unix seconds.
    pub at: i64,
    /// Of one core: 250 % is two and a half cores busy.
    pub cpu_percent: f64,
    /// Bytes in use, the page cache the kernel can take back left out.
    pub mem_used: u64,
    pub mem_limit: u64,
    /// Bytes received and sent since the container started, all networks.
    pub net_rx: u64,
    pub net_tx: u64,
}

impl StatsSample {
    pub fn mem_percent(&self) -> f64 {
        self.mem_used as f64 / self.mem_limit.max(1) as f64 * 100.0
    }
}

/// A container's readings of the last [`History::KEEP`] seconds, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    samples: VecDeque<StatsSample>,
}

impl History {
    /// Ten minutes: what the container's chart spans.
    pub const KEEP: i64 = 600;

    pub fn push(&mut self, sample: StatsSample) {
        self.samples.push_back(sample);
        while self.samples.front().is_some_and(|s| sample.at - s.at > Self::KEEP) {
            self.samples.pop_front();
        }
    }

    pub fn latest(&self) -> Option<&StatsSample> {
        self.samples.back()
    }

    /// The readings of the last `seconds` before the latest, oldest first.
    pub fn last(&self, seconds: i64) -> impl Iterator<Item = &StatsSample> {
        let end = self.latest().map_or(0, |s| s.at);
        self.samples.iter().filter(move |s| end - s.at < seconds)
    }
}

/// A service's average CPU and memory utilization, a point a minute
/// (Unix seconds, percent of what its tasks reserve), oldest first. Both
/// empty: CloudWatch has no data for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Utilization {
    pub cpu: Vec<(i64, f64)>,
    pub memory: Vec<(i64, f64)>,
}

impl Utilization {
    pub fn is_empty(&self) -> bool {
        self.cpu.is_empty() && self.memory.is_empty()
    }
}

/// Values as a line of block characters, one per value, scaled to `top`
/// (or to the largest value, when that is larger); a blank where there is
/// no reading, so that not looking is never drawn as 0 %.
pub fn bars(values: impl IntoIterator<Item = Option<f64>>, top: f64) -> String {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let values: Vec<Option<f64>> = values.into_iter().collect();
    let top = values.iter().flatten().copied().fold(top, f64::max).max(f64::EPSILON);
    values
        .iter()
        .map(|v| match v {
            Some(v) => {
                LEVELS
                    [((v.max(0.0) / top * (LEVELS.len() - 1) as f64).round() as usize).min(LEVELS.len() - 1)]
            }
            None => ' ',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(at: i64, cpu: f64) -> StatsSample {
        StatsSample { at, cpu_percent: cpu, mem_used: 0, mem_limit: 1, net_rx: 0, net_tx: 0 }
    }

    #[test]
    fn history_keeps_ten_minutes_and_gives_the_last_of_them() {
        let mut h = History::default();
        for t in 0..700 {
            h.push(at(t, t as f64));
        }
        assert_eq!(h.last(History::KEEP + 1).next().map(|s| s.at), Some(699 - 600));
        assert_eq!(h.last(60).count(), 60);
        assert_eq!(h.latest().map(|s| s.at), Some(699));
    }

    #[test]
    fn bars_scale_to_the_top_or_the_largest() {
        assert_eq!(bars([Some(0.0), Some(50.0), Some(100.0)], 100.0), "▁▅█");
        assert_eq!(bars([Some(0.0), Some(200.0)], 100.0), "▁█");
        assert_eq!(bars([None, Some(100.0)], 100.0), " █", "no reading is no bar, not 0 %");
        assert_eq!(bars([], 100.0), "");
    }
}
