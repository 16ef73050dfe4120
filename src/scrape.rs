//! One scrape of one PBS: checks that PBS answers (`/version`), runs the enabled collectors in
//! order within the scrape's deadline, and assembles the exposition into a reused buffer.
//! Failures are logged when they change, not on every scrape.

use crate::client::PbsClient;
use crate::collectors::inventory::Inventory;
use crate::collectors::{self, CollectorId, Ctx, Scratch};
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
    /// natrontech's families (`--compat natrontech`), written by the same collectors.
    compat: Option<Families>,
    inventory: Inventory,
    scratch: Scratch,
    version: Version,
    /// Whether the previous scrape found PBS up (`None` before the first).
    was_up: Option<bool>,
    /// Names the target in log lines.
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
        let slots = CollectorId::ALL
            .into_iter()
            .filter(|id| enabled.contains(id))
            .map(|id| Slot {
                id,
                families: Families::new(id.families()),
                errors: Vec::new(),
                last_errors: digest(&[]),
            })
            .collect();
        Scraper {
            client,
            slots,
            core: Families::new(Family::TABLE),
            compat: (compat == Compat::Natrontech).then(natrontech::families),
            inventory: Inventory::default(),
            scratch: Scratch::default(),
            version: Version::default(),
            was_up: None,
            label: String::new(),
        }
    }

    /// Names the target in this scraper's log lines (the endpoint, and the module).
    pub fn with_label(mut self, label: String) -> Self {
        self.label = label;
        self
    }

    /// The target's name for log lines.
    fn target(&self) -> Target<'_> {
        Target(&self.label, self.client.endpoint())
    }

    /// The PBS client.
    pub fn client(&self) -> &PbsClient {
        &self.client
    }

    /// Renders the last scrape's exposition from `cursor` into `out`, until `out` holds at least
    /// `limit` bytes or all is rendered; returns true when there is more.
    pub fn render(&self, cursor: &mut RenderCursor, out: &mut Vec<u8>, limit: usize) -> bool {
        let sets = 1 + self.slots.len() + self.compat.is_some() as usize;
        while cursor.set < sets {
            let families = match (cursor.set, &self.compat) {
                (0, _) => &self.core,
                (i, _) if i <= self.slots.len() => &self.slots[i - 1].families,
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

    /// Appends the whole exposition of the last scrape to `out`.
    pub fn render_all(&self, out: &mut Vec<u8>) {
        let mut cursor = RenderCursor::default();
        while self.render(&mut cursor, out, usize::MAX) {}
    }

    /// Scrapes PBS, finishing by `deadline`. Render the result with [`Scraper::render`].
    pub async fn scrape(&mut self, deadline: Instant) {
        self.core.clear();
        if let Some(c) = &mut self.compat {
            c.clear();
        }
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
                    log_warn!(
                        "target {}: PBS is down for this exporter: {e}",
                        self.target()
                    );
                }
                false
            }
        };
        if up && self.was_up == Some(false) {
            log_info!("target {}: PBS answers again", self.target());
        }
        self.was_up = Some(up);
        if let Some(c) = &mut self.compat {
            // Same name as ours: natrontech's HELP, our semantics.
            c.sample(natrontech::Family::Up, &[], up);
        } else {
            self.core.sample(Family::Up, &[], up);
        }
        if up {
            let v = &self.version;
            if let Some(c) = &mut self.compat {
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
                    scratch: &mut self.scratch,
                    compat: self.compat.as_mut(),
                };
                collectors::collect(slot.id, &mut ctx, &mut slot.families).await;
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
                report_changes(slot, &self.label, self.client.endpoint());
            }
        }
        if let Some(c) = &mut self.compat {
            c.sort_samples();
        }
    }
}

/// A position in the rendering of a scrape: which family set, and where in it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderCursor {
    set: usize,
    inner: Cursor,
}

/// Logs a collector's failures when they differ from the previous scrape's, and its recovery.
fn report_changes(slot: &mut Slot, label: &str, endpoint: &crate::client::Endpoint) {
    let digest = digest(&slot.errors);
    if digest == slot.last_errors {
        return;
    }
    if slot.errors.is_empty() {
        log_info!(
            "target {}: collector {} works again",
            Target(label, endpoint),
            slot.id.name()
        );
    }
    for e in &slot.errors {
        log_warn!(
            "target {}: collector {} failed: {e}",
            Target(label, endpoint),
            slot.id.name()
        );
    }
    slot.last_errors = digest;
}

/// A target's name in a log line: its label, else its endpoint.
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
