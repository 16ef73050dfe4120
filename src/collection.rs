//! One target's collections: one at a time, shared by concurrent scrapes. A scrape that arrives
//! while a collection of the same target runs waits for it and is answered with its result, so
//! a PBS never sees more than one collection at once; scrapes of different targets each have
//! their own [`Collection`] and run concurrently on the one thread.

use crate::scrape::Scraper;
use async_lock::{Mutex, MutexGuard};
use std::cell::Cell;
use std::time::Instant;

/// A target's scraper and what is needed to share its collections.
pub struct Collection {
    scraper: Mutex<Scraper>,
    /// Collections started so far; the running one has this number.
    started: Cell<u64>,
    /// Number of the last collection that finished.
    finished: Cell<u64>,
    /// A collection is running now.
    running: Cell<bool>,
}

impl Collection {
    /// Shares `scraper`'s collections.
    pub fn new(scraper: Scraper) -> Collection {
        Collection {
            scraper: Mutex::new(scraper),
            started: Cell::new(0),
            finished: Cell::new(0),
            running: Cell::new(false),
        }
    }

    /// Runs a collection, or joins the one running when this request arrived; returns the
    /// scraper locked, its output being this request's answer.
    pub async fn collect(&self, deadline: Instant) -> MutexGuard<'_, Scraper> {
        let joined = self.running.get().then(|| self.started.get());
        let mut guard = self.scraper.lock().await;
        if let Some(n) = joined {
            if self.finished.get() >= n {
                return guard;
            }
        }
        let n = self.started.get() + 1;
        self.started.set(n);
        self.running.set(true);
        guard.scrape(deadline).await;
        self.running.set(false);
        self.finished.set(n);
        guard
    }
}
