//! The scrape budget: how long a scrape may take, from Prometheus'
//! `X-Prometheus-Scrape-Timeout-Seconds` header. Request data reaches time arithmetic only
//! through here: every header value, however absurd, maps to a budget between zero and the
//! configured maximum, and the deadline is computed with checked operations.

use std::time::{Duration, Instant};

/// Longest header value read as a number; longer values are ignored. Prometheus sends a
/// decimal like `10` or `9.5`.
pub const MAX_VALUE_LEN: usize = 32;

/// Time kept back from Prometheus' timeout for writing the response.
const MARGIN_SECS: f64 = 0.5;

/// The time a scrape may take, from the header value (`None` when absent): Prometheus' timeout
/// less half a second (at least half of it), never more than `max`. A value that is not a
/// finite positive number of at most [`MAX_VALUE_LEN`] bytes (NaN, infinity, zero, negative,
/// hex, empty, not UTF-8, overlong) is ignored and `default` applies, itself capped at `max`.
pub fn scrape_budget(header: Option<&[u8]>, default: Duration, max: Duration) -> Duration {
    let default = default.min(max);
    let Some(secs) = header.and_then(parse_seconds) else {
        return default;
    };
    let budget = (secs - MARGIN_SECS).max(secs * 0.5);
    if budget >= max.as_secs_f64() {
        return max;
    }
    // `budget` is finite, positive and below `max` here; the fallback is for the impossible.
    Duration::try_from_secs_f64(budget)
        .unwrap_or(default)
        .min(max)
}

/// The deadline of a scrape that arrived at `arrived` with `budget`; `arrived` itself if the
/// clock cannot represent the sum.
pub fn deadline(arrived: Instant, budget: Duration) -> Instant {
    arrived.checked_add(budget).unwrap_or(arrived)
}

/// A finite positive decimal number of seconds (`10`, `9.5`, `1e1`).
fn parse_seconds(value: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(value).ok()?.trim();
    if text.is_empty() || text.len() > MAX_VALUE_LEN {
        return None;
    }
    // Rust also reads `inf`, `nan` and `infinity`; only digits, sign, point and exponent here.
    if !text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let secs: f64 = text.parse().ok()?;
    (secs.is_finite() && secs > 0.0).then_some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: Duration = Duration::from_secs(30);
    const MAX: Duration = Duration::from_secs(60);

    fn budget(v: &str) -> Duration {
        scrape_budget(Some(v.as_bytes()), DEFAULT, MAX)
    }

    #[test]
    fn prometheus_values_leave_half_a_second() {
        assert_eq!(budget("10"), Duration::from_millis(9500));
        assert_eq!(budget(" 9.5 "), Duration::from_secs(9));
        assert_eq!(budget("1e1"), Duration::from_millis(9500));
        // Under a second: half of it.
        assert_eq!(budget("0.5"), Duration::from_millis(250));
        assert_eq!(scrape_budget(None, DEFAULT, MAX), DEFAULT);
    }

    #[test]
    fn huge_values_are_capped_at_the_maximum() {
        for v in ["1e20", "1e300", "1e308", "60.5", "100000000000000000000000"] {
            assert_eq!(budget(v), MAX, "{v}");
        }
    }

    #[test]
    fn nonsense_values_get_the_default() {
        let long = "1".repeat(MAX_VALUE_LEN + 1);
        for v in [
            "NaN", "nan", "inf", "-inf", "+inf", "infinity", "0", "-0", "0.0", "-1", "-1e20",
            "0x10", "", " ", "1e400", "1e-400", "ten", "1,5", "1.2.3", "--1", &long,
        ] {
            assert_eq!(budget(v), DEFAULT, "{v:?}");
        }
        assert_eq!(scrape_budget(Some(b"\xff1"), DEFAULT, MAX), DEFAULT);
    }

    #[test]
    fn tiny_values_give_a_tiny_budget_not_a_panic() {
        assert!(budget("1e-300") <= Duration::from_nanos(1));
        assert!(budget("1e-9") <= Duration::from_nanos(1));
    }

    #[test]
    fn the_default_never_exceeds_the_maximum() {
        let max = Duration::from_secs(5);
        assert_eq!(scrape_budget(None, DEFAULT, max), max);
        assert_eq!(scrape_budget(Some(b"nan"), DEFAULT, max), max);
        assert_eq!(
            scrape_budget(Some(b"0.1"), DEFAULT, Duration::ZERO),
            Duration::ZERO
        );
    }

    #[test]
    fn deadlines_never_overflow() {
        let now = Instant::now();
        assert_eq!(
            deadline(now, Duration::from_secs(2)),
            now + Duration::from_secs(2)
        );
        assert_eq!(deadline(now, Duration::MAX), now);
    }
}
