//! Scheduled jobs: `/admin/gc`, `/admin/verify`, `/admin/sync`, `/admin/prune` and
//! `/tape/backup`, deterministic per profile so tests can compute every job metric. Each job's
//! last run has a UPID whose start time is its end minus a known duration. The mix covers what
//! an exporter must tell apart: `OK`, `WARNINGS: 2`, a bare error text, a job that never ran, a
//! running one, a disabled one (no `next-run`), pull, push and local sync jobs.

use crate::json::{push_i64, push_str};
use crate::model::{self, BASE, GcStatus, Profile};

/// The kind of a job, in the order the exporter writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobType {
    /// Garbage collection (`/admin/gc`), one per datastore; its id is the datastore.
    Gc,
    /// Prune jobs (`/admin/prune`).
    Prune,
    /// Sync jobs (`/admin/sync?sync-direction=all`).
    Sync,
    /// Tape backup jobs (`/tape/backup`).
    TapeBackup,
    /// Verification jobs (`/admin/verify`).
    Verify,
}

impl JobType {
    /// Every type, in the exporter's order.
    pub const ALL: [JobType; 5] = [
        JobType::Gc,
        JobType::Prune,
        JobType::Sync,
        JobType::TapeBackup,
        JobType::Verify,
    ];

    /// The exporter's `job_type` label.
    pub fn label(self) -> &'static str {
        match self {
            JobType::Gc => "gc",
            JobType::Prune => "prune",
            JobType::Sync => "sync",
            JobType::TapeBackup => "tape-backup",
            JobType::Verify => "verify",
        }
    }

    /// The API path listing the jobs (below `/api2/json`).
    pub fn path(self) -> &'static str {
        match self {
            JobType::Gc => "/admin/gc",
            JobType::Prune => "/admin/prune",
            JobType::Sync => "/admin/sync",
            JobType::TapeBackup => "/tape/backup",
            JobType::Verify => "/admin/verify",
        }
    }

    fn worker_type(self) -> &'static str {
        match self {
            JobType::Gc => "garbage_collection",
            JobType::Prune => "prunejob",
            JobType::Sync => "syncjob",
            JobType::TapeBackup => "tape-backup-job",
            JobType::Verify => "verificationjob",
        }
    }
}

/// The last run of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastRun {
    /// Start (encoded in the UPID).
    pub start: i64,
    /// End and state (`last-run-endtime`, `last-run-state`); `None` while it runs.
    pub end: Option<(i64, &'static str)>,
    /// Task number inside the UPID.
    pub task: u64,
}

/// One job as the simulator lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// Its type.
    pub job_type: JobType,
    /// Job id (the datastore for GC).
    pub id: String,
    /// The datastore it works on.
    pub store: String,
    /// `next-run`; absent without a schedule and for disabled jobs.
    pub next_run: Option<i64>,
    /// The last run; `None` if it never ran.
    pub last_run: Option<LastRun>,
    /// Sync only: `sync-direction` as sent (`None`: left out, which means pull).
    pub direction: Option<&'static str>,
    /// Sync only: `remote` (`None`: a local sync).
    pub remote: Option<&'static str>,
    /// Prune only: `disable: true`.
    pub disabled: bool,
}

/// The error text of the failed verify job (PBS stores the bare message).
pub const VERIFY_FAILED: &str = "verification failed - please check the log for details";

impl Job {
    fn new(job_type: JobType, id: &str, store: &str) -> Self {
        Job {
            job_type,
            id: id.to_string(),
            store: store.to_string(),
            next_run: Some(BASE + 12 * 3600),
            last_run: None,
            direction: None,
            remote: None,
            disabled: false,
        }
    }

    fn ran(mut self, start: i64, duration: i64, state: &'static str, task: u64) -> Self {
        self.last_run = Some(LastRun {
            start,
            end: Some((start + duration, state)),
            task,
        });
        self
    }

    /// Seconds the last run took; `None` if it never ran or still runs.
    pub fn duration(&self) -> Option<i64> {
        let run = self.last_run.as_ref()?;
        Some(run.end?.0 - run.start)
    }

    /// The worker id of the job's tasks, unescaped.
    pub fn worker_id(&self) -> String {
        match self.job_type {
            JobType::Gc | JobType::Prune => self.store.clone(),
            JobType::Verify => format!("{}:{}", self.store, self.id),
            JobType::Sync => format!(
                "{}:store1:{}::{}",
                self.remote.unwrap_or("-"),
                self.store,
                self.id
            ),
            JobType::TapeBackup => format!("{}:{TAPE_POOL}:{TAPE_DRIVE}:{}", self.store, self.id),
        }
    }

    /// The UPID of the last run, if any.
    pub fn upid(&self) -> Option<String> {
        let run = self.last_run.as_ref()?;
        Some(upid(
            run.task,
            run.start,
            self.job_type.worker_type(),
            &self.worker_id(),
        ))
    }
}

/// Media pool of the tape-backup job.
pub const TAPE_POOL: &str = "daily";
/// Drive of the tape-backup job.
pub const TAPE_DRIVE: &str = "lto9";

/// A UPID: `UPID:{node}:{pid}:{pstart}:{task}:{start}:{worker_type}:{escaped id}:{authid}:`.
pub fn upid(task: u64, start: i64, worker_type: &str, worker_id: &str) -> String {
    format!(
        "UPID:{}:0000045C:00000B1E:{task:08X}:{:08X}:{worker_type}:{}:root@pam:",
        model::NODE,
        start,
        systemd_escape(worker_id)
    )
}

/// systemd's escaping of a UPID worker id: `/` becomes `-`, and every byte outside
/// `[A-Za-z0-9_.]` becomes `\xHH`.
pub fn systemd_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'/' => out.push('-'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// The jobs of one type, in the order the simulator lists them (not sorted: PBS's order is
/// arbitrary).
pub fn jobs(p: &Profile, t: JobType) -> Vec<Job> {
    let store = |d: usize| model::store_name(d.min(p.datastores.saturating_sub(1)));
    let mut v = Vec::new();
    match t {
        JobType::Gc => {
            // One per datastore, listed last to first; every third one warned.
            for d in (0..p.datastores).rev() {
                let state = if d % 3 == 1 { "WARNINGS: 2" } else { "OK" };
                let mut j = Job::new(t, &store(d), &store(d)).ran(
                    model::gc_start(d),
                    gc_duration(d),
                    state,
                    0x2A + d as u64,
                );
                j.next_run = Some(BASE + 18 * 3600 + d as i64 * 60);
                v.push(j);
            }
        }
        JobType::Verify if p.datastores > 0 => {
            let mut weekly = Job::new(t, "v-weekly", &store(0));
            weekly.next_run = Some(BASE + 3 * model::DAY);
            v.push(weekly);
            v.push(Job::new(t, "v-daily-store1", &store(0)).ran(
                BASE - 4 * 3600,
                1800,
                VERIFY_FAILED,
                0x23,
            ));
            if p.datastores > 1 {
                v.push(Job::new(t, "v-daily-store2", &store(1)).ran(
                    BASE - 3 * 3600,
                    2400,
                    "OK",
                    0x24,
                ));
            }
        }
        JobType::Sync if p.datastores > 0 => {
            let mut push = Job::new(t, "s-push-offsite", &store(0)).ran(
                BASE - 2 * 3600,
                95,
                "WARNINGS: 2",
                0x3B,
            );
            push.direction = Some("push");
            push.remote = Some("pbs-offsite");
            v.push(push);
            let mut pull =
                Job::new(t, "s-pull-branch", &store(0)).ran(BASE - 3600, 187, "OK", 0x3A);
            pull.remote = Some("pbs-branch");
            v.push(pull);
            // A local sync, running now: a UPID but no end or state.
            let mut local = Job::new(t, "s-local", &store(1));
            local.direction = Some("pull");
            local.last_run = Some(LastRun {
                start: BASE - 300,
                end: None,
                task: 0x40,
            });
            v.push(local);
        }
        JobType::Prune if p.datastores > 0 => {
            for d in 0..p.datastores.min(2) {
                let id = format!("prune-{}", store(d));
                v.push(Job::new(t, &id, &store(d)).ran(
                    BASE - 5 * 3600 + d as i64 * 60,
                    30 + d as i64,
                    "OK",
                    0x29 + d as u64,
                ));
            }
            let mut off = Job::new(t, "prune-disabled", &store(0)).ran(
                BASE - 40 * model::DAY,
                12,
                "OK",
                0x05,
            );
            off.disabled = true;
            off.next_run = None;
            v.push(off);
        }
        JobType::TapeBackup if p.tape && p.datastores > 0 => {
            v.push(Job::new(t, "tape-nightly", &store(0)).ran(
                BASE - 8 * 3600,
                3 * 3600,
                "OK",
                0x30,
            ));
        }
        _ => {}
    }
    v
}

/// Seconds the last GC of datastore `d` took.
pub fn gc_duration(d: usize) -> i64 {
    600 + 60 * d as i64
}

/// Writes the body of `t`'s job list.
pub(crate) fn write(buf: &mut Vec<u8>, p: &Profile, t: JobType) {
    write_filtered(buf, p, t, |_| true);
}

/// Writes the body of `t`'s job list, with only the jobs `keep` accepts.
pub(crate) fn write_filtered(
    buf: &mut Vec<u8>,
    p: &Profile,
    t: JobType,
    keep: impl Fn(&Job) -> bool,
) {
    buf.extend_from_slice(b"{\"data\":[");
    for (i, j) in jobs(p, t).iter().filter(|j| keep(j)).enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.push(b'{');
        if t == JobType::Gc {
            let d = model::store_index(p, &j.store).unwrap_or(0);
            gc_entry(buf, j, &model::gc_status(p, d));
        } else {
            job_entry(buf, j);
        }
        buf.push(b'}');
    }
    buf.extend_from_slice(b"]");
    if t != JobType::Gc {
        buf.extend_from_slice(
            b",\"digest\":\"9a8b7c6d5e4f30211f0e1d2c3b4a59687766554433221100ffeeddccbbaa9988\"",
        );
    }
    buf.push(b'}');
}

/// `"key":value,` pairs; the caller closes the object.
fn field(buf: &mut Vec<u8>, first: &mut bool, k: &str, v: impl FnOnce(&mut Vec<u8>)) {
    if !*first {
        buf.push(b',');
    }
    *first = false;
    push_str(buf, k);
    buf.push(b':');
    v(buf);
}

/// A `GarbageCollectionJobStatus`: the GC counters, `upid` (no `last-run-upid`), `duration`.
fn gc_entry(buf: &mut Vec<u8>, j: &Job, gc: &GcStatus) {
    let mut first = true;
    let f = &mut first;
    for (k, v) in [
        ("disk-bytes", gc.disk_bytes),
        ("disk-chunks", gc.disk_chunks),
    ] {
        field(buf, f, k, |b| push_i64(b, v as i64));
    }
    if let Some(d) = j.duration() {
        field(buf, f, "duration", |b| push_i64(b, d));
    }
    for (k, v) in [
        ("index-data-bytes", gc.index_data_bytes),
        ("index-file-count", gc.index_file_count),
    ] {
        field(buf, f, k, |b| push_i64(b, v as i64));
    }
    last_run_fields(buf, f, j, false);
    for (k, v) in [
        ("pending-bytes", gc.pending_bytes),
        ("pending-chunks", gc.pending_chunks),
        ("removed-bad", gc.removed_bad),
        ("removed-bytes", gc.removed_bytes),
        ("removed-chunks", gc.removed_chunks),
    ] {
        field(buf, f, k, |b| push_i64(b, v as i64));
    }
    field(buf, f, "schedule", |b| push_str(b, "daily"));
    field(buf, f, "still-bad", |b| push_i64(b, gc.still_bad as i64));
    field(buf, f, "store", |b| push_str(b, &j.store));
    field(buf, f, "upid", |b| match j.upid() {
        Some(u) => push_str(b, &u),
        None => b.extend_from_slice(b"null"),
    });
}

/// `last-run-endtime`, `last-run-state`, `last-run-upid` (unless `gc`), `next-run`.
fn last_run_fields(buf: &mut Vec<u8>, f: &mut bool, j: &Job, upid: bool) {
    if let Some((end, state)) = j.last_run.as_ref().and_then(|r| r.end) {
        field(buf, f, "last-run-endtime", |b| push_i64(b, end));
        field(buf, f, "last-run-state", |b| push_str(b, state));
    }
    if let (true, Some(u)) = (upid, j.upid()) {
        field(buf, f, "last-run-upid", |b| push_str(b, &u));
    }
    if let Some(n) = j.next_run {
        field(buf, f, "next-run", |b| push_i64(b, n));
    }
}

/// A job config flattened with its `JobScheduleStatus`, keys sorted.
fn job_entry(buf: &mut Vec<u8>, j: &Job) {
    let mut first = true;
    let f = &mut first;
    if j.disabled {
        field(buf, f, "disable", |b| b.extend_from_slice(b"true"));
    }
    if j.job_type == JobType::TapeBackup {
        field(buf, f, "drive", |b| push_str(b, TAPE_DRIVE));
    }
    field(buf, f, "id", |b| push_str(b, &j.id));
    last_run_fields(buf, f, j, true);
    if j.job_type == JobType::Prune {
        field(buf, f, "keep-daily", |b| b.extend_from_slice(b"7"));
    }
    if j.job_type == JobType::TapeBackup {
        field(buf, f, "pool", |b| push_str(b, TAPE_POOL));
    }
    if let Some(r) = j.remote {
        field(buf, f, "remote", |b| push_str(b, r));
    }
    if j.job_type == JobType::Sync {
        field(buf, f, "remote-store", |b| push_str(b, "store1"));
    }
    field(buf, f, "schedule", |b| push_str(b, "daily"));
    field(buf, f, "store", |b| push_str(b, &j.store));
    if let Some(d) = j.direction {
        field(buf, f, "sync-direction", |b| push_str(b, d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upids_encode_the_start_and_escape_the_worker_id() {
        let p = Profile::REFERENCE.with_tape();
        let sync = jobs(&p, JobType::Sync);
        let push = &sync[0];
        assert_eq!(
            push.upid().unwrap(),
            format!(
                "UPID:pbs01:0000045C:00000B1E:0000003B:{:08X}:syncjob:pbs\\x2doffsite\\x3astore1\\x3astore1\\x3a\\x3as\\x2dpush\\x2doffsite:root@pam:",
                BASE - 2 * 3600
            )
        );
        assert_eq!(push.duration(), Some(95));
        assert_eq!(sync[2].duration(), None, "running");
        let gc = jobs(&p, JobType::Gc);
        assert_eq!(gc.len(), p.datastores);
        assert_eq!(gc[0].upid().unwrap(), model::gc_status(&p, 9).upid);
        assert_eq!(jobs(&Profile::REFERENCE, JobType::TapeBackup), vec![]);
        assert_eq!(jobs(&p, JobType::TapeBackup).len(), 1);
    }

    #[test]
    fn lists_are_valid_json_with_the_documented_fields() {
        let p = Profile::DEMO.with_tape();
        for t in JobType::ALL {
            let mut b = Vec::new();
            write(&mut b, &p, t);
            let text = String::from_utf8(b).unwrap();
            assert!(
                text.starts_with("{\"data\":[{") && text.ends_with('}'),
                "{text}"
            );
            let upid_key = if t == JobType::Gc {
                "\"upid\":"
            } else {
                "\"last-run-upid\":"
            };
            assert!(text.contains(upid_key), "{text}");
        }
    }
}
