//! Writing frames. An `Encoder` turns one value, item by item, into a frame: whole, with its
//! length prefix, or cut into segments so that the start can go out before the rest is
//! written (and abandoned if the rest cannot be). A sender writes into a `Sink`; `Pumped`
//! makes one of any `Pump`, a wrapper with something to do after each item. The invariant:
//! a frame `finish` returns is well formed and its payload is the one encoding of the value
//! written (the caller writes exactly one value, which debug builds check), and a byte `cut`
//! has declared final is never changed afterwards.

use super::format::{
    ABANDONED, PREFIX_LEN, STREAMED, TAG_ERROR, TAG_FALSE, TAG_FLOAT, TAG_INT, TAG_LIST, TAG_MAP, TAG_NIL, TAG_STR,
    TAG_TRUE, VERSION,
};

/// The bytes of an int: its tag and eight of value.
pub const INT_SIZE: usize = 9;

/// Room a new encoder starts with: a small message (`[kind, value]` with a number or a
/// short string) is written without the buffer growing, where growing from empty would
/// cost three reallocations — more than encoding the message.
const FIRST_ROOM: usize = 64;

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
            buf: Vec::with_capacity(FIRST_ROOM),
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

    /// Consecutive ints, as many `int` calls would write them: the bytes go into place
    /// in one step (no growth check per int), so a long list of numbers costs little more
    /// than a copy.
    pub fn ints(&mut self, run: &[i64]) {
        /// Ints written at a time through a buffer on the stack: one growth check and one
        /// copy per batch, and no zeroing of bytes that are about to be written.
        const BATCH: usize = 64;
        self.owed = self.owed.wrapping_sub(run.len() as u64);
        self.buf.reserve(INT_SIZE * run.len());
        let mut staged = [0u8; INT_SIZE * BATCH];
        for batch in run.chunks(BATCH) {
            for (slot, &i) in staged.chunks_exact_mut(INT_SIZE).zip(batch) {
                slot[0] = TAG_INT;
                slot[1..].copy_from_slice(&i.to_le_bytes());
            }
            self.buf.extend_from_slice(&staged[..INT_SIZE * batch.len()]);
        }
    }

    /// Makes room for `bytes` more, so that a long value is not written through a series
    /// of ever larger buffers, each a copy of the last.
    pub fn reserve(&mut self, bytes: usize) {
        self.buf.reserve(bytes);
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

    /// Hands over the bytes written since the last piece — the first piece starts with the
    /// length prefix's place — and goes on writing the same frame into a fresh buffer of
    /// `capacity`: for a receiver in the same process, which joins the pieces (less the
    /// prefix) into the payload. The last piece is taken once the value is complete.
    pub fn take_piece(&mut self, capacity: usize) -> Vec<u8> {
        std::mem::replace(&mut self.buf, Vec::with_capacity(capacity))
    }

    /// Whether the value is complete (every announced item written).
    pub fn is_complete(&self) -> bool {
        self.owed == 0
    }

    /// Completes a whole frame and hands over its bytes (prefix included) without copying
    /// them: for a receiver in the same process, which decodes `frame[PREFIX_LEN..]`.
    pub fn into_frame(mut self) -> Vec<u8> {
        self.finish();
        self.buf
    }
}

/// What a sender walks its values into: an `Encoder`, or something that wraps one (to send
/// each piece of a long frame as soon as it is written). The methods mean what `Encoder`'s do.
pub trait Sink {
    fn nil(&mut self);
    fn bool(&mut self, b: bool);
    fn int(&mut self, i: i64);
    /// Consecutive ints; what as many `int` calls write.
    fn ints(&mut self, run: &[i64]) {
        for &i in run {
            self.int(i);
        }
    }
    /// A hint: about `bytes` more are coming (a sink that sends as it goes ignores it).
    fn reserve(&mut self, _bytes: usize) {}
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
    fn ints(&mut self, run: &[i64]) {
        self.0.encoder().ints(run);
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
    fn ints(&mut self, run: &[i64]) {
        Encoder::ints(self, run)
    }
    fn reserve(&mut self, bytes: usize) {
        Encoder::reserve(self, bytes)
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
