//! Jobs collector: the last and next run of every garbage-collection, prune, sync, tape-backup
//! and verify job, from `GET /admin/gc`, `/admin/prune`, `/admin/sync?sync-direction=all` (the
//! default, `pull`, leaves push jobs out), `/tape/backup` and `/admin/verify`. PBS lists jobs
//! in arbitrary order; they are written by type, then sorted by id.
//!
//! A PBS without tape, or a token without `Tape.Audit`, answers `/tape/backup` with 404 or 403:
//! that means no tape-backup jobs, logged once at info, not a failure. A 403 on any other job
//! list fails the collector (the other lists are still written).

use super::task_state::{Outcome, upid_start};
use super::{Ctx, MAX_TEXT_LABEL, Seen};
use crate::client::PbsError;
use crate::exposition::{Families, truncate_utf8};
use crate::json::{JsonError, JsonReader, Path, Scalar, Sink};
use crate::log_info;

crate::families! {
    pub enum Family {
        LastRun => Gauge "pbs_job_last_run_timestamp_seconds" "End of the job's last run; absent if it never finished one.",
        LastState => Gauge "pbs_job_last_run_state" "Outcome of the job's last run: 1 on the series of its state (ok, warning, error, unknown), 0 on the other three.",
        LastDuration => Gauge "pbs_job_last_run_duration_seconds" "How long the job's last run took, from the start its UPID encodes to its end.",
        NextRun => Gauge "pbs_job_next_run_timestamp_seconds" "When the job runs next; absent without a schedule and for disabled jobs.",
        SyncInfo => Gauge "pbs_job_sync_info" "A sync job's direction (pull, push) and remote (empty for a local sync) as labels. Always 1.",
    }
}

/// The job lists, in the order written: `job_type` label and API path.
const LISTS: [(&str, &str); 5] = [
    ("gc", "/admin/gc"),
    ("prune", "/admin/prune"),
    ("sync", "/admin/sync?sync-direction=all"),
    ("tape-backup", "/tape/backup"),
    ("verify", "/admin/verify"),
];

/// Most jobs read from one list; PBS configurations have tens.
pub const MAX_JOBS: usize = 1000;

/// One job: the fields of its config and `JobScheduleStatus` this collector reads. Text is
/// kept to [`MAX_TEXT_LABEL`] bytes as it is read.
#[derive(Default)]
struct Job {
    id: String,
    store: String,
    /// Start of the last run, from its UPID.
    start: Option<i64>,
    end: Option<i64>,
    state: Option<Outcome>,
    next_run: Option<i64>,
    /// Sync jobs: `sync-direction` (absent: pull) and `remote` (absent: local).
    direction: String,
    remote: String,
}

impl Job {
    /// Forgets the fields, keeping the strings' capacity.
    fn reset(&mut self) {
        self.id.clear();
        self.store.clear();
        self.start = None;
        self.end = None;
        self.state = None;
        self.next_run = None;
        self.direction.clear();
        self.remote.clear();
    }
}

/// What the jobs collector keeps between scrapes: the jobs of the list being read, and whether
/// the absence of tape was logged.
#[derive(Default)]
pub struct State {
    list: List,
    tape_absent_logged: bool,
}

/// Whether the missing tape-backup list was logged is kept.
impl super::IdleState for State {
    fn free_reuse(&mut self) {
        self.list = List::default();
    }
}

/// The jobs of one list (a reused vector: its strings keep their capacity).
#[derive(Default)]
struct List {
    jobs: Vec<Job>,
    len: usize,
    item: Job,
    seen: Seen,
    /// More than [`MAX_JOBS`] were listed.
    overflow: bool,
    /// `/admin/gc`: the id is the store and the UPID field is `upid`.
    gc: bool,
}

impl List {
    fn clear(&mut self, gc: bool) {
        self.len = 0;
        self.item.reset();
        self.seen.clear();
        self.overflow = false;
        self.gc = gc;
    }

    /// Writes the jobs, sorted by id.
    fn write(&mut self, out: &mut Families, job_type: &str) {
        let jobs = &mut self.jobs[..self.len];
        jobs.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        for j in jobs.iter() {
            let set = out.labels(&[
                ("job_type", job_type),
                ("job_id", &j.id),
                ("datastore", &j.store),
            ]);
            if let Some(end) = j.end {
                out.sample_in(Family::LastRun, set, end);
            }
            let state = j.state.unwrap_or(Outcome::Unknown);
            for o in Outcome::ALL {
                out.sample_in_with(Family::LastState, set, &[("state", o.label())], o == state);
            }
            if let Some(d) = j.start.zip(j.end).and_then(|(s, e)| e.checked_sub(s)) {
                if d >= 0 {
                    out.sample_in(Family::LastDuration, set, d);
                }
            }
            if let Some(next) = j.next_run {
                out.sample_in(Family::NextRun, set, next);
            }
            if job_type == "sync" {
                let direction = if j.direction.is_empty() {
                    "pull"
                } else {
                    &j.direction
                };
                out.sample_in_with(
                    Family::SyncInfo,
                    set,
                    &[("direction", direction), ("remote", &j.remote)],
                    1u64,
                );
            }
        }
    }
}

/// Copies `src`, cut to [`MAX_TEXT_LABEL`] bytes, into a reused string.
fn set_label(dst: &mut String, src: &str) {
    super::set(dst, truncate_utf8(src, MAX_TEXT_LABEL));
}

impl Sink for List {
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        let Some(key) = path.item_key() else { return };
        let j = &mut self.item;
        let text = value.as_str();
        match key {
            "id" if !self.gc => set_label(&mut j.id, text.unwrap_or("")),
            "store" => {
                set_label(&mut j.store, text.unwrap_or(""));
                if self.gc {
                    set_label(&mut j.id, text.unwrap_or(""));
                }
            }
            "upid" if self.gc => j.start = text.and_then(upid_start),
            "last-run-upid" if !self.gc => j.start = text.and_then(upid_start),
            "last-run-endtime" => j.end = value.as_i64(),
            "last-run-state" => j.state = text.map(Outcome::parse),
            "next-run" => j.next_run = value.as_i64(),
            "sync-direction" => set_label(&mut j.direction, text.unwrap_or("")),
            "remote" => set_label(&mut j.remote, text.unwrap_or("")),
            _ => {}
        }
    }

    fn close(&mut self, path: &Path<'_>) {
        if !path.is_item() {
            return;
        }
        if !self.item.id.is_empty() && self.seen.first(&[&self.item.id]) {
            if self.len == MAX_JOBS {
                self.overflow = true;
            } else {
                if self.len == self.jobs.len() {
                    self.jobs.push(Job::default());
                }
                std::mem::swap(&mut self.jobs[self.len], &mut self.item);
                self.len += 1;
            }
        }
        self.item.reset();
    }
}

/// Reads every job list.
pub async fn collect(ctx: &mut Ctx<'_>, state: &mut State, out: &mut Families) {
    for (job_type, path) in LISTS {
        let list = &mut state.list;
        list.clear(job_type == "gc");
        match ctx.client.get_json(path, list, ctx.deadline).await {
            Ok(()) => {
                if job_type == "tape-backup" {
                    state.tape_absent_logged = false;
                }
                if list.overflow {
                    ctx.errors.push(format!(
                        "{path} lists more than {MAX_JOBS} jobs; the rest are left out"
                    ));
                }
                list.write(out, job_type);
            }
            Err(PbsError::Forbidden(_) | PbsError::NotFound(_)) if job_type == "tape-backup" => {
                if !state.tape_absent_logged {
                    log_info!(
                        "no tape-backup jobs: PBS has no tape support or the token lacks Tape.Audit ({path} refused)"
                    );
                    state.tape_absent_logged = true;
                }
            }
            Err(e) => ctx.fail(format_args!("reading {job_type} jobs"), &e),
        }
    }
}

/// Writes the job families of one list (`job_type` `gc`, `prune`, `sync`, `tape-backup` or
/// `verify`) from its body given in pieces (fuzzing, benchmarks); returns whether it listed
/// more than [`MAX_JOBS`].
pub fn from_json<'p>(
    job_type: &str,
    pieces: impl IntoIterator<Item = &'p [u8]>,
    out: &mut Families,
) -> Result<bool, JsonError> {
    let mut list = List::default();
    list.clear(job_type == "gc");
    JsonReader::new().read_pieces(pieces, &mut list)?;
    list.write(out, job_type);
    Ok(list.overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(job_type: &str, body: &[u8]) -> String {
        let mut f = Families::new(Family::TABLE);
        from_json(job_type, body.chunks(7), &mut f).unwrap();
        let mut out = Vec::new();
        f.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_pbs_fixtures_read_as_documented() {
        let t = text(
            "sync",
            include_bytes!("../../tests/fixtures/admin-sync.json"),
        );
        let pull = r#"job_type="sync",job_id="s-2b0b1a1c-c6a1",datastore="store1""#;
        let local = r#"job_type="sync",job_id="s-9d4e11f0-07aa",datastore="offsite-usb""#;
        for line in [
            format!("pbs_job_last_run_timestamp_seconds{{{pull}}} 1784538192"),
            format!("pbs_job_last_run_state{{{pull},state=\"ok\"}} 1"),
            format!("pbs_job_last_run_state{{{pull},state=\"error\"}} 0"),
            format!(
                "pbs_job_last_run_duration_seconds{{{pull}}} {}",
                1784538192 - 0x6A5DE395
            ),
            format!("pbs_job_next_run_timestamp_seconds{{{pull}}} 1784545200"),
            format!("pbs_job_sync_info{{{pull},direction=\"pull\",remote=\"pbs-branch\"}} 1"),
            // A bare error text is an error; a local sync has an empty remote.
            format!("pbs_job_last_run_state{{{local},state=\"error\"}} 1"),
            format!("pbs_job_sync_info{{{local},direction=\"pull\",remote=\"\"}} 1"),
        ] {
            assert!(t.contains(&format!("{line}\n")), "missing {line}\n{t}");
        }
        assert!(!t.contains(&format!("pbs_job_next_run_timestamp_seconds{{{local}}}")));

        let t = text("gc", include_bytes!("../../tests/fixtures/admin-gc.json"));
        let gc = |s: &str| format!(r#"job_type="gc",job_id="{s}",datastore="{s}""#);
        for line in [
            format!(
                "pbs_job_last_run_duration_seconds{{{}}} 611",
                gc("s3-archive")
            ),
            format!(
                "pbs_job_last_run_state{{{},state=\"warning\"}} 1",
                gc("s3-archive")
            ),
            format!("pbs_job_last_run_duration_seconds{{{}}} 2917", gc("store1")),
            // Never ran: unknown, and no timestamps.
            format!(
                "pbs_job_last_run_state{{{},state=\"unknown\"}} 1",
                gc("scratch")
            ),
        ] {
            assert!(t.contains(&format!("{line}\n")), "missing {line}\n{t}");
        }
        assert!(!t.contains(&format!(
            "pbs_job_last_run_timestamp_seconds{{{}}}",
            gc("scratch")
        )));
        // Sorted by id, whatever PBS's order.
        let states = &t[t.find("# TYPE pbs_job_last_run_state").unwrap()..];
        let a = states.find(&gc("s3-archive")).unwrap();
        let b = states.find(&gc("scratch")).unwrap();
        let c = states.find(&gc("store1")).unwrap();
        assert!(a < b && b < c, "{t}");
    }

    #[test]
    fn repeated_and_excess_jobs_are_bounded() {
        let mut body = String::from(r#"{"data":["#);
        for i in 0..=MAX_JOBS {
            body.push_str(&format!(
                r#"{{"id":"j{i}","store":"s"}},{{"id":"j{i}","store":"t"}},"#
            ));
        }
        body.push_str(r#"{"id":"x","store":"s"}]}"#);
        let mut f = Families::new(Family::TABLE);
        assert!(from_json("prune", [body.as_bytes()], &mut f).unwrap());
        let mut out = Vec::new();
        f.write_to(&mut out);
        let t = String::from_utf8(out).unwrap();
        assert_eq!(t.matches("state=\"unknown\"} 1").count(), MAX_JOBS);
        assert!(
            !t.contains("datastore=\"t\""),
            "the first of a repeated id wins"
        );
    }
}
