//! Allocation budget of a steady-state scrape of the reference profile (10×1×10×30) over a
//! kept-alive, pinned TLS connection, and the peak heap of the whole run.
//!
//! Budgets: at most 64 heap blocks allocated by one steady-state scrape (collect, then render
//! 32 KiB at a time into one reused buffer as the server does), and a peak heap (dhat
//! `max_bytes`, from building the client to the end) of at most 1 MiB. Allocation counts do not
//! depend on machine speed.
//!
//! One dhat profiler per process, so one test per binary (`harness = false`). The simulator
//! runs as a `pbs-sim` child process: dhat counts every allocation of its own process.

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[path = "common.rs"]
mod common;

use common::Render;
use std::path::Path;

/// Scrapes before the measured one: the first does the TLS handshake and grows the buffers.
const WARMUP: usize = 3;
const MAX_BLOCKS_PER_SCRAPE: u64 = 64;
const MAX_PEAK_BYTES: usize = 1 << 20;

fn main() {
    let sim = common::SimChild::spawn(Path::new(env!("CARGO_BIN_EXE_pbs-sim")), "reference")
        .expect("pbs-sim starts");
    let profile_path = concat!(env!("CARGO_TARGET_TMPDIR"), "/dhat-budget_reference.json");
    let profiler = dhat::Profiler::builder()
        .testing()
        .file_name(profile_path)
        .build();

    let mut scraper = common::scraper(&sim).expect("client configuration");
    let mut out = Vec::new();
    for _ in 0..WARMUP {
        common::scrape(&mut scraper, &mut out, Render::Chunked).expect("warm-up scrape succeeds");
    }
    let before = dhat::HeapStats::get();
    let result = common::scrape(&mut scraper, &mut out, Render::Chunked);
    let after = dhat::HeapStats::get();
    let summary = result.expect("measured scrape succeeds");

    let blocks = after.total_blocks - before.total_blocks;
    let bytes = after.total_bytes - before.total_bytes;
    println!(
        "budget_reference: steady-state scrape: {blocks} blocks, {bytes} bytes allocated \
         (budget {MAX_BLOCKS_PER_SCRAPE} blocks); peak heap {} ({} bytes, budget {}); \
         {} bytes of exposition, {} samples",
        common::human(after.max_bytes as u64),
        after.max_bytes,
        common::human(MAX_PEAK_BYTES as u64),
        summary.bytes,
        summary.samples,
    );
    let ok = blocks <= MAX_BLOCKS_PER_SCRAPE && after.max_bytes <= MAX_PEAK_BYTES;
    if !ok {
        eprintln!(
            "budget_reference: over budget; dhat profile (open in dh_view.html): {profile_path}"
        );
    }
    dhat::assert!(
        blocks <= MAX_BLOCKS_PER_SCRAPE,
        "a steady-state reference scrape allocated {blocks} heap blocks (budget {MAX_BLOCKS_PER_SCRAPE})"
    );
    dhat::assert!(
        after.max_bytes <= MAX_PEAK_BYTES,
        "reference peak heap {} bytes (budget {MAX_PEAK_BYTES})",
        after.max_bytes
    );
    drop(profiler);
    drop(sim);
    println!("1 passed, 0 failed");
}
