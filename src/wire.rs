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

/// How many lists and maps may be open at once while decoding: `[[nil]]` is 2 deep, a
/// scalar 0, and a value exactly `MAX_DEPTH` deep is accepted. It matches the depth to which
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

    /// Makes room for at least `bytes` more bytes (a caller about to write a big list).
    pub fn reserve(&mut self, bytes: usize) {
        self.buf.reserve(bytes);
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
    /// A string the decoder has found to be ASCII (its length is its char count).
    fn ascii_str(&mut self, s: &str) -> Self::Value {
        self.str(s)
    }
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
        // Fast path: runs of leaves go straight into the innermost open list, without the
        // general step's pop and push of its container. The list's last item is left to
        // the general step, which closes the list.
        if let Some(Open::List { items, left }) = stack.last_mut() {
            while *left > 1 {
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
                        let run = str_run(&mut r, (*left - 1).min(STR_RUN), |s, ascii| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Cursor;

    /// A decoded value as a plain tree. Floats compare by bit pattern, so -0.0 and NaN
    /// payloads must survive exactly.
    #[derive(Debug, Clone)]
    enum Tree {
        Nil,
        Bool(bool),
        Int(i64),
        Float(f64),
        Str(String),
        List(Vec<Tree>),
        Map(Vec<(Tree, Tree)>),
        Error(String, String, Vec<(String, u32, String)>),
    }

    impl PartialEq for Tree {
        fn eq(&self, other: &Tree) -> bool {
            match (self, other) {
                (Tree::Nil, Tree::Nil) => true,
                (Tree::Bool(a), Tree::Bool(b)) => a == b,
                (Tree::Int(a), Tree::Int(b)) => a == b,
                (Tree::Float(a), Tree::Float(b)) => a.to_bits() == b.to_bits(),
                (Tree::Str(a), Tree::Str(b)) => a == b,
                (Tree::List(a), Tree::List(b)) => a == b,
                (Tree::Map(a), Tree::Map(b)) => a == b,
                (Tree::Error(k, m, t), Tree::Error(k2, m2, t2)) => k == k2 && m == m2 && t == t2,
                _ => false,
            }
        }
    }

    struct TreeBuilder {
        /// Refuse maps with float keys, as the interpreter refuses unhashable keys.
        reject_float_keys: bool,
    }

    impl Builder for TreeBuilder {
        type Value = Tree;
        fn nil(&mut self) -> Tree {
            Tree::Nil
        }
        fn bool(&mut self, b: bool) -> Tree {
            Tree::Bool(b)
        }
        fn int(&mut self, i: i64) -> Tree {
            Tree::Int(i)
        }
        fn float(&mut self, f: f64) -> Tree {
            Tree::Float(f)
        }
        fn str(&mut self, s: &str) -> Tree {
            Tree::Str(s.to_owned())
        }
        fn list(&mut self, items: Vec<Tree>) -> Tree {
            Tree::List(items)
        }
        fn map(&mut self, pairs: Vec<(Tree, Tree)>) -> Result<Tree, WireError> {
            if self.reject_float_keys && pairs.iter().any(|(k, _)| matches!(k, Tree::Float(_))) {
                return Err(WireError("TypeError: float map key".to_owned()));
            }
            Ok(Tree::Map(pairs))
        }
        fn error(&mut self, kind: &str, message: &str, traceback: Vec<(String, u32, String)>) -> Tree {
            Tree::Error(kind.to_owned(), message.to_owned(), traceback)
        }
    }

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

    fn write(e: &mut Encoder, t: &Tree) {
        match t {
            Tree::Nil => e.nil(),
            Tree::Bool(b) => e.bool(*b),
            Tree::Int(i) => e.int(*i),
            Tree::Float(f) => e.float(*f),
            Tree::Str(s) => e.str(s),
            Tree::List(items) => {
                e.list(items.len());
                items.iter().for_each(|t| write(e, t));
            }
            Tree::Map(pairs) => {
                e.map(pairs.len());
                for (k, v) in pairs {
                    write(e, k);
                    write(e, v);
                }
            }
            Tree::Error(kind, message, tb) => {
                let tb: Vec<(&str, u32, &str)> = tb.iter().map(|(f, l, n)| (f.as_str(), *l, n.as_str())).collect();
                e.error(kind, message, &tb);
            }
        }
    }

    /// The whole frame, length prefix included.
    fn frame(t: &Tree) -> Vec<u8> {
        let mut e = Encoder::new();
        write(&mut e, t);
        e.finish().to_vec()
    }

    /// The payload `decode` takes: the frame without its length prefix.
    fn payload(t: &Tree) -> Vec<u8> {
        frame(t)[PREFIX_LEN..].to_vec()
    }

    fn decode_tree(bytes: &[u8]) -> Result<Tree, WireError> {
        decode(
            bytes,
            &mut TreeBuilder {
                reject_float_keys: false,
            },
        )
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
