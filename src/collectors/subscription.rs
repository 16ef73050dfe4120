//! Subscription collector: the PBS subscription's status and next due date, from
//! `GET /nodes/localhost/subscription`. PBS leaves the due date (and the key and product) out
//! when there is no subscription, and when the token lacks `Sys.Audit` on `/`: the due date is
//! then absent, the status still there.

use super::{Ctx, set};
use crate::exposition::Families;
use crate::json::{JsonError, JsonReader, Path, Scalar, Sink};

crate::families! {
    pub enum Family {
        Status => Gauge "pbs_subscription_status" "The subscription's status: 1 on the series of the current one (new, notfound, active, invalid, expired, suspended), 0 on the others.",
        NextDue => Gauge "pbs_subscription_next_due_timestamp_seconds" "Midnight UTC of the subscription's next due date; absent when PBS gives none (no subscription, or the token lacks Sys.Audit on /).",
    }
}

/// PBS's subscription statuses.
pub const STATUSES: [&str; 6] = [
    "new",
    "notfound",
    "active",
    "invalid",
    "expired",
    "suspended",
];

/// What the subscription collector keeps between scrapes: the fields being read.
#[derive(Default)]
pub struct State {
    status: String,
    due: String,
}

impl Sink for State {
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        let field = match path.data_key() {
            Some("status") => &mut self.status,
            Some("nextduedate") => &mut self.due,
            _ => return,
        };
        // Longer than any status or date: not one.
        set(
            field,
            value.as_str().filter(|s| s.len() <= 16).unwrap_or(""),
        );
    }
}

/// Midnight UTC of a `YYYY-MM-DD` date (years 1970 to 9999), as Unix seconds.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = &b[r];
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if y < 1970 || d < 1 || d > days_in_month {
        return None;
    }
    // Days from 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400)
}

fn write(s: &State, out: &mut Families) {
    for status in STATUSES {
        out.sample(Family::Status, &[("status", status)], s.status == status);
    }
    if let Some(t) = parse_date(&s.due) {
        out.sample(Family::NextDue, &[], t);
    }
}

/// Reads the subscription and writes its families.
pub async fn collect(ctx: &mut Ctx<'_>, state: &mut State, out: &mut Families) {
    state.status.clear();
    state.due.clear();
    if let Err(e) = ctx
        .client
        .get_json("/nodes/localhost/subscription", state, ctx.deadline)
        .await
    {
        ctx.fail(format_args!("reading the subscription"), &e);
        return;
    }
    write(state, out);
}

/// Writes the subscription families from a body given in pieces (fuzzing, benchmarks).
pub fn from_json<'p>(
    pieces: impl IntoIterator<Item = &'p [u8]>,
    out: &mut Families,
) -> Result<(), JsonError> {
    let mut s = State::default();
    JsonReader::new().read_pieces(pieces, &mut s)?;
    write(&s, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2027-01-31"), Some(1_801_353_600));
        assert_eq!(parse_date("2024-02-29"), Some(1_709_164_800));
        for bad in [
            "",
            "2023-02-29",
            "2027-13-01",
            "2027-00-10",
            "2027-01-32",
            "2027-1-31",
            "2027/01/31",
            "1969-12-31",
            "+027-01-31",
            "2027-01-31 ",
            "٢٠٢٧-01-31",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    fn text(body: &str) -> String {
        let mut f = Families::new(Family::TABLE);
        from_json([body.as_bytes()], &mut f).unwrap();
        let mut out = Vec::new();
        f.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_status_is_set_and_the_date_is_absent_without_one() {
        let t =
            text(r#"{"data":{"status":"active","nextduedate":"2027-01-31","productname":"x"}}"#);
        assert!(
            t.contains("pbs_subscription_status{status=\"active\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("pbs_subscription_status{status=\"expired\"} 0\n"),
            "{t}"
        );
        assert!(
            t.contains("pbs_subscription_next_due_timestamp_seconds 1801353600\n"),
            "{t}"
        );
        let t = text(r#"{"data":{"status":"notfound","message":"no key","url":"u"}}"#);
        assert!(
            t.contains("pbs_subscription_status{status=\"notfound\"} 1\n"),
            "{t}"
        );
        assert!(
            !t.contains("pbs_subscription_next_due_timestamp_seconds "),
            "{t}"
        );
    }
}
