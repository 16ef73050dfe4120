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
/// Page size when the system does not say (`/proc/self/auxv` unreadable).
const DEFAULT_PAGE: u64 = 4096;
/// `AT_PAGESZ`, the auxiliary vector entry holding the page size.
const AT_PAGESZ: u64 = 6;

/// Reads `/proc/self`, keeping its buffer between scrapes.
#[derive(Debug)]
pub struct ProcessStats {
    buf: Vec<u8>,
    /// Boot time from `/proc/stat`, read once.
    btime: Option<u64>,
    /// The kernel's page size (4, 16 or 64 KiB on arm64), from `/proc/self/auxv`, read once.
    page: u64,
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
        let page = if read("/proc/self/auxv", &mut buf) {
            page_size(&buf).unwrap_or(DEFAULT_PAGE)
        } else {
            DEFAULT_PAGE
        };
        ProcessStats { buf, btime, page }
    }

    /// Writes the process families. Missing files (not Linux) write nothing.
    pub fn collect(&mut self, out: &mut Families) {
        if read("/proc/self/stat", &mut self.buf) {
            write_stat(&self.buf, self.btime, self.page, out);
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

/// `AT_PAGESZ` from an auxiliary vector: (type, value) pairs of native-endian words.
fn page_size(auxv: &[u8]) -> Option<u64> {
    const WORD: usize = std::mem::size_of::<usize>();
    let word = |b: &[u8]| -> Option<u64> {
        let mut w = [0u8; WORD];
        w.copy_from_slice(b.get(..WORD)?);
        Some(usize::from_ne_bytes(w) as u64)
    };
    auxv.chunks_exact(2 * WORD)
        .find(|pair| word(pair) == Some(AT_PAGESZ))
        .and_then(|pair| word(&pair[WORD..]))
        .filter(|p| p.is_power_of_two() && *p >= 1024)
}

/// Parses `/proc/self/stat` (fields after the parenthesised command name); RSS is in pages of
/// `page` bytes.
fn write_stat(stat: &[u8], btime: Option<u64>, page: u64, out: &mut Families) {
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
        out.sample(Family::Resident, &[], rss.saturating_mul(page));
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

    fn auxv(pairs: &[(usize, usize)]) -> Vec<u8> {
        pairs
            .iter()
            .flat_map(|(t, v)| [t.to_ne_bytes(), v.to_ne_bytes()])
            .flatten()
            .collect()
    }

    #[test]
    fn the_page_size_comes_from_the_auxiliary_vector() {
        assert_eq!(
            page_size(&auxv(&[(33, 1), (6, 65536), (0, 0)])),
            Some(65536)
        );
        assert_eq!(page_size(&auxv(&[(6, 16384)])), Some(16384));
        assert_eq!(page_size(&auxv(&[(33, 6), (0, 0)])), None);
        assert_eq!(page_size(&auxv(&[(6, 3000)])), None);
        assert_eq!(page_size(&[6, 0, 0]), None);
        // This system's, as the kernel reports it.
        let own = std::fs::read("/proc/self/auxv").unwrap();
        assert!(page_size(&own).is_some());
        let mut f = Families::new(Family::TABLE);
        let stat = b"1 (x) S 0 0 0 0 0 0 0 0 0 0 1 1 0 0 0 0 1 0 5 100 3 0";
        write_stat(stat, None, 65536, &mut f);
        let mut out = Vec::new();
        f.write_to(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("process_resident_memory_bytes 196608\n"),
            "{text}"
        );
    }

    #[test]
    fn resident_memory_matches_the_kernels_figure() {
        let stats = ProcessStats::new();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let vm_rss_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .map(|v| v.trim().parse().unwrap())
            .unwrap();
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let pages: u64 = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .nth(21)
            .unwrap()
            .parse()
            .unwrap();
        let rss = pages * stats.page;
        // Both read moments apart; allow a little growth.
        assert!(
            rss.abs_diff(vm_rss_kib * 1024) < 4 << 20,
            "{rss} vs {vm_rss_kib} KiB"
        );
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
