//! One scrape of one PBS: checks that PBS answers (`/version`), runs the enabled collectors in
//! order within the scrape's deadline, and assembles the exposition into a reused buffer.
//! Failures are logged when they change, not on every scrape.

use crate::client::PbsClient;
use crate::collectors::inventory::Inventory;
use crate::collectors::{self, CollectorId, Ctx};
use crate::config::Compat;
use crate::exposition::{Cursor, Families};
use crate::json::{Path, Scalar, Sink};
use crate::natrontech;
use crate::{log_info, log_warn};
use std::time::Instant;

crate::families! {
    pub enum Family {
        Up => Gauge "pbs_up" "1 when PBS answered and accepted the API token, 0 otherwise.",
        Version => Gauge "pbs_version_info" "The PBS version as labels (version, release, repoid). Always 1.",
        CollectorSuccess => Gauge "pbs_scrape_collector_success" "1 when the collector got everything it asked PBS for in this scrape.",
        CollectorDuration => Gauge "pbs_scrape_collector_duration_seconds" "Wall time the collector took in this scrape.",
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

/// The samples of one scrape: the scrape's own families (`pbs_up`, ...), one set per enabled
/// collector (in the scraper's order), and natrontech's families with `--compat natrontech`.
/// It keeps its buffers' capacity when reused. The exporter's own process metrics are not
/// here: they belong to the exporter, not to a target (`crate::own`).
pub struct Output {
    core: Families,
    collectors: Vec<Families>,
    compat: Option<Families>,
}

impl Output {
    /// Renders the exposition from `cursor` into `out`, until `out` holds at least `limit`
    /// bytes or all is rendered; returns true when there is more.
    pub fn render(&self, cursor: &mut RenderCursor, out: &mut Vec<u8>, limit: usize) -> bool {
        let sets = 1 + self.collectors.len() + self.compat.is_some() as usize;
        while cursor.set < sets {
            let families = match (cursor.set, &self.compat) {
                (0, _) => &self.core,
                (i, _) if i <= self.collectors.len() => &self.collectors[i - 1],
                (_, Some(compat)) => compat,
                (_, None) => &self.core,
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
    /// Which other exporter's families are written too.
    compat: Compat,
    inventory: Inventory,
    settings: collectors::Settings,
    version: Version,
    /// Whether the previous scrape found PBS up (`None` before the first).
    was_up: Option<bool>,
    /// Names the target in log lines (the endpoint when empty).
    label: String,
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
    /// A scraper that runs `enabled` collectors against PBS through `client`, writing
    /// `compat`'s families too.
    pub fn new(client: PbsClient, enabled: &[CollectorId], compat: Compat) -> Self {
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
            output: empty_output(&slots, compat),
            client,
            slots,
            compat,
            inventory: Inventory::default(),
            settings: collectors::Settings::default(),
            version: Version::default(),
            was_up: None,
            label: String::new(),
        }
    }

    /// The same scraper with `settings` for its collectors (default: [`collectors::Settings`]'s).
    pub fn with_settings(mut self, settings: collectors::Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Names the target in this scraper's log lines (the endpoint, and the module).
    pub fn with_label(mut self, label: String) -> Self {
        self.label = label;
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
        empty_output(&self.slots, self.compat)
    }

    /// Exchanges the scraper's output with `other`: hand it a buffer set to scrape into, take
    /// the result out, and the scraper keeps no second set of its own.
    pub fn swap_output(&mut self, other: &mut Output) {
        std::mem::swap(&mut self.output, other);
    }

    /// Frees what a scrape in progress needs and an idle target does not: the PBS connection
    /// (TLS state included) and the client's buffers ([`PbsClient::release_idle`]), the
    /// datastore inventory and `/version`'s fields, all rebuilt by every scrape. What the
    /// collectors keep between scrapes (their slot's [`collectors::State`]), the failure-log
    /// state and the last up/down state are kept.
    pub fn release_idle(&mut self) {
        self.client.release_idle();
        self.inventory.release();
        self.version = Version::default();
    }

    /// Scrapes PBS, finishing by `deadline`. Render the result with [`Scraper::render`].
    pub async fn scrape(&mut self, deadline: Instant) {
        let out = &mut self.output;
        out.core.clear();
        if let Some(c) = &mut out.compat {
            c.clear();
        }
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
                    log_warn!(
                        "target {}: PBS is down for this exporter: {e}",
                        Target(&self.label, self.client.endpoint())
                    );
                }
                false
            }
        };
        if up && self.was_up == Some(false) {
            log_info!(
                "target {}: PBS answers again",
                Target(&self.label, self.client.endpoint())
            );
        }
        self.was_up = Some(up);
        if let Some(c) = &mut out.compat {
            // Same name as ours: natrontech's HELP, our semantics.
            c.sample(natrontech::Family::Up, &[], up);
        } else {
            out.core.sample(Family::Up, &[], up);
        }
        if up {
            let v = &self.version;
            if let Some(c) = &mut out.compat {
                c.sample(
                    natrontech::Family::Version,
                    &[
                        ("release", &v.release),
                        ("repoid", &v.repoid),
                        ("version", &v.version),
                    ],
                    1u64,
                );
            }
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
                    compat: out.compat.as_mut(),
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
                report_changes(slot, Target(&self.label, self.client.endpoint()));
            }
        }
        if let Some(c) = &mut out.compat {
            c.sort_samples();
        }
    }
}

/// Empty families for the collectors of `slots`, and `compat`'s.
fn empty_output(slots: &[Slot], compat: Compat) -> Output {
    Output {
        core: Families::new(Family::TABLE),
        collectors: slots
            .iter()
            .map(|s| Families::new(s.id.families()))
            .collect(),
        compat: (compat == Compat::Natrontech).then(natrontech::families),
    }
}

/// A position in the rendering of a scrape: which family set, and where in it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderCursor {
    set: usize,
    inner: Cursor,
}

/// Logs a collector's failures when they differ from the previous scrape's, and its recovery.
fn report_changes(slot: &mut Slot, target: Target<'_>) {
    let digest = digest(&slot.errors);
    if digest == slot.last_errors {
        return;
    }
    if slot.errors.is_empty() {
        log_info!("target {target}: collector {} works again", slot.id.name());
    }
    for e in &slot.errors {
        log_warn!("target {target}: collector {} failed: {e}", slot.id.name());
    }
    slot.last_errors = digest;
}

/// A target's name in a log line: its label, else its endpoint.
#[derive(Clone, Copy)]
struct Target<'a>(&'a str, &'a crate::client::Endpoint);

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            write!(f, "{}", self.1)
        } else {
            f.write_str(self.0)
        }
    }
}

/// FNV-1a over a list of messages.
fn digest(errors: &[String]) -> u64 {
    errors.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, e| {
        e.bytes()
            .fold(h, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
    })
}
