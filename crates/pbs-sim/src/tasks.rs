//! The task list, `GET /nodes/{node}/tasks`: deterministic tasks relative to the time of the
//! request (the exporter asks for `since = now - window`), in PBS's order (running tasks first,
//! then finished ones newest first), with PBS's snake_case `TaskListItem` fields, `since`,
//! `start` and `limit`, and `total` before `data`. Generated item by item into the stream
//! buffer, so 100,000 tasks cost the simulator no memory.

use crate::json::{push_i64, push_str, push_u64};
use crate::model::{self, Profile};
use crate::stream::{Mode, Step};

/// Tasks running now.
pub const RUNNING: usize = 3;
/// Finished tasks older than a day (outside the exporter's default window).
pub const OLD: usize = 4;
/// Finished tasks of the last day start within this many seconds before the request (22 h).
pub const SPAN: i64 = 22 * 3600;

/// One task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// `worker_type`.
    pub worker_type: &'static str,
    /// `worker_id`, unescaped (`null` when `None`).
    pub worker_id: Option<String>,
    /// The datastore the task works on, if its worker type names one.
    pub store: Option<String>,
    /// `starttime`.
    pub start: i64,
    /// `endtime` and `status`; `None` while it runs.
    pub end: Option<(i64, &'static str)>,
    /// Task number inside the UPID.
    pub task: u64,
}

/// The status text of the failed tasks (a bare error message, as PBS stores it).
pub const FAILED: &str = "connection error: Connection reset by peer (os error 104)";

/// Tasks in the list, in order: [`RUNNING`], then `p.tasks` finished in the last day, then
/// [`OLD`].
pub fn count(p: &Profile) -> usize {
    RUNNING + p.tasks + OLD
}

/// Start time of task `i` (see [`count`]) for a request at `now`: running tasks, then the
/// finished ones newest first.
pub fn start_time(p: &Profile, i: usize, now: i64) -> i64 {
    if i < RUNNING {
        return now - 600 * (i as i64 + 1);
    }
    let j = i - RUNNING;
    if j < p.tasks {
        now - 120 - (j as i64 * SPAN / p.tasks as i64)
    } else {
        now - 26 * 3600 - (j - p.tasks) as i64 * 3600
    }
}

/// Task `i` of the list (see [`count`]) for a request at `now`.
pub fn task(p: &Profile, i: usize, now: i64) -> Task {
    let n = p.datastores.max(1);
    let store = |d: usize| model::store_name(d % n);
    if i < RUNNING {
        let (worker_type, id, d) = match i {
            0 => ("backup", "vm/102".to_string(), 0),
            1 => ("verificationjob", "v-weekly".to_string(), 1),
            _ => ("garbage_collection", String::new(), 2),
        };
        let s = store(d);
        let worker_id = if id.is_empty() {
            s.clone()
        } else {
            format!("{s}:{id}")
        };
        return Task {
            worker_type,
            worker_id: Some(worker_id),
            store: Some(s),
            start: start_time(p, i, now),
            end: None,
            task: 0x1000 + i as u64,
        };
    }
    let j = i - RUNNING;
    let start = start_time(p, i, now);
    let status = if j >= p.tasks {
        "OK"
    } else if j % 100 == 99 {
        "unknown"
    } else if j % 10 == 3 {
        FAILED
    } else if j % 10 == 7 {
        "WARNINGS: 2"
    } else {
        "OK"
    };
    let s = store(j);
    let (worker_type, worker_id, named) = match j % 8 {
        0 => ("backup", Some(format!("{s}:vm/{}", 100 + j % 10)), true),
        1 => ("reader", Some(format!("{s}:vm/100/6A5D9B70")), true),
        2 => ("garbage_collection", Some(s.clone()), true),
        3 => ("verificationjob", Some(format!("{s}:v-daily-{s}")), true),
        4 => (
            "syncjob",
            Some(format!("pbs-branch:store1:{s}::s-pull-branch")),
            true,
        ),
        5 => ("prunejob", Some(s.clone()), true),
        6 => ("aptupdate", None, false),
        _ => (
            "tape-backup-job",
            Some(format!("{s}:daily:lto9:tape-nightly")),
            true,
        ),
    };
    Task {
        worker_type,
        worker_id,
        store: named.then_some(s),
        start,
        end: Some((start + 5 + (j % 50) as i64, status)),
        task: 0x2000 + j as u64,
    }
}

/// What one `/tasks` request asks for besides paging.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    /// `since`: finished tasks that started earlier are left out.
    pub since: Option<i64>,
    /// `typefilter`: a substring of `worker_type`.
    pub typefilter: Option<String>,
    /// `store`: the datastore the task works on.
    pub store: Option<String>,
}

impl Filter {
    fn keeps(&self, t: &Task) -> bool {
        self.typefilter
            .as_deref()
            .is_none_or(|f| t.worker_type.contains(f))
            && self
                .store
                .as_deref()
                .is_none_or(|s| t.store.as_deref() == Some(s))
    }
}

/// The tasks of one listing, in PBS's order: the generated running tasks, then the tasks left
/// by [`crate::changes`] (newest first), then the generated finished ones.
#[derive(Debug)]
enum Listing {
    /// No type or store filter: tasks are generated by position.
    Indexed {
        /// Generated tasks listed (running ones included).
        generated: usize,
        /// The changes' tasks listed, newest first.
        extra: Vec<Task>,
    },
    /// Filtered: the matching tasks.
    Listed(Vec<Task>),
}

/// Generator state of one `/tasks` response.
#[derive(Debug)]
pub(crate) struct TaskStream {
    profile: Profile,
    now: i64,
    listing: Listing,
    /// Next position and how many items are still to be written.
    next: usize,
    left: usize,
    total: usize,
    mode: Mode,
    written: usize,
    cut_after: usize,
    started: bool,
}

impl TaskStream {
    /// The answer to `filter`, `start`, `limit` (0: no limit) at `now`, with the finished
    /// tasks `extra` (the changes', any order) besides the generated ones.
    pub(crate) fn new(
        profile: Profile,
        now: i64,
        filter: &Filter,
        extra: &[Task],
        (start, limit): (usize, usize),
        mode: Mode,
    ) -> Self {
        // Listing stops at the first finished task that started before `since` (finished
        // tasks are newest first).
        let (mut listed, mut end) = (RUNNING, count(&profile));
        match filter.since {
            None => listed = end,
            Some(s) => {
                while listed < end {
                    let mid = listed + (end - listed) / 2;
                    if start_time(&profile, mid, now) >= s {
                        listed = mid + 1;
                    } else {
                        end = mid;
                    }
                }
            }
        }
        let mut extra: Vec<Task> = extra
            .iter()
            .filter(|t| filter.since.is_none_or(|s| t.start >= s))
            .cloned()
            .collect();
        extra.sort_by_key(|t| std::cmp::Reverse(t.start));
        let mut listing = Listing::Indexed {
            generated: listed,
            extra,
        };
        if filter.typefilter.is_some() || filter.store.is_some() {
            let all = (0..listing.len())
                .map(|k| listing.at(&profile, now, k))
                .filter(|t| filter.keeps(t))
                .collect();
            listing = Listing::Listed(all);
        }
        let available = listing.len().saturating_sub(start);
        let returned = if limit == 0 {
            available
        } else {
            available.min(limit)
        };
        let full = limit != 0 && returned == limit;
        TaskStream {
            profile,
            now,
            listing,
            next: start,
            left: returned,
            total: start + returned + full as usize,
            mode,
            written: 0,
            cut_after: returned / 2,
            started: false,
        }
    }

    /// Task items written so far.
    pub(crate) fn items(&self) -> u64 {
        self.written as u64
    }

    /// Appends JSON to `buf` until it holds at least `target` bytes or the document ends.
    pub(crate) fn fill(&mut self, buf: &mut Vec<u8>, target: usize) -> Step {
        if !self.started {
            buf.extend_from_slice(b"{\"total\":");
            push_u64(buf, self.total as u64);
            buf.extend_from_slice(b",\"data\":[");
            self.started = true;
        }
        while buf.len() < target {
            if let Mode::Cut { clean } = self.mode {
                // Half of the items, then half of one.
                if self.written >= self.cut_after {
                    buf.extend_from_slice(b"{\"upid\":\"UPID:pbs01:0000");
                    return Step::Cut { clean };
                }
            }
            if self.left == 0 {
                buf.extend_from_slice(b"]}");
                return Step::Done;
            }
            if self.written > 0 {
                buf.push(b',');
            }
            item(buf, &self.listing.at(&self.profile, self.now, self.next));
            self.next += 1;
            self.left -= 1;
            self.written += 1;
        }
        Step::More
    }
}

impl Listing {
    fn len(&self) -> usize {
        match self {
            Listing::Indexed { generated, extra } => generated + extra.len(),
            Listing::Listed(l) => l.len(),
        }
    }

    /// The task at position `k` (< `len`).
    fn at(&self, p: &Profile, now: i64, k: usize) -> Task {
        match self {
            Listing::Listed(l) => l[k].clone(),
            Listing::Indexed { .. } if k < RUNNING => task(p, k, now),
            Listing::Indexed { extra, .. } => match extra.get(k - RUNNING) {
                Some(t) => t.clone(),
                None => task(p, k - extra.len(), now),
            },
        }
    }
}

/// One `TaskListItem`, in struct order (no `rename_all`: snake_case keys).
fn item(buf: &mut Vec<u8>, t: &Task) {
    let id = t.worker_id.as_deref().unwrap_or("");
    buf.extend_from_slice(b"{\"upid\":");
    push_str(buf, &crate::jobs::upid(t.task, t.start, t.worker_type, id));
    buf.extend_from_slice(b",\"node\":\"localhost\",\"pid\":1116,\"pstart\":2846,\"starttime\":");
    push_i64(buf, t.start);
    buf.extend_from_slice(b",\"worker_type\":");
    push_str(buf, t.worker_type);
    buf.extend_from_slice(b",\"worker_id\":");
    match &t.worker_id {
        Some(id) => push_str(buf, id),
        None => buf.extend_from_slice(b"null"),
    }
    buf.extend_from_slice(b",\"user\":\"root@pam\"");
    if let Some((end, status)) = t.end {
        buf.extend_from_slice(b",\"endtime\":");
        push_i64(buf, end);
        buf.extend_from_slice(b",\"status\":");
        push_str(buf, status);
    }
    buf.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(st: TaskStream) -> (String, Step) {
        crate::stream::Streamed::Tasks(st).drain()
    }

    fn f(since: Option<i64>) -> Filter {
        Filter {
            since,
            ..Filter::default()
        }
    }

    #[test]
    fn typefilter_store_and_the_changes_tasks() {
        let p = Profile::DEMO;
        let now = 2_000_000_000;
        let done = |start, store: &str| Task {
            worker_type: "verify_group",
            worker_id: Some(format!("{store}:vm/100")),
            store: Some(store.to_string()),
            start,
            end: Some((start + 1, "OK")),
            task: 0x3000,
        };
        let extra = [done(now - 10, "store2"), done(now - 5, "store1")];
        let filter = Filter {
            since: Some(now - 3600),
            typefilter: Some("verif".to_string()),
            store: None,
        };
        let (all, _) = body(TaskStream::new(
            p,
            now,
            &filter,
            &extra,
            (0, 0),
            Mode::Complete,
        ));
        // The running verificationjob, the two changes' tasks (newest first), then the
        // generated verificationjobs that started within the hour (one in 8 tasks, every
        // SPAN / p.tasks seconds).
        let generated = (0..count(&p))
            .map(|i| task(&p, i, now))
            .filter(|t| t.worker_type.contains("verif"))
            .filter(|t| t.end.is_none() || t.start >= now - 3600)
            .count();
        assert_eq!(
            all.matches("\"worker_type\"").count(),
            generated + 2,
            "{all}"
        );
        let first = all.find("verify_group").unwrap();
        assert!(all[first..].find("store1:vm").unwrap() < all[first..].find("store2:vm").unwrap());
        let filter = Filter {
            store: Some("store2".to_string()),
            ..filter
        };
        let (one, _) = body(TaskStream::new(
            p,
            now,
            &filter,
            &extra,
            (0, 0),
            Mode::Complete,
        ));
        assert_eq!(
            one.matches("\"worker_type\":\"verify_group\"").count(),
            1,
            "{one}"
        );
        assert!(!one.contains("store1"), "{one}");
    }

    #[test]
    fn since_start_and_limit_page_the_list() {
        let p = Profile::DEMO;
        let now = 2_000_000_000;
        let since = Some(now - model::DAY);
        let (all, end) = body(TaskStream::new(
            p,
            now,
            &f(since),
            &[],
            (0, 0),
            Mode::Complete,
        ));
        assert_eq!(end, Step::Done);
        let listed = RUNNING + p.tasks;
        assert!(all.starts_with(&format!("{{\"total\":{listed},\"data\":[{{\"upid\":")));
        assert_eq!(all.matches("\"worker_type\"").count(), listed);
        assert_eq!(all.matches("\"endtime\"").count(), p.tasks);
        assert!(all.contains("\"worker_id\":null"));
        // Without `since`, the old tasks too.
        let (old, _) = body(TaskStream::new(
            p,
            now,
            &f(None),
            &[],
            (0, 0),
            Mode::Complete,
        ));
        assert_eq!(old.matches("\"worker_type\"").count(), count(&p));
        // A full page says there is more.
        let (page, _) = body(TaskStream::new(
            p,
            now,
            &f(since),
            &[],
            (10, 20),
            Mode::Complete,
        ));
        assert!(page.starts_with("{\"total\":31,"), "{page}");
        assert_eq!(page.matches("\"worker_type\"").count(), 20);
        let (last, _) = body(TaskStream::new(
            p,
            now,
            &f(since),
            &[],
            (110, 20),
            Mode::Complete,
        ));
        assert!(
            last.starts_with(&format!("{{\"total\":{listed},")),
            "{last}"
        );
        assert_eq!(last.matches("\"worker_type\"").count(), listed - 110);
        let (cut, end) = body(TaskStream::new(
            p,
            now,
            &f(since),
            &[],
            (0, 0),
            Mode::Cut { clean: true },
        ));
        assert_eq!(end, Step::Cut { clean: true });
        assert!(cut.len() < all.len());
    }

    #[test]
    fn the_mix_has_every_outcome() {
        let p = Profile::REFERENCE;
        let tasks: Vec<Task> = (0..count(&p)).map(|i| task(&p, i, 0)).collect();
        let status = |s: &str| {
            tasks
                .iter()
                .filter(|t| t.end.is_some_and(|e| e.1 == s))
                .count()
        };
        assert_eq!(tasks.iter().filter(|t| t.end.is_none()).count(), RUNNING);
        assert!(status("OK") > 0 && status("WARNINGS: 2") > 0 && status(FAILED) > 0);
        assert!(
            tasks
                .windows(2)
                .skip(RUNNING)
                .all(|w| w[0].start >= w[1].start)
        );
        assert!(
            tasks[RUNNING..RUNNING + p.tasks]
                .iter()
                .all(|t| t.start > -model::DAY)
        );
        assert!(
            tasks[RUNNING + p.tasks..]
                .iter()
                .all(|t| t.start < -model::DAY)
        );
    }
}
