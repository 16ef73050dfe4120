//! `budget::scrape_budget` and `budget::deadline` over any header value. Byte 0 picks the
//! configured maximum (0 to 255 s) and byte 1 the default; the rest is the header value.
//!
//! Asserts: no panic; the budget never exceeds the maximum; a value Rust reads as a finite
//! positive number, of at most `MAX_VALUE_LEN` bytes of digits, sign, point and exponent, gets
//! `min(max, max(t - 0.5, t / 2))` (to the nanosecond), anything else the default capped at
//! the maximum; the deadline is never before the arrival.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbs_exporter::budget::{MAX_VALUE_LEN, deadline, scrape_budget};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let max = Duration::from_secs(data[0] as u64);
    let default = Duration::from_secs(data[1] as u64);
    let value = &data[2..];
    let b = scrape_budget(Some(value), default, max);
    assert!(b <= max, "{b:?} > {max:?}");
    let now = Instant::now();
    assert!(deadline(now, b) >= now);

    let reference = std::str::from_utf8(value)
        .ok()
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= MAX_VALUE_LEN)
        .filter(|t| t.bytes().all(|c| c.is_ascii_digit() || b".eE+-".contains(&c)))
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|t| t.is_finite() && *t > 0.0);
    match reference {
        None => assert_eq!(b, default.min(max)),
        Some(t) => {
            let want = (t - 0.5).max(t * 0.5).min(max.as_secs_f64());
            let got = b.as_secs_f64();
            assert!((got - want).abs() <= 1e-9 * want.max(1.0), "{t}: {got} vs {want}");
        }
    }
});
