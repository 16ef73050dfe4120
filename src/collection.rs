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
//! Releasing an idle target ([`Collection::release_idle`]): once no scrape is in `collect` and
//! no reader holds a result, the results (kept only for their buffers: a finished result is
//! never served to a scrape that arrives later) and the scraper's per-scrape resources (PBS
//! connection, TLS state, client buffers: [`Scraper::release_idle`]) are freed. What a
//! collector keeps between scrapes lives in its slot in the scraper and is never released
//! here, and a result meant to be served again (a kept last good result) must be held in a
//! field of its own, which this does not touch. The server calls it after a multi-target
//! (`?target=`) scrape has been written; the default target (`/metrics` with `PBS_ENDPOINT`)
//! is never released, so its steady state allocates nothing.

use crate::scrape::{Output, Scraper};
use async_lock::Mutex;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;

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

        let mut out = self.free_buffers().unwrap_or_else(|| scraper.new_output());
        scraper.swap_output(&mut out);
        scraper.scrape(deadline).await;
        scraper.swap_output(&mut out);

        let result = Rc::new(out);
        let previous = self.latest.replace(Some(result.clone()));
        *self.spare.borrow_mut() = previous;
        self.finished.set(n);
        result
    }

    /// Frees the results and the scraper's per-scrape resources when the target is idle: no
    /// scrape in [`Collection::collect`] and no reader holding a result (a held result stays;
    /// its reader calls this again when done). Collector state is kept; see the module doc.
    /// Returns true when everything was released.
    pub fn release_idle(&self) -> bool {
        if self.in_collect.get() > 0 {
            return false;
        }
        let latest = take_unheld(&self.latest);
        let spare = take_unheld(&self.spare);
        let all = self.latest.borrow().is_none() && self.spare.borrow().is_none();
        drop((latest, spare));
        match self.scraper.try_lock() {
            Some(mut scraper) => {
                scraper.release_idle();
                all
            }
            None => false,
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
    use std::time::Duration;

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
