//! The endpoint extractors, fed through `JsonReader` exactly as the collectors feed them.
//!
//! Input: byte 0 picks the endpoint and the datastore/namespace label values: below 20, `% 5`
//! node, datastore, groups, snapshots, inventory and `/ 5` the names; from 20 on, `k = b - 20`,
//! `5 + k % 6` tape drives, tape changers, tape media, active operations, S3 statistics,
//! snapshots with a history of 3, and `k / 6` the names. Byte 1 is the split size, the rest
//! the body.
//!
//! Asserts:
//! * result and rendered output are identical whatever the split size, and rendering a chunk
//!   at a time (`Families::render`, as the server does) joins to the same text as `write_to`;
//! * on success the output is valid exposition: `# HELP`, `# TYPE`, then samples of that family
//!   only, each family one contiguous block, every sample line parses back (strict parser in
//!   `pbs_exporter_fuzz::expo`), label values unescape to valid UTF-8, no series twice;
//! * per endpoint: the datastore/namespace labels are the ones given, free-text labels are at
//!   most 256 bytes, `groups::from_json`'s count matches the `pbs_group_info` samples, the
//!   snapshot datastore counts are exactly none/ok/failed, the node info sample is there once;
//! * the extractors' skip path: with `json::walker::read_everything(true)` (every key read, none
//!   skipped) the result and the output are exactly the same, truncated and malformed bodies
//!   included (so each sink's `Reads` covers everything it acts on);
//! * `Inventory::list_from_json` returns names sorted, unique and non-empty, and an inventory
//!   reused after another list gives the same result as a fresh one;
//! * tape: every drive/changer has a non-empty name, media labels are within the documented
//!   status and location sets, each pool has one expired count; per-datastore calls carry the
//!   datastore given; snapshot history: `backup_time` is an integer and no group has more than
//!   3 per-snapshot series.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbs_exporter::collectors::inventory::Inventory;
use pbs_exporter::collectors::store_calls::{self, Call};
use pbs_exporter::collectors::tape::{self, List};
use pbs_exporter::collectors::{datastore, groups, node, snapshots};
use pbs_exporter::exposition::{Cursor, Families, FamilyDesc};
use pbs_exporter::json::JsonError;
use pbs_exporter_fuzz::expo::{self, Sample};
use pbs_exporter_fuzz::split_size;

/// (datastore, namespace) label values the body is read under.
const NAMES: [(&str, &str); 4] = [
    ("store1", ""),
    ("backup", "prod/vm"),
    ("a\"b\\c\nd", "ns\"\n\\"),
    ("é€😀", "x\\n"),
];

/// The snapshot history depth of endpoint 10.
const HISTORY: usize = 3;

#[derive(Debug, PartialEq)]
enum Out {
    /// Rendered families (also on error: what was written before it), result, extra count.
    Expo(Vec<u8>, Result<u64, JsonError>),
    /// (name, mount status, maintenance) of every datastore listed.
    List(Result<Vec<(String, String, String)>, JsonError>),
}

fn run<'p>(
    endpoint: u8,
    (store, ns): (&str, &str),
    pieces: impl IntoIterator<Item = &'p [u8]>,
    inv: &mut Inventory,
) -> Out {
    let mut pieces = Some(pieces);
    let mut take = || pieces.take().unwrap();
    match endpoint {
        0 => expo(node::Family::TABLE, &mut |f| node::from_json(take(), f).map(|_| 0)),
        1 => expo(datastore::Family::TABLE, &mut |f| {
            datastore::from_json(take(), f).map(|_| 0)
        }),
        2 => expo(groups::Family::TABLE, &mut |f| {
            groups::from_json(store, ns, take(), f)
        }),
        3 => expo(snapshots::Family::TABLE, &mut |f| {
            snapshots::from_json(store, ns, 0, take(), f).map(|_| 0)
        }),
        5 => expo(tape::Family::TABLE, &mut |f| tape::from_json(List::Drives, take(), f).map(|_| 0)),
        6 => expo(tape::Family::TABLE, &mut |f| {
            tape::from_json(List::Changers, take(), f).map(|_| 0)
        }),
        7 => expo(tape::Family::TABLE, &mut |f| tape::from_json(List::Media, take(), f).map(|_| 0)),
        8 => expo(datastore::Family::TABLE, &mut |f| {
            store_calls::from_json(Call::ActiveOperations, store, take(), f).map(|_| 0)
        }),
        9 => expo(datastore::Family::TABLE, &mut |f| {
            store_calls::from_json(Call::S3Statistics, store, take(), f).map(|_| 0)
        }),
        10 => expo(snapshots::Family::TABLE, &mut |f| {
            snapshots::from_json(store, ns, HISTORY, take(), f).map(|_| 0)
        }),
        _ => Out::List(inv.list_from_json(take()).map(|list| {
            list.iter()
                .map(|d| {
                    (
                        d.name.clone(),
                        d.mount_status.clone(),
                        d.maintenance.clone(),
                    )
                })
                .collect()
        })),
    }
}

fn expo(
    table: &'static [FamilyDesc],
    f: &mut dyn FnMut(&mut Families) -> Result<u64, JsonError>,
) -> Out {
    let mut fam = Families::new(table);
    let r = f(&mut fam);
    let mut out = Vec::new();
    fam.write_to(&mut out);
    // The server renders a chunk at a time: the chunks must join to the same text, each call
    // stopping soon after the limit and every call but the last making progress.
    let limit = RENDER_LIMIT.with(|l| l.get());
    let mut cursor = Cursor::default();
    let mut joined = Vec::new();
    let mut calls = 0;
    loop {
        calls += 1;
        assert!(calls <= fam.len() + table.len() + 2, "render does not progress");
        let mut chunk = Vec::new();
        let more = fam.render(&mut cursor, &mut chunk, limit);
        joined.extend_from_slice(&chunk);
        if !more {
            break;
        }
        assert!(chunk.len() >= limit, "render stopped short of the limit with more to come");
    }
    assert_eq!(joined, out, "render({limit}) in chunks differs from write_to");
    Out::Expo(out, r)
}

thread_local! {
    static RENDER_LIMIT: std::cell::Cell<usize> = const { std::cell::Cell::new(1) };
}

fn label<'s>(s: &'s Sample, name: &str) -> Option<&'s str> {
    s.labels
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn check_samples(endpoint: u8, (store, ns): (&str, &str), samples: &[Sample], count: u64) {
    for s in samples {
        for (name, value) in &s.labels {
            if name == "notes" || name == "comment" {
                assert!(
                    value.len() <= pbs_exporter::collectors::MAX_TEXT_LABEL,
                    "{name} label too long"
                );
            }
        }
    }
    match endpoint {
        0 => {
            let info = samples.iter().filter(|s| s.name == "pbs_host_info").count();
            assert_eq!(info, 1, "pbs_host_info written {info} times");
            assert!(samples.iter().all(|s| s.name == "pbs_host_info" || s.labels.is_empty()));
        }
        1 => {
            for s in samples {
                let ds = label(s, "datastore");
                assert!(ds.is_some_and(|d| !d.is_empty()), "sample without datastore: {s:?}");
            }
        }
        2 | 3 | 10 => {
            for s in samples {
                assert_eq!(label(s, "datastore"), Some(store), "{s:?}");
                if s.name != "pbs_datastore_snapshots" {
                    assert_eq!(label(s, "namespace"), Some(ns), "{s:?}");
                    assert!(label(s, "backup_type").is_some_and(|t| !t.is_empty()));
                    assert!(label(s, "backup_id").is_some_and(|t| !t.is_empty()));
                }
            }
            if endpoint == 10 {
                let mut per_group = std::collections::HashMap::new();
                for s in samples.iter().filter(|s| s.name.starts_with("pbs_snapshot_")) {
                    let t = label(s, "backup_time").unwrap_or_default();
                    assert!(t.parse::<i64>().is_ok(), "backup_time {t:?}");
                    if s.name == "pbs_snapshot_size_bytes" {
                        let key = (label(s, "backup_type"), label(s, "backup_id"));
                        *per_group.entry(key).or_insert(0) += 1;
                    }
                }
                assert!(per_group.values().all(|n| *n <= HISTORY), "{per_group:?}");
            }
            if endpoint == 2 {
                let info = samples.iter().filter(|s| s.name == "pbs_group_info").count();
                assert_eq!(info as u64, count, "group count vs pbs_group_info samples");
            } else {
                let states: Vec<_> = samples
                    .iter()
                    .filter(|s| s.name == "pbs_datastore_snapshots")
                    .filter_map(|s| label(s, "verification"))
                    .collect();
                assert_eq!(states, ["none", "ok", "failed"]);
            }
        }
        5 | 6 => {
            for s in samples {
                let key = if s.name == "pbs_tape_drive_info" { "drive" } else { "changer" };
                assert!(label(s, key).is_some_and(|n| !n.is_empty()), "{s:?}");
                for l in ["vendor", "model", "serial", "changer"] {
                    assert!(label(s, l).is_none_or(|v| v.len() <= pbs_exporter::collectors::MAX_TEXT_LABEL));
                }
            }
        }
        7 => {
            let statuses = ["writable", "full", "unknown", "damaged", "retired"];
            let mut pools = std::collections::HashSet::new();
            for s in samples {
                let pool = label(s, "pool").expect("pool label");
                assert!(pool.len() <= pbs_exporter::collectors::MAX_TEXT_LABEL);
                if s.name == "pbs_tape_media" {
                    assert!(statuses.contains(&label(s, "status").unwrap_or("")), "{s:?}");
                    let location = label(s, "location").unwrap_or("");
                    assert!(["online", "offline", "vault"].contains(&location), "{s:?}");
                } else {
                    assert!(pools.insert(pool.to_string()), "pool {pool:?} twice");
                }
            }
            assert!(pools.len() <= tape::MAX_POOLS);
        }
        8 | 9 => {
            for s in samples {
                assert_eq!(label(s, "datastore"), Some(store), "{s:?}");
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (endpoint, names) = match data[0] {
        b @ 0..20 => (b % 5, b / 5),
        b => (5 + (b - 20) % 6, (b - 20) / 6),
    };
    let names = NAMES[names as usize % NAMES.len()];
    let step = split_size(data[1]);
    let body = &data[2..];
    RENDER_LIMIT.with(|l| l.set(split_size(data[1].wrapping_mul(31))));

    let mut fresh = Inventory::default();
    let whole = run(endpoint, names, [body], &mut fresh);
    // Reuse an inventory that has held another list, as scrapes do.
    let mut reused = Inventory::default();
    let _ = reused.list_from_json([&br#"{"data":[{"store":"zz","maintenance":"offline"},{"store":"a","mount-status":"mounted"}]}"#[..]]);
    let split = run(endpoint, names, body.chunks(step), &mut reused);
    assert_eq!(whole, split, "split size {step} changed the result");
    pbs_exporter::json::walker::read_everything(true);
    let everything = run(endpoint, names, body.chunks(step), &mut Inventory::default());
    pbs_exporter::json::walker::read_everything(false);
    assert_eq!(whole, everything, "skipping unread keys changed the result");

    match whole {
        Out::Expo(out, Ok(count)) => match expo::check(&out) {
            Ok(samples) => check_samples(endpoint, names, &samples, count),
            Err(e) => panic!("bad exposition: {e}\n{}", String::from_utf8_lossy(&out)),
        },
        Out::Expo(out, Err(_)) => {
            // Partial output (samples written before the error) must still be well formed.
            if let Err(e) = expo::check(&out) {
                panic!("bad partial exposition: {e}\n{}", String::from_utf8_lossy(&out));
            }
        }
        Out::List(Ok(list)) => {
            for w in list.windows(2) {
                assert!(w[0].0 < w[1].0, "names not sorted and unique: {list:?}");
            }
            assert!(list.iter().all(|d| !d.0.is_empty()), "empty name: {list:?}");
        }
        Out::List(Err(_)) => {}
    }
});
