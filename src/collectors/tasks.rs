//! Tasks collector: tasks running now and tasks finished within `--tasks-window`, counted by
//! worker type, datastore and outcome, from `GET /nodes/localhost/tasks?since=&start=&limit=`,
//! page by page. Never a series per task: each task is folded into its (worker type,
//! datastore) count as the list streams in, so memory grows with the kinds of tasks, not with
//! their number.
//!
//! Without `Sys.Audit` on `/system/tasks` PBS lists only the token's (and its user's) own
//! tasks. PBS has no cursor: a task starting between two pages shifts the list, so one task
//! may be counted twice or not at all in that scrape.

use super::task_state::Outcome;
use super::{Ctx, MAX_TEXT_LABEL};
use crate::exposition::{Families, truncate_utf8};
use crate::json::{JsonError, JsonReader, Path, Scalar, Sink};
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

crate::families! {
    pub enum Family {
        Running => Gauge "pbs_tasks_running" "Tasks running now, by worker type and datastore.",
        Finished => Gauge "pbs_tasks_finished" "Tasks started within the tasks window that have finished, by worker type, datastore and outcome (ok, warning, error; PBS's unknown counts as error).",
    }
}

/// Tasks asked for per request.
pub const PAGE: usize = 5000;
/// Most tasks read in one scrape (a PBS keeps far fewer in its task archive).
pub const MAX_TASKS: usize = 2_000_000;
/// Most distinct (worker type, datastore) pairs counted.
pub const MAX_KINDS: usize = 1000;

/// Finished outcomes, in label order: the index into [`Kind::finished`].
const FINISHED: [(Outcome, &str); 3] = [
    (Outcome::Ok, "ok"),
    (Outcome::Warning, "warning"),
    (Outcome::Error, "error"),
];

/// The counts of one (worker type, datastore) pair.
#[derive(Default)]
struct Kind {
    worker_type: String,
    datastore: String,
    running: u64,
    finished: [u64; 3],
}

/// The fields of one task this collector reads.
#[derive(Default)]
struct Task {
    worker_type: String,
    worker_id: String,
    start: Option<i64>,
    status: Option<Outcome>,
}

/// What the tasks collector keeps between scrapes: the counts and the task being read.
#[derive(Default)]
pub struct State {
    counts: Counts,
    path: String,
}

/// Nothing is carried to the next scrape.
impl super::IdleState for State {}

/// The counts over the whole list (reused: strings keep their capacity).
#[derive(Default)]
struct Counts {
    kinds: Vec<Kind>,
    len: usize,
    item: Task,
    /// Finished tasks that started before this are not counted.
    since: i64,
    /// Items in the page being read.
    page_items: usize,
    /// A new kind did not fit in [`MAX_KINDS`].
    overflow: bool,
}

/// The datastore a task works on: part of its worker id for the worker types that name one.
pub(super) fn datastore<'a>(worker_type: &str, worker_id: &'a str) -> &'a str {
    let mut parts = worker_id.split(':');
    let part = match worker_type {
        "backup" | "reader" | "garbage_collection" | "prune" | "prunejob" | "verify"
        | "verify_group" | "verify_snapshot" | "verificationjob" | "tape-backup-job" => {
            parts.next()
        }
        // `remote|-:remote-store:store:ns:jobid`
        "syncjob" => parts.nth(2),
        _ => None,
    };
    part.unwrap_or("")
}

impl Counts {
    fn clear(&mut self, since: i64) {
        self.len = 0;
        self.since = since;
        self.overflow = false;
        self.reset_item();
    }

    fn reset_item(&mut self) {
        let t = &mut self.item;
        t.worker_type.clear();
        t.worker_id.clear();
        t.start = None;
        t.status = None;
    }

    /// Folds the task just read into its kind's counts.
    fn add(&mut self) {
        let t = &self.item;
        if t.status.is_some() && t.start.is_none_or(|s| s < self.since) {
            return;
        }
        let store = datastore(&t.worker_type, &t.worker_id);
        let same = |k: &Kind| k.worker_type == t.worker_type && k.datastore == store;
        let found = match self.len.checked_sub(1) {
            Some(last) if same(&self.kinds[last]) => Some(last),
            _ => self.kinds[..self.len].iter().position(same),
        };
        let i = match found {
            Some(i) => i,
            None if self.len == MAX_KINDS => {
                self.overflow = true;
                return;
            }
            None => {
                if self.len == self.kinds.len() {
                    self.kinds.push(Kind::default());
                }
                let k = &mut self.kinds[self.len];
                super::set(&mut k.worker_type, &t.worker_type);
                super::set(&mut k.datastore, store);
                k.running = 0;
                k.finished = [0; 3];
                self.len += 1;
                self.len - 1
            }
        };
        let k = &mut self.kinds[i];
        match t.status {
            None => k.running += 1,
            Some(Outcome::Ok) => k.finished[0] += 1,
            Some(Outcome::Warning) => k.finished[1] += 1,
            Some(Outcome::Error | Outcome::Unknown) => k.finished[2] += 1,
        }
    }

    /// Writes the counts, sorted by worker type and datastore.
    fn write(&mut self, out: &mut Families) {
        let kinds = &mut self.kinds[..self.len];
        kinds.sort_unstable_by(|a, b| {
            (a.worker_type.as_str(), a.datastore.as_str())
                .cmp(&(b.worker_type.as_str(), b.datastore.as_str()))
        });
        for k in kinds.iter() {
            let set = out.labels(&[("worker_type", &k.worker_type), ("datastore", &k.datastore)]);
            out.sample_in(Family::Running, set, k.running);
            for ((_, label), n) in FINISHED.iter().zip(k.finished) {
                out.sample_in_with(Family::Finished, set, &[("status", label)], n);
            }
        }
    }
}

impl Sink for Counts {
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        let t = &mut self.item;
        let text = || truncate_utf8(value.as_str().unwrap_or(""), MAX_TEXT_LABEL);
        match path.item_key() {
            Some("worker_type") => super::set(&mut t.worker_type, text()),
            Some("worker_id") => super::set(&mut t.worker_id, text()),
            Some("starttime") => t.start = value.as_i64(),
            Some("status") => t.status = value.as_str().map(Outcome::parse),
            _ => {}
        }
    }

    fn close(&mut self, path: &Path<'_>) {
        if path.is_item() {
            self.page_items += 1;
            self.add();
            self.reset_item();
        }
    }
}

/// Reads the task list of the window, page by page, and writes the counts.
pub async fn collect(ctx: &mut Ctx<'_>, state: &mut State, out: &mut Families) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let since = now.saturating_sub(ctx.settings.tasks_window.as_secs());
    let counts = &mut state.counts;
    counts.clear(i64::try_from(since).unwrap_or(i64::MAX));
    let mut start = 0;
    loop {
        if start >= MAX_TASKS {
            ctx.errors.push(format!(
                "more than {MAX_TASKS} tasks in the window: counts left out"
            ));
            return;
        }
        let path = &mut state.path;
        path.clear();
        let _ = write!(
            path,
            "/nodes/localhost/tasks?since={since}&start={start}&limit={PAGE}"
        );
        counts.page_items = 0;
        if let Err(e) = ctx.client.get_json(path, counts, ctx.deadline).await {
            ctx.fail(format_args!("listing tasks"), &e);
            return;
        }
        if counts.page_items < PAGE {
            break;
        }
        start += PAGE;
    }
    if counts.overflow {
        ctx.errors.push(format!(
            "more than {MAX_KINDS} kinds of tasks (worker type and datastore): counts left out"
        ));
        return;
    }
    counts.write(out);
}

/// Writes the task families from one `/tasks` page given in pieces, counting finished tasks
/// that started at `since` or later (fuzzing, benchmarks); returns the number of items.
pub fn from_json<'p>(
    since: i64,
    pieces: impl IntoIterator<Item = &'p [u8]>,
    out: &mut Families,
) -> Result<usize, JsonError> {
    let mut counts = Counts::default();
    counts.clear(since);
    JsonReader::new().read_pieces(pieces, &mut counts)?;
    counts.write(out);
    Ok(counts.page_items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(since: i64, body: &[u8], step: usize) -> String {
        let mut f = Families::new(Family::TABLE);
        from_json(since, body.chunks(step), &mut f).unwrap();
        let mut out = Vec::new();
        f.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_pbs_fixture_counts_by_type_datastore_and_outcome() {
        let body = include_bytes!("../../tests/fixtures/tasks.json");
        let t = text(0, body, 4096);
        let backup = r#"worker_type="backup",datastore="store1""#;
        for line in [
            format!("pbs_tasks_running{{{backup}}} 1"),
            format!("pbs_tasks_finished{{{backup},status=\"ok\"}} 2"),
            format!("pbs_tasks_finished{{{backup},status=\"warning\"}} 0"),
            // "backup ended but finished flag is not set." is an error.
            format!("pbs_tasks_finished{{{backup},status=\"error\"}} 1"),
            r#"pbs_tasks_running{worker_type="reader",datastore="store1"} 0"#.into(),
            r#"pbs_tasks_finished{worker_type="syncjob",datastore="store1",status="ok"} 1"#.into(),
            r#"pbs_tasks_finished{worker_type="logrotate",datastore="",status="ok"} 1"#.into(),
        ] {
            assert!(t.contains(&format!("{line}\n")), "missing {line}\n{t}");
        }
        assert_eq!(text(0, body, 1), t, "chunking changes nothing");

        // Finished tasks that started before `since` are not counted; running ones are.
        let t = text(1784512800, body, 4096);
        for line in [
            format!("pbs_tasks_running{{{backup}}} 1"),
            format!("pbs_tasks_finished{{{backup},status=\"ok\"}} 0"),
            r#"pbs_tasks_finished{worker_type="verificationjob",datastore="store1",status="error"} 1"#.into(),
            r#"pbs_tasks_finished{worker_type="garbage_collection",datastore="s3-archive",status="warning"} 1"#.into(),
        ] {
            assert!(t.contains(&format!("{line}\n")), "missing {line}\n{t}");
        }
        assert!(!t.contains("prunejob"), "{t}");
    }

    #[test]
    fn datastores_come_from_worker_ids_that_name_one() {
        assert_eq!(datastore("backup", "store1:vm/100"), "store1");
        assert_eq!(datastore("garbage_collection", "store1"), "store1");
        assert_eq!(
            datastore("syncjob", "pbs-branch:local-store:store1:ns:s-1"),
            "store1"
        );
        assert_eq!(datastore("syncjob", "-"), "");
        assert_eq!(datastore("aptupdate", "store1"), "");
        assert_eq!(
            datastore("tape-backup-job", "store1:pool:drive:job"),
            "store1"
        );
    }
}
