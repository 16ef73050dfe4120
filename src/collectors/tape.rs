//! Tape collector: drives, changers and media counts, from `GET /tape/drive`, `GET
//! /tape/changer` and `GET /tape/media/list?update-status=false`.
//!
//! Never touches the hardware: drive *status* (`/tape/drive/{name}/status`) locks the drive,
//! and the media list's default `update-status=true` makes PBS query every changer, so neither
//! is asked for. A PBS without tape answers empty lists: no series. A token without
//! `Tape.Audit` gets 403: no tape series either, logged once at info, and the collector stays
//! successful (tape is optional; the admin chose not to grant it).
//!
//! Media are counted as the list streams in, by pool, status and location: memory grows with
//! pools (at most [`MAX_POOLS`]), never with media. PBS's values map to labels like this:
//! `status` `writable`, `full`, `unknown`, `damaged`, `retired` as they are (any other text:
//! `unknown`); `location` `online-<changer>` → `online`, `offline` → `offline`,
//! `vault-<vault>` → `vault` (an item with any other location is not counted).

use super::{Ctx, MAX_TEXT_LABEL, Seen, set};
use crate::client::PbsError;
use crate::exposition::{Families, truncate_utf8};
use crate::json::{JsonError, JsonReader, Path, Scalar, Sink};
use crate::log_info;

crate::families! {
    pub enum Family {
        DriveInfo => Gauge "pbs_tape_drive_info" "A tape drive as labels: name, vendor, model, serial and the changer it sits in. Always 1.",
        ChangerInfo => Gauge "pbs_tape_changer_info" "A tape changer (library) as labels: name, vendor, model, serial. Always 1.",
        Media => Gauge "pbs_tape_media" "Tape media by pool, status (writable, full, unknown, damaged, retired) and location (online, offline, vault).",
        MediaExpired => Gauge "pbs_tape_media_expired" "Tape media of the pool whose media set has expired (may be overwritten).",
    }
}

/// Most media pools counted; more are a failure (a sane PBS has a handful).
pub const MAX_POOLS: usize = 256;

/// Media status label values, in count order.
const STATUSES: [&str; 5] = ["writable", "full", "unknown", "damaged", "retired"];
/// Media location label values, in count order.
const LOCATIONS: [&str; 3] = ["online", "offline", "vault"];

/// The status label index of a PBS `status` value.
fn status_index(status: &str) -> usize {
    STATUSES.iter().position(|s| *s == status).unwrap_or(2)
}

/// The location label index of a PBS `location` value, `None` when it is none PBS writes.
fn location_index(location: &str) -> Option<usize> {
    if location == "offline" {
        Some(1)
    } else if location
        .strip_prefix("online-")
        .is_some_and(|c| !c.is_empty())
    {
        Some(0)
    } else if location
        .strip_prefix("vault-")
        .is_some_and(|v| !v.is_empty())
    {
        Some(2)
    } else {
        None
    }
}

/// One item of `/tape/drive` or `/tape/changer`.
#[derive(Default)]
struct Device {
    name: String,
    vendor: String,
    model: String,
    serial: String,
    changer: String,
}

impl Device {
    fn reset(&mut self) {
        self.name.clear();
        self.vendor.clear();
        self.model.clear();
        self.serial.clear();
        self.changer.clear();
    }
}

struct DeviceSink<'a> {
    item: &'a mut Device,
    seen: &'a mut Seen,
    out: &'a mut Families,
    /// Drives (with a changer label) or changers.
    drives: bool,
}

impl Sink for DeviceSink<'_> {
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        let d = &mut *self.item;
        let field = match path.item_key() {
            Some("name") => &mut d.name,
            Some("vendor") => &mut d.vendor,
            Some("model") => &mut d.model,
            Some("serial") => &mut d.serial,
            Some("changer") if self.drives => &mut d.changer,
            _ => return,
        };
        set(
            field,
            truncate_utf8(value.as_str().unwrap_or(""), MAX_TEXT_LABEL),
        );
    }

    fn close(&mut self, path: &Path<'_>) {
        if !path.is_item() {
            return;
        }
        let d = &*self.item;
        if !d.name.is_empty() && self.seen.first(&[&d.name]) {
            let common = [
                ("vendor", d.vendor.as_str()),
                ("model", d.model.as_str()),
                ("serial", d.serial.as_str()),
            ];
            let [v, m, s] = common;
            if self.drives {
                self.out.sample(
                    Family::DriveInfo,
                    &[("drive", &d.name), v, m, s, ("changer", &d.changer)],
                    1u64,
                );
            } else {
                self.out
                    .sample(Family::ChangerInfo, &[("changer", &d.name), v, m, s], 1u64);
            }
        }
        self.item.reset();
    }
}

/// One item of `/tape/media/list`.
#[derive(Default)]
struct Medium {
    pool: String,
    status: String,
    location: String,
    expired: bool,
}

/// The counts of one pool.
#[derive(Default)]
struct Pool {
    name: String,
    /// Media by status then location, in [`STATUSES`] × [`LOCATIONS`] order.
    counts: [[u64; 3]; 5],
    expired: u64,
}

/// Media counts by pool; the list keeps its strings from scrape to scrape.
#[derive(Default)]
struct Pools {
    pools: Vec<Pool>,
    len: usize,
    /// More than [`MAX_POOLS`] pools were listed.
    overflow: bool,
}

impl Pools {
    fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
    }

    fn add(&mut self, m: &Medium) {
        let Some(location) = location_index(&m.location) else {
            return;
        };
        let pool = truncate_utf8(&m.pool, MAX_TEXT_LABEL);
        let i = match self.pools[..self.len].iter().position(|p| p.name == pool) {
            Some(i) => i,
            None if self.len == MAX_POOLS => {
                self.overflow = true;
                return;
            }
            None => {
                if self.len == self.pools.len() {
                    self.pools.push(Pool::default());
                }
                let p = &mut self.pools[self.len];
                set(&mut p.name, pool);
                p.counts = [[0; 3]; 5];
                p.expired = 0;
                self.len += 1;
                self.len - 1
            }
        };
        let p = &mut self.pools[i];
        let n = &mut p.counts[status_index(&m.status)][location];
        *n = n.saturating_add(1);
        p.expired = p.expired.saturating_add(m.expired as u64);
    }

    fn write(&mut self, out: &mut Families) {
        let pools = &mut self.pools[..self.len];
        pools.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        for p in pools.iter() {
            let set = out.labels(&[("pool", &p.name)]);
            for (status, row) in STATUSES.iter().zip(&p.counts) {
                for (location, n) in LOCATIONS.iter().zip(row) {
                    out.sample_in_with(
                        Family::Media,
                        set,
                        &[("status", status), ("location", location)],
                        *n,
                    );
                }
            }
            out.sample_in(Family::MediaExpired, set, p.expired);
        }
    }
}

struct MediaSink<'a> {
    item: &'a mut Medium,
    pools: &'a mut Pools,
}

impl Sink for MediaSink<'_> {
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        let m = &mut *self.item;
        match path.item_key() {
            Some("pool") => set(&mut m.pool, value.as_str().unwrap_or("")),
            Some("status") => set(&mut m.status, value.as_str().unwrap_or("")),
            Some("location") => set(&mut m.location, value.as_str().unwrap_or("")),
            Some("expired") => m.expired = value.as_bool().unwrap_or(false),
            _ => {}
        }
    }

    fn close(&mut self, path: &Path<'_>) {
        if path.is_item() {
            self.pools.add(self.item);
            let m = &mut *self.item;
            m.pool.clear();
            m.status.clear();
            m.location.clear();
            m.expired = false;
        }
    }
}

/// What the tape collector keeps between scrapes: the items being read, the pool counts, and
/// whether the last scrape was denied (to log a denial once).
#[derive(Default)]
pub struct State {
    device: Device,
    seen: Seen,
    medium: Medium,
    pools: Pools,
    denied: bool,
}

/// Whether the last scrape was denied is kept.
impl super::IdleState for State {
    fn free_reuse(&mut self) {
        *self = State {
            denied: self.denied,
            ..State::default()
        };
    }
}

/// The three lists, in the order they are read.
const DRIVES: &str = "/tape/drive";
const CHANGERS: &str = "/tape/changer";
const MEDIA: &str = "/tape/media/list?update-status=false";

/// Reads the drive, changer and media lists.
pub async fn collect(ctx: &mut Ctx<'_>, state: &mut State, out: &mut Families) {
    for path in [DRIVES, CHANGERS, MEDIA] {
        out.mark();
        let r = read(ctx, state, out, path).await;
        match r {
            Ok(()) => {}
            Err(PbsError::Forbidden(_)) => {
                out.clear();
                if !state.denied {
                    log_info!(
                        "PBS denied GET {path} (HTTP 403): no tape metrics; grant the token TapeAudit on /tape for them"
                    );
                    state.denied = true;
                }
                return;
            }
            Err(e) => {
                out.rollback();
                ctx.fail(format_args!("reading {path}"), &e);
            }
        }
    }
    state.denied = false;
}

async fn read(
    ctx: &mut Ctx<'_>,
    state: &mut State,
    out: &mut Families,
    path: &str,
) -> Result<(), PbsError> {
    let State {
        device,
        seen,
        medium,
        pools,
        ..
    } = state;
    if path == MEDIA {
        pools.clear();
        let mut sink = MediaSink {
            item: medium,
            pools,
        };
        ctx.client.get_json(path, &mut sink, ctx.deadline).await?;
        if pools.overflow {
            return Err(PbsError::Protocol(format!(
                "PBS listed more than {MAX_POOLS} media pools"
            )));
        }
        pools.write(out);
    } else {
        device.reset();
        seen.clear();
        let mut sink = DeviceSink {
            item: device,
            seen,
            out,
            drives: path == DRIVES,
        };
        ctx.client.get_json(path, &mut sink, ctx.deadline).await?;
    }
    Ok(())
}

/// Which tape list a body is, for [`from_json`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// `/tape/drive`.
    Drives,
    /// `/tape/changer`.
    Changers,
    /// `/tape/media/list`.
    Media,
}

/// Writes the tape families from one list's body given in pieces (fuzzing, benchmarks).
pub fn from_json<'p>(
    list: List,
    pieces: impl IntoIterator<Item = &'p [u8]>,
    out: &mut Families,
) -> Result<(), JsonError> {
    let mut state = State::default();
    let mut reader = JsonReader::new();
    match list {
        List::Media => {
            let mut sink = MediaSink {
                item: &mut state.medium,
                pools: &mut state.pools,
            };
            reader.read_pieces(pieces, &mut sink)?;
            state.pools.write(out);
        }
        List::Drives | List::Changers => {
            let mut sink = DeviceSink {
                item: &mut state.device,
                seen: &mut state.seen,
                out,
                drives: list == List::Drives,
            };
            reader.read_pieces(pieces, &mut sink)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(list: List, body: &[u8], step: usize) -> String {
        let mut f = Families::new(Family::TABLE);
        from_json(list, body.chunks(step), &mut f).unwrap();
        let mut out = Vec::new();
        f.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_fixtures_read_as_pbs_sends_them() {
        let drives = text(
            List::Drives,
            include_bytes!("../../tests/fixtures/tape-drive.json"),
            7,
        );
        assert!(drives.contains("pbs_tape_drive_info{drive=\"lto9\",vendor=\"HPE\",model=\"Ultrium 9-SCSI\",serial=\"10WT123456\",changer=\"msl3040\"} 1\n"), "{drives}");
        let changers = text(
            List::Changers,
            include_bytes!("../../tests/fixtures/tape-changer.json"),
            5,
        );
        assert!(changers.contains("pbs_tape_changer_info{changer=\"msl3040\",vendor=\"HPE\",model=\"MSL3040\",serial=\"DEC1234567\"} 1\n"), "{changers}");
        let media = text(
            List::Media,
            include_bytes!("../../tests/fixtures/tape-media-list.json"),
            3,
        );
        for line in [
            "pbs_tape_media{pool=\"weekly\",status=\"full\",location=\"online\"} 1\n",
            "pbs_tape_media{pool=\"weekly\",status=\"writable\",location=\"offline\"} 1\n",
            "pbs_tape_media{pool=\"weekly\",status=\"writable\",location=\"online\"} 0\n",
            "pbs_tape_media_expired{pool=\"weekly\"} 0\n",
        ] {
            assert!(media.contains(line), "missing {line}{media}");
        }
        assert_eq!(media.matches("pbs_tape_media{").count(), 15);
    }

    #[test]
    fn values_map_to_bounded_labels() {
        assert_eq!(location_index("online-msl3040"), Some(0));
        assert_eq!(location_index("offline"), Some(1));
        assert_eq!(location_index("vault-offsite"), Some(2));
        for odd in ["online-", "vault", "", "Offline", "elsewhere"] {
            assert_eq!(location_index(odd), None, "{odd}");
        }
        assert_eq!(STATUSES[status_index("retired")], "retired");
        assert_eq!(STATUSES[status_index("lost")], "unknown");
        let body = br#"{"data":[{"pool":"p","status":"damaged","location":"vault-x","expired":true},{"pool":"p","status":"??","location":"online-c","expired":false},{"status":"full","location":"nowhere"},{"status":"full","location":"offline"}]}"#;
        let t = text(List::Media, body, 1000);
        for line in [
            "pbs_tape_media{pool=\"p\",status=\"damaged\",location=\"vault\"} 1\n",
            "pbs_tape_media{pool=\"p\",status=\"unknown\",location=\"online\"} 1\n",
            "pbs_tape_media_expired{pool=\"p\"} 1\n",
            // Media in no pool (freshly labelled) count under pool "".
            "pbs_tape_media{pool=\"\",status=\"full\",location=\"offline\"} 1\n",
        ] {
            assert!(t.contains(line), "missing {line}{t}");
        }
    }

    #[test]
    fn too_many_pools_are_not_kept() {
        let mut body = String::from("{\"data\":[");
        for i in 0..MAX_POOLS + 10 {
            body.push_str(&format!(
                "{{\"pool\":\"p{i}\",\"status\":\"full\",\"location\":\"offline\"}},"
            ));
        }
        body.push_str("{}]}");
        let mut pools = Pools::default();
        let mut medium = Medium::default();
        let mut sink = MediaSink {
            item: &mut medium,
            pools: &mut pools,
        };
        JsonReader::new()
            .read_pieces([body.as_bytes()], &mut sink)
            .unwrap();
        assert!(pools.overflow);
        assert_eq!(pools.len, MAX_POOLS);
    }
}
