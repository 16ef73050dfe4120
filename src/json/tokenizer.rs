//! An incremental, validating JSON tokenizer. Bytes are fed as they come off the socket and
//! read where they lie; events borrow from the piece being read (or, for strings with escapes,
//! from a reused scratch string). Only a token cut by a piece boundary is copied, into a small
//! carry buffer completed from the next piece.

use super::short_eq::short_eq;

/// Longest single token (string or number) accepted, in bytes. Caps memory on hostile input.
pub const MAX_TOKEN: usize = 64 * 1024;
/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 64;

/// One JSON token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event<'a> {
    /// `{`
    StartObject,
    /// `}`
    EndObject,
    /// `[`
    StartArray,
    /// `]`
    EndArray,
    /// An object key, unescaped: valid UTF-8, as bytes (the walker matches keys against the ones
    /// it reads, so most are never needed as text; `std::str::from_utf8` would check them twice).
    Key(&'a [u8]),
    /// A string value, unescaped.
    Str(Text<'a>),
    /// A number, as its JSON text (validated against the JSON grammar).
    Number(Text<'a>),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An object key and its scalar value in one call (the two events `Key` then the value),
    /// when the colon follows the key's closing quote directly, the value follows the colon
    /// directly, and the value is, in the bytes being read (the piece, or the carry):
    /// a string of bytes 0x20 to 0x7f without escapes, all there (`plain_string_end`); a
    /// number without an exponent and with a byte after it there (`plain_number_end`); or a
    /// literal all there. Every other key comes as `Key` alone, its value as the events that
    /// follow: `"k" :v` and `"k": v`, strings with escapes or bytes above 0x7f, numbers with
    /// an exponent or ending the bytes read, containers, values cut or in error.
    Member(&'a [u8], Scalar<'a>),
}

/// A string value, unescaped, or a number's text, as the tokenizer validated them (a string is
/// valid UTF-8, a number ASCII against the JSON grammar). Kept as bytes until text is asked
/// for, so a sink that only compares or copies bytes needs no second UTF-8 check, and the
/// integers sinks read are parsed from the bytes directly.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Text<'a>(&'a [u8]);

impl<'a> Text<'a> {
    /// The text.
    pub fn as_str(self) -> &'a str {
        // The tokenizer hands out valid UTF-8 only.
        std::str::from_utf8(self.0).unwrap_or("")
    }

    /// The text's bytes (valid UTF-8).
    pub fn as_bytes(self) -> &'a [u8] {
        self.0
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Text(s.as_bytes())
    }
}

impl std::fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<'a> Text<'a> {
    /// The value when the text is a non-negative integer that fits (`str::parse::<u64>`'s
    /// answer for JSON number text).
    #[inline]
    pub fn as_u64(self) -> Option<u64> {
        if self.0.len() <= 19 {
            return short_digits(self.0);
        }
        let mut n = 0u64;
        for &d in self.0 {
            let d = d.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            n = n.checked_mul(10)?.checked_add(u64::from(d))?;
        }
        Some(n)
    }

    /// The value when the text is an integer that fits (`str::parse::<i64>`'s answer for JSON
    /// number text).
    #[inline]
    pub fn as_i64(self) -> Option<i64> {
        let (negative, digits) = match self.0 {
            [b'-', rest @ ..] => (true, rest),
            all => (false, all),
        };
        if digits.len() <= 18 {
            // Below 10^18: fits either sign.
            let n = i64::try_from(short_digits(digits)?).ok()?;
            return Some(if negative { -n } else { n });
        }
        // Accumulated negative: i64::MIN has no positive counterpart.
        let mut n = 0i64;
        for &d in digits {
            let d = d.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            n = n.checked_mul(10)?.checked_sub(i64::from(d))?;
        }
        if negative { Some(n) } else { n.checked_neg() }
    }
}

/// A scalar value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    /// A string.
    Str(Text<'a>),
    /// A number as its JSON text.
    Num(Text<'a>),
    /// `true`/`false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl<'a> Scalar<'a> {
    /// The event of the value alone.
    pub fn event(self) -> Event<'a> {
        match self {
            Scalar::Str(s) => Event::Str(s),
            Scalar::Num(n) => Event::Number(n),
            Scalar::Bool(b) => Event::Bool(b),
            Scalar::Null => Event::Null,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&'a str> {
        match self {
            Scalar::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The string's bytes (valid UTF-8), if this is one: no second UTF-8 check.
    pub fn str_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Scalar::Str(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// A non-negative integer, exactly as sent (byte counts never pass through `f64`).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Scalar::Num(n) => n.as_u64(),
            _ => None,
        }
    }

    /// An integer; a float is truncated and saturates, as PBS' own casts do.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Scalar::Num(n) => n.as_i64().or_else(|| truncated(n)),
            _ => None,
        }
    }

    /// A number as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Num(n) => n.as_str().parse().ok(),
            _ => None,
        }
    }

    /// A boolean, accepting PBS' `1`/`0` too.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Scalar::Bool(b) => Some(*b),
            Scalar::Num(n) if n.as_bytes() == b"1" => Some(true),
            Scalar::Num(n) if n.as_bytes() == b"0" => Some(false),
            _ => None,
        }
    }
}

/// [`Scalar::as_i64`] of a number that is no integer in range: truncated and saturated.
/// Out of line and cold, so the integer path keeps no stack frame for the float parse.
#[cold]
#[inline(never)]
fn truncated(n: &Text<'_>) -> Option<i64> {
    n.as_str()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(|f| f as i64)
}

/// The value of 1 to 19 ASCII digits (`None`: none, or not all digits), eight at a time: the
/// value cannot overflow, and a timestamp or size then takes two words instead of a multiply
/// per digit. The common lengths inline, the others in a call.
#[inline(always)]
fn short_digits(s: &[u8]) -> Option<u64> {
    if let 9..=16 = s.len() {
        two_words(s)
    } else {
        other_digits(s)
    }
}

/// [`short_digits`] of 1 to 8 or 17 to 19 digits.
#[inline(never)]
fn other_digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n = 0u64;
    let mut words = s.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(word);
        n = n
            .wrapping_mul(100_000_000)
            .wrapping_add(eight_digits(u64::from_le_bytes(bytes))?);
    }
    for &d in words.remainder() {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.wrapping_mul(10).wrapping_add(u64::from(d));
    }
    Some(n)
}

/// The value of 9 to 16 ASCII digits (`None`: a byte is not a digit): PBS' timestamps and
/// sizes. Straight-line: the last eight digits as one word, the first `k` (1 to 8) as the word
/// of the first eight shifted up by the digits it takes from the last (its low bytes then
/// `'0'`); the bytes both words hold are checked twice. No loop and no remainder, so the call
/// needs no stack frame.
#[inline]
fn two_words(s: &[u8]) -> Option<u64> {
    const ZERO: u64 = u64::from_le_bytes([b'0'; 8]);
    // `k` leading digits, 1 to 8: the shifts below stay under 64.
    let k = s.len().wrapping_sub(8);
    if !(1..=8).contains(&k) {
        return None;
    }
    let word = |at: usize| -> Option<u64> {
        let bytes: [u8; 8] = s.get(at..at + 8)?.try_into().ok()?;
        Some(u64::from_le_bytes(bytes))
    };
    let (first, last) = (word(0)?, word(k)?);
    let high = first << (8 * (8 - k)) | (ZERO >> 8) >> (8 * (k - 1));
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    return block16::sixteen_digits(high, last);
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    sixteen_digits_words(high, last)
}

/// [`block16::sixteen_digits`] in two plain words: the conversion on other targets, and the
/// reference the register's is tested against.
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
#[inline]
fn sixteen_digits_words(high: u64, low: u64) -> Option<u64> {
    Some(eight_digits(high)? * 100_000_000 + eight_digits(low)?)
}

/// Eight ASCII digits (little-endian: the first digit in the low byte) as their value, `None`
/// when one is not a digit (the test of [`digits`]). Pairs, then fours, then the eight are
/// combined; no lane can carry into the next.
#[inline]
fn eight_digits(w: u64) -> Option<u64> {
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    const ABOVE_NINE: u64 = u64::from_le_bytes([0x46; 8]);
    const ZERO: u64 = u64::from_le_bytes([b'0'; 8]);
    if (w.wrapping_add(ABOVE_NINE) | w.wrapping_sub(ZERO) | w) & HIGH != 0 {
        return None;
    }
    let w = w - ZERO;
    let w = (w.wrapping_mul(10) + (w >> 8)) & 0x00ff_00ff_00ff_00ff;
    let w = (w.wrapping_mul(100) + (w >> 16)) & 0x0000_ffff_0000_ffff;
    Some((w.wrapping_mul(10_000) + (w >> 32)) & 0xffff_ffff)
}

/// Why a document is not acceptable JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// A byte that the grammar does not allow here, at this offset in the document.
    Syntax {
        /// Offset of the offending byte from the start of the document.
        at: u64,
        /// What was expected or found.
        what: &'static str,
    },
    /// The document ended before it was complete (PBS streams can be cut off with status 200).
    Truncated,
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A token longer than [`MAX_TOKEN`].
    TokenTooLong,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonError::Syntax { at, what } => write!(f, "invalid JSON at byte {at}: {what}"),
            JsonError::Truncated => f.write_str("JSON document truncated"),
            JsonError::TooDeep => write!(f, "JSON nested deeper than {MAX_DEPTH}"),
            JsonError::TokenTooLong => write!(f, "JSON token longer than {MAX_TOKEN} bytes"),
        }
    }
}

impl std::error::Error for JsonError {}

/// What is expected after a comma in an array (`true`) or an object.
#[inline(always)]
fn after_comma(in_array: bool) -> Expect {
    if in_array { Expect::Value } else { Expect::Key }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Any value.
    Value,
    /// A value or `]` (just after `[`).
    ValueOrEnd,
    /// A key or `}` (just after `{`).
    KeyOrEnd,
    /// A key (after `,` in an object).
    Key,
    /// `:` after a key.
    Colon,
    /// `,` or the end of the current container.
    CommaOrEnd,
    /// The top-level value is complete; only whitespace may follow.
    Done,
}

/// Outcome of scanning a token at the start of the unread bytes.
enum Scan {
    /// The token ends at this offset (exclusive).
    End(usize),
    /// The token may continue past the bytes we have.
    NeedMore,
}

/// The tokenizer. Reuse one per connection: `reset` between documents keeps its buffers.
///
/// Each piece of the document is read where it lies ([`Tokenizer::next`] is given it): only a
/// token cut by the end of a piece is kept (`carry`), and completed with the few bytes of the
/// next piece that end it. A piece is copied whole only when the cut token does not end in it
/// (a long string over small pieces, or a token of another kind); it is then read from the
/// carry.
#[derive(Debug, Default)]
pub struct Tokenizer {
    /// The unread rest of the last piece (a cut token) and the start of the next one that
    /// completes it, read from `at.pos` while `at.in_piece` is false.
    carry: Vec<u8>,
    /// Unescaped text of the last string that had escapes.
    scratch: String,
    at: Cursor,
}

/// Where the tokenizer is, in the bytes it reads from (the piece or the carry).
#[derive(Debug, Default)]
struct Cursor {
    /// Unread bytes start at `pos`.
    pos: usize,
    /// Document offset of the first byte read from, for error messages.
    offset: u64,
    /// Reading the piece itself (else the carry).
    in_piece: bool,
    /// While reading the carry: where reading goes on in the piece once it is read.
    resume: usize,
    /// Open containers, `true` for arrays.
    stack: Vec<bool>,
    expect: Option<Expect>,
    /// While skipping a value (`skip_value`): the depth at which it ends.
    skip_to: Option<usize>,
    /// The length of the piece last fed: `next` must be given the same bytes.
    fed: usize,
    /// The error that ended the document: every later call returns it (until `reset`).
    failed: Option<JsonError>,
    /// A carried string the scanners found cut.
    string: CutString,
}

/// A string carried from piece to piece (its token cut by a piece's end), so that each of its
/// bytes is looked at a bounded number of times however small the pieces.
#[derive(Debug, Default)]
struct CutString {
    /// Made for the token carried now (else the fields below are another's).
    known: bool,
    /// Its bytes so far end in an unpaired backslash ([`completion`] goes on from there).
    escaped: bool,
    /// The scanners found it cut, and neither its closing quote nor a control character came
    /// in since: they would find it cut again ([`Cursor::prepare`] does not ask them). A
    /// control character is the one error a cut string can show before its end (bad escapes
    /// and UTF-8 are found once it ends).
    still_cut: bool,
}

impl Tokenizer {
    /// A tokenizer at the start of a document.
    pub fn new() -> Self {
        Tokenizer::default()
    }

    /// Starts a new document, keeping allocated buffers.
    pub fn reset(&mut self) {
        self.carry.clear();
        let mut stack = std::mem::take(&mut self.at.stack);
        stack.clear();
        self.at = Cursor {
            stack,
            ..Cursor::default()
        };
    }

    /// Skips the value of the key just returned by [`Tokenizer::next`] (a no-op anywhere else):
    /// its tokens are validated exactly as `next` would (same errors at the same offsets), but
    /// nothing is decoded or returned; `next` then continues after the value. Strings are
    /// scanned 16 bytes a step on x86-64 (a word at a time elsewhere), and their UTF-8 is
    /// checked only when a byte is not ASCII.
    pub fn skip_value(&mut self) {
        self.at.skip_value();
    }

    /// Starts the next piece of the document: call [`Tokenizer::next`] with the same bytes
    /// until it returns `None`.
    ///
    /// After an error (or a piece not read until `None`), the document is over: the piece is
    /// ignored, and `next` and `finish` return an error at the same offset from then on (a
    /// new document needs `reset`).
    pub fn feed(&mut self, piece: &[u8]) {
        let at = &mut self.at;
        at.fed = piece.len();
        if at.in_piece && at.failed.is_none() {
            let e = at.syntax(
                at.pos,
                "a piece fed after an error or before the last was read",
            );
            at.fail(&e);
        }
        if at.failed.is_some() {
            return;
        }
        // Reading the carry: `pos` is in it (a read token and what settled after it).
        let read = at.pos.min(self.carry.len());
        if read > 0 {
            self.carry.drain(..read);
            at.offset += read as u64;
            at.pos = 0;
        }
        if self.carry.is_empty() {
            at.in_piece = true;
            return;
        }
        self.complete_carry(piece);
    }

    /// Appends to the carried token the bytes of `piece` that complete it.
    // Out of line: inlined into the walker's loop with `feed`, it cost 2 % of a snapshot
    // list's instructions (callgrind).
    #[inline(never)]
    fn complete_carry(&mut self, piece: &[u8]) {
        let at = &mut self.at;
        if !at.string.known {
            // Cut where the scanners stopped: a string among them ends in an odd run of
            // backslashes when the last escapes its successor.
            let run = self.carry.iter().skip(1).rev();
            at.string = CutString {
                known: true,
                escaped: run.take_while(|&&c| c == b'\\').count() % 2 == 1,
                still_cut: true,
            };
        }
        // Exactly what completes the cut token: memory is that token (at most twice its
        // length: the carry grows as a `Vec` does, so a string fed a byte a piece is not
        // copied once per byte), not a piece more.
        let n = completion(&self.carry, piece, &mut at.string);
        self.carry.reserve(n);
        self.carry.extend_from_slice(&piece[..n]);
        at.in_piece = false;
        at.resume = n;
    }

    /// Checks that the document is complete once the input has ended.
    pub fn finish(&mut self) -> Result<(), JsonError> {
        let at = &mut self.at;
        if at.in_piece && at.failed.is_none() {
            let e = at.syntax(
                at.pos,
                "the input ended after an error or before it was read",
            );
            at.fail(&e);
        }
        if let Some(e) = &at.failed {
            return Err(e.clone());
        }
        at.finish(&self.carry)
    }

    /// The next token of `piece` (the bytes last given to [`Tokenizer::feed`]), or `None` when
    /// the piece is read (a token it ends in the middle of is kept for the next one).
    // Not an `Iterator`: each event borrows the piece or the tokenizer until the next call.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next<'a>(&'a mut self, piece: &'a [u8]) -> Result<Option<Event<'a>>, JsonError> {
        self.next_in(piece, KeyFilter::ANY)
    }

    /// [`Tokenizer::next`] in an object whose reader reads only keys of the lengths in
    /// `filter.lengths` (bit `n` for a length `n`, 63 for any longer; `u64::MAX`: any key),
    /// and expects `filter.expected` as the next key ([`KeyFilter`]). A key of another
    /// length, other than the expected one written plainly, does not come out when its value
    /// is one [`Cursor::member`] steps over
    /// (a string of printable ASCII with well-formed escapes, an object of plain members or an
    /// array of them, complete in the bytes read) and the next member follows it (`,"`): the
    /// member is skipped there (validated as reading it would), without an event. Numbers and
    /// literals are not stepped over, nor is an object's last member: such a key comes out as
    /// `next` gives it, with its value when that is a plain scalar ([`Event::Member`]), else
    /// alone ([`Event::Key`]; its reader then skips the value: [`Tokenizer::skip_value`]), as
    /// does any other key. Lengths alone suffice for PBS:
    /// the keys nobody reads there (`files`, `owner`, a verification's `upid`) have lengths no
    /// key read beside them has.
    // Inlined into the walker's loop of the sinks that read long lists ([`Sink::BULK`]): the
    // event is then matched where it is made, not written out and read back, and the call's
    // register saves go. Large snapshot list 18.10 -> 17.10 M instructions
    // (`examples/parse_count`). Other sinks call [`Tokenizer::next_in_call`].
    #[inline(always)]
    pub fn next_in<'a>(
        &'a mut self,
        piece: &'a [u8],
        filter: KeyFilter<'a>,
    ) -> Result<Option<Event<'a>>, JsonError> {
        let Tokenizer { carry, scratch, at } = self;
        // Most tokens are in the piece, outside a skipped value: nothing to do first.
        let plain = at.in_piece && at.skip_to.is_none();
        if !plain {
            match at.prepare(carry, piece) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => {
                    at.fail(&e);
                    return Err(e);
                }
            }
        }
        // The piece's unread rest is kept when it ends (only the carry is read otherwise).
        let (buf, keep) = if at.in_piece {
            (piece, Some(carry))
        } else {
            (&carry[..], None)
        };
        at.next(buf, scratch, keep, filter)
    }

    /// [`Tokenizer::next_in`] as one call, for the walker's loop of a sink reading short
    /// documents: inlined into each of them, it made the static binary 68.6 KB larger and the
    /// first scrape of a process touch that much more code (file pages resident for good).
    #[inline(never)]
    pub fn next_in_call<'a>(
        &'a mut self,
        piece: &'a [u8],
        filter: KeyFilter<'a>,
    ) -> Result<Option<Event<'a>>, JsonError> {
        self.next_in(piece, filter)
    }
}

/// What the reader of the innermost object wants of its keys ([`Tokenizer::next_in`]).
///
/// Its expected key is plain by construction: [`KeyFilter::new`] drops one that is not, and
/// the walker's (`KeyFilter::from_plain`) come from its static key lists, which it uses only
/// when [`KeyFilter::plain`] accepts all of them. (A key with a `"` expected would let
/// `{"a"":1}` through.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFilter<'k> {
    /// The lengths of the keys read (bit `n` for a length `n`, 63 for any longer; `u64::MAX`:
    /// any key): a key of another length may be stepped over with its value.
    lengths: u64,
    /// The key expected next (empty: none), valid UTF-8 without `"`, `\\` or control
    /// characters (see [`KeyFilter::plain`]). When the next key is it, written plainly (no
    /// escapes), it is recognised by comparing its bytes with it, without scanning it, and
    /// handed out as `expected` itself: the same bytes, so a reader may tell it by its
    /// address. Written plainly, it is never stepped over, whatever `lengths` says (a reader
    /// expects a key it reads); spelt with escapes, it is read as any other key, and may be
    /// stepped over when its decoded length is not in `lengths`.
    expected: &'k [u8],
}

impl<'k> KeyFilter<'k> {
    /// Any key read, none expected.
    pub const ANY: KeyFilter<'static> = KeyFilter {
        lengths: u64::MAX,
        expected: b"",
    };

    /// Reads the keys of the lengths in `lengths` (bit `n` for a length `n`, 63 for any
    /// longer; `u64::MAX`: any key) and expects `expected` next; none when it is not
    /// [`KeyFilter::plain`].
    pub fn new(lengths: u64, expected: &'k str) -> Self {
        let expected = if Self::plain(expected) {
            expected.as_bytes()
        } else {
            b""
        };
        KeyFilter { lengths, expected }
    }

    /// For the walker, whose keys are [`KeyFilter::plain`] (checked once per key list):
    /// [`KeyFilter::new`] without checking `expected` again for each key.
    #[inline(always)]
    pub(super) fn from_plain(lengths: u64, expected: &'k [u8]) -> Self {
        debug_assert!(std::str::from_utf8(expected).is_ok_and(Self::plain));
        KeyFilter { lengths, expected }
    }

    /// This filter expecting `expected` ([`KeyFilter::from_plain`]'s condition) instead.
    #[inline(always)]
    pub(super) fn expecting(self, expected: &'k [u8]) -> Self {
        Self::from_plain(self.lengths, expected)
    }

    /// The key expected next (empty: none).
    #[inline(always)]
    pub fn expected(&self) -> &'k [u8] {
        self.expected
    }

    /// Whether `key` may be given as [`KeyFilter::expected`]: a key written with it between
    /// two quotes is a whole string without escapes, of exactly those bytes.
    pub fn plain(key: &str) -> bool {
        !key.bytes().any(|c| c == b'"' || c == b'\\' || c < 0x20)
    }
}

/// How many bytes of `piece` complete the token cut at the start of `carry` (the rest of the
/// piece before it): up to a string's closing quote; a number's characters and the byte after
/// them when that ends it (`,`, `]`, `}`, whitespace); a literal's missing letters. All of the
/// piece when the token does not end in it or is of another kind (the piece is then read from
/// the carry, as it would be whole).
///
/// It must agree with the scanners that then read the carry: a string's end as
/// [`find_escaped_end`] finds it (a backslash escapes the next byte: [`escape_len`]'s escapes
/// and the bad ones alike), a number's characters [`number_char`]'s, a superset of
/// [`scan_number`]'s, which ends a number at any other byte. Where it took too few,
/// [`Cursor::cut`] finds the carried token still cut and [`Cursor::carry_all`] reads the piece
/// from the carry whole.
fn completion(carry: &[u8], piece: &[u8], string: &mut CutString) -> usize {
    let all = piece.len();
    match carry.first() {
        Some(b'"') => {
            // One pass over the piece's bytes, the escape carried over from the last.
            let mut escaped = string.escaped;
            for (k, &c) in piece.iter().enumerate() {
                string.still_cut &= c >= 0x20;
                if escaped {
                    escaped = false;
                } else if c == b'\\' {
                    escaped = true;
                } else if c == b'"' {
                    string.still_cut = false;
                    return k + 1;
                }
            }
            string.escaped = escaped;
            all
        }
        Some(b'-' | b'0'..=b'9') => {
            let n = piece.iter().take_while(|&&c| number_char(c)).count();
            match piece.get(n) {
                Some(b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') => n + 1,
                _ => all,
            }
        }
        Some(&c) => match literal_word(c) {
            Some(word) => word.len().saturating_sub(carry.len()).min(all),
            None => all,
        },
        None => 0,
    }
}

impl Cursor {
    /// Reading the piece from `resume` on, the carry (`carry_len` bytes, the last `resume` of
    /// them the piece's) being read.
    fn on_to_piece(&mut self, carry_len: usize) {
        // `resume` bytes of the piece were appended to the carry (checked, as all positions
        // here: no call sequence of the public API may panic).
        self.offset += carry_len.saturating_sub(self.resume) as u64;
        self.pos = self.resume;
        self.in_piece = true;
    }

    /// Before a token is read from the carry or after a skipped value: goes on to the piece
    /// once the carry is read, and skips the value being skipped. False when the piece is
    /// used up first (its unread rest then kept).
    #[inline(never)]
    fn prepare(&mut self, carry: &mut Vec<u8>, piece: &[u8]) -> Result<bool, JsonError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if piece.len() != self.fed {
            return Err(self.syntax(0, "next given other bytes than the piece fed"));
        }
        if !self.in_piece
            && self.resume == piece.len()
            && self.pos == 0
            && carry.first() == Some(&b'"')
            && self.string.known
            && self.string.still_cut
            && carry.len() <= MAX_TOKEN
        {
            // A carried string the piece does not end, with nothing in it to refuse: the
            // scanners would go over all of it again to find it cut (as `need_more`, which
            // refuses it past `MAX_TOKEN`), once per piece.
            return Ok(false);
        }
        loop {
            if !self.in_piece && self.resume < piece.len() {
                self.settle(carry);
                if self.pos >= carry.len() {
                    // The carried token is read: on in the piece.
                    self.on_to_piece(carry.len());
                    carry.clear();
                } else if self.cut(carry) {
                    // `completion` took too few bytes: reading the carry would stop early
                    // with bytes of the piece unread.
                    self.carry_all(carry, piece);
                }
            }
            let Some(depth) = self.skip_to else {
                return Ok(true);
            };
            let done = if self.in_piece {
                self.skip(piece, depth)?
            } else {
                self.skip(carry, depth)?
            };
            if done {
                self.skip_to = None;
            } else if self.in_piece || self.resume == piece.len() {
                self.keep_rest(carry, piece);
                return Ok(false);
            } else if self.pos < carry.len() {
                // Stopped inside the carry with bytes of the piece left: `cut` rules that
                // out; were it wrong, this loop would not end without taking them all.
                self.carry_all(carry, piece);
            }
        }
    }

    /// Whether the token at `pos` in the carry may need more bytes, as the scanners that read
    /// it find: a string as [`Cursor::string_end_general`] (the complete string validator)
    /// finds it; a number when all the bytes left are [`number_char`]s (which [`scan_number`]
    /// needs before it can ask for more); a literal shorter than its word (as
    /// [`Cursor::literal_end`]). What [`completion`] must have ruled out when bytes of the
    /// piece are left; each carried token is checked once, when it completes. (No scanner
    /// inlined here: the static binary's size budget.)
    #[inline(never)]
    fn cut(&self, buf: &[u8]) -> bool {
        let i = self.pos;
        let rest = buf.get(i..).unwrap_or_default();
        match rest.first() {
            Some(b'"') => matches!(self.string_end_general(buf, i), Ok(None)),
            Some(&b) if number_char(b) => rest.iter().all(|&c| number_char(c)),
            Some(&b) => literal_word(b).is_some_and(|word| rest.len() < word.len()),
            None => false,
        }
    }

    /// [`completion`]'s fallback: the rest of the piece is appended to the carry, which is
    /// then read whole (as a piece the token does not end in is).
    #[cold]
    fn carry_all(&mut self, carry: &mut Vec<u8>, piece: &[u8]) {
        debug_assert!(
            self.resume >= piece.len(),
            "completion() and the scanners disagree: {:?} then {:?}",
            String::from_utf8_lossy(carry),
            String::from_utf8_lossy(piece.get(self.resume..).unwrap_or_default()),
        );
        carry.extend_from_slice(piece.get(self.resume..).unwrap_or_default());
        self.resume = piece.len();
        self.string = CutString {
            known: true,
            escaped: false,
            still_cut: false,
        };
    }

    /// Takes the whitespace, commas and colons that follow in `buf` (what may be left of the
    /// carry after its token: the rest is a token, read whole before the piece is).
    fn settle(&mut self, buf: &[u8]) {
        loop {
            self.pos = self.skip_ws(buf);
            match (buf.get(self.pos), self.expect_now()) {
                (Some(b','), Expect::CommaOrEnd) => {
                    let in_array = self.stack.last().copied().unwrap_or(false);
                    self.expect = Some(after_comma(in_array));
                }
                (Some(b':'), Expect::Colon) => self.expect = Some(Expect::Value),
                _ => return,
            }
            self.pos += 1;
        }
    }

    /// The piece is read as far as it goes: its unread rest (a cut token, or nothing) is
    /// carried to the next one.
    fn keep_rest(&mut self, carry: &mut Vec<u8>, piece: &[u8]) {
        if !self.in_piece {
            return;
        }
        let rest = piece.get(self.pos..).unwrap_or_default();
        // A new cut token (the string state is made by the next `feed`: here, even its one
        // store per piece costs 0.4 % of a snapshot list, the backslashes counted 1.6 %).
        self.string.known = false;
        carry.clear();
        carry.reserve_exact(rest.len());
        carry.extend_from_slice(rest);
        self.offset += self.pos as u64;
        self.pos = 0;
        self.in_piece = false;
        // The piece fed (`piece` itself unless `next` was given other bytes).
        self.resume = self.fed;
    }

    fn skip_value(&mut self) {
        // After a key: its colon is still ahead, or was taken with it (a value is expected
        // inside an object only there).
        let after_key = match self.expect {
            Some(Expect::Colon) => true,
            Some(Expect::Value) => self.stack.last() == Some(&false),
            _ => false,
        };
        if !after_key {
            return;
        }
        self.skip_to = Some(self.stack.len());
    }

    fn finish(&mut self, buf: &[u8]) -> Result<(), JsonError> {
        // A bare top-level number at the very end is reported as truncated too: every PBS
        // response is an object.
        if self.expect_now() != Expect::Done {
            return Err(JsonError::Truncated);
        }
        let end = self.skip_ws(buf);
        if end < buf.len() {
            return Err(self.syntax(end, "data after the end of the document"));
        }
        Ok(())
    }

    /// The next token in `buf`, or `None` when it ends first; `buf` is then the piece when
    /// `keep` is given, and its unread rest is kept there.
    #[inline(always)]
    fn next<'a>(
        &mut self,
        buf: &'a [u8],
        scratch: &'a mut String,
        keep: Option<&mut Vec<u8>>,
        filter: KeyFilter<'a>,
    ) -> Result<Option<Event<'a>>, JsonError> {
        let found = self.token(buf, scratch, filter);
        // Not a word about errors here: a test of the result per token costs 6 % of a
        // snapshot list's instructions (callgrind). An error leaves the state as it was
        // before the token (a second call finds it again), and `in_piece` set in the piece,
        // which `feed` and `finish` take as the end of the document.
        if let (Ok(None), Some(carry)) = (&found, keep) {
            self.keep_rest(carry, buf);
        }
        found
    }

    /// The document is over: `e` is returned from now on (`next` goes through
    /// [`Cursor::prepare`], which returns it).
    #[cold]
    fn fail(&mut self, e: &JsonError) {
        self.failed = Some(e.clone());
        self.in_piece = false;
        self.skip_to = None;
    }

    /// The next token in `buf`, or `None` when it ends first (`filter`: as
    /// [`Tokenizer::next_in`]).
    #[inline(always)]
    fn token<'a>(
        &mut self,
        buf: &'a [u8],
        scratch: &'a mut String,
        filter: KeyFilter<'a>,
    ) -> Result<Option<Event<'a>>, JsonError> {
        loop {
            let i = self.skip_ws(buf);
            self.pos = i;
            let Some(&b) = buf.get(i) else {
                return Ok(None);
            };
            match self.expect_now() {
                Expect::Done => return Err(self.syntax(i, "data after the end of the document")),
                Expect::Colon => {
                    if b != b':' {
                        return Err(self.syntax(i, "expected ':'"));
                    }
                    self.pos += 1;
                    self.expect = Some(Expect::Value);
                }
                Expect::CommaOrEnd => match b {
                    b',' => {
                        self.pos += 1;
                        let in_array = self.stack.last().copied().unwrap_or(false);
                        self.expect = Some(after_comma(in_array));
                    }
                    b']' | b'}' => return self.close(buf, i, b),
                    _ => return Err(self.syntax(i, "expected ',' or the end of a container")),
                },
                Expect::KeyOrEnd | Expect::Key => {
                    if b == b'}' && self.expect_now() == Expect::KeyOrEnd {
                        return self.close(buf, i, b);
                    }
                    if b != b'"' {
                        return Err(self.syntax(i, "expected a key"));
                    }
                    return self.member(buf, scratch, i, filter);
                }
                Expect::ValueOrEnd | Expect::Value => {
                    if b == b']' && self.expect_now() == Expect::ValueOrEnd {
                        return self.close(buf, i, b);
                    }
                    return self.value(buf, scratch, i, b);
                }
            }
        }
    }

    fn expect_now(&self) -> Expect {
        self.expect.unwrap_or(Expect::Value)
    }

    fn skip_ws(&self, buf: &[u8]) -> usize {
        let mut i = self.pos;
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = buf.get(i) {
            i += 1;
        }
        i
    }

    fn syntax(&self, i: usize, what: &'static str) -> JsonError {
        JsonError::Syntax {
            at: self.offset + i as u64,
            what,
        }
    }

    /// State after a complete value (at `pos`). Compact JSON: a comma right after it is taken
    /// now, which leaves the state the next call would reach.
    #[inline(always)]
    fn after_value(&mut self, buf: &[u8]) {
        self.expect = Some(match self.stack.last() {
            None => Expect::Done,
            Some(&in_array) if buf.get(self.pos) == Some(&b',') => {
                self.pos += 1;
                after_comma(in_array)
            }
            Some(_) => Expect::CommaOrEnd,
        });
    }

    fn close(&mut self, buf: &[u8], i: usize, b: u8) -> Result<Option<Event<'static>>, JsonError> {
        let is_array = b == b']';
        match self.stack.last() {
            Some(&top) if top == is_array => {}
            _ => return Err(self.syntax(i, "mismatched end of container")),
        }
        self.stack.pop();
        self.pos = i + 1;
        self.after_value(buf);
        Ok(Some(if is_array {
            Event::EndArray
        } else {
            Event::EndObject
        }))
    }

    fn open(&mut self, i: usize, is_array: bool) -> Result<Option<Event<'static>>, JsonError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.stack.push(is_array);
        self.pos = i + 1;
        if is_array {
            self.expect = Some(Expect::ValueOrEnd);
            Ok(Some(Event::StartArray))
        } else {
            self.expect = Some(Expect::KeyOrEnd);
            Ok(Some(Event::StartObject))
        }
    }

    #[inline(always)]
    fn value<'a>(
        &mut self,
        buf: &'a [u8],
        scratch: &'a mut String,
        i: usize,
        b: u8,
    ) -> Result<Option<Event<'a>>, JsonError> {
        match b {
            b'{' => self.open(i, false),
            b'[' => self.open(i, true),
            b'"' => self.string(buf, scratch, i),
            b'-' | b'0'..=b'9' => {
                let Some(end) = self.number_end(buf, i)? else {
                    return Ok(None);
                };
                self.pos = end;
                self.after_value(buf);
                Ok(Some(Event::Number(Text(&buf[i..end]))))
            }
            b't' | b'f' | b'n' => {
                // One of them (this arm rather than `literal`'s `None` costs no instruction).
                let (word, value) = literal(b).unwrap_or((b"null", Scalar::Null));
                self.literal(buf, i, word, value.event())
            }
            _ => Err(self.syntax(i, "expected a value")),
        }
    }

    fn need_more(&self, buf: &[u8], start: usize) -> Result<Option<Event<'static>>, JsonError> {
        if buf.len() - start > MAX_TOKEN {
            return Err(JsonError::TokenTooLong);
        }
        Ok(None)
    }

    fn literal(
        &mut self,
        buf: &[u8],
        i: usize,
        word: &'static [u8],
        ev: Event<'static>,
    ) -> Result<Option<Event<'static>>, JsonError> {
        let Some(end) = self.literal_end(buf, i, word)? else {
            return Ok(None);
        };
        self.pos = end;
        self.after_value(buf);
        Ok(Some(ev))
    }

    /// The end of the literal `word` at `i`, `None` when only a prefix of it is here yet.
    #[inline]
    fn literal_end(&self, buf: &[u8], i: usize, word: &[u8]) -> Result<Option<usize>, JsonError> {
        let have = buf.get(i..).unwrap_or_default();
        let n = have.len().min(word.len());
        if have[..n] != word[..n] {
            return Err(self.syntax(i, "invalid literal"));
        }
        Ok((n == word.len()).then_some(i + n))
    }

    /// The end of the number at `i` against the JSON grammar ([`scan_number`]), `None` when it
    /// may go on past the bytes we have. Longer than [`MAX_TOKEN`] is an error whether it came
    /// in one piece or many (cut, [`Cursor::need_more`] finds it).
    #[inline]
    fn number_end(&self, buf: &[u8], i: usize) -> Result<Option<usize>, JsonError> {
        match scan_number(buf.get(i..).unwrap_or_default()) {
            Ok(Scan::End(n)) if n > MAX_TOKEN => Err(JsonError::TokenTooLong),
            Ok(Scan::End(n)) => Ok(Some(i + n)),
            Ok(Scan::NeedMore) => self.need_more(buf, i).map(|_| None),
            Err(what) => Err(self.syntax(i, what)),
        }
    }

    // Inlined: a call per string value cost more than scanning a short one.
    #[inline(always)]
    fn string<'a>(
        &mut self,
        buf: &'a [u8],
        scratch: &'a mut String,
        i: usize,
    ) -> Result<Option<Event<'a>>, JsonError> {
        let Some((end, escaped)) = self.decoded_string(buf, scratch, i)? else {
            return Ok(None);
        };
        self.pos = end + 1;
        self.after_value(buf);
        // Validated by `string_end`.
        Ok(Some(Event::Str(Text(string_text(
            buf, scratch, i, end, escaped,
        )))))
    }

    /// The key whose opening quote is at `i`, with its value when that is a scalar of the
    /// common kind ([`Event::Member`]): a string of [`plain_string_end`]'s without escapes, a
    /// number of [`plain_number_end`]'s, a literal, each complete in the buffer. Anything else
    /// (including a value in error) is left for the next call, which finds it as it would
    /// after a lone key, errors and their offsets included.
    ///
    /// A key of no length in `filter.lengths` whose value is a string [`plain_string_end`]
    /// takes (escapes allowed) or a container [`Cursor::flat_end`] takes, followed by `,"`:
    /// the member is stepped over ([`Cursor::unread_member`]) and the next key read. With a
    /// number or a literal, or last in its object, the key comes out as above: with its value
    /// when that is of the common kind, else alone. The exception: `filter.expected` written
    /// plainly is found by comparing bytes ([`expected_key_end`]), never stepped over, and
    /// handed out as `filter.expected` itself; spelt with escapes, it is read as any key.
    #[inline(always)]
    fn member<'a>(
        &mut self,
        buf: &'a [u8],
        scratch: &'a mut String,
        mut i: usize,
        filter: KeyFilter<'a>,
    ) -> Result<Option<Event<'a>>, JsonError> {
        loop {
            // The key expected, where it is: no scan (`decoded_string` would find the same).
            // The expected key is not stepped over, whatever its length.
            let expected = expected_key_end(buf, i, filter.expected);
            let (end, escaped) = match expected {
                Some(end) => (end, false),
                None => {
                    let Some((end, escaped)) = self.decoded_string(buf, scratch, i)? else {
                        return Ok(None);
                    };
                    let len = if escaped { scratch.len() } else { end - i - 1 };
                    if filter.lengths >> len.min(63) & 1 == 0 {
                        if let Some(next) = self.unread_member(buf, end) {
                            i = next;
                            continue;
                        }
                    }
                    (end, escaped)
                }
            };
            // The expected key is handed out as given (the same bytes): its reader knows it.
            let key = match expected {
                Some(_) => filter.expected,
                None => string_text(buf, scratch, i, end, escaped),
            };
            // Compact JSON: the colon comes right after the key, the value right after it.
            let v = end + 2;
            let value = if buf.get(end + 1) == Some(&b':') {
                match plain_value_end(buf, v) {
                    Some((value_end, first, false)) => Some((value_end, first)),
                    // A string with escapes: the key alone.
                    _ => None,
                }
            } else {
                None
            };
            let Some((value_end, first)) = value else {
                (self.pos, self.expect) = if buf.get(end + 1) == Some(&b':') {
                    (v, Some(Expect::Value))
                } else {
                    (end + 1, Some(Expect::Colon))
                };
                return Ok(Some(Event::Key(key)));
            };
            self.pos = value_end;
            self.after_value(buf);
            let scalar = match first {
                b'"' => Scalar::Str(Text(&buf[v + 1..value_end - 1])),
                _ => match literal(first) {
                    Some((_, value)) => value,
                    None => Scalar::Num(Text(&buf[v..value_end])),
                },
            };
            return Ok(Some(Event::Member(key, scalar)));
        }
    }

    /// The member whose key's closing quote is at `end`, not read: stepped over when its value
    /// is a string [`plain_string_end`] takes (printable ASCII, well-formed escapes, all here)
    /// or a container [`Cursor::flat_end`] takes, and the next member follows (`,"`); then
    /// `pos` and `expect` are at the next key, whose opening quote is returned. Anything else
    /// (errors included) is left to the key's reader.
    // Inlined, with the containers' step out of line: a call for each unread string (an
    // item's `owner`, a verification's UPID) cost about 35 instructions of register saves
    // and constants.
    #[inline(always)]
    fn unread_member(&mut self, buf: &[u8], end: usize) -> Option<usize> {
        let v = end + 2;
        if buf.get(end + 1) != Some(&b':') {
            return None;
        }
        // A string (the unread keys PBS sends have strings, objects of plain members and
        // arrays of them); numbers and literals come out with their key.
        let after = match buf.get(v) {
            Some(b'"') => plain_string_end(buf, v)?.0 + 1,
            _ => self.flat_end(buf, v)?,
        };
        if buf.get(after..after + 2) != Some(b",\"") {
            return None;
        }
        (self.pos, self.expect) = (after + 1, Some(Expect::Key));
        Some(after + 1)
    }

    /// The end of the container at `v` (a value inside the object being read) when it is an
    /// object of plain members or an array of them, complete in `buf` and within
    /// [`MAX_DEPTH`] as reading it would open it; `None` for anything else.
    #[inline(never)]
    fn flat_end(&self, buf: &[u8], v: usize) -> Option<usize> {
        let depth = self.stack.len();
        match buf.get(v) {
            Some(b'{') if depth < MAX_DEPTH => flat_object_end(buf, v),
            // In bytes no longer than `MAX_TOKEN` (the client's pieces are 16 KiB; the carry,
            // or a caller's piece, may be longer), no token can be too long: the length tests
            // are left out (about 3 instructions a string, 20 strings a snapshot's `files`).
            Some(b'[') if depth + 1 < MAX_DEPTH && buf.len() <= MAX_TOKEN => {
                flat_array_end::<true>(buf, v)
            }
            Some(b'[') if depth + 1 < MAX_DEPTH => flat_array_end::<false>(buf, v),
            _ => None,
        }
    }

    /// The end of the string at `i` ([`Cursor::string_end`]), its escapes decoded into
    /// `scratch` when it has any.
    #[inline(always)]
    fn decoded_string(
        &self,
        buf: &[u8],
        scratch: &mut String,
        i: usize,
    ) -> Result<Option<(usize, bool)>, JsonError> {
        let found = self.string_end(buf, i)?;
        if let Some((end, true)) = found {
            self.unescape_to_scratch(buf, scratch, i, end)?;
        }
        Ok(found)
    }

    /// Decodes the escapes of the string from `i` to `end` (its quotes) into `scratch`.
    ///
    /// The decoded bytes are checked as UTF-8 once, whole (a check per run between escapes cost
    /// more than the rest: about 75 instructions a call). They are valid exactly when every run
    /// is (an escape decodes to a whole character); otherwise the runs are checked one by one
    /// ([`Discard`]) for the first error and its offset, as before.
    fn unescape_to_scratch(
        &self,
        buf: &[u8],
        scratch: &mut String,
        i: usize,
        end: usize,
    ) -> Result<(), JsonError> {
        let raw = buf.get(i + 1..end).unwrap_or_default();
        let mut bytes = std::mem::take(scratch).into_bytes();
        bytes.clear();
        let decoded = unescape(raw, &mut bytes);
        let mut bytes = match (decoded, String::from_utf8(bytes)) {
            (Ok(()), Ok(text)) => {
                *scratch = text;
                return Ok(());
            }
            (_, Ok(text)) => text.into_bytes(),
            (_, Err(e)) => e.into_bytes(),
        };
        // The buffer kept for the next string.
        bytes.clear();
        *scratch = String::from_utf8(bytes).unwrap_or_default();
        Err(match unescape(raw, &mut Discard) {
            Err((off, what)) => self.syntax(i + 1 + off, what),
            // Not reached: valid runs make valid text.
            Ok(()) => self.syntax(i + 1, "invalid UTF-8 in string"),
        })
    }

    /// Finds and validates the string whose opening quote is at `i`: the offset of its closing
    /// quote and whether it has escapes (`None`: not all of it is here yet).
    ///
    /// One pass (16 bytes a step on x86-64, else a word) over text with well-formed escapes
    /// (PBS' UPIDs are full of `\\x3a`); anything else (a bad or cut escape, a byte above 0x7f
    /// in a string with escapes) is left to [`Cursor::string_end_exact`], so errors and their
    /// offsets never depend on which path found them.
    #[inline(always)]
    fn string_end(&self, buf: &[u8], i: usize) -> Result<Option<(usize, bool)>, JsonError> {
        match plain_string_end(buf, i) {
            Some(found) => Ok(Some(found)),
            None => self.string_end_general(buf, i),
        }
    }

    /// [`Cursor::string_end`] past its fast case: UTF-8 text, strings cut by the end of the
    /// buffer, errors. A complete validator by itself (grammar, UTF-8, [`MAX_TOKEN`], the exact
    /// errors and offsets, through [`Cursor::string_end_exact`] where it must), so
    /// [`Cursor::skip_run`] calls it directly on a key [`member_run`] left.
    #[inline(never)]
    fn string_end_general(&self, buf: &[u8], i: usize) -> Result<Option<(usize, bool)>, JsonError> {
        let body = &buf[i + 1..];
        let mut j = 0;
        let mut high = false;
        let mut escaped = false;
        let end = loop {
            let Some(stop) = string_stop(body, j) else {
                return self.need_more(buf, i).map(|_| None);
            };
            j = stop;
            match body[j] {
                b'"' => break i + 1 + j,
                b'\\' => {
                    escaped = true;
                    match escape_len(&body[j..]) {
                        Some(n) => j += n,
                        None => return self.string_end_exact(buf, i),
                    }
                }
                c if c >= 0x80 => {
                    high = true;
                    j += 1;
                }
                _ => return Err(self.syntax(i + 1 + j, "control character in string")),
            }
        };
        if escaped && high {
            return self.string_end_exact(buf, i);
        }
        if end - i > MAX_TOKEN {
            return Err(JsonError::TokenTooLong);
        }
        if high && std::str::from_utf8(&buf[i + 1..end]).is_err() {
            return Err(self.syntax(i, "invalid UTF-8 in string"));
        }
        Ok(Some((end, escaped)))
    }

    /// [`Cursor::string_end`] the plain way: find the end, then validate what lies between.
    /// The reference for the errors and their offsets.
    #[cold]
    fn string_end_exact(&self, buf: &[u8], i: usize) -> Result<Option<(usize, bool)>, JsonError> {
        let body = &buf[i + 1..];
        let (stop, high) = string_stop_exact(body);
        let Some(stop) = stop else {
            return self.need_more(buf, i).map(|_| None);
        };
        let end;
        let escaped = match body[stop] {
            b'"' => {
                end = i + 1 + stop;
                false
            }
            b'\\' => {
                match find_escaped_end(&body[stop..]) {
                    Ok(Some(n)) => end = i + 1 + stop + n,
                    Ok(None) => return self.need_more(buf, i).map(|_| None),
                    Err(off) => {
                        return Err(self.syntax(i + 1 + stop + off, "control character in string"));
                    }
                }
                true
            }
            _ => return Err(self.syntax(i + 1 + stop, "control character in string")),
        };
        if end - i > MAX_TOKEN {
            return Err(JsonError::TokenTooLong);
        }
        let raw = &buf[i + 1..end];
        if escaped {
            if let Err((off, what)) = unescape(raw, &mut Discard) {
                return Err(self.syntax(i + 1 + off, what));
            }
        } else if high && std::str::from_utf8(raw).is_err() {
            return Err(self.syntax(i, "invalid UTF-8 in string"));
        }
        Ok(Some((end, escaped)))
    }

    /// The skip loop behind [`Tokenizer::skip_value`]: the grammar of [`Tokenizer::next`] with
    /// the same errors, without events. True once the value that began at depth `depth` is
    /// complete; false when more input is needed. The containers opened inside the value live
    /// in a bit set while the loop runs (`MAX_DEPTH` is 64), and in `stack` between feeds.
    fn skip(&mut self, buf: &[u8], depth: usize) -> Result<bool, JsonError> {
        let mut arrays = 0u64;
        let mut level = 0usize;
        for &is_array in self.stack.get(depth..).unwrap_or_default() {
            arrays |= u64::from(is_array) << level;
            level += 1;
        }
        self.stack.truncate(depth);
        let mut at = Skipping {
            i: self.pos,
            expect: self.expect_now(),
            arrays,
            level,
        };
        let done = self.skip_run(buf, &mut at);
        for k in 0..at.level {
            self.stack.push(at.arrays >> k & 1 == 1);
        }
        self.pos = at.i;
        self.expect = Some(at.expect);
        done
    }

    /// Skips the number or literal at `i` (first byte `b`): where it ends, `None` when it may
    /// go on past the bytes we have.
    #[inline(always)]
    fn skip_scalar(&self, buf: &[u8], i: usize, b: u8) -> Result<Option<usize>, JsonError> {
        match literal_word(b) {
            Some(word) => self.literal_end(buf, i, word),
            None => self.number_end(buf, i),
        }
    }

    /// The loop of [`Cursor::skip`], on `at` (levels above `stack`).
    #[inline(never)]
    fn skip_run(&self, buf: &[u8], at: &mut Skipping) -> Result<bool, JsonError> {
        let Skipping {
            mut i,
            mut expect,
            mut arrays,
            mut level,
        } = *at;
        let outer = self.stack.len();
        let result = loop {
            let Some(&b) = buf.get(i) else {
                break Ok(false);
            };
            if let b' ' | b'\t' | b'\n' | b'\r' = b {
                i += 1;
                continue;
            }
            let close = match expect {
                Expect::Value | Expect::ValueOrEnd => match b {
                    b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                        // A number or literal. Inside an array (a datastore's `history`),
                        // a run of them in one tight loop; it stops where this loop must look.
                        let in_array = level > 0 && arrays >> (level - 1) & 1 == 1;
                        let (end, after) = if in_array {
                            scalar_run(buf, i)
                        } else {
                            (i, false)
                        };
                        i = end;
                        if !after {
                            // Outside an array, or not of the run's kind: the exact path,
                            // straight away when the run stopped at a scalar (running it
                            // again there would stop at once: an exponent number is then
                            // scanned twice, up to its `e` by the run and by `scan_number`).
                            match buf.get(i) {
                                Some(&c @ (b'-' | b'0'..=b'9' | b't' | b'f' | b'n')) => {
                                    match self.skip_scalar(buf, i, c) {
                                        Ok(Some(end)) => i = end,
                                        Ok(None) => break Ok(false),
                                        Err(e) => break Err(e),
                                    }
                                }
                                _ => {
                                    expect = Expect::Value;
                                    continue;
                                }
                            }
                        }
                        false
                    }
                    b'"' => match self.string_end(buf, i) {
                        Ok(Some((end, _))) => {
                            i = end + 1;
                            false
                        }
                        Ok(None) => break Ok(false),
                        Err(e) => break Err(e),
                    },
                    b'{' | b'[' => {
                        if outer + level >= MAX_DEPTH {
                            break Err(JsonError::TooDeep);
                        }
                        // An object of `member_run`'s members only (an item of a snapshot's
                        // `files`): one step, as a scalar is.
                        let flat = if b == b'{' {
                            flat_object_end(buf, i)
                        } else {
                            None
                        };
                        if let Some(end) = flat {
                            i = end;
                            false
                        } else {
                            let is_array = b == b'[';
                            arrays = arrays & !(1 << level) | u64::from(is_array) << level;
                            level += 1;
                            i += 1;
                            expect = if is_array {
                                Expect::ValueOrEnd
                            } else {
                                Expect::KeyOrEnd
                            };
                            continue;
                        }
                    }
                    b']' if expect == Expect::ValueOrEnd => true,
                    _ => break Err(self.syntax(i, "expected a value")),
                },
                Expect::CommaOrEnd => match b {
                    b',' => {
                        i += 1;
                        let in_array = match level.checked_sub(1) {
                            Some(top) => arrays >> top & 1 == 1,
                            None => self.stack.last().copied().unwrap_or(false),
                        };
                        expect = after_comma(in_array);
                        continue;
                    }
                    b']' | b'}' => true,
                    _ => break Err(self.syntax(i, "expected ',' or the end of a container")),
                },
                Expect::KeyOrEnd | Expect::Key => match b {
                    b'"' => {
                        // An object's members with scalar values (a snapshot's `files`), in
                        // one loop.
                        let (end, after) = member_run(buf, i, expect);
                        if end != i {
                            (i, expect) = (end, after);
                            continue;
                        }
                        // Not of `member_run`'s kind: its key's scan found it uncommon.
                        match self.string_end_general(buf, i) {
                            Ok(Some((end, _))) => {
                                i = end + 1;
                                expect = Expect::Colon;
                                continue;
                            }
                            Ok(None) => break Ok(false),
                            Err(e) => break Err(e),
                        }
                    }
                    b'}' if expect == Expect::KeyOrEnd => true,
                    _ => break Err(self.syntax(i, "expected a key")),
                },
                Expect::Colon => {
                    if b != b':' {
                        break Err(self.syntax(i, "expected ':'"));
                    }
                    i += 1;
                    expect = Expect::Value;
                    continue;
                }
                Expect::Done => break Err(self.syntax(i, "data after the end of the document")),
            };
            if close {
                // Inside the skipped value a close matches a level of its own: the value
                // began after a key, so it completes before its object can close.
                let Some(top) = level.checked_sub(1) else {
                    break Err(self.syntax(i, "mismatched end of container"));
                };
                if (arrays >> top & 1 == 1) != (b == b']') {
                    break Err(self.syntax(i, "mismatched end of container"));
                }
                level = top;
                i += 1;
            }
            // A value is complete (`depth` ≥ 1: a skipped value is an object's).
            expect = Expect::CommaOrEnd;
            let Some(top) = level.checked_sub(1) else {
                break Ok(true);
            };
            // Compact JSON: the comma comes right after the value.
            if buf.get(i) == Some(&b',') {
                i += 1;
                expect = after_comma(arrays >> top & 1 == 1);
            }
        };
        *at = Skipping {
            i,
            expect,
            arrays,
            level,
        };
        result
    }
}

/// The closing quote of the key whose opening quote is at `i` when it is `expected` written
/// plainly (its bytes, then `"`), all in `buf`; `None` otherwise (and when `expected` is
/// empty). What [`Cursor::string_end`] finds there, as `expected` is [`KeyFilter::plain`].
#[inline(always)]
fn expected_key_end(buf: &[u8], i: usize, expected: &[u8]) -> Option<usize> {
    if expected.is_empty() {
        return None;
    }
    let end = i + 1 + expected.len();
    if buf.get(end) != Some(&b'"') {
        return None;
    }
    short_eq(buf.get(i + 1..end)?, expected).then_some(end)
}

/// The text of the string from `i` to `end` (its quotes) in `buf`: in `scratch` when it had
/// escapes ([`Cursor::unescape_to_scratch`]).
#[inline(always)]
fn string_text<'a>(
    buf: &'a [u8],
    scratch: &'a str,
    i: usize,
    end: usize,
    escaped: bool,
) -> &'a [u8] {
    if escaped {
        scratch.as_bytes()
    } else {
        &buf[i + 1..end]
    }
}

/// The end (closing quote) of the string whose opening quote is at `i` and whether it has
/// escapes, when it is the common kind: all here, printable ASCII with well-formed escapes, no
/// longer than [`MAX_TOKEN`]. `None` for anything else (then [`Cursor::string_end`] looks
/// closer). 16 bytes a step on x86-64 (a word elsewhere), over the buffer itself.
#[inline(always)]
fn plain_string_end(buf: &[u8], i: usize) -> Option<(usize, bool)> {
    plain_string_end_in::<false>(buf, i)
}

/// [`plain_string_end`]; `SHORT` when `buf` is no longer than [`MAX_TOKEN`], so that no token
/// in it can be longer and the length test folds away ([`Cursor::flat_end`]).
#[inline(always)]
fn plain_string_end_in<const SHORT: bool>(buf: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        let at = string_stop(buf, j)?;
        match *buf.get(at)? {
            b'"' if SHORT || at - i <= MAX_TOKEN => return Some((at, escaped)),
            b'\\' => {
                escaped = true;
                j = at + escape_len(buf.get(at..)?)?;
            }
            _ => return None,
        }
    }
}

/// The length of the well-formed escape at the start of `s` (at its backslash), `None` when it
/// is not one or not all of it is here.
#[inline(always)]
fn escape_len(s: &[u8]) -> Option<usize> {
    match s.get(1)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(2),
        b'u' if s.get(2..6)?.iter().all(u8::is_ascii_hexdigit) => Some(6),
        _ => None,
    }
}

/// In an array, from `i` where a value is expected: skips the numbers and literals that
/// follow, each with its comma, as [`Cursor::skip_run`] would step over them (the same
/// numbers of [`plain_number_end`], literals complete in `buf`). Returns where it stopped and
/// whether a value ended there (`true`: a `,` or the end of the container is expected next;
/// `false`: a value is, at `i` itself when nothing was skipped).
#[inline(never)]
fn scalar_run(buf: &[u8], mut i: usize) -> (usize, bool) {
    loop {
        let end = match number_body_end(buf, i) {
            // As `plain_number_end`, with the common case first: a number and its comma (a
            // datastore's `history`).
            Some(end) if end - i <= MAX_TOKEN => match buf.get(end) {
                Some(b',') => {
                    i = end + 1;
                    continue;
                }
                Some(b'e' | b'E') | None => return (i, false),
                Some(_) => return (end, true),
            },
            Some(_) => return (i, false),
            None => match literal_here(buf, i) {
                Some(end) => end,
                None => return (i, false),
            },
        };
        if buf.get(end) != Some(&b',') {
            return (end, true);
        }
        i = end + 1;
    }
}

/// In an object, from `i` where a key is expected (`expect`): skips the members that follow
/// whose values are strings, numbers or literals, each with its comma, as
/// [`Cursor::skip_run`] would step over them (strings of [`plain_string_end`]'s kind,
/// numbers of [`plain_number_end`]'s, literals complete in `buf`, no whitespace). Returns
/// where it stopped and what is expected there (`(i, expect)` when nothing was skipped).
#[inline(never)]
fn member_run(buf: &[u8], i: usize, expect: Expect) -> (usize, Expect) {
    members::<false>(buf, i, expect)
}

/// [`member_run`]'s loop, inlined where a list of flat objects is stepped over
/// ([`flat_array_end`]: a call per object was a twelfth of a snapshot's `files`' instructions).
/// (`SHORT`: as [`plain_string_end_in`].)
#[inline(always)]
fn members<const SHORT: bool>(buf: &[u8], mut i: usize, mut expect: Expect) -> (usize, Expect) {
    loop {
        if buf.get(i) != Some(&b'"') {
            return (i, expect);
        }
        let end = match string_member_end(buf, i) {
            Some(end) => end,
            None => {
                let Some((key_end, _)) = plain_string_end_in::<SHORT>(buf, i) else {
                    return (i, expect);
                };
                if buf.get(key_end + 1) != Some(&b':') {
                    return (key_end + 1, Expect::Colon);
                }
                let v = key_end + 2;
                let Some((end, _, _)) = plain_value_end_in::<SHORT>(buf, v) else {
                    return (v, Expect::Value);
                };
                end
            }
        };
        if buf.get(end) != Some(&b',') {
            return (end, Expect::CommaOrEnd);
        }
        i = end + 1;
        expect = Expect::Key;
    }
}

/// In [`members`], the end (after its value's closing quote) of the member whose key's opening
/// quote is at `i` when key and value are strings of printable ASCII without escapes, compact
/// (`"key":"value"`), all in the 32 bytes after `i`; `None` otherwise, and the member is read
/// by the general steps (which find the same end for such a member). The 32 bytes are masked
/// at once (two loads that wait only for `i`), and the three quotes found from the mask by bit
/// operations: scanning each string, the scan of the value waited for the key's end (a load,
/// a comparison and a move of the mask per string, one after the other).
#[inline(always)]
fn string_member_end(buf: &[u8], i: usize) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        let window = buf.get(i + 1..i + 33)?;
        let (stops, quotes) = block16::stops_and_quotes(window.try_into().ok()?);
        // The first three stops: the key's closing quote, the value's opening quote two bytes
        // on, the value's closing quote; quotes all three, and a colon between the first two.
        let at = stops.trailing_zeros();
        let rest = stops & stops.wrapping_sub(1);
        let key_end = i + 1 + at as usize;
        if stops == 0 || stops & !rest & !quotes != 0 || buf.get(key_end + 1) != Some(&b':') {
            return None;
        }
        let v = key_end + 2;
        if rest.trailing_zeros() != at + 2 {
            // A value of digits alone, ending before the window does (no fraction or exponent:
            // those are left to the general steps).
            if !matches!(buf.get(v), Some(b'1'..=b'9')) {
                return None;
            }
            let end = digits(buf, v + 1);
            return match buf.get(end) {
                Some(b'.' | b'e' | b'E') | None => None,
                _ if end > i + 33 => None,
                _ => Some(end),
            };
        }
        let rest2 = rest & rest.wrapping_sub(1);
        if rest2 == 0
            || (rest ^ rest2) & !quotes != 0
            || rest2 & !rest2.wrapping_sub(1) & !quotes != 0
        {
            return None;
        }
        Some(i + 1 + rest2.trailing_zeros() as usize + 1)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        let _ = (buf, i);
        None
    }
}

/// The end (after its `}`) of the object whose `{` is at `i` when it is empty or all of it is
/// members [`member_run`] steps over, complete in `buf`; `None` for anything else (then
/// [`Cursor::skip_run`] opens it as usual and finds what it is).
#[inline(always)]
fn flat_object_end(buf: &[u8], i: usize) -> Option<usize> {
    flat_object_with(buf, i, member_run)
}

/// [`flat_object_end`] with the member loop `run` ([`member_run`], or its body inlined).
#[inline(always)]
fn flat_object_with(
    buf: &[u8],
    i: usize,
    mut run: impl FnMut(&[u8], usize, Expect) -> (usize, Expect),
) -> Option<usize> {
    let first = i + 1;
    if buf.get(first) == Some(&b'}') {
        return Some(first + 1);
    }
    match run(buf, first, Expect::KeyOrEnd) {
        (end, Expect::CommaOrEnd) if buf.get(end) == Some(&b'}') => Some(end + 1),
        _ => None,
    }
}

/// The end (after its `]`) of the array whose `[` is at `i` when it is empty or all of it is
/// objects of [`flat_object_end`]'s kind, compact, complete in `buf`; `None` for anything else
/// (then [`Cursor::skip_run`] opens it as usual and finds what it is). (`SHORT`: as
/// [`plain_string_end_in`].)
#[inline(always)]
fn flat_array_end<const SHORT: bool>(buf: &[u8], i: usize) -> Option<usize> {
    debug_assert!(
        !SHORT || buf.len() <= MAX_TOKEN,
        "length tests left out of long bytes"
    );
    let mut j = i + 1;
    if buf.get(j) == Some(&b']') {
        return Some(j + 1);
    }
    loop {
        if buf.get(j) != Some(&b'{') {
            return None;
        }
        j = flat_object_with(buf, j, members::<SHORT>)?;
        match buf.get(j)? {
            b',' => j += 1,
            b']' => return Some(j + 1),
            _ => return None,
        }
    }
}

/// The end of the number at `i` when it is of the common kind: no exponent, all of it and the
/// byte after it here, no longer than [`MAX_TOKEN`] (the number pair of [`plain_string_end`]).
/// `None` for anything else: exponents, numbers cut at the buffer end and overlong ones are left
/// to [`scan_number`] ([`Cursor::number_end`]).
/// (`SHORT`: as [`plain_string_end_in`].)
#[inline(always)]
fn plain_number_end<const SHORT: bool>(buf: &[u8], i: usize) -> Option<usize> {
    let end = number_body_end(buf, i)?;
    match buf.get(end)? {
        b'e' | b'E' => None,
        _ => (SHORT || end - i <= MAX_TOKEN).then_some(end),
    }
}

/// The end (past it) of the value at `v` when it is a scalar of the kind taken with its key
/// in one step ([`Cursor::member`], [`member_run`]): a string of [`plain_string_end`]'s (and
/// whether it has escapes), a number of [`plain_number_end`]'s, a literal all here; with its
/// first byte. `None` for anything else.
#[inline(always)]
fn plain_value_end(buf: &[u8], v: usize) -> Option<(usize, u8, bool)> {
    plain_value_end_in::<false>(buf, v)
}

/// [`plain_value_end`] (`SHORT`: as [`plain_string_end_in`]).
#[inline(always)]
fn plain_value_end_in<const SHORT: bool>(buf: &[u8], v: usize) -> Option<(usize, u8, bool)> {
    let first = *buf.get(v)?;
    match first {
        b'"' => {
            plain_string_end_in::<SHORT>(buf, v).map(|(close, escaped)| (close + 1, first, escaped))
        }
        b'-' | b'0'..=b'9' => plain_number_end::<SHORT>(buf, v).map(|end| (end, first, false)),
        _ => literal_here(buf, v).map(|end| (end, first, false)),
    }
}

/// The end of the literal (`true`, `false`, `null`) at `i` when all of it is here; `None` for
/// anything else, left to [`Cursor::literal_end`].
#[inline(always)]
fn literal_here(buf: &[u8], i: usize) -> Option<usize> {
    let word = literal_word(*buf.get(i)?)?;
    // Not `==`: a call to `memcmp` for four or five bytes (a snapshot's `protected`).
    short_eq(buf.get(i..i + word.len())?, word).then_some(i + word.len())
}

/// The literal that begins with `b`, if one does: its text and its value.
#[inline(always)]
fn literal(b: u8) -> Option<(&'static [u8], Scalar<'static>)> {
    match b {
        b't' => Some((b"true", Scalar::Bool(true))),
        b'f' => Some((b"false", Scalar::Bool(false))),
        b'n' => Some((b"null", Scalar::Null)),
        _ => None,
    }
}

/// The text of the literal that begins with `b`, if one does.
#[inline(always)]
fn literal_word(b: u8) -> Option<&'static [u8]> {
    literal(b).map(|(word, _)| word)
}

/// Where the sign, integer part and fraction of the number at `i` end, when they are valid
/// ([`plain_number_end`] then looks at the byte after them); `None` when they are not.
#[inline(always)]
fn number_body_end(buf: &[u8], i: usize) -> Option<usize> {
    // A branch on the sign, not an index computed from it: the digit scans then do not wait
    // for the first byte's load (a third faster on `history`).
    let int_end = match *buf.get(i)? {
        b'0' => i + 1,
        b'1'..=b'9' => digits(buf, i + 1),
        b'-' => match *buf.get(i + 1)? {
            b'0' => i + 2,
            b'1'..=b'9' => digits(buf, i + 2),
            _ => return None,
        },
        _ => return None,
    };
    if buf.get(int_end) != Some(&b'.') {
        return Some(int_end);
    }
    let end = digits(buf, int_end + 1);
    (end > int_end + 1).then_some(end)
}

/// Where [`Cursor::skip_run`] is: the next byte, what it expects there, and the containers
/// open inside the skipped value (bit k set: level k is an array).
#[derive(Debug, Clone, Copy)]
struct Skipping {
    i: usize,
    expect: Expect,
    arrays: u64,
    level: usize,
}

/// In eight bytes of a string's body (little-endian), the index of the first `"`, `\\`, control
/// character or byte above 0x7f, as memchr's portable fallback finds bytes: the lowest flag of
/// [`special_bytes`] or the high bits is exact.
#[inline]
fn stop_in_word(w: u64) -> Option<usize> {
    let found = special_bytes(w) | w & HIGH;
    (found != 0).then(|| (found.trailing_zeros() / 8) as usize)
}

/// The high bit of each byte.
const HIGH: u64 = u64::from_le_bytes([0x80; 8]);

/// In eight bytes of a string's body (little-endian), the `"`, `\\` and control characters,
/// flagged by their high bits: the lowest flag is exact, those above it may be false (a false
/// flag needs a borrow, which only a true one starts), as in memchr's portable fallback.
#[inline(always)]
fn special_bytes(w: u64) -> u64 {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const QUOTE: u64 = u64::from_le_bytes([b'"'; 8]);
    const BACKSLASH: u64 = u64::from_le_bytes([b'\\'; 8]);
    const SPACE: u64 = u64::from_le_bytes([0x20; 8]);
    let q = w ^ QUOTE;
    let b = w ^ BACKSLASH;
    ((q.wrapping_sub(ONES) & !q) | (b.wrapping_sub(ONES) & !b) | (w.wrapping_sub(SPACE) & !w))
        & HIGH
}

/// In `s`, from `j` inside a string's body: the index in `s` of the first `"`, `\\`, control
/// character or byte above 0x7f (`None` if there is none yet), 16 bytes a step on x86-64
/// (`block16::find` with `block16::stops`), then [`string_stop_words`].
#[inline(always)]
fn string_stop(s: &[u8], j: usize) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    let j = match block16::find(s, j, block16::stops) {
        Ok(at) => return Some(at),
        Err(rest) => rest,
    };
    string_stop_words(s, j)
}

/// [`string_stop`] a word at a time ([`stop_in_word`]) and a byte at a time: the whole scan
/// on other targets, the last 15 bytes or fewer on x86-64.
#[inline(always)]
fn string_stop_words(s: &[u8], mut j: usize) -> Option<usize> {
    while let Some(word) = s.get(j..j + 8) {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(word);
        if let Some(k) = stop_in_word(u64::from_le_bytes(bytes)) {
            return Some(j + k);
        }
        j += 8;
    }
    let tail = s.get(j..).unwrap_or_default();
    tail.iter()
        .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
        .map(|k| j + k)
}

/// Scans 16 bytes a step with SSE2 (part of every x86-64) through `safe_arch`'s safe wrappers:
/// this crate forbids `unsafe`, and `std::arch`'s loads take pointers. Each comparison gives
/// the exact bit of every byte it finds, where the SWAR words take a dozen operations for
/// eight bytes and flag only the first exactly.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod block16 {
    use safe_arch::{
        add_i16_m128i, bitand_m128i, bitor_m128i, cmp_eq_mask_i8_m128i, cmp_gt_mask_i8_m128i,
        cmp_lt_mask_i8_m128i, get_i64_from_m128i_s, load_unaligned_m128i, m128i, max_u8_m128i,
        move_mask_i8_m128i, mul_i16_horizontal_add_m128i, mul_i16_keep_low_m128i,
        pack_i32_to_i16_m128i, set_i64_m128i, set_splat_i8_m128i, set_splat_i16_m128i,
        shr_imm_u16_m128i, sub_i8_m128i,
    };

    /// The index in `s` of the first byte from `j` that `mask` flags, looked for 16 bytes a
    /// step (`Ok`); else `Err` with where the bytes left, fewer than 16, begin.
    #[inline(always)]
    pub(super) fn find(
        s: &[u8],
        mut j: usize,
        mask: impl Fn(&[u8; 16]) -> u32,
    ) -> Result<usize, usize> {
        while let Some(Ok(block)) = s.get(j..j + 16).map(<&[u8; 16]>::try_from) {
            let found = mask(block);
            if found != 0 {
                return Ok(j + found.trailing_zeros() as usize);
            }
            j += 16;
        }
        Err(j)
    }

    /// Bit `k` set when `found` marks byte `k` of the 16 bytes of `block`.
    #[inline(always)]
    fn mask(block: &[u8; 16], found: impl Fn(m128i) -> m128i) -> u32 {
        move_mask_i8_m128i(found(load_unaligned_m128i(block))) as u32
    }

    /// [`super::string_stop`]'s bytes: `"`, `\\`, a control character or above 0x7f.
    #[inline(always)]
    pub(super) fn stops(block: &[u8; 16]) -> u32 {
        mask(block, |v| {
            let quote = cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(b'"' as i8));
            let backslash = cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(b'\\' as i8));
            // Signed bytes: below 0x20, or 0x80 and above (negative).
            let other = cmp_lt_mask_i8_m128i(v, set_splat_i8_m128i(0x20));
            bitor_m128i(bitor_m128i(quote, backslash), other)
        })
    }

    /// The value of the 16 ASCII digits of `high` then `low` (little-endian: the first digit
    /// in the low byte), `None` when a byte is not a digit: [`super::eight_digits`] of both,
    /// in one register. The digits less `'0'` must all be at most 9 (unsigned); pairs, fours
    /// and eights are then combined by multiply-adds of 16-bit lanes (none can overflow: at
    /// most 99, 9,999, 99,999,999).
    #[inline(always)]
    pub(super) fn sixteen_digits(high: u64, low: u64) -> Option<u64> {
        let v = sub_i8_m128i(
            set_i64_m128i(low as i64, high as i64),
            set_splat_i8_m128i(b'0' as i8),
        );
        let nine = set_splat_i8_m128i(9);
        if move_mask_i8_m128i(cmp_eq_mask_i8_m128i(max_u8_m128i(v, nine), nine)) != 0xffff {
            return None;
        }
        // Lane k of 16 bits holds digit 2k (low byte) and digit 2k + 1.
        let first = bitand_m128i(v, set_splat_i16_m128i(0x00ff));
        let pairs = add_i16_m128i(
            mul_i16_keep_low_m128i(first, set_splat_i16_m128i(10)),
            shr_imm_u16_m128i::<8>(v),
        );
        let fours =
            mul_i16_horizontal_add_m128i(pairs, m128i::from([100_i16, 1, 100, 1, 100, 1, 100, 1]));
        let fours = pack_i32_to_i16_m128i(fours, fours);
        let eights = mul_i16_horizontal_add_m128i(
            fours,
            m128i::from([10_000_i16, 1, 10_000, 1, 10_000, 1, 10_000, 1]),
        );
        let both = get_i64_from_m128i_s(eights) as u64;
        Some((both & 0xffff_ffff) * 100_000_000 + (both >> 32))
    }

    /// [`stops`] of 32 bytes (bit `k` for byte `k`), with the quotes among them.
    #[inline(always)]
    pub(super) fn stops_and_quotes(window: &[u8; 32]) -> (u32, u32) {
        let (low, high) = window.split_at(16);
        let (Ok(low), Ok(high)) = (<&[u8; 16]>::try_from(low), <&[u8; 16]>::try_from(high)) else {
            return (0, 0);
        };
        let quotes = |block: &[u8; 16]| {
            mask(block, |v| {
                cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(b'"' as i8))
            })
        };
        (
            stops(low) | stops(high) << 16,
            quotes(low) | quotes(high) << 16,
        )
    }

    /// [`super::digits`]' other bytes: any but `0` to `9`.
    #[inline(always)]
    pub(super) fn non_digits(block: &[u8; 16]) -> u32 {
        mask(block, |v| {
            // Signed bytes: 0x80 and above are negative, below `0`.
            let below = cmp_lt_mask_i8_m128i(v, set_splat_i8_m128i(b'0' as i8));
            let above = cmp_gt_mask_i8_m128i(v, set_splat_i8_m128i(b'9' as i8));
            bitor_m128i(below, above)
        })
    }
}

/// In a string's body, the offset of the first `"`, `\\` or control character (`None` if there
/// is none yet), and whether a byte at or above 0x80 may come before it (then its UTF-8 needs
/// checking). Eight bytes at a time, as memchr's portable fallback does: the lowest flag of
/// [`special_bytes`] is exact.
fn string_stop_exact(s: &[u8]) -> (Option<usize>, bool) {
    let mut high = 0;
    let mut j = 0;
    while let Some(word) = s.get(j..j + 8) {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        high |= w;
        let found = special_bytes(w);
        if found != 0 {
            return (
                Some(j + (found.trailing_zeros() / 8) as usize),
                high & HIGH != 0,
            );
        }
        j += 8;
    }
    for (k, &c) in s[j..].iter().enumerate() {
        if c == b'"' || c == b'\\' || c < 0x20 {
            return (
                Some(j + k),
                high & HIGH != 0 || s[j..j + k].iter().any(|&c| c >= 0x80),
            );
        }
    }
    (None, true)
}

/// Where [`unescape`] puts the decoded text.
trait Unescaped {
    /// A run of the raw string between escapes; false when it is refused as not UTF-8.
    fn run(&mut self, run: &[u8]) -> bool;
    /// A character an escape decodes to.
    fn push(&mut self, c: char);
}

/// The decoded bytes, checked as UTF-8 by the caller once all are there
/// ([`Cursor::unescape_to_scratch`]).
impl Unescaped for Vec<u8> {
    fn run(&mut self, run: &[u8]) -> bool {
        // Runs between escapes are short: a call to `memcpy` each cost more than the loop.
        if run.len() <= 8 {
            for &b in run {
                Vec::push(self, b);
            }
        } else {
            self.extend_from_slice(run);
        }
        true
    }
    fn push(&mut self, c: char) {
        match u8::try_from(c) {
            Ok(b) if b.is_ascii() => Vec::push(self, b),
            _ => self.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
}

/// Validates without keeping the text (a skipped string), each run as it comes: the reference
/// for the errors and their offsets.
struct Discard;

impl Unescaped for Discard {
    fn run(&mut self, run: &[u8]) -> bool {
        std::str::from_utf8(run).is_ok()
    }
    fn push(&mut self, _: char) {}
}

/// In `s` (starting at a backslash inside a string), the offset of the closing quote, `None` if
/// it is not in `s` yet, or the offset of a control character.
fn find_escaped_end(s: &[u8]) -> Result<Option<usize>, usize> {
    let mut j = 0;
    while j < s.len() {
        match s[j] {
            b'\\' => j += 2,
            b'"' => return Ok(Some(j)),
            c if c < 0x20 => return Err(j),
            _ => j += 1,
        }
    }
    Ok(None)
}

/// Decodes the escapes of a string's raw bytes into `out`.
fn unescape(raw: &[u8], out: &mut impl Unescaped) -> Result<(), (usize, &'static str)> {
    let mut j = 0;
    while j < raw.len() {
        let run_end = raw[j..]
            .iter()
            .position(|&c| c == b'\\')
            .map_or(raw.len(), |p| j + p);
        if !out.run(&raw[j..run_end]) {
            return Err((j, "invalid UTF-8 in string"));
        }
        j = run_end;
        if j >= raw.len() {
            break;
        }
        let esc = *raw.get(j + 1).ok_or((j, "bad escape"))?;
        j += 2;
        let c = match esc {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(raw, j).ok_or((j, "bad \\u escape"))?;
                j += 4;
                if (0xD800..0xDC00).contains(&hi)
                    && raw.get(j) == Some(&b'\\')
                    && raw.get(j + 1) == Some(&b'u')
                {
                    match hex4(raw, j + 2) {
                        Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                            j += 6;
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                                .unwrap_or('\u{FFFD}')
                        }
                        _ => '\u{FFFD}',
                    }
                } else {
                    char::from_u32(hi).unwrap_or('\u{FFFD}')
                }
            }
            _ => return Err((j - 1, "bad escape")),
        };
        out.push(c);
    }
    Ok(())
}

fn hex4(raw: &[u8], at: usize) -> Option<u32> {
    let digits = raw.get(at..at + 4)?;
    let mut v = 0;
    for &d in digits {
        v = v * 16 + (d as char).to_digit(16)?;
    }
    Some(v)
}

/// Scans a number at the start of `s` against the JSON grammar.
#[inline(always)]
fn scan_number(s: &[u8]) -> Result<Scan, &'static str> {
    let mut j = usize::from(s.first() == Some(&b'-'));
    match s.get(j) {
        None => return Ok(Scan::NeedMore),
        Some(b'0') => j += 1,
        Some(b'1'..=b'9') => j = digits(s, j),
        Some(_) => return Err("invalid number"),
    }
    if s.get(j) == Some(&b'.') {
        j = required_digits(s, j + 1)?;
    }
    match s.get(j) {
        Some(b'e' | b'E') => {}
        Some(_) => return Ok(Scan::End(j)),
        None => return Ok(Scan::NeedMore),
    }
    j += 1;
    if let Some(b'+' | b'-') = s.get(j) {
        j += 1;
    }
    j = required_digits(s, j)?;
    if j >= s.len() {
        // The number may go on in the next chunk.
        return Ok(Scan::NeedMore);
    }
    Ok(Scan::End(j))
}

/// A byte a number can hold (a superset of [`scan_number`]'s grammar, which ends a number at
/// any other byte).
#[inline(always)]
fn number_char(c: u8) -> bool {
    matches!(c, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
}

/// The end of the run of digits starting at `j` (PBS' timestamps, sizes and usage ratios are
/// runs of 10 to 17 digits), 16 bytes a step on x86-64 (`block16::non_digits`), then
/// [`digits_words`].
#[inline]
fn digits(s: &[u8], j: usize) -> usize {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    let j = match block16::find(s, j, block16::non_digits) {
        Ok(at) => return at,
        Err(rest) => rest,
    };
    digits_words(s, j)
}

/// [`digits`] eight bytes at a time, then a byte at a time: the whole scan on other targets,
/// the last 15 bytes or fewer on x86-64. A byte is flagged when it is above `9` (adding 0x46
/// sets its high bit), below `0` (subtracting 0x30 borrows into it) or above 0x7f; the lowest
/// flag is exact, as in [`special_bytes`].
#[inline(always)]
fn digits_words(s: &[u8], mut j: usize) -> usize {
    const ABOVE_NINE: u64 = u64::from_le_bytes([0x46; 8]);
    const ZERO: u64 = u64::from_le_bytes([b'0'; 8]);
    while let Some(word) = s.get(j..j + 8) {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        let other = (w.wrapping_add(ABOVE_NINE) | w.wrapping_sub(ZERO) | w) & HIGH;
        if other != 0 {
            return j + (other.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while s.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
    }
    j
}

/// Like [`digits`], but at least one is required (a run cut by the chunk end is not an error:
/// the caller then finds `j == s.len()` and waits for more).
fn required_digits(s: &[u8], j: usize) -> Result<usize, &'static str> {
    let end = digits(s, j);
    if end == j && j < s.len() {
        return Err("invalid number");
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Xorshift64 from `seed`: the pseudo-random values of the tests below, the same on every
    /// run.
    fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// Tokenizes `doc` fed in pieces of `step` bytes; returns the events as text.
    pub(crate) fn events(doc: &[u8], step: usize) -> Result<Vec<String>, JsonError> {
        events_with(&mut Tokenizer::new(), doc, step)
    }

    /// [`events`] with the tokenizer `t`.
    fn events_with(t: &mut Tokenizer, doc: &[u8], step: usize) -> Result<Vec<String>, JsonError> {
        let mut out = Vec::new();
        for piece in doc.chunks(step.max(1)) {
            t.feed(piece);
            while let Some(ev) = t.next(piece)? {
                push_split(&mut out, ev);
            }
        }
        t.finish()?;
        Ok(out)
    }

    /// Pushes `ev` as text, a [`Event::Member`] as the key's and the value's events.
    fn push_split(out: &mut Vec<String>, ev: Event<'_>) {
        match ev {
            Event::Member(k, v) => {
                out.push(format!("{:?}", Event::Key(k)));
                out.push(format!("{:?}", v.event()));
            }
            ev => out.push(format!("{ev:?}")),
        }
    }

    #[test]
    fn integers_parse_as_str_parse_does() {
        let texts = [
            "0",
            "1",
            "-0",
            "-1",
            "7",
            "10",
            "1784494800",
            "68720018698",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "999999999999999999",
            "-999999999999999999",
            "9999999999999999999",
            "-9999999999999999999",
            "9999999999999999",
            "-9999999999999999",
            "1000000000000000",
            "0000000000000000",
            "100000000",
            "1.5",
            "-1.5",
            "1e3",
            "1E+3",
            "-0.0",
            "12.5e-3",
            "-",
            "",
        ];
        // Every length, and a byte just outside the digits at every place.
        let mut more = Vec::new();
        for len in 1..=21 {
            let digits: String = (0..len)
                .map(|k| char::from(b'1' + (k * 7 % 9) as u8))
                .collect();
            more.push(digits.clone());
            more.push(format!("-{digits}"));
            for at in 0..len {
                for bad in ['/', ':', '.', 'e', ' ', '\0', '\u{7f}', 'é'] {
                    let mut t = digits.clone();
                    t.replace_range(at..at + 1, bad.encode_utf8(&mut [0; 4]));
                    more.push(t);
                }
            }
        }
        for t in texts.iter().copied().chain(more.iter().map(String::as_str)) {
            let n = Text::from(t);
            assert_eq!(n.as_u64(), t.parse::<u64>().ok(), "{t}");
            assert_eq!(n.as_i64(), t.parse::<i64>().ok(), "{t}");
            assert_eq!(n.as_str(), t);
        }
    }

    /// The register's conversion of 16 digits agrees with the two words' (the other targets'
    /// conversion) on digit words and on every byte just outside the digits at every place.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[test]
    fn sixteen_digits_in_a_register_as_in_words() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let digits = |r: u64| u64::from_le_bytes(r.to_le_bytes().map(|b| b'0' + b % 10));
        let mut words = vec![u64::from_le_bytes([b'0'; 8]), u64::from_le_bytes([b'9'; 8])];
        for _ in 0..2_000 {
            words.push(digits(next()));
        }
        for w in words.clone() {
            for at in 0..8 {
                for bad in [b'/', b':', b'0' - 48, b'9' + 1, 0x80, 0xff, b' '] {
                    let mut b = w.to_le_bytes();
                    b[at] = bad;
                    words.push(u64::from_le_bytes(b));
                }
            }
        }
        for (i, &high) in words.iter().enumerate() {
            let low = words[(i * 7 + 3) % words.len()];
            assert_eq!(
                block16::sixteen_digits(high, low),
                sixteen_digits_words(high, low),
                "{high:#x} {low:#x}"
            );
        }
    }

    /// A list of flat objects stepped over without the length tests ends where it does with
    /// them, in bytes no longer than `MAX_TOKEN` (where no token can fail them).
    #[test]
    fn flat_lists_end_alike_without_length_tests() {
        let items = [
            r#"{"filename":"index.json.blob","size":1045,"crypt-mode":"none"}"#,
            r#"{"a":"x\"y","b":-1.5,"c":true,"d":null}"#,
            r#"{"k":"\u00e9","n":12345678901234567890}"#,
            r#"{}"#,
            r#"{"a":[1]}"#,
            r#"{"a":{"b":1}}"#,
            r#"{"a":"unterminated"#,
        ];
        for n in 0..6 {
            for (i, item) in items.iter().enumerate() {
                let list: Vec<&str> = (0..n).map(|k| items[(i + k) % items.len()]).collect();
                for doc in [
                    format!("[{}]", list.join(",")),
                    format!("[{},{item}]", list.join(",")),
                    format!("[ {} ]", list.join(" , ")),
                    format!("[{}", list.join(",")),
                ] {
                    let b = doc.as_bytes();
                    assert!(b.len() <= MAX_TOKEN);
                    assert_eq!(
                        flat_array_end::<true>(b, 0),
                        flat_array_end::<false>(b, 0),
                        "{doc}"
                    );
                }
            }
        }
    }

    #[test]
    fn events_are_the_same_whatever_the_chunking() {
        let doc = br#"{"data":[{"a-b":"x\"y\\z\u00e9\ud83d\ude00","n":-12.5e+3,"t":true,"f":false,"z":null,"e":[],"o":{}}],"total":7}"#;
        let whole = events(doc, doc.len()).unwrap();
        assert_eq!(whole.len(), 25);
        assert!(whole.contains(&r#"Str("x\"y\\zé😀")"#.to_string()));
        assert!(whole.contains(&r#"Number("-12.5e+3")"#.to_string()));
        for step in 1..doc.len() {
            assert_eq!(events(doc, step).unwrap(), whole, "step {step}");
        }
    }

    /// Pieces are read where they lie: what is copied is a cut token and the bytes that
    /// complete it, never a piece.
    #[test]
    fn only_a_cut_token_is_carried() {
        let item = r#"{"name":"abc\"def","n":-12.5e+3,"t":true,"l":[1 ,2] , "z":null}"#;
        let doc = format!("{{\"data\":[{}]}}", vec![item; 50].join(","));
        let whole = events(doc.as_bytes(), doc.len()).unwrap();
        for step in [7, 31, 64, 100] {
            let mut t = Tokenizer::new();
            let mut got = Vec::new();
            for piece in doc.as_bytes().chunks(step) {
                t.feed(piece);
                // The cut token (at most 12 bytes here) and what completes it.
                assert!(t.carry.len() <= 24, "{step}: {}", t.carry.len());
                while let Some(ev) = t.next(piece).unwrap() {
                    push_split(&mut got, ev);
                }
                assert!(t.carry.len() <= 12, "{step}: {}", t.carry.len());
            }
            t.finish().unwrap();
            assert_eq!(got, whole, "{step}");
        }
    }

    /// The expected key spelt with escapes is read as any other key: with its decoded length
    /// not read it may be stepped over, else it comes out decoded; the events are those of
    /// reading everything without the keys of the length not read, in any pieces.
    #[test]
    fn an_escaped_expected_key_is_read_as_any_key() {
        let docs: [&[u8]; 4] = [
            br#"{"\u0061b":{"c":1},"y":1}"#,
            br#"{"\u0061b":"s","ab":[1],"y":1}"#,
            br#"{"a\u0062":{"c":1},"ab":2}"#,
            br#"{"x":[{"\u0061b":{"c":"\n"},"ab":1},{"ab":[],"a\u0062":3}],"ab":{}}"#,
        ];
        for doc in docs {
            for short in [1, 2] {
                let want = filtered_with(doc, &|k| k.len() == short, true);
                for step in 1..=doc.len() {
                    assert_eq!(
                        filtering(doc, step, short, "ab"),
                        want,
                        "{} in steps of {step}, keys of {short} not read",
                        String::from_utf8_lossy(doc)
                    );
                }
            }
        }
    }

    /// A key that is not plain is never expected: with `a"` expected, `{"a"":1}` is the
    /// error it is with none (`"a"` then a `"` where a colon belongs).
    #[test]
    fn a_key_filter_expects_only_plain_keys() {
        let doc = br#"{"a"":1}"#;
        let run = |filter: KeyFilter| {
            let mut t = Tokenizer::new();
            t.feed(doc);
            let mut events = Vec::new();
            loop {
                match t.next_in(doc, filter) {
                    Ok(Some(ev)) => events.push(format!("{ev:?}")),
                    end => break (events, end.map(|_| ())),
                }
            }
        };
        let err = JsonError::Syntax {
            at: 4,
            what: "expected ':'",
        };
        let want = (
            vec!["StartObject".to_owned(), "Key([97])".to_owned()],
            Err(err),
        );
        assert_eq!(run(KeyFilter::ANY), want);
        for key in ["a\"", "a\\", "a\n"] {
            let filter = KeyFilter::new(u64::MAX, key);
            assert_eq!(filter.expected(), b"", "{key:?}");
            assert_eq!(run(filter), want, "{key:?}");
        }
        assert_eq!(KeyFilter::new(1, "data").expected(), b"data");
    }

    /// After an error the document is over: feeding more never panics (the carry is not
    /// drained by a position in the piece), and every later call returns an error at the
    /// same offset.
    #[test]
    fn an_error_ends_the_document() {
        let doc = b"[1,x]";
        let want = JsonError::Syntax {
            at: 3,
            what: "expected a value",
        };
        for step in 1..=doc.len() {
            let mut t = Tokenizer::new();
            let mut err = None;
            let mut last: &[u8] = b"";
            'pieces: for piece in doc.chunks(step) {
                t.feed(piece);
                last = piece;
                loop {
                    match t.next(piece) {
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) => {
                            err = Some(e);
                            break 'pieces;
                        }
                    }
                }
            }
            assert_eq!(err.as_ref(), Some(&want), "{step}");
            // The error's piece read again: the same error.
            assert_eq!(t.next(last), Err(want.clone()), "{step}");
            // Any later piece, and the end of the input: an error at the same offset.
            let over = JsonError::Syntax {
                at: 3,
                what: "a piece fed after an error or before the last was read",
            };
            t.feed(b"]");
            assert_eq!(t.next(b"]"), Err(over.clone()), "{step}");
            assert_eq!(t.next(b"]"), Err(over.clone()), "{step}");
            assert_eq!(t.finish(), Err(over.clone()), "{step}");
            // A new document reads as usual.
            t.reset();
            assert_eq!(
                events_with(&mut t, b"[1]", 2).unwrap(),
                ["StartArray", r#"Number("1")"#, "EndArray"]
            );
        }
    }

    /// The public calls in any order and with any bytes: answers or errors, never a panic
    /// (release builds abort on one).
    #[test]
    fn misuse_never_panics() {
        // A piece fed before the last one was read, `next` given other bytes than fed.
        let mut t = Tokenizer::new();
        t.feed(b"[1,2");
        assert_eq!(t.next(b"[1,2"), Ok(Some(Event::StartArray)));
        t.feed(b",3]");
        assert!(matches!(
            t.next(b",3]"),
            Err(JsonError::Syntax { at: 1, .. })
        ));
        t.reset();
        t.feed(b"[\"ab");
        assert_eq!(t.next(b"[\"ab"), Ok(Some(Event::StartArray)));
        assert_eq!(t.next(b"[\"ab"), Ok(None));
        t.feed(b"c\"]");
        assert!(matches!(t.next(b"c\"]..."), Err(JsonError::Syntax { .. })));
        assert!(t.finish().is_err());
        // Random sequences of calls on pieces of a few documents.
        let docs: [&[u8]; 4] = [
            br#"{"a":[1,"x\"y",{"b":nul"#,
            br#"{"k":"v","x":{"d":[1e5,true]},"s":"\u00e9"}"#,
            b"[12345, \"abc\\\\\", -0.5e-3]",
            b"{\"x\":[\"\xc3\xa9\x01\"]}",
        ];
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let mut rand = |n: usize| (next() % n as u64) as usize;
        let mut t = Tokenizer::new();
        let mut fed: &[u8] = b"";
        for _ in 0..20_000 {
            let doc = docs[rand(docs.len())];
            let (a, b) = (rand(doc.len() + 1), rand(doc.len() + 1));
            let other = &doc[a.min(b)..a.max(b)];
            match rand(10) {
                0..=2 => {
                    fed = other;
                    t.feed(fed);
                }
                3..=6 => {
                    let _ = t.next(fed);
                }
                7 => {
                    let _ = t.next(other);
                }
                8 => t.skip_value(),
                _ => match rand(3) {
                    0 => t.reset(),
                    _ => {
                        let _ = t.finish();
                    }
                },
            }
        }
    }

    /// Were `completion` to take too few bytes of the next piece, the carried token would be
    /// found cut with bytes left: debug builds stop there, others read the piece from the
    /// carry whole, with the events of the whole document, read or skipped.
    #[test]
    fn a_short_completion_is_caught() {
        fn run(skip: bool) -> Vec<String> {
            let (a, b) = (&br#"{"x":"ab"#[..], &br#"cdef","y":[12,3]}"#[..]);
            let mut t = Tokenizer::new();
            let mut out = Vec::new();
            for piece in [a, b] {
                t.feed(piece);
                if piece == b {
                    // As if `completion` had stopped two bytes short of the quote.
                    t.carry.truncate(t.carry.len() - 2);
                    t.at.resume -= 2;
                }
                while let Some(ev) = t.next(piece).unwrap() {
                    push_split(&mut out, ev);
                    if skip && matches!(ev, Event::Key(b"x")) {
                        t.skip_value();
                    }
                }
            }
            t.finish().unwrap();
            out
        }
        for skip in [false, true] {
            let got = std::panic::catch_unwind(|| run(skip));
            if cfg!(debug_assertions) {
                assert!(got.is_err(), "{skip}");
                continue;
            }
            let mut want = vec!["StartObject", "Key([120])", r#"Str("abcdef")"#];
            if skip {
                want.pop();
            }
            want.extend([
                "Key([121])",
                "StartArray",
                r#"Number("12")"#,
                r#"Number("3")"#,
            ]);
            want.extend(["EndArray", "EndObject"]);
            assert_eq!(got.unwrap(), want, "{skip}");
        }
    }

    /// A long string fed a byte a piece (each byte looked at a bounded number of times, not
    /// the whole carried string again per piece) gives the events it gives fed whole, read or
    /// skipped, escapes, UTF-8 and errors included.
    #[test]
    fn a_long_string_a_byte_a_piece() {
        // Each part as JSON text and decoded.
        let part = |k: usize| match k % 997 {
            0 => ("\\\\", "\\"),
            1 => ("\\\"", "\""),
            2 => ("\\u00e9", "\u{e9}"),
            3 => ("\u{e9}", "\u{e9}"),
            _ => ("a", "a"),
        };
        let body: String = (0..60_000).map(|k| part(k).0).collect();
        let text: String = (0..60_000).map(|k| part(k).1).collect();
        let doc = format!(r#"{{"s":"{body}","x":"{body}","k":["{body}"]}}"#);
        let whole = events(doc.as_bytes(), doc.len()).unwrap();
        assert_eq!(whole[2], format!("{:?}", Event::Str(Text::from(&*text))));
        assert_eq!(events(doc.as_bytes(), 1).unwrap(), whole);
        assert_eq!(skipping(doc.as_bytes(), 1), filtered(doc.as_bytes()));
        // A control character late in it: the same error at the same offset.
        let bad = format!("[\"{}\u{1}\"]", &body[..50_000]);
        let err = events(bad.as_bytes(), bad.len());
        assert!(
            matches!(err, Err(JsonError::Syntax { at: 50_002, .. })),
            "{err:?}"
        );
        assert_eq!(events(bad.as_bytes(), 1), err);
    }

    #[test]
    fn a_key_and_its_scalar_value_are_one_event() {
        let doc = br#"{"a":1,"b":"s","c":true,"d":null,"e":"\n","f":[2],"g" :3,"h":1e5,"i":{}}"#;
        let mut t = Tokenizer::new();
        t.feed(doc);
        let mut got = Vec::new();
        while let Some(ev) = t.next(doc).unwrap() {
            got.push(format!("{ev:?}"));
        }
        t.finish().unwrap();
        assert_eq!(
            got,
            [
                "StartObject",
                r#"Member([97], Num("1"))"#,
                r#"Member([98], Str("s"))"#,
                "Member([99], Bool(true))",
                "Member([100], Null)",
                // Escaped, in brackets, spaced, an exponent: the key alone, then the value.
                "Key([101])",
                r#"Str("\n")"#,
                "Key([102])",
                "StartArray",
                r#"Number("2")"#,
                "EndArray",
                "Key([103])",
                r#"Number("3")"#,
                "Key([104])",
                r#"Number("1e5")"#,
                "Key([105])",
                "StartObject",
                "EndObject",
                "EndObject",
            ]
        );
    }

    /// Like [`events`], but the value of every key starting with `x` is skipped.
    fn skipping(doc: &[u8], step: usize) -> (Vec<String>, Result<(), JsonError>) {
        let mut t = Tokenizer::new();
        let mut out = Vec::new();
        for piece in doc.chunks(step.max(1)) {
            t.feed(piece);
            loop {
                match t.next(piece) {
                    Ok(Some(Event::Member(k, v))) => {
                        out.push(format!("{:?}", Event::Key(k)));
                        if !k.starts_with(b"x") {
                            out.push(format!("{:?}", v.event()));
                        }
                    }
                    Ok(Some(ev)) => {
                        let skip = matches!(ev, Event::Key(k) if k.starts_with(b"x"));
                        out.push(format!("{ev:?}"));
                        if skip {
                            t.skip_value();
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return (out, Err(e)),
                }
            }
        }
        let end = t.finish();
        (out, end)
    }

    /// The full events of `doc` with the values of `x…` keys left out, and the outcome.
    fn filtered(doc: &[u8]) -> (Vec<String>, Result<(), JsonError>) {
        filtered_with(doc, &|k| k.starts_with(b"x"), false)
    }

    /// The full events of `doc` with the values of the keys `skip` names left out (and those
    /// keys too with `drop_keys`), and the outcome.
    fn filtered_with(
        doc: &[u8],
        skip: &dyn Fn(&[u8]) -> bool,
        drop_keys: bool,
    ) -> (Vec<String>, Result<(), JsonError>) {
        let mut t = Tokenizer::new();
        t.feed(doc);
        let mut out = Vec::new();
        // Depth inside a skipped value (0: not skipping); `pending`: the next value is skipped.
        let (mut depth, mut pending) = (0usize, false);
        let end = loop {
            match t.next(doc) {
                Ok(Some(Event::Member(k, v))) if depth == 0 => {
                    if !(drop_keys && skip(k)) {
                        out.push(format!("{:?}", Event::Key(k)));
                    }
                    if !skip(k) {
                        out.push(format!("{:?}", v.event()));
                    }
                }
                Ok(Some(Event::Member(..))) => {}
                Ok(Some(ev)) => {
                    if pending || depth > 0 {
                        pending = false;
                        match ev {
                            Event::StartObject | Event::StartArray => depth += 1,
                            Event::EndObject | Event::EndArray => depth -= 1,
                            _ => {}
                        }
                        continue;
                    }
                    pending = matches!(ev, Event::Key(k) if skip(k));
                    if !(drop_keys && pending) {
                        out.push(format!("{ev:?}"));
                    }
                }
                Ok(None) => break t.finish(),
                Err(e) => break Err(e),
            }
        };
        (out, end)
    }

    /// `doc` in pieces of `step` through [`Tokenizer::next_in`] with the keys of `short` bytes
    /// not read and `expected` expected: those that come out anyway are skipped as the walker
    /// skips them, and the events shown without any key of `short` bytes.
    fn filtering(
        doc: &[u8],
        step: usize,
        short: usize,
        expected: &str,
    ) -> (Vec<String>, Result<(), JsonError>) {
        let lengths = !(1u64 << short);
        let unread = |k: &[u8]| k.len() == short;
        let mut t = Tokenizer::new();
        let mut out = Vec::new();
        for piece in doc.chunks(step.max(1)) {
            t.feed(piece);
            loop {
                match t.next_in(piece, KeyFilter::new(lengths, expected)) {
                    Ok(Some(Event::Member(k, v))) => {
                        if !unread(k) {
                            out.push(format!("{:?}", Event::Key(k)));
                            out.push(format!("{:?}", v.event()));
                        }
                    }
                    Ok(Some(ev)) => {
                        let skip = matches!(ev, Event::Key(k) if unread(k));
                        if skip {
                            t.skip_value();
                        } else {
                            out.push(format!("{ev:?}"));
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return (out, Err(e)),
                }
            }
        }
        let end = t.finish();
        (out, end)
    }

    #[test]
    fn skipping_agrees_with_reading_everything() {
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(70), "]".repeat(70));
        let docs: &[&[u8]] = &[
            br#"{"a":1,"x":{"f":[{"n":"\u00e9\"","s":-1.5e3},[true,false,null],{}],"g":"h"},"b":[2]}"#,
            br#"{"x":"plain","xs":"esc\\aped\n","xn":12345678901234567890,"xl":null,"y":[]}"#,
            b"{\"x\": [ 1 , { \"k\" : \"v\" } ]\n, \"b\" : \"\\u00e9\"}",
            "{\"x\":[\"caf\u{e9}\",\"\u{1F600}\"],\"b\":1}".as_bytes(),
            br#"{"data":[{"x":{"deep":[[[[]]]]},"a":1},{"xx":[1,2,{"x":3}],"a":2}]}"#,
            br#"{"x":"abcdefghijklmnopqrstuvwxyz0123456789","y":"abcdefghijklmnopqrstuvwxyz"}"#,
            // Truncated inside and after a skipped value.
            br#"{"x":{"f":[1,2"#,
            br#"{"x":"abc"#,
            br#"{"x":"abc\"#,
            br#"{"x":tru"#,
            br#"{"x":[1]"#,
            br#"{"x""#,
            br#"{"x":-"#,
            // Malformed inside a skipped value.
            br#"{"x":{"a":1,,"b":2},"c":3}"#,
            br#"{"x":[1 2]}"#,
            br#"{"x":{"a" 1}}"#,
            br#"{"x":[01]}"#,
            // Lists of objects stepped over, their keys compared with the last object's.
            br#"{"x":[{"ab":1,"c":"d"},{"ab":2,"c":"e"},{"abc":3},{"a":4,"ab":5}],"y":1}"#,
            br#"{"x":[{"a\"b":1},{"a\"b":2},{"a\"":3},{"a\\":4},{"a\\":5}],"y":1}"#,
            br#"{"x":[{"k":1},{"k":2,"k2":3},{"k":4},{"":5},{"":6}],"y":1}"#,
            b"{\"x\":[{\"ab\":1},{\"a\x01\":2}],\"y\":1}",
            b"{\"x\":[{\"ab\":1},{\"a\xc3\xa9\":2},{\"a\xc3\xa9\":3}],\"y\":1}",
            br#"{"x":[{"ab":1},{"ab"#,
            br#"{"x":[{"ab":1},{"ab":2}]"#,
            br#"{"x":[1.]}"#,
            br#"{"x":[-]}"#,
            br#"{"x":[1e]}"#,
            br#"{"x":[truex]}"#,
            b"{\"x\":[\"a\nb\"]}",
            b"{\"x\":[\"a\\\\\nb\"]}",
            br#"{"x":["\x"]}"#,
            br#"{"x":["\u12"]}"#,
            br#"{"x":[1]]}"#,
            br#"{"x":{"a":1]}"#,
            br#"{"x":[,1]}"#,
            br#"{"x":{"a":1,}}"#,
            br#"{"x":{1:2}}"#,
            b"{\"x\":[\"\xff\"]}",
            b"{\"x\":[\"ok \xe9t\xe9 and some more\"]}",
            b"{\"x\":\"\\\\\xc3\"}",
            br#"{"x" 1}"#,
            br#"{"x":}"#,
            br#"{"x":1 "y":2}"#,
            br#"{"x":{}}}"#,
            br#"{"x":[{"k":nul}]}"#,
            br#"{"x":1} x"#,
            // Runs of numbers and literals (a datastore's `history`).
            br#"{"x":[null,0.15,-1.25,12,0,-0,true,false,null],"b":[1,2]}"#,
            br#"{"x":[[1,2],[null],[]],"y":[3,null]}"#,
            br#"{"x":[1 ,2, 3,4 ]}"#,
            br#"{"x":[1,2e5,3E-1,4]}"#,
            // The run stops at an exponent or a cut number; the exact path takes it there.
            br#"{"x":[0.1,1e5]}"#,
            br#"{"x":[0.1,1e5,-2E+3,true]}"#,
            br#"{"x":[0.1,1e5"#,
            br#"{"x":[0.1,1e"#,
            br#"{"x":[0.1,1e]}"#,
            br#"{"x":[0.1,-"#,
            br#"{"x":[0.1,tr"#,
            br#"{"x":[0.1, 1e5]}"#,
            br#"{"x":{"a":1e5,"b":2.5}}"#,
            br#"{"x":[null,0.15"#,
            br#"{"x":[null,nu"#,
            br#"{"x":[null,nul]}"#,
            br#"{"x":[0.1,01]}"#,
            br#"{"x":[1.5,2.]}"#,
            br#"{"x":[null,,1]}"#,
            br#"{"x":[1,2,]}"#,
            br#"{"x":[nullx]}"#,
            br#"{"x":[1,2}"#,
            br#"{"x":[1,-]}"#,
            br#"{"x":[1,"s",2]}"#,
            // Members with scalar values (a snapshot's `files`).
            br#"{"x":[{"f":"a.blob","c":"none","s":428,"n":null,"t":true,"u":false},{"f":"b"}],"y":{"k":-1.5,"o":{}}}"#,
            br#"{"x":{"a":"s","b":{"c":1,"d":[2]},"e":3},"f":4}"#,
            br#"{"x":{"a" :"s","b": 1 ,"c":2}}"#,
            br#"{"x":{"a":"s","b":1,}}"#,
            br#"{"x":{"a":"s","b":1,"#,
            br#"{"x":{"a":"s","b":"#,
            br#"{"x":{"a":"s","b"#,
            br#"{"x":{"a":"s"1}}"#,
            br#"{"x":{"a":"s",1}}"#,
            br#"{"x":{"a":01}}"#,
            br#"{"x":{"a":nul,"b":1}}"#,
            br#"{"x":{"a":"\u00e9\"","b":"caf\u00e9","c":"\q"}}"#,
            "{\"x\":{\"a\":\"caf\u{e9}\",\"\u{e9}\":1}}".as_bytes(),
            b"{\"x\":{\"a\":\"a\x01b\"}}",
            // Long runs (crossing the pieces), exponents, errors after a valid prefix.
            br#"{"x":[null,null,0.204237288135593,0.204358353510895,12345678901,0.3,1e5,2.5E-3,-0.25,0,-0],"y":1}"#,
            br#"{"x":[0.204237288135593,0.204358353510895,1.5e+300,0.5],"y":[1E2]}"#,
            br#"{"x":[0.204237288135593,0.20435835351089.5]}"#,
            br#"{"x":[0.1234567890123,00.5]}"#,
            br#"{"x":[0.1234567890123,-01]}"#,
            br#"{"x":[0.5,-0.25,-12,--1]}"#,
            br#"{"x":[0.5,-a]}"#,
            br#"{"x":[0.1234567890123,1.5e,2]}"#,
            br#"{"x":[0.1234567890123,1.5e+]}"#,
            br#"{"x":[0.1234567890123,1.5E-"#,
            br#"{"x":[0.1234567890123,12345678901234567890123"#,
            br#"{"x":{"a":1e5,"b":-2.5E+10,"c":"s","d":0.000000000001},"e":2}"#,
            br#"{"x":{"a":1e5x,"b":1}}"#,
            // Escapes and stops at word boundaries (the word scan's eighth and ninth bytes).
            br#"{"x":{"abcdefg\"h":"1234567\\","k":"abcdefgh\u00e9ij","l":"123456\/"},"y":"1234567\"8"}"#,
            br#"{"x":{"abcdefgh":"abcdefg\u00e9","abcdefghijklmno\n":"abcdefghijklmnop"},"y":2}"#,
            br#"{"x":"abcdefg\q"}"#,
            br#"{"x":"abcdefg\u00g1"}"#,
            br#"{"x":"abcdefgh\u00e"}"#,
            b"{\"x\":{\"abcdefg\":\"1234567\xc3\xa9\",\"k\":\"abcdefgh\x1f\"}}",
            b"{\"x\":{\"k\":\"abcdefg\\u00e9\xc3\"}}",
            deep.as_bytes(),
            // Arrays of such objects (a snapshot's `files` itself), and what ends the one step.
            br#"{"x":[{"f":"a.blob","c":"none","s":428},{"f":"b"}],"y":[],"z":[{},{"a":1}]}"#,
            br#"{"x":[{"f":"a"},{"f":"b"},[1]],"y":[{"f":"a"},1]}"#,
            br#"{"x":[{"f":"a"},{"f":"b","g":{"h":[1]}}],"y":2}"#,
            br#"{"x":[{"f":"a"} ,{"f":"b"}],"y":[ {"f":"a"}]}"#,
            br#"{"x":[{"f":"a\u00e9"},{"f":1e5},{"f":"\/"}],"y":[{"f":"x"}"]}"#,
            br#"{"x":[{"f":"a"},]}"#,
            br#"{"x":[{"f":"a"}}"#,
            br#"{"x":[{"f":"a"},{"f":"b"}"#,
            br#"{"x":[{"f":"a"},{"f":"b"},"#,
            br#"{"x":[{"f":"a"},{"f":"b""#,
            br#"{"x":[{"f":"a"},{"f":"b"}]]"#,
            b"{\"x\":[{\"f\":\"a\"},{\"f\":\"b\x01\"}]}",
            // Unread members (keys of one byte, for `filtering`) stepped over or not, by what
            // follows them.
            br#"{"ab":1,"x":"v","y":2,"cd":[{"e":1}],"z":{"q":[]},"w":[{"a":"\u00e9"}]}"#,
            br#"{"ab":{"x":1,"y":"s"},"cd":[{"x":1}],"x":true}"#,
            br#"{"x":1 ,"y":2, "z":3,"ab":4}"#,
            br#"{"x":1,}"#,
            br#"{"x":1,"#,
            br#"{"x":1,""#,
            br#"{"x":1,"y"#,
            br#"{"x":1]"#,
            br#"[{"x":1}]"#,
            br#"{"x":"a\"b","\u0079":2,"ab":{"x":[{"y":"z"}]}}"#,
            br#"{"x":[{"y":1},{"z":2}],"ab":[{"y":{}}],"cd":1e5,"y":1e5}"#,
            br#"{"x":1,"y":2,"ab":3}}"#,
            br#"{"x":1,"y":"bad\q"}"#,
        ];
        // Flat arrays where their objects reach `MAX_DEPTH` or just do not.
        let deep_flat: Vec<String> = (60..=63)
            .map(|n| {
                format!(
                    "{{\"x\":{}[{{\"a\":1}},{{}}]{},\"y\":1}}",
                    "[".repeat(n),
                    "]".repeat(n)
                )
            })
            .collect();
        let docs = docs
            .iter()
            .copied()
            .chain(deep_flat.iter().map(|d| d.as_bytes()));
        for doc in docs {
            let want = filtered(doc);
            // Keys of one byte not read, as `next_in` filters them (members stepped over).
            let want_short = filtered_with(doc, &|k| k.len() == 1, true);
            for step in 1..=doc.len() {
                assert_eq!(
                    skipping(doc, step),
                    want,
                    "{} in steps of {step}",
                    String::from_utf8_lossy(doc)
                );
                // The key expected next: none, one unread (one byte), ones read.
                for expected in ["", "x", "a", "ab", "xs", "data", "deep"] {
                    assert_eq!(
                        filtering(doc, step, 1, expected),
                        want_short,
                        "{} filtered in steps of {step}, {expected:?} expected",
                        String::from_utf8_lossy(doc),
                    );
                }
            }
        }
        // A long string is skipped (and refused when too long) as it would be read.
        for n in [MAX_TOKEN - 10, MAX_TOKEN + 10] {
            let mut doc = b"{\"x\":[\"".to_vec();
            doc.extend(std::iter::repeat_n(b'a', n));
            doc.extend(b"\"]}");
            for step in [1000, 4096, doc.len()] {
                assert_eq!(
                    skipping(&doc, step),
                    filtered(&doc),
                    "{n} in steps of {step}"
                );
            }
        }
    }

    /// `string_member_end` finds a member's end only where the general steps of `members`
    /// find the same one.
    #[test]
    fn a_member_in_one_mask_ends_where_the_general_steps_end_it() {
        fn general(buf: &[u8]) -> Option<usize> {
            let (key_end, _) = plain_string_end(buf, 0)?;
            if buf.get(key_end + 1) != Some(&b':') {
                return None;
            }
            plain_value_end(buf, key_end + 2).map(|(end, _, _)| end)
        }
        let mut cases: Vec<Vec<u8>> = Vec::new();
        // Keys and values of every length around the 32-byte window, strings and numbers.
        for key in 0..36 {
            for value in 0..36 {
                let k = "k".repeat(key);
                let v = "v".repeat(value);
                let d = "7".repeat(value.max(1));
                // What follows the member, and more bytes (the rest of a piece) or none.
                for after in ["", ",", "}", ".5,", "e3}", " "] {
                    for rest in ["", "x", &"\"x".repeat(20)] {
                        cases.push(format!(r#""{k}":"{v}"{after}{rest}"#).into_bytes());
                        cases.push(format!(r#""{k}":{d}{after}{rest}"#).into_bytes());
                        cases.push(format!(r#""{k}":0{d}{after}{rest}"#).into_bytes());
                        cases.push(format!(r#""{k}":-{d}{after}{rest}"#).into_bytes());
                    }
                }
            }
        }
        // A key longer than the window, with what looks like a member's end past it.
        for key in 28..40 {
            let k = "k".repeat(key);
            cases.push(format!(r#""{k}:7,"a":"b","c":1}}"#).into_bytes());
            cases.push(format!(r#""{k}":7,"a":"b","c":1}}"#).into_bytes());
        }
        // Bytes of every kind, at random (a fixed sequence).
        let alphabet = b"ab:\",}10.e\x1f\x80 \\n";
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        for _ in 0..50_000 {
            let mut doc = vec![b'"'];
            let seed = next();
            let len = (seed % 80) as usize;
            for k in 0..len {
                let pick = (seed >> (k % 58)) as usize ^ k.wrapping_mul(0x9e37);
                doc.push(alphabet[pick % alphabet.len()]);
            }
            cases.push(doc);
        }
        let mut found = 0;
        for doc in &cases {
            if let Some(end) = string_member_end(doc, 0) {
                found += 1;
                assert_eq!(
                    Some(end),
                    general(doc),
                    "{:?}",
                    String::from_utf8_lossy(doc)
                );
            }
        }
        // On x86-64 the window takes most of the well-formed members above.
        if cfg!(all(target_arch = "x86_64", target_feature = "sse2")) {
            assert!(found > 1000, "{found}");
        }
    }

    #[test]
    fn string_stop_finds_the_first_stop_byte() {
        for (s, want) in [
            (&b"abcdefgh\"ij"[..], (Some(8), false)),
            (b"abcdefghijklmnop", (None, true)),
            (b"ab\x01cdefghij\"", (Some(2), false)),
            (b"\xc3\xa9abcdefg\\xyz", (Some(9), true)),
            (b"abc\"", (Some(3), false)),
            (b"abcdefg\x1f", (Some(7), false)),
            (b"\x7f\xff ~abcd\"", (Some(8), true)),
            (b"abcdefgh\xc3\xa9\"", (Some(10), true)),
        ] {
            assert_eq!(string_stop_exact(s), want, "{}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn string_stops_are_found_at_every_place() {
        // Every byte class at every place of bodies longer than the 16-byte blocks and the
        // 8-byte words, from several starts, against a byte-by-byte search: the stops and the
        // bytes around their bounds (0x1f/0x20, 0x7f/0x80) and the quote's and backslash's
        // neighbours.
        let naive = |s: &[u8], j: usize| {
            (j..s.len()).find(|&k| s[k] == b'"' || s[k] == b'\\' || !(0x20..0x80).contains(&s[k]))
        };
        for len in 0..=40 {
            for at in 0..len {
                for byte in [
                    b'"', b'\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff, b'!', b'#', b'[', b']',
                ] {
                    let mut s = vec![b'a'; len];
                    s[at] = byte;
                    if at + 3 < len {
                        s[at + 3] = b'"';
                    }
                    for j in 0..4.min(len + 1) {
                        assert_eq!(string_stop(&s, j), naive(&s, j), "{s:?} from {j}");
                        assert_eq!(string_stop_words(&s, j), naive(&s, j), "{s:?} from {j}");
                    }
                }
            }
            assert_eq!(string_stop(&vec![b'a'; len], 0), None);
            assert_eq!(string_stop_words(&vec![b'a'; len], 0), None);
        }
    }

    #[test]
    fn digit_runs_end_at_every_place() {
        // As `string_stops_are_found_at_every_place`, for `digits`.
        let naive = |s: &[u8], j: usize| {
            (j..s.len())
                .find(|&k| !s[k].is_ascii_digit())
                .unwrap_or(s.len())
        };
        for len in 0..=40 {
            for at in 0..len {
                for byte in [
                    b'/', b':', b'0', b'9', b'.', b'e', b'-', 0x00, 0x80, 0xb0, 0xff,
                ] {
                    let mut s: Vec<u8> = (0..len).map(|k| b'0' + (k % 10) as u8).collect();
                    s[at] = byte;
                    for j in 0..4.min(len + 1) {
                        assert_eq!(digits(&s, j), naive(&s, j), "{s:?} from {j}");
                        assert_eq!(digits_words(&s, j), naive(&s, j), "{s:?} from {j}");
                    }
                }
            }
        }
    }

    #[test]
    fn digit_runs_end_at_the_first_other_byte() {
        for (s, want) in [
            (&b"0123456789:"[..], 10),
            (b"12345678", 8),
            (b"1234567/9", 7),
            (b"12\xb0456789", 2),
            (b"123456789012345678e", 18),
            (b"9", 1),
            (b"", 0),
            (b"x1", 0),
        ] {
            assert_eq!(digits(s, 0), want, "{}", String::from_utf8_lossy(s));
        }
    }

    /// The word-at-a-time string scan agrees with the plain one on every string of pseudo-random
    /// bytes drawn mostly from the ones that matter (quotes, escapes, controls, UTF-8), cut at
    /// every length.
    #[test]
    fn string_scan_agrees_with_the_plain_one() {
        const BYTES: &[u8] = b"\"\\\\/bnutx0aF9 \n\x01\x7f\xc3\xa9\xe2\x82\xac\xff\xed\xa0";
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let len = (next() % 40) as usize;
            let mut doc = vec![b'"'];
            for _ in 0..len {
                let r = next();
                doc.push(if r % 3 == 0 {
                    b'a' + (r % 26) as u8
                } else {
                    BYTES[(r >> 8) as usize % BYTES.len()]
                });
            }
            for cut in 1..=doc.len() {
                let (t, buf) = (Cursor::default(), &doc[..cut]);
                assert_eq!(
                    t.string_end(buf, 0),
                    t.string_end_exact(buf, 0),
                    "{:?}",
                    String::from_utf8_lossy(&doc[..cut])
                );
            }
        }
    }

    #[test]
    fn truncated_documents_are_errors() {
        for doc in [
            &b"{\"data\":[1,2"[..],
            b"{\"a\":\"abc",
            b"[tru",
            b"",
            b"{\"a\"",
        ] {
            assert_eq!(
                events(doc, 3),
                Err(JsonError::Truncated),
                "{:?}",
                String::from_utf8_lossy(doc)
            );
        }
    }

    #[test]
    fn grammar_violations_are_errors() {
        for doc in [
            &b"{\"data\":[{\"store\":\"x\",,]"[..],
            b"[1 2]",
            b"{\"a\" 1}",
            b"{1:2}",
            b"[01]",
            b"[1.]",
            b"[-]",
            b"[1e]",
            b"[truex]",
            b"[\"a\nb\"]",
            b"[\"\\x\"]",
            b"[1]]",
            b"{\"a\":1]",
            b"[1] [2]",
            b"[,1]",
            b"{\"a\":1,}",
            b"[\"\xff\"]",
        ] {
            let got = events(doc, 2);
            assert!(
                matches!(got, Err(JsonError::Syntax { .. })),
                "{:?} gave {got:?}",
                String::from_utf8_lossy(doc)
            );
        }
    }

    #[test]
    fn depth_and_token_length_are_capped() {
        assert_eq!(events(&[b'['; MAX_DEPTH + 1], 7), Err(JsonError::TooDeep));
        let mut long = b"[\"".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_TOKEN + 10));
        long.extend(b"\"]");
        assert_eq!(events(&long, 4096), Err(JsonError::TokenTooLong));
        // A number: the same in one piece as cut anywhere, read or skipped (alone or in a run).
        for n in [MAX_TOKEN, MAX_TOKEN + 1] {
            let digits = "7".repeat(n);
            let want = if n > MAX_TOKEN {
                Err(JsonError::TokenTooLong)
            } else {
                Ok(())
            };
            let read = format!("[{digits}]");
            assert_eq!(events(read.as_bytes(), read.len()).map(|_| ()), want, "{n}");
            for doc in [
                format!("{{\"x\":{digits}}}"),
                format!("{{\"x\":[1,{digits}]}}"),
            ] {
                let whole = skipping(doc.as_bytes(), doc.len()).1;
                assert_eq!(whole, want, "{n} {}", &doc[..8]);
                for step in [4096, 30_000, MAX_TOKEN - 1, MAX_TOKEN, MAX_TOKEN + 3] {
                    assert_eq!(
                        events(read.as_bytes(), step).map(|_| ()),
                        want,
                        "{n} {step}"
                    );
                    assert_eq!(skipping(doc.as_bytes(), step).1, want, "{n} {step}");
                }
            }
        }
    }

    /// The fuzz targets run with `-max_len=65536`, so no token of theirs passes `MAX_TOKEN`:
    /// a string, a key and a number just under and over it, read or skipped, give the same
    /// events and the same outcome (`TokenTooLong` after the same events) fed whole and cut.
    #[test]
    fn overlong_tokens_are_refused_however_cut() {
        for n in [MAX_TOKEN - 1, MAX_TOKEN, MAX_TOKEN + 1] {
            let text = "b".repeat(n);
            let digits = "7".repeat(n);
            // A string of `n` bytes with its quotes: refused from `MAX_TOKEN` bytes of text.
            let string_ok = n < MAX_TOKEN;
            let number_ok = n <= MAX_TOKEN;
            let docs = [
                (format!(r#"{{"a":1,"s":["{text}"],"b":2}}"#), string_ok),
                (format!(r#"{{"a":1,"{text}":1}}"#), string_ok),
                (format!(r#"{{"a":1,"x":"{text}","b":2}}"#), string_ok),
                (format!(r#"{{"a":1,"x":[1,"{text}"],"b":2}}"#), string_ok),
                (
                    format!(r#"{{"a":1,"x":{{"k":"{text}"}},"b":2}}"#),
                    string_ok,
                ),
                // A list of flat objects stepped over whole (`flat_array_end`).
                (
                    format!(r#"{{"a":1,"x":[{{"k":1}},{{"k":"{text}"}}],"b":2}}"#),
                    string_ok,
                ),
                (
                    format!(r#"{{"a":1,"x":[{{"k":1}},{{"{text}":1}}],"b":2}}"#),
                    string_ok,
                ),
                (
                    format!(r#"{{"a":1,"x":[{{"k":"v","n":{digits}}}],"b":2}}"#),
                    number_ok,
                ),
                (format!(r#"{{"a":1,"n":[1,{digits}],"b":2}}"#), number_ok),
                (format!(r#"{{"a":1,"x":{digits},"b":2}}"#), number_ok),
                (format!(r#"{{"a":1,"x":[1,{digits}],"b":2}}"#), number_ok),
            ];
            for (doc, ok) in docs {
                let doc = doc.as_bytes();
                let whole = skipping(doc, doc.len());
                assert_eq!(
                    whole.1.is_ok(),
                    ok,
                    "{n} {}",
                    String::from_utf8_lossy(&doc[..12])
                );
                if !ok {
                    assert_eq!(whole.1, Err(JsonError::TokenTooLong));
                }
                // Reading everything (no `x` key skipped) agrees too.
                assert_eq!(whole, filtered(doc), "{n}");
                // And so do the keys of one byte stepped over (`Cursor::unread_member`), in a
                // piece longer than `MAX_TOKEN` or in shorter ones.
                let want_short = filtered_with(doc, &|k| k.len() == 1, true);
                for step in [
                    1000,
                    4096,
                    8192,
                    30_000,
                    MAX_TOKEN - 1,
                    MAX_TOKEN + 3,
                    doc.len(),
                ] {
                    assert_eq!(
                        skipping(doc, step),
                        whole,
                        "{n} {step} {}",
                        String::from_utf8_lossy(&doc[..12])
                    );
                    assert_eq!(
                        filtering(doc, step, 1, ""),
                        want_short,
                        "{n} {step} {}",
                        String::from_utf8_lossy(&doc[..12])
                    );
                }
            }
        }
    }

    #[test]
    fn agrees_with_serde_json_on_strings() {
        for s in [
            "plain",
            "quote \" and \\ back",
            "tab\tnl\n",
            "ünïcödé €",
            "\u{1F600}",
            "\u{7f}",
        ] {
            let doc = serde_json::to_string(&[s]).unwrap();
            let ev = events(doc.as_bytes(), 1).unwrap();
            assert_eq!(ev[1], format!("Str({s:?})"));
        }
    }

    /// The decoded bytes, checked whole, are valid exactly when each run checked alone is, and
    /// the same text as serde_json decodes.
    #[test]
    fn unescaping_checks_the_text_whole_as_run_by_run() {
        let raws: [&[u8]; 12] = [
            br#"web \"prod\"\\ line"#,
            br"a\u00e9b\ud83d\ude00c",
            b"\\x3a",
            b"caf\xc3\xa9 \\n",
            b"\xc3\\n\xa9",
            b"\xc3\\n",
            b"ok\\n\xff",
            b"\xff\\q",
            b"bad \\q escape",
            b"\\ud800 alone",
            b"\\u12",
            b"",
        ];
        for raw in raws {
            let mut bytes = Vec::new();
            let whole = unescape(raw, &mut bytes)
                .ok()
                .and_then(|()| String::from_utf8(bytes).ok());
            let by_runs = unescape(raw, &mut Discard);
            assert_eq!(whole.is_some(), by_runs.is_ok(), "{raw:?}");
            let quoted = [b"\"".as_ref(), raw, b"\""].concat();
            let serde = serde_json::from_slice::<String>(&quoted).ok();
            if raw != b"\\ud800 alone" {
                assert_eq!(whole, serde, "{raw:?}");
            }
        }
    }
}
