//! The exposition writer: rendering a large-profile scrape's worth of samples (4 datastores ×
//! 5 namespaces × 100 groups × 30 snapshots) from the scraper's `Families` into a reused
//! output buffer: all at once (`render_all`) and 16 KiB at a time as the server writes
//! `/metrics`. Throughput is MB/s of exposition text.

mod support;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pbs_exporter::scrape::RenderCursor;
use pbs_sim::Profile;
use std::hint::black_box;

fn exposition(c: &mut Criterion) {
    // One real scrape of the large profile fills the families.
    let sim = support::start_sim(Profile::LARGE, true);
    let mut scraper = support::scraper(&sim);
    let mut out = Vec::new();
    support::scrape(&mut scraper, &mut out);
    support::check(&out);
    sim.stop();
    let samples = out
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && l[0] != b'#')
        .count();
    eprintln!(
        "exposition: large profile, {} bytes, {samples} samples",
        out.len()
    );

    let mut g = c.benchmark_group("exposition");
    g.throughput(Throughput::Bytes(out.len() as u64));
    g.bench_function(format!("render_all/large/{samples}samples"), |b| {
        b.iter(|| {
            out.clear();
            black_box(&scraper).render_all(&mut out);
            black_box(out.len())
        })
    });
    // As the server writes `/metrics`: 16 KiB at a time into one reused buffer.
    g.bench_function(format!("render_chunked/large/{samples}samples"), |b| {
        b.iter(|| {
            let mut cursor = RenderCursor::default();
            let mut total = 0;
            loop {
                out.clear();
                let more = black_box(&scraper).render(
                    &mut cursor,
                    &mut out,
                    pbs_exporter::server::connection::CHUNK,
                );
                total += black_box(out.len());
                if !more {
                    break total;
                }
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = exposition
}
criterion_main!(benches);
