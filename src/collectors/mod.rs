//! Collectors: one file per PBS area, each knowing its endpoints, the fields it reads and the
//! metric families it writes. The scrape (`crate::scrape`) runs the enabled ones in order.
//!
//! Adding a collector means one new file and one line in the [`collectors!`] table below: the
//! file has a `Family` table (`crate::families!`), a `State` (what it keeps from scrape to
//! scrape, owned by its slot in the scraper) and `async fn collect(ctx, state, out)`.

pub mod datastore;
pub mod groups;
pub mod inventory;
pub mod jobs;
pub mod node;
pub mod process;
mod short_str;
pub mod snapshot_refresh;
pub mod snapshots;
pub mod store_calls;
pub mod subscription;
pub mod tape;
pub mod task_state;
pub mod tasks;

use crate::client::{PbsClient, PbsError};
use crate::exposition::{Families, FamilyDesc};
use inventory::Inventory;
use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::time::{Duration, Instant};

/// Longest free-text label value (notes, comments, error texts) kept, in bytes: Prometheus
/// stores every distinct label value, and one line of text is what a dashboard shows anyway.
pub const MAX_TEXT_LABEL: usize = 256;

/// Declares the collectors, in run order: for each, its [`CollectorId`] variant, its name (in
/// `--collectors` and the `collector` label), whether it runs by default, whether
/// `--keep-last-values` keeps its families while PBS is unreachable, its module (which
/// provides `Family`, `State` and `collect`). Everything else that lists collectors is
/// generated from this table.
macro_rules! collectors {
    ($(
        $(#[doc = $doc:literal])+
        $id:ident => $name:literal, default $on:literal, kept $kept:literal, $module:ident;
    )+) => {
        /// The collectors, in the order a scrape runs them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum CollectorId {
            $($(#[doc = $doc])+ $id,)+
        }

        impl CollectorId {
            /// Every collector, in run order.
            pub const ALL: &'static [CollectorId] = &[$(CollectorId::$id,)+];

            /// The collector's name, as used in `--collectors` and the `collector` label.
            pub fn name(self) -> &'static str {
                match self {
                    $(CollectorId::$id => $name,)+
                }
            }

            /// Whether the collector runs when `--collectors` does not mention it.
            pub fn default_enabled(self) -> bool {
                match self {
                    $(CollectorId::$id => $on,)+
                }
            }

            /// Whether `--keep-last-values` serves this collector's families from the last good
            /// scrape while PBS is unreachable (`crate::collection`).
            pub fn kept_while_unreachable(self) -> bool {
                match self {
                    $(CollectorId::$id => $kept,)+
                }
            }

            /// The metric families the collector writes.
            pub fn families(self) -> &'static [FamilyDesc] {
                match self {
                    $(CollectorId::$id => $module::Family::TABLE,)+
                }
            }

            /// A fresh state for the collector's slot.
            pub fn new_state(self) -> State {
                match self {
                    $(CollectorId::$id => State::$id(Box::default()),)+
                }
            }
        }

        /// What one collector keeps from scrape to scrape (per-item structs, aggregates, request
        /// paths: strings keep their capacity, so a steady-state scrape reuses them). Owned by
        /// the collector's slot in the scraper.
        pub enum State {
            $($(#[doc = $doc])+ $id(Box<$module::State>),)+
        }

        /// Frees what the collector keeps only to reuse it in the next scrape (request paths,
        /// the item being read, per-scrape lists) when its target is released: a target held
        /// idle keeps only what the next scrape needs to know (aggregates, what was logged).
        pub fn free_reuse(state: &mut State) {
            match state {
                $(State::$id(s) => IdleState::free_reuse(&mut **s),)+
            }
        }

        /// Moves what a released target's collector keeps into new allocations: called once
        /// no multi-target scrape is in progress (a default-target scrape may be), so few
        /// scrape buffers are left between the free chunks, the copies fill few pages and the
        /// pages of the old blocks can go back to the OS.
        pub fn repack(state: &mut State) {
            match state {
                $(State::$id(s) => IdleState::repack(&mut **s),)+
            }
        }

        /// Runs one collector with its state, writing its samples into `out`. Failures are
        /// pushed to `ctx.errors`.
        pub async fn collect(state: &mut State, ctx: &mut Ctx<'_>, out: &mut Families) {
            match state {
                $(State::$id(s) => $module::collect(ctx, s, out).await,)+
            }
        }
    };
}

collectors! {
    /// Host status of the PBS node.
    Node => "node", default true, kept false, node;
    /// Datastore usage, mount, maintenance and garbage-collection figures.
    Datastore => "datastore", default true, kept true, datastore;
    /// Backup groups in every namespace.
    Groups => "groups", default true, kept true, groups;
    /// Snapshots aggregated per group and datastore (costly for PBS).
    Snapshots => "snapshots", default true, kept true, snapshots;
    /// Last and next runs of GC, verify, sync, prune and tape-backup jobs.
    Jobs => "jobs", default true, kept false, jobs;
    /// Tasks running now and finished within `--tasks-window`, by type and outcome.
    Tasks => "tasks", default true, kept false, tasks;
    /// The PBS subscription's status and due date.
    Subscription => "subscription", default true, kept false, subscription;
    /// Tape drives, changers and media (nothing when PBS has no tape or the token no
    /// `Tape.Audit`).
    Tape => "tape", default true, kept false, tape;
}

/// A collector's state while its target is held idle: what it frees when the target is
/// released ([`free_reuse`]), and how it moves what it keeps ([`repack`]).
pub trait IdleState: Default {
    /// Frees what is kept only for reuse: everything, unless the collector says otherwise
    /// (most states are only reused, and carry nothing to the next scrape).
    fn free_reuse(&mut self) {
        *self = Self::default();
    }

    /// Moves what is kept into new allocations; nothing, unless the collector keeps more than
    /// a few blocks.
    fn repack(&mut self) {}
}

/// Largest `--snapshot-history`: per-snapshot series grow with N × groups.
pub const MAX_SNAPSHOT_HISTORY: usize = 100;

/// What collectors are told by the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How far back `tasks` counts finished tasks (`--tasks-window`).
    pub tasks_window: Duration,
    /// Per-snapshot series for the newest N finished snapshots of each group
    /// (`--snapshot-history`, 0: none; at most [`MAX_SNAPSHOT_HISTORY`]).
    pub snapshot_history: usize,
    /// Which snapshot lists a scrape reads (`--snapshots-refresh`).
    pub snapshots_refresh: snapshot_refresh::Refresh,
    /// Longest time between two full reads of a datastore's snapshots
    /// (`--snapshots-max-age`).
    pub snapshots_max_age: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tasks_window: Duration::from_secs(24 * 3600),
            snapshot_history: 0,
            snapshots_refresh: snapshot_refresh::Refresh::Changed,
            snapshots_max_age: Duration::from_secs(600),
        }
    }
}

impl CollectorId {
    /// Looks a collector up by name.
    pub fn from_name(name: &str) -> Option<CollectorId> {
        CollectorId::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// The collectors that run when `--collectors` is not given.
    pub fn defaults() -> impl Iterator<Item = CollectorId> {
        CollectorId::ALL
            .iter()
            .copied()
            .filter(|c| c.default_enabled())
    }
}

/// What a collector needs from the scrape: the PBS client, the datastores and namespaces
/// shared between collectors, the deadline, and where to report failures.
pub struct Ctx<'a> {
    /// The PBS client.
    pub client: &'a mut PbsClient,
    /// Datastores and namespaces, loaded once per scrape on first use.
    pub inventory: &'a mut Inventory,
    /// When the scrape must be done.
    pub deadline: Instant,
    /// Failures of the running collector, worded for the admin.
    pub errors: &'a mut Vec<String>,
    /// The configuration's settings for collectors.
    pub settings: &'a Settings,
    /// natrontech's families, when `--compat natrontech` asks for them.
    pub compat: Option<&'a mut Families>,
}

/// Keys of the items already written from one response. PBS never repeats an item, but a
/// repeated one (a broken proxy, a fuzzer) must not become a duplicate series, which
/// Prometheus would silently drop. Hashes only: the set keeps its capacity and allocates
/// nothing in a steady state. The hash key is random per process, so nobody who names backup
/// groups can precompute a collision that would hide a group; a chance collision between two
/// real keys (64 bits) is negligible.
#[derive(Default)]
pub struct Seen {
    hashes: HashSet<u64, BuildHasherDefault<IdentityHasher>>,
    keys: RandomState,
}

impl Seen {
    /// Forgets the keys, keeping capacity.
    pub fn clear(&mut self) {
        self.hashes.clear();
    }

    /// True the first time this key (its parts in order) is offered.
    pub fn first(&mut self, parts: &[&str]) -> bool {
        self.hashes.insert(self.keys.hash_one(parts))
    }
}

/// The set's values are already hashes.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl Ctx<'_> {
    /// Records a failure; the collector will be reported as failed.
    pub fn fail(&mut self, what: std::fmt::Arguments<'_>, e: &PbsError) {
        self.errors.push(format!("{what}: {e}"));
    }
}

/// The number of datastores to walk, or `None` (failure recorded) when the list is unavailable.
pub async fn datastore_count(ctx: &mut Ctx<'_>) -> Option<usize> {
    match ctx.inventory.datastores(ctx.client, ctx.deadline).await {
        Ok(s) => Some(s.len()),
        Err(e) => {
            ctx.errors.push(e);
            None
        }
    }
}

/// Datastore `i` with its namespaces loaded, or `None` when it is not readable now (reported by
/// `pbs_datastore_up`) or its namespaces could not be listed (failure recorded).
pub async fn readable_store<'i>(
    inventory: &'i mut Inventory,
    client: &mut PbsClient,
    deadline: Instant,
    errors: &mut Vec<String>,
    i: usize,
) -> Option<&'i inventory::Datastore> {
    match inventory.namespaces_if_readable(i, client, deadline).await {
        Ok(store) => store,
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// Path of a per-datastore API call, with the namespace as `ns` query parameter (left out for
/// the root), into a reused string.
pub fn datastore_path(out: &mut String, store: &str, call: &str, ns: &str) {
    out.clear();
    out.push_str("/admin/datastore/");
    crate::client::push_query_value(out, store);
    out.push('/');
    out.push_str(call);
    if !ns.is_empty() {
        out.push_str("?ns=");
        crate::client::push_query_value(out, ns);
    }
}

/// Copies `src` into a reused string.
pub fn set(dst: &mut String, src: &str) {
    dst.clear();
    dst.push_str(src);
}
