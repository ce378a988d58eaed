//! The machine's CPU utilization, for `limits.max_cpu_utilization`: sampled from
//! `/proc/stat` once a second by a task of its own, read by every new call without a
//! system call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// The latest utilization, 0 to 1 (0 until the first second has passed, or where
/// `/proc/stat` cannot be read).
#[derive(Debug, Clone, Default)]
pub struct CpuLoad(Arc<AtomicU64>);

impl CpuLoad {
    /// Starts sampling; the task ends when every clone is dropped.
    pub fn start() -> Self {
        let load = Self::default();
        let shared = Arc::downgrade(&load.0);
        tokio::spawn(async move {
            let mut previous = read_times();
            loop {
                tokio::time::sleep(SAMPLE_EVERY).await;
                let Some(value) = shared.upgrade() else {
                    return;
                };
                let now = read_times();
                if let (Some(before), Some(after)) = (previous, now) {
                    value.store(utilization(before, after).to_bits(), Ordering::Relaxed);
                }
                previous = now;
            }
        });
        load
    }

    pub fn utilization(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// (busy, total) jiffies of all CPUs since boot.
fn read_times() -> Option<(u64, u64)> {
    parse_times(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// The aggregate `cpu` line: user nice system idle iowait irq softirq steal (proc(5)); idle
/// and iowait are the idle part. Guest time is already inside user and nice.
fn parse_times(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if fields.len() < 5 {
        return None;
    }
    let total: u64 = fields.iter().sum();
    let idle = fields[3] + fields[4];
    Some((total - idle, total))
}

fn utilization((busy_before, total_before): (u64, u64), (busy, total): (u64, u64)) -> f64 {
    let elapsed = total.saturating_sub(total_before);
    if elapsed == 0 {
        return 0.0;
    }
    busy.saturating_sub(busy_before) as f64 / elapsed as f64
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn utilization_is_busy_time_over_elapsed_time() {
        let before = parse_times("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n").unwrap();
        let after = parse_times("cpu  250 0 150 800 100 0 0 0 0 0\n").unwrap();
        assert_eq!(before, (200, 1000));
        assert_eq!(after, (400, 1300));
        assert!((utilization(before, after) - 200.0 / 300.0).abs() < 1e-9);
        assert_eq!(parse_times("cpu  x"), None);
        assert!(read_times().is_some(), "this machine has /proc/stat");
    }
}
