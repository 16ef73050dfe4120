//! Peak heap budget of the large profile (4 datastores × 5 namespaces × 100 groups × 30
//! snapshots: 2,000 groups, 60,000 snapshots, ~33 MB of JSON per scrape): dhat `max_bytes`
//! from building the client to the end of two scrapes (the first with the TLS handshake and
//! the buffers growing, then a steady-state one), each rendered 32 KiB at a time as the server
//! does, must stay at most 4 MiB.
//!
//! Then two more scrapes served gzip, as for Prometheus (`Accept-Encoding: gzip`): the encoder
//! and its plain-chunk buffer may raise that peak by at most 512 KiB.
//!
//! One dhat profiler per process, so one test per binary (`harness = false`). The simulator
//! runs as a `pbs-sim` child process: dhat counts every allocation of its own process.

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[path = "common.rs"]
mod common;

use common::Render;

const SCRAPES: usize = 2;
const MAX_PEAK_BYTES: usize = 4 << 20;
const MAX_GZIP_EXTRA_BYTES: usize = 512 << 10;

fn main() {
    let sim = common::SimChild::spawn(&common::sim_executable(None).expect("pbs-sim"), "large")
        .expect("pbs-sim starts");
    let profile_path = concat!(env!("CARGO_TARGET_TMPDIR"), "/dhat-budget_large.json");
    let profiler = dhat::Profiler::builder()
        .testing()
        .file_name(profile_path)
        .build();

    let mut scraper = common::scraper(&sim).expect("client configuration");
    let mut out = Vec::new();
    let mut summary = common::Summary::default();
    for _ in 0..SCRAPES {
        summary = common::scrape(&mut scraper, &mut out, Render::Chunked).expect("scrape succeeds");
    }
    let stats = dhat::HeapStats::get();
    let mut gz = pbs_exporter::gzip::GzipBody::default();
    let mut compressed = 0;
    for _ in 0..SCRAPES {
        compressed = common::scrape_gzip(&mut scraper, &mut out, &mut gz)
            .expect("gzip scrape succeeds")
            .1;
    }
    let gzip_peak = dhat::HeapStats::get().max_bytes;
    let gzip_extra = gzip_peak.saturating_sub(stats.max_bytes);
    println!(
        "budget_large: gzip raises the peak by {} ({gzip_extra} bytes, budget {}); {} compressed",
        common::human(gzip_extra as u64),
        common::human(MAX_GZIP_EXTRA_BYTES as u64),
        common::human(compressed),
    );
    println!(
        "budget_large: peak heap {} ({} bytes, budget {}); live after the last scrape {}; \
         {} of exposition, {} samples",
        common::human(stats.max_bytes as u64),
        stats.max_bytes,
        common::human(MAX_PEAK_BYTES as u64),
        common::human(stats.curr_bytes as u64),
        common::human(summary.bytes),
        summary.samples,
    );
    if stats.max_bytes > MAX_PEAK_BYTES {
        eprintln!("budget_large: over budget; dhat profile (open in dh_view.html): {profile_path}");
    }
    dhat::assert!(
        stats.max_bytes <= MAX_PEAK_BYTES,
        "large-profile peak heap {} bytes (budget {MAX_PEAK_BYTES})",
        stats.max_bytes
    );
    dhat::assert!(
        gzip_extra <= MAX_GZIP_EXTRA_BYTES,
        "gzip raised the large-profile peak heap by {gzip_extra} bytes (budget {MAX_GZIP_EXTRA_BYTES})"
    );
    drop(profiler);
    drop(sim);
    println!("1 passed, 0 failed");
}
