//! The standard `process_*` series (resident and virtual memory, CPU seconds, open and allowed
//! file descriptors, start time), read from `/proc/self` at each scrape. On a system without
//! `/proc` the series are left out.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Linux reports process times in clock ticks of `USER_HZ`, fixed at 100 for user space.
const TICKS_PER_SEC: f64 = 100.0;

#[derive(Debug, Default)]
pub struct Process;

/// What `/proc` says of this process.
#[derive(Debug, Default, PartialEq)]
pub struct Sample {
    pub resident_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

impl Sample {
    pub fn read() -> Self {
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        let fields = stat.as_deref().map(stat_fields).unwrap_or_default();
        let field = |n: usize| fields.get(n).and_then(|f| f.parse::<u64>().ok());
        let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<u64>().ok())
        });
        Self {
            resident_bytes: status_kib("VmRSS:").map(|k| k * 1024),
            virtual_bytes: status_kib("VmSize:").map(|k| k * 1024),
            // utime and stime (fields 14 and 15 of proc(5), here after the command).
            cpu_seconds: field(11)
                .zip(field(12))
                .map(|(u, s)| (u + s) as f64 / TICKS_PER_SEC),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.count() as u64),
            max_fds: std::fs::read_to_string("/proc/self/limits")
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("Max open files"))
                        .and_then(|l| l.split_whitespace().nth(3))
                        .and_then(|v| v.parse().ok())
                }),
            // starttime (field 22), ticks after boot.
            start_time_seconds: boot_time
                .zip(field(19))
                .map(|(boot, ticks)| boot as f64 + ticks as f64 / TICKS_PER_SEC),
        }
    }
}

/// The fields of `/proc/self/stat` after `(comm)`, which may itself hold spaces and parentheses.
fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rfind(')')
        .map(|end| stat[end + 1..].split_whitespace().collect())
        .unwrap_or_default()
}

fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Collector for Process {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = Sample::read();
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                s.resident_bytes.map(|v| v as f64),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                s.virtual_bytes.map(|v| v as f64),
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                s.open_fds.map(|v| v as f64),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                s.max_fds.map(|v| v as f64),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds",
                s.start_time_seconds,
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(v) = value {
                ConstGauge::new(v).encode(encoder.encode_descriptor(
                    name,
                    help,
                    None,
                    MetricType::Gauge,
                )?)?;
            }
        }
        if let Some(cpu) = s.cpu_seconds {
            ConstCounter::new(cpu).encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                MetricType::Counter,
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_with_spaces_and_parentheses_does_not_shift_the_fields() {
        let stat = "42 (my (odd) cmd) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 12345 0";
        let fields = stat_fields(stat);
        assert_eq!(fields[0], "S");
        assert_eq!((fields[11], fields[12]), ("250", "50"));
        assert_eq!(fields[19], "12345");
    }

    #[test]
    fn this_process_is_read_from_proc() {
        let s = Sample::read();
        assert!(s.resident_bytes.is_some_and(|b| b > 1024 * 1024), "{s:?}");
        assert!(s.open_fds.is_some_and(|n| n >= 3), "{s:?}");
        assert!(
            s.max_fds.is_some_and(|n| n >= s.open_fds.unwrap_or(0)),
            "{s:?}"
        );
        assert!(s.cpu_seconds.is_some(), "{s:?}");
        assert!(s.start_time_seconds.is_some_and(|t| t > 1.6e9), "{s:?}");
    }
}
