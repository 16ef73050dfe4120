//! Walking a JSON document as it streams in: each scalar reaches an extractor ([`Sink`]) together
//! with its [`Path`] from the root, and each closed container is announced, so an extractor can
//! fill one small struct per array item and act when the item ends. A sink declares the keys it
//! reads ([`Reads`]); the values of all other keys are skipped by the tokenizer at memory speed,
//! still validated, and never reach the sink.

use super::short_eq::short_eq;
use super::tokenizer::{Event, JsonError, KeyFilter, Scalar, Tokenizer};

/// The part of a document a [`Sink`] reads. Arrays are transparent: the items of an array are
/// read as the array is. The values of keys not listed in a `Keys` are skipped: validated, but
/// no scalar or close inside them reaches the sink.
#[derive(Debug, PartialEq, Eq)]
pub enum Reads {
    /// Everything in the value.
    All,
    /// In an object, only these keys, each value read as given; other keys are skipped. A
    /// scalar is read whole.
    Keys(&'static [(&'static str, Reads)]),
}

impl Reads {
    /// True when no `Keys` list in the tree names a key twice: [`Reads::key`] finds a key from
    /// where the last one was found, so of two entries it would take either.
    fn names_once(&self) -> bool {
        match self {
            Reads::All => true,
            Reads::Keys(keys) => keys.iter().enumerate().all(|(at, (name, reads))| {
                keys[..at].iter().all(|(other, _)| other != name) && reads.names_once()
            }),
        }
    }

    /// Whether every key listed may be a [`KeyFilter::expected`] key (all of PBS' may).
    fn plain(&self) -> bool {
        match self {
            Reads::All => false,
            Reads::Keys(keys) => keys.iter().all(|(k, _)| KeyFilter::plain(k)),
        }
    }

    /// The lengths of the keys listed, bit `n` for a length `n` (63 for any longer).
    fn lengths(&self) -> u64 {
        match self {
            Reads::All => u64::MAX,
            Reads::Keys(keys) => keys
                .iter()
                .fold(0, |set, (k, _)| set | 1 << k.len().min(63)),
        }
    }

    /// How the value of `key` is read, `None` when it is skipped; with the listed name of the
    /// key and its index in the list when there is one (the key need not be copied then).
    // Always inlined, as `short_eq`: once per key of every document, and the static build
    // (opt-level "s") would otherwise call both.
    ///
    /// The list is searched from `hint` on, round to where it began, and `hint` is left after
    /// the key found: the members of an object come in the same order in every item of a list,
    /// so the next key read is most often the next one listed, found at the first comparison.
    ///
    /// `lengths` is [`Reads::lengths`]: a key of no listed length is not compared at all.
    #[inline(always)]
    fn key(
        &'static self,
        key: &[u8],
        hint: &mut usize,
        lengths: u64,
    ) -> Option<(Option<Listed>, &'static Reads)> {
        let keys = match self {
            Reads::All => return Some((None, self)),
            Reads::Keys(keys) => keys,
        };
        if lengths >> key.len().min(63) & 1 == 0 {
            return None;
        }
        let mut at = first(*hint, keys.len());
        for _ in 0..keys.len() {
            let (name, reads) = &keys[at];
            if short_eq(name.as_bytes(), key) {
                *hint = at + 1;
                return Some((Some(Listed { name, at }), reads));
            }
            at += 1;
            if at == keys.len() {
                at = 0;
            }
        }
        None
    }
}

/// Where [`Reads::key`] looks first in a list of `len` keys: at `hint`, or at the start once
/// past the end (the next item of a list).
#[inline(always)]
fn first(hint: usize, len: usize) -> usize {
    if hint < len { hint } else { 0 }
}

/// Reading everything: every sink's default, and every reader's under `cfg(fuzzing)` when
/// `read_everything(true)` was called (to compare the skip path with the full one).
static ALL: Reads = Reads::All;

#[cfg(fuzzing)]
thread_local! {
    static READ_EVERYTHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Fuzzing only: makes readers started after this on this thread ignore their sinks' [`Reads`]
/// (`true`) or honour them (`false`, the default), so a target can compare both paths.
#[cfg(fuzzing)]
pub fn read_everything(on: bool) {
    READ_EVERYTHING.with(|c| c.set(on));
}

/// A key its container's [`Reads::Keys`] lists: its name, and where in the list it is.
#[derive(Debug, Clone, Copy)]
struct Listed {
    name: &'static str,
    at: usize,
}

/// One level of the current position: a key inside an object, or an index inside an array.
#[derive(Debug)]
struct Frame {
    /// What the sink reads of this container.
    reads: &'static Reads,
    /// What it reads of the current key's value (objects).
    child: &'static Reads,
    is_array: bool,
    /// The current key (objects) when it is one its [`Reads`] lists, else `None` and it is in
    /// `key`.
    name: Option<Listed>,
    /// The current key (objects) when not listed; its capacity is reused.
    key: String,
    /// Where [`Reads::key`] starts looking for the next key (objects).
    hint: usize,
    /// `reads.lengths()`, computed when `reads` changes (the frame of a list's items reads the
    /// same keys for every item).
    lengths: u64,
    /// `reads.plain()`, computed with `lengths`.
    plain: bool,
    lengths_of: &'static Reads,
    /// The current element index (arrays).
    index: u32,
    /// Elements seen so far (arrays).
    count: u32,
}

impl Default for Frame {
    fn default() -> Self {
        Frame {
            reads: &ALL,
            child: &ALL,
            is_array: false,
            name: None,
            key: String::new(),
            hint: 0,
            lengths: u64::MAX,
            plain: false,
            lengths_of: &ALL,
            index: 0,
            count: 0,
        }
    }
}

impl Frame {
    /// [`Tokenizer::next_in`]'s filter inside this container: the lengths of the keys it reads
    /// and the key it expects next; any key and none expected when reading everything (so
    /// that fuzzing compares the expected key's path with [`Reads::key`]'s).
    #[inline(always)]
    fn filter(&self, read_everything: bool) -> KeyFilter<'static> {
        let lengths = if read_everything {
            u64::MAX
        } else {
            self.lengths
        };
        // `expected` is plain: `Frame::expected` names a key only from a plain list.
        KeyFilter::from_plain(lengths, self.expected_unless(read_everything))
    }

    /// The key [`Reads::key`] would compare first (empty: none, or not a plain one): the
    /// listed key after the last one found, as the members of an object come in the same
    /// order in every item of a list.
    #[inline(always)]
    fn expected(&self) -> &'static [u8] {
        match self.reads {
            Reads::Keys(keys) if self.plain => key_after(keys, self.hint),
            _ => b"",
        }
    }

    /// [`Frame::expected`], none when reading everything.
    #[inline(always)]
    fn expected_unless(&self, read_everything: bool) -> &'static [u8] {
        if read_everything {
            b""
        } else {
            self.expected()
        }
    }

    /// Makes the key [`Frame::expected`] named the current key: what [`enter_key`] does
    /// when [`Reads::key`] finds it at its first comparison. Returns the key expected next.
    #[inline(always)]
    fn enter_expected(&mut self) -> &'static [u8] {
        let Reads::Keys(keys) = self.reads else {
            return b"";
        };
        let at = first(self.hint, keys.len());
        let Some((name, reads)) = keys.get(at) else {
            return b"";
        };
        self.child = reads;
        self.name = Some(Listed { name, at });
        self.hint = at + 1;
        // `self.expected()`, knowing the list is plain (its key was expected).
        key_after(keys, at + 1)
    }
}

/// The key [`Reads::key`] compares first in `keys` with `hint` ([`first`]; empty: none).
#[inline(always)]
fn key_after(keys: &'static [(&'static str, Reads)], hint: usize) -> &'static [u8] {
    keys.get(first(hint, keys.len()))
        .map_or(b"", |(k, _)| k.as_bytes())
}

/// Where a value sits: one segment per enclosing container, outermost first.
#[derive(Debug)]
pub struct Path<'a> {
    frames: &'a [Frame],
}

impl Path<'_> {
    /// Number of segments.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True at the document's top level.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The key at segment `i`, if that segment is inside an object.
    pub fn key(&self, i: usize) -> Option<&str> {
        self.frames
            .get(i)
            .filter(|f| !f.is_array)
            .map(|f| f.name.map_or(&*f.key, |l| l.name))
    }

    /// Where the key at segment `i` stands in its container's [`Reads::Keys`] list (`None`: the
    /// segment is an array's, or its key is not listed). Lets a sink tell the keys it reads
    /// apart without comparing them again.
    #[inline]
    pub fn listed(&self, i: usize) -> Option<usize> {
        self.frames
            .get(i)
            .filter(|f| !f.is_array)
            .and_then(|f| f.name)
            .map(|l| l.at)
    }

    /// True when segment `i` is inside an array.
    #[inline]
    pub fn is_index(&self, i: usize) -> bool {
        self.frames.get(i).is_some_and(|f| f.is_array)
    }

    /// The array index at segment `i`, if that segment is inside an array.
    pub fn index(&self, i: usize) -> Option<u32> {
        self.frames.get(i).filter(|f| f.is_array).map(|f| f.index)
    }

    /// True when the path is `data` then exactly `rest` keys (a field of `{"data":{...}}`).
    pub fn is_data_field(&self, rest: &[&str]) -> bool {
        self.len() == 1 + rest.len()
            && self.key(0) == Some("data")
            && rest
                .iter()
                .enumerate()
                .all(|(i, k)| self.key(1 + i) == Some(*k))
    }

    /// The key of a field directly inside an item of the `data` array (`data[i].key`).
    pub fn item_key(&self) -> Option<&str> {
        if self.len() == 3 && self.key(0) == Some("data") && self.index(1).is_some() {
            self.key(2)
        } else {
            None
        }
    }

    /// True when the first `n` segments are `data[i]` followed by keys (a field nested `n - 2`
    /// levels inside an item of the `data` array).
    pub fn item_key_at(&self, n: usize) -> bool {
        self.len() > n
            && self.key(0) == Some("data")
            && self.index(1).is_some()
            && (2..=n).all(|i| self.key(i).is_some())
    }

    /// The key of a field directly inside the `data` object (`data.key`).
    pub fn data_key(&self) -> Option<&str> {
        if self.len() == 2 && self.key(0) == Some("data") {
            self.key(1)
        } else {
            None
        }
    }

    /// True when the path is one item of the `data` array.
    pub fn is_item(&self) -> bool {
        self.len() == 2 && self.key(0) == Some("data") && self.index(1).is_some()
    }
}

/// An endpoint's extractor: told every scalar and every closed container.
pub trait Sink {
    /// Reads long lists (a datastore's snapshots: tens of thousands of items), so the
    /// tokenizer's step is inlined into this sink's loop ([`Tokenizer::next_in`]: 1.0 M fewer
    /// instructions a large snapshot list); the others call it ([`Tokenizer::next_in_call`]),
    /// keeping one copy of its code in the binary.
    const BULK: bool = false;
    /// A scalar at `path` (its last segment is the key or index it sits at).
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>);
    /// A container at `path` has just closed (e.g. `path.is_item()` for a list item).
    fn close(&mut self, _path: &Path<'_>) {}
    /// The part of the document this sink reads: every `scalar` and `close` it acts on must lie
    /// inside it (the `extractors` fuzz target compares with reading everything).
    fn reads(&self) -> &'static Reads {
        &ALL
    }
}

/// A tokenizer plus the path it is at: feed bytes, and the sink hears about the values.
#[derive(Debug, Default)]
pub struct JsonReader {
    tokenizer: Tokenizer,
    /// Frames keep their key buffers when popped; `depth` counts the live ones.
    frames: Vec<Frame>,
    depth: usize,
    /// Ignore the sink's [`Reads`] (fuzzing's comparison only).
    read_everything: bool,
}

impl JsonReader {
    /// A reader at the start of a document.
    pub fn new() -> Self {
        JsonReader::default()
    }

    /// Starts a new document, keeping allocated buffers.
    pub fn reset(&mut self) {
        self.tokenizer.reset();
        self.depth = 0;
        #[cfg(fuzzing)]
        {
            self.read_everything = READ_EVERYTHING.with(|c| c.get());
        }
    }

    /// Whether the sink's [`Reads`] is ignored: only ever under fuzzing, so that elsewhere the
    /// branches it takes are not built (`feed` is built once per sink).
    #[inline(always)]
    fn everything(&self) -> bool {
        cfg!(fuzzing) && self.read_everything
    }

    /// Frees the buffers (a target held idle); the next document allocates them again.
    pub fn release(&mut self) {
        *self = JsonReader {
            read_everything: self.read_everything,
            ..JsonReader::default()
        };
    }

    /// Feeds bytes and delivers every value they complete to `sink`.
    pub fn feed<S: Sink + ?Sized>(&mut self, bytes: &[u8], sink: &mut S) -> Result<(), JsonError> {
        self.tokenizer.feed(bytes);
        let everything = self.everything();
        let frames = &mut self.frames;
        let depth = &mut self.depth;
        // Keys of no length the innermost object reads: stepped over by the tokenizer; and the
        // key it expects next. Kept here, changed where the innermost container or its current
        // key does.
        let mut filter = key_filter(frames, *depth, everything);
        loop {
            let ev = if S::BULK {
                self.tokenizer.next_in(bytes, filter)?
            } else {
                self.tokenizer.next_in_call(bytes, filter)?
            };
            let Some(ev) = ev else { break };
            // One place for each step, not one per kind of event: `feed` is built once per
            // sink, and the sink's `scalar` is inlined where it is called.
            let (key, value) = match ev {
                Event::Key(k) => (Some(k), None),
                Event::Member(k, v) => (Some(k), Some(v)),
                Event::Str(s) => (None, Some(Scalar::Str(s))),
                Event::Number(n) => (None, Some(Scalar::Num(n))),
                Event::Bool(b) => (None, Some(Scalar::Bool(b))),
                Event::Null => (None, Some(Scalar::Null)),
                Event::StartObject | Event::StartArray => {
                    let top = if *depth == 0 {
                        Some(sink.reads())
                    } else {
                        None
                    };
                    filter = open(frames, depth, top, ev == Event::StartArray, everything);
                    continue;
                }
                Event::EndObject | Event::EndArray => {
                    *depth -= 1;
                    filter = key_filter(frames, *depth, everything);
                    sink.close(&Path {
                        frames: &frames[..*depth],
                    });
                    continue;
                }
            };
            if let Some(k) = key {
                let f = &mut frames[*depth - 1];
                // The expected key comes as `filter.expected()` itself (`KeyFilter`).
                let expected = filter.expected();
                if !expected.is_empty()
                    && k.as_ptr() == expected.as_ptr()
                    && k.len() == expected.len()
                {
                    filter = filter.expecting(f.enter_expected());
                } else if enter_key(f, k, everything) {
                    filter = filter.expecting(f.expected_unless(everything));
                } else {
                    // A lone key: its value comes next, skipped (a member's was read).
                    if value.is_none() {
                        self.tokenizer.skip_value();
                    }
                    continue;
                }
            }
            if let Some(v) = value {
                scalar(frames, *depth, sink, v);
            }
        }
        Ok(())
    }

    /// Reads a whole document given in pieces (tests, fuzzing, benchmarks: the same path as a
    /// response streamed from PBS).
    pub fn read_pieces<'p, S: Sink + ?Sized>(
        &mut self,
        pieces: impl IntoIterator<Item = &'p [u8]>,
        sink: &mut S,
    ) -> Result<(), JsonError> {
        self.reset();
        for piece in pieces {
            self.feed(piece, sink)?;
        }
        self.finish()
    }

    /// Checks that the document ended complete.
    pub fn finish(&mut self) -> Result<(), JsonError> {
        self.tokenizer.finish()
    }
}

/// [`Tokenizer::next_in`]'s filter in the innermost container ([`Frame::filter`]; any key
/// and none expected outside every container).
// Out of line: `feed` is built once per sink (the static binary's size budget).
#[inline(never)]
fn key_filter(frames: &[Frame], depth: usize, read_everything: bool) -> KeyFilter<'static> {
    match depth.checked_sub(1).and_then(|d| frames.get(d)) {
        Some(f) => f.filter(read_everything),
        None => KeyFilter::ANY,
    }
}

/// Opens a container at `depth` (`top`: the sink's `Reads`, at the top level); returns its
/// [`key_filter`].
#[inline(never)]
fn open(
    frames: &mut Vec<Frame>,
    depth: &mut usize,
    top: Option<&'static Reads>,
    is_array: bool,
    everything: bool,
) -> KeyFilter<'static> {
    advance(frames, *depth);
    let reads = match depth.checked_sub(1).map(|d| &frames[d]) {
        None => top.unwrap_or(&ALL),
        Some(parent) if parent.is_array => parent.reads,
        Some(parent) => parent.child,
    };
    if *depth == frames.len() {
        frames.push(Frame::default());
    }
    let f = &mut frames[*depth];
    f.reads = reads;
    f.is_array = is_array;
    f.name = None;
    f.key.clear();
    f.count = 0;
    f.hint = 0;
    if !std::ptr::eq(f.lengths_of, reads) {
        debug_assert!(reads.names_once(), "a key listed twice in {reads:?}");
        f.lengths = reads.lengths();
        f.plain = reads.plain();
        f.lengths_of = reads;
    }
    f.index = 0;
    *depth += 1;
    f.filter(everything)
}

/// Makes `key` the current key of the object `f` when its value is read (true), else leaves
/// `f` as it is (false: the value is skipped).
#[inline(always)]
fn enter_key(f: &mut Frame, key: &[u8], read_everything: bool) -> bool {
    let (name, child) = match f.reads.key(key, &mut f.hint, f.lengths) {
        Some(read) => read,
        None if !read_everything => return false,
        None => (None, &ALL),
    };
    f.child = child;
    f.name = name;
    if name.is_none() {
        f.key.clear();
        // The tokenizer hands out valid UTF-8 only.
        f.key.push_str(std::str::from_utf8(key).unwrap_or(""));
    }
    true
}

/// Moves the innermost array (if the innermost container is one) to its next element.
#[inline(always)]
fn advance(frames: &mut [Frame], depth: usize) {
    if let Some(f) = depth.checked_sub(1).map(|d| &mut frames[d]) {
        if f.is_array {
            f.index = f.count;
            f.count = f.count.saturating_add(1);
        }
    }
}

#[inline(always)]
fn scalar<S: Sink + ?Sized>(frames: &mut [Frame], depth: usize, sink: &mut S, value: Scalar<'_>) {
    advance(frames, depth);
    sink.scalar(
        &Path {
            frames: &frames[..depth],
        },
        value,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every value as `path=value` and every close as `close path`.
    #[derive(Default)]
    struct Recorder(Vec<String>);

    fn show(path: &Path<'_>) -> String {
        (0..path.len())
            .map(|i| match (path.key(i), path.index(i)) {
                (Some(k), _) => k.to_string(),
                (_, Some(n)) => n.to_string(),
                _ => "?".into(),
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    impl Sink for Recorder {
        fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
            self.0.push(format!("{}={value:?}", show(path)));
        }
        fn close(&mut self, path: &Path<'_>) {
            if path.is_item() {
                self.0.push(format!("item {}", show(path)));
            }
        }
    }

    /// `doc` read whole by a new `S`, in pieces of `step` bytes.
    fn read_in_steps<S: Sink + Default>(doc: &[u8], step: usize) -> S {
        let mut sink = S::default();
        let read = JsonReader::new().read_pieces(doc.chunks(step), &mut sink);
        assert_eq!(read, Ok(()), "in steps of {step}");
        sink
    }

    #[test]
    fn paths_name_keys_and_indexes() {
        let doc =
            br#"{"data":[{"a":1,"v":{"state":"ok"},"f":[{"n":"x"},{"n":"y"}]},{"a":2}],"total":2}"#;
        for step in [1, 5, doc.len()] {
            let rec: Recorder = read_in_steps(doc, step);
            assert_eq!(
                rec.0,
                [
                    "data.0.a=Num(\"1\")",
                    "data.0.v.state=Str(\"ok\")",
                    "data.0.f.0.n=Str(\"x\")",
                    "data.0.f.1.n=Str(\"y\")",
                    "item data.0",
                    "data.1.a=Num(\"2\")",
                    "item data.1",
                    "total=Num(\"2\")",
                ]
            );
        }
    }

    /// A [`Recorder`] that reads only `data[].a`, `data[].v.state` and `total`.
    #[derive(Default)]
    struct Picky(Recorder);

    static PICKY: Reads = Reads::Keys(&[
        (
            "data",
            Reads::Keys(&[
                ("a", Reads::All),
                ("v", Reads::Keys(&[("state", Reads::All)])),
            ]),
        ),
        ("total", Reads::All),
    ]);

    impl Sink for Picky {
        fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
            self.0.scalar(path, value);
        }
        fn close(&mut self, path: &Path<'_>) {
            self.0.close(path);
        }
        fn reads(&self) -> &'static Reads {
            &PICKY
        }
    }

    /// Every collector's `Reads` names each key once per list (`Reads::key` searches from a
    /// hint, so a second entry of a name would be found or not by where the search began).
    #[test]
    fn no_list_names_a_key_twice() {
        use crate::collectors::{datastore, groups, snapshot_refresh, snapshots};
        let all: [&Reads; 5] = [
            &PICKY,
            &datastore::USAGE_READS,
            &groups::GROUP_READS,
            &snapshots::SNAPSHOT_READS,
            &snapshot_refresh::TASK_READS,
        ];
        for reads in all {
            assert!(reads.names_once(), "{reads:?}");
        }
        static TWICE: Reads = Reads::Keys(&[
            ("data", Reads::Keys(&[("a", Reads::All), ("b", Reads::All)])),
            (
                "x",
                Reads::Keys(&[("a", Reads::All), ("b", Reads::All), ("a", Reads::All)]),
            ),
        ]);
        assert!(!TWICE.names_once());
    }

    #[test]
    fn unread_keys_are_skipped() {
        let doc = br#"{"data":[{"a":1,"v":{"upid":"U","state":"ok"},"f":[{"n":"x"}],"v2":1},[{"a":3,"b":4}],{"a":2}],"total":2,"more":{"a":5}}"#;
        for step in [1, 5, doc.len()] {
            let rec: Picky = read_in_steps(doc, step);
            assert_eq!(
                rec.0.0,
                [
                    "data.0.a=Num(\"1\")",
                    "data.0.v.state=Str(\"ok\")",
                    "item data.0",
                    // Arrays are transparent: an item's own array is read like the item.
                    "data.1.0.a=Num(\"3\")",
                    "item data.1",
                    "data.2.a=Num(\"2\")",
                    "item data.2",
                    "total=Num(\"2\")",
                ]
            );
        }
        // Errors inside a skipped value still end the document.
        let mut r = JsonReader::new();
        let bad = r.read_pieces([&br#"{"data":[{"f":[1,,2]}]}"#[..]], &mut Picky::default());
        assert!(
            matches!(bad, Err(JsonError::Syntax { at: 17, .. })),
            "{bad:?}"
        );
        let cut = r.read_pieces([&br#"{"data":[{"f":[1,2"#[..]], &mut Picky::default());
        assert_eq!(cut, Err(JsonError::Truncated));
    }

    /// Keys in another order than the list's (the expected key missed, then found by
    /// [`Reads::key`]'s search) give the same values, and the next item's expected key is
    /// found again.
    #[test]
    fn keys_out_of_order_are_read() {
        let doc = br#"{"total":3,"data":[{"a":1,"v":{"state":"ok"}},{"v":{"state":"failed"},"a":2},{"v":{"x":1,"state":"none"},"a":3,"b":0},{"a":4,"v":{}}]}"#;
        for step in 1..=doc.len() {
            let rec: Picky = read_in_steps(doc, step);
            assert_eq!(
                rec.0.0,
                [
                    "total=Num(\"3\")",
                    "data.0.a=Num(\"1\")",
                    "data.0.v.state=Str(\"ok\")",
                    "item data.0",
                    "data.1.v.state=Str(\"failed\")",
                    "data.1.a=Num(\"2\")",
                    "item data.1",
                    "data.2.v.state=Str(\"none\")",
                    "data.2.a=Num(\"3\")",
                    "item data.2",
                    "data.3.a=Num(\"4\")",
                    "item data.3",
                ],
                "in steps of {step}"
            );
        }
    }

    #[test]
    fn scalar_conversions() {
        assert_eq!(
            Scalar::Num("18446744073709551615".into()).as_u64(),
            Some(u64::MAX)
        );
        assert_eq!(Scalar::Num("-1".into()).as_u64(), None);
        assert_eq!(
            Scalar::Num("9223372036854775807".into()).as_i64(),
            Some(i64::MAX)
        );
        assert_eq!(Scalar::Num("1.5e300".into()).as_i64(), Some(i64::MAX));
        assert_eq!(Scalar::Num("1.5".into()).as_i64(), Some(1));
        assert_eq!(Scalar::Null.as_f64(), None);
        assert_eq!(Scalar::Str("1".into()).as_u64(), None);
        assert_eq!(Scalar::Num("1".into()).as_bool(), Some(true));
    }
}
