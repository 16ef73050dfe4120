//! Token events in the tokenizer's own shape, owned, plus the same events produced by
//! serde_json (the reference) through a recording visitor.

use pbs_exporter::json::{Event, JsonError, KeyFilter, Tokenizer};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// serde_json's private marker for `arbitrary_precision` numbers (a one-entry map).
pub const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// An owned [`Event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    StartObject,
    EndObject,
    StartArray,
    EndArray,
    Key(String),
    Str(String),
    Number(String),
    Bool(bool),
    Null,
}

impl From<Event<'_>> for Ev {
    fn from(e: Event<'_>) -> Self {
        match e {
            Event::StartObject => Ev::StartObject,
            Event::EndObject => Ev::EndObject,
            Event::StartArray => Ev::StartArray,
            Event::EndArray => Ev::EndArray,
            Event::Key(k) => Ev::Key(String::from_utf8(k.to_vec()).expect("keys are UTF-8")),
            Event::Str(s) => Ev::Str(s.as_str().to_owned()),
            Event::Number(n) => Ev::Number(n.as_str().to_owned()),
            Event::Bool(b) => Ev::Bool(b),
            Event::Null => Ev::Null,
            // Split by `tokenize_skipping` before it gets here.
            Event::Member(..) => unreachable!("a member is two events"),
        }
    }
}

/// Runs `t` over `pieces`; returns every event and how the document ended.
pub fn tokenize<'p>(
    t: &mut Tokenizer,
    pieces: impl IntoIterator<Item = &'p [u8]>,
) -> (Vec<Ev>, Result<(), JsonError>) {
    tokenize_skipping(t, pieces, |_| false)
}

/// What serde_json made of a document.
pub struct Reference {
    pub events: Vec<Ev>,
    /// Deepest nesting (1 for `[]`).
    pub depth: usize,
    /// Longest string (decoded) or number text, in bytes.
    pub longest: usize,
    /// serde_json saw the `arbitrary_precision` marker as a real key: skip the comparison.
    pub ambiguous: bool,
}

/// Parses `doc` with serde_json, recording events in document order (duplicate keys kept).
pub fn reference(doc: &[u8]) -> Result<Reference, serde_json::Error> {
    let mut r = Reference {
        events: Vec::new(),
        depth: 0,
        longest: 0,
        ambiguous: false,
    };
    let mut de = serde_json::Deserializer::from_slice(doc);
    Seed { r: &mut r, depth: 0 }.deserialize(&mut de)?;
    de.end()?;
    Ok(r)
}

struct Seed<'r> {
    r: &'r mut Reference,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Records a key as `Ev::Key`.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = String;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_string(StrVisitor)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.r.events.push(Ev::Bool(v));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        let s = v.to_string();
        self.r.longest = self.r.longest.max(s.len());
        self.r.events.push(Ev::Number(s));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        let s = v.to_string();
        self.r.longest = self.r.longest.max(s.len());
        self.r.events.push(Ev::Number(s));
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        // Not reached with `arbitrary_precision`; kept for completeness.
        self.r.events.push(Ev::Number(format!("{v}")));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.r.longest = self.r.longest.max(v.len());
        self.r.events.push(Ev::Str(v.to_owned()));
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.r.events.push(Ev::Null);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let depth = self.depth + 1;
        self.r.depth = self.r.depth.max(depth);
        self.r.events.push(Ev::StartArray);
        while seq
            .next_element_seed(Seed {
                r: &mut *self.r,
                depth,
            })?
            .is_some()
        {}
        self.r.events.push(Ev::EndArray);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let depth = self.depth + 1;
        let first = map.next_key_seed(KeySeed)?;
        if first.as_deref() == Some(NUMBER_TOKEN) {
            // An `arbitrary_precision` number (or a real object with that key: ambiguous).
            let text: String = map.next_value()?;
            if text.parse::<f64>().is_err() {
                self.r.ambiguous = true;
            }
            self.r.longest = self.r.longest.max(text.len());
            self.r.events.push(Ev::Number(text));
            while map.next_key::<de::IgnoredAny>()?.is_some() {
                self.r.ambiguous = true;
                map.next_value::<de::IgnoredAny>()?;
            }
            return Ok(());
        }
        self.r.depth = self.r.depth.max(depth);
        self.r.events.push(Ev::StartObject);
        let mut key = first;
        while let Some(k) = key {
            self.r.longest = self.r.longest.max(k.len());
            self.r.events.push(Ev::Key(k));
            map.next_value_seed(Seed {
                r: &mut *self.r,
                depth,
            })?;
            key = map.next_key_seed(KeySeed)?;
        }
        self.r.events.push(Ev::EndObject);
        Ok(())
    }
}

/// A number's text as serde_json's `arbitrary_precision` keeps it: the exponent marker
/// lowercased and always signed (`1E5` → `1e+5`). Everything else is kept verbatim.
pub fn serde_number_text(n: &str) -> String {
    let mut out = String::with_capacity(n.len() + 1);
    let mut chars = n.chars().peekable();
    while let Some(c) = chars.next() {
        if c == 'e' || c == 'E' {
            out.push('e');
            if !matches!(chars.peek(), Some('+' | '-')) {
                out.push('+');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `events` with number texts spelled as serde_json spells them.
pub fn as_serde_spells(events: &[Ev]) -> Vec<Ev> {
    events
        .iter()
        .map(|e| match e {
            Ev::Number(n) => Ev::Number(serde_number_text(n)),
            other => other.clone(),
        })
        .collect()
}

/// The skip rule a target derives from one of its control bytes: true for the keys whose values
/// the tokenizer is told to skip (about two keys in three, chosen by length and first byte).
pub fn skips(rule: u8, key: &str) -> bool {
    let first = key.bytes().next().unwrap_or(0);
    (key.len() as u8).wrapping_add(first).wrapping_add(rule) % 3 != 0
}

/// Like [`tokenize`], but after every key for which `skip` is true the tokenizer is told to skip
/// its value (`Tokenizer::skip_value`), as the walker does for keys no extractor reads.
pub fn tokenize_skipping<'p>(
    t: &mut Tokenizer,
    pieces: impl IntoIterator<Item = &'p [u8]>,
    skip: impl Fn(&str) -> bool,
) -> (Vec<Ev>, Result<(), JsonError>) {
    let mut events = Vec::new();
    for piece in pieces {
        t.feed(piece);
        loop {
            match t.next(piece) {
                // A key and its scalar value in one event: the two events, the value left out
                // when skipped.
                Ok(Some(Event::Member(k, v))) => {
                    events.push(Event::Key(k).into());
                    if !skip(&String::from_utf8_lossy(k)) {
                        events.push(v.event().into());
                    }
                }
                Ok(Some(ev)) => {
                    let skipped = matches!(ev, Event::Key(k) if skip(&String::from_utf8_lossy(k)));
                    events.push(ev.into());
                    if skipped {
                        t.skip_value();
                    }
                }
                Ok(None) => break,
                Err(e) => return (events, Err(e)),
            }
        }
    }
    let end = t.finish();
    (events, end)
}

/// Like [`tokenize`], through `Tokenizer::next_in` with the key lengths `lengths` read (bit
/// `n` for a length `n`) and the key `expected` expected next (`KeyFilter`): the keys of
/// other lengths that come out anyway have their values skipped (`Tokenizer::skip_value`), as
/// the walker does. The events leave out those keys, their values, and the members `next_in`
/// stepped over: what [`without_keys`] leaves of reading everything.
pub fn tokenize_filtering<'p>(
    t: &mut Tokenizer,
    pieces: impl IntoIterator<Item = &'p [u8]>,
    lengths: u64,
    expected: &str,
) -> (Vec<Ev>, Result<(), JsonError>) {
    let unread = |k: &[u8]| lengths >> k.len().min(63) & 1 == 0;
    let mut events = Vec::new();
    for piece in pieces {
        t.feed(piece);
        loop {
            match t.next_in(piece, KeyFilter::new(lengths, expected)) {
                Ok(Some(Event::Member(k, v))) => {
                    if !unread(k) {
                        events.push(Event::Key(k).into());
                        events.push(v.event().into());
                    }
                }
                Ok(Some(ev)) => {
                    if matches!(ev, Event::Key(k) if unread(k)) {
                        t.skip_value();
                    } else {
                        events.push(ev.into());
                    }
                }
                Ok(None) => break,
                Err(e) => return (events, Err(e)),
            }
        }
    }
    let end = t.finish();
    (events, end)
}

/// `events` without the values of the keys for which `skip` is true (the keys stay): what a
/// skipping tokenizer returns. A value cut off by the end of `events` is dropped as far as it
/// goes.
pub fn without_skipped(events: &[Ev], skip: impl Fn(&str) -> bool) -> Vec<Ev> {
    without(events, skip, false)
}

/// [`without_skipped`] that leaves out the keys too: what [`tokenize_filtering`] returns.
pub fn without_keys(events: &[Ev], skip: impl Fn(&str) -> bool) -> Vec<Ev> {
    without(events, skip, true)
}

fn without(events: &[Ev], skip: impl Fn(&str) -> bool, drop_keys: bool) -> Vec<Ev> {
    let mut out = Vec::new();
    // `pending`: the next value is skipped; `depth`: containers open inside a skipped value.
    let (mut pending, mut depth) = (false, 0usize);
    for ev in events {
        if pending || depth > 0 {
            pending = false;
            match ev {
                Ev::StartObject | Ev::StartArray => depth += 1,
                Ev::EndObject | Ev::EndArray => depth -= 1,
                _ => {}
            }
            continue;
        }
        pending = matches!(ev, Ev::Key(k) if skip(k));
        if !(pending && drop_keys) {
            out.push(ev.clone());
        }
    }
    out
}
