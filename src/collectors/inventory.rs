//! The datastores and namespaces of one PBS, loaded once per scrape on first use and shared by
//! the collectors that walk them. Its strings are reused from scrape to scrape.

use super::set;
use crate::client::{PbsClient, PbsError};
use crate::json::{JsonError, JsonReader, Path, Scalar, Sink};
use std::time::Instant;

/// One datastore as `/admin/datastore` lists it.
#[derive(Debug, Default)]
pub struct Datastore {
    /// The datastore's name.
    pub name: String,
    /// `mounted`, `notmounted`, `nonremovable`, or empty before PBS 3.3.
    pub mount_status: String,
    /// The maintenance type (`offline`, `read-only`, ...), empty when not in maintenance.
    pub maintenance: String,
    /// `filesystem` or `s3` (PBS ≥ 4.1.7), empty before.
    pub backend_type: String,
    /// Every namespace, root (`""`) first, once loaded.
    namespaces: Vec<String>,
    ns_len: usize,
    /// `None` until loaded; then whether the namespace list was read.
    ns_state: Option<Result<(), String>>,
}

impl Datastore {
    /// Whether PBS can read the datastore now: mounted and not in a maintenance mode other
    /// than read-only.
    pub fn readable(&self) -> bool {
        self.mount_status != "notmounted"
            && (self.maintenance.is_empty() || self.maintenance == "read-only")
    }

    /// Whether the datastore keeps its chunks in S3.
    pub fn is_s3(&self) -> bool {
        self.backend_type == "s3"
    }

    fn dedup_namespaces(&mut self) {
        self.ns_len = dedup_sorted(&mut self.namespaces[..self.ns_len], |a, b| a == b);
    }

    /// The namespaces loaded by [`Inventory::namespaces`].
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces[..self.ns_len]
    }
}

/// The datastores of this scrape.
#[derive(Debug, Default)]
pub struct Inventory {
    stores: Vec<Datastore>,
    len: usize,
    /// `None` until loaded; then whether the list was read.
    state: Option<Result<(), String>>,
    path: String,
}

impl Inventory {
    /// Forgets the previous scrape's data, keeping allocations.
    pub fn clear(&mut self) {
        self.len = 0;
        self.state = None;
    }

    /// Frees the previous scrape's data (a target held idle).
    pub fn release(&mut self) {
        *self = Inventory::default();
    }

    /// The datastores, sorted by name (loaded on first call).
    pub async fn datastores(
        &mut self,
        client: &mut PbsClient,
        deadline: Instant,
    ) -> Result<&[Datastore], String> {
        if self.state.is_none() {
            self.len = 0;
            let mut sink = ListSink {
                inv: self,
                item: Item::default(),
            };
            let r = client
                .get_json("/admin/datastore", &mut sink, deadline)
                .await;
            self.sort_and_dedup();
            self.state = Some(r.map_err(|e| format!("listing datastores: {e}")));
        }
        match &self.state {
            Some(Ok(())) => Ok(&self.stores[..self.len]),
            Some(Err(e)) => Err(e.clone()),
            None => Err("datastore list not loaded".into()),
        }
    }

    /// Loads the namespaces of datastore `i` (recursively, root first) on first call.
    pub async fn namespaces(
        &mut self,
        i: usize,
        client: &mut PbsClient,
        deadline: Instant,
    ) -> Result<&Datastore, String> {
        let store = &mut self.stores[i];
        if store.ns_state.is_none() {
            super::datastore_path(&mut self.path, &store.name, "namespace", "");
            store.ns_len = 0;
            let mut sink = NamespaceSink { store };
            let r: Result<(), PbsError> = client.get_json(&self.path, &mut sink, deadline).await;
            let store = &mut self.stores[i];
            store.namespaces[..store.ns_len].sort_unstable();
            store.dedup_namespaces();
            store.ns_state = Some(
                r.map_err(|e| format!("listing namespaces of datastore '{}': {e}", store.name)),
            );
        }
        let store = &self.stores[i];
        match &store.ns_state {
            Some(Ok(())) => Ok(store),
            Some(Err(e)) => Err(e.clone()),
            None => Err("namespaces not loaded".into()),
        }
    }

    /// Sorts by name and drops repeated names, so no series is written twice.
    fn sort_and_dedup(&mut self) {
        let stores = &mut self.stores[..self.len];
        stores.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        self.len = dedup_sorted(stores, |a, b| a.name == b.name);
    }

    /// Datastore `i` with its namespaces loaded, or `None` when it is not readable now (not
    /// mounted, in maintenance): `pbs_datastore_up` reports that, it is not a failure here.
    pub async fn namespaces_if_readable(
        &mut self,
        i: usize,
        client: &mut PbsClient,
        deadline: Instant,
    ) -> Result<Option<&Datastore>, String> {
        if !self.stores[i].readable() {
            return Ok(None);
        }
        self.namespaces(i, client, deadline).await.map(Some)
    }

    /// Loads the datastore list from a `/admin/datastore` body given in pieces (fuzzing,
    /// benchmarks); returns the datastores, sorted and without repeats.
    pub fn list_from_json<'p>(
        &mut self,
        pieces: impl IntoIterator<Item = &'p [u8]>,
    ) -> Result<&[Datastore], JsonError> {
        self.clear();
        let mut sink = ListSink {
            inv: self,
            item: Item::default(),
        };
        JsonReader::new().read_pieces(pieces, &mut sink)?;
        self.sort_and_dedup();
        self.state = Some(Ok(()));
        Ok(&self.stores[..self.len])
    }

    fn push(&mut self) -> &mut Datastore {
        if self.len == self.stores.len() {
            self.stores.push(Datastore::default());
        }
        self.len += 1;
        let s = &mut self.stores[self.len - 1];
        s.name.clear();
        s.mount_status.clear();
        s.maintenance.clear();
        s.backend_type.clear();
        s.ns_len = 0;
        s.ns_state = None;
        s
    }
}

#[derive(Default)]
struct Item {
    has_name: bool,
}

struct ListSink<'a> {
    inv: &'a mut Inventory,
    item: Item,
}

impl Sink for ListSink<'_> {
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        let (Some(key), Some(text)) = (path.item_key(), value.as_str()) else {
            return;
        };
        if !self.item.has_name {
            self.inv.push();
            self.item.has_name = true;
        }
        let s = &mut self.inv.stores[self.inv.len - 1];
        match key {
            "store" => set(&mut s.name, text),
            "mount-status" => set(&mut s.mount_status, text),
            "maintenance" => set(&mut s.maintenance, maintenance_type(text)),
            "backend-type" => set(&mut s.backend_type, text),
            _ => {}
        }
    }

    fn close(&mut self, path: &Path<'_>) {
        if path.is_item() {
            if self.item.has_name && self.inv.stores[self.inv.len - 1].name.is_empty() {
                self.inv.len -= 1;
            }
            self.item.has_name = false;
        }
    }
}

/// Moves the first of each run of equal neighbours to the front of `items` (without allocating);
/// returns how many are kept.
fn dedup_sorted<T>(items: &mut [T], same: impl Fn(&T, &T) -> bool) -> usize {
    let mut kept = 0;
    for i in 0..items.len() {
        if kept == 0 || !same(&items[i], &items[kept - 1]) {
            items.swap(kept, i);
            kept += 1;
        }
    }
    kept
}

/// The `type` of a maintenance property string such as `type=offline,message=disk%20replacement`.
pub fn maintenance_type(prop: &str) -> &str {
    for part in prop.split(',') {
        match part.split_once('=') {
            Some(("type", v)) => return v,
            None if !part.is_empty() => return part,
            _ => {}
        }
    }
    ""
}

struct NamespaceSink<'a> {
    store: &'a mut Datastore,
}

impl Sink for NamespaceSink<'_> {
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        if let (Some("ns"), Some(ns)) = (path.item_key(), value.as_str()) {
            let s = &mut *self.store;
            if s.ns_len == s.namespaces.len() {
                s.namespaces.push(String::new());
            }
            set(&mut s.namespaces[s.ns_len], ns);
            s.ns_len += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintenance_type_is_read_from_the_property_string() {
        assert_eq!(
            maintenance_type("type=offline,message=disk%20replacement"),
            "offline"
        );
        assert_eq!(maintenance_type("message=x,type=read-only"), "read-only");
        assert_eq!(maintenance_type("offline"), "offline");
        assert_eq!(maintenance_type(""), "");
    }
}
