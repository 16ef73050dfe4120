//! One target's collections: at most one runs at a time, concurrent scrapes share it, and its
//! result is a snapshot readers hold without holding the collection.
//!
//! A scrape that arrives while a collection runs joins it and gets its result; one that
//! arrives while none runs starts its own. Results are [`Rc<Output>`]: a client writing (or
//! failing to read) a response holds only its snapshot, so the next collection runs at once
//! into another buffer set and output is never mixed between collections.
//!
//! Memory: buffer sets are double-buffered. A collection reuses the latest result's set when no
//! reader holds it (the steady state: one set alive), else the spare set, and allocates a set
//! only when readers hold both. Two sets are alive while a reader still writes the previous
//! result during a collection; more only while slow readers hold older results, each bounded
//! by the server's write timeout and connection cap.
//!
//! `--keep-last-values`: when PBS is unreachable ([`Reach::Unreachable`]) within the keep
//! duration of the last good result (PBS answered, the kept collectors succeeded), the new
//! result shares that good one's kept collector sets (datastore, groups, snapshots) through its
//! `Rc` instead of copying them; holding it also keeps its buffers from being reused, so it is
//! never overwritten while served. Its own collector sets stay empty, and it is written into a
//! new set or the previous such result's, never a full one: while PBS sleeps the kept set and a
//! small one are alive. Any answer from PBS, or the duration passing, ends the keeping.
//!
//! Releasing an idle target ([`Collection::release_idle`]): once no scrape is in `collect` and
//! no reader holds a result, the results (kept only for their buffers: a finished result is
//! never served to a scrape that arrives later) and the scraper's per-scrape resources (PBS
//! connection, TLS state, client buffers: [`Scraper::release_idle`]) are freed. What a
//! collector keeps between scrapes lives in its slot in the scraper: only what it keeps for
//! reuse is freed, and what it needs later is moved into new allocations once no scrape is in
//! progress ([`Collection::repack_idle`]). With `--keep-last-values` the latest result stays
//! when it is, or shares the kept families of, the last good one (above), so it can still be
//! served while PBS is unreachable; only its spare goes. The server calls it after a multi-target
//! (`?target=`) scrape has been written; the default target (`/metrics` with `PBS_ENDPOINT`)
//! is never released, so its steady state allocates nothing.

use crate::scrape::{Output, Reach, Scraper};
use async_lock::{Mutex, MutexGuard};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A scraper with its shared results.
pub struct Collection {
    /// Locked only while a collection runs, never while a result is written.
    scraper: Mutex<Scraper>,
    /// The result of the last finished collection.
    latest: RefCell<Option<Rc<Output>>>,
    /// The result before it, kept for its buffers.
    spare: RefCell<Option<Rc<Output>>>,
    /// Collections started so far; the running one has this number.
    started: Cell<u64>,
    /// Number of the last collection that finished.
    finished: Cell<u64>,
    /// A collection is running now.
    running: Cell<bool>,
    /// Scrapes in [`Collection::collect`] now (running, or waiting to join or to start one).
    in_collect: Cell<usize>,
}

impl Collection {
    /// Collections by `scraper`.
    pub fn new(scraper: Scraper) -> Self {
        Collection {
            scraper: Mutex::new(scraper),
            latest: RefCell::new(None),
            spare: RefCell::new(None),
            started: Cell::new(0),
            finished: Cell::new(0),
            running: Cell::new(false),
            in_collect: Cell::new(0),
        }
    }

    /// The result of a collection that started no earlier than this call: the one running now
    /// if any (joined), else a new one finishing by `deadline`.
    pub async fn collect(&self, deadline: Instant) -> Rc<Output> {
        self.in_collect.set(self.in_collect.get() + 1);
        let _in = InCollect(&self.in_collect);
        let joined = self.running.get().then(|| self.started.get());
        let mut scraper = self.scraper.lock().await;
        if let Some(n) = joined {
            if self.finished.get() >= n {
                if let Some(out) = self.latest.borrow().as_ref() {
                    return out.clone();
                }
            }
        }
        let n = self.started.get() + 1;
        self.started.set(n);
        self.running.set(true);
        let _running = Running(&self.running);

        let reach = scraper.probe(deadline).await;
        // Held before picking buffers, so the kept result's are not reused.
        let kept = match (reach, scraper.keep_last_values()) {
            (Reach::Unreachable, Some(keep)) => self.last_good(keep),
            _ => None,
        };
        let buffers = match kept {
            Some(_) => self.small_buffers(),
            None => self.free_buffers(),
        };
        let buffers = buffers.unwrap_or_else(|| scraper.new_output());
        scraper.lend_output(buffers);
        scraper.collect(deadline).await;
        let mut out = scraper
            .take_output()
            .unwrap_or_else(|| scraper.new_output());
        if let Some(good) = kept {
            out.keep_from(good);
        }

        let result = Rc::new(out);
        let previous = self.latest.replace(Some(result.clone()));
        *self.spare.borrow_mut() = previous;
        self.finished.set(n);
        result
    }

    /// Frees the results and the scraper's per-scrape resources when the target is idle: no
    /// scrape in [`Collection::collect`] and no reader holding a result (a held result stays;
    /// its reader calls this again when done). Collectors free their reuse buffers and keep
    /// their aggregates and log flags (repacked later by [`Collection::repack_idle`]); a result
    /// `--keep-last-values` may serve is kept too; see the module doc. Returns true when the
    /// scraper's resources were released (false when a collection holds it).
    pub fn release_idle(&self) -> bool {
        let Some(mut scraper) = self.idle_scraper() else {
            return false;
        };
        scraper.release_idle();
        let keeps_values = scraper.keep_last_values().is_some();
        drop(scraper);
        // The last good result, or the result sharing its kept families, may be served again.
        let kept = keeps_values
            && matches!(&*self.latest.borrow(),
                Some(l) if l.good_since().is_some() || l.kept().is_some());
        let latest = if kept {
            None
        } else {
            take_unheld(&self.latest)
        };
        let spare = take_unheld(&self.spare);
        drop((latest, spare));
        true
    }

    /// Moves what the collectors of a released target keep into new allocations
    /// ([`Scraper::repack`]); nothing while a scrape of it is in progress.
    pub fn repack_idle(&self) {
        if let Some(mut scraper) = self.idle_scraper() {
            scraper.repack();
        }
    }

    /// The scraper, unless a scrape is in [`Collection::collect`] or holds it.
    fn idle_scraper(&self) -> Option<MutexGuard<'_, Scraper>> {
        if self.in_collect.get() > 0 {
            return None;
        }
        self.scraper.try_lock()
    }

    /// The last good result if it started no more than `keep` ago: the latest result if it is
    /// good, else the one the latest serves kept families from.
    fn last_good(&self, keep: Duration) -> Option<Rc<Output>> {
        let latest = self.latest.borrow();
        let latest = latest.as_ref()?;
        let good = match latest.good_since() {
            Some(_) => latest,
            None => latest.kept()?,
        };
        let since = good.good_since()?;
        (since.elapsed() <= keep).then(|| good.clone())
    }

    /// Buffers for a result that serves kept families: the latest's if it is such a result
    /// too and no reader holds it (its collector sets stayed empty, so it is small), else none
    /// (a new set). The spare is let go, so no full set lives beside the kept one.
    fn small_buffers(&self) -> Option<Output> {
        self.spare.take();
        let small = matches!(&*self.latest.borrow(), Some(l) if l.kept().is_some());
        if small {
            take_unheld(&self.latest)
        } else {
            None
        }
    }

    /// A buffer set no reader holds: the latest result's (then the spare is freed, so one set
    /// stays alive), else the spare's; `None` when readers hold both.
    fn free_buffers(&self) -> Option<Output> {
        if let Some(out) = take_unheld(&self.latest) {
            self.spare.take();
            return Some(out);
        }
        let spare = take_unheld(&self.spare);
        if spare.is_none() {
            // Its readers keep it alive until they finish; it is not reused after.
            self.spare.take();
        }
        spare
    }
}

/// Takes the output out of `slot` if no one else holds it.
fn take_unheld(slot: &RefCell<Option<Rc<Output>>>) -> Option<Output> {
    let mut slot = slot.borrow_mut();
    match slot.take().map(Rc::try_unwrap) {
        Some(Ok(out)) => Some(out),
        Some(Err(held)) => {
            *slot = Some(held);
            None
        }
        None => None,
    }
}

/// Counts a scrape out of [`Collection::collect`], even if its task is dropped.
struct InCollect<'a>(&'a Cell<usize>);

impl Drop for InCollect<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

/// Clears the running flag when the collection ends, even if its task is dropped.
struct Running<'a>(&'a Cell<bool>);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Endpoint, PbsClient};
    use crate::collectors::CollectorId;

    /// A collection against a port where nothing listens: each collection fails fast (pbs_up 0).
    fn collection() -> Collection {
        let ep = Endpoint::parse("http://127.0.0.1:1").unwrap();
        let client = PbsClient::new(ep, "u@pbs!t", "s", None, Duration::from_secs(1), 1 << 20);
        Collection::new(Scraper::new(
            client,
            &[CollectorId::Node],
            Default::default(),
        ))
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    fn text(out: &Output) -> String {
        let mut v = Vec::new();
        out.render_all(&mut v);
        String::from_utf8(v).unwrap()
    }

    fn held(c: &Collection) -> usize {
        c.latest.borrow().is_some() as usize + c.spare.borrow().is_some() as usize
    }

    #[test]
    fn a_held_result_is_never_overwritten_and_buffers_are_reused() {
        let c = collection();
        async_io::block_on(async {
            let first = c.collect(soon()).await;
            let before = text(&first);
            assert!(before.contains("pbs_up 0\n"), "{before}");
            // A reader still holds the first result: the next goes elsewhere.
            let second = c.collect(soon()).await;
            assert!(!Rc::ptr_eq(&first, &second));
            assert_eq!(held(&c), 2);
            let third = c.collect(soon()).await;
            assert!(!Rc::ptr_eq(&third, &first) && !Rc::ptr_eq(&third, &second));
            // The readers' results are intact: same samples (durations aside).
            let strip = |t: &str| {
                t.lines()
                    .filter(|l| !l.contains("duration") && !l.starts_with("process_"))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            };
            assert_eq!(strip(&text(&first)), strip(&before));
            assert_eq!(strip(&text(&second)), strip(&before));
            drop((first, second, third));
            // No reader: the latest set is reused and the spare freed.
            let fourth = c.collect(soon()).await;
            assert_eq!(held(&c), 1);
            drop(fourth);
        });
    }

    /// A collection of every collector against a plain-HTTP simulator, keeping values `keep`.
    fn against(sim: &pbs_sim::SimHandle, keep: Option<Duration>) -> Collection {
        let ep = Endpoint::parse(&sim.endpoint()).unwrap();
        let client = PbsClient::new(
            ep,
            sim.token_id(),
            sim.token_secret(),
            None,
            Duration::from_secs(5),
            1 << 30,
        );
        Collection::new(
            Scraper::new(client, CollectorId::ALL, Default::default()).with_keep_last_values(keep),
        )
    }

    fn sim() -> pbs_sim::SimHandle {
        pbs_sim::start(pbs_sim::SimConfig {
            profile: pbs_sim::Profile::new(2, 2, 3, 2),
            tls: false,
            ..Default::default()
        })
        .unwrap()
    }

    /// The lines of `families` (by name prefix) in `out`'s exposition.
    fn lines_of(out: &Output, prefixes: &[&str]) -> Vec<String> {
        text(out)
            .lines()
            .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn an_unreachable_pbs_shares_the_good_result_instead_of_copying_it() {
        let sim = sim();
        let c = against(&sim, Some(Duration::from_secs(3600)));
        async_io::block_on(async {
            let good = c.collect(soon()).await;
            assert!(good.good_since().is_some() && good.kept().is_none());
            let kept = ["pbs_datastore_", "pbs_group_", "# TYPE pbs_group"];
            let before = lines_of(&good, &kept);
            assert!(before.len() > 20, "{before:?}");
            drop(good);
            sim.stop();
            let down = c.collect(soon()).await;
            // The good result is served by reference: one big set, one small.
            let shared = down.kept().unwrap().clone();
            assert_eq!(held(&c), 2);
            assert_eq!(lines_of(&down, &kept), before);
            assert!(text(&down).contains("pbs_up 0\n"));
            drop(down);
            // Still down: the small set is reused, the good one still shared.
            let again = c.collect(soon()).await;
            assert!(Rc::ptr_eq(again.kept().unwrap(), &shared));
            assert_eq!(lines_of(&again, &kept), before);
            assert_eq!(held(&c), 1, "the spare slot let go of the good result");
            // latest (the small set) + `shared` here: nothing else holds the good one.
            assert_eq!(Rc::strong_count(&shared), 2);
        });
    }

    #[test]
    fn without_keep_or_past_it_nothing_is_kept() {
        for keep in [None, Some(Duration::from_millis(200))] {
            let sim = sim();
            let c = against(&sim, keep);
            async_io::block_on(async {
                drop(c.collect(soon()).await);
                sim.stop();
                std::thread::sleep(Duration::from_millis(300));
                let down = c.collect(soon()).await;
                assert!(down.kept().is_none(), "{keep:?}");
                assert!(!text(&down).contains("pbs_datastore_"), "{keep:?}");
                // The last success is still reported.
                assert!(text(&down).contains("pbs_last_success_timestamp_seconds "));
            });
        }
    }

    #[test]
    fn a_scrape_arriving_during_a_collection_joins_it() {
        let c = collection();
        async_io::block_on(async {
            let (a, b) = futures_lite::future::zip(c.collect(soon()), c.collect(soon())).await;
            assert!(Rc::ptr_eq(&a, &b));
            assert_eq!(c.started.get(), 1);
            // One arriving after it finished starts its own.
            let d = c.collect(soon()).await;
            assert!(!Rc::ptr_eq(&a, &d));
            assert_eq!(c.started.get(), 2);
        });
    }
}
