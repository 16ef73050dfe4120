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
    /// This scrape's failures.
    errors: Vec<String>,
    /// A digest of the previous scrape's failures, to log only changes.
    last_errors: u64,
}

/// The samples of one scrape: the exporter's own families, one set per enabled collector (in
/// the scraper's order), and the process families. It keeps its buffers' capacity when reused.
pub struct Output {
    core: Families,
    collectors: Vec<Families>,
    process: Families,
}

impl Output {
    /// Renders the exposition from `cursor` into `out`, until `out` holds at least `limit`
    /// bytes or all is rendered; returns true when there is more.
    pub fn render(&self, cursor: &mut RenderCursor, out: &mut Vec<u8>, limit: usize) -> bool {
        let sets = 2 + self.collectors.len();
        while cursor.set < sets {
            let families = match cursor.set {
                0 => &self.core,
                i if i <= self.collectors.len() => &self.collectors[i - 1],
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

    /// Appends the whole exposition to `out`.
    pub fn render_all(&self, out: &mut Vec<u8>) {
        let mut cursor = RenderCursor::default();
        while self.render(&mut cursor, out, usize::MAX) {}
    }
}

/// Scrapes one PBS. Reuse it: its buffers keep their capacity.
pub struct Scraper {
    client: PbsClient,
    slots: Vec<Slot>,
    /// Where [`Scraper::scrape`] writes; see [`Scraper::swap_output`].
    output: Output,
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
        let slots: Vec<Slot> = CollectorId::ALL
            .iter()
            .copied()
            .filter(|id| enabled.contains(id))
            .map(|id| Slot {
                id,
                state: id.new_state(),
                errors: Vec::new(),
                last_errors: digest(&[]),
            })
            .collect();
        Scraper {
            output: empty_output(&slots),
            client,
            slots,
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

    /// Renders the last scrape's exposition; see [`Output::render`].
    pub fn render(&self, cursor: &mut RenderCursor, out: &mut Vec<u8>, limit: usize) -> bool {
        self.output.render(cursor, out, limit)
    }

    /// Appends the whole exposition of the last scrape to `out`.
    pub fn render_all(&self, out: &mut Vec<u8>) {
        self.output.render_all(out);
    }

    /// An empty output for this scraper's collectors.
    pub fn new_output(&self) -> Output {
        empty_output(&self.slots)
    }

    /// Exchanges the scraper's output with `other`: hand it a buffer set to scrape into, take
    /// the result out, and the scraper keeps no second set of its own.
    pub fn swap_output(&mut self, other: &mut Output) {
        std::mem::swap(&mut self.output, other);
    }

    /// Scrapes PBS, finishing by `deadline`. Render the result with [`Scraper::render`].
    pub async fn scrape(&mut self, deadline: Instant) {
        let out = &mut self.output;
        out.core.clear();
        self.inventory.clear();
        for s in &mut self.slots {
            s.errors.clear();
        }
        for f in &mut out.collectors {
            f.clear();
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
        out.core.sample(Family::Up, &[], up);
        if up {
            let v = &self.version;
            out.core.sample(
                Family::Version,
                &[
                    ("version", &v.version),
                    ("release", &v.release),
                    ("repoid", &v.repoid),
                ],
                1u64,
            );
        }

        for (slot, families) in self.slots.iter_mut().zip(&mut out.collectors) {
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
                collectors::collect(&mut slot.state, &mut ctx, families).await;
            }
            let ok = slot.errors.is_empty();
            let labels = [("collector", name)];
            out.core.sample(Family::CollectorSuccess, &labels, ok);
            out.core.sample(
                Family::CollectorDuration,
                &labels,
                started.elapsed().as_secs_f64(),
            );
            if up {
                report_changes(slot);
            }
        }
        out.core.sample(
            Family::BuildInfo,
            &[("version", env!("CARGO_PKG_VERSION"))],
            1u64,
        );
        out.process.clear();
        self.process_stats.collect(&mut out.process);
    }
}

/// Empty families for the collectors of `slots`.
fn empty_output(slots: &[Slot]) -> Output {
    Output {
        core: Families::new(Family::TABLE),
        collectors: slots
            .iter()
            .map(|s| Families::new(s.id.families()))
            .collect(),
        process: Families::new(process::Family::TABLE),
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
