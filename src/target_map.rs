//! Per-target state, in a bounded map: each target scraped has its own connection, TLS state
//! (its pinned fingerprint, the fingerprint it presented), collector state and failure-log
//! state; between `?target=` scrapes only collector and failure-log state stay
//! (`Collection::release_idle`, called by the server). At most `--max-targets` are kept: past it the least recently scraped
//! target is dropped with its buffers (a scrape is never refused). A target not scraped for ten
//! times the longest interval seen between two scrapes of one target (at least five minutes)
//! is dropped too.

use crate::client::PbsClient;
use crate::collection::Collection;
use crate::collectors;
use crate::config::Compat;
use crate::routing::TargetSpec;
use crate::scrape::Scraper;
use crate::tls::{self, Trust};
use crate::{log_debug, log_warn};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The shortest idle time after which a target is dropped.
const MIN_IDLE: Duration = Duration::from_secs(300);

struct Entry {
    spec: TargetSpec,
    collection: Rc<Collection>,
    last_used: Instant,
}

/// The targets kept.
pub struct TargetMap {
    entries: Vec<Entry>,
    max: usize,
    compat: Compat,
    max_body: u64,
    /// What every target's collectors are told (the tasks window).
    settings: collectors::Settings,
    /// The longest interval seen between two scrapes of one target.
    longest_gap: Duration,
}

impl TargetMap {
    /// An empty map holding at most `max` targets, whose scrapers write `compat`'s families
    /// and accept bodies up to `max_body`.
    pub fn new(max: usize, compat: Compat, max_body: u64) -> TargetMap {
        TargetMap {
            entries: Vec::new(),
            max: max.max(1),
            compat,
            max_body,
            settings: collectors::Settings::default(),
            longest_gap: Duration::ZERO,
        }
    }

    /// The same map, whose scrapers tell their collectors `settings`.
    pub fn with_settings(mut self, settings: collectors::Settings) -> TargetMap {
        self.settings = settings;
        self
    }

    /// Number of targets kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no target is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every target (a reload changed credentials or trust).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The collection of the target `spec` names, created on first use. `Err` when its TLS
    /// configuration cannot be built.
    pub fn get(&mut self, spec: &TargetSpec, now: Instant) -> Result<Rc<Collection>, String> {
        self.expire(now);
        if let Some(e) = self.entries.iter_mut().find(|e| e.spec == *spec) {
            let gap = now.saturating_duration_since(e.last_used);
            self.longest_gap = self.longest_gap.max(gap);
            e.last_used = now;
            return Ok(e.collection.clone());
        }
        let collection = Rc::new(Collection::new(self.scraper(spec)?));
        if self.entries.len() >= self.max {
            if let Some(oldest) = (0..self.entries.len()).min_by_key(|&i| self.entries[i].last_used)
            {
                let gone = self.entries.swap_remove(oldest);
                log_debug!(
                    "dropping target {} (the least recently scraped; --max-targets {})",
                    gone.spec.label(),
                    self.max
                );
            }
        }
        self.entries.push(Entry {
            spec: spec.clone(),
            collection: collection.clone(),
            last_used: now,
        });
        Ok(collection)
    }

    /// Drops the targets idle for longer than ten times the longest interval seen.
    fn expire(&mut self, now: Instant) {
        let limit = self.longest_gap.saturating_mul(10).max(MIN_IDLE);
        self.entries.retain(|e| {
            let keep = now.saturating_duration_since(e.last_used) <= limit;
            if !keep {
                log_debug!(
                    "dropping target {}: not scraped for {limit:?}",
                    e.spec.label()
                );
            }
            keep
        });
    }

    fn scraper(&self, spec: &TargetSpec) -> Result<Scraper, String> {
        let tls = if spec.endpoint.tls {
            Some(
                tls::client_config(&spec.trust)
                    .map_err(|e| format!("TLS configuration of target {}: {e}", spec.label()))?,
            )
        } else {
            None
        };
        if spec.trust == Trust::Insecure && spec.endpoint.tls {
            log_warn!(
                "target {}: TLS certificate verification is OFF: anyone between the exporter and PBS can read the API token; pin the certificate with a fingerprint instead",
                spec.label()
            );
        }
        let client = PbsClient::new(
            spec.endpoint.clone(),
            &spec.token_id,
            spec.secret.expose(),
            tls,
            spec.timeout,
            self.max_body,
        );
        Ok(Scraper::new(client, &spec.collectors, self.compat)
            .with_label(spec.label())
            .with_settings(self.settings)
            .with_keep_last_values(spec.keep_last_values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Endpoint;
    use crate::config::Secret;
    use crate::routing::TargetSpec;

    fn spec(port: u16) -> TargetSpec {
        TargetSpec {
            module: "m".into(),
            endpoint: Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
            token_id: "a@pbs!t".into(),
            secret: Secret::new("s".into()),
            trust: Trust::System,
            timeout: Duration::from_secs(1),
            collectors: vec![],
            keep_last_values: None,
        }
    }

    #[test]
    fn past_the_bound_the_least_recently_scraped_target_is_dropped() {
        let mut map = TargetMap::new(2, Compat::None, 1 << 20);
        let t0 = Instant::now();
        let a = map.get(&spec(1), t0).unwrap();
        map.get(&spec(2), t0 + Duration::from_secs(1)).unwrap();
        // Target 1 is scraped again: target 2 is now the least recently scraped.
        let a2 = map.get(&spec(1), t0 + Duration::from_secs(2)).unwrap();
        assert!(Rc::ptr_eq(&a, &a2));
        map.get(&spec(3), t0 + Duration::from_secs(3)).unwrap();
        assert_eq!(map.len(), 2);
        let a3 = map.get(&spec(1), t0 + Duration::from_secs(4)).unwrap();
        assert!(Rc::ptr_eq(&a, &a3), "target 1 was kept");
        let before = Rc::strong_count(&a);
        map.get(&spec(2), t0 + Duration::from_secs(5)).unwrap();
        // Target 3 made room for 2 again; target 1 (scraped at 4 s) stays.
        assert_eq!(map.len(), 2);
        assert_eq!(Rc::strong_count(&a), before);
    }

    #[test]
    fn targets_idle_for_ten_times_the_longest_interval_are_dropped() {
        let mut map = TargetMap::new(8, Compat::None, 1 << 20);
        let t0 = Instant::now();
        let gap = Duration::from_secs(60);
        let a = map.get(&spec(1), t0).unwrap();
        map.get(&spec(2), t0).unwrap();
        map.get(&spec(1), t0 + gap).unwrap();
        assert_eq!(map.len(), 2);
        // Ten intervals of 60 s later target 2 (last scraped at t0) goes; target 1 stays.
        let later = t0 + gap + gap * 10 - Duration::from_secs(1);
        let a2 = map.get(&spec(1), later).unwrap();
        assert!(Rc::ptr_eq(&a, &a2));
        assert_eq!(map.len(), 1);
    }
}
