//! `--compat natrontech`: natrontech/pbs-exporter's `pbs_*` families, exactly as it writes them
//! (names, HELP, label names, value semantics, Go's `%g` numbers, families and samples sorted),
//! so its Grafana dashboard and alert rules work unchanged. The collectors that already read
//! the data write these families too (no second PBS request); this module owns the table,
//! the number format, and the per-`backup-id` snapshot aggregate natrontech computes.
//!
//! Where natrontech fails (it aborts the scrape at the first error, crashes on a short
//! `loadavg`), our isolation applies: the compat families of the parts that worked are written.

use crate::exposition::Families;

crate::families! {
    // In natrontech's output order: sorted by name (load15 before load5).
    pub enum Family {
        Available => Gauge "pbs_available" "The available bytes of the underlying storage.",
        HostCpuUsage => Gauge "pbs_host_cpu_usage" "The CPU usage of the host.",
        HostDiskAvailable => Gauge "pbs_host_disk_available" "The available disk of the local root disk in bytes.",
        HostDiskTotal => Gauge "pbs_host_disk_total" "The total disk of the local root disk in bytes.",
        HostDiskUsed => Gauge "pbs_host_disk_used" "The used disk of the local root disk in bytes.",
        HostIoWait => Gauge "pbs_host_io_wait" "The io wait of the host.",
        HostLoad1 => Gauge "pbs_host_load1" "The load for 1 minute of the host.",
        HostLoad15 => Gauge "pbs_host_load15" "The load for 15 minutes of the host.",
        HostLoad5 => Gauge "pbs_host_load5" "The load for 5 minutes of the host.",
        HostMemoryFree => Gauge "pbs_host_memory_free" "The free memory of the host.",
        HostMemoryTotal => Gauge "pbs_host_memory_total" "The total memory of the host.",
        HostMemoryUsed => Gauge "pbs_host_memory_used" "The used memory of the host.",
        SubscriptionDue => Gauge "pbs_host_subscription_due_timestamp_seconds" "The subscription next due timestamp (unix seconds) of the host.",
        SubscriptionInfo => Gauge "pbs_host_subscription_info" "The subscription info of the host.",
        SubscriptionStatus => Gauge "pbs_host_subscription_status" "The subscription status of the host.",
        HostSwapFree => Gauge "pbs_host_swap_free" "The free swap of the host.",
        HostSwapTotal => Gauge "pbs_host_swap_total" "The total swap of the host.",
        HostSwapUsed => Gauge "pbs_host_swap_used" "The used swap of the host.",
        HostUptime => Gauge "pbs_host_uptime" "The uptime of the host.",
        Size => Gauge "pbs_size" "The size of the underlying storage in bytes.",
        SnapshotCount => Gauge "pbs_snapshot_count" "The total number of backups.",
        SnapshotVmCount => Gauge "pbs_snapshot_vm_count" "The total number of backups per VM.",
        SnapshotVmLastTimestamp => Gauge "pbs_snapshot_vm_last_timestamp" "The timestamp of the last backup of a VM.",
        SnapshotVmLastVerify => Gauge "pbs_snapshot_vm_last_verify" "The verify status of the last backup of a VM.",
        Up => Gauge "pbs_up" "Was the last query of PBS successful.",
        Used => Gauge "pbs_used" "The used bytes of the underlying storage.",
        Version => Gauge "pbs_version" "Version of the PBS installation.",
    }
}

/// The compat families of one scrape: samples sorted and numbers printed as natrontech does.
pub fn families() -> Families {
    Families::new_go_style(Family::TABLE)
}

/// Writes `v` as Go's `strconv.FormatFloat(v, 'g', -1, 64)` (what client_golang prints):
/// shortest round-trip digits, exponent form when the exponent is below -4 or at least 6
/// (`1.71729e+09`, `3e-05`), at least two exponent digits.
pub fn write_go_float(out: &mut Vec<u8>, v: f64) {
    use std::io::Write;
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
        return;
    }
    if v == 0.0 {
        out.push(b'0');
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.71729e9", "-3e-5".
    let mut sci = [0u8; 40];
    let mut cursor = std::io::Cursor::new(&mut sci[..]);
    let _ = write!(cursor, "{v:e}");
    let len = cursor.position() as usize;
    let sci = &sci[..len];
    let (neg, sci) = match sci.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, sci),
    };
    let e_at = sci.iter().position(|&b| b == b'e').unwrap_or(sci.len());
    let (mantissa, exp) = sci.split_at(e_at);
    let exp: i32 = std::str::from_utf8(exp.get(1..).unwrap_or(b"0"))
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    let digits: Vec<u8> = mantissa.iter().copied().filter(|b| *b != b'.').collect();
    if neg {
        out.push(b'-');
    }
    if !(-4..6).contains(&exp) {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if exp < 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
        out.extend_from_slice(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.extend_from_slice(&digits);
            out.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
        } else {
            out.extend_from_slice(&digits[..int_len]);
            out.push(b'.');
            out.extend_from_slice(&digits[int_len..]);
        }
    }
}

/// natrontech's aggregate of one `backup-id` in one namespace (`vm/100` and `ct/100` merge).
#[derive(Debug, Default)]
struct IdAgg {
    id: String,
    count: u64,
    /// Largest `backup-time`; the first element wins ties.
    newest: i64,
    /// `verification.state` of that newest element is exactly `ok`.
    newest_ok: bool,
    /// `comment` of the last element with this id, in array order.
    last_comment: String,
}

/// natrontech's per-namespace snapshot figures, fed one snapshot at a time as the list
/// streams in. Kept in a reused list; strings keep their capacity.
#[derive(Debug, Default)]
pub struct SnapshotIds {
    ids: Vec<IdAgg>,
    len: usize,
    /// Array elements seen (`pbs_snapshot_count`).
    count: u64,
}

impl SnapshotIds {
    /// Forgets the namespace, keeping capacity.
    pub fn clear(&mut self) {
        self.len = 0;
        self.count = 0;
    }

    /// Folds one snapshot in (`time` 0 when absent, as Go's zero value).
    pub fn add(&mut self, id: &str, time: i64, ok: bool, comment: &str) {
        self.count += 1;
        let found = match self.len.checked_sub(1) {
            Some(last) if self.ids[last].id == id => Some(last),
            _ => self.ids[..self.len].iter().position(|g| g.id == id),
        };
        let i = match found {
            Some(i) => i,
            None => {
                if self.len == self.ids.len() {
                    self.ids.push(IdAgg::default());
                }
                let g = &mut self.ids[self.len];
                g.id.clear();
                g.id.push_str(id);
                g.count = 0;
                g.newest = 0;
                g.newest_ok = false;
                self.len += 1;
                self.len - 1
            }
        };
        let g = &mut self.ids[i];
        g.count += 1;
        if g.count == 1 || time > g.newest {
            g.newest = time;
            g.newest_ok = ok;
        }
        g.last_comment.clear();
        g.last_comment.push_str(comment);
    }

    /// Writes the namespace's families. natrontech aborts when an id has no snapshot with a
    /// positive time; then the namespace's per-id series are left out (only the count stays).
    pub fn write(&self, out: &mut Families, store: &str, ns: &str) {
        let ds = [("datastore", store), ("namespace", ns)];
        out.sample(Family::SnapshotCount, &ds, self.count as f64);
        let ids = &self.ids[..self.len];
        if ids.iter().any(|g| g.newest <= 0) {
            return;
        }
        for g in ids {
            let set = out.labels(&[
                ("datastore", store),
                ("namespace", ns),
                ("vm_id", &g.id),
                ("vm_name", &g.last_comment),
            ]);
            out.sample_in(Family::SnapshotVmCount, set, g.count as f64);
            out.sample_in(Family::SnapshotVmLastTimestamp, set, g.newest as f64);
            out.sample_in(Family::SnapshotVmLastVerify, set, g.newest_ok);
        }
    }
}

/// The six subscription states natrontech always writes, sorted.
const SUBSCRIPTION_STATES: [&str; 6] = [
    "active",
    "expired",
    "invalid",
    "new",
    "notfound",
    "suspended",
];

/// Writes natrontech's subscription families. `productname` is `None` when PBS sent none
/// (natrontech then writes `unknown`); `due` is `nextduedate` as Unix seconds, 0 when PBS sent
/// none or an unparsable one.
pub fn write_subscription(out: &mut Families, status: &str, productname: Option<&str>, due: i64) {
    let product = productname.unwrap_or("unknown");
    out.sample(
        Family::SubscriptionInfo,
        &[("productname", product), ("status", status)],
        1.0,
    );
    out.sample(
        Family::SubscriptionDue,
        &[("productname", product)],
        due as f64,
    );
    for s in SUBSCRIPTION_STATES {
        out.sample(Family::SubscriptionStatus, &[("status", s)], s == status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(v: f64) -> String {
        let mut b = Vec::new();
        write_go_float(&mut b, v);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn floats_print_as_go_prints_them() {
        // The verified examples of natrontech-compat.md §9.
        for (v, want) in [
            (0.0, "0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (-0.0, "0"),
            (0.5, "0.5"),
            (0.0423, "0.0423"),
            (0.00003, "3e-05"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e-7, "1e-07"),
            (2.5e-300, "2.5e-300"),
            (100.0, "100"),
            (123456.0, "123456"),
            (864000.0, "864000"),
            (999999.0, "999999"),
            (1000000.0, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (65535.5, "65535.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1717290000.0, "1.71729e+09"),
            (1767139200.0, "1.7671392e+09"),
            (1099511627776.0, "1.099511627776e+12"),
            (9007199254740993.0, "9.007199254740992e+15"),
            (1e20, "1e+20"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(go(v), want, "{v:e}");
        }
    }

    #[test]
    fn ids_merge_types_and_take_the_last_comment_and_the_first_newest() {
        let mut ids = SnapshotIds::default();
        // natrontech-compat.md §11.10: a tie goes to the first element.
        ids.add("300", 100, true, "first-of-tie");
        ids.add("300", 100, false, "second-of-tie");
        ids.add("300", 50, false, "");
        let mut f = families();
        ids.write(&mut f, "store1", "");
        f.sort_samples();
        let mut out = Vec::new();
        f.write_to(&mut out);
        let t = String::from_utf8(out).unwrap();
        for line in [
            "pbs_snapshot_count{datastore=\"store1\",namespace=\"\"} 3\n",
            "pbs_snapshot_vm_count{datastore=\"store1\",namespace=\"\",vm_id=\"300\",vm_name=\"\"} 3\n",
            "pbs_snapshot_vm_last_timestamp{datastore=\"store1\",namespace=\"\",vm_id=\"300\",vm_name=\"\"} 100\n",
            "pbs_snapshot_vm_last_verify{datastore=\"store1\",namespace=\"\",vm_id=\"300\",vm_name=\"\"} 1\n",
        ] {
            assert!(t.contains(line), "{line}{t}");
        }
    }
}
