//! The extractors of the jobs, tasks and subscription collectors, fed through `JsonReader`
//! exactly as the collectors feed them.
//!
//! Input: byte 0 picks the endpoint (`% 7`: the job lists gc, prune, sync, tape-backup and
//! verify, then tasks, subscription), byte 1 the split size, the rest is the body.
//!
//! Asserts:
//! * result and rendered output are identical whatever the split size;
//! * on success the output is valid exposition (strict parser in `pbs_exporter_fuzz::expo`),
//!   no series twice, every label value at most 256 bytes;
//! * jobs: every job has the three job labels and exactly one of its four state series is 1;
//!   sync info only on sync jobs; at most `MAX_JOBS` jobs;
//! * tasks: every (worker type, datastore) has one running and three finished series
//!   (ok, warning, error), counts sum to at most the items read;
//! * subscription: six status series, at most one of them 1; a due date only when it parses;
//! * the snapshots collector's verify-task reader on the tasks body
//!   (`snapshot_refresh::changed_from_json`): the same whatever the split size, succeeding
//!   exactly when the tasks extractor does, naming each datastore once, never an empty one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbs_exporter::collectors::{MAX_TEXT_LABEL, jobs, snapshot_refresh, subscription, tasks};
use pbs_exporter::exposition::{Families, FamilyDesc};
use pbs_exporter::json::JsonError;
use pbs_exporter_fuzz::expo::{self, Sample};
use pbs_exporter_fuzz::split_size;

const JOB_TYPES: [&str; 5] = ["gc", "prune", "sync", "tape-backup", "verify"];

fn run<'p>(endpoint: u8, pieces: impl IntoIterator<Item = &'p [u8]>) -> (Vec<u8>, Result<u64, JsonError>) {
    let (table, r): (&'static [FamilyDesc], _);
    let mut f;
    match endpoint {
        0..=4 => {
            table = jobs::Family::TABLE;
            f = Families::new(table);
            r = jobs::from_json(JOB_TYPES[endpoint as usize], pieces, &mut f).map(u64::from);
        }
        5 => {
            table = tasks::Family::TABLE;
            f = Families::new(table);
            r = tasks::from_json(1_000, pieces, &mut f).map(|n| n as u64);
        }
        _ => {
            table = subscription::Family::TABLE;
            f = Families::new(table);
            r = subscription::from_json(pieces, &mut f).map(|_| 0);
        }
    }
    let _ = table;
    let mut out = Vec::new();
    f.write_to(&mut out);
    (out, r)
}

fn label<'s>(s: &'s Sample, name: &str) -> Option<&'s str> {
    s.labels.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn check(endpoint: u8, samples: &[Sample], count: u64) {
    for s in samples {
        for (name, value) in &s.labels {
            assert!(value.len() <= MAX_TEXT_LABEL, "{name} label too long: {s:?}");
        }
    }
    match endpoint {
        0..=4 => {
            let states: Vec<&Sample> =
                samples.iter().filter(|s| s.name == "pbs_job_last_run_state").collect();
            assert_eq!(states.len() % 4, 0);
            assert!(states.len() / 4 <= jobs::MAX_JOBS);
            for group in states.chunks(4) {
                let ones = group.iter().filter(|s| s.value == "1").count();
                assert_eq!(ones, 1, "one current state: {group:?}");
                let states: Vec<_> = group.iter().filter_map(|s| label(s, "state")).collect();
                assert_eq!(states, ["ok", "warning", "error", "unknown"]);
            }
            for s in samples {
                assert_eq!(label(s, "job_type"), Some(JOB_TYPES[endpoint as usize]));
                assert!(label(s, "job_id").is_some_and(|id| !id.is_empty()), "{s:?}");
                assert!(label(s, "datastore").is_some());
                if s.name == "pbs_job_sync_info" {
                    assert_eq!(endpoint, 2);
                }
            }
        }
        5 => {
            let running = samples.iter().filter(|s| s.name == "pbs_tasks_running").count();
            let finished = samples.iter().filter(|s| s.name == "pbs_tasks_finished").count();
            assert_eq!(finished, 3 * running);
            let total: u64 = samples.iter().map(|s| s.value.parse::<u64>().unwrap()).sum();
            assert!(total <= count, "{total} counted of {count} items");
        }
        _ => {
            let status: Vec<_> =
                samples.iter().filter(|s| s.name == "pbs_subscription_status").collect();
            assert_eq!(status.len(), 6);
            assert!(status.iter().filter(|s| s.value == "1").count() <= 1);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let endpoint = data[0] % 7;
    let step = split_size(data[1]);
    let body = &data[2..];
    let whole = run(endpoint, [body]);
    let split = run(endpoint, body.chunks(step));
    assert_eq!(whole, split, "split size {step} changed the result");
    let (out, r) = whole;
    if endpoint == 5 {
        let changed = snapshot_refresh::changed_from_json(1_000, [body]);
        let split = snapshot_refresh::changed_from_json(1_000, body.chunks(step));
        assert_eq!(changed, split, "split size {step} changed the verify ends");
        assert_eq!(changed.is_ok(), r.is_ok(), "{changed:?} vs {r:?}");
        if let Ok(stores) = changed {
            let mut unique = stores.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), stores.len(), "{stores:?}");
            assert!(stores.iter().all(|s| !s.is_empty()), "{stores:?}");
        }
    }
    match expo::check(&out) {
        Ok(samples) => {
            if let Ok(count) = r {
                check(endpoint, &samples, count);
            }
        }
        Err(e) => panic!("bad exposition: {e}\n{}", String::from_utf8_lossy(&out)),
    }
});
