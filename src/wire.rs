//! The message format that forked toy processes exchange over a socket pair. It owns one
//! invariant: every byte that arrives is hostile until proven otherwise — decoding and frame
//! reading are bounds-checked, depth-limited, never panic on any input, never allocate more
//! than the input can justify, and never run code (unlike pickle, a message is data only:
//! the receiver's `Builder` makes plain values out of it). A bad message becomes a
//! `WireError` whose text says what was wrong and at which byte; the interpreter turns it
//! into a `ProcessError`. This module knows nothing about the heap: the sender walks its
//! values through an `Encoder`, the receiver rebuilds them through a `Builder`.
//!
//! A frame is a length prefix followed by the payload; the payload is a version byte and
//! exactly one value. All integers are little-endian and fixed width. Byte offsets in error
//! messages count from the start of the payload (the version byte is byte 0).
//!
//! | part | bytes | meaning |
//! |---|---|---|
//! | length prefix | u64 | payload length in bytes (prefix not included); or `STREAMED` (`u64::MAX`): the payload follows in segments; the reader enforces its own cap either way |
//! | version | u8 | `VERSION` (1); anything else is rejected |
//! | value | tag u8, then the body below | exactly one; trailing bytes are rejected |
//!
//! A streamed frame lets a sender put the start of a long payload on the wire before it has
//! encoded the rest (so before it knows the length), and the receiver decode it meanwhile:
//! after the `STREAMED` prefix come segments, each a u64 length (at least 1) and that many
//! payload bytes; a u64 0 ends the frame. The payload is the segments' bytes in order, cut
//! anywhere (a value may span segments), and means exactly what it would in a whole frame.
//! In place of a segment length, `ABANDONED` (`u64::MAX`) ends the frame and withdraws it: the
//! sender could not finish it, and the receiver drops what it got and reads the next frame.
//! The toy sender writes a message shorter than 64 KiB as a whole frame and cuts longer ones
//! into segments of about 64 KiB (longer while the receiver is not keeping up).
//!
//! | tag | value | body after the tag |
//! |---|---|---|
//! | `0x00` | nil | none |
//! | `0x01` | false | none |
//! | `0x02` | true | none |
//! | `0x03` | int | i64 (8 bytes) |
//! | `0x04` | float | f64 bit pattern (8 bytes); any bits, NaN included |
//! | `0x05` | str | u64 byte length, then that many bytes of UTF-8 |
//! | `0x06` | list | u64 item count, then that many values |
//! | `0x07` | map | u64 pair count, then key, value, key, value, ... (keys may be any value) |
//! | `0x08` | error | kind: str body; message: str body; u64 entry count; per entry: file (str body), line (u32), function (str body) |
//!
//! A "str body" is the str layout without its tag: u64 length, then UTF-8. Tags `0x09`–`0xff`
//! are unknown and rejected. Lists and maps may nest at most `MAX_DEPTH` deep.
//!
//! A payload may be decoded as it arrives (`Decoder`, fed by a `PieceReader`): the answer is
//! the one `decode` gives for the whole payload. Counts are checked against the payload's
//! length; while a streamed frame's length is not known yet, against the receiver's cap, and
//! room is made in advance only for items the bytes at hand could hold.

use std::fmt;
use std::io::{self, Read};

/// The format version this code writes and the only one it reads.
pub const VERSION: u8 = 1;

/// How many lists and maps may be open at once while decoding: `[[nil]]` is 2 deep, a
/// scalar 0, and a value exactly `MAX_DEPTH` deep is accepted. It matches the depth to which
/// `str`, `==` and `<` descend (`value::MAX_NESTING`), so anything that can be printed can be
/// sent; senders refuse deeper values before writing them.
pub const MAX_DEPTH: usize = 1000;

/// Width of the length prefix that starts every frame (and of a streamed frame's segment lengths).
pub const PREFIX_LEN: usize = 8;

/// The length prefix of a streamed frame: its payload follows in segments (see the header).
pub const STREAMED: u64 = u64::MAX;

/// In place of a segment length: the sender abandoned the streamed frame.
pub const ABANDONED: u64 = u64::MAX;

const TAG_NIL: u8 = 0x00;
const TAG_FALSE: u8 = 0x01;
const TAG_TRUE: u8 = 0x02;
const TAG_INT: u8 = 0x03;
const TAG_FLOAT: u8 = 0x04;
const TAG_STR: u8 = 0x05;
const TAG_LIST: u8 = 0x06;
const TAG_MAP: u8 = 0x07;
const TAG_ERROR: u8 = 0x08;

/// The smallest traceback entry: two empty str bodies and a line number.
const MIN_ENTRY: usize = 8 + 4 + 8;

/// Why a message could not be read or decoded; `Display` is the whole message.
#[derive(Debug, Clone, PartialEq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

fn bad(what: fmt::Arguments<'_>) -> WireError {
    WireError(format!("bad message from the other process: {what}"))
}

/// Writes one value at a time into a reusable buffer; `finish` yields the complete frame bytes.
///
/// The caller writes exactly one value per frame: a `list(n)` header is followed by `n`
/// values, a `map(n)` header by `n` key, value pairs. The buffer keeps its capacity between
/// frames, so a sender that reuses one `Encoder` allocates only when a message outgrows all
/// earlier ones.
pub struct Encoder {
    buf: Vec<u8>,
    /// Values still owed to make the frame one complete value; checked by `finish` in debug builds.
    owed: u64,
    framing: Framing,
}

/// How the frame an `Encoder` is writing will go out.
#[derive(Clone, Copy)]
enum Framing {
    /// With a length prefix, patched in by `finish`.
    Whole,
    /// Cut into segments; the length field of the segment being written is at this offset.
    Streamed(usize),
    /// Streamed, and finished: the end mark is written.
    Ended,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// An encoder with a frame already begun.
    pub fn new() -> Self {
        let mut e = Encoder {
            buf: Vec::new(),
            owed: 0,
            framing: Framing::Whole,
        };
        e.begin();
        e
    }

    /// Starts a new frame: clears the buffer, reserves the length prefix, writes `VERSION`.
    pub fn begin(&mut self) {
        self.framing = Framing::Whole;
        self.buf.clear();
        self.buf.extend_from_slice(&[0; PREFIX_LEN]);
        self.buf.push(VERSION);
        self.owed = 1;
    }

    fn tag(&mut self, tag: u8) {
        self.owed = self.owed.wrapping_sub(1);
        self.buf.push(tag);
    }

    fn len(&mut self, n: usize) {
        self.buf.extend_from_slice(&(n as u64).to_le_bytes());
    }

    fn str_body(&mut self, s: &str) {
        self.len(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }

    pub fn nil(&mut self) {
        self.tag(TAG_NIL);
    }

    pub fn bool(&mut self, b: bool) {
        self.tag(if b { TAG_TRUE } else { TAG_FALSE });
    }

    pub fn int(&mut self, i: i64) {
        self.tag(TAG_INT);
        self.buf.extend_from_slice(&i.to_le_bytes());
    }

    pub fn float(&mut self, f: f64) {
        self.tag(TAG_FLOAT);
        self.buf.extend_from_slice(&f.to_bits().to_le_bytes());
    }

    pub fn str(&mut self, s: &str) {
        self.tag(TAG_STR);
        self.str_body(s);
    }

    /// A list header; `len` values follow.
    pub fn list(&mut self, len: usize) {
        self.tag(TAG_LIST);
        self.len(len);
        self.owed = self.owed.wrapping_add(len as u64);
    }

    /// A map header; `len` key, value pairs follow.
    pub fn map(&mut self, len: usize) {
        self.tag(TAG_MAP);
        self.len(len);
        self.owed = self.owed.wrapping_add(2 * len as u64);
    }

    /// An error value: kind, message, and its traceback as (file, line, function) entries.
    pub fn error(&mut self, kind: &str, message: &str, traceback: &[(&str, u32, &str)]) {
        self.tag(TAG_ERROR);
        self.str_body(kind);
        self.str_body(message);
        self.len(traceback.len());
        for &(file, line, function) in traceback {
            self.str_body(file);
            self.buf.extend_from_slice(&line.to_le_bytes());
            self.str_body(function);
        }
    }

    /// The frame as written so far, length prefix first.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Makes every byte written so far final, so it can be sent before the frame is complete,
    /// and returns how many leading bytes of `bytes()` that is. The first cut turns the frame
    /// into a streamed one (`STREAMED` prefix; what was written becomes its first segment);
    /// each later cut closes the current segment. A cut with nothing new written does nothing.
    pub fn cut(&mut self) -> usize {
        if self.buf.len() <= PREFIX_LEN {
            // Only reachable if `begin` was bypassed; nothing to send yet.
            return 0;
        }
        match self.framing {
            Framing::Whole => {
                let first = (self.buf.len() - PREFIX_LEN) as u64;
                self.buf[..PREFIX_LEN].copy_from_slice(&STREAMED.to_le_bytes());
                // One copy of the bytes so far, once per streamed frame.
                self.buf.splice(PREFIX_LEN..PREFIX_LEN, first.to_le_bytes());
            }
            Framing::Streamed(at) => {
                let len = (self.buf.len() - at - PREFIX_LEN) as u64;
                if len == 0 {
                    return at;
                }
                self.buf[at..at + PREFIX_LEN].copy_from_slice(&len.to_le_bytes());
            }
            Framing::Ended => return self.buf.len(),
        }
        let done = self.buf.len();
        self.framing = Framing::Streamed(done);
        self.buf.extend_from_slice(&[0; PREFIX_LEN]);
        done
    }

    /// Gives up the frame (its value could not be written whole) and returns the bytes still to
    /// send, after the `sent` already sent: none if nothing was cut yet (nothing can have been
    /// sent), else the abandon mark where the current segment's length would be, which tells
    /// the receiver to discard the frame.
    pub fn abandon(&mut self, sent: usize) -> &[u8] {
        match self.framing {
            Framing::Whole | Framing::Ended => {
                self.begin();
                &[]
            }
            Framing::Streamed(at) => {
                self.buf.truncate(at);
                self.buf.extend_from_slice(&ABANDONED.to_le_bytes());
                self.framing = Framing::Ended;
                &self.buf[sent.min(at)..]
            }
        }
    }

    /// Completes the frame and returns all of it, ready to write: a whole frame gets its
    /// length prefix, a streamed one its last segment's length and the end mark.
    pub fn finish(&mut self) -> &[u8] {
        debug_assert_eq!(
            self.owed, 0,
            "wire::Encoder: a frame must hold exactly one complete value"
        );
        if self.buf.len() < PREFIX_LEN {
            // Only reachable if `begin` was bypassed; keep the frame well formed anyway.
            self.begin();
        }
        match self.framing {
            Framing::Whole => {
                let len = (self.buf.len() - PREFIX_LEN) as u64;
                self.buf[..PREFIX_LEN].copy_from_slice(&len.to_le_bytes());
            }
            Framing::Streamed(at) => {
                let len = (self.buf.len() - at - PREFIX_LEN) as u64;
                // An empty last segment's zero length field is the end mark already.
                if len > 0 {
                    self.buf[at..at + PREFIX_LEN].copy_from_slice(&len.to_le_bytes());
                    self.buf.extend_from_slice(&[0; PREFIX_LEN]);
                }
                self.framing = Framing::Ended;
            }
            Framing::Ended => {}
        }
        &self.buf
    }
}

/// What a sender walks its values into: an `Encoder`, or something that wraps one (to send
/// each piece of a long frame as soon as it is written). The methods mean what `Encoder`'s do.
pub trait Sink {
    fn nil(&mut self);
    fn bool(&mut self, b: bool);
    fn int(&mut self, i: i64);
    fn float(&mut self, f: f64);
    fn str(&mut self, s: &str);
    fn list(&mut self, len: usize);
    fn map(&mut self, len: usize);
    fn error(&mut self, kind: &str, message: &str, traceback: &[(&str, u32, &str)]);
}

/// A writer that encodes into an `Encoder` and has something to do after every item (cut a
/// streamed frame, send what is final). Wrapped in `Pumped` it is a `Sink`, so such writers
/// share one forwarding impl.
pub trait Pump {
    fn encoder(&mut self) -> &mut Encoder;
    fn after_item(&mut self);
}

/// The `Sink` of a `Pump`: each item goes to the encoder, then `after_item` runs.
pub struct Pumped<P>(pub P);

impl<P: Pump> Sink for Pumped<P> {
    fn nil(&mut self) {
        self.0.encoder().nil();
        self.0.after_item();
    }
    fn bool(&mut self, b: bool) {
        self.0.encoder().bool(b);
        self.0.after_item();
    }
    fn int(&mut self, i: i64) {
        self.0.encoder().int(i);
        self.0.after_item();
    }
    fn float(&mut self, f: f64) {
        self.0.encoder().float(f);
        self.0.after_item();
    }
    fn str(&mut self, s: &str) {
        self.0.encoder().str(s);
        self.0.after_item();
    }
    fn list(&mut self, len: usize) {
        self.0.encoder().list(len);
        self.0.after_item();
    }
    fn map(&mut self, len: usize) {
        self.0.encoder().map(len);
        self.0.after_item();
    }
    fn error(&mut self, kind: &str, message: &str, traceback: &[(&str, u32, &str)]) {
        self.0.encoder().error(kind, message, traceback);
        self.0.after_item();
    }
}

impl Sink for Encoder {
    fn nil(&mut self) {
        Encoder::nil(self)
    }
    fn bool(&mut self, b: bool) {
        Encoder::bool(self, b)
    }
    fn int(&mut self, i: i64) {
        Encoder::int(self, i)
    }
    fn float(&mut self, f: f64) {
        Encoder::float(self, f)
    }
    fn str(&mut self, s: &str) {
        Encoder::str(self, s)
    }
    fn list(&mut self, len: usize) {
        Encoder::list(self, len)
    }
    fn map(&mut self, len: usize) {
        Encoder::map(self, len)
    }
    fn error(&mut self, kind: &str, message: &str, traceback: &[(&str, u32, &str)]) {
        Encoder::error(self, kind, message, traceback)
    }
}

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
    /// May reject keys the receiver cannot use; the error is passed through unchanged.
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
    pos: usize,
}

impl Reader<'_> {
    /// How many items of at least `min_size` bytes to make room for in advance, of the `n`
    /// announced: all of them when the payload's length is known (`count` checked they fit),
    /// else only as many as the bytes at hand could hold; the rest grow as they arrive.
    fn room_for(&self, n: usize, min_size: usize) -> usize {
        if self.known {
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
                self.pos,
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
        let at = self.pos;
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
        let at = self.pos;
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

/// How long a payload is, as far as its receiver knows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Length {
    /// Exactly this many bytes: a frame with a length prefix, or a streamed frame whose end
    /// has arrived.
    Exactly(usize),
    /// Not known yet, but at most this many bytes: a streamed frame still arriving (the bound is
    /// the receiver's own cap on a message).
    AtMost(usize),
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
    /// Bytes the unread items of open containers need at the least (one tag each).
    reserved: usize,
    /// Where the first item not yet decoded starts (0: the version byte is still to be read).
    pos: usize,
    /// How many bytes past `pos` had arrived when the decoder last stopped for more. It tries
    /// that item again only once twice as many are there (or the payload is complete), so an
    /// item spread over many pieces (a long string, a long traceback) is re-read only a
    /// logarithmic number of times.
    waiting: usize,
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
            reserved: 0,
            pos: 0,
            waiting: 0,
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
        let (total, known) = match len {
            Length::Exactly(n) => (n, true),
            Length::AtMost(n) => (n, false),
        };
        let got = &got[..got.len().min(total)];
        if let Some(v) = self.done.take() {
            return self.end(v, total, known);
        }
        let complete = known && got.len() == total;
        let have = got.len().saturating_sub(self.pos);
        if !complete && have < self.waiting.saturating_mul(2) {
            return Ok(None);
        }
        let mut r = Reader {
            bytes: got,
            total,
            known,
            pos: self.pos,
        };
        match self.run(&mut r, builder) {
            Ok(v) => {
                self.pos = r.pos;
                self.end(v, total, known)
            }
            Err(Stop::More) => {
                self.waiting = got.len().saturating_sub(self.pos);
                Ok(None)
            }
            Err(Stop::Bad(e)) => Err(e),
        }
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
        if r.pos == 0 {
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
            reserved: saved_reserved,
            pos: saved_pos,
            ..
        } = self;
        let mut reserved = *saved_reserved;
        loop {
            // Fast path: runs of leaves go straight into the innermost open list, without the
            // general step's pop and push of its container. The list's last item is left to
            // the general step, which closes the list.
            if let Some(Open::List { items, left }) = stack.last_mut() {
                while *left > 1 {
                    (*saved_pos, *saved_reserved) = (r.pos, reserved);
                    let Some(&tag) = r.bytes.get(r.pos) else { break };
                    let v = match tag {
                        TAG_INT => {
                            // A run of ints (the common big message): 9 bytes each, one bounds
                            // check per item, no tag dispatch.
                            let before = r.pos;
                            while *left > 1 {
                                let Some(chunk) = r.bytes.get(r.pos..r.pos + 9) else {
                                    break;
                                };
                                let (&[t], rest) = chunk.split_at(1) else { break };
                                let Ok(le) = <[u8; 8]>::try_from(rest) else { break };
                                if t != TAG_INT {
                                    break;
                                }
                                items.push(builder.int(i64::from_le_bytes(le)));
                                r.pos += 9;
                                *left -= 1;
                                reserved -= 1;
                            }
                            if r.pos != before {
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
            (*saved_pos, *saved_reserved) = (r.pos, reserved);
            if !stack.is_empty() {
                reserved -= 1;
            }
            let at = r.pos;
            let tag = r.u8("value tag")?;
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
                                "{what} at byte {at} is nested more than {MAX_DEPTH} deep"
                            ))));
                        }
                        // `count` guaranteed n * per_item <= left - reserved, so this cannot overflow
                        // and the capacities of all open containers add up to at most the input size.
                        reserved += n * per_item;
                        stack.push(if tag == TAG_LIST {
                            Open::List {
                                items: Vec::with_capacity(r.room_for(n, per_item)),
                                left: n,
                            }
                        } else {
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
                _ => return Err(Stop::Bad(bad(format_args!("unknown tag {tag:#04x} at byte {at}")))),
            };
            // Hand the finished value to its container, closing every container it completes.
            loop {
                // Popping and pushing back (never a reallocation) keeps the container owned here.
                match stack.pop() {
                    None => return Ok(value),
                    Some(Open::List { mut items, left }) => {
                        items.push(value);
                        if left > 1 {
                            stack.push(Open::List { items, left: left - 1 });
                            break;
                        }
                        value = builder.list(items);
                    }
                    Some(Open::Map { pairs, key: None, left }) => {
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
                        value = builder.map(pairs)?;
                    }
                }
            }
        }
    }
}

/// Reads one frame from `r` into `buf` (reused between calls, resized, no extra copy): the
/// payload, whether the frame was whole or streamed.
///
/// Returns Ok(false) on a clean end of stream before any byte of a frame, and an error on a
/// stream that ends mid-frame, on an I/O error, or on a length over `max_len`. Abandoned
/// frames are skipped. `r` should be blocking, since a timeout in the middle of a frame
/// leaves the stream out of step.
pub fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>, max_len: usize) -> Result<bool, WireError> {
    loop {
        let Some(mut pieces) = PieceReader::start(r, buf, max_len)? else {
            return Ok(false);
        };
        while !pieces.is_complete() {
            pieces.next(r, buf, usize::MAX)?;
        }
        if !pieces.abandoned() {
            buf.truncate(pieces.filled);
            return Ok(true);
        }
    }
}

/// The most bytes of a buffer `PieceReader` makes ready (zeroes) ahead of a read: a peer
/// that announces a huge payload and sends little costs little memory.
const READ_AHEAD: usize = 1 << 20;

/// Reads one frame's payload into a buffer a piece at a time, so that the receiver can decode
/// what has arrived while the rest is on its way. Whole and streamed frames alike: a streamed
/// frame's segment lengths are taken out, and the buffer holds the payload alone.
///
/// The payload is `payload(buf)`, the first bytes of `buf`: the buffer is kept at the longest
/// length it has had (zeroed once, then overwritten by later messages), so that each piece is
/// one plain `read` into memory that is ready for it.
pub struct PieceReader {
    max_len: usize,
    /// Payload bytes in the buffer.
    filled: usize,
    /// Bytes of the payload (whole frame) or of the current segment (streamed) still to read.
    left: usize,
    streamed: bool,
    /// A streamed frame's end mark has been read.
    ended: bool,
    /// A streamed frame's abandon mark has been read: what arrived is to be discarded.
    abandoned: bool,
}

impl PieceReader {
    /// Reads a frame's length prefix and readies `buf` for its payload; None on a clean end
    /// of stream before the frame's first byte. A length over `max_len` is refused before
    /// anything is allocated for it.
    pub fn start(r: &mut impl Read, buf: &mut Vec<u8>, max_len: usize) -> Result<Option<PieceReader>, WireError> {
        let mut prefix = [0u8; PREFIX_LEN];
        let mut got = 0;
        while got < PREFIX_LEN {
            match r.read(&mut prefix[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => return Err(closed_mid_message()),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        let len = u64::from_le_bytes(prefix);
        let mut pieces = PieceReader {
            max_len,
            filled: 0,
            left: 0,
            streamed: true,
            ended: false,
            abandoned: false,
        };
        if len != STREAMED {
            let len = checked_len(len, 0, max_len)?;
            if buf.capacity() < len {
                // A fresh allocation rather than a realloc, which could copy the stale bytes.
                // Large allocations are mapped lazily, so a peer that lies about the length
                // costs address space, not memory, until the bytes really arrive.
                *buf = Vec::new();
                buf.try_reserve_exact(len).map_err(|_| cannot_allocate(len))?;
            }
            pieces.left = len;
            pieces.streamed = false;
        }
        Ok(Some(pieces))
    }

    /// The payload read so far.
    pub fn payload<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        &buf[..self.filled.min(buf.len())]
    }

    /// The payload's length, as far as is known now.
    pub fn length(&self) -> Length {
        if !self.streamed {
            Length::Exactly(self.filled + self.left)
        } else if self.ended {
            Length::Exactly(self.filled)
        } else {
            Length::AtMost(self.max_len)
        }
    }

    /// The sender abandoned the frame: the bytes read are not a message (read the next frame).
    pub fn abandoned(&self) -> bool {
        self.abandoned
    }

    /// All of the payload is in the buffer (or the frame was abandoned).
    pub fn is_complete(&self) -> bool {
        self.left == 0 && (!self.streamed || self.ended)
    }

    /// Reads more of the payload into `buf`: what has arrived, at least one byte and at most
    /// `max`, waiting only until something arrives (and for a streamed frame's segment length,
    /// if it is due). Does nothing once the payload is complete.
    pub fn next(&mut self, r: &mut impl Read, buf: &mut Vec<u8>, max: usize) -> Result<(), WireError> {
        if self.is_complete() {
            return Ok(());
        }
        if self.left == 0 {
            // Streamed: the next segment's length, or the end or abandon mark.
            let mut field = [0u8; PREFIX_LEN];
            r.read_exact(&mut field).map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => closed_mid_message(),
                _ => io_error(e),
            })?;
            let len = u64::from_le_bytes(field);
            if len == 0 || len == ABANDONED {
                self.ended = true;
                self.abandoned = len == ABANDONED;
                return Ok(());
            }
            self.left = checked_len(len, self.filled, self.max_len)?;
        }
        let n = self.left.min(max).clamp(1, READ_AHEAD);
        let end = self.filled + n;
        if buf.len() < end {
            // Amortised growth for streamed frames (one buffer serves every message of a
            // channel); a whole frame's room was reserved by `start`.
            buf.try_reserve(end - buf.len()).map_err(|_| cannot_allocate(end))?;
            buf.resize(end, 0);
        }
        loop {
            match r.read(&mut buf[self.filled..end]) {
                Ok(0) => return Err(closed_mid_message()),
                Ok(got) => {
                    self.filled += got;
                    self.left -= got;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
    }
}

/// A length read from the stream, refused if it would take the payload over `max_len`.
fn checked_len(len: u64, before: usize, max_len: usize) -> Result<usize, WireError> {
    let total = len.saturating_add(before as u64);
    if total > max_len as u64 {
        return Err(WireError(format!(
            "message from the other process is too long: {total} bytes, over the limit of {max_len}"
        )));
    }
    Ok(len as usize)
}

fn cannot_allocate(len: usize) -> WireError {
    WireError(format!(
        "cannot allocate {len} bytes for a message from the other process"
    ))
}

fn closed_mid_message() -> WireError {
    WireError("the other process closed the channel in the middle of a message".to_owned())
}

fn io_error(e: io::Error) -> WireError {
    WireError(format!("could not read a message from the other process: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire_tree::{Tree, TreeBuilder, frame, payload, write};
    use proptest::prelude::*;
    use std::io::Cursor;

    /// Counts values without keeping them: decoding deep input with it measures the
    /// decoder's own stack use, not a recursive drop of the result.
    struct Count;

    impl Builder for Count {
        type Value = usize;
        fn nil(&mut self) -> usize {
            1
        }
        fn bool(&mut self, _: bool) -> usize {
            1
        }
        fn int(&mut self, _: i64) -> usize {
            1
        }
        fn float(&mut self, _: f64) -> usize {
            1
        }
        fn str(&mut self, _: &str) -> usize {
            1
        }
        fn list(&mut self, items: Vec<usize>) -> usize {
            1 + items.iter().sum::<usize>()
        }
        fn map(&mut self, pairs: Vec<(usize, usize)>) -> Result<usize, WireError> {
            Ok(1 + pairs.iter().map(|(k, v)| k + v).sum::<usize>())
        }
        fn error(&mut self, _: &str, _: &str, _: Vec<(String, u32, String)>) -> usize {
            1
        }
    }

    fn decode_tree(bytes: &[u8]) -> Result<Tree, WireError> {
        decode(
            bytes,
            &mut TreeBuilder {
                reject_float_keys: false,
            },
        )
    }

    /// Decodes `bytes` fed to one `Decoder` in pieces ending at `cuts` (any order, any
    /// values; the whole payload is always fed last).
    fn decode_in_pieces(bytes: &[u8], cuts: &[usize]) -> Result<Tree, WireError> {
        let mut ends: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        ends.sort_unstable();
        ends.push(bytes.len());
        let mut d = Decoder::new();
        let mut b = TreeBuilder {
            reject_float_keys: true,
        };
        for end in ends {
            match d.feed(&bytes[..end], Length::Exactly(bytes.len()), &mut b) {
                Ok(Some(t)) => {
                    assert_eq!(end, bytes.len(), "a value before all its bytes arrived");
                    return Ok(t);
                }
                Ok(None) => assert!(end < bytes.len(), "the whole payload, and still waiting"),
                Err(e) => return Err(e),
            }
        }
        unreachable!("the last piece is the whole payload")
    }

    /// Like `decode_in_pieces`, but as a streamed frame arrives: the length is only bounded
    /// (by more than it is) until the last piece.
    fn decode_streamed_in_pieces(bytes: &[u8], cuts: &[usize]) -> Result<Tree, WireError> {
        let mut ends: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        ends.sort_unstable();
        let mut d = Decoder::new();
        let mut b = TreeBuilder {
            reject_float_keys: true,
        };
        for end in ends {
            match d.feed(&bytes[..end], Length::AtMost(bytes.len() + 1000), &mut b) {
                Ok(Some(t)) => panic!("a value ({t:?}) before the payload's end was known"),
                Ok(None) => {}
                Err(e) => return Err(e),
            }
        }
        match d.feed(bytes, Length::Exactly(bytes.len()), &mut b) {
            Ok(Some(t)) => Ok(t),
            Ok(None) => panic!("the whole payload, and still waiting"),
            Err(e) => Err(e),
        }
    }

    /// Writes through to an encoder, cutting the frame after every `every`-th value or header.
    struct Cutting<'e> {
        e: &'e mut Encoder,
        every: usize,
        calls: usize,
    }

    impl Cutting<'_> {
        fn tick(&mut self) {
            self.calls += 1;
            if self.calls.is_multiple_of(self.every) {
                self.e.cut();
            }
        }
    }

    impl Pump for Cutting<'_> {
        fn encoder(&mut self) -> &mut Encoder {
            self.e
        }
        fn after_item(&mut self) {
            self.tick()
        }
    }

    /// `t` as a streamed frame cut after every `every`-th call (whole if it is never cut).
    fn streamed(t: &Tree, every: usize) -> Vec<u8> {
        let mut e = Encoder::new();
        write(
            &mut Pumped(Cutting {
                e: &mut e,
                every,
                calls: 0,
            }),
            t,
        );
        let once = e.finish().to_vec();
        assert_eq!(e.finish(), &once[..], "finish twice adds nothing");
        once
    }

    /// Reads the payload of the first frame of `stream` in pieces of `piece` bytes, decoding
    /// as it goes.
    fn read_and_decode_in_pieces(stream: &[u8], piece: usize) -> Result<Tree, WireError> {
        let mut r = Cursor::new(stream);
        let mut buf = Vec::new();
        let mut pieces = PieceReader::start(&mut r, &mut buf, 1 << 20)?.expect("a frame");
        let mut d = Decoder::new();
        let mut b = TreeBuilder {
            reject_float_keys: false,
        };
        loop {
            pieces.next(&mut r, &mut buf, piece)?;
            assert!(!pieces.abandoned());
            if let Some(t) = d.feed(pieces.payload(&buf), pieces.length(), &mut b)? {
                assert!(pieces.is_complete());
                return Ok(t);
            }
            assert!(!pieces.is_complete(), "the whole payload, and still waiting");
        }
    }

    fn s(x: &str) -> Tree {
        Tree::Str(x.to_owned())
    }

    fn err_msg(bytes: &[u8]) -> String {
        match decode_tree(bytes) {
            Ok(t) => panic!("decoded {t:?} from bad input {bytes:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// One of everything, nested: the sample that truncation and mutation tests cut up.
    fn rich() -> Tree {
        Tree::List(vec![
            Tree::Nil,
            Tree::Bool(true),
            Tree::Bool(false),
            Tree::Int(i64::MIN),
            Tree::Float(-0.0),
            s("héllo ☃ 𝄞"),
            Tree::Map(vec![
                (s("k"), Tree::List(vec![Tree::Int(1), Tree::Map(vec![])])),
                (Tree::Nil, s("")),
            ]),
            Tree::Error(
                "ZeroDivisionError".into(),
                "division by zero".into(),
                vec![
                    ("demo.toy".into(), 9, "<main>".into()),
                    ("demo.toy".into(), 3, "divide".into()),
                ],
            ),
            Tree::List(vec![]),
        ])
    }

    fn nested_lists(depth: usize) -> Vec<u8> {
        let mut bytes = vec![VERSION];
        for _ in 0..depth {
            bytes.push(TAG_LIST);
            bytes.extend_from_slice(&1u64.to_le_bytes());
        }
        bytes.push(TAG_NIL);
        bytes
    }

    #[test]
    fn round_trips_every_type() {
        let floats = [
            0.0,
            -0.0,
            1.5,
            -2.25e300,
            f64::MIN_POSITIVE,
            5e-324,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let mut values = vec![Tree::Nil, Tree::Bool(true), Tree::Bool(false)];
        values.extend([0, 1, -1, i64::MIN, i64::MAX].map(Tree::Int));
        values.extend(floats.map(Tree::Float));
        values.extend(["", "a", "héllo ☃ 𝄞", "nul\0inside", "\u{10ffff}"].map(s));
        values.push(Tree::List(vec![]));
        values.push(Tree::Map(vec![]));
        values.push(Tree::Error("Error".into(), "".into(), vec![]));
        values.push(rich());
        values.push(Tree::Map(vec![
            (Tree::Float(1.5), Tree::Int(2)),
            (Tree::List(vec![]), Tree::Nil),
        ]));
        values.push(Tree::List(values.clone()));
        for v in values {
            assert_eq!(decode_tree(&payload(&v)), Ok(v.clone()), "round trip of {v:?}");
        }
    }

    #[test]
    fn byte_layout_is_as_documented() {
        let t = Tree::List(vec![
            Tree::Int(-2),
            s("é"),
            Tree::Map(vec![(Tree::Bool(true), Tree::Nil)]),
        ]);
        #[rustfmt::skip]
        let payload: Vec<u8> = [
            &[VERSION][..],
            &[0x06], &3u64.to_le_bytes(),
            &[0x03], &(-2i64).to_le_bytes(),
            &[0x05], &2u64.to_le_bytes(), "é".as_bytes(),
            &[0x07], &1u64.to_le_bytes(), &[0x02], &[0x00],
        ]
        .concat();
        let mut expected = (payload.len() as u64).to_le_bytes().to_vec();
        expected.extend_from_slice(&payload);
        assert_eq!(frame(&t), expected);

        let e = Tree::Error("E".into(), "m".into(), vec![("f".into(), 7, "g".into())]);
        #[rustfmt::skip]
        let payload: Vec<u8> = [
            &[VERSION][..],
            &[0x08], &1u64.to_le_bytes(), b"E", &1u64.to_le_bytes(), b"m",
            &1u64.to_le_bytes(), &1u64.to_le_bytes(), b"f", &7u32.to_le_bytes(), &1u64.to_le_bytes(), b"g",
        ]
        .concat();
        assert_eq!(&frame(&e)[PREFIX_LEN..], payload);
        assert_eq!(
            &frame(&Tree::Float(1.0))[PREFIX_LEN + 1..],
            [&[0x04][..], &1.0f64.to_bits().to_le_bytes()].concat()
        );
    }

    #[test]
    fn encoder_is_reused_between_frames() {
        let mut e = Encoder::new();
        write(&mut e, &rich());
        let first = e.finish().to_vec();
        e.begin();
        e.int(7);
        let second = e.finish().to_vec();
        assert_eq!(second, frame(&Tree::Int(7)));
        e.begin();
        write(&mut e, &rich());
        assert_eq!(e.finish(), first);
    }

    #[test]
    fn rejects_empty_and_wrong_version() {
        assert_eq!(
            err_msg(&[]),
            "bad message from the other process: empty message (no version byte)"
        );
        let mut bytes = payload(&Tree::Nil);
        bytes[0] = 2;
        assert_eq!(
            err_msg(&bytes),
            "bad message from the other process: unsupported version 2 at byte 0 (this toy reads version 1)"
        );
        assert!(err_msg(&[VERSION]).contains("truncated value tag at byte 1"));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = payload(&rich());
        for cut in 0..bytes.len() {
            assert!(decode_tree(&bytes[..cut]).is_err(), "decoded a payload cut at {cut}");
            assert!(decode(&bytes[..cut], &mut Count).is_err());
        }
        // The same through the stream reader: a frame cut anywhere is an error, never a hang.
        let whole = frame(&rich());
        for cut in 1..whole.len() {
            let mut buf = Vec::new();
            let e = read_frame(&mut Cursor::new(&whole[..cut]), &mut buf, 1 << 20).unwrap_err();
            assert_eq!(e.0, "the other process closed the channel in the middle of a message");
        }
    }

    #[test]
    fn truncation_messages_say_where() {
        let bytes = payload(&Tree::Int(5));
        assert_eq!(
            err_msg(&bytes[..5]),
            "bad message from the other process: truncated int at byte 2 (needs 8 bytes, 3 left)"
        );
    }

    #[test]
    fn rejects_unknown_tags() {
        let mut bytes = payload(&Tree::List(vec![Tree::Int(1), Tree::Nil]));
        assert_eq!(bytes[19], TAG_NIL);
        bytes[19] = 0x7f;
        assert_eq!(
            err_msg(&bytes),
            "bad message from the other process: unknown tag 0x7f at byte 19"
        );
        for tag in 0x09..=0xff {
            assert!(err_msg(&[VERSION, tag]).contains(&format!("unknown tag {tag:#04x} at byte 1")));
        }
    }

    #[test]
    fn rejects_lying_lengths() {
        let mut str_len = vec![VERSION, TAG_STR];
        str_len.extend_from_slice(&4u64.to_le_bytes());
        str_len.extend_from_slice(b"abc");
        assert_eq!(
            err_msg(&str_len),
            "bad message from the other process: string of 4 bytes at byte 2 does not fit in the rest of the \
             message (room for at most 3)"
        );
        for (tag, what) in [(TAG_STR, "string"), (TAG_LIST, "list"), (TAG_MAP, "map")] {
            for n in [u64::MAX, u64::MAX / 2 + 1, 1 << 40, 3] {
                let mut bytes = vec![VERSION, tag];
                bytes.extend_from_slice(&n.to_le_bytes());
                bytes.extend_from_slice(&[TAG_NIL, TAG_NIL]);
                assert!(err_msg(&bytes).contains(&format!("{what} of {n} ")), "{what} of {n}");
            }
        }
        // A map of 1 pair needs two values; one byte left is not enough.
        let mut map = vec![VERSION, TAG_MAP];
        map.extend_from_slice(&1u64.to_le_bytes());
        map.push(TAG_NIL);
        assert!(err_msg(&map).contains("map of 1 pairs at byte 2"));
        // A traceback whose count is more than the bytes could hold.
        let mut e = payload(&Tree::Error("E".into(), "m".into(), vec![]));
        let at = e.len() - 8;
        e[at..].copy_from_slice(&1u64.to_le_bytes());
        e.extend_from_slice(&[0; MIN_ENTRY - 1]);
        assert!(err_msg(&e).contains(&format!("traceback of 1 entries at byte {at}")));
    }

    #[test]
    fn counts_are_checked_against_what_enclosing_lists_still_need() {
        // An outer list of 3 whose first item claims every byte left: each count alone fits,
        // together they cannot, and the decoder refuses before allocating for the inner one.
        let mut bytes = vec![VERSION, TAG_LIST];
        bytes.extend_from_slice(&3u64.to_le_bytes());
        bytes.push(TAG_LIST);
        bytes.extend_from_slice(&4u64.to_le_bytes());
        bytes.extend_from_slice(&[TAG_NIL; 4]);
        let msg = err_msg(&bytes);
        assert!(
            msg.contains("list of 4 items at byte 11") && msg.contains("room for at most 2"),
            "{msg}"
        );
        // One fewer inner item and it all fits.
        bytes[11..19].copy_from_slice(&2u64.to_le_bytes());
        assert_eq!(
            decode_tree(&bytes),
            Ok(Tree::List(vec![
                Tree::List(vec![Tree::Nil, Tree::Nil]),
                Tree::Nil,
                Tree::Nil
            ]))
        );
    }

    #[test]
    fn rejects_invalid_utf8_everywhere_a_string_can_be() {
        let tree = Tree::List(vec![
            s("abcdef"),
            Tree::Error(
                "Kind".into(),
                "message".into(),
                vec![("file.toy".into(), 1, "function".into())],
            ),
        ]);
        let bytes = payload(&tree);
        for (word, what) in [
            ("bcd", "string"),
            ("Kind", "error kind"),
            ("message", "error message"),
            ("file", "traceback file"),
        ]
        .into_iter()
        .chain([("function", "traceback function")])
        {
            let at = bytes.windows(word.len()).position(|w| w == word.as_bytes()).unwrap();
            let mut bad = bytes.clone();
            bad[at] = 0xff;
            assert_eq!(
                err_msg(&bad),
                format!("bad message from the other process: invalid UTF-8 in {what} at byte {at}")
            );
        }
        // A surrogate encoded as UTF-8 is not UTF-8 either.
        let mut surrogate = vec![VERSION, TAG_STR];
        surrogate.extend_from_slice(&3u64.to_le_bytes());
        surrogate.extend_from_slice(&[0xed, 0xa0, 0x80]);
        assert!(err_msg(&surrogate).contains("invalid UTF-8 in string at byte 10"));
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut bytes = payload(&Tree::Int(1));
        bytes.extend_from_slice(&[0, 0]);
        assert_eq!(
            err_msg(&bytes),
            "bad message from the other process: 2 trailing bytes after the value, at byte 10"
        );
        let mut two = payload(&rich());
        two.extend_from_slice(&payload(&rich())[1..]);
        assert!(err_msg(&two).contains("trailing bytes"));
    }

    #[test]
    fn passes_on_the_builders_refusal() {
        let t = Tree::Map(vec![(Tree::Float(1.0), Tree::Nil)]);
        let mut strict = TreeBuilder {
            reject_float_keys: true,
        };
        assert_eq!(
            decode(&payload(&t), &mut strict),
            Err(WireError("TypeError: float map key".into()))
        );
        let inner = Tree::List(vec![Tree::Map(vec![(
            Tree::Int(1),
            Tree::Map(vec![(Tree::Float(0.5), Tree::Nil)]),
        )])]);
        assert!(decode(&payload(&inner), &mut strict).is_err());
    }

    #[test]
    fn depth_limit_is_exact() {
        assert_eq!(decode(&nested_lists(MAX_DEPTH), &mut Count), Ok(MAX_DEPTH + 1));
        let msg = decode(&nested_lists(MAX_DEPTH + 1), &mut Count).unwrap_err().0;
        assert_eq!(
            msg,
            format!(
                "bad message from the other process: list at byte {} is nested more than {MAX_DEPTH} deep",
                1 + 9 * MAX_DEPTH
            )
        );
        // Maps count as well: a key that is a map inside a map's value.
        let mut bytes = vec![VERSION];
        for _ in 0..=MAX_DEPTH {
            bytes.push(TAG_MAP);
            bytes.extend_from_slice(&1u64.to_le_bytes());
            bytes.push(TAG_NIL);
        }
        bytes.extend(std::iter::repeat_n(TAG_NIL, MAX_DEPTH + 1));
        assert!(decode(&bytes, &mut Count).unwrap_err().0.contains("map at byte"));
        // Deep but within the limit, through the tree builder (whose drop recurses).
        let mut t = Tree::Nil;
        for _ in 0..MAX_DEPTH {
            t = Tree::List(vec![t]);
        }
        assert_eq!(decode_tree(&payload(&t)), Ok(t));
    }

    #[test]
    fn deep_input_does_not_overflow_a_small_stack() {
        let deep = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| {
                let ok = decode(&nested_lists(MAX_DEPTH), &mut Count);
                let million = decode(&nested_lists(1_000_000), &mut Count);
                let truncated = decode(&nested_lists(1_000_000)[..5_000_000], &mut Count);
                (ok, million.is_err(), truncated.is_err())
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(deep, (Ok(MAX_DEPTH + 1), true, true));
    }

    /// Runs of strings: short and long, ASCII and not, empty, between other leaves.
    fn strings() -> Tree {
        let mut items: Vec<Tree> = (0..150).map(|i| s(&format!("s{i}"))).collect();
        items.insert(3, s(""));
        items.insert(7, s("héllo"));
        items.insert(70, s(&"x".repeat(300)));
        items.insert(71, s("𝄞"));
        items.insert(100, Tree::Int(7));
        items.push(s("last"));
        Tree::List(items)
    }

    #[test]
    fn runs_of_strings_round_trip_and_report_the_first_bad_byte() {
        let t = strings();
        let bytes = payload(&t);
        assert_eq!(decode_tree(&bytes), Ok(t));
        // A bad byte in any string is reported where it is, whichever string of a run it is in.
        for word in ["s1\u{5}", "s64", "s65", "héllo", "xxxx", "s149", "last"] {
            let at = bytes.windows(word.len()).position(|w| w == word.as_bytes()).unwrap() + 1;
            let mut bad = bytes.clone();
            bad[at] = 0xff;
            assert_eq!(
                err_msg(&bad),
                format!("bad message from the other process: invalid UTF-8 in string at byte {at}")
            );
        }
        // A run cut short by the end of the message: the truncated string is reported.
        for cut in [bytes.len() - 1, bytes.len() - 5, 40, 14] {
            let m = err_msg(&bytes[..cut]);
            assert!(
                m.contains("truncated") || m.contains("does not fit"),
                "cut at {cut}: {m}"
            );
        }
        // What a builder is told about ASCII matches the text.
        struct Ascii(Vec<(String, bool)>);
        impl Builder for Ascii {
            type Value = ();
            fn nil(&mut self) {}
            fn bool(&mut self, _: bool) {}
            fn int(&mut self, _: i64) {}
            fn float(&mut self, _: f64) {}
            fn str(&mut self, s: &str) {
                self.0.push((s.to_owned(), false));
            }
            fn ascii_str(&mut self, s: &str) {
                self.0.push((s.to_owned(), true));
            }
            fn list(&mut self, _: Vec<()>) {}
            fn map(&mut self, _: Vec<((), ())>) -> Result<(), WireError> {
                Ok(())
            }
            fn error(&mut self, _: &str, _: &str, _: Vec<(String, u32, String)>) {}
        }
        let mut seen = Ascii(Vec::new());
        decode(&bytes, &mut seen).unwrap();
        assert_eq!(seen.0.len(), 155);
        for (text, ascii) in seen.0 {
            assert!(!ascii || text.is_ascii(), "{text:?} called ASCII");
        }
    }

    #[test]
    fn pieces_decode_like_the_whole() {
        let whole = |bytes: &[u8]| {
            decode(
                bytes,
                &mut TreeBuilder {
                    reject_float_keys: true,
                },
            )
        };
        let mut samples = vec![payload(&rich()), payload(&strings()), nested_lists(50)];
        samples.push(payload(&Tree::List((0..3000).map(Tree::Int).collect())));
        samples.push(payload(&Tree::Map(vec![(Tree::Float(1.0), Tree::Nil)])));
        let mut bad_utf8 = payload(&strings());
        let at = bad_utf8.len() - 3;
        bad_utf8[at] = 0xff;
        samples.push(bad_utf8);
        let mut trailing = payload(&rich());
        trailing.push(0);
        samples.push(trailing);
        for bytes in &samples {
            let expected = whole(bytes);
            // Every single cut, byte by byte, and a few uneven splits.
            for cut in 0..=bytes.len() {
                assert_eq!(decode_in_pieces(bytes, &[cut]), expected, "cut at {cut}");
            }
            let every: Vec<usize> = (0..=bytes.len()).collect();
            assert_eq!(decode_in_pieces(bytes, &every), expected);
            assert_eq!(decode_in_pieces(bytes, &[7, 300, 301, 2000]), expected);
        }
    }

    #[test]
    fn a_long_item_in_many_pieces_is_reread_only_a_few_times() {
        // A 1 MiB string and a 20,000-entry traceback arriving 64 bytes at a time: each is
        // parsed again only when the bytes past its start have doubled.
        struct Reads(usize, usize);
        impl Builder for Reads {
            type Value = ();
            fn nil(&mut self) {}
            fn bool(&mut self, _: bool) {}
            fn int(&mut self, _: i64) {}
            fn float(&mut self, _: f64) {}
            fn str(&mut self, s: &str) {
                self.0 += s.len();
            }
            fn list(&mut self, _: Vec<()>) {}
            fn map(&mut self, _: Vec<((), ())>) -> Result<(), WireError> {
                Ok(())
            }
            fn error(&mut self, _: &str, _: &str, tb: Vec<(String, u32, String)>) {
                self.1 += tb.len();
            }
        }
        let tb: Vec<(String, u32, String)> = (0..20_000).map(|i| ("f.toy".into(), i, "g".into())).collect();
        let t = Tree::List(vec![s(&"x".repeat(1 << 20)), Tree::Error("E".into(), "m".into(), tb)]);
        let bytes = payload(&t);
        let mut d = Decoder::new();
        let mut seen = Reads(0, 0);
        let mut feeds_that_ran = 0;
        for end in (64..bytes.len()).step_by(64).chain([bytes.len()]) {
            let before = d.pos;
            let waiting = d.waiting;
            let out = d.feed(&bytes[..end], Length::Exactly(bytes.len()), &mut seen).unwrap();
            if d.pos != before || d.waiting != waiting || out.is_some() {
                feeds_that_ran += 1;
            }
        }
        assert_eq!((seen.0, seen.1), (1 << 20, 20_000));
        assert!(feeds_that_ran < 60, "{feeds_that_ran} feeds did work");
    }

    #[test]
    fn streamed_frames_carry_the_same_payload() {
        for t in [
            rich(),
            strings(),
            Tree::List((0..3000).map(Tree::Int).collect()),
            Tree::Nil,
        ] {
            let whole = frame(&t);
            for every in [1, 2, 7, 100, 1_000_000] {
                let f = streamed(&t, every);
                // Streamed once cut; never cut, a whole frame, exactly as before.
                let prefix = u64::from_le_bytes(f[..PREFIX_LEN].try_into().unwrap());
                assert!(prefix == STREAMED || f == whole);
                assert_eq!(prefix == STREAMED, every == 1 || (every < 1_000_000 && f != whole));
                if every == 1_000_000 {
                    assert_eq!(f, whole);
                }
                let mut buf = Vec::new();
                let mut r = Cursor::new(&f);
                assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(true));
                assert_eq!(buf, whole[PREFIX_LEN..]);
                assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(false));
                for piece in [1, 3, 64, 1 << 20] {
                    assert_eq!(read_and_decode_in_pieces(&f, piece), Ok(t.clone()));
                }
            }
        }
    }

    #[test]
    fn an_abandoned_frame_is_skipped() {
        // Nothing cut yet: nothing was sent, and abandoning sends nothing.
        let mut e = Encoder::new();
        e.list(2);
        e.int(1);
        assert!(e.abandon(0).is_empty());
        // Cut, part sent: the rest of what was cut and the abandon mark go out.
        let mut e = Encoder::new();
        e.list(3);
        e.int(1);
        let ready = e.cut();
        e.int(2);
        e.cut();
        e.str("never sent");
        let mut stream = e.bytes()[..3].to_vec();
        stream.extend_from_slice(e.abandon(3));
        assert!(stream.len() > ready);
        assert_eq!(&stream[stream.len() - PREFIX_LEN..], ABANDONED.to_le_bytes());
        stream.extend_from_slice(&frame(&Tree::Int(42)));
        let mut buf = Vec::new();
        let mut r = Cursor::new(&stream);
        assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(true));
        assert_eq!(decode_tree(&buf), Ok(Tree::Int(42)));
        // Read in pieces, the abandoned frame says so.
        let mut r = Cursor::new(&stream);
        let mut pieces = PieceReader::start(&mut r, &mut buf, 1 << 20).unwrap().unwrap();
        while !pieces.is_complete() {
            pieces.next(&mut r, &mut buf, 4).unwrap();
        }
        assert!(pieces.abandoned());
        assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(true));
        assert_eq!(decode_tree(&buf), Ok(Tree::Int(42)));
    }

    #[test]
    fn hostile_streamed_frames() {
        let seg = |bytes: &[u8]| {
            let mut out = (bytes.len() as u64).to_le_bytes().to_vec();
            out.extend_from_slice(bytes);
            out
        };
        let read = |stream: Vec<u8>, max: usize| {
            let mut buf = Vec::new();
            read_frame(&mut Cursor::new(stream), &mut buf, max).map(|more| (more, buf))
        };
        let head = STREAMED.to_le_bytes().to_vec();
        // Segments over the cap, alone or together, are refused before they are allocated.
        let mut over = head.clone();
        over.extend_from_slice(&u64::MAX.wrapping_sub(1).to_le_bytes());
        assert!(read(over, 1 << 20).unwrap_err().0.contains("too long"));
        let mut two = head.clone();
        two.extend(seg(&[VERSION; 6]));
        two.extend(seg(&[TAG_NIL; 6]));
        two.extend_from_slice(&0u64.to_le_bytes());
        assert_eq!(
            read(two.clone(), 11),
            Err(WireError(
                "message from the other process is too long: 12 bytes, over the limit of 11".into()
            ))
        );
        assert_eq!(read(two, 12).map(|(_, b)| b.len()), Ok(12));
        // Ended at once: an empty payload, which is not a message.
        let mut empty = head.clone();
        empty.extend_from_slice(&0u64.to_le_bytes());
        let (_, buf) = read(empty, 100).unwrap();
        assert!(decode_tree(&buf).unwrap_err().0.contains("empty message"));
        // Cut off inside a segment, or before the end mark.
        let closed = Err(WireError(
            "the other process closed the channel in the middle of a message".into(),
        ));
        let mut short = head.clone();
        short.extend_from_slice(&5u64.to_le_bytes());
        short.extend_from_slice(&[VERSION, TAG_NIL]);
        assert_eq!(read(short, 100), closed);
        let mut unended = head.clone();
        unended.extend(seg(&[VERSION, TAG_NIL]));
        assert_eq!(read(unended.clone(), 100), closed);
        unended.extend_from_slice(&[0, 0, 0]);
        assert_eq!(read(unended, 100), closed);
        // One-byte segments are fine, and a value split anywhere means what it means whole.
        let mut bytes = head.clone();
        for b in payload(&rich()) {
            bytes.extend(seg(&[b]));
        }
        bytes.extend_from_slice(&0u64.to_le_bytes());
        let (_, buf) = read(bytes.clone(), 1 << 20).unwrap();
        assert_eq!(decode_tree(&buf), Ok(rich()));
        assert_eq!(read_and_decode_in_pieces(&bytes, 5), Ok(rich()));
    }

    #[test]
    fn every_single_byte_change_is_handled() {
        // Whatever a corrupted byte turns the message into, decode answers without panicking,
        // and anything it accepts is the canonical encoding of what it returned.
        for bytes in [payload(&rich()), payload(&strings())] {
            for at in 0..bytes.len() {
                for x in [0x00, 0x01, 0x05, 0x06, 0x07, 0x08, 0x7f, 0x80, 0xff] {
                    let mut b = bytes.clone();
                    b[at] ^= x;
                    if let Ok(t) = decode_tree(&b) {
                        assert_eq!(payload(&t), b);
                    }
                }
            }
        }
    }

    #[test]
    fn read_frame_reads_frames_back_to_back() {
        let mut stream = frame(&rich());
        stream.extend_from_slice(&frame(&Tree::Int(42)));
        let mut r = Cursor::new(stream);
        let mut buf = Vec::new();
        assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(true));
        assert_eq!(decode_tree(&buf), Ok(rich()));
        assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(true));
        assert_eq!(decode_tree(&buf), Ok(Tree::Int(42)));
        assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(false));
        assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(false));
    }

    #[test]
    fn read_frame_end_of_stream() {
        let mut buf = vec![1, 2, 3];
        assert_eq!(read_frame(&mut Cursor::new(Vec::new()), &mut buf, 100), Ok(false));
        let closed = WireError("the other process closed the channel in the middle of a message".into());
        assert_eq!(
            read_frame(&mut Cursor::new(vec![5, 0, 0]), &mut buf, 100),
            Err(closed.clone())
        );
        let mut short = 5u64.to_le_bytes().to_vec();
        short.extend_from_slice(&[VERSION, TAG_NIL]);
        assert_eq!(read_frame(&mut Cursor::new(short), &mut buf, 100), Err(closed));
        // An empty frame is read; decoding it is what fails.
        assert_eq!(
            read_frame(&mut Cursor::new(0u64.to_le_bytes()), &mut buf, 100),
            Ok(true)
        );
        assert!(buf.is_empty() && decode_tree(&buf).is_err());
    }

    #[test]
    fn read_frame_refuses_oversize_frames() {
        let mut buf = Vec::new();
        let f = frame(&s("0123456789"));
        let len = f.len() - PREFIX_LEN;
        assert_eq!(read_frame(&mut Cursor::new(&f), &mut buf, len), Ok(true));
        assert_eq!(
            read_frame(&mut Cursor::new(&f), &mut buf, len - 1),
            Err(WireError(format!(
                "message from the other process is too long: {len} bytes, over the limit of {}",
                len - 1
            )))
        );
        // A hostile length is refused before anything is allocated for it.
        let mut buf = Vec::new();
        assert!(read_frame(&mut Cursor::new(u64::MAX.to_le_bytes()), &mut buf, usize::MAX).is_err());
        assert!(read_frame(&mut Cursor::new(u64::MAX.to_le_bytes()), &mut buf, 1 << 30).is_err());
        assert_eq!(buf.capacity(), 0);
    }

    /// Hands out at most `chunk` bytes per read, interrupts every other call, and records
    /// where each read wrote, to show the payload goes straight into the caller's buffer.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
        interrupt: bool,
        writes: Vec<(usize, usize)>,
        fail_at: Option<usize>,
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            if self.fail_at.is_some_and(|at| self.pos >= at) {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "connection reset"));
            }
            let n = out.len().min(self.chunk).min(self.data.len() - self.pos);
            out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            self.writes.push((out.as_ptr() as usize, n));
            Ok(n)
        }
    }

    #[test]
    fn read_frame_survives_short_and_interrupted_reads_without_copying() {
        let f = frame(&Tree::List((0..5000).map(Tree::Int).collect()));
        let mut r = Trickle {
            data: f.clone(),
            pos: 0,
            chunk: 3,
            interrupt: false,
            writes: vec![],
            fail_at: None,
        };
        let mut buf = Vec::new();
        assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(true));
        assert_eq!(buf, f[PREFIX_LEN..]);
        // Every payload read landed inside the final buffer: it was never reallocated (and so
        // never copied) while the frame came in.
        let (start, end) = (buf.as_ptr() as usize, buf.as_ptr() as usize + buf.len());
        let payload_writes = r
            .writes
            .iter()
            .filter(|(p, n)| *n > 0 && !(*p >= start && p + n <= end));
        assert!(
            payload_writes.count() <= 3,
            "only the length prefix may be read elsewhere"
        );
        // A smaller frame reuses the allocation.
        let ptr = buf.as_ptr();
        let small = frame(&Tree::Int(1));
        let mut r = Trickle {
            data: small,
            pos: 0,
            chunk: 1,
            interrupt: false,
            writes: vec![],
            fail_at: None,
        };
        assert_eq!(read_frame(&mut r, &mut buf, 1 << 20), Ok(true));
        assert_eq!(buf.as_ptr(), ptr);
        assert_eq!(decode_tree(&buf), Ok(Tree::Int(1)));
        // I/O errors other than interruptions are reported, in the prefix or the payload.
        for at in [4, 20] {
            let mut r = Trickle {
                data: f.clone(),
                pos: 0,
                chunk: 4,
                interrupt: false,
                writes: vec![],
                fail_at: Some(at),
            };
            assert_eq!(
                read_frame(&mut r, &mut buf, 1 << 20),
                Err(WireError(
                    "could not read a message from the other process: connection reset".into()
                ))
            );
        }
    }

    #[test]
    fn streams_a_large_message_over_a_socket() {
        use std::io::Write;
        use std::os::unix::net::UnixStream;
        // 256 MiB of string and a few hundred thousand small values in one frame.
        let big = "toy ".repeat(64 << 20);
        let (mut tx, mut rx) = UnixStream::pair().unwrap();
        let sent = big.clone();
        let writer = std::thread::spawn(move || {
            let mut e = Encoder::new();
            e.list(2);
            e.str(&sent);
            e.list(300_000);
            (0..300_000).for_each(|i| e.int(i));
            tx.write_all(e.finish()).unwrap();
        });
        let mut buf = Vec::new();
        assert_eq!(read_frame(&mut rx, &mut buf, 1 << 30), Ok(true));
        writer.join().unwrap();
        let Ok(Tree::List(items)) = decode_tree(&buf) else {
            panic!("not a list")
        };
        assert!(matches!(&items[0], Tree::Str(got) if *got == big));
        assert_eq!(items[1], Tree::List((0..300_000).map(Tree::Int).collect()));
        assert_eq!(read_frame(&mut rx, &mut buf, 1 << 30), Ok(false));
    }

    fn tree() -> impl Strategy<Value = Tree> {
        let text = || prop::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter);
        let leaf = prop_oneof![
            Just(Tree::Nil),
            any::<bool>().prop_map(Tree::Bool),
            prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), Just(0), Just(-1)].prop_map(Tree::Int),
            prop_oneof![any::<f64>(), Just(-0.0), Just(0.0), Just(f64::INFINITY), Just(f64::NAN)].prop_map(Tree::Float),
            prop_oneof![text(), Just(String::new()), "[a-zé☃𝄞]{0,8}"].prop_map(Tree::Str),
            (
                text(),
                text(),
                prop::collection::vec((text(), any::<u32>(), text()), 0..4)
            )
                .prop_map(|(k, m, tb)| Tree::Error(k, m, tb)),
        ];
        leaf.prop_recursive(6, 200, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Tree::List),
                prop::collection::vec((inner.clone(), inner), 0..6).prop_map(Tree::Map),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn decode_inverts_encode(t in tree()) {
            let f = frame(&t);
            prop_assert_eq!(u64::from_le_bytes(f[..PREFIX_LEN].try_into().unwrap()), (f.len() - PREFIX_LEN) as u64);
            prop_assert_eq!(decode_tree(&f[PREFIX_LEN..]), Ok(t.clone()));
            let mut buf = Vec::new();
            prop_assert_eq!(read_frame(&mut Cursor::new(&f), &mut buf, f.len()), Ok(true));
            prop_assert_eq!(decode_tree(&buf), Ok(t));
        }

        #[test]
        fn runs_of_strings_round_trip(texts in prop::collection::vec(prop_oneof![
            "[a-z0-9]{0,6}",
            "[a-zé☃𝄞]{0,4}",
            prop::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
        ], 0..200)) {
            let t = Tree::List(texts.into_iter().map(Tree::Str).collect());
            prop_assert_eq!(decode_tree(&payload(&t)), Ok(t));
        }

        #[test]
        fn any_pieces_decode_like_the_whole(t in tree(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
            let bytes = payload(&t);
            prop_assert_eq!(decode_in_pieces(&bytes, &cuts), decode(&bytes, &mut TreeBuilder { reject_float_keys: true }));
        }

        #[test]
        fn streamed_frames_round_trip(t in tree(), every in 1usize..8, piece in 1usize..40) {
            let f = streamed(&t, every);
            let mut buf = Vec::new();
            prop_assert_eq!(read_frame(&mut Cursor::new(&f), &mut buf, 1 << 20), Ok(true));
            prop_assert_eq!(&buf, &payload(&t));
            prop_assert_eq!(read_and_decode_in_pieces(&f, piece), Ok(t));
        }

        #[test]
        fn while_the_length_is_unknown_the_same_values_are_accepted(t in tree(), cut in any::<prop::sample::Index>(), cuts in prop::collection::vec(any::<usize>(), 0..6), mutate in any::<bool>()) {
            let mut bytes = payload(&t);
            if mutate {
                let at = cut.index(bytes.len());
                bytes[at] ^= 0x41;
            }
            let whole = decode(&bytes, &mut TreeBuilder { reject_float_keys: true });
            match (decode_streamed_in_pieces(&bytes, &cuts), whole) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err(_), Err(_)) => {}
                (a, b) => prop_assert!(false, "streamed {a:?}, whole {b:?}"),
            }
        }

        #[test]
        fn any_bytes_in_pieces_decode_like_the_whole(mut bytes in prop::collection::vec(any::<u8>(), 0..64), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
            if !bytes.is_empty() {
                bytes[0] = VERSION;
                bytes.iter_mut().skip(1).step_by(2).for_each(|b| *b %= 10);
            }
            prop_assert_eq!(decode_in_pieces(&bytes, &cuts), decode(&bytes, &mut TreeBuilder { reject_float_keys: true }));
        }

        #[test]
        fn prefixes_of_a_valid_payload_are_errors(t in tree(), cut in any::<prop::sample::Index>()) {
            let p = payload(&t);
            let cut = cut.index(p.len());
            prop_assert!(decode_tree(&p[..cut]).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..64), tags in any::<bool>()) {
            if tags {
                // Mostly plausible tags and small counts, to get past the first byte or two.
                bytes.insert(0, VERSION);
                bytes.iter_mut().skip(1).for_each(|b| *b %= 10);
            }
            if let Ok(t) = decode_tree(&bytes) {
                prop_assert_eq!(payload(&t), bytes.clone());
            }
            let _ = decode(&bytes, &mut Count);
            let mut buf = Vec::new();
            let mut r = Cursor::new(&bytes);
            while let Ok(true) = read_frame(&mut r, &mut buf, 64) {}
        }
    }
}
