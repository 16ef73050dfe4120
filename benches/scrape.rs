//! A whole scrape of the reference profile (10 datastores × 1 namespace × 10 groups × 30
//! snapshots; 34 requests, ~1.7 MB of JSON) against the in-process simulator over one
//! kept-alive, fingerprint-pinned TLS connection: `Scraper::scrape` + `render_all` into a reused
//! buffer. The simulator (generating and encrypting the bodies) shares the two cores with the
//! scraper, so this is an upper bound on the exporter's own time. Throughput is MB/s of JSON
//! received.

mod support;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use pbs_sim::Profile;

/// JSON bytes of one reference scrape, fetched the same way over plain HTTP.
fn json_bytes_per_scrape(profile: Profile) -> u64 {
    let sim = support::start_sim(profile, false);
    let mut n = 0;
    for p in [
        "/version",
        "/nodes/localhost/status",
        "/admin/datastore",
        "/status/datastore-usage",
    ] {
        n += support::fetch(&sim, p).len();
    }
    for d in 1..=profile.datastores {
        n += support::fetch(&sim, &format!("/admin/datastore/store{d}/namespace")).len();
        // The reference profile has only the root namespace.
        n += support::fetch(&sim, &format!("/admin/datastore/store{d}/groups")).len();
        n += support::fetch(&sim, &format!("/admin/datastore/store{d}/snapshots")).len();
    }
    sim.stop();
    n as u64
}

fn scrape(c: &mut Criterion) {
    let profile = Profile::REFERENCE;
    assert_eq!(profile.namespaces, 1);
    let json = json_bytes_per_scrape(profile);
    let sim = support::start_sim(profile, true);
    let mut scraper = support::scraper(&sim);
    let mut out = Vec::new();
    // The first scrape does the TLS handshake; the benchmark measures kept-alive scrapes.
    support::scrape(&mut scraper, &mut out);
    support::check(&out);
    eprintln!(
        "scrape: reference profile, {json} bytes of JSON, {} bytes of exposition",
        out.len()
    );

    let mut g = c.benchmark_group("scrape");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .measurement_time(std::time::Duration::from_secs(3))
        .throughput(Throughput::Bytes(json));
    g.bench_function("reference/tls-keepalive", |b| {
        b.iter(|| support::scrape(&mut scraper, &mut out))
    });
    g.finish();
    support::check(&out);
    drop(scraper);
    sim.stop();
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = scrape
}
criterion_main!(benches);
