//! `parse_count snapshots|datastore FILE N`: parses a saved PBS body N times, in 16 KiB pieces
//! (twice the client's reads, `client::READ_BUFFER`; DESIGN.md's counts are for these pieces),
//! through a collector's `from_json`, for instruction counts under callgrind (the machine is
//! shared, so wall time is noise; instructions are not). Per parse: the count with N = 6 less
//! the count with N = 1, over 5 (start-up and reading the file cancel out).
//!
//! ```text
//! target/release/pbs-sim --profile large --listen 127.0.0.1:18917 &
//! A='Authorization: PBSAPIToken=monitor@pbs!exporter:0b8c5f3e-6a1d-4c2e-9f47-3d2a1b0c9e8f'
//! curl -sk -H "$A" https://127.0.0.1:18917/api2/json/admin/datastore/store1/snapshots -o snaps.json
//! curl -sk -H "$A" https://127.0.0.1:18917/api2/json/status/datastore-usage -o usage.json
//! cargo build --release --example parse_count
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/parse_count snapshots snaps.json 6     # then with 1
//! ```

use pbs_exporter::collectors::{datastore, snapshots};
use pbs_exporter::exposition::Families;
use std::hint::black_box;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let body = std::fs::read(&a[2]).unwrap();
    let n: usize = a[3].parse().unwrap();
    if a[1] == "snapshots" {
        let mut out = Families::new(snapshots::Family::TABLE);
        for _ in 0..n {
            out.clear();
            snapshots::from_json(
                "store1",
                "",
                0,
                black_box(&body).chunks(16 * 1024),
                &mut out,
            )
            .unwrap();
        }
    } else {
        let mut out = Families::new(datastore::Family::TABLE);
        for _ in 0..n {
            out.clear();
            datastore::from_json(black_box(&body).chunks(16 * 1024), &mut out).unwrap();
        }
    }
}
