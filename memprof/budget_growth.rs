//! Nothing grows across 1,000 scrapes of the reference profile over one kept-alive, pinned TLS
//! connection: the bytes live after the last scrape are at most 4 KiB more than after the
//! first (which did the TLS handshake and sized the reused buffers).
//!
//! One dhat profiler per process, so one test per binary (`harness = false`). The simulator
//! runs as a `pbs-sim` child process: dhat counts every allocation of its own process.

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[path = "common.rs"]
mod common;

use common::Render;
use std::time::Instant;

const SCRAPES: usize = 1000;
const MAX_GROWTH: usize = 4 << 10;

fn main() {
    let sim = common::SimChild::spawn(&common::sim_executable(None).expect("pbs-sim"), "reference")
        .expect("pbs-sim starts");
    let profile_path = concat!(env!("CARGO_TARGET_TMPDIR"), "/dhat-budget_growth.json");
    let profiler = dhat::Profiler::builder()
        .testing()
        .file_name(profile_path)
        .build();

    let started = Instant::now();
    let mut scraper = common::scraper(&sim).expect("client configuration");
    let mut out = Vec::new();
    common::scrape(&mut scraper, &mut out, Render::Chunked).expect("first scrape succeeds");
    let first = dhat::HeapStats::get();
    let mut highest = first.curr_bytes;
    for i in 1..SCRAPES {
        if let Err(e) = common::scrape(&mut scraper, &mut out, Render::Chunked) {
            panic!("scrape {} failed: {e}", i + 1);
        }
        highest = highest.max(dhat::HeapStats::get().curr_bytes);
    }
    let last = dhat::HeapStats::get();
    let growth = last.curr_bytes as i64 - first.curr_bytes as i64;
    println!(
        "budget_growth: live after scrape 1: {} bytes; after scrape {SCRAPES}: {} bytes \
         ({growth:+} bytes, budget +{MAX_GROWTH}); highest live between scrapes {} bytes; \
         peak {} bytes; {:.1} s",
        first.curr_bytes,
        last.curr_bytes,
        highest,
        last.max_bytes,
        started.elapsed().as_secs_f64(),
    );
    if growth > MAX_GROWTH as i64 {
        eprintln!(
            "budget_growth: over budget; dhat profile (open in dh_view.html): {profile_path}"
        );
    }
    dhat::assert!(
        growth <= MAX_GROWTH as i64,
        "live heap grew by {growth} bytes over {SCRAPES} scrapes (budget {MAX_GROWTH})"
    );
    drop(profiler);
    drop(sim);
    println!("1 passed, 0 failed");
}
