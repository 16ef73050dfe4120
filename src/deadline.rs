//! Request deadlines without the reactor's timers. A pending async-io timer costs a heap
//! allocation on every reactor turn (its timer map is split each turn), and a scrape makes
//! dozens of turns per request; the allocation budget of a scrape cannot afford that. Instead,
//! one helper thread sleeps until the armed deadline and then shuts the watched socket down,
//! which makes the pending read or write fail at once. Arming and disarming allocate nothing,
//! and while disarmed the thread sleeps without waking.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

#[derive(Default)]
struct State {
    /// When to shut the socket down, if armed.
    deadline: Option<Instant>,
    /// A duplicate of the connection's socket.
    socket: Option<TcpStream>,
    /// The armed deadline passed and the socket was shut down.
    fired: bool,
    /// The owner is gone; the thread ends.
    stop: bool,
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

/// Shuts a socket down when a deadline passes.
pub struct Watchdog {
    shared: Arc<Shared>,
}

impl Watchdog {
    /// Starts the watchdog's thread (small stack; it sleeps until armed).
    pub fn new() -> io::Result<Watchdog> {
        let shared = Arc::new(Shared::default());
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("pbs-deadline".into())
            .stack_size(64 * 1024)
            .spawn(move || watch(&thread_shared))?;
        Ok(Watchdog { shared })
    }

    /// Watches `socket` (a duplicate of the connection's) from now on.
    pub fn watch(&self, socket: TcpStream) {
        self.shared.lock().socket = Some(socket);
    }

    /// Stops watching any socket (the connection was dropped).
    pub fn unwatch(&self) {
        self.shared.lock().socket = None;
    }

    /// Shuts the watched socket down at `deadline` unless disarmed before.
    pub fn arm(&self, deadline: Instant) {
        let mut st = self.shared.lock();
        st.fired = false;
        st.deadline = Some(deadline);
        drop(st);
        self.shared.wake.notify_one();
    }

    /// Disarms; returns whether the deadline had passed and the socket was shut down.
    pub fn disarm(&self) -> bool {
        let mut st = self.shared.lock();
        st.deadline = None;
        std::mem::take(&mut st.fired)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
    }
}

fn watch(shared: &Shared) {
    let mut st = shared.lock();
    loop {
        if st.stop {
            return;
        }
        st = match st.deadline {
            None => shared.wake.wait(st).unwrap_or_else(|e| e.into_inner()),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    if let Some(socket) = &st.socket {
                        let _ = socket.shutdown(Shutdown::Both);
                    }
                    st.fired = true;
                    st.deadline = None;
                    continue;
                }
                shared
                    .wake
                    .wait_timeout(st, deadline - now)
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
