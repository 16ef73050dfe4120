//! What the scrapes cost the simulated PBS: requests, items and body bytes per endpoint, and the
//! snapshot items (each one a manifest PBS reads from disk) per datastore. Read and reset by
//! tests ([`SimHandle::cost`](crate::SimHandle::cost)) and over HTTP (`GET /sim/cost`, see
//! [`crate::control`]) by `scripts/footprint.sh`.

use std::collections::BTreeMap;
use std::fmt;

/// The cost of one endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointCost {
    /// Requests answered.
    pub requests: u64,
    /// Array items served (snapshots, tasks); 0 for fixed bodies.
    pub items: u64,
    /// Body bytes served (without chunk framing).
    pub bytes: u64,
}

/// The cost since the last reset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// By endpoint, with the datastore and node written `{store}` and `{node}`, e.g.
    /// `/admin/datastore/{store}/snapshots`.
    pub endpoints: BTreeMap<String, EndpointCost>,
    /// Snapshot items served per datastore.
    pub snapshots_by_store: BTreeMap<String, u64>,
}

/// The endpoint of `/snapshots` in [`Cost::endpoints`].
pub const SNAPSHOTS: &str = "/admin/datastore/{store}/snapshots";

impl Cost {
    /// Snapshot items served: the manifests PBS would have read.
    pub fn manifests(&self) -> u64 {
        self.endpoint(SNAPSHOTS).items
    }

    /// Snapshot items served of one datastore.
    pub fn manifests_of(&self, store: &str) -> u64 {
        self.snapshots_by_store.get(store).copied().unwrap_or(0)
    }

    /// The cost of one endpoint (zero when it was not asked).
    pub fn endpoint(&self, name: &str) -> EndpointCost {
        self.endpoints.get(name).copied().unwrap_or_default()
    }

    /// Body bytes served over all endpoints.
    pub fn bytes(&self) -> u64 {
        self.endpoints.values().map(|e| e.bytes).sum()
    }

    pub(crate) fn record(&mut self, endpoint: &str, store: Option<&str>, items: u64, bytes: u64) {
        let e = self.endpoints.entry(endpoint.to_string()).or_default();
        e.requests += 1;
        e.items += items;
        e.bytes += bytes;
        if let (SNAPSHOTS, Some(store)) = (endpoint, store) {
            *self
                .snapshots_by_store
                .entry(store.to_string())
                .or_default() += items;
        }
    }
}

/// The text `GET /sim/cost` answers: `manifests N`, `bytes N`, then one line per endpoint
/// (`endpoint PATH requests N items N bytes N`) and per datastore
/// (`store NAME manifests N`).
impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "manifests {}", self.manifests())?;
        writeln!(f, "bytes {}", self.bytes())?;
        for (name, e) in &self.endpoints {
            writeln!(
                f,
                "endpoint {name} requests {} items {} bytes {}",
                e.requests, e.items, e.bytes
            )?;
        }
        for (store, n) in &self.snapshots_by_store {
            writeln!(f, "store {store} manifests {n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_endpoint_and_store() {
        let mut c = Cost::default();
        c.record(SNAPSHOTS, Some("store1"), 30, 1000);
        c.record(SNAPSHOTS, Some("store2"), 5, 200);
        c.record("/admin/datastore/{store}/groups", Some("store1"), 0, 50);
        assert_eq!(
            (c.manifests(), c.manifests_of("store2"), c.bytes()),
            (35, 5, 1250)
        );
        assert_eq!(c.endpoint(SNAPSHOTS).requests, 2);
        let text = c.to_string();
        assert!(text.starts_with("manifests 35\nbytes 1250\n"), "{text}");
        assert!(text.contains(
            "endpoint /admin/datastore/{store}/snapshots requests 2 items 35 bytes 1200\n"
        ));
        assert!(text.contains("store store1 manifests 30\n"));
    }
}
