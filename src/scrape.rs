//! One scrape of one PBS: checks that PBS answers (`/version`), runs the enabled collectors in
//! order within the scrape's deadline, and assembles the exposition into a reused buffer.
//! Failures are logged when they change, not on every scrape.

use crate::client::PbsClient;
use crate::collectors::inventory::Inventory;
use crate::collectors::process::{self, ProcessStats};
use crate::collectors::{self, CollectorId, Ctx};
use crate::exposition::{Cursor, Families};
use crate::json::{Path, Scalar, Sink};
use crate::{log_info, log_warn};
use std::time::Instant;

crate::families! {
    pub enum Family {
        Up => Gauge "pbs_up" "1 when PBS answered and accepted the API token, 0 otherwise.",
        Version => Gauge "pbs_version_info" "The PBS version as labels (version, release, repoid). Always 1.",
        CollectorSuccess => Gauge "pbs_scrape_collector_success" "1 when the collector got everything it asked PBS for in this scrape.",
        CollectorDuration => Gauge "pbs_scrape_collector_duration_seconds" "Wall time the collector took in this scrape.",
        BuildInfo => Gauge "pbs_exporter_build_info" "The exporter's version as a label. Always 1.",
    }
}

/// The state of one collector between scrapes.
struct Slot {
    id: CollectorId,
    /// What the collector keeps between scrapes.
    state: collectors::State,
    families: Families,
    /// This scrape's failures.
    errors: Vec<String>,
    /// A digest of the previous scrape's failures, to log only changes.
    last_errors: u64,
}

/// Scrapes one PBS. Reuse it: its buffers keep their capacity.
pub struct Scraper {
    client: PbsClient,
    slots: Vec<Slot>,
    core: Families,
    process: Families,
    process_stats: ProcessStats,
    inventory: Inventory,
    settings: collectors::Settings,
    version: Version,
    /// Whether the previous scrape found PBS up (`None` before the first).
    was_up: Option<bool>,
}

/// `/version`'s fields.
#[derive(Default)]
struct Version {
    version: String,
    release: String,
    repoid: String,
}

impl Sink for Version {
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        let field = match path.data_key() {
            Some("version") => &mut self.version,
            Some("release") => &mut self.release,
            Some("repoid") => &mut self.repoid,
            _ => return,
        };
        collectors::set(field, value.as_str().unwrap_or(""));
    }
}

impl Scraper {
    /// A scraper that runs `enabled` collectors against PBS through `client`.
    pub fn new(client: PbsClient, enabled: &[CollectorId]) -> Self {
        let slots = CollectorId::ALL
            .iter()
            .copied()
            .filter(|id| enabled.contains(id))
            .map(|id| Slot {
                id,
                state: id.new_state(),
                families: Families::new(id.families()),
                errors: Vec::new(),
                last_errors: digest(&[]),
            })
            .collect();
        Scraper {
            client,
            slots,
            core: Families::new(Family::TABLE),
            process: Families::new(process::Family::TABLE),
            process_stats: ProcessStats::new(),
            inventory: Inventory::default(),
            settings: collectors::Settings::default(),
            version: Version::default(),
            was_up: None,
        }
    }

    /// The same scraper with `settings` for its collectors (default: [`collectors::Settings`]'s).
    pub fn with_settings(mut self, settings: collectors::Settings) -> Self {
        self.settings = settings;
        self
    }

    /// The PBS client.
    pub fn client(&self) -> &PbsClient {
        &self.client
    }

    /// Renders the last scrape's exposition from `cursor` into `out`, until `out` holds at least
    /// `limit` bytes or all is rendered; returns true when there is more.
    pub fn render(&self, cursor: &mut RenderCursor, out: &mut Vec<u8>, limit: usize) -> bool {
        let sets = 2 + self.slots.len();
        while cursor.set < sets {
            let families = match cursor.set {
                0 => &self.core,
                i if i <= self.slots.len() => &self.slots[i - 1].families,
                _ => &self.process,
            };
            if families.render(&mut cursor.inner, out, limit) {
                return true;
            }
            cursor.set += 1;
            cursor.inner = Cursor::default();
            if out.len() >= limit {
                return cursor.set < sets;
            }
        }
        false
    }

    /// Appends the whole exposition of the last scrape to `out`.
    pub fn render_all(&self, out: &mut Vec<u8>) {
        let mut cursor = RenderCursor::default();
        while self.render(&mut cursor, out, usize::MAX) {}
    }

    /// Scrapes PBS, finishing by `deadline`. Render the result with [`Scraper::render`].
    pub async fn scrape(&mut self, deadline: Instant) {
        self.core.clear();
        self.inventory.clear();
        for s in &mut self.slots {
            s.families.clear();
            s.errors.clear();
        }
        self.version.version.clear();
        self.version.release.clear();
        self.version.repoid.clear();

        let up = match self
            .client
            .get_json("/version", &mut self.version, deadline)
            .await
        {
            Ok(()) => true,
            Err(e) => {
                if self.was_up != Some(false) {
                    log_warn!("PBS is down for this exporter: {e}");
                }
                false
            }
        };
        if up && self.was_up == Some(false) {
            log_info!("PBS at {} answers again", self.client.endpoint());
        }
        self.was_up = Some(up);
        self.core.sample(Family::Up, &[], up);
        if up {
            let v = &self.version;
            self.core.sample(
                Family::Version,
                &[
                    ("version", &v.version),
                    ("release", &v.release),
                    ("repoid", &v.repoid),
                ],
                1u64,
            );
        }

        for slot in &mut self.slots {
            let started = Instant::now();
            let name = slot.id.name();
            if !up {
                slot.errors.push("PBS is down".into());
            } else if started >= deadline {
                slot.errors
                    .push("the scrape deadline passed before this collector ran".into());
            } else {
                let mut ctx = Ctx {
                    client: &mut self.client,
                    inventory: &mut self.inventory,
                    deadline,
                    errors: &mut slot.errors,
                    settings: &self.settings,
                };
                collectors::collect(&mut slot.state, &mut ctx, &mut slot.families).await;
            }
            let ok = slot.errors.is_empty();
            let labels = [("collector", name)];
            self.core.sample(Family::CollectorSuccess, &labels, ok);
            self.core.sample(
                Family::CollectorDuration,
                &labels,
                started.elapsed().as_secs_f64(),
            );
            if up {
                report_changes(slot);
            }
        }
        self.core.sample(
            Family::BuildInfo,
            &[("version", env!("CARGO_PKG_VERSION"))],
            1u64,
        );
        self.process.clear();
        self.process_stats.collect(&mut self.process);
    }
}

/// A position in the rendering of a scrape: which family set, and where in it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderCursor {
    set: usize,
    inner: Cursor,
}

/// Logs a collector's failures when they differ from the previous scrape's, and its recovery.
fn report_changes(slot: &mut Slot) {
    let digest = digest(&slot.errors);
    if digest == slot.last_errors {
        return;
    }
    if slot.errors.is_empty() {
        log_info!("collector {} works again", slot.id.name());
    }
    for e in &slot.errors {
        log_warn!("collector {} failed: {e}", slot.id.name());
    }
    slot.last_errors = digest;
}

/// FNV-1a over a list of messages.
fn digest(errors: &[String]) -> u64 {
    errors.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, e| {
        e.bytes()
            .fold(h, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
    })
}
