//! The datastore collector's calls per datastore, after the one usage call for all: active
//! operations (`GET /admin/datastore/{store}/active-operations`, every readable store) and, for
//! S3-backed stores only, the S3 traffic counters (`s3-statistics` of `GET
//! /admin/datastore/{store}/status?verbose=1`). Their samples go into the datastore families.

use super::datastore::Family;
use super::inventory::Datastore;
use crate::client::{PbsClient, push_query_value};
use crate::exposition::Families;
use crate::json::{JsonError, JsonReader, Path, Scalar, Sink};
use std::time::Instant;

/// `active-operations` fields, in label order.
const KINDS: [&str; 2] = ["read", "write"];

/// `s3-statistics` request counters: (field, `method` label).
const METHODS: [&str; 5] = ["get", "put", "post", "head", "delete"];

/// What one datastore's calls read.
#[derive(Default)]
struct Figures {
    /// Active operations by [`KINDS`].
    ops: [Option<u64>; 2],
    uploaded: Option<u64>,
    downloaded: Option<u64>,
    /// Requests by [`METHODS`].
    requests: [Option<u64>; 5],
}

impl Figures {
    fn reset(&mut self) {
        *self = Figures::default();
    }

    fn write_ops(&self, out: &mut Families, store: &str) {
        for (kind, n) in KINDS.iter().zip(self.ops) {
            if let Some(n) = n {
                out.sample(
                    Family::ActiveOperations,
                    &[("datastore", store), ("kind", kind)],
                    n,
                );
            }
        }
    }

    fn write_s3(&self, out: &mut Families, store: &str) {
        let ds = out.labels(&[("datastore", store)]);
        if let Some(n) = self.uploaded {
            out.sample_in(Family::S3Uploaded, ds, n);
        }
        if let Some(n) = self.downloaded {
            out.sample_in(Family::S3Downloaded, ds, n);
        }
        for (method, n) in METHODS.iter().zip(self.requests) {
            if let Some(n) = n {
                out.sample_in_with(Family::S3Requests, ds, &[("method", method)], n);
            }
        }
    }
}

impl Sink for Figures {
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        if let Some(key) = path.data_key() {
            if let Some(i) = KINDS.iter().position(|k| *k == key) {
                self.ops[i] = value.as_u64();
            }
        } else if path.len() == 3
            && path.key(0) == Some("data")
            && path.key(1) == Some("s3-statistics")
        {
            match path.key(2) {
                Some("uploaded") => self.uploaded = value.as_u64(),
                Some("downloaded") => self.downloaded = value.as_u64(),
                Some(k) => {
                    if let Some(i) = METHODS.iter().position(|m| *m == k) {
                        self.requests[i] = value.as_u64();
                    }
                }
                None => {}
            }
        }
    }
}

/// What the per-datastore calls keep between scrapes.
#[derive(Default)]
pub struct State {
    path: String,
    figures: Figures,
}

/// Asks PBS for `store`'s active operations and, when it is S3-backed, its S3 counters. A
/// failed call is pushed to `errors`; the other's samples are still written.
pub async fn collect(
    client: &mut PbsClient,
    deadline: Instant,
    errors: &mut Vec<String>,
    state: &mut State,
    store: &Datastore,
    out: &mut Families,
) {
    let State { path, figures } = state;
    let mut calls = [Some(Call::ActiveOperations), None];
    if store.is_s3() {
        calls[1] = Some(Call::S3Statistics);
    }
    for call in calls.into_iter().flatten() {
        call.path(path, &store.name);
        figures.reset();
        match client.get_json(path, figures, deadline).await {
            Ok(()) => call.write(figures, out, &store.name),
            Err(e) => errors.push(format!(
                "reading {} of datastore '{}': {e}",
                call.what(),
                store.name
            )),
        }
    }
}

/// One of the per-datastore calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `/admin/datastore/{store}/active-operations`.
    ActiveOperations,
    /// `/admin/datastore/{store}/status?verbose=1`, for its `s3-statistics`.
    S3Statistics,
}

impl Call {
    fn path(self, out: &mut String, store: &str) {
        out.clear();
        out.push_str("/admin/datastore/");
        push_query_value(out, store);
        out.push_str(match self {
            Call::ActiveOperations => "/active-operations",
            Call::S3Statistics => "/status?verbose=1",
        });
    }

    fn what(self) -> &'static str {
        match self {
            Call::ActiveOperations => "the active operations",
            Call::S3Statistics => "the S3 statistics",
        }
    }

    fn write(self, figures: &Figures, out: &mut Families, store: &str) {
        match self {
            Call::ActiveOperations => figures.write_ops(out, store),
            Call::S3Statistics => figures.write_s3(out, store),
        }
    }
}

/// Writes the samples of one call's body given in pieces (fuzzing, benchmarks).
pub fn from_json<'p>(
    call: Call,
    store: &str,
    pieces: impl IntoIterator<Item = &'p [u8]>,
    out: &mut Families,
) -> Result<(), JsonError> {
    let mut figures = Figures::default();
    JsonReader::new().read_pieces(pieces, &mut figures)?;
    call.write(&figures, out, store);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(call: Call, body: &[u8]) -> String {
        let mut f = Families::new(Family::TABLE);
        from_json(call, "s3-archive", body.chunks(9), &mut f).unwrap();
        let mut out = Vec::new();
        f.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_s3_fixture_reads_as_pbs_sends_it() {
        let t = text(
            Call::S3Statistics,
            include_bytes!("../../tests/fixtures/datastore-status-s3.json"),
        );
        for line in [
            "pbs_datastore_s3_uploaded_bytes_total{datastore=\"s3-archive\"} 611408812032\n",
            "pbs_datastore_s3_downloaded_bytes_total{datastore=\"s3-archive\"} 18253611008\n",
            "pbs_datastore_s3_requests_total{datastore=\"s3-archive\",method=\"get\"} 40117\n",
            "pbs_datastore_s3_requests_total{datastore=\"s3-archive\",method=\"put\"} 251930\n",
            "pbs_datastore_s3_requests_total{datastore=\"s3-archive\",method=\"post\"} 12\n",
            "pbs_datastore_s3_requests_total{datastore=\"s3-archive\",method=\"head\"} 503221\n",
            "pbs_datastore_s3_requests_total{datastore=\"s3-archive\",method=\"delete\"} 0\n",
        ] {
            assert!(t.contains(line), "missing {line}{t}");
        }
        // gc-status and counts of the same body are not read here.
        assert!(!t.contains("gc"), "{t}");
    }

    #[test]
    fn active_operations_and_odd_values() {
        let t = text(Call::ActiveOperations, br#"{"data":{"read":3,"write":0}}"#);
        assert!(
            t.contains(
                "pbs_datastore_active_operations{datastore=\"s3-archive\",kind=\"read\"} 3\n"
            ),
            "{t}"
        );
        assert!(t.contains("kind=\"write\"} 0\n"), "{t}");
        // A negative or missing value costs only its sample.
        let t = text(Call::ActiveOperations, br#"{"data":{"read":-1}}"#);
        assert!(!t.contains("pbs_datastore_active_operations"), "{t}");
        let t = text(Call::S3Statistics, br#"{"data":{"total":1}}"#);
        assert!(t.is_empty(), "{t}");
    }
}
