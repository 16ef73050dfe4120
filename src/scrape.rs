//! One scrape of one PBS: checks that PBS answers (`/version`), runs the enabled collectors in
//! order within the scrape's deadline, and assembles the exposition into a reused buffer.
//! Failures are logged when they change, not on every scrape. A result can serve the kept
//! collectors' families of an earlier, good one while PBS is unreachable (`--keep-last-values`,
//! decided by `crate::collection`).

use crate::client::{PbsClient, PbsError};
use crate::collectors::inventory::Inventory;
use crate::collectors::{self, CollectorId, Ctx};
use crate::config::Compat;
use crate::exposition::{Cursor, Families};
use crate::json::{Path, Scalar, Sink};
use crate::natrontech;
use crate::{log_info, log_warn};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

crate::families! {
    pub enum Family {
        Up => Gauge "pbs_up" "1 when PBS answered and accepted the API token, 0 otherwise.",
        Version => Gauge "pbs_version_info" "The PBS version as labels (version, release, repoid). Always 1.",
        CollectorSuccess => Gauge "pbs_scrape_collector_success" "1 when the collector got everything it asked PBS for in this scrape.",
        CollectorDuration => Gauge "pbs_scrape_collector_duration_seconds" "Wall time the collector took in this scrape.",
        LastSuccess => Gauge "pbs_last_success_timestamp_seconds" "When the last scrape started in which PBS answered and the datastore, groups and snapshots collectors (those enabled) succeeded.",
    }
}

// `Output::kept_sets` has a bit per collector.
const _: () = assert!(CollectorId::ALL.len() <= 64);

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
    /// Bit i set: collector set i is kept while PBS is unreachable.
    kept_sets: u64,
    /// When this scrape started, if PBS answered and every kept collector succeeded.
    good_since: Option<Instant>,
    /// A good result whose kept collector sets this one serves instead of its own (empty ones):
    /// shared, never copied.
    kept: Option<Rc<Output>>,
}

impl Output {
    /// Renders the exposition from `cursor` into `out`, until `out` holds at least `limit`
    /// bytes or all is rendered; returns true when there is more.
    pub fn render(&self, cursor: &mut RenderCursor, out: &mut Vec<u8>, limit: usize) -> bool {
        let sets = 1 + self.collectors.len() + self.compat.is_some() as usize;
        while cursor.set < sets {
            let families = match (cursor.set, &self.compat) {
                (0, _) => &self.core,
                (i, _) if i <= self.collectors.len() => match &self.kept {
                    Some(kept) if self.kept_sets & (1 << (i - 1)) != 0 => &kept.collectors[i - 1],
                    _ => &self.collectors[i - 1],
                },
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

    /// When this scrape started, if PBS answered and every kept collector succeeded in it.
    pub fn good_since(&self) -> Option<Instant> {
        self.good_since
    }

    /// The good result this one serves the kept families of, if any.
    pub fn kept(&self) -> Option<&Rc<Output>> {
        self.kept.as_ref()
    }

    /// Serves `good`'s kept collector sets instead of this result's own (which an unreachable
    /// PBS left empty).
    pub fn keep_from(&mut self, good: Rc<Output>) {
        debug_assert!(good.kept.is_none(), "a good result serves its own families");
        self.kept = Some(good);
    }
}

/// How PBS answered the scrape's first call (`/version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// It answered and accepted the token.
    Up,
    /// It did not answer: no name resolution, no connection, TLS handshake failed, timeout, or
    /// the connection broke. The only case in which `--keep-last-values` serves kept values.
    Unreachable,
    /// It answered with an error (401, 403, any other status, a malformed body): PBS is awake
    /// and its answer is the truth, so nothing is kept.
    Refused,
}

/// Scrapes one PBS. Reuse it: its buffers keep their capacity.
pub struct Scraper {
    client: PbsClient,
    slots: Vec<Slot>,
    /// Where [`Scraper::scrape`] writes: a set lent by [`Scraper::lend_output`], else one made
    /// by the first scrape. None between the collections of a `Collection`, which keeps the
    /// results, so a target held idle keeps no empty set.
    output: Option<Output>,
    /// Which other exporter's families are written too.
    compat: Compat,
    inventory: Inventory,
    settings: collectors::Settings,
    version: Version,
    /// Whether the previous scrape found PBS up (`None` before the first).
    was_up: Option<bool>,
    /// The running scrape's `/version` answer ([`Scraper::probe`]).
    reach: Reach,
    /// When the running scrape started (for the keep duration, and as Unix time).
    started: (Instant, SystemTime),
    /// Start of the last good scrape, in Unix seconds (`pbs_last_success_timestamp_seconds`).
    last_success: Option<f64>,
    /// `--keep-last-values`: how long after a good scrape its kept families are served.
    keep_last_values: Option<Duration>,
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
            output: None,
            client,
            slots,
            compat,
            inventory: Inventory::default(),
            settings: collectors::Settings::default(),
            version: Version::default(),
            was_up: None,
            reach: Reach::Refused,
            started: (Instant::now(), SystemTime::now()),
            last_success: None,
            keep_last_values: None,
            label: String::new(),
        }
    }

    /// The same scraper, whose collection serves the last good kept families for up to
    /// `keep` while PBS is unreachable (`--keep-last-values`; `None`: never).
    pub fn with_keep_last_values(mut self, keep: Option<Duration>) -> Self {
        self.keep_last_values = keep;
        self
    }

    /// `--keep-last-values` for this target.
    pub fn keep_last_values(&self) -> Option<Duration> {
        self.keep_last_values
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

    /// Renders the last scrape's exposition; see [`Output::render`]. Nothing before a scrape
    /// or after [`Scraper::take_output`].
    pub fn render(&self, cursor: &mut RenderCursor, out: &mut Vec<u8>, limit: usize) -> bool {
        self.output
            .as_ref()
            .is_some_and(|o| o.render(cursor, out, limit))
    }

    /// Appends the whole exposition of the last scrape to `out`.
    pub fn render_all(&self, out: &mut Vec<u8>) {
        if let Some(o) = &self.output {
            o.render_all(out);
        }
    }

    /// An empty output for this scraper's collectors.
    pub fn new_output(&self) -> Output {
        empty_output(&self.slots, self.compat)
    }

    /// Hands the scraper a buffer set (from [`Scraper::new_output`] or a result no longer
    /// read) for the next scrape to write into.
    pub fn lend_output(&mut self, out: Output) {
        self.output = Some(out);
    }

    /// Takes the scraper's output out (the last scrape's result): the scraper keeps no set of
    /// its own until the next is lent or made.
    pub fn take_output(&mut self) -> Option<Output> {
        self.output.take()
    }

    /// Frees what a scrape in progress needs and an idle target does not: the PBS connection
    /// (TLS state included) and the client's buffers ([`PbsClient::release_idle`]), the
    /// datastore inventory and `/version`'s fields, all rebuilt by every scrape, an output set
    /// left by a cancelled collection, and what the collectors keep only for reuse
    /// ([`collectors::free_reuse`]). What the collectors need from scrape to scrape
    /// (aggregates, log state), the failure-log state and the last up/down state are kept.
    pub fn release_idle(&mut self) {
        for s in &mut self.slots {
            collectors::free_reuse(&mut s.state);
        }
        self.client.release_idle();
        self.inventory.release();
        self.version = Version::default();
        // A set left by a collection that was cancelled.
        self.output = None;
    }

    /// Moves what the collectors keep into new allocations ([`collectors::repack`]), for a
    /// released target.
    pub fn repack(&mut self) {
        for s in &mut self.slots {
            collectors::repack(&mut s.state);
        }
    }

    /// Scrapes PBS, finishing by `deadline`. Render the result with [`Scraper::render`].
    pub async fn scrape(&mut self, deadline: Instant) {
        self.probe(deadline).await;
        self.collect(deadline).await;
    }

    /// The first half of a scrape: asks PBS `/version` (the output is not touched yet, so the
    /// caller can pick the buffers to write into knowing whether PBS answered).
    pub async fn probe(&mut self, deadline: Instant) -> Reach {
        self.started = (Instant::now(), SystemTime::now());
        self.version.version.clear();
        self.version.release.clear();
        self.version.repoid.clear();
        self.reach = match self
            .client
            .get_json("/version", &mut self.version, deadline)
            .await
        {
            Ok(()) => Reach::Up,
            Err(e) => {
                if self.was_up != Some(false) {
                    log_warn!(
                        "target {}: PBS is down for this exporter: {e}",
                        Target(&self.label, self.client.endpoint())
                    );
                }
                match e {
                    PbsError::Resolve(_)
                    | PbsError::Connect(_)
                    | PbsError::Tls(_)
                    | PbsError::Timeout(_)
                    | PbsError::Protocol(_) => Reach::Unreachable,
                    _ => Reach::Refused,
                }
            }
        };
        let up = self.reach == Reach::Up;
        if up && self.was_up == Some(false) {
            log_info!(
                "target {}: PBS answers again",
                Target(&self.label, self.client.endpoint())
            );
        }
        self.was_up = Some(up);
        self.reach
    }

    /// The second half of a scrape: runs the collectors (when PBS answered the probe) and
    /// writes the whole output.
    pub async fn collect(&mut self, deadline: Instant) {
        let out = self
            .output
            .get_or_insert_with(|| empty_output(&self.slots, self.compat));
        out.core.clear();
        if let Some(c) = &mut out.compat {
            c.clear();
        }
        out.kept = None;
        self.inventory.clear();
        for s in &mut self.slots {
            s.errors.clear();
        }
        for f in &mut out.collectors {
            f.clear();
        }
        let up = self.reach == Reach::Up;
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
        let good = up
            && self
                .slots
                .iter()
                .all(|s| !s.id.kept_while_unreachable() || s.errors.is_empty());
        out.good_since = good.then_some(self.started.0);
        if good {
            let unix = self.started.1.duration_since(SystemTime::UNIX_EPOCH);
            self.last_success = Some(unix.map_or(0.0, |d| d.as_secs_f64()));
        }
        if let Some(t) = self.last_success {
            out.core.sample(Family::LastSuccess, &[], t);
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
        kept_sets: slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.id.kept_while_unreachable())
            .fold(0, |mask, (i, _)| mask | 1 << i),
        good_since: None,
        kept: None,
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
