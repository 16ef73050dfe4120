//! Subscription collector: the PBS subscription's status and next due date, from
//! `GET /nodes/localhost/subscription`. PBS leaves the due date (and the key and product) out
//! when there is no subscription, and when the token lacks `Sys.Audit` on `/`: the due date is
//! then absent, the status still there. With `--compat natrontech` it also writes natrontech's
//! `pbs_host_subscription_*` families from the same answer (no second request).

use super::{Ctx, MAX_TEXT_LABEL, set};
use crate::exposition::Families;
use crate::json::{JsonError, JsonReader, Path, Scalar, Sink};
use crate::natrontech;

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
    /// `status` as text (natrontech's rendering of a non-string); `""` when absent or null.
    status: String,
    /// `nextduedate` when it is a string.
    due: String,
    /// `productname` as text, for natrontech's families; meaningful when `has_product`.
    product: String,
    /// `productname` was present and not null (natrontech writes `unknown` otherwise).
    has_product: bool,
}

/// Nothing is carried to the next scrape.
impl super::IdleState for State {}

impl State {
    fn clear(&mut self) {
        self.status.clear();
        self.due.clear();
        self.product.clear();
        self.has_product = false;
    }
}

/// Sets `dst` to `value` as natrontech renders a JSON value as text: strings verbatim, numbers
/// and booleans as Go prints them. Returns false for `null`. Text longer than
/// [`MAX_TEXT_LABEL`] (it becomes a label value) is not kept: `dst` is left empty.
fn set_text(dst: &mut String, value: Scalar<'_>) -> bool {
    dst.clear();
    match value {
        Scalar::Str(s) => dst.push_str(s.as_str()),
        Scalar::Bool(b) => dst.push_str(if b { "true" } else { "false" }),
        Scalar::Num(n) => {
            let mut b = Vec::with_capacity(24);
            natrontech::write_go_float(&mut b, n.as_str().parse().unwrap_or(f64::NAN));
            dst.push_str(std::str::from_utf8(&b).unwrap_or(""));
        }
        Scalar::Null => return false,
    }
    if dst.len() > MAX_TEXT_LABEL {
        dst.clear();
    }
    true
}

impl Sink for State {
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        match path.data_key() {
            Some("status") => {
                set_text(&mut self.status, value);
            }
            Some("productname") => self.has_product = set_text(&mut self.product, value),
            // Longer than a date: not one.
            Some("nextduedate") => set(
                &mut self.due,
                value.as_str().filter(|s| s.len() <= 16).unwrap_or(""),
            ),
            _ => {}
        }
    }
}

/// Midnight UTC of a strict `YYYY-MM-DD` date (years 0000 to 9999, as Go's `time.Parse`
/// reads them), as Unix seconds: negative before 1970.
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
    if d < 1 || d > days_in_month {
        return None;
    }
    // Days from 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400)
}

fn write(s: &State, out: &mut Families, compat: Option<&mut Families>) {
    for status in STATUSES {
        out.sample(Family::Status, &[("status", status)], s.status == status);
    }
    let due = parse_date(&s.due);
    // A due date before 1970 is no date PBS gives: left out here, written as natrontech does.
    if let Some(t) = due.filter(|t| *t >= 0) {
        out.sample(Family::NextDue, &[], t);
    }
    if let Some(compat) = compat {
        let product = s.has_product.then_some(s.product.as_str());
        natrontech::write_subscription(compat, &s.status, product, due.unwrap_or(0));
    }
}

/// Reads the subscription and writes its families.
pub async fn collect(ctx: &mut Ctx<'_>, state: &mut State, out: &mut Families) {
    state.clear();
    if let Err(e) = ctx
        .client
        .get_json("/nodes/localhost/subscription", state, ctx.deadline)
        .await
    {
        ctx.fail(format_args!("reading the subscription"), &e);
        return;
    }
    write(state, out, ctx.compat.as_deref_mut());
}

/// Writes the subscription families from a body given in pieces (fuzzing, benchmarks).
pub fn from_json<'p>(
    pieces: impl IntoIterator<Item = &'p [u8]>,
    out: &mut Families,
) -> Result<(), JsonError> {
    let mut s = State::default();
    JsonReader::new().read_pieces(pieces, &mut s)?;
    write(&s, out, None);
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
        assert_eq!(parse_date("2025-12-31"), Some(1_767_139_200));
        assert_eq!(parse_date("1969-12-31"), Some(-86_400));
        assert_eq!(parse_date("0000-03-01"), Some(-62_162_035_200));
        for bad in [
            "",
            "2023-02-29",
            "2027-13-01",
            "2027-00-10",
            "2027-01-32",
            "2027-1-31",
            "2027/01/31",
            "2025-12-31T00",
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

    fn compat_text(body: &str) -> String {
        let mut s = State::default();
        JsonReader::new()
            .read_pieces([body.as_bytes()], &mut s)
            .unwrap();
        let (mut f, mut c) = (Families::new(Family::TABLE), natrontech::families());
        write(&s, &mut f, Some(&mut c));
        c.sort_samples();
        let mut out = Vec::new();
        c.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn natrontechs_families_show_unknown_and_zero_without_a_key_and_raw_odd_statuses() {
        // natrontech-compat.md §5.7, case H: no key (or no Sys.Audit).
        let t = compat_text(r#"{"data":{"status":"notfound","message":"no key","url":"u"}}"#);
        for line in [
            "pbs_host_subscription_info{productname=\"unknown\",status=\"notfound\"} 1\n",
            "pbs_host_subscription_due_timestamp_seconds{productname=\"unknown\"} 0\n",
            "pbs_host_subscription_status{status=\"notfound\"} 1\n",
            "pbs_host_subscription_status{status=\"active\"} 0\n",
        ] {
            assert!(t.contains(line), "{line}{t}");
        }
        // A non-string status is rendered as Go prints it; null productname is `unknown`;
        // an empty productname stays empty; a date before 1970 is written as natrontech does.
        let t =
            compat_text(r#"{"data":{"status":1e6,"productname":null,"nextduedate":"1969-12-31"}}"#);
        assert!(
            t.contains("pbs_host_subscription_info{productname=\"unknown\",status=\"1e+06\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains(
                "pbs_host_subscription_due_timestamp_seconds{productname=\"unknown\"} -86400\n"
            ),
            "{t}"
        );
        assert_eq!(t.matches("pbs_host_subscription_status{").count(), 6, "{t}");
        assert!(
            !t.contains("pbs_host_subscription_status{status=\"active\"} 1"),
            "{t}"
        );
        let t = compat_text(r#"{"data":{"status":true,"productname":""}}"#);
        assert!(
            t.contains("pbs_host_subscription_info{productname=\"\",status=\"true\"} 1\n"),
            "{t}"
        );
    }
}
