//! Peak heap budget of the large profile (4 datastores × 5 namespaces × 100 groups × 30
//! snapshots: 2,000 groups, 60,000 snapshots, ~33 MB of JSON per scrape): dhat `max_bytes`
//! from building the client to the end of two scrapes (the first with the TLS handshake and
//! the buffers growing, then a steady-state one), each rendered 16 KiB at a time as the server
//! does, must stay at most 4 MiB.
//!
//! Then two more scrapes served gzip, as for Prometheus (`Accept-Encoding: gzip`): the encoder
//! and its plain-chunk buffer may raise that peak by at most 512 KiB.
//!
//! Then `--keep-last-values` while PBS sleeps: a collection scrapes once, the simulator stops,
//! and three scrapes serve the kept families; the heap live after them may exceed the heap
//! live after the good scrape by at most 64 KiB (the kept result is shared, not copied).
//!
//! One dhat profiler per process, so one test per binary (`harness = false`). The simulator
//! runs as a `pbs-sim` child process: dhat counts every allocation of its own process.

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[path = "common.rs"]
mod common;

use common::Render;
use pbs_exporter::collection::Collection;
use pbs_exporter::scrape::{Output, RenderCursor};
use std::time::{Duration, Instant};

const SCRAPES: usize = 2;
const MAX_PEAK_BYTES: usize = 4 << 20;
const MAX_GZIP_EXTRA_BYTES: usize = 512 << 10;
const MAX_SLEEP_EXTRA_BYTES: usize = 64 << 10;

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

    // --keep-last-values: a good scrape, then PBS powers off.
    drop(scraper);
    let keep = Some(Duration::from_secs(3600));
    let scraper = common::scraper(&sim).expect("client configuration");
    let collection = Collection::new(scraper.with_keep_last_values(keep));
    let collect =
        || async_io::block_on(collection.collect(Instant::now() + common::SCRAPE_DEADLINE));
    let (good_bytes, good_up) = rendered(&collect(), &mut out);
    assert!(good_up, "the good scrape reached the simulator");
    let awake = dhat::HeapStats::get().curr_bytes;
    drop(sim);
    let mut asleep_bytes = 0;
    for _ in 0..3 {
        let (bytes, up) = rendered(&collect(), &mut out);
        assert!(!up, "the simulator is stopped");
        asleep_bytes = bytes;
    }
    let stats = dhat::HeapStats::get();
    let asleep = stats.curr_bytes;
    let extra = asleep.saturating_sub(awake);
    println!(
        "budget_large: --keep-last-values: live heap after the good scrape {awake} bytes, after \
         three scrapes while PBS sleeps {asleep} bytes ({:+} bytes, budget +{MAX_SLEEP_EXTRA_BYTES}; \
         the PBS connection's buffers are gone); serving {} of its {} of exposition; peak heap \
         of the whole run {} ({} bytes)",
        asleep as i64 - awake as i64,
        common::human(asleep_bytes),
        common::human(good_bytes),
        common::human(stats.max_bytes as u64),
        stats.max_bytes,
    );
    dhat::assert!(
        asleep_bytes * 10 > good_bytes * 9,
        "the kept families are served: {asleep_bytes} of {good_bytes} bytes"
    );
    dhat::assert!(
        extra <= MAX_SLEEP_EXTRA_BYTES,
        "serving kept values added {extra} bytes of live heap (budget {MAX_SLEEP_EXTRA_BYTES})"
    );
    dhat::assert!(
        stats.max_bytes <= MAX_PEAK_BYTES,
        "peak heap {} bytes with the collection (budget {MAX_PEAK_BYTES})",
        stats.max_bytes
    );
    drop(profiler);
    println!("1 passed, 0 failed");
}

/// Renders `result` as the server does (16 KiB chunks into `buf`): its bytes, and whether it
/// says `pbs_up 1`.
fn rendered(result: &Output, buf: &mut Vec<u8>) -> (u64, bool) {
    let (mut bytes, mut up) = (0, false);
    let mut cursor = RenderCursor::default();
    loop {
        buf.clear();
        let more = result.render(&mut cursor, buf, common::RENDER_CHUNK);
        up |= buf.windows(9).any(|w| w == b"pbs_up 1\n");
        bytes += buf.len() as u64;
        if !more {
            return (bytes, up);
        }
    }
}
