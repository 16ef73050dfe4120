//! `json::Tokenizer`: the first byte picks a split size, the next two the key filter's
//! lengths, the rest is the document.
//!
//! Asserts:
//! * the events and the outcome (including the error) are the same fed whole, fed in pieces of
//!   the split size, and fed in pieces to a tokenizer reused after `reset`;
//! * differential against serde_json for documents whose top level is `{` or `[`: if serde_json
//!   accepts it with nesting depth < 64 and no token over 64 KiB, ours accepts it with the same
//!   events (strings decoded identically, numbers with the same text); if ours accepts, serde_json
//!   does too with the same events. Lone UTF-16 surrogates are the one documented difference:
//!   serde_json refuses them, ours decodes them as U+FFFD.
//! * the skip path (`Tokenizer::skip_value` after about two keys in three, chosen by the first
//!   byte, and after every key), fed in pieces: the outcome, including the exact error, is the
//!   one of reading everything, and the events are those of reading everything without the
//!   skipped values; in the differential check, they are serde_json's without the skipped values.
//! * the key filter (`Tokenizer::next_in` with two key lengths of 0 to 63 not read, 63 for
//!   "63 bytes or longer", one from each of the second and third bytes' low six bits, and a
//!   key expected next from their high two bits, [`EXPECTED`]), fed in pieces: the outcome is
//!   the one of reading everything, and the events are those of reading everything without
//!   those keys and their values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbs_exporter::json::tokenizer::{MAX_DEPTH, MAX_TOKEN};
use pbs_exporter::json::{JsonError, Tokenizer};
use pbs_exporter_fuzz::json_ref::{
    Ev, NUMBER_TOKEN, as_serde_spells, reference, skips, tokenize, tokenize_filtering,
    tokenize_skipping, without_keys, without_skipped,
};
use pbs_exporter_fuzz::split_size;

/// The keys the key filter expects next (`KeyFilter::expected`), one picked by the high bits of
/// the second and third bytes: none, short ones, PBS' (read and unread), one longer than a
/// word and one longer than two, one with a byte above 0x7f.
const EXPECTED: [&str; 16] = [
    "", "a", "b", "x", "ab", "k", "key", "data", "size", "state", "files", "backup-id",
    "crypt-mode", "abcdefghijklmnopq", "\u{e9}", "0",
];

fuzz_target!(|data: &[u8]| {
    let [b, key_a, key_b, doc @ ..] = data else {
        return;
    };
    let b = *b;
    let step = split_size(b);

    let whole = tokenize(&mut Tokenizer::new(), [doc]);
    let split = tokenize(&mut Tokenizer::new(), doc.chunks(step));
    assert_eq!(whole, split, "split size {step} changed the events");
    let mut reused = Tokenizer::new();
    let _ = tokenize(&mut reused, doc.chunks(7));
    reused.reset();
    let again = tokenize(&mut reused, doc.chunks(step));
    assert_eq!(whole, again, "a reset tokenizer behaves differently");

    let (events, outcome) = whole;
    let rule = |k: &str| skips(b, k);
    let skipping = tokenize_skipping(&mut Tokenizer::new(), doc.chunks(step), rule);
    assert_eq!(skipping.1, outcome, "skipping changed the outcome");
    assert_eq!(skipping.0, without_skipped(&events, rule), "skipping changed the events");
    let all = |_: &str| true;
    reused.reset();
    let (skip_all, end) = tokenize_skipping(&mut reused, doc.chunks(step.div_ceil(3)), all);
    assert_eq!(end, outcome, "skipping every value changed the outcome");
    assert_eq!(skip_all, without_skipped(&events, all), "skipping every value changed events");
    let lengths = !(1u64 << (key_a & 63) | 1u64 << (key_b & 63));
    let unread = |k: &str| lengths >> k.len().min(63) & 1 == 0;
    let expected = EXPECTED[usize::from(key_a >> 6 | (key_b >> 6) << 2)];
    let (filtered, end) =
        tokenize_filtering(&mut Tokenizer::new(), doc.chunks(step), lengths, expected);
    assert_eq!(end, outcome, "the key filter changed the outcome");
    assert_eq!(filtered, without_keys(&events, unread), "the key filter changed the events");
    // Balanced containers on success; never deeper than MAX_DEPTH.
    let mut depth = 0usize;
    for ev in &events {
        match ev {
            Ev::StartObject | Ev::StartArray => {
                depth += 1;
                assert!(depth <= MAX_DEPTH);
            }
            Ev::EndObject | Ev::EndArray => depth -= 1,
            Ev::Str(s) | Ev::Key(s) | Ev::Number(s) => assert!(s.len() <= MAX_TOKEN),
            _ => {}
        }
    }
    if outcome.is_ok() {
        assert_eq!(depth, 0);
    }

    // Differential check, only for a top-level object or array.
    let first = doc
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if !matches!(first, Some(b'{' | b'[')) {
        return;
    }
    if events
        .iter()
        .any(|e| matches!(e, Ev::Key(k) if k == NUMBER_TOKEN))
    {
        return;
    }
    match (reference(doc), &outcome) {
        (Ok(r), _) if r.ambiguous => {}
        (Ok(r), Ok(())) => {
            assert_eq!(as_serde_spells(&events), r.events, "events differ from serde_json");
            assert_eq!(
                as_serde_spells(&skipping.0),
                without_skipped(&r.events, rule),
                "skipped events differ from serde_json's"
            );
        }
        (Ok(r), Err(e)) => {
            let within_caps = r.depth < MAX_DEPTH && r.longest < MAX_TOKEN;
            assert!(
                // Token length is counted raw by us and decoded by serde_json, so only a
                // too-long token may still be refused within the caps.
                !within_caps || matches!(e, JsonError::TokenTooLong),
                "serde_json accepts (depth {}, longest token {}) but we refuse: {e:?}",
                r.depth,
                r.longest
            );
        }
        (Err(se), Ok(())) => {
            let msg = se.to_string();
            assert!(
                msg.contains("surrogate") || msg.contains("end of hex escape"),
                "we accept but serde_json refuses: {msg}"
            );
            assert!(
                events.iter().any(|e| matches!(e, Ev::Str(s) | Ev::Key(s) if s.contains('\u{FFFD}'))),
                "serde_json refuses a lone surrogate, but no string of ours has U+FFFD: {msg}"
            );
        }
        (Err(_), Err(_)) => {}
    }
});
