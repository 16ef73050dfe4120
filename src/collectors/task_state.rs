//! PBS task outcomes and UPIDs, shared by the jobs and tasks collectors: a job's last run and a
//! finished task carry the same state text (`OK`, `WARNINGS: N`, `unknown`, or the bare error
//! message), and a UPID encodes its task's start time.

/// The outcome of a finished task or job run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `OK`.
    Ok,
    /// `WARNINGS: N`.
    Warning,
    /// Any other text: PBS stores the bare error message.
    Error,
    /// `unknown` (PBS could not tell how the task ended), or no state at all.
    Unknown,
}

impl Outcome {
    /// Every outcome, in label order.
    pub const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::Warning,
        Outcome::Error,
        Outcome::Unknown,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Warning => "warning",
            Outcome::Error => "error",
            Outcome::Unknown => "unknown",
        }
    }

    /// Reads PBS's state text. Only `OK` is success: an error is stored as its bare message,
    /// which need not contain the word "error".
    pub fn parse(text: &str) -> Outcome {
        if text == "OK" {
            Outcome::Ok
        } else if text.starts_with("WARNINGS:") {
            Outcome::Warning
        } else if text == "unknown" {
            Outcome::Unknown
        } else {
            Outcome::Error
        }
    }
}

/// The start time (Unix seconds) a UPID encodes:
/// `UPID:{node}:{pid}:{pstart}:{task}:{starttime}:{type}:{id}:{authid}:`, hex fields. `None`
/// when it is not a UPID or the field is not 1 to 16 hex digits that fit an `i64`.
pub fn upid_start(upid: &str) -> Option<i64> {
    let mut fields = upid.split(':');
    if fields.next()? != "UPID" {
        return None;
    }
    let start = fields.nth(4)?;
    if start.is_empty() || start.len() > 16 || !start.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    i64::from_str_radix(start, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        assert_eq!(Outcome::parse("OK"), Outcome::Ok);
        assert_eq!(Outcome::parse("WARNINGS: 2"), Outcome::Warning);
        assert_eq!(Outcome::parse("unknown"), Outcome::Unknown);
        for error in [
            "verification failed - please check the log for details",
            "datastore 'x' is not mounted",
            "ok",
            "",
        ] {
            assert_eq!(Outcome::parse(error), Outcome::Error, "{error}");
        }
    }

    #[test]
    fn upid_start_times() {
        let gc =
            "UPID:pbs01:0000045C:00000B1E:0000002A:6A5D8120:garbage_collection:store1:root@pam:";
        assert_eq!(upid_start(gc), Some(0x6A5D_8120));
        // pstart grows past 8 digits after 497 days of uptime.
        let long = "UPID:pbs01:0000045C:1000000B1E:0000002A:6A5D8120:prunejob:s:root@pam:";
        assert_eq!(upid_start(long), Some(0x6A5D_8120));
        for bad in [
            "",
            "UPID:",
            "UPID:a:b:c:d",
            "UPID:a:b:c:d::x",
            "UPID:a:b:c:d:-1:x",
            "UPID:a:b:c:d:+1:x",
            "UPID:a:b:c:d:FFFFFFFFFFFFFFFF:x",
            "UPID:a:b:c:d:10000000000000000:x",
            "NOPE:a:b:c:d:6A5D8120:x",
        ] {
            assert_eq!(upid_start(bad), None, "{bad}");
        }
    }
}
