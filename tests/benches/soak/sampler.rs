//! Every 10 s of the soak: the bridge's resident memory and open file descriptors (this
//! process's: the bridge runs in it, and the harness around it keeps a constant share),
//! calls up, and RTP packets each way from the bridge's metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub(crate) const PERIOD: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    pub(crate) at: Duration,
    pub(crate) rss_kib: u64,
    pub(crate) fds: usize,
    pub(crate) active_calls: f64,
    pub(crate) packets_from_phones: f64,
    pub(crate) packets_to_phones: f64,
}

/// Samples in a thread of its own until [`Sampler::stop`].
#[derive(Debug)]
pub(crate) struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Sample>>,
}

impl Sampler {
    pub(crate) fn start(metrics_url: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut samples = Vec::new();
            let mut next = started;
            while !stopping.load(Ordering::SeqCst) {
                if Instant::now() >= next {
                    samples.push(sample(started.elapsed(), &metrics_url));
                    next += PERIOD;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            samples
        });
        Self { stop, thread }
    }

    pub(crate) fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

fn sample(at: Duration, metrics_url: &str) -> Sample {
    let metrics = std::process::Command::new("curl")
        .args(["-sf", metrics_url])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    let value = |name: &str| {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    Sample {
        at,
        rss_kib: rss_kib(),
        fds: std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count),
        active_calls: value("sipbridge_active_calls "),
        packets_from_phones: value("sipbridge_rtp_packets_total{direction=\"from_phone\"}"),
        packets_to_phones: value("sipbridge_rtp_packets_total{direction=\"to_phone\"}"),
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// The least-squares slope of RSS over time, in KiB per hour, of the samples of the steady
/// window: after `warm_up` (while calls ramp up, memory grows for reasons that do not
/// repeat) and until `steady_end` (when the last calls are placed, the load winds down).
pub(crate) fn rss_slope_kib_per_hour(
    samples: &[Sample],
    warm_up: Duration,
    steady_end: Duration,
) -> Option<f64> {
    let points: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.at >= warm_up && s.at <= steady_end)
        .map(|s| (s.at.as_secs_f64() / 3600.0, s.rss_kib as f64))
        .collect();
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let covariance: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let variance: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    (variance > 0.0).then(|| covariance / variance)
}
