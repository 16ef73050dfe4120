//! Memory must not grow with the number of snapshots: the peak heap of the deep profile (10
//! datastores × 1 namespace × 10 groups × 1000 snapshots: 100,000 snapshots, ~55 MB of JSON per
//! scrape) must stay within 10 % of the reference profile's (same shape, 30 snapshots per
//! group).
//!
//! How, with one dhat profiler per process and a `max_bytes` that only grows: this process
//! first runs the reference scrapes exactly as `budget_reference` does (same warm-up, its own
//! `pbs-sim` child) and reads the reference peak R. It then drops that scraper and simulator
//! and runs the deep scrapes with a fresh scraper against a deep `pbs-sim` child. At the end
//! `max_bytes` = max(R, deep peak + whatever the reference phase left live), so asserting
//! `max_bytes <= 1.1 × R` is exactly "deep peak ≤ 1.1 × reference peak", made slightly stricter
//! (never looser) by any residue of the first phase, which is reported. Both peaks come from
//! the same binary, build profile and code path, so the comparison is like for like; a second
//! process (e.g. the reference measured in a child) would add nothing but another spawn.

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[path = "common.rs"]
mod common;

use common::Render;

/// As in budget_reference.rs: warm-ups then one steady-state scrape.
const REFERENCE_SCRAPES: usize = 4;
/// The first deep scrape (handshake, buffers growing) and a steady-state one.
const DEEP_SCRAPES: usize = 2;
/// Deep may exceed the reference peak by at most 10 %.
const RATIO: f64 = 1.10;

fn main() {
    let sim_exe = &common::sim_executable(None).expect("pbs-sim");
    let reference_sim = common::SimChild::spawn(sim_exe, "reference").expect("pbs-sim starts");
    let deep_sim = common::SimChild::spawn(sim_exe, "deep").expect("pbs-sim starts");
    let profile_path = concat!(env!("CARGO_TARGET_TMPDIR"), "/dhat-budget_deep.json");
    let profiler = dhat::Profiler::builder()
        .testing()
        .file_name(profile_path)
        .build();

    let mut out = Vec::new();
    let mut scraper = common::scraper(&reference_sim).expect("client configuration");
    let mut reference = common::Summary::default();
    for _ in 0..REFERENCE_SCRAPES {
        reference = common::scrape(&mut scraper, &mut out, Render::Chunked)
            .expect("reference scrape succeeds");
    }
    drop(scraper);
    out = Vec::new();
    let after_reference = dhat::HeapStats::get();
    let reference_peak = after_reference.max_bytes;
    let residue = after_reference.curr_bytes;

    let mut scraper = common::scraper(&deep_sim).expect("client configuration");
    let mut deep_summary = common::Summary::default();
    for _ in 0..DEEP_SCRAPES {
        deep_summary =
            common::scrape(&mut scraper, &mut out, Render::Chunked).expect("deep scrape succeeds");
    }
    let end = dhat::HeapStats::get();
    let limit = (reference_peak as f64 * RATIO) as usize;
    let raised = end.max_bytes > reference_peak;
    println!(
        "budget_deep: reference peak {} ({} bytes, {} samples); {} bytes still live after the \
         reference phase; deep {} (peak of the run {} bytes, limit {} bytes = {RATIO} × \
         reference); deep exposition {} bytes, {} samples",
        common::human(reference_peak as u64),
        reference_peak,
        reference.samples,
        residue,
        if raised {
            format!("raised the peak to {}", common::human(end.max_bytes as u64))
        } else {
            "stayed below the reference peak".to_string()
        },
        end.max_bytes,
        limit,
        deep_summary.bytes,
        deep_summary.samples,
    );
    if end.max_bytes > limit {
        eprintln!("budget_deep: over budget; dhat profile (open in dh_view.html): {profile_path}");
    }
    dhat::assert!(
        end.max_bytes <= limit,
        "deep-profile peak heap {} bytes is more than {RATIO} × the reference peak {} bytes",
        end.max_bytes,
        reference_peak
    );
    drop(profiler);
    drop(scraper);
    drop((reference_sim, deep_sim));
    println!("1 passed, 0 failed");
}
