//! What a `?target=` target keeps while held idle: the live heap each of ten reference targets
//! (each its own `pbs-sim` child, pinned TLS, every collector) adds once its scrape is answered,
//! the target released (`Collection::release_idle`) and what it keeps repacked
//! (`Collection::repack_idle`), as the server does, at most 20 KiB per target (measured 10.9 KB
//! in 35 blocks, most of it the snapshots collector's per-group aggregates, which
//! `--snapshots-refresh changed` needs, packed in 4 of them; 16.3 KB while their group records
//! were fixed-size (88 bytes, now 34 with variable-length integers); 19.5 KB in 54 blocks while the
//! scraper kept an empty output set between collections, 28.4 KB in 81 before the aggregates
//! were packed, and 37.7 KB in 380 blocks before the collectors freed their reuse buffers at
//! release and kept short texts inline).
//!
//! This is the part of `scripts/footprint.sh`'s "RSS added per target held idle" the exporter
//! controls; the rest is the C allocator keeping pages resident around those blocks.
//!
//! Targets are built by `TargetMap` as the server builds them; nine are scraped at once on one
//! executor (as the server serves ten concurrent scrapes), each rendered and released when its
//! collection ends. A first target is scraped and released before the baseline is read, so the
//! process-wide state a first scrape creates (reactor, watchdog thread) is not charged to the
//! others.
//!
//! One dhat profiler per process, so one test per binary (`harness = false`).

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[path = "common.rs"]
mod common;

use pbs_exporter::client::Endpoint;
use pbs_exporter::collection::Collection;
use pbs_exporter::collectors::CollectorId;
use pbs_exporter::config::{Compat, Secret};
use pbs_exporter::routing::TargetSpec;
use pbs_exporter::target_map::TargetMap;
use pbs_exporter::tls::{self, Trust};
use std::rc::Rc;
use std::time::Instant;

const TARGETS: usize = 10;
/// Live heap a target held idle may add.
const MAX_PER_TARGET: u64 = 20 << 10;

fn spec(k: usize, sim: &common::SimChild) -> TargetSpec {
    TargetSpec {
        module: format!("m{k}"),
        endpoint: Endpoint::parse(&sim.endpoint).expect("endpoint"),
        token_id: common::TOKEN_ID.into(),
        secret: Secret::new(common::TOKEN_SECRET.into()),
        trust: Trust::Fingerprint(tls::parse_fingerprint(&sim.fingerprint).expect("fingerprint")),
        timeout: common::TIMEOUT,
        collectors: CollectorId::ALL.to_vec(),
        keep_last_values: None,
    }
}

/// Collects `collection`, checks the result (PBS up, every collector succeeded), drops it and
/// releases the target.
async fn scrape_and_release(collection: Rc<Collection>, label: String) {
    let result = collection
        .collect(Instant::now() + common::SCRAPE_DEADLINE)
        .await;
    let mut out = Vec::new();
    result.render_all(&mut out);
    if let Err(e) = common::check(&out) {
        panic!("{label}: {e}");
    }
    drop(result);
    assert!(collection.release_idle(), "{label} is released");
}

fn main() {
    let exe = common::sim_executable(None).expect("pbs-sim");
    let sims: Vec<common::SimChild> = (0..TARGETS)
        .map(|_| common::SimChild::spawn(&exe, "reference").expect("pbs-sim starts"))
        .collect();
    let specs: Vec<TargetSpec> = sims.iter().enumerate().map(|(k, s)| spec(k, s)).collect();
    let profile_path = concat!(env!("CARGO_TARGET_TMPDIR"), "/dhat-budget_held.json");
    let profiler = dhat::Profiler::builder()
        .testing()
        .file_name(profile_path)
        .build();

    let mut map = TargetMap::new(64, Compat::None, common::MAX_BODY);
    let mut get = |spec: &TargetSpec| map.get(spec, Instant::now()).expect("TLS configuration");
    let first = get(&specs[0]);
    common::block_on_counted(scrape_and_release(first.clone(), specs[0].label()));
    first.repack_idle();
    drop(first);
    let base = dhat::HeapStats::get();
    let ex = async_executor::LocalExecutor::new();
    let others: Vec<Rc<Collection>> = specs[1..].iter().map(&mut get).collect();
    let tasks: Vec<_> = others
        .iter()
        .zip(&specs[1..])
        .map(|(c, s)| ex.spawn(scrape_and_release(c.clone(), s.label())))
        .collect();
    common::block_on_counted(ex.run(async {
        for t in tasks {
            t.await;
        }
    }));
    drop(ex);
    // As the server does once no multi-target scrape is left.
    for c in others {
        c.repack_idle();
    }
    let held = dhat::HeapStats::get();
    assert_eq!(map.len(), TARGETS);
    let n = (TARGETS - 1) as u64;
    let per_target = (held.curr_bytes as u64).saturating_sub(base.curr_bytes as u64) / n;
    let blocks = (held.curr_blocks as u64).saturating_sub(base.curr_blocks as u64) / n;
    println!(
        "budget_held: live with 1 target held idle {} bytes ({} blocks); with {TARGETS}: {} bytes \
         ({} blocks): {per_target} bytes, {blocks} blocks per target (budget {MAX_PER_TARGET}); \
         peak {} bytes",
        base.curr_bytes, base.curr_blocks, held.curr_bytes, held.curr_blocks, held.max_bytes,
    );
    if per_target > MAX_PER_TARGET {
        eprintln!("budget_held: over budget; dhat profile (open in dh_view.html): {profile_path}");
    }
    dhat::assert!(
        per_target <= MAX_PER_TARGET,
        "a target held idle keeps {per_target} bytes live (budget {MAX_PER_TARGET})"
    );
    drop(map);
    drop(profiler);
    drop(sims);
    println!("1 passed, 0 failed");
}
