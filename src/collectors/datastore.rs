//! Datastore collector: usage, estimated-full date, mount and maintenance state, availability
//! and the last garbage collection's figures of every datastore, from
//! `GET /status/datastore-usage` (one call for all) and `GET /admin/datastore` (maintenance).
//! The usage `history` array (~1440 numbers per datastore) is skipped while parsing. Then, per
//! readable datastore, its active operations and (S3-backed stores only) S3 counters
//! (`store_calls`).

use super::inventory::Datastore;
use super::{Ctx, Seen, set, store_calls};
use crate::exposition::Families;
use crate::json::{JsonError, JsonReader, Path, Reads, Scalar, Sink};
use crate::natrontech::Family as Compat;

crate::families! {
    pub enum Family {
        Total => Gauge "pbs_datastore_total_bytes" "Size of the datastore's filesystem (for S3 stores: of the local cache).",
        Used => Gauge "pbs_datastore_used_bytes" "Bytes used on the datastore's filesystem.",
        Available => Gauge "pbs_datastore_available_bytes" "Bytes available on the datastore's filesystem.",
        EstimatedFull => Gauge "pbs_datastore_estimated_full_timestamp_seconds" "When PBS expects the datastore to be full, from the last month's usage trend; absent when PBS has no sane estimate (too little data, flat or shrinking usage).",
        Up => Gauge "pbs_datastore_up" "1 when the datastore is usable now: no error, mounted, not in a maintenance mode other than read-only.",
        Info => Gauge "pbs_datastore_info" "Datastore facts as labels: mount status and backend type. Always 1.",
        Maintenance => Gauge "pbs_datastore_maintenance_mode" "The datastore's maintenance mode as a label (none, read-only, offline, ...). Always 1.",
        GcIndexData => Gauge "pbs_datastore_gc_index_data_bytes" "Logical bytes referenced by all backup indexes, at the last garbage collection.",
        GcDisk => Gauge "pbs_datastore_gc_disk_bytes" "Bytes of chunks on disk, at the last garbage collection.",
        GcDiskChunks => Gauge "pbs_datastore_gc_disk_chunks" "Chunks on disk, at the last garbage collection.",
        GcPending => Gauge "pbs_datastore_gc_pending_bytes" "Bytes the last garbage collection kept only because of the access-time safety window.",
        GcRemoved => Gauge "pbs_datastore_gc_removed_bytes" "Bytes the last garbage collection removed.",
        Dedup => Gauge "pbs_datastore_deduplication_ratio" "Deduplication factor: logical index data bytes per byte on disk, at the last garbage collection.",
        GcRemovedBad => Gauge "pbs_datastore_gc_removed_bad_chunks" "Corrupt chunks the last garbage collection removed (they were marked bad by a verify and are no longer referenced).",
        GcStillBad => Gauge "pbs_datastore_gc_still_bad_chunks" "Corrupt chunks still referenced at the last garbage collection: backups that use them cannot be restored.",
        ActiveOperations => Gauge "pbs_datastore_active_operations" "Operations running on the datastore now, by kind (read, write).",
        S3Uploaded => Counter "pbs_datastore_s3_uploaded_bytes_total" "Bytes uploaded to the S3 backend (S3-backed datastores only; PBS may reset it on its counter-reset schedule).",
        S3Downloaded => Counter "pbs_datastore_s3_downloaded_bytes_total" "Bytes downloaded from the S3 backend (S3-backed datastores only).",
        S3Requests => Counter "pbs_datastore_s3_requests_total" "Requests to the S3 backend by method (get, put, post, head, delete; S3-backed datastores only).",
    }
}

/// Estimates past this (year 3000) are PBS' saturated "never" and are left out.
const LATEST_SANE_ESTIMATE: i64 = 32_503_680_000;

/// One item of `/status/datastore-usage`.
#[derive(Default)]
struct Usage {
    store: String,
    mount_status: String,
    backend_type: String,
    error: bool,
    total: Option<u64>,
    used: Option<u64>,
    avail: Option<u64>,
    estimated_full: Option<i64>,
    gc: [Option<u64>; 7],
    /// `avail`, `total`, `used` as natrontech reads them (signed; 0 when absent).
    signed: [i64; 3],
}

/// `gc-status` fields read, in `Usage::gc` order, with their families.
const GC_FIELDS: [(&str, Family); 7] = [
    ("index-data-bytes", Family::GcIndexData),
    ("disk-bytes", Family::GcDisk),
    ("disk-chunks", Family::GcDiskChunks),
    ("pending-bytes", Family::GcPending),
    ("removed-bytes", Family::GcRemoved),
    ("removed-bad", Family::GcRemovedBad),
    ("still-bad", Family::GcStillBad),
];

/// What [`UsageSink`] reads of `/status/datastore-usage`: most of its bytes are each datastore's
/// `history`, skipped unread. Keys in the order PBS sends them (sorted), so that each is the
/// one the reader expects next (`json::KeyFilter`), found without a scan.
pub(crate) static USAGE_READS: Reads = Reads::Keys(&[(
    "data",
    Reads::Keys(&[
        ("avail", Reads::All),
        ("backend-type", Reads::All),
        ("error", Reads::All),
        ("estimated-full-date", Reads::All),
        (
            "gc-status",
            Reads::Keys(&[
                (GC_FIELDS[1].0, Reads::All),
                (GC_FIELDS[2].0, Reads::All),
                (GC_FIELDS[0].0, Reads::All),
                (GC_FIELDS[3].0, Reads::All),
                (GC_FIELDS[5].0, Reads::All),
                (GC_FIELDS[4].0, Reads::All),
                (GC_FIELDS[6].0, Reads::All),
            ]),
        ),
        ("mount-status", Reads::All),
        ("store", Reads::All),
        ("total", Reads::All),
        ("used", Reads::All),
    ]),
)]);

struct UsageSink<'a> {
    item: &'a mut Usage,
    seen: &'a mut Seen,
    out: &'a mut Families,
    stores: &'a [Datastore],
    compat: Option<&'a mut Families>,
}

impl Sink for UsageSink<'_> {
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        let it = &mut *self.item;
        if let Some(key) = path.item_key() {
            match key {
                "store" => set(&mut it.store, value.as_str().unwrap_or("")),
                "mount-status" => set(&mut it.mount_status, value.as_str().unwrap_or("")),
                "backend-type" => set(&mut it.backend_type, value.as_str().unwrap_or("")),
                "error" => it.error = value.as_str().is_some_and(|e| !e.is_empty()),
                "total" => {
                    it.total = value.as_u64();
                    it.signed[1] = value.as_i64().unwrap_or(0);
                }
                "used" => {
                    it.used = value.as_u64();
                    it.signed[2] = value.as_i64().unwrap_or(0);
                }
                "avail" => {
                    it.avail = value.as_u64();
                    it.signed[0] = value.as_i64().unwrap_or(0);
                }
                "estimated-full-date" => it.estimated_full = value.as_i64(),
                _ => {}
            }
        } else if path.len() == 4 && path.key(2) == Some("gc-status") && path.item_key_at(2) {
            if let Some(i) = GC_FIELDS.iter().position(|(k, _)| Some(*k) == path.key(3)) {
                it.gc[i] = value.as_u64();
            }
        }
    }

    fn reads(&self) -> &'static Reads {
        &USAGE_READS
    }

    fn close(&mut self, path: &Path<'_>) {
        if path.is_item() {
            if self.seen.first(&[&self.item.store]) {
                write_usage(self.out, self.item, self.stores);
                if let (Some(compat), false) = (&mut self.compat, self.item.store.is_empty()) {
                    // natrontech writes 0 for a datastore PBS lists with only an error.
                    let ds = [("datastore", self.item.store.as_str())];
                    for (family, v) in [Compat::Available, Compat::Size, Compat::Used]
                        .into_iter()
                        .zip(self.item.signed)
                    {
                        compat.sample(family, &ds, v);
                    }
                }
            }
            self.item.reset();
        }
    }
}

impl Usage {
    /// Forgets the fields, keeping the strings' capacity.
    fn reset(&mut self) {
        self.store.clear();
        self.mount_status.clear();
        self.backend_type.clear();
        self.error = false;
        self.total = None;
        self.used = None;
        self.avail = None;
        self.estimated_full = None;
        self.gc = [None; 7];
        self.signed = [0; 3];
    }
}

fn write_usage(out: &mut Families, it: &Usage, stores: &[Datastore]) {
    if it.store.is_empty() {
        return;
    }
    let ds = [("datastore", it.store.as_str())];
    for (family, v) in [
        (Family::Total, it.total),
        (Family::Used, it.used),
        (Family::Available, it.avail),
    ] {
        if let Some(v) = v {
            out.sample(family, &ds, v);
        }
    }
    if let Some(t) = it
        .estimated_full
        .filter(|t| (1..=LATEST_SANE_ESTIMATE).contains(t))
    {
        out.sample(Family::EstimatedFull, &ds, t);
    }
    let listed = stores
        .binary_search_by(|s| s.name.as_str().cmp(&it.store))
        .ok()
        .map(|i| &stores[i]);
    let maintenance = listed.map_or("", |s| s.maintenance.as_str());
    let readable_mode = maintenance.is_empty() || maintenance == "read-only";
    let up = !it.error && it.mount_status != "notmounted" && readable_mode;
    out.sample(Family::Up, &ds, up);
    let mount = if it.mount_status.is_empty() {
        "unknown"
    } else {
        &it.mount_status
    };
    let backend = if it.backend_type.is_empty() {
        "filesystem"
    } else {
        &it.backend_type
    };
    out.sample(
        Family::Info,
        &[
            ("datastore", &it.store),
            ("mount_status", mount),
            ("backend_type", backend),
        ],
        1u64,
    );
    if listed.is_some() {
        let mode = if maintenance.is_empty() {
            "none"
        } else {
            maintenance
        };
        out.sample(
            Family::Maintenance,
            &[("datastore", &it.store), ("mode", mode)],
            1u64,
        );
    }
    for ((_, family), v) in GC_FIELDS.iter().zip(it.gc) {
        if let Some(v) = v {
            out.sample(*family, &ds, v);
        }
    }
    if let (Some(index), Some(disk)) = (it.gc[0], it.gc[1]) {
        if disk > 0 {
            out.sample(Family::Dedup, &ds, index as f64 / disk as f64);
        }
    }
}

/// What the datastore collector keeps between scrapes: the usage item being read, the
/// datastores already written, and the per-datastore calls' state.
#[derive(Default)]
pub struct State {
    usage: Usage,
    seen: Seen,
    calls: store_calls::State,
}

/// Nothing is carried to the next scrape.
impl super::IdleState for State {}

/// Reads the datastore list (for maintenance modes) and the usage of every datastore.
pub async fn collect(ctx: &mut Ctx<'_>, state: &mut State, out: &mut Families) {
    let stores = match ctx.inventory.datastores(ctx.client, ctx.deadline).await {
        Ok(s) => s,
        Err(e) => {
            // Usage is still worth exporting; only the maintenance modes are missing.
            ctx.errors.push(e);
            &[]
        }
    };
    state.usage.reset();
    state.seen.clear();
    let mut sink = UsageSink {
        item: &mut state.usage,
        seen: &mut state.seen,
        out,
        stores,
        compat: ctx.compat.as_deref_mut(),
    };
    if let Err(e) = ctx
        .client
        .get_json("/status/datastore-usage", &mut sink, ctx.deadline)
        .await
    {
        ctx.errors.push(format!("reading datastore usage: {e}"));
    }
    for store in stores.iter().filter(|s| s.readable()) {
        store_calls::collect(
            ctx.client,
            ctx.deadline,
            ctx.errors,
            &mut state.calls,
            store,
            out,
        )
        .await;
    }
}

/// Writes the datastore families from a `/status/datastore-usage` body given in pieces, with
/// no maintenance information (fuzzing, benchmarks).
pub fn from_json<'p>(
    pieces: impl IntoIterator<Item = &'p [u8]>,
    out: &mut Families,
) -> Result<(), JsonError> {
    let mut item = Usage::default();
    let mut seen = Seen::default();
    let mut sink = UsageSink {
        item: &mut item,
        seen: &mut seen,
        out,
        stores: &[],
        compat: None,
    };
    JsonReader::new().read_pieces(pieces, &mut sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(body: &[u8]) -> String {
        let mut f = Families::new(Family::TABLE);
        from_json([body], &mut f).unwrap();
        let mut out = Vec::new();
        f.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_repeated_datastore_writes_no_duplicate_series() {
        let t = text(br#"{"data":[{"store":"a","total":1},{"store":"a","total":2}]}"#);
        assert_eq!(t.matches("pbs_datastore_total_bytes{").count(), 1, "{t}");
    }

    #[test]
    fn insane_full_estimates_are_left_out_and_sane_ones_kept() {
        for (estimate, kept) in [
            ("0", false),
            ("-86400", false),
            ("9223372036854775807", false),
            ("1790000000", true),
        ] {
            let body = format!(r#"{{"data":[{{"store":"a","estimated-full-date":{estimate}}}]}}"#);
            let t = text(body.as_bytes());
            assert_eq!(
                t.contains("pbs_datastore_estimated_full_timestamp_seconds{"),
                kept,
                "{estimate}: {t}"
            );
        }
    }

    #[test]
    fn pbs_before_3_1_3_sends_minus_one_which_costs_only_those_samples() {
        let t = text(br#"{"data":[{"store":"old","total":-1,"used":-1,"avail":-1,"gc-status":{"disk-bytes":10,"index-data-bytes":40}}]}"#);
        assert!(!t.contains("pbs_datastore_total_bytes{"), "{t}");
        assert!(t.contains("pbs_datastore_up{datastore=\"old\"} 1\n"), "{t}");
        assert!(t.contains("pbs_datastore_info{datastore=\"old\",mount_status=\"unknown\",backend_type=\"filesystem\"} 1\n"), "{t}");
        assert!(
            t.contains("pbs_datastore_deduplication_ratio{datastore=\"old\"} 4\n"),
            "{t}"
        );
    }

    #[test]
    fn the_real_fixture_parses() {
        // Pretty-printed, 4 stores: normal, removable not mounted, S3, offline maintenance.
        let body = include_bytes!("../../tests/fixtures/datastore-usage.json");
        let t = text(body);
        for line in [
            "pbs_datastore_total_bytes{datastore=\"store1\"} 7696581394432",
            "pbs_datastore_used_bytes{datastore=\"store1\"} 3058720366592",
            "pbs_datastore_available_bytes{datastore=\"store1\"} 4637861027840",
            "pbs_datastore_estimated_full_timestamp_seconds{datastore=\"store1\"} 1828413392",
            "pbs_datastore_gc_index_data_bytes{datastore=\"store1\"} 76470284992512",
            "pbs_datastore_gc_disk_bytes{datastore=\"store1\"} 2987443921408",
            "pbs_datastore_gc_disk_chunks{datastore=\"store1\"} 1203456",
            "pbs_datastore_gc_pending_bytes{datastore=\"store1\"} 5368709120",
            "pbs_datastore_gc_removed_bytes{datastore=\"store1\"} 41234567890",
            "pbs_datastore_up{datastore=\"store1\"} 1",
            "pbs_datastore_up{datastore=\"offsite-usb\"} 0",
            "pbs_datastore_info{datastore=\"offsite-usb\",mount_status=\"notmounted\",backend_type=\"filesystem\"} 1",
            "pbs_datastore_info{datastore=\"s3-archive\",mount_status=\"nonremovable\",backend_type=\"s3\"} 1",
            "pbs_datastore_up{datastore=\"scratch\"} 0",
        ] {
            assert!(t.contains(&format!("{line}\n")), "missing {line}");
        }
        let dedup = 76470284992512.0 / 2987443921408.0;
        assert!(t.contains(&format!(
            "pbs_datastore_deduplication_ratio{{datastore=\"store1\"}} {dedup}\n"
        )));
        assert!(!t.contains("pbs_datastore_total_bytes{datastore=\"scratch\"}"));
    }
}
