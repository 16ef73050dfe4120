//! The simulator's tape: drives, changers and media in pools, served by `/tape/drive`,
//! `/tape/changer` and `/tape/media/list` in PBS's shapes (keys sorted). A profile without tape
//! ([`Profile::tape`] false) answers empty lists, as a PBS without tape does. Everything is a
//! function of indices, so tests compute the expected metrics from here.
//!
//! The simulator is stricter than PBS where a request would touch the hardware: the media list
//! without `update-status=false` (or `0`) and any `/tape/drive/{name}/...` call (drive status
//! locks the drive) answer 400, so a test sees an exporter that asks for them fail.

use super::json::{push_i64, push_str, push_u64};
use super::model::{BASE, DAY, Profile};

/// The 400 body for a media list that would update the status from the changers.
pub const UPDATE_STATUS_REFUSED: &str =
    "simulator: /tape/media/list without update-status=false queries every changer";
/// The 400 body for a call on one drive (status locks the drive).
pub const DRIVE_CALL_REFUSED: &str = "simulator: calls on one drive lock or move it";

/// A tape drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drive {
    /// `name`.
    pub name: &'static str,
    /// `changer`, absent for a standalone drive.
    pub changer: Option<&'static str>,
    /// `vendor`, `model`, `serial` (device identification).
    pub vendor: &'static str,
    /// `model`.
    pub model: &'static str,
    /// `serial`.
    pub serial: &'static str,
}

/// The drives of a profile with tape: two in the library, one standalone.
pub const DRIVES: [Drive; 3] = [
    Drive {
        name: "lto9-0",
        changer: Some("msl3040"),
        vendor: "HPE",
        model: "Ultrium 9-SCSI",
        serial: "10WT123456",
    },
    Drive {
        name: "lto9-1",
        changer: Some("msl3040"),
        vendor: "HPE",
        model: "Ultrium 9-SCSI",
        serial: "10WT123457",
    },
    Drive {
        name: "lto8-solo",
        changer: None,
        vendor: "IBM",
        model: "ULT3580-HH8",
        serial: "1068000123",
    },
];

/// A tape changer (library).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Changer {
    /// `name`.
    pub name: &'static str,
    /// `vendor`, `model`, `serial`; `None`: PBS leaves the three out (identification failed).
    pub ident: Option<(&'static str, &'static str, &'static str)>,
}

/// The changers of a profile with tape.
pub const CHANGERS: [Changer; 2] = [
    Changer {
        name: "msl3040",
        ident: Some(("HPE", "MSL3040", "DEC1234567")),
    },
    Changer {
        name: "vchanger",
        ident: None,
    },
];

/// Media in a profile with tape.
pub const MEDIA: usize = 23;

/// Pool of medium `m`: `daily`, `weekly`, `monthly` by `m % 3`; none (freshly labelled, free)
/// when `m % 7 == 6`.
pub fn media_pool(m: usize) -> Option<&'static str> {
    (m % 7 != 6).then(|| ["daily", "weekly", "monthly"][m % 3])
}

/// PBS `status` of medium `m`: `writable`, `full`, `unknown`, `damaged`, `retired` by `m % 5`.
pub fn media_status(m: usize) -> &'static str {
    ["writable", "full", "unknown", "damaged", "retired"][m % 5]
}

/// PBS `location` of medium `m`: `online-msl3040` (`m % 4` 0 or 1), `offline` (2),
/// `vault-offsite` (3).
pub fn media_location(m: usize) -> &'static str {
    [
        "online-msl3040",
        "online-msl3040",
        "offline",
        "vault-offsite",
    ][m % 4]
}

/// Whether medium `m`'s media set has expired (`m % 6 == 5`).
pub fn media_expired(m: usize) -> bool {
    m % 6 == 5
}

/// `/tape/drive`.
pub(crate) fn drives(buf: &mut Vec<u8>, p: &Profile) {
    buf.extend_from_slice(b"{\"data\":[");
    for (i, d) in DRIVES.iter().enumerate().filter(|_| p.tape) {
        if i > 0 {
            buf.push(b',');
        }
        buf.push(b'{');
        if let Some(c) = d.changer {
            buf.extend_from_slice(b"\"changer\":");
            push_str(buf, c);
            buf.extend_from_slice(b",\"changer-drivenum\":");
            push_u64(buf, i as u64);
            buf.push(b',');
        }
        buf.extend_from_slice(b"\"model\":");
        push_str(buf, d.model);
        buf.extend_from_slice(b",\"name\":");
        push_str(buf, d.name);
        buf.extend_from_slice(b",\"path\":");
        push_str(buf, &format!("/dev/tape/by-id/scsi-{}-sg", d.serial));
        buf.extend_from_slice(b",\"serial\":");
        push_str(buf, d.serial);
        buf.extend_from_slice(b",\"vendor\":");
        push_str(buf, d.vendor);
        buf.push(b'}');
    }
    buf.extend_from_slice(b"]}");
}

/// `/tape/changer`.
pub(crate) fn changers(buf: &mut Vec<u8>, p: &Profile) {
    buf.extend_from_slice(b"{\"data\":[");
    for (i, c) in CHANGERS.iter().enumerate().filter(|_| p.tape) {
        if i > 0 {
            buf.push(b',');
        }
        buf.push(b'{');
        if let Some((_, model, _)) = c.ident {
            buf.extend_from_slice(b"\"export-slots\":\"39,40\",\"model\":");
            push_str(buf, model);
            buf.push(b',');
        }
        buf.extend_from_slice(b"\"name\":");
        push_str(buf, c.name);
        buf.extend_from_slice(b",\"path\":");
        push_str(buf, &format!("/dev/tape/by-id/scsi-{}", c.name));
        if let Some((vendor, _, serial)) = c.ident {
            buf.extend_from_slice(b",\"serial\":");
            push_str(buf, serial);
            buf.extend_from_slice(b",\"vendor\":");
            push_str(buf, vendor);
        }
        buf.push(b'}');
    }
    buf.extend_from_slice(b"]}");
}

/// `/tape/media/list`.
pub(crate) fn media(buf: &mut Vec<u8>, p: &Profile) {
    buf.extend_from_slice(b"{\"data\":[");
    for m in (0..MEDIA).filter(|_| p.tape) {
        if m > 0 {
            buf.push(b',');
        }
        let pool = media_pool(m);
        let status = media_status(m);
        buf.push(b'{');
        if pool.is_some() && status != "writable" {
            buf.extend_from_slice(b"\"bytes-used\":");
            push_u64(buf, (m as u64 + 1) * 1_000_000_000_000);
            buf.push(b',');
        }
        buf.extend_from_slice(b"\"catalog\":true,\"ctime\":");
        push_i64(buf, BASE - 200 * DAY + m as i64 * 60);
        buf.extend_from_slice(b",\"expired\":");
        buf.extend_from_slice(if media_expired(m) { b"true" } else { b"false" });
        buf.extend_from_slice(b",\"label-text\":");
        push_str(buf, &format!("AB{m:04}L9"));
        buf.extend_from_slice(b",\"location\":");
        push_str(buf, media_location(m));
        if let Some(pool) = pool {
            buf.extend_from_slice(b",\"media-set-ctime\":");
            push_i64(buf, BASE - 7 * DAY);
            buf.extend_from_slice(b",\"media-set-name\":");
            push_str(buf, &format!("{pool} 2026-07-13 06:00"));
            buf.extend_from_slice(b",\"media-set-uuid\":");
            push_str(buf, &format!("1c2d3e4f-5a6b-4c7d-8e9f-{:012x}", m % 3));
            buf.extend_from_slice(b",\"pool\":");
            push_str(buf, pool);
            buf.extend_from_slice(b",\"seq-nr\":");
            push_u64(buf, m as u64 / 3);
        }
        buf.extend_from_slice(b",\"status\":");
        push_str(buf, status);
        buf.extend_from_slice(b",\"uuid\":");
        push_str(buf, &format!("7b9f0c2e-3d4a-4b5c-8d6e-{m:012x}"));
        buf.push(b'}');
    }
    buf.extend_from_slice(b"]}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_location_and_a_free_medium_occur() {
        let statuses: std::collections::BTreeSet<_> = (0..MEDIA).map(media_status).collect();
        assert_eq!(statuses.len(), 5);
        let locations: std::collections::BTreeSet<_> = (0..MEDIA).map(media_location).collect();
        assert_eq!(locations.len(), 3);
        assert!((0..MEDIA).any(|m| media_pool(m).is_none()));
        assert!((0..MEDIA).any(media_expired));
        let mut b = Vec::new();
        media(&mut b, &Profile::REFERENCE);
        assert_eq!(b, b"{\"data\":[]}");
    }
}
