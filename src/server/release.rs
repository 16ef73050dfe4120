//! When a `?target=` scrape's target is released, and when freed memory goes back to the OS.
//!
//! A multi-target scrape holds a [`Release`] from before its collection until its answer has
//! been written (or abandoned, when the client goes away). When it is dropped, the target is
//! released if it is idle for real ([`Collection::release_idle`]: no other scrape of it in
//! progress, no reader holding its result): PBS connection, TLS state, client buffers and
//! results are freed; collectors free their reuse buffers and keep their aggregates and log
//! flags, repacked below. When no multi-target scrape is left in progress at all, and again
//! when a connection that answered one closes, the freed heap pages are handed back to the OS
//! ([`malloc_trim::trim`]): glibc keeps them resident otherwise, since live blocks
//! stay scattered up to the heap's top (measured: 10 targets released, 0.7 MiB live in a
//! 3 MiB heap, RSS unchanged without the trim). Before that, what the targets released since
//! the last trim keep is moved into new allocations ([`Collection::repack_idle`]): their blocks
//! were allocated between the buffers of the scrapes that ran with theirs, each pinning its
//! pages; the copies, made once those buffers are free (and merged by a first trim), fill few.
//! Before the last trim, the chunks glibc's thread cache holds among free memory go back to
//! the heap ([`malloc_trim::evict_thread_cache`]): each would keep its page resident. The
//! exporter runs with that cache off ([`malloc_trim::without_thread_cache`]), so this matters
//! only when the user's `GLIBC_TUNABLES` keeps it. Then the main thread's stack pages below a
//! shallow frame go back too ([`InProgress::release_stack_after_trims`]): scrapes run ~20 KiB
//! deeper (TLS handshake, JSON reading), and those pages stayed resident after them.
//!
//! The default target (`/metrics` with `PBS_ENDPOINT`) takes no [`Release`]: it keeps its
//! connection and buffers, so its steady state allocates nothing.

use super::admission::Activity;
use crate::collection::Collection;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};

/// Multi-target scrapes in progress, process-wide (shared by the server's connections).
#[derive(Default, Clone)]
pub struct InProgress(Rc<State>);

#[derive(Default)]
struct State {
    /// Scrapes in progress.
    count: Cell<usize>,
    /// Memory was freed since the last trim.
    freed: Cell<bool>,
    /// Targets released since the last trim, each once.
    released: RefCell<Vec<Weak<Collection>>>,
    /// A trim ran since the stack was last released.
    stack_due: Cell<bool>,
    /// The task of [`InProgress::release_stack_after_trims`], waiting.
    stack_waker: Cell<Option<Waker>>,
}

impl InProgress {
    /// A scrape of `collection` starts: release it when the returned value is dropped.
    pub fn start(&self, collection: Rc<Collection>) -> Release {
        self.0.count.set(self.0.count.get() + 1);
        Release {
            collection,
            in_progress: self.clone(),
        }
    }

    /// Number in progress now.
    pub fn count(&self) -> usize {
        self.0.count.get()
    }

    /// A connection closed (its buffers are freed): trims if none is in progress and
    /// `answered_released` (the connection answered a multi-target scrape since it was last
    /// asked): the last trim may have come while the connection still held its read buffer
    /// and TLS state (Prometheus keeps connections open across scrapes). Other connections
    /// (health checks, 404s, failed handshakes, `/metrics` of the default target) free little
    /// and trim nothing.
    pub fn connection_closed(&self, answered_released: bool) {
        if answered_released {
            self.0.freed.set(true);
        }
        self.trim_if_idle();
    }

    /// For a connection's task, declared before the connection: when dropped, after the
    /// connection, calls [`InProgress::connection_closed`] with what `activity` (the
    /// connection's) reports, whether the task ended or was cancelled (an evicted connection).
    pub fn connection_open<'a>(&'a self, activity: &'a Activity) -> Open<'a> {
        Open(self, activity)
    }

    fn trim_if_idle(&self) {
        if self.0.freed.get() && self.count() == 0 {
            self.0.freed.set(false);
            // Merges the free chunks (glibc's fast bins too), so the copies are cut from few.
            malloc_trim::trim();
            for c in self.0.released.take().iter().filter_map(Weak::upgrade) {
                c.repack_idle();
            }
            // The thread cache's chunks, left among the freed buffers, would pin their pages.
            malloc_trim::evict_thread_cache();
            malloc_trim::trim();
            self.0.stack_due.set(true);
            if let Some(waker) = self.0.stack_waker.take() {
                waker.wake();
            }
        }
    }

    /// Runs for the server's lifetime, as a task of its own: after each trim, returns the main
    /// thread's stack pages below this task's frame ([`malloc_trim::release_unused_stack`]).
    /// The scrapes took the stack deeper; a task is polled near the executor's frame, below
    /// which all of it lies, where the trim runs deep inside a connection's task.
    pub async fn release_stack_after_trims(&self) {
        loop {
            std::future::poll_fn(|cx| {
                if self.0.stack_due.replace(false) {
                    return Poll::Ready(());
                }
                self.0.stack_waker.set(Some(cx.waker().clone()));
                Poll::Pending
            })
            .await;
            malloc_trim::release_unused_stack();
        }
    }
}

/// A connection's task is running; see [`InProgress::connection_open`].
pub struct Open<'a>(&'a InProgress, &'a Activity);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.connection_closed(self.1.take_released());
    }
}

/// One multi-target scrape in progress; dropping it releases its target when idle.
pub struct Release {
    collection: Rc<Collection>,
    in_progress: InProgress,
}

impl Drop for Release {
    fn drop(&mut self) {
        let state = &self.in_progress.0;
        if self.collection.release_idle() {
            state.freed.set(true);
            let me = Rc::downgrade(&self.collection);
            let mut released = state.released.borrow_mut();
            // Bounded by the targets alive (a trim may be long in coming under load).
            released.retain(|c| c.strong_count() > 0 && !c.ptr_eq(&me));
            released.push(me);
        }
        state.count.set(state.count.get().saturating_sub(1));
        self.in_progress.trim_if_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resident KiB of the mapping that holds `addr`, from `/proc/self/smaps`.
    fn resident_kib_at(addr: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut lines = smaps.lines();
        lines
            .find(|l| {
                let range = l.split_whitespace().next().unwrap_or("");
                let Some((lo, hi)) = range.split_once('-') else {
                    return false;
                };
                let hex = |v| usize::from_str_radix(v, 16).unwrap_or(0);
                (hex(lo)..hex(hi)).contains(&addr)
            })
            .expect("a mapping holds the address");
        let rss = lines.find(|l| l.starts_with("Rss:")).unwrap();
        rss.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Only the close of a connection that answered a multi-target scrape trims (a trim marks
    /// the stack release due), once.
    #[test]
    fn only_a_connection_that_answered_a_target_scrape_trims_when_it_closes() {
        let in_progress = InProgress::default();
        let other = Activity::new();
        drop(in_progress.connection_open(&other));
        assert!(
            !in_progress.0.stack_due.get(),
            "a plain connection's close trims"
        );
        let scraper = Activity::new();
        scraper.answered_released();
        let open = in_progress.connection_open(&scraper);
        drop(in_progress.connection_open(&other));
        assert!(
            !in_progress.0.stack_due.get(),
            "another connection's close trims"
        );
        drop(open);
        assert!(
            in_progress.0.stack_due.replace(false),
            "the scraper's close trims"
        );
        drop(in_progress.connection_open(&scraper));
        assert!(!in_progress.0.stack_due.get(), "its next close trims again");
    }

    /// A trim wakes the task, which returns the stack pages below it: here, those a deep call
    /// touched before.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_trim_wakes_the_task_that_returns_the_stack_pages() {
        let in_progress = InProgress::default();
        let ex = async_executor::LocalExecutor::new();
        ex.spawn(in_progress.release_stack_after_trims()).detach();
        assert!(ex.try_tick(), "the task waits");
        malloc_trim::touch_stack(512);
        let marker = 0u8;
        let stack = &raw const marker as usize;
        let before = resident_kib_at(stack);
        assert!(!ex.try_tick(), "no trim yet: the task sleeps");
        in_progress.0.freed.set(true);
        in_progress.trim_if_idle();
        assert!(ex.try_tick(), "the trim woke it");
        let after = resident_kib_at(stack);
        assert!(
            after + 384 <= before,
            "stack resident {before} KiB -> {after} KiB: expected the 512 KiB touched returned"
        );
    }
}
