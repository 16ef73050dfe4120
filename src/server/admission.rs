//! Which connections the server keeps: at most a fixed number are open, and when all slots are
//! taken a new connection takes the slot of the one idle longest (no complete request head yet,
//! or kept alive between requests). A connection being answered is never evicted, so a flood
//! of silent or trickling connections cannot lock Prometheus out; only when every slot is busy
//! answering is a new connection turned away.
//!
//! An evicted connection's socket is shut down (its client sees the end at once) and its task
//! is cancelled, so its state is freed on the executor's next turn rather than when its read
//! happens to observe the shutdown: a burst of connections never keeps more than the slots'
//! worth of connection state alive.

use async_executor::Task;
use std::cell::{Cell, RefCell};
use std::net::{Shutdown, TcpStream};
use std::rc::Rc;
use std::time::Instant;

/// What a connection is doing, as its handler reports it.
#[derive(Debug, Default)]
pub struct Activity {
    /// Since when the connection has been waiting for a request head; `None` while a request
    /// is being answered.
    idle_since: Cell<Option<Instant>>,
    /// The connection answered a `?target=` scrape (its target released, its response buffer
    /// freed) since [`Activity::take_released`] last ran.
    released: Cell<bool>,
}

impl Activity {
    /// A connection waiting for a head since now.
    pub fn new() -> Self {
        Activity {
            idle_since: Cell::new(Some(Instant::now())),
            released: Cell::new(false),
        }
    }

    /// The connection answered a `?target=` scrape: its close frees memory worth a trim.
    pub fn answered_released(&self) {
        self.released.set(true);
    }

    /// Whether the connection answered a `?target=` scrape since the last call.
    pub fn take_released(&self) -> bool {
        self.released.replace(false)
    }

    /// The connection waits for a request head (from now).
    pub fn idle(&self) {
        self.idle_since.set(Some(Instant::now()));
    }

    /// The connection is answering a request: not to be evicted.
    pub fn busy(&self) {
        self.idle_since.set(None);
    }
}

struct Entry {
    activity: Rc<Activity>,
    /// A duplicate of the connection's socket, to shut it down on eviction.
    socket: TcpStream,
    id: u64,
    /// The connection's task, once spawned: cancelled on eviction.
    task: Option<Task<()>>,
}

/// The open connections.
pub struct Admission {
    max: usize,
    entries: RefCell<Vec<Entry>>,
    next_id: Cell<u64>,
}

/// A connection's slot; frees it when dropped.
pub struct Ticket {
    admission: Rc<Admission>,
    id: u64,
    /// What the connection's handler reports.
    pub activity: Rc<Activity>,
}

impl Ticket {
    /// Which slot this is, for [`Admission::attach`].
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut entries = self.admission.entries.borrow_mut();
        let Some(i) = entries.iter().position(|e| e.id == self.id) else {
            return;
        };
        let entry = entries.swap_remove(i);
        drop(entries);
        // The task ends by itself (this ticket is dropped by it, or with it).
        if let Some(task) = entry.task {
            task.detach();
        }
    }
}

impl Admission {
    /// Room for `max` connections.
    pub fn new(max: usize) -> Rc<Self> {
        Rc::new(Admission {
            max,
            entries: RefCell::new(Vec::with_capacity(max)),
            next_id: Cell::new(0),
        })
    }

    /// Attaches the task serving the connection of ticket `id`: cancelled (its future
    /// dropped) if the connection is evicted.
    pub fn attach(&self, id: u64, task: Task<()>) {
        let mut entries = self.entries.borrow_mut();
        if let Some(e) = entries.iter_mut().find(|e| e.id == id) {
            e.task = Some(task);
            return;
        }
        drop(entries);
        // Gone already (evicted before its task ran): cancel it.
        drop(task);
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.entries.borrow().len()
    }

    /// Admits the connection whose socket `socket` duplicates, evicting the connection idle
    /// longest when every slot is taken. `None` when every slot is busy answering a request.
    pub fn admit(self: &Rc<Self>, socket: TcpStream) -> Option<Ticket> {
        let mut entries = self.entries.borrow_mut();
        let mut evicted = None;
        if entries.len() >= self.max {
            let oldest = entries
                .iter()
                .enumerate()
                .filter_map(|(i, e)| e.activity.idle_since.get().map(|t| (t, i)))
                .min()?
                .1;
            let entry = entries.swap_remove(oldest);
            // Its client sees the end at once.
            let _ = entry.socket.shutdown(Shutdown::Both);
            evicted = Some(entry);
        }
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1));
        let activity = Rc::new(Activity::new());
        entries.push(Entry {
            activity: activity.clone(),
            socket,
            id,
            task: None,
        });
        drop(entries);
        // Dropping its task (outside the borrow: a cancelled future drops its ticket) cancels
        // it; the future (buffers, socket, ticket) is dropped on the executor's next turn.
        drop(evicted);
        Some(Ticket {
            admission: self.clone(),
            id,
            activity,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s)
    }

    #[test]
    fn the_longest_idle_connection_makes_room_and_busy_ones_stay() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = Admission::new(2);
        let (mut c1, s1) = pair(&l);
        let (_c2, s2) = pair(&l);
        let t1 = a.admit(s1.try_clone().unwrap()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let t2 = a.admit(s2.try_clone().unwrap()).unwrap();
        t2.activity.busy();
        let (_c3, s3) = pair(&l);
        let t3 = a.admit(s3.try_clone().unwrap()).unwrap();
        // The first (idle longest) was shut down: its client sees the end of the stream.
        let mut b = [0u8; 1];
        assert_eq!(c1.read(&mut b).unwrap(), 0);
        assert_eq!(a.open(), 2);
        drop(t1);
        assert_eq!(a.open(), 2, "a ticket evicted earlier frees nothing more");
        // Both remaining are busy: a fourth is turned away.
        t3.activity.busy();
        let (_c4, s4) = pair(&l);
        assert!(a.admit(s4.try_clone().unwrap()).is_none());
        t2.activity.idle();
        assert!(a.admit(s4).is_some());
        drop(t3);
    }

    /// Dropped when the future that owns it is dropped.
    struct Freed(Rc<Cell<bool>>);

    impl Drop for Freed {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }

    /// Spawns, as the server does, a task owning `ticket` and a state that records its drop;
    /// the task never ends by itself (as a connection that never sends a head).
    fn spawn_stuck(
        ex: &async_executor::LocalExecutor<'static>,
        a: &Rc<Admission>,
        ticket: Ticket,
    ) -> Rc<Cell<bool>> {
        let freed = Rc::new(Cell::new(false));
        let state = Freed(freed.clone());
        let id = ticket.id();
        let task = ex.spawn(async move {
            let _owned = (ticket, state);
            futures_lite::future::pending::<()>().await;
        });
        a.attach(id, task);
        freed
    }

    #[test]
    fn an_evicted_connection_task_is_cancelled_and_its_state_freed() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let ex = async_executor::LocalExecutor::new();
        let a = Admission::new(1);
        let (_c1, s1) = pair(&l);
        let first = spawn_stuck(&ex, &a, a.admit(s1.try_clone().unwrap()).unwrap());
        while ex.try_tick() {}
        assert!(
            !first.get(),
            "a stuck connection lives while it holds its slot"
        );
        let (_c2, s2) = pair(&l);
        let second = spawn_stuck(&ex, &a, a.admit(s2.try_clone().unwrap()).unwrap());
        while ex.try_tick() {}
        assert!(first.get(), "the evicted connection's future was dropped");
        assert!(!second.get());
        assert_eq!(a.open(), 1);
        // A task attached after its slot was taken (evicted before it was attached) is
        // cancelled too.
        let (_c3, s3) = pair(&l);
        let t3 = a.admit(s3.try_clone().unwrap()).unwrap();
        let (_c4, s4) = pair(&l);
        let t4 = a.admit(s4.try_clone().unwrap()).unwrap();
        let third = spawn_stuck(&ex, &a, t3);
        let fourth = spawn_stuck(&ex, &a, t4);
        while ex.try_tick() {}
        assert!(second.get() && third.get(), "both evicted, both freed");
        assert!(!fourth.get());
        assert_eq!(a.open(), 1);
    }
}
