//! Each endpoint's parse-and-write path (`from_json`: JSON push parser → item extractor →
//! samples in `Families`) on realistic bodies from the simulator, reference- and large-profile
//! sized, fed in 16 KiB pieces like the client's read buffer. Throughput is MB/s of JSON.

mod support;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use pbs_exporter::collectors::inventory::Inventory;
use pbs_exporter::collectors::{datastore, groups, node, snapshots};
use pbs_exporter::exposition::Families;
use pbs_sim::Profile;
use std::hint::black_box;
use support::PIECE;

/// The bodies of one profile.
struct Bodies {
    name: &'static str,
    node: Vec<u8>,
    usage: Vec<u8>,
    list: Vec<u8>,
    groups: Vec<u8>,
    snapshots: Vec<u8>,
}

fn bodies(name: &'static str, profile: Profile) -> Bodies {
    let sim = support::start_sim(profile, false);
    let b = Bodies {
        name,
        node: support::fetch(&sim, "/nodes/localhost/status"),
        usage: support::fetch(&sim, "/status/datastore-usage"),
        list: support::fetch(&sim, "/admin/datastore"),
        // The root namespace of one datastore: what one request of each collector carries.
        groups: support::fetch(&sim, "/admin/datastore/store1/groups"),
        snapshots: support::fetch(&sim, "/admin/datastore/store1/snapshots"),
    };
    sim.stop();
    b
}

fn pieces(body: &[u8]) -> std::slice::Chunks<'_, u8> {
    body.chunks(PIECE)
}

fn parse(c: &mut Criterion) {
    let sets = [
        bodies("reference", Profile::REFERENCE),
        bodies("large", Profile::LARGE),
    ];
    let mut g = c.benchmark_group("parse");
    // Flat sampling: the large snapshot body takes ~5 ms per iteration.
    g.sampling_mode(SamplingMode::Flat);
    for b in &sets {
        g.throughput(Throughput::Bytes(b.node.len() as u64));
        let mut out = Families::new(node::Family::TABLE);
        g.bench_function(BenchmarkId::new("node", label(b.name, &b.node)), |bench| {
            bench.iter(|| {
                out.clear();
                node::from_json(pieces(black_box(&b.node)), &mut out).unwrap();
            })
        });

        g.throughput(Throughput::Bytes(b.usage.len() as u64));
        let mut out = Families::new(datastore::Family::TABLE);
        g.bench_function(
            BenchmarkId::new("datastore", label(b.name, &b.usage)),
            |bench| {
                bench.iter(|| {
                    out.clear();
                    datastore::from_json(pieces(black_box(&b.usage)), &mut out).unwrap();
                })
            },
        );

        g.throughput(Throughput::Bytes(b.list.len() as u64));
        let mut inv = Inventory::default();
        g.bench_function(
            BenchmarkId::new("inventory_list", label(b.name, &b.list)),
            |bench| {
                bench.iter(|| {
                    black_box(
                        inv.list_from_json(pieces(black_box(&b.list)))
                            .unwrap()
                            .len(),
                    );
                })
            },
        );

        g.throughput(Throughput::Bytes(b.groups.len() as u64));
        let mut out = Families::new(groups::Family::TABLE);
        g.bench_function(
            BenchmarkId::new("groups", label(b.name, &b.groups)),
            |bench| {
                bench.iter(|| {
                    out.clear();
                    groups::from_json("store1", "", pieces(black_box(&b.groups)), &mut out).unwrap()
                })
            },
        );

        g.throughput(Throughput::Bytes(b.snapshots.len() as u64));
        let mut out = Families::new(snapshots::Family::TABLE);
        g.bench_function(
            BenchmarkId::new("snapshots", label(b.name, &b.snapshots)),
            |bench| {
                bench.iter(|| {
                    out.clear();
                    snapshots::from_json(
                        "store1",
                        "",
                        0,
                        pieces(black_box(&b.snapshots)),
                        &mut out,
                    )
                    .unwrap();
                })
            },
        );
    }
    g.finish();
}

/// `reference/165432B`: the profile and the body size.
fn label(profile: &str, body: &[u8]) -> String {
    format!("{profile}/{}B", body.len())
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = parse
}
criterion_main!(benches);
