//! `process_*` metrics read from `/proc/self` at scrape time (Linux only; elsewhere none are
//! reported rather than wrong ones).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Linux reports process times in USER_HZ ticks, which is 100 on every architecture Linux
/// exports to user space (the kernel's own HZ is hidden behind it).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug)]
pub(crate) struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(sample) = ProcessSample::read() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(sample.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time spent, in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                sample.resident_bytes,
            ),
            ("process_open_fds", "Open file descriptors", sample.open_fds),
            ("process_threads", "OS threads", sample.threads),
            (
                "process_start_time_seconds",
                "Start time since the Unix epoch, in seconds",
                sample.start_time_seconds,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

#[derive(Debug, PartialEq)]
struct ProcessSample {
    cpu_seconds: f64,
    resident_bytes: i64,
    open_fds: i64,
    threads: i64,
    start_time_seconds: i64,
}

impl ProcessSample {
    fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let boot_time = std::fs::read_to_string("/proc/stat").ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count();
        Self::parse(&stat, &status, &boot_time, open_fds)
    }

    fn parse(stat: &str, status: &str, system_stat: &str, open_fds: usize) -> Option<Self> {
        // The command name (field 2) is in parentheses and may contain spaces; count from after it.
        let fields: Vec<&str> = stat
            .get(stat.rfind(')')? + 1..)?
            .split_whitespace()
            .collect();
        // `fields[0]` is field 3 (state), so field N is fields[N - 3] (proc(5)).
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        let (utime, stime, threads, start_ticks) = (field(14)?, field(15)?, field(20)?, field(22)?);
        let resident_kb: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()?;
        let boot_seconds: u64 = system_stat
            .lines()
            .find_map(|line| line.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        let start_seconds = boot_seconds + (start_ticks as f64 / TICKS_PER_SECOND) as u64;
        Some(Self {
            cpu_seconds: (utime + stime) as f64 / TICKS_PER_SECOND,
            resident_bytes: i64::try_from(resident_kb * 1024).ok()?,
            open_fds: i64::try_from(open_fds).ok()?,
            threads: i64::try_from(threads).ok()?,
            start_time_seconds: i64::try_from(start_seconds).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "4242 (sip bridge) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 7 0 123400 \
                    100000000 2000 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let status = "Name:\tsipbridge\nVmRSS:\t   8192 kB\nThreads:\t7\n";
        let system = "cpu  1 2 3\nbtime 1700000000\nprocesses 9\n";
        assert_eq!(
            ProcessSample::parse(stat, status, system, 12),
            Some(ProcessSample {
                cpu_seconds: 3.0,
                resident_bytes: 8192 * 1024,
                open_fds: 12,
                threads: 7,
                start_time_seconds: 1_700_001_234,
            })
        );
    }

    #[test]
    fn reads_this_process() {
        let sample = ProcessSample::read().expect("/proc/self is readable on Linux");
        assert!(sample.resident_bytes > 0 && sample.threads >= 1 && sample.open_fds >= 3);
    }
}
