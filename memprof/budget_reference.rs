//! Allocation budget of a steady-state scrape of the reference profile (10×1×10×30), and the
//! peak heap of the whole run.
//!
//! Budgets:
//! - a steady-state scrape (collect, then render 16 KiB at a time into one reused buffer as the
//!   server does) allocates at most 32 heap blocks of its own, plus one per socket wait. The
//!   exporter's own code allocates none; async-io's reactor allocates one waker list per turn
//!   that wakes a task, and how many turns a scrape takes depends on how the bytes happen to
//!   arrive (the machine's load), so `common::waits` counts them and each is allowed one block.
//!   The rest measured 2–8 blocks. (Until 2026-11-30 the budget was a flat 64 blocks including
//!   the waits; a loaded CI machine took enough extra turns to break it without any change.)
//! - over a kept-alive, pinned TLS connection, additionally one block per TLS record received
//!   and one per request encrypted. rustls 0.23 allocates exactly that, in its buffered and its
//!   unbuffered API alike (`take_received_plaintext` copies each record into a new `Vec`; each
//!   encrypted record is built in a new `Vec`); these blocks are freed at once and do not raise
//!   the peak. They cannot be avoided without a TLS record layer of our own, which is not worth
//!   its risk.
//! - the peak heap (dhat `max_bytes`, from building the client to the end) is at most 1 MiB.
//!
//! One dhat profiler per process, so one test per binary (`harness = false`). The simulator
//! runs as a `pbs-sim` child process: dhat counts every allocation of its own process.

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[path = "common.rs"]
mod common;

use common::Render;

/// Scrapes before the measured ones: the first does the TLS handshake and grows the buffers.
const WARMUP: usize = 3;
/// Measured scrapes; the worst one must be within budget.
const MEASURED: usize = 5;
/// Heap blocks a scrape may allocate besides one per socket wait and one per TLS record.
const MAX_BLOCKS_PER_SCRAPE: u64 = 32;
const MAX_PEAK_BYTES: usize = 1 << 20;

/// Runs warm-ups, then returns the largest (blocks, allowance) over the measured scrapes, where
/// allowance is the budget plus the socket waits and TLS records of that scrape.
fn measure(sim: &common::SimChild) -> (u64, u64) {
    let mut scraper = common::scraper(sim).expect("client configuration");
    let mut out = Vec::new();
    for _ in 0..WARMUP {
        common::scrape(&mut scraper, &mut out, Render::Chunked).expect("warm-up scrape succeeds");
    }
    let mut worst: (u64, u64) = (0, MAX_BLOCKS_PER_SCRAPE);
    for _ in 0..MEASURED {
        let records_before = scraper.client().tls_records().unwrap_or((0, 0));
        let waits_before = common::waits();
        let before = dhat::HeapStats::get();
        common::scrape(&mut scraper, &mut out, Render::Chunked).expect("measured scrape succeeds");
        let after = dhat::HeapStats::get();
        let waits = common::waits() - waits_before;
        let records = scraper.client().tls_records().unwrap_or((0, 0));
        let tls = (records.0 - records_before.0) + (records.1 - records_before.1);
        let blocks = after.total_blocks - before.total_blocks;
        let allowance = MAX_BLOCKS_PER_SCRAPE + tls + waits;
        println!(
            "budget_reference: {}: {blocks} blocks, {} bytes allocated; TLS records {} in, {} out; \
             {waits} socket waits; allowance {allowance}",
            sim.endpoint,
            after.total_bytes - before.total_bytes,
            records.0 - records_before.0,
            records.1 - records_before.1,
        );
        if blocks.saturating_sub(allowance) >= worst.0.saturating_sub(worst.1) {
            worst = (blocks, allowance);
        }
    }
    worst
}

fn main() {
    let exe = &common::sim_executable(None).expect("pbs-sim");
    let plain =
        common::SimChild::spawn_with(exe, "reference", &["--no-tls"]).expect("pbs-sim starts");
    let tls = common::SimChild::spawn(exe, "reference").expect("pbs-sim starts");
    let profile_path = concat!(env!("CARGO_TARGET_TMPDIR"), "/dhat-budget_reference.json");
    let profiler = dhat::Profiler::builder()
        .testing()
        .file_name(profile_path)
        .build();

    let (plain_blocks, plain_allowance) = measure(&plain);
    let (tls_blocks, tls_allowance) = measure(&tls);
    let peak = dhat::HeapStats::get().max_bytes;
    println!(
        "budget_reference: worst steady-state scrape: plain {plain_blocks} blocks (budget {plain_allowance}), \
         TLS {tls_blocks} blocks (budget {tls_allowance} = {MAX_BLOCKS_PER_SCRAPE} + socket waits + TLS records); \
         peak heap {} ({peak} bytes, budget {})",
        common::human(peak as u64),
        common::human(MAX_PEAK_BYTES as u64),
    );
    if plain_blocks > plain_allowance || tls_blocks > tls_allowance || peak > MAX_PEAK_BYTES {
        eprintln!(
            "budget_reference: over budget; dhat profile (open in dh_view.html): {profile_path}"
        );
    }
    dhat::assert!(
        plain_blocks <= plain_allowance,
        "a steady-state reference scrape over HTTP allocated {plain_blocks} heap blocks (budget {plain_allowance})"
    );
    dhat::assert!(
        tls_blocks <= tls_allowance,
        "a steady-state reference scrape over TLS allocated {tls_blocks} heap blocks (budget {tls_allowance})"
    );
    dhat::assert!(
        peak <= MAX_PEAK_BYTES,
        "reference peak heap {peak} bytes (budget {MAX_PEAK_BYTES})"
    );
    drop(profiler);
    println!("1 passed, 0 failed");
}
