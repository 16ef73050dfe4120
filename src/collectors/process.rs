//! The exporter's own process metrics under the standard `process_*` names, read from
//! `/proc/self` into a reused buffer (no PBS call).

use crate::exposition::Families;
use std::io::Read;

crate::families! {
    pub enum Family {
        Cpu => Counter "process_cpu_seconds_total" "Total user and system CPU time spent in seconds.",
        Resident => Gauge "process_resident_memory_bytes" "Resident memory size in bytes.",
        Virtual => Gauge "process_virtual_memory_bytes" "Virtual memory size in bytes.",
        StartTime => Gauge "process_start_time_seconds" "Start time of the process since unix epoch in seconds.",
        OpenFds => Gauge "process_open_fds" "Number of open file descriptors.",
        MaxFds => Gauge "process_max_fds" "Maximum number of open file descriptors.",
    }
}

/// Clock ticks per second of `/proc` times (`USER_HZ`, 100 on every Linux architecture).
const TICKS: f64 = 100.0;
/// Page size assumed for `/proc/self/stat`'s RSS in pages.
const PAGE: u64 = 4096;

/// Reads `/proc/self`, keeping its buffer between scrapes.
#[derive(Debug)]
pub struct ProcessStats {
    buf: Vec<u8>,
    /// Boot time from `/proc/stat`, read once.
    btime: Option<u64>,
}

impl Default for ProcessStats {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessStats {
    /// Reads the boot time once.
    pub fn new() -> Self {
        let mut buf = Vec::new();
        let btime = if read("/proc/stat", &mut buf) {
            String::from_utf8_lossy(&buf)
                .lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse().ok())
        } else {
            None
        };
        ProcessStats { buf, btime }
    }

    /// Writes the process families. Missing files (not Linux) write nothing.
    pub fn collect(&mut self, out: &mut Families) {
        if read("/proc/self/stat", &mut self.buf) {
            write_stat(&self.buf, self.btime, out);
        }
        if let Some(n) = open_fds() {
            out.sample(Family::OpenFds, &[], n);
        }
        if read("/proc/self/limits", &mut self.buf) {
            let text = String::from_utf8_lossy(&self.buf);
            if let Some(v) = text
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse::<u64>().ok())
            {
                out.sample(Family::MaxFds, &[], v);
            }
        }
    }
}

/// Open file descriptors. Linux 6.2+ reports their number as the size of `/proc/self/fd`, which
/// costs no allocation; older kernels report 0 and the directory is counted instead.
fn open_fds() -> Option<usize> {
    match std::fs::metadata("/proc/self/fd") {
        Ok(m) if m.len() > 0 => Some(m.len() as usize),
        Ok(_) => {
            // One of the entries is the directory handle itself.
            let dir = std::fs::read_dir("/proc/self/fd").ok()?;
            Some(dir.count().saturating_sub(1))
        }
        Err(_) => None,
    }
}

fn read(path: &str, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(buf))
        .is_ok()
}

/// Parses `/proc/self/stat` (fields after the parenthesised command name).
fn write_stat(stat: &[u8], btime: Option<u64>, out: &mut Families) {
    let Some(close) = stat.iter().rposition(|&b| b == b')') else {
        return;
    };
    let text = String::from_utf8_lossy(&stat[close + 1..]);
    // Field 3 (state) is the first after the name.
    let field = |n: usize| {
        text.split_whitespace()
            .nth(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
    };
    if let (Some(utime), Some(stime)) = (field(14), field(15)) {
        out.sample(Family::Cpu, &[], (utime + stime) as f64 / TICKS);
    }
    if let Some(vsize) = field(23) {
        out.sample(Family::Virtual, &[], vsize);
    }
    if let Some(rss) = field(24) {
        out.sample(Family::Resident, &[], rss * PAGE);
    }
    if let (Some(start), Some(btime)) = (field(22), btime) {
        out.sample(Family::StartTime, &[], btime as f64 + start as f64 / TICKS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_fds_counts_what_the_directory_lists() {
        let listed = std::fs::read_dir("/proc/self/fd").unwrap().count() - 1;
        let counted = open_fds().unwrap();
        // Other test threads may open or close files in between.
        assert!(counted.abs_diff(listed) <= 4, "{counted} vs {listed}");
        let extra: Vec<_> = (0..8)
            .map(|_| std::fs::File::open("/proc/self/stat").unwrap())
            .collect();
        assert!(open_fds().unwrap() >= counted + 8 - 4);
        drop(extra);
    }

    #[test]
    fn reads_this_process() {
        let mut f = Families::new(Family::TABLE);
        ProcessStats::new().collect(&mut f);
        let mut out = Vec::new();
        f.write_to(&mut out);
        let text = String::from_utf8(out).unwrap();
        let rss: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(rss > 100_000, "{text}");
        let start: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("process_start_time_seconds "))
            .unwrap()
            .parse()
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            start <= now + 1.0 && start > now - 86400.0,
            "{start} vs {now}"
        );
        assert!(text.contains("process_max_fds "));
    }
}
