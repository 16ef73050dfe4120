//! The simulator's deterministic PBS content: datastores, namespaces, groups, snapshots, usage,
//! garbage collection and node status, all computed from a [`Profile`] and indices, so tests can
//! compute every expected metric value without talking to the simulator.
//!
//! Indices are 0-based: `d` datastore, `n` namespace, `g` group (per namespace), `s` snapshot (per
//! group, `s = snapshots - 1` is the newest).

use std::fmt;
use std::str::FromStr;

/// 2026-07-20 10:00:00 UTC: the newest snapshot time and the simulator's "now".
pub const BASE: i64 = 1_784_541_600;
/// `/nodes/{node}/subscription` `status`.
pub const SUBSCRIPTION_STATUS: &str = "active";
/// `/nodes/{node}/subscription` `nextduedate`.
pub const SUBSCRIPTION_DUE: &str = "2027-01-31";
/// Midnight UTC of [`SUBSCRIPTION_DUE`], Unix seconds.
pub const SUBSCRIPTION_DUE_TIMESTAMP: i64 = 1_801_353_600;
/// `/nodes/{node}/subscription` `productname`.
pub const SUBSCRIPTION_PRODUCT: &str = "Proxmox Backup Server Basic Subscription 1 CPU/year";
/// Finished tasks in the last 24 hours of every profile but `tasks`.
pub const DEFAULT_TASKS: usize = 120;
/// Seconds per day.
pub const DAY: i64 = 86_400;
/// 1 MiB in bytes.
pub const MIB: u64 = 1 << 20;
/// 1 GiB in bytes.
pub const GIB: u64 = 1 << 30;
/// 1 TiB in bytes.
pub const TIB: u64 = 1 << 40;
/// The owner of every group and snapshot.
pub const OWNER: &str = "root@pam";
/// Host name inside UPIDs.
pub const NODE: &str = "pbs01";
/// The snapshot comment of vm/ct groups with `g % 5 == 4`: a double quote and a backslash, to
/// exercise label escaping.
pub const TRICKY_COMMENT: &str = "web \"prod\"\\ line";
/// `/version` `version`.
pub const VERSION: &str = "4.2";
/// `/version` `release`.
pub const RELEASE: &str = "3";
/// `/version` `repoid` (upstream commit "bump version to 4.2.3-1").
pub const REPOID: &str = "bc863d45e7fbadb3690143613ea70600535f23a1";
/// Number of `history` entries per datastore (30 days of 1800 s slots).
pub const HISTORY_LEN: usize = 1440;
/// `history-delta` in seconds.
pub const HISTORY_DELTA: u64 = 1800;
/// The `maintenance` property string of a store in maintenance, as `/admin/datastore` shows it.
pub const MAINTENANCE_PROPERTY: &str = "type=offline,message=disk%20replacement";
/// Body of an error for a namespace whose directory is missing.
pub const ENOENT: &str = "ENOENT: No such file or directory";

/// How much content the simulator serves. `groups` is per namespace, `snapshots` per group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Datastores, named `store1`, `store2`, ...
    pub datastores: usize,
    /// Namespaces per datastore, the root included.
    pub namespaces: usize,
    /// Groups per namespace.
    pub groups: usize,
    /// Snapshots per group.
    pub snapshots: usize,
    /// Finished tasks in the last 24 hours (`/nodes/{node}/tasks`, see [`crate::tasks`]).
    pub tasks: usize,
    /// Whether the PBS has tape: drives, changers, media (see [`crate::tape`]) and a
    /// tape-backup job (see [`crate::jobs`]).
    pub tape: bool,
    /// Whether the last datastore is S3-backed (see [`is_s3`]).
    pub s3: bool,
}

impl Profile {
    /// 10 datastores × 1 namespace × 10 groups × 30 snapshots.
    pub const REFERENCE: Profile = Profile::new(10, 1, 10, 30);
    /// 4 datastores × 5 namespaces × 100 groups × 30 snapshots.
    pub const LARGE: Profile = Profile::new(4, 5, 100, 30);
    /// 10 datastores × 1 namespace × 10 groups × 1000 snapshots.
    pub const DEEP: Profile = Profile::new(10, 1, 10, 1000);
    /// 3 datastores × 2 namespaces × 4 groups × 5 snapshots.
    pub const DEMO: Profile = Profile::new(3, 2, 4, 5);
    /// The reference profile with 100,000 finished tasks in the last 24 hours.
    pub const TASKS: Profile = Profile::REFERENCE.with_tasks(100_000);

    /// A profile from its four counts.
    pub const fn new(
        datastores: usize,
        namespaces: usize,
        groups: usize,
        snapshots: usize,
    ) -> Self {
        Profile {
            datastores,
            namespaces,
            groups,
            snapshots,
            tasks: DEFAULT_TASKS,
            tape: false,
            s3: false,
        }
    }

    /// The same profile with `tasks` finished tasks in the last 24 hours.
    pub const fn with_tasks(mut self, tasks: usize) -> Self {
        self.tasks = tasks;
        self
    }

    /// The same profile with tape (drives, changers, media and a tape-backup job).
    pub const fn with_tape(mut self) -> Self {
        self.tape = true;
        self
    }

    /// The same profile with its last datastore S3-backed.
    pub const fn with_s3(mut self) -> Self {
        self.s3 = true;
        self
    }

    /// Parses `reference`, `large`, `deep`, `demo`, `tasks` or `DxNxGxS` (e.g. `4x5x100x30`).
    /// `namespaces` must be at least 1 (the root).
    pub fn parse(s: &str) -> Result<Profile, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reference" => return Ok(Profile::REFERENCE),
            "large" => return Ok(Profile::LARGE),
            "deep" => return Ok(Profile::DEEP),
            "demo" => return Ok(Profile::DEMO),
            "tasks" => return Ok(Profile::TASKS),
            _ => {}
        }
        let bad =
            || format!("invalid profile '{s}': use reference|large|deep|demo|tasks or DxNxGxS");
        let mut n = [0usize; 4];
        let mut parts = s.trim().split(['x', 'X']);
        for slot in &mut n {
            *slot = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        }
        if parts.next().is_some() || n[1] == 0 {
            return Err(bad());
        }
        Ok(Profile::new(n[0], n[1], n[2], n[3]))
    }

    /// Snapshots in one namespace of one datastore.
    pub fn snapshots_per_namespace(&self) -> usize {
        self.groups * self.snapshots
    }

    /// Snapshots in the whole server.
    pub fn total_snapshots(&self) -> usize {
        self.datastores * self.namespaces * self.groups * self.snapshots
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile::REFERENCE
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Profile::parse(s)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}x{}x{}x{}",
            self.datastores, self.namespaces, self.groups, self.snapshots
        )?;
        if self.tasks != DEFAULT_TASKS {
            write!(f, " with {} tasks", self.tasks)?;
        }
        if self.tape {
            f.write_str(" with tape")?;
        }
        if self.s3 {
            f.write_str(" with s3")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Names

/// Name of datastore `d`: `store{d+1}`.
pub fn store_name(d: usize) -> String {
    format!("store{}", d + 1)
}

/// Index of the datastore called `name`, if the profile has it.
pub fn store_index(p: &Profile, name: &str) -> Option<usize> {
    let k: usize = name.strip_prefix("store")?.parse().ok()?;
    (k >= 1 && k <= p.datastores && store_name(k - 1) == name).then(|| k - 1)
}

/// Name of namespace `n`: `""` (root) for 0, `ns{n}` for odd `n`, `ns{n-1}/sub{n}` for even `n`.
pub fn namespace_name(n: usize) -> String {
    match n {
        0 => String::new(),
        n if n % 2 == 1 => format!("ns{n}"),
        n => format!("ns{}/sub{n}", n - 1),
    }
}

/// Depth of namespace `n` below the root (0, 1 or 2).
pub fn namespace_depth(n: usize) -> usize {
    match n {
        0 => 0,
        n if n % 2 == 1 => 1,
        _ => 2,
    }
}

/// Index of the namespace called `ns`, if the profile has it.
pub fn namespace_index(p: &Profile, ns: &str) -> Option<usize> {
    (0..p.namespaces).find(|&n| namespace_name(n) == ns)
}

/// Backup type of group `g`: `vm`, `ct`, `host`, `vm`, ...
pub fn backup_type(g: usize) -> &'static str {
    ["vm", "ct", "host"][g % 3]
}

/// Backup id of group `g`: `100+g` for vm/ct, `srv{g}` for host.
pub fn backup_id(g: usize) -> String {
    if g % 3 == 2 {
        format!("srv{g}")
    } else {
        (100 + g).to_string()
    }
}

/// Index of the group with this type and id, if the profile has it.
pub fn group_index(p: &Profile, backup_type_: &str, id: &str) -> Option<usize> {
    let g = if let Some(rest) = id.strip_prefix("srv") {
        rest.parse::<usize>().ok()?
    } else {
        id.parse::<usize>().ok()?.checked_sub(100)?
    };
    (g < p.groups && backup_type(g) == backup_type_ && backup_id(g) == id).then_some(g)
}

// ---------------------------------------------------------------------------------------------
// Snapshots

/// `backup-time` of snapshot `s` of group `g` in namespace `n` of datastore `d`.
pub fn backup_time(p: &Profile, d: usize, n: usize, g: usize, s: usize) -> i64 {
    BASE - (p.snapshots as i64 - 1 - s as i64) * DAY - g as i64 * 60 - d as i64 * 7 - n as i64 * 3
}

/// Whether snapshot `s` of group `g` is still being written (newest snapshot of `g % 7 == 6`).
pub fn is_running(p: &Profile, g: usize, s: usize) -> bool {
    g % 7 == 6 && s + 1 == p.snapshots
}

/// Verification outcome of a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyState {
    /// `"ok"`
    Ok,
    /// `"failed"`
    Failed,
}

impl VerifyState {
    /// The JSON value of `verification.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyState::Ok => "ok",
            VerifyState::Failed => "failed",
        }
    }
}

/// Verification state: none when `(g+s) % 5 == 0` or running, failed when `(g+s) % 5 == 1`,
/// else ok.
pub fn verification(p: &Profile, g: usize, s: usize) -> Option<VerifyState> {
    if is_running(p, g, s) {
        return None;
    }
    match (g + s) % 5 {
        0 => None,
        1 => Some(VerifyState::Failed),
        _ => Some(VerifyState::Ok),
    }
}

/// The `verification.upid` of a verified snapshot (a `verificationjob` task one hour after the
/// backup). Only meaningful when [`verification`] is `Some`.
pub fn verify_upid(p: &Profile, d: usize, n: usize, g: usize, s: usize) -> String {
    let mut v = Vec::new();
    super::json::push_verify_upid(&mut v, d, s, backup_time(p, d, n, g, s), false);
    String::from_utf8(v).expect("ASCII")
}

/// Logical size of a finished snapshot: `(g+1)` GiB + `s` MiB; `None` while running.
pub fn snapshot_size(p: &Profile, g: usize, s: usize) -> Option<u64> {
    (!is_running(p, g, s)).then(|| (g as u64 + 1) * GIB + s as u64 * MIB)
}

/// Whether the snapshot is protected (`s == 0 && g % 2 == 0`).
pub fn snapshot_protected(g: usize, s: usize) -> bool {
    s == 0 && g % 2 == 0
}

/// Snapshot comment: `guest-{id}` for vm/ct ([`TRICKY_COMMENT`] when `g % 5 == 4`), none for
/// host groups and running snapshots.
pub fn snapshot_comment(p: &Profile, g: usize, s: usize) -> Option<String> {
    if g % 3 == 2 || is_running(p, g, s) {
        None
    } else if g % 5 == 4 {
        Some(TRICKY_COMMENT.to_string())
    } else {
        Some(format!("guest-{}", backup_id(g)))
    }
}

/// One entry of a snapshot's `files`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Archive name.
    pub filename: &'static str,
    /// `crypt-mode`, absent on `client.log.blob`.
    pub crypt_mode: Option<&'static str>,
    /// Size in bytes, absent on `client.log.blob`.
    pub size: Option<u64>,
}

/// A snapshot's file list without allocation (at most 4 entries).
#[derive(Clone, Copy, Debug)]
pub struct Files {
    entries: [FileEntry; 4],
    len: usize,
}

impl std::ops::Deref for Files {
    type Target = [FileEntry];
    fn deref(&self) -> &[FileEntry] {
        &self.entries[..self.len]
    }
}

const fn file(filename: &'static str, size: Option<u64>) -> FileEntry {
    FileEntry {
        filename,
        crypt_mode: if size.is_some() { Some("none") } else { None },
        size,
    }
}

/// Size of `index.json.blob` in every finished snapshot.
pub const INDEX_BLOB_SIZE: u64 = 512;
/// Size of the guest config blob (`qemu-server.conf.blob` 428, `pct.conf.blob` 402).
pub fn config_blob_size(g: usize) -> u64 {
    if g % 3 == 0 { 428 } else { 402 }
}
/// Size of `catalog.pcat1.didx` in host snapshots.
pub const CATALOG_SIZE: u64 = 1024;

/// Files of snapshot `s` of group `g`, in manifest order; sizes add up to [`snapshot_size`].
/// vm: config blob, disk image, index, client log; ct: config blob, root archive, index, client
/// log; host: root archive, catalog, index. A running snapshot only has its config blob (vm/ct)
/// or nothing (host).
pub fn snapshot_files(p: &Profile, g: usize, s: usize) -> Files {
    let none = file("", None);
    let mut entries = [none; 4];
    let len;
    match (g % 3, snapshot_size(p, g, s)) {
        (0, None) => {
            entries[0] = file("qemu-server.conf.blob", Some(428));
            len = 1;
        }
        (1, None) => {
            entries[0] = file("pct.conf.blob", Some(402));
            len = 1;
        }
        (_, None) => len = 0,
        (0, Some(size)) => {
            entries = [
                file("qemu-server.conf.blob", Some(428)),
                file("drive-scsi0.img.fidx", Some(size - 428 - INDEX_BLOB_SIZE)),
                file("index.json.blob", Some(INDEX_BLOB_SIZE)),
                file("client.log.blob", None),
            ];
            len = 4;
        }
        (1, Some(size)) => {
            entries = [
                file("pct.conf.blob", Some(402)),
                file("root.pxar.didx", Some(size - 402 - INDEX_BLOB_SIZE)),
                file("index.json.blob", Some(INDEX_BLOB_SIZE)),
                file("client.log.blob", None),
            ];
            len = 4;
        }
        (_, Some(size)) => {
            entries[0] = file(
                "root.pxar.didx",
                Some(size - CATALOG_SIZE - INDEX_BLOB_SIZE),
            );
            entries[1] = file("catalog.pcat1.didx", Some(CATALOG_SIZE));
            entries[2] = file("index.json.blob", Some(INDEX_BLOB_SIZE));
            len = 3;
        }
    }
    Files { entries, len }
}

/// Number of index files (`.fidx`/`.didx`) of a finished snapshot of group `g`.
fn index_files(g: usize) -> u64 {
    if g % 3 == 2 { 2 } else { 1 }
}

// ---------------------------------------------------------------------------------------------
// Groups

/// Index of the newest finished snapshot of group `g`, if any.
pub fn newest_finished(p: &Profile, g: usize) -> Option<usize> {
    (0..p.snapshots).rev().find(|&s| !is_running(p, g, s))
}

/// `last-backup` of group `g`: time of its newest finished snapshot, 0 if none.
pub fn group_last_backup(p: &Profile, d: usize, n: usize, g: usize) -> i64 {
    newest_finished(p, g).map_or(0, |s| backup_time(p, d, n, g, s))
}

/// `backup-count` of every group: all snapshots, running ones included.
pub fn group_backup_count(p: &Profile) -> u64 {
    p.snapshots as u64
}

/// `files` of group `g`: the file names of its newest finished snapshot (empty if none).
pub fn group_files(p: &Profile, g: usize) -> Vec<&'static str> {
    newest_finished(p, g).map_or_else(Vec::new, |s| {
        snapshot_files(p, g, s).iter().map(|f| f.filename).collect()
    })
}

/// Group notes (`comment` of `/groups`): `notes for {type}/{id}` when `g % 4 == 1`.
pub fn group_comment(g: usize) -> Option<String> {
    (g % 4 == 1).then(|| format!("notes for {}/{}", backup_type(g), backup_id(g)))
}

// ---------------------------------------------------------------------------------------------
// Datastore usage and garbage collection

/// The numbers of one `/status/datastore-usage` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// `(d+1)` × 10 TiB.
    pub total: u64,
    /// `total × (3 + d % 7) / 10` (30 % .. 90 %; the `% 7` keeps `used <= total` for d ≥ 7).
    pub used: u64,
    /// `total - used`.
    pub avail: u64,
    /// `BASE + (d+1) × 30 days`.
    pub estimated_full_date: i64,
    /// Epoch of history slot 0.
    pub history_start: u64,
    /// Slot width, 1800 s.
    pub history_delta: u64,
}

/// Usage numbers of datastore `d`.
pub fn usage(d: usize) -> Usage {
    let total = (d as u64 + 1) * 10 * TIB;
    let used = total * (3 + d as u64 % 7) / 10;
    Usage {
        total,
        used,
        avail: total - used,
        estimated_full_date: BASE + (d as i64 + 1) * 30 * DAY,
        history_start: (BASE as u64) - HISTORY_LEN as u64 * HISTORY_DELTA + 17,
        history_delta: HISTORY_DELTA,
    }
}

/// Fixed-point scale of history values: 15 decimals, few enough that every value parses back
/// exactly, many enough to look like PBS's (~22 KB of history per datastore).
pub const HISTORY_SCALE: u64 = 1_000_000_000_000_000;

/// History slot `i` of datastore `d` in units of `1 / HISTORY_SCALE` (`None` is JSON `null`):
/// the first `200 + 37·d` slots are null, then usage grows linearly from half the current ratio
/// to `used / total` in the last slot.
pub fn history_units(d: usize, i: usize) -> Option<u64> {
    let lead = (200 + 37 * d).min(HISTORY_LEN - 8);
    if i < lead || i >= HISTORY_LEN {
        return None;
    }
    let last = (3 + d as u64 % 7) * (HISTORY_SCALE / 10);
    let span = (HISTORY_LEN - 1 - lead) as u64;
    let step = (i - lead) as u64;
    Some(last / 2 + (last / 2 / span) * step + (last / 2 % span) * step / span)
}

/// History slot `i` of datastore `d` as the JSON number the simulator sends (exactly).
pub fn history(d: usize, i: usize) -> Option<f64> {
    history_units(d, i).map(|u| u as f64 / HISTORY_SCALE as f64)
}

/// `gc-status` of one datastore (README 3.9 fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GcStatus {
    /// UPID of the last GC task.
    pub upid: String,
    /// Index files in the store (finished snapshots × their index archives).
    pub index_file_count: u64,
    /// `used × 4`.
    pub index_data_bytes: u64,
    /// `used`.
    pub disk_bytes: u64,
    /// `used / 4 MiB`.
    pub disk_chunks: u64,
    /// `(d+1)` GiB.
    pub removed_bytes: u64,
    /// `removed_bytes / 4 MiB`.
    pub removed_chunks: u64,
    /// `(d+1)` × 512 MiB.
    pub pending_bytes: u64,
    /// `pending_bytes / 4 MiB`.
    pub pending_chunks: u64,
    /// `d % 3`.
    pub removed_bad: u64,
    /// `d % 2`.
    pub still_bad: u64,
    /// `cache-stats.hits`: `(d+1) × 1000`.
    pub cache_hits: u64,
    /// `cache-stats.misses`: `(d+1) × 100`.
    pub cache_misses: u64,
}

/// Start of the last GC of datastore `d`: six hours before [`BASE`], a minute apart.
pub fn gc_start(d: usize) -> i64 {
    BASE - 6 * 3600 + d as i64 * 60
}

/// GC status of datastore `d`.
pub fn gc_status(p: &Profile, d: usize) -> GcStatus {
    let used = usage(d).used;
    let chunk = 4 * MIB;
    let mut index_file_count = 0;
    for g in 0..p.groups {
        let finished = (0..p.snapshots).filter(|&s| !is_running(p, g, s)).count() as u64;
        index_file_count += finished * index_files(g);
    }
    index_file_count *= p.namespaces as u64;
    let start = gc_start(d);
    let upid = format!(
        "UPID:{NODE}:0000045C:00000B1E:{:08X}:{start:08X}:garbage_collection:{}:root@pam:",
        0x2A + d,
        store_name(d)
    );
    let removed_bytes = (d as u64 + 1) * GIB;
    let pending_bytes = (d as u64 + 1) * 512 * MIB;
    GcStatus {
        upid,
        index_file_count,
        index_data_bytes: used * 4,
        disk_bytes: used,
        disk_chunks: used / chunk,
        removed_bytes,
        removed_chunks: removed_bytes / chunk,
        pending_bytes,
        pending_chunks: pending_bytes / chunk,
        removed_bad: d as u64 % 3,
        still_bad: d as u64 % 2,
        cache_hits: (d as u64 + 1) * 1000,
        cache_misses: (d as u64 + 1) * 100,
    }
}

/// Whether datastore `d` is S3-backed: the last one, in a profile [`Profile::with_s3`].
pub fn is_s3(p: &Profile, d: usize) -> bool {
    p.s3 && d + 1 == p.datastores
}

/// `backend-type` of datastore `d`.
pub fn backend_type(p: &Profile, d: usize) -> &'static str {
    if is_s3(p, d) { "s3" } else { "filesystem" }
}

/// `s3-statistics` of an S3-backed datastore (`/admin/datastore/{store}/status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct S3Statistics {
    /// Bytes uploaded: the store's used bytes.
    pub uploaded: u64,
    /// Bytes downloaded: `uploaded / 33`.
    pub downloaded: u64,
    /// Requests by method, in `get`, `put`, `post`, `head`, `delete` order.
    pub requests: [u64; 5],
}

/// The S3 counters of datastore `d` (meaningful when [`is_s3`]).
pub fn s3_statistics(d: usize) -> S3Statistics {
    let uploaded = usage(d).used;
    let chunks = uploaded / (4 * MIB);
    S3Statistics {
        uploaded,
        downloaded: uploaded / 33,
        requests: [chunks / 6 + 17, chunks, 12, chunks * 2 + 5, d as u64 % 3],
    }
}

/// Active operations of datastore `d` (`read`, `write`): `d % 3` readers, `d % 2` writers.
pub fn active_operations(d: usize) -> (u64, u64) {
    (d as u64 % 3, d as u64 % 2)
}

/// `counts` of `/admin/datastore/{store}/status?verbose=1`: (groups, snapshots) per backup
/// type, `ct`, `host`, `vm` order; `None` when the type has no group (PBS sends `null`).
pub fn type_counts(p: &Profile) -> [Option<(u64, u64)>; 3] {
    ["ct", "host", "vm"].map(|t| {
        let groups =
            (0..p.groups).filter(|&g| backup_type(g) == t).count() as u64 * p.namespaces as u64;
        (groups > 0 && p.snapshots > 0).then(|| (groups, groups * p.snapshots as u64))
    })
}

/// Messages of the 400 answers for stores that are not usable.
pub fn not_mounted_message(store: &str) -> String {
    format!("datastore '{store}' is not mounted")
}

/// The error of a store in maintenance (usage `error` and the 400 body).
pub fn maintenance_message(store: &str) -> String {
    format!("datastore '{store}' is unavailable: offline maintenance mode: disk replacement")
}

// ---------------------------------------------------------------------------------------------
// Node status

/// `/nodes/localhost/status` values (`info.fingerprint` is the simulator's certificate).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeStatus {
    /// `memory.total/used/free`.
    pub memory: [u64; 3],
    /// `swap.total/used/free`.
    pub swap: [u64; 3],
    /// `root.total/used/avail`.
    pub root: [u64; 3],
    /// `uptime` seconds.
    pub uptime: u64,
    /// `loadavg`.
    pub loadavg: [f64; 3],
    /// `cpu` fraction.
    pub cpu: f64,
    /// `wait` fraction.
    pub wait: f64,
    /// `cpuinfo.model`.
    pub cpu_model: &'static str,
    /// `cpuinfo.sockets`.
    pub cpu_sockets: u64,
    /// `cpuinfo.cpus`.
    pub cpus: u64,
    /// `current-kernel.release`.
    pub kernel_release: &'static str,
    /// `current-kernel.version`.
    pub kernel_version: &'static str,
    /// `boot-info.mode`.
    pub boot_mode: &'static str,
    /// `boot-info.secureboot`.
    pub secureboot: bool,
}

/// The node status the simulator serves.
pub const NODE_STATUS: NodeStatus = NodeStatus {
    memory: [33_546_391_552, 9_873_244_160, 1_204_318_208],
    swap: [8_589_930_496, 1_572_864, 8_588_357_632],
    root: [67_370_528_768, 5_431_119_872, 58_474_475_520],
    uptime: 2_592_817,
    loadavg: [0.42, 0.51, 0.47],
    cpu: 0.021346153846153845,
    wait: 0.00125,
    cpu_model: "Intel(R) Xeon(R) E-2388G CPU @ 3.20GHz",
    cpu_sockets: 1,
    cpus: 16,
    kernel_release: "6.17.4-2-pve",
    kernel_version: "#1 SMP PREEMPT_DYNAMIC PMX 6.17.4-2 (2026-05-12T09:21Z)",
    boot_mode: "efi",
    secureboot: false,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse() {
        assert_eq!(Profile::parse("reference"), Ok(Profile::REFERENCE));
        assert_eq!(Profile::parse("LARGE"), Ok(Profile::LARGE));
        assert_eq!(Profile::parse("deep"), Ok(Profile::DEEP));
        assert_eq!(Profile::parse("demo"), Ok(Profile::DEMO));
        assert_eq!(
            Profile::parse("4x5x100x30"),
            Ok(Profile::new(4, 5, 100, 30))
        );
        for bad in ["", "4x5x100", "4x5x100x30x1", "4x0x1x1", "ax1x1x1", "huge"] {
            assert!(Profile::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Profile::LARGE.to_string(), "4x5x100x30");
    }

    #[test]
    fn names_round_trip() {
        let p = Profile::new(12, 6, 20, 3);
        let names: Vec<_> = (0..6).map(namespace_name).collect();
        assert_eq!(names, ["", "ns1", "ns1/sub2", "ns3", "ns3/sub4", "ns5"]);
        for n in 0..6 {
            assert_eq!(namespace_index(&p, &namespace_name(n)), Some(n));
        }
        for d in 0..12 {
            assert_eq!(store_index(&p, &store_name(d)), Some(d));
        }
        assert_eq!(store_index(&p, "store0"), None);
        assert_eq!(store_index(&p, "store13"), None);
        assert_eq!(store_index(&p, "store01"), None);
        for g in 0..20 {
            assert_eq!(group_index(&p, backup_type(g), &backup_id(g)), Some(g));
        }
        assert_eq!(group_index(&p, "ct", "100"), None);
    }

    #[test]
    fn sizes_add_up_and_running_snapshots_are_bare() {
        let p = Profile::new(1, 1, 14, 3);
        for g in 0..14 {
            for s in 0..3 {
                let files = snapshot_files(&p, g, s);
                let sum: u64 = files.iter().filter_map(|f| f.size).sum();
                match snapshot_size(&p, g, s) {
                    Some(size) => assert_eq!(sum, size),
                    None => {
                        assert!(is_running(&p, g, s));
                        assert!(files.len() <= 1);
                        assert_eq!(verification(&p, g, s), None);
                        assert_eq!(snapshot_comment(&p, g, s), None);
                    }
                }
            }
        }
        assert!(is_running(&p, 6, 2) && is_running(&p, 13, 2) && !is_running(&p, 6, 1));
        assert_eq!(group_last_backup(&p, 0, 0, 6), backup_time(&p, 0, 0, 6, 1));
    }

    #[test]
    fn usage_stays_consistent_for_many_stores() {
        for d in 0..40 {
            let u = usage(d);
            assert!(u.used <= u.total && u.used + u.avail == u.total);
            let h: Vec<_> = (0..HISTORY_LEN).map(|i| history_units(d, i)).collect();
            assert!(h.iter().filter(|v| v.is_some()).count() >= 7);
            let ratio = u.used as u128 * HISTORY_SCALE as u128 / u.total as u128;
            assert_eq!(h[HISTORY_LEN - 1], Some(ratio as u64));
            assert!(h.windows(2).all(|w| w[0] <= w[1]));
        }
    }
}
