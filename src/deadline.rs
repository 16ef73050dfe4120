//! Request deadlines without the reactor's timers. A pending async-io timer costs a heap
//! allocation on every reactor turn (its timer map is split each turn), and a scrape makes
//! dozens of turns per request; the allocation budget of a scrape cannot afford that. Instead,
//! one helper thread sleeps until the earliest armed deadline and then shuts that socket down,
//! which makes the pending read or write fail at once. One thread serves the whole process,
//! however many PBS it scrapes. Arming and disarming allocate nothing, and while nothing is
//! armed the thread sleeps without waking.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

/// One watched connection.
#[derive(Default)]
struct Entry {
    /// When to shut the socket down, if armed.
    deadline: Option<Instant>,
    /// A duplicate of the connection's socket.
    socket: Option<TcpStream>,
    /// The armed deadline passed and the socket was shut down.
    fired: bool,
}

#[derive(Default)]
struct State {
    /// Slots of the live watchdogs, reused after a watchdog is dropped.
    entries: Vec<Entry>,
    /// Free slots.
    free: Vec<usize>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The process' one watchdog thread, started on first use (`None` if it could not start).
fn shared() -> Option<&'static Arc<Shared>> {
    static SHARED: OnceLock<Option<Arc<Shared>>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let shared = Arc::new(Shared::default());
            let thread_shared = shared.clone();
            std::thread::Builder::new()
                .name("pbs-deadline".into())
                .stack_size(64 * 1024)
                .spawn(move || watch(&thread_shared))
                .ok()
                .map(|_| shared)
        })
        .as_ref()
}

/// Shuts one connection's socket down when a deadline passes. Every watchdog of the process
/// shares one thread, however many PBS are scraped.
pub struct Watchdog {
    shared: &'static Arc<Shared>,
    slot: usize,
}

impl Watchdog {
    /// A watchdog slot on the process' watchdog thread (started on first use; small stack, it
    /// sleeps until a deadline is armed).
    pub fn new() -> io::Result<Watchdog> {
        let shared =
            shared().ok_or_else(|| io::Error::other("cannot start the watchdog thread"))?;
        let mut st = shared.lock();
        let slot = match st.free.pop() {
            Some(slot) => slot,
            None => {
                st.entries.push(Entry::default());
                st.entries.len() - 1
            }
        };
        Ok(Watchdog { shared, slot })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut st = self.shared.lock();
        f(&mut st.entries[self.slot])
    }

    /// Watches `socket` (a duplicate of the connection's) from now on.
    pub fn watch(&self, socket: TcpStream) {
        self.with(|e| e.socket = Some(socket));
    }

    /// Stops watching any socket (the connection was dropped).
    pub fn unwatch(&self) {
        self.with(|e| e.socket = None);
    }

    /// Shuts the watched socket down at `deadline` unless disarmed before.
    pub fn arm(&self, deadline: Instant) {
        self.with(|e| {
            e.fired = false;
            e.deadline = Some(deadline);
        });
        self.shared.wake.notify_one();
    }

    /// Disarms; returns whether the deadline had passed and the socket was shut down.
    pub fn disarm(&self) -> bool {
        self.with(|e| {
            e.deadline = None;
            std::mem::take(&mut e.fired)
        })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.entries[self.slot] = Entry::default();
        st.free.push(self.slot);
    }
}

fn watch(shared: &Shared) {
    let mut st = shared.lock();
    loop {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        for e in &mut st.entries {
            match e.deadline {
                Some(d) if d <= now => {
                    if let Some(socket) = &e.socket {
                        let _ = socket.shutdown(Shutdown::Both);
                    }
                    e.fired = true;
                    e.deadline = None;
                }
                Some(d) => next = Some(next.map_or(d, |n| n.min(d))),
                None => {}
            }
        }
        st = match next {
            None => shared.wake.wait(st).unwrap_or_else(|e| e.into_inner()),
            Some(d) => {
                shared
                    .wake
                    .wait_timeout(st, d.saturating_duration_since(now))
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::time::Duration;

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        (a, b)
    }

    #[test]
    fn a_passed_deadline_ends_a_blocked_read() {
        let (mut client, _server) = pair();
        let w = Watchdog::new().unwrap();
        w.watch(client.try_clone().unwrap());
        let started = Instant::now();
        w.arm(started + Duration::from_millis(100));
        let mut buf = [0u8; 16];
        // The server never writes: only the watchdog can end this read.
        let n = client.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0);
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(w.disarm());
    }

    #[test]
    fn one_thread_serves_many_connections_each_at_its_own_deadline() {
        let (mut early, _s1) = pair();
        let (mut late, mut s2) = pair();
        let a = Watchdog::new().unwrap();
        let b = Watchdog::new().unwrap();
        a.watch(early.try_clone().unwrap());
        b.watch(late.try_clone().unwrap());
        let started = Instant::now();
        b.arm(started + Duration::from_secs(30));
        a.arm(started + Duration::from_millis(100));
        let mut buf = [0u8; 1];
        assert_eq!(early.read(&mut buf).unwrap_or(0), 0);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(a.disarm());
        // The other connection is untouched.
        std::io::Write::write_all(&mut s2, b"x").unwrap();
        assert_eq!(late.read(&mut buf).unwrap(), 1);
        assert!(!b.disarm());
        let threads = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.trim() == "pbs-deadline")
            .count();
        assert_eq!(threads, 1);
    }

    #[test]
    fn a_disarmed_deadline_does_nothing() {
        let (mut client, mut server) = pair();
        let w = Watchdog::new().unwrap();
        w.watch(client.try_clone().unwrap());
        w.arm(Instant::now() + Duration::from_millis(50));
        assert!(!w.disarm());
        std::thread::sleep(Duration::from_millis(120));
        std::io::Write::write_all(&mut server, b"x").unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(client.read(&mut buf).unwrap(), 1);
    }
}
