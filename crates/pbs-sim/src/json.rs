//! Writing the simulator's JSON bodies by hand into reused buffers: compact, keys sorted like
//! PBS's `serde_json::Value` output for normal endpoints, struct order for the streamed
//! snapshot list. Numbers are written without `format!` in the snapshot hot loop.

use super::changes::{Changes, GroupChange};
use super::model::{self, Profile};
use std::io::Write as _;

// ---------------------------------------------------------------------------------------------
// Primitives

/// Appends the decimal digits of `n`.
pub(crate) fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends the decimal digits of `n`, with a sign when negative.
pub(crate) fn push_i64(buf: &mut Vec<u8>, n: i64) {
    if n < 0 {
        buf.push(b'-');
    }
    push_u64(buf, n.unsigned_abs());
}

/// Appends `n` as uppercase hex, zero-padded to at least 8 digits (UPID style).
pub(crate) fn push_hex8(buf: &mut Vec<u8>, n: u64) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut tmp = [b'0'; 16];
    let mut i = tmp.len();
    let mut v = n;
    while v != 0 {
        i -= 1;
        tmp[i] = DIGITS[(v & 15) as usize];
        v >>= 4;
    }
    buf.extend_from_slice(&tmp[i.min(8)..]);
}

/// Appends `s` as a JSON string literal.
pub(crate) fn push_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                buf.extend_from_slice(&bytes[start..i]);
                let _ = write!(buf, "\\u{b:04x}");
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        buf.extend_from_slice(esc);
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

/// Appends `"key":`.
fn key(buf: &mut Vec<u8>, k: &str) {
    buf.push(b'"');
    buf.extend_from_slice(k.as_bytes());
    buf.extend_from_slice(b"\":");
}

/// Appends a float the way `serde_json` writes it (shortest round-trip form, `.0` on integral
/// values). Only for finite values of moderate magnitude.
fn push_f64(buf: &mut Vec<u8>, v: f64) {
    let start = buf.len();
    let _ = write!(buf, "{v}");
    if !buf[start..].contains(&b'.') {
        buf.extend_from_slice(b".0");
    }
}

/// Appends `units / 10^15` as a JSON float, the way `serde_json` writes it (`0.35`, `1.0`,
/// `0.397412536621094`): at most 15 decimals, so it parses exactly.
fn push_fraction(buf: &mut Vec<u8>, units: u64) {
    const SCALE: u64 = model::HISTORY_SCALE;
    push_u64(buf, units / SCALE);
    buf.push(b'.');
    let frac = units % SCALE;
    if frac == 0 {
        buf.push(b'0');
        return;
    }
    let mut digits = [0u8; 15];
    let mut f = frac;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (f % 10) as u8;
        f /= 10;
    }
    let len = digits.len() - digits.iter().rev().take_while(|&&d| d == b'0').count();
    buf.extend_from_slice(&digits[..len]);
}

/// Appends the backup id of group `g` as a JSON string.
fn push_backup_id(buf: &mut Vec<u8>, g: usize) {
    buf.push(b'"');
    if g % 3 == 2 {
        buf.extend_from_slice(b"srv");
        push_u64(buf, g as u64);
    } else {
        push_u64(buf, 100 + g as u64);
    }
    buf.push(b'"');
}

/// Appends the UPID of the verification task of snapshot `s`, unquoted. Its worker id
/// `store{d+1}:v-daily` is systemd-escaped (`\x3a`, `\x2d`); `json` doubles the backslashes
/// for use inside a JSON string.
pub(crate) fn push_verify_upid(
    buf: &mut Vec<u8>,
    d: usize,
    s: usize,
    backup_time: i64,
    json: bool,
) {
    buf.extend_from_slice(b"UPID:");
    buf.extend_from_slice(model::NODE.as_bytes());
    buf.extend_from_slice(b":0000045C:00000B1E:");
    push_hex8(buf, 0x100 + s as u64);
    buf.push(b':');
    push_hex8(buf, (backup_time + 3600) as u64);
    buf.extend_from_slice(b":verificationjob:store");
    push_u64(buf, d as u64 + 1);
    let bs: &[u8] = if json { b"\\\\" } else { b"\\" };
    buf.extend_from_slice(bs);
    buf.extend_from_slice(b"x3av");
    buf.extend_from_slice(bs);
    buf.extend_from_slice(b"x2ddaily:root@pam:");
}

// ---------------------------------------------------------------------------------------------
// Normal endpoints (keys sorted)

/// `/version`.
pub(crate) fn version(buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"{\"data\":{\"release\":");
    push_str(buf, model::RELEASE);
    buf.extend_from_slice(b",\"repoid\":");
    push_str(buf, model::REPOID);
    buf.extend_from_slice(b",\"version\":");
    push_str(buf, model::VERSION);
    buf.extend_from_slice(b"}}");
}

/// `/ping`.
pub(crate) fn ping(buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"{\"data\":{\"pong\":true}}");
}

fn triple(buf: &mut Vec<u8>, names: [&str; 3], values: [u64; 3]) {
    // `names` are given in sorted order, `values` in the same order.
    buf.push(b'{');
    for (i, (k, v)) in names.iter().zip(values).enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        key(buf, k);
        push_u64(buf, v);
    }
    buf.push(b'}');
}

/// `/nodes/{node}/subscription`; without `Sys.Audit` on `/`, PBS sends only the status, a
/// message and the URL.
pub(crate) fn subscription(buf: &mut Vec<u8>, no_sys_audit: bool) {
    buf.extend_from_slice(b"{\"data\":{");
    if no_sys_audit {
        buf.extend_from_slice(b"\"message\":\"subscription details need Sys.Audit on /\",");
    } else {
        buf.extend_from_slice(b"\"checktime\":");
        push_i64(buf, model::BASE - 3600);
        buf.extend_from_slice(b",\"key\":\"pbsb-0123456789\",\"level\":\"b\",\"nextduedate\":");
        push_str(buf, model::SUBSCRIPTION_DUE);
        buf.extend_from_slice(b",\"productname\":");
        push_str(buf, model::SUBSCRIPTION_PRODUCT);
        buf.extend_from_slice(b",\"regdate\":\"2026-01-31 00:00:00\",\"serverid\":\"7E2F8F1D0C5B4A39A1B2C3D4E5F60718\",");
    }
    buf.extend_from_slice(b"\"status\":");
    push_str(buf, model::SUBSCRIPTION_STATUS);
    buf.extend_from_slice(
        b",\"url\":\"https://www.proxmox.com/en/proxmox-backup-server/pricing\"}}",
    );
}

/// `/nodes/{node}/status`.
pub(crate) fn node_status(buf: &mut Vec<u8>, fingerprint: &str) {
    let n = &model::NODE_STATUS;
    buf.extend_from_slice(b"{\"data\":{\"boot-info\":{\"mode\":");
    push_str(buf, n.boot_mode);
    buf.extend_from_slice(b",\"secureboot\":");
    buf.extend_from_slice(if n.secureboot { b"true" } else { b"false" });
    buf.extend_from_slice(b"},\"cpu\":");
    push_f64(buf, n.cpu);
    buf.extend_from_slice(b",\"cpuinfo\":{\"cpus\":");
    push_u64(buf, n.cpus);
    buf.extend_from_slice(b",\"model\":");
    push_str(buf, n.cpu_model);
    buf.extend_from_slice(b",\"sockets\":");
    push_u64(buf, n.cpu_sockets);
    buf.extend_from_slice(b"},\"current-kernel\":{\"machine\":\"x86_64\",\"release\":");
    push_str(buf, n.kernel_release);
    buf.extend_from_slice(b",\"sysname\":\"Linux\",\"version\":");
    push_str(buf, n.kernel_version);
    buf.extend_from_slice(b"},\"info\":{\"fingerprint\":");
    push_str(buf, fingerprint);
    buf.extend_from_slice(b"},\"kversion\":");
    push_str(
        buf,
        &format!("Linux {} {}", n.kernel_release, n.kernel_version),
    );
    buf.extend_from_slice(b",\"loadavg\":[");
    for (i, v) in n.loadavg.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        push_f64(buf, *v);
    }
    buf.extend_from_slice(b"],\"memory\":");
    let [total, used, free] = n.memory;
    triple(buf, ["free", "total", "used"], [free, total, used]);
    buf.extend_from_slice(b",\"root\":");
    let [total, used, avail] = n.root;
    triple(buf, ["avail", "total", "used"], [avail, total, used]);
    buf.extend_from_slice(b",\"swap\":");
    let [total, used, free] = n.swap;
    triple(buf, ["free", "total", "used"], [free, total, used]);
    buf.extend_from_slice(b",\"uptime\":");
    push_u64(buf, n.uptime);
    buf.extend_from_slice(b",\"wait\":");
    push_f64(buf, n.wait);
    buf.extend_from_slice(b"}}");
}

/// How a datastore looks from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StoreState {
    Normal,
    Unmounted,
    Maintenance,
}

/// One `/status/datastore-usage` entry.
pub(crate) fn usage_entry(buf: &mut Vec<u8>, p: &Profile, d: usize, state: StoreState) {
    let name = model::store_name(d);
    let mount = if state == StoreState::Unmounted {
        "notmounted"
    } else {
        "nonremovable"
    };
    if state != StoreState::Normal {
        buf.extend_from_slice(b"{\"backend-type\":");
        push_str(buf, model::backend_type(p, d));
        buf.push(b',');
        if state == StoreState::Maintenance {
            key(buf, "error");
            push_str(buf, &model::maintenance_message(&name));
            buf.push(b',');
        }
        key(buf, "mount-status");
        push_str(buf, mount);
        buf.extend_from_slice(b",\"store\":");
        push_str(buf, &name);
        buf.push(b'}');
        return;
    }
    let u = model::usage(d);
    buf.extend_from_slice(b"{\"avail\":");
    push_u64(buf, u.avail);
    buf.extend_from_slice(b",\"backend-type\":");
    push_str(buf, model::backend_type(p, d));
    buf.extend_from_slice(b",\"estimated-full-date\":");
    push_i64(buf, u.estimated_full_date);
    buf.extend_from_slice(b",\"gc-status\":");
    gc_status(buf, p, d);
    buf.extend_from_slice(b",\"history\":[");
    for i in 0..model::HISTORY_LEN {
        if i > 0 {
            buf.push(b',');
        }
        match model::history_units(d, i) {
            Some(v) => push_fraction(buf, v),
            None => buf.extend_from_slice(b"null"),
        }
    }
    buf.extend_from_slice(b"],\"history-delta\":");
    push_u64(buf, u.history_delta);
    buf.extend_from_slice(b",\"history-start\":");
    push_u64(buf, u.history_start);
    buf.extend_from_slice(b",\"mount-status\":\"nonremovable\",\"store\":");
    push_str(buf, &name);
    buf.extend_from_slice(b",\"total\":");
    push_u64(buf, u.total);
    buf.extend_from_slice(b",\"used\":");
    push_u64(buf, u.used);
    buf.push(b'}');
}

/// The `gc-status` object of datastore `d`.
fn gc_status(buf: &mut Vec<u8>, p: &Profile, d: usize) {
    let gc = model::gc_status(p, d);
    buf.extend_from_slice(b"{\"cache-stats\":{\"hits\":");
    push_u64(buf, gc.cache_hits);
    buf.extend_from_slice(b",\"misses\":");
    push_u64(buf, gc.cache_misses);
    for (k, v) in [
        ("},\"disk-bytes\":", gc.disk_bytes),
        (",\"disk-chunks\":", gc.disk_chunks),
        (",\"index-data-bytes\":", gc.index_data_bytes),
        (",\"index-file-count\":", gc.index_file_count),
        (",\"pending-bytes\":", gc.pending_bytes),
        (",\"pending-chunks\":", gc.pending_chunks),
        (",\"removed-bad\":", gc.removed_bad),
        (",\"removed-bytes\":", gc.removed_bytes),
        (",\"removed-chunks\":", gc.removed_chunks),
        (",\"still-bad\":", gc.still_bad),
    ] {
        buf.extend_from_slice(k.as_bytes());
        push_u64(buf, v);
    }
    buf.extend_from_slice(b",\"upid\":");
    push_str(buf, &gc.upid);
    buf.push(b'}');
}

/// `/admin/datastore/{store}/status` of datastore `d`; `verbose` adds `counts` and
/// `gc-status`; S3-backed stores have `s3-statistics`.
pub(crate) fn datastore_status(buf: &mut Vec<u8>, p: &Profile, d: usize, verbose: bool) {
    let u = model::usage(d);
    buf.extend_from_slice(b"{\"data\":{\"avail\":");
    push_u64(buf, u.avail);
    buf.extend_from_slice(b",\"backend-type\":");
    push_str(buf, model::backend_type(p, d));
    if verbose {
        buf.extend_from_slice(b",\"counts\":{");
        let counts = model::type_counts(p);
        for (i, (t, c)) in ["ct", "host", "other", "vm"]
            .into_iter()
            .zip([counts[0], counts[1], None, counts[2]])
            .enumerate()
        {
            if i > 0 {
                buf.push(b',');
            }
            key(buf, t);
            match c {
                Some((groups, snapshots)) => {
                    buf.extend_from_slice(b"{\"groups\":");
                    push_u64(buf, groups);
                    buf.extend_from_slice(b",\"snapshots\":");
                    push_u64(buf, snapshots);
                    buf.push(b'}');
                }
                None => buf.extend_from_slice(b"null"),
            }
        }
        buf.extend_from_slice(b"},\"gc-status\":");
        gc_status(buf, p, d);
    }
    if model::is_s3(p, d) {
        let s3 = model::s3_statistics(d);
        let [get, put, post, head, delete] = s3.requests;
        for (k, v) in [
            (",\"s3-statistics\":{\"delete\":", delete),
            (",\"downloaded\":", s3.downloaded),
            (",\"get\":", get),
            (",\"head\":", head),
            (",\"post\":", post),
            (",\"put\":", put),
            (",\"uploaded\":", s3.uploaded),
        ] {
            buf.extend_from_slice(k.as_bytes());
            push_u64(buf, v);
        }
        buf.push(b'}');
    }
    buf.extend_from_slice(b",\"total\":");
    push_u64(buf, u.total);
    buf.extend_from_slice(b",\"used\":");
    push_u64(buf, u.used);
    buf.extend_from_slice(b"}}");
}

/// `/admin/datastore/{store}/active-operations` of datastore `d`.
pub(crate) fn active_operations(buf: &mut Vec<u8>, d: usize) {
    let (read, write) = model::active_operations(d);
    buf.extend_from_slice(b"{\"data\":{\"read\":");
    push_u64(buf, read);
    buf.extend_from_slice(b",\"write\":");
    push_u64(buf, write);
    buf.extend_from_slice(b"}}");
}

/// One `/admin/datastore` entry.
pub(crate) fn datastore_list_entry(buf: &mut Vec<u8>, p: &Profile, d: usize, state: StoreState) {
    buf.extend_from_slice(b"{\"backend-type\":");
    push_str(buf, model::backend_type(p, d));
    buf.extend_from_slice(b",\"comment\":null,");
    if state == StoreState::Maintenance {
        key(buf, "maintenance");
        push_str(buf, model::MAINTENANCE_PROPERTY);
        buf.push(b',');
    }
    key(buf, "mount-status");
    push_str(
        buf,
        if state == StoreState::Unmounted {
            "notmounted"
        } else {
            "nonremovable"
        },
    );
    buf.extend_from_slice(b",\"store\":");
    push_str(buf, &model::store_name(d));
    buf.push(b'}');
}

/// `/admin/datastore/{store}/namespace` for the given namespace indices.
pub(crate) fn namespaces(buf: &mut Vec<u8>, list: impl Iterator<Item = usize>) {
    buf.extend_from_slice(b"{\"data\":[");
    for (i, n) in list.enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(b"{\"ns\":");
        push_str(buf, &model::namespace_name(n));
        buf.push(b'}');
    }
    buf.extend_from_slice(b"]}");
}

/// `/admin/datastore/{store}/groups?ns=` for namespace `n` of datastore `d`, after `changes`.
pub(crate) fn groups(buf: &mut Vec<u8>, p: &Profile, d: usize, n: usize, changes: &Changes) {
    buf.extend_from_slice(b"{\"data\":[");
    let mut first = true;
    for g in 0..p.groups {
        let c = changes.group(d, n, g);
        if c.removed {
            continue;
        }
        if !first {
            buf.push(b',');
        }
        first = false;
        buf.extend_from_slice(b"{\"backup-count\":");
        push_u64(buf, c.backup_count(p));
        buf.extend_from_slice(b",\"backup-id\":");
        push_backup_id(buf, g);
        buf.extend_from_slice(b",\"backup-type\":");
        push_str(buf, model::backup_type(g));
        if let Some(c) = model::group_comment(g) {
            buf.extend_from_slice(b",\"comment\":");
            push_str(buf, &c);
        }
        buf.extend_from_slice(b",\"files\":[");
        if let Some(s) = c.newest_finished(p, g) {
            for (i, f) in model::snapshot_files(p, g, s).iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                push_str(buf, f.filename);
            }
        }
        buf.extend_from_slice(b"],\"last-backup\":");
        push_i64(buf, c.last_backup(p, d, n, g));
        buf.extend_from_slice(b",\"owner\":");
        push_str(buf, model::OWNER);
        buf.push(b'}');
    }
    buf.extend_from_slice(b"]}");
}

// ---------------------------------------------------------------------------------------------
// Snapshots (struct order)

/// Appends snapshot `s` of group `g` (as `change` left it) in struct field order. `time_shift`
/// moves the backup time back (used by the endless stream to keep items distinct).
pub(crate) fn snapshot_item(
    buf: &mut Vec<u8>,
    p: &Profile,
    (d, n, g, s): (usize, usize, usize, usize),
    time_shift: i64,
    change: &GroupChange,
) {
    let time = model::backup_time(p, d, n, g, s) - time_shift;
    buf.extend_from_slice(b"{\"backup-type\":\"");
    buf.extend_from_slice(model::backup_type(g).as_bytes());
    buf.extend_from_slice(b"\",\"backup-id\":");
    push_backup_id(buf, g);
    buf.extend_from_slice(b",\"backup-time\":");
    push_i64(buf, time);
    if let Some(comment) = change.comment.get(&s) {
        buf.extend_from_slice(b",\"comment\":");
        push_str(buf, comment);
    } else if g % 3 != 2 && !model::is_running(p, g, s) {
        // model::snapshot_comment, without allocating.
        if g % 5 == 4 {
            buf.extend_from_slice(b",\"comment\":");
            push_str(buf, model::TRICKY_COMMENT);
        } else {
            buf.extend_from_slice(b",\"comment\":\"guest-");
            push_u64(buf, 100 + g as u64);
            buf.push(b'"');
        }
    }
    if let Some(state) = change.verification(p, g, s) {
        buf.extend_from_slice(b",\"verification\":{\"upid\":\"");
        push_verify_upid(buf, d, s, time, true);
        buf.extend_from_slice(b"\",\"state\":\"");
        buf.extend_from_slice(state.as_str().as_bytes());
        buf.extend_from_slice(b"\"}");
    }
    buf.extend_from_slice(b",\"files\":[");
    for (i, f) in model::snapshot_files(p, g, s).iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(b"{\"filename\":\"");
        buf.extend_from_slice(f.filename.as_bytes());
        buf.push(b'"');
        if let Some(c) = f.crypt_mode {
            buf.extend_from_slice(b",\"crypt-mode\":\"");
            buf.extend_from_slice(c.as_bytes());
            buf.push(b'"');
        }
        if let Some(size) = f.size {
            buf.extend_from_slice(b",\"size\":");
            push_u64(buf, size);
        }
        buf.push(b'}');
    }
    buf.push(b']');
    if let Some(size) = model::snapshot_size(p, g, s) {
        buf.extend_from_slice(b",\"size\":");
        push_u64(buf, size);
    }
    buf.extend_from_slice(b",\"owner\":\"root@pam\",\"protected\":");
    buf.extend_from_slice(if change.protected(g, s) {
        b"true}"
    } else {
        b"false}"
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut b = Vec::new();
        f(&mut b);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn numbers() {
        assert_eq!(s(|b| push_u64(b, 0)), "0");
        assert_eq!(s(|b| push_u64(b, u64::MAX)), u64::MAX.to_string());
        assert_eq!(s(|b| push_i64(b, i64::MIN)), i64::MIN.to_string());
        assert_eq!(s(|b| push_hex8(b, 0x45c)), "0000045C");
        assert_eq!(s(|b| push_hex8(b, 0x1_2345_6789)), "123456789");
        let e = model::HISTORY_SCALE;
        assert_eq!(s(|b| push_fraction(b, e / 100 * 35)), "0.35");
        assert_eq!(s(|b| push_fraction(b, e)), "1.0");
        assert_eq!(
            s(|b| push_fraction(b, 397_412_536_621_094)),
            "0.397412536621094"
        );
        assert_eq!(s(|b| push_fraction(b, 5_000_000_000)), "0.000005");
        assert_eq!(s(|b| push_f64(b, 0.42)), "0.42");
        assert_eq!(s(|b| push_f64(b, 2.0)), "2.0");
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            s(|b| push_str(b, model::TRICKY_COMMENT)),
            r#""web \"prod\"\\ line""#
        );
        assert_eq!(s(|b| push_str(b, "a\nb\u{1}é")), "\"a\\nb\\u0001é\"");
    }
}
