//! The format's constants — version, tags, prefix width, the streamed-frame markers, the
//! nesting bound — and its error type, shared by the encoder, the decoder and the frame
//! reader. The tables that explain them are in the module's own documentation (`mod.rs`).
//!
//! Invariant: every byte value written or accepted as a tag is one of the `TAG_` constants
//! here; nothing else names a tag.

use std::fmt;

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

pub(super) const TAG_NIL: u8 = 0x00;
pub(super) const TAG_FALSE: u8 = 0x01;
pub(super) const TAG_TRUE: u8 = 0x02;
pub(super) const TAG_INT: u8 = 0x03;
pub(super) const TAG_FLOAT: u8 = 0x04;
pub(super) const TAG_STR: u8 = 0x05;
pub(super) const TAG_LIST: u8 = 0x06;
pub(super) const TAG_MAP: u8 = 0x07;
pub(super) const TAG_ERROR: u8 = 0x08;

/// The smallest traceback entry: two empty str bodies and a line number.
pub(super) const MIN_ENTRY: usize = 8 + 4 + 8;

/// Why a message could not be read or decoded; `Display` is the whole message.
#[derive(Debug, Clone, PartialEq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

pub(super) fn bad(what: fmt::Arguments<'_>) -> WireError {
    WireError(format!("bad message from the other process: {what}"))
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
