//! Reading payloads: `decode` for a payload at hand, a `Decoder` for one that arrives in
//! pieces, both handing plain parts to the receiver's `Builder`. The invariant: whatever the
//! pieces, the answer is the one `decode` gives for the whole payload; every read is checked
//! against the payload's announced length, nesting is bounded by `MAX_DEPTH` on a heap stack,
//! room made in advance is bounded by the size of the input, and no input panics.

use super::encode::INT_SIZE;
use super::format::{
    Length, MAX_DEPTH, MIN_ENTRY, TAG_ERROR, TAG_FALSE, TAG_FLOAT, TAG_INT, TAG_LIST, TAG_MAP, TAG_NIL, TAG_STR,
    TAG_TRUE, VERSION, WireError, bad,
};
use super::keys::{SeenKeys, key_type_error};

/// Builds the receiver's values from decoded parts (the interpreter implements this over its heap).
pub trait Builder {
    type Value;
    fn nil(&mut self) -> Self::Value;
    fn bool(&mut self, b: bool) -> Self::Value;
    fn int(&mut self, i: i64) -> Self::Value;
    fn float(&mut self, f: f64) -> Self::Value;
    fn str(&mut self, s: &str) -> Self::Value;
    /// A string the decoder has found to be ASCII (its length is its char count).
    fn ascii_str(&mut self, s: &str) -> Self::Value {
        self.str(s)
    }
    fn list(&mut self, items: Vec<Self::Value>) -> Self::Value;
    /// A list whose items are all nil, bools, ints or floats (none made by `str`, `list`,
    /// `map` or `error`): a receiver may note that it holds no references.
    fn leaf_list(&mut self, items: Vec<Self::Value>) -> Self::Value {
        self.list(items)
    }
    /// The keys are nil, bool, int or str values, no two the same (the decoder refuses any
    /// other map). The builder may still refuse the map; its error is passed through unchanged.
    fn map(&mut self, pairs: Vec<(Self::Value, Self::Value)>) -> Result<Self::Value, WireError>;
    fn error(&mut self, kind: &str, message: &str, traceback: Vec<(String, u32, String)>) -> Self::Value;
}

/// Why a read stopped: the message is bad, or the bytes it needs have not arrived yet.
enum Stop {
    Bad(WireError),
    More,
}

impl From<WireError> for Stop {
    fn from(e: WireError) -> Stop {
        Stop::Bad(e)
    }
}

/// A cursor over the payload whose every read is checked against the payload's announced
/// length (`total`); `bytes` is the part that has arrived, and a read past it (but within
/// `total`) stops with `Stop::More`.
struct Reader<'a> {
    bytes: &'a [u8],
    total: usize,
    /// Whether `total` is the payload's length, or only a bound on it (a streamed frame whose
    /// end has not arrived).
    known: bool,
    /// The counts were written by this process's own encoder (see
    /// [`Decoder::from_own_encoder`]).
    own: bool,
    /// Where in the payload `bytes` starts: `pos` and `total` count from there, and messages
    /// add it back, so that they name bytes of the payload.
    base: usize,
    pos: usize,
}

impl Reader<'_> {
    /// How many items of at least `min_size` bytes to make room for in advance, of the `n`
    /// announced: all of them when the payload's length is known (`count` checked they fit)
    /// or the count comes from this process's own encoder, else only as many as the bytes
    /// at hand could hold; the rest grow as they arrive.
    fn room_for(&self, n: usize, min_size: usize) -> usize {
        if self.known || self.own {
            n
        } else {
            n.min(self.bytes.len().saturating_sub(self.pos) / min_size)
        }
    }
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.total.saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Stop> {
        if n > self.left() {
            return Err(Stop::Bad(bad(format_args!(
                "truncated {what} at byte {} (needs {n} bytes, {} left)",
                self.base + self.pos,
                self.left()
            ))));
        }
        let Some(out) = self.bytes.get(self.pos..self.pos + n) else {
            return Err(Stop::More);
        };
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Stop> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8, Stop> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A count or byte length, checked to fit in what is left: each of the `n` things it
    /// announces takes at least `min_size` bytes, and `reserved` bytes are already promised
    /// to the unread items of enclosing containers.
    fn count(&mut self, what: &str, unit: &str, min_size: usize, reserved: usize) -> Result<usize, Stop> {
        let at = self.base + self.pos;
        let n = u64::from_le_bytes(self.array::<8>(what)?);
        let room = self.left().saturating_sub(reserved) / min_size;
        if n > room as u64 {
            return Err(Stop::Bad(bad(format_args!(
                "{what} of {n} {unit} at byte {at} does not fit in the rest of the message \
                 (room for at most {room})"
            ))));
        }
        Ok(n as usize)
    }

    fn str(&mut self, what: &str) -> Result<&'a str, Stop> {
        let len = self.count(what, "bytes", 1, 0)?;
        let at = self.base + self.pos;
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes).map_err(|e| {
            Stop::Bad(bad(format_args!(
                "invalid UTF-8 in {what} at byte {}",
                at + e.valid_up_to()
            )))
        })
    }
}

/// The most strings `str_run` validates in one piece: enough to amortise the call, few
/// enough that the bytes are still in cache when they are copied out.
const STR_RUN: usize = 64;

/// Reads up to `max` consecutive whole strings at `r.pos` and hands each to `out` with
/// whether it is ASCII; returns how many it read (0 if the next item is not a whole string
/// within the bytes at hand, which the caller's checked read then reports).
///
/// Short strings are validated together: the bytes from the first string's text to the last
/// one's (tags and length fields included) are checked as UTF-8 once, and each string is
/// sliced out of that text. A string cut from valid UTF-8 at char boundaries is valid, so
/// this accepts exactly what validating each string alone accepts; when the span is not
/// valid as a whole (a long string's length field, or a bad byte), each string is validated
/// alone, and the first bad one is left for the caller to report, exactly as before.
fn str_run(r: &mut Reader<'_>, max: usize, mut out: impl FnMut(&str, bool)) -> usize {
    let mut spans = [(0usize, 0usize); STR_RUN];
    let mut n = 0;
    let mut p = r.pos;
    while n < max.min(STR_RUN) {
        let Some(head) = r.bytes.get(p..p + 9) else { break };
        let (&[tag], len) = head.split_at(1) else { break };
        let Ok(len) = <[u8; 8]>::try_from(len) else { break };
        let len = u64::from_le_bytes(len);
        let start = p + 9;
        if tag != TAG_STR || len > (r.bytes.len() - start) as u64 {
            break;
        }
        spans[n] = (start, start + len as usize);
        p = start + len as usize;
        n += 1;
    }
    let spans = &spans[..n];
    let (Some(&(first, _)), Some(&(_, last))) = (spans.first(), spans.last()) else {
        return 0;
    };
    let mut done = 0;
    if let Ok(text) = std::str::from_utf8(&r.bytes[first..last]) {
        let ascii = text.is_ascii();
        // A span that does not start and end on char boundaries is not valid alone.
        while let Some(s) = spans.get(done).and_then(|&(a, b)| text.get(a - first..b - first)) {
            out(s, ascii);
            done += 1;
        }
    }
    // The rest one at a time; the first string that is not UTF-8 stops the run.
    while let Some(s) = spans
        .get(done)
        .and_then(|&(a, b)| std::str::from_utf8(&r.bytes[a..b]).ok())
    {
        out(s, s.is_ascii());
        done += 1;
    }
    if let Some(&(_, end)) = done.checked_sub(1).and_then(|i| spans.get(i)) {
        r.pos = end;
    }
    done
}

/// A list or map whose items are still being read.
enum Open<V> {
    List {
        items: Vec<V>,
        left: usize,
        /// Every item so far was a nil, bool, int or float.
        leaves: bool,
    },
    Map {
        pairs: Vec<(V, V)>,
        key: Option<V>,
        left: usize,
    },
}

/// Decodes one frame's payload (the bytes after the length prefix, starting with the version
/// byte), all of which is at hand.
pub fn decode<B: Builder>(frame: &[u8], builder: &mut B) -> Result<B::Value, WireError> {
    match Decoder::new().feed(frame, Length::Exactly(frame.len()), builder)? {
        Some(v) => Ok(v),
        // A decoder given the whole payload never waits for more; kept an error, not a panic.
        None => Err(bad(format_args!("incomplete message"))),
    }
}

/// Decodes one payload that may arrive in pieces, so a receiver can decode the start of a
/// long message while the rest is still on its way. `feed` it the bytes received so far,
/// each time more arrive; it carries on from the first item it has not finished.
///
/// Whatever the pieces, the answer is the one `decode` gives for the whole payload: every
/// check is made against the payload's announced length, never against the bytes that
/// happen to have arrived, and an item is handed to the `Builder` only once all its bytes
/// are there (an item cut by the end of a piece is read again, whole, from its first byte).
///
/// Iterative, with an explicit stack of open containers, so deep input costs heap, not
/// machine stack. Every announced count is checked against the bytes left *minus* the bytes
/// already promised to enclosing containers, which bounds all pre-allocation together by the
/// size of the input.
pub struct Decoder<V> {
    /// The value, complete, while a streamed payload's end has not arrived (trailing bytes
    /// could still follow).
    done: Option<V>,
    stack: Vec<Open<V>>,
    /// The keys of the open maps, to refuse a map whose keys repeat.
    keys: SeenKeys,
    /// Bytes the unread items of open containers need at the least (one tag each).
    reserved: usize,
    /// Where the first item not yet decoded starts (0: the version byte is still to be read).
    pos: usize,
    /// How many bytes past `pos` had arrived when the decoder last stopped for more. It tries
    /// that item again only once twice as many are there (or the payload is complete), so an
    /// item spread over many pieces (a long string, a long traceback) is re-read only a
    /// logarithmic number of times.
    waiting: usize,
    /// See [`Decoder::from_own_encoder`].
    own: bool,
    /// Where the window of the last feed started in the payload (see [`Decoder::feed_from`]).
    base: usize,
}

impl<V> Default for Decoder<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> Decoder<V> {
    pub fn new() -> Self {
        Decoder {
            done: None,
            stack: Vec::new(),
            keys: SeenKeys::new(),
            reserved: 0,
            pos: 0,
            waiting: 0,
            own: false,
            base: 0,
        }
    }

    /// A decoder for a streamed payload written by this process's own encoder (a message
    /// between two interpreters of one process): every count it reads announces items of a
    /// value that exists in this process's memory and is on its way, so room for all of
    /// them is made at once rather than grown piece by piece (a million-item list would
    /// otherwise be copied into ever larger buffers some ten times). Every check on the
    /// bytes is still made; only the advance allocation is no longer bounded by the bytes
    /// at hand, and it is bounded by the receiver's cap as for any announced length.
    pub fn from_own_encoder() -> Self {
        Decoder {
            own: true,
            ..Self::new()
        }
    }

    /// Decodes as far as `got` allows. `got` is the start of a payload of length `len` (the
    /// same payload on every call, longer each time). Ok(Some(value)) when the value is
    /// complete, Ok(None) when more bytes are needed; an error is final, as is a value: a
    /// decoder is used for one payload.
    pub fn feed<B: Builder<Value = V>>(
        &mut self,
        got: &[u8],
        len: Length,
        builder: &mut B,
    ) -> Result<Option<V>, WireError> {
        self.feed_from(got, 0, len, builder)
    }

    /// As [`Decoder::feed`], given only the payload's bytes from `base` on (`window`), so
    /// that a receiver can drop the bytes before [`Decoder::needed_from`] (or never join
    /// them: see `PieceDecoder`). `base` is at most `needed_from()`; while a map is open it
    /// is the `base` of the call that opened it, since the map's keys are remembered by their
    /// place in that window. A `base` that breaks this is refused as an error.
    pub fn feed_from<B: Builder<Value = V>>(
        &mut self,
        window: &[u8],
        base: usize,
        len: Length,
        builder: &mut B,
    ) -> Result<Option<V>, WireError> {
        let (total, known) = match len {
            Length::Exactly(n) => (n, true),
            Length::AtMost(n) => (n, false),
        };
        // `base <= pos`, and a new base only while no map is open (its keys' places are in
        // the old window); the open maps are looked for only when the base moves.
        if base > self.pos || (base != self.base && self.map_open()) {
            return Err(bad(format_args!(
                "bytes from {base} on given to a decoder that needs them from {}",
                self.needed_from()
            )));
        }
        self.base = base;
        let got = &window[..window.len().min(total.saturating_sub(base))];
        let arrived = base + got.len();
        if let Some(v) = self.done.take() {
            return self.end(v, total, known);
        }
        let complete = known && arrived == total;
        let have = arrived.saturating_sub(self.pos);
        if !complete && have < self.waiting.saturating_mul(2) {
            return Ok(None);
        }
        let mut r = Reader {
            bytes: got,
            total: total - base,
            known,
            own: self.own,
            base,
            pos: self.pos - base,
        };
        match self.run(&mut r, builder) {
            Ok(v) => {
                self.pos = base + r.pos;
                self.end(v, total, known)
            }
            Err(Stop::More) => {
                self.waiting = arrived.saturating_sub(self.pos);
                Ok(None)
            }
            Err(Stop::Bad(e)) => Err(e),
        }
    }

    /// The first byte of the payload a later feed may read: where the next item starts,
    /// or, while a map is open, the start of the window its keys were read from.
    pub fn needed_from(&self) -> usize {
        if self.map_open() { self.base } else { self.pos }
    }

    fn map_open(&self) -> bool {
        self.stack.iter().any(|open| matches!(open, Open::Map { .. }))
    }

    /// Where the decoder stands: the first byte not yet decoded, and how many bytes past it
    /// had arrived when it last stopped for more. Tests watch it to count the feeds that did work.
    #[cfg(test)]
    pub(super) fn progress(&self) -> (usize, usize) {
        (self.pos, self.waiting)
    }

    /// The value is complete at `self.pos`: it is the answer once the payload is known to end
    /// there too.
    fn end(&mut self, v: V, total: usize, known: bool) -> Result<Option<V>, WireError> {
        if !known {
            self.done = Some(v);
            return Ok(None);
        }
        if total > self.pos {
            return Err(bad(format_args!(
                "{} trailing bytes after the value, at byte {}",
                total - self.pos,
                self.pos
            )));
        }
        Ok(Some(v))
    }

    /// The decoding loop. Before each item it records where that item starts (`pos`,
    /// `reserved`), so that a `Stop::More` anywhere inside the item leaves the decoder ready
    /// to read it again from its first byte; containers change only once an item is whole.
    fn run<B: Builder<Value = V>>(&mut self, r: &mut Reader<'_>, builder: &mut B) -> Result<V, Stop> {
        if r.base + r.pos == 0 {
            if r.total == 0 {
                return Err(Stop::Bad(bad(format_args!("empty message (no version byte)"))));
            }
            let version = r.u8("version")?;
            if version != VERSION {
                return Err(Stop::Bad(bad(format_args!(
                    "unsupported version {version} at byte 0 (this toy reads version {VERSION})"
                ))));
            }
            self.pos = 1;
        }
        let Decoder {
            stack,
            keys,
            reserved: saved_reserved,
            pos: saved_pos,
            ..
        } = self;
        let mut reserved = *saved_reserved;
        loop {
            // Fast path: runs of leaves go straight into the innermost open list, without the
            // general step's pop and push of its container. The list's last item is left to
            // the general step, which closes the list.
            if let Some(Open::List { items, left, leaves }) = stack.last_mut() {
                while *left > 1 {
                    (*saved_pos, *saved_reserved) = (r.base + r.pos, reserved);
                    let Some(&tag) = r.bytes.get(r.pos) else { break };
                    let v = match tag {
                        TAG_INT => {
                            // A run of ints (the common big message), 9 bytes each: first
                            // how many whole ints follow (up to the list's last item), then
                            // all of them in one exact-size extend, with no tag dispatch,
                            // growth check or position update per item.
                            // Taken as 9-byte arrays, so that neither pass checks bounds.
                            let whole = r.bytes.len().saturating_sub(r.pos) / INT_SIZE;
                            let span = &r.bytes[r.pos..r.pos + INT_SIZE * whole.min(*left - 1)];
                            let (ints, _) = span.as_chunks::<INT_SIZE>();
                            let run = ints.iter().position(|c| c[0] != TAG_INT).unwrap_or(ints.len());
                            if run > 0 {
                                items.extend(ints[..run].iter().map(|&[_, a, b, c, d, e, f, g, h]| {
                                    builder.int(i64::from_le_bytes([a, b, c, d, e, f, g, h]))
                                }));
                                r.pos += INT_SIZE * run;
                                *left -= run;
                                reserved -= run;
                                continue;
                            }
                            // Not even one whole int left: the checked read reports it.
                            r.pos += 1;
                            builder.int(i64::from_le_bytes(r.array("int")?))
                        }
                        TAG_FLOAT => {
                            r.pos += 1;
                            builder.float(f64::from_bits(u64::from_le_bytes(r.array("float")?)))
                        }
                        TAG_STR => {
                            *leaves = false;
                            let run = str_run(r, (*left - 1).min(STR_RUN), |s, ascii| {
                                items.push(if ascii { builder.ascii_str(s) } else { builder.str(s) });
                            });
                            if run > 0 {
                                *left -= run;
                                reserved -= run;
                                continue;
                            }
                            // Not even one whole string left: the checked read reports it.
                            r.pos += 1;
                            let s = r.str("string")?;
                            builder.str(s)
                        }
                        TAG_NIL => {
                            r.pos += 1;
                            builder.nil()
                        }
                        TAG_FALSE | TAG_TRUE => {
                            r.pos += 1;
                            builder.bool(tag == TAG_TRUE)
                        }
                        _ => break,
                    };
                    items.push(v);
                    *left -= 1;
                    reserved -= 1;
                }
            }
            (*saved_pos, *saved_reserved) = (r.base + r.pos, reserved);
            if !stack.is_empty() {
                reserved -= 1;
            }
            // `at` is in the window (the map keys' record); messages add `r.base`.
            let at = r.pos;
            let tag = r.u8("value tag")?;
            if let Some(Open::Map { key: None, .. }) = stack.last()
                && let Some(what) = key_type_error(tag)
            {
                return Err(Stop::Bad(bad(format_args!(
                    "map key at byte {} is {what} (a map key is nil, a bool, an int or a str)",
                    r.base + at
                ))));
            }
            let mut value = match tag {
                TAG_NIL => builder.nil(),
                TAG_FALSE => builder.bool(false),
                TAG_TRUE => builder.bool(true),
                TAG_INT => builder.int(i64::from_le_bytes(r.array("int")?)),
                TAG_FLOAT => builder.float(f64::from_bits(u64::from_le_bytes(r.array("float")?))),
                TAG_STR => {
                    let s = r.str("string")?;
                    builder.str(s)
                }
                TAG_LIST | TAG_MAP => {
                    let (what, unit, per_item) = if tag == TAG_LIST {
                        ("list", "items", 1)
                    } else {
                        ("map", "pairs", 2)
                    };
                    let n = r.count(what, unit, per_item, reserved)?;
                    if n == 0 {
                        if tag == TAG_LIST {
                            builder.list(Vec::new())
                        } else {
                            builder.map(Vec::new())?
                        }
                    } else {
                        if stack.len() >= MAX_DEPTH {
                            return Err(Stop::Bad(bad(format_args!(
                                "{what} at byte {} is nested more than {MAX_DEPTH} deep",
                                r.base + at
                            ))));
                        }
                        // `count` guaranteed n * per_item <= left - reserved, so this cannot overflow
                        // and the capacities of all open containers add up to at most the input size.
                        reserved += n * per_item;
                        stack.push(if tag == TAG_LIST {
                            Open::List {
                                items: Vec::with_capacity(r.room_for(n, per_item)),
                                left: n,
                                leaves: true,
                            }
                        } else {
                            keys.open(n);
                            Open::Map {
                                pairs: Vec::with_capacity(r.room_for(n, per_item)),
                                key: None,
                                left: n,
                            }
                        });
                        continue;
                    }
                }
                TAG_ERROR => {
                    let kind = r.str("error kind")?;
                    let message = r.str("error message")?;
                    let n = r.count("traceback", "entries", MIN_ENTRY, reserved)?;
                    let mut traceback = Vec::with_capacity(r.room_for(n, MIN_ENTRY));
                    for _ in 0..n {
                        let file = r.str("traceback file")?;
                        let line = u32::from_le_bytes(r.array("traceback line")?);
                        let function = r.str("traceback function")?;
                        traceback.push((file.to_owned(), line, function.to_owned()));
                    }
                    builder.error(kind, message, traceback)
                }
                _ => {
                    return Err(Stop::Bad(bad(format_args!(
                        "unknown tag {tag:#04x} at byte {}",
                        r.base + at
                    ))));
                }
            };
            // Hand the finished value to its container, closing every container it completes.
            let mut leaf = matches!(tag, TAG_NIL | TAG_FALSE | TAG_TRUE | TAG_INT | TAG_FLOAT);
            loop {
                // Popping and pushing back (never a reallocation) keeps the container owned here.
                match stack.pop() {
                    None => return Ok(value),
                    Some(Open::List {
                        mut items,
                        left,
                        leaves,
                    }) => {
                        items.push(value);
                        let leaves = leaves && leaf;
                        if left > 1 {
                            stack.push(Open::List {
                                items,
                                left: left - 1,
                                leaves,
                            });
                            break;
                        }
                        value = if leaves {
                            builder.leaf_list(items)
                        } else {
                            builder.list(items)
                        };
                        leaf = false;
                    }
                    Some(Open::Map { pairs, key: None, left }) => {
                        // A key is a scalar (`key_type_error`), so it is the item just read.
                        keys.insert(r.bytes, at);
                        stack.push(Open::Map {
                            pairs,
                            key: Some(value),
                            left,
                        });
                        break;
                    }
                    Some(Open::Map {
                        mut pairs,
                        key: Some(k),
                        left,
                    }) => {
                        pairs.push((k, value));
                        if left > 1 {
                            stack.push(Open::Map {
                                pairs,
                                key: None,
                                left: left - 1,
                            });
                            break;
                        }
                        if let Err((at, first)) = keys.close(r.bytes) {
                            return Err(Stop::Bad(bad(format_args!(
                                "map key at byte {} repeats the key at byte {}",
                                r.base + at,
                                r.base + first
                            ))));
                        }
                        value = builder.map(pairs)?;
                        leaf = false;
                    }
                }
            }
        }
    }
}
