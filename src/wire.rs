//! The message format that forked toy processes exchange over a socket pair. It owns one
//! invariant: every byte that arrives is hostile until proven otherwise — `decode` and
//! `read_frame` are bounds-checked, depth-limited, never panic on any input, never allocate
//! more than the input can justify, and never run code (unlike pickle, a message is data
//! only: the receiver's `Builder` makes plain values out of it). A bad message becomes a
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
//! | length prefix | u64 | payload length in bytes (prefix not included); the reader enforces its own cap |
//! | version | u8 | `VERSION` (1); anything else is rejected |
//! | value | tag u8, then the body below | exactly one; trailing bytes are rejected |
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

use std::fmt;
use std::io::{self, Read};

/// The format version this code writes and the only one it reads.
pub const VERSION: u8 = 1;

/// How many lists and maps may be open at once while decoding. It matches the depth to which
/// `str`, `==` and `<` descend (`value::MAX_NESTING`), so anything that can be printed can be
/// sent; senders refuse deeper values before writing them.
pub const MAX_DEPTH: usize = 1000;

/// Width of the length prefix that starts every frame.
pub const PREFIX_LEN: usize = 8;

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
        };
        e.begin();
        e
    }

    /// Starts a new frame: clears the buffer, reserves the length prefix, writes `VERSION`.
    pub fn begin(&mut self) {
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

    /// Patches the length prefix and returns the whole frame, ready to write.
    pub fn finish(&mut self) -> &[u8] {
        debug_assert_eq!(
            self.owed, 0,
            "wire::Encoder: a frame must hold exactly one complete value"
        );
        if self.buf.len() < PREFIX_LEN {
            // Only reachable if `begin` was bypassed; keep the frame well formed anyway.
            self.begin();
        }
        let len = (self.buf.len() - PREFIX_LEN) as u64;
        self.buf[..PREFIX_LEN].copy_from_slice(&len.to_le_bytes());
        &self.buf
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
    fn list(&mut self, items: Vec<Self::Value>) -> Self::Value;
    /// May reject keys the receiver cannot use; the error is passed through unchanged.
    fn map(&mut self, pairs: Vec<(Self::Value, Self::Value)>) -> Result<Self::Value, WireError>;
    fn error(&mut self, kind: &str, message: &str, traceback: Vec<(String, u32, String)>) -> Self::Value;
}

/// A cursor over the payload whose every read is checked against the bytes left.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], WireError> {
        if n > self.left() {
            return Err(bad(format_args!(
                "truncated {what} at byte {} (needs {n} bytes, {} left)",
                self.pos,
                self.left()
            )));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], WireError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8, WireError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A count or byte length, checked to fit in what is left: each of the `n` things it
    /// announces takes at least `min_size` bytes, and `reserved` bytes are already promised
    /// to the unread items of enclosing containers.
    fn count(&mut self, what: &str, unit: &str, min_size: usize, reserved: usize) -> Result<usize, WireError> {
        let at = self.pos;
        let n = u64::from_le_bytes(self.array::<8>(what)?);
        let room = self.left().saturating_sub(reserved) / min_size;
        if n > room as u64 {
            return Err(bad(format_args!(
                "{what} of {n} {unit} at byte {at} does not fit in the rest of the message \
                 (room for at most {room})"
            )));
        }
        Ok(n as usize)
    }

    fn str(&mut self, what: &str) -> Result<&'a str, WireError> {
        let len = self.count(what, "bytes", 1, 0)?;
        let at = self.pos;
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes)
            .map_err(|e| bad(format_args!("invalid UTF-8 in {what} at byte {}", at + e.valid_up_to())))
    }
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

/// Decodes one frame's payload (the bytes after the length prefix, starting with the version byte).
///
/// Iterative, with an explicit stack of open containers, so deep input costs heap, not
/// machine stack. Every announced count is checked against the bytes left *minus* the bytes
/// already promised to enclosing containers, which bounds all pre-allocation together by the
/// size of the input.
pub fn decode<B: Builder>(frame: &[u8], builder: &mut B) -> Result<B::Value, WireError> {
    let mut r = Reader { bytes: frame, pos: 0 };
    let Some(&version) = frame.first() else {
        return Err(bad(format_args!("empty message (no version byte)")));
    };
    if version != VERSION {
        return Err(bad(format_args!(
            "unsupported version {version} at byte 0 (this toy reads version {VERSION})"
        )));
    }
    r.pos = 1;
    let mut stack: Vec<Open<B::Value>> = Vec::new();
    // Bytes the unread items of open containers need at the least (one tag each).
    let mut reserved: usize = 0;
    loop {
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
                        return Err(bad(format_args!(
                            "{what} at byte {at} is nested more than {MAX_DEPTH} deep"
                        )));
                    }
                    // `count` guaranteed n * per_item <= left - reserved, so this cannot overflow
                    // and the capacities of all open containers add up to at most the input size.
                    reserved += n * per_item;
                    stack.push(if tag == TAG_LIST {
                        Open::List {
                            items: Vec::with_capacity(n),
                            left: n,
                        }
                    } else {
                        Open::Map {
                            pairs: Vec::with_capacity(n),
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
                let mut traceback = Vec::with_capacity(n);
                for _ in 0..n {
                    let file = r.str("traceback file")?;
                    let line = u32::from_le_bytes(r.array("traceback line")?);
                    let function = r.str("traceback function")?;
                    traceback.push((file.to_owned(), line, function.to_owned()));
                }
                builder.error(kind, message, traceback)
            }
            _ => return Err(bad(format_args!("unknown tag {tag:#04x} at byte {at}"))),
        };
        // Hand the finished value to its container, closing every container it completes.
        loop {
            // Popping and pushing back (never a reallocation) keeps the container owned here.
            match stack.pop() {
                None => {
                    if r.left() > 0 {
                        return Err(bad(format_args!(
                            "{} trailing bytes after the value, at byte {}",
                            r.left(),
                            r.pos
                        )));
                    }
                    return Ok(value);
                }
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

/// Reads one frame from `r` into `buf` (reused between calls, resized, no extra copy).
///
/// Returns Ok(false) on a clean end of stream before any byte of a frame, and an error on a
/// stream that ends mid-frame, on an I/O error, or on a length over `max_len`. The payload
/// (version byte onward) is read straight into `buf`'s storage; `r` should be blocking, since
/// a timeout in the middle of a frame leaves the stream out of step.
pub fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>, max_len: usize) -> Result<bool, WireError> {
    let mut prefix = [0u8; PREFIX_LEN];
    let mut got = 0;
    while got < PREFIX_LEN {
        match r.read(&mut prefix[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(closed_mid_message()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
    let len = u64::from_le_bytes(prefix);
    if len > max_len as u64 {
        return Err(WireError(format!(
            "message from the other process is too long: {len} bytes, over the limit of {max_len}"
        )));
    }
    let len = len as usize;
    buf.clear();
    if buf.capacity() < len {
        // A fresh allocation rather than a realloc, which could copy the stale bytes. Large
        // allocations are mapped lazily, so a peer that lies about the length costs address
        // space, not memory, until the bytes really arrive.
        *buf = Vec::new();
        buf.try_reserve_exact(len).map_err(|_| {
            WireError(format!(
                "cannot allocate {len} bytes for a message from the other process"
            ))
        })?;
    }
    // `read_to_end` reads into the spare capacity directly; with the capacity already there it
    // never reallocates.
    match Read::take(&mut *r, len as u64).read_to_end(buf) {
        Ok(n) if n == len => Ok(true),
        Ok(_) => Err(closed_mid_message()),
        Err(e) => Err(io_error(e)),
    }
}

fn closed_mid_message() -> WireError {
    WireError("the other process closed the channel in the middle of a message".to_owned())
}

fn io_error(e: io::Error) -> WireError {
    WireError(format!("could not read a message from the other process: {e}"))
}
