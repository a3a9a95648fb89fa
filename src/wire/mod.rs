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
//! | `0x07` | map | u64 pair count, then key, value, key, value, ... in the map's order; each key nil, false, true, an int or a str, no two equal |
//! | `0x08` | error | kind: str body; message: str body; u64 entry count; per entry: file (str body), line (u32), function (str body) |
//!
//! A "str body" is the str layout without its tag: u64 length, then UTF-8. Tags `0x09`–`0xff`
//! are unknown and rejected. Lists and maps may nest at most `MAX_DEPTH` deep.
//!
//! Each value has exactly one encoding, and the decoder accepts nothing else, so whatever it
//! accepts re-encodes to the very bytes it read: integers and lengths are fixed width (there
//! are no short forms), a count is the exact number of items, a bool is its tag, a str is
//! UTF-8 (which has no overlong forms and no surrogates), a float is its bit pattern (every
//! pattern its own value: a toy float keeps its bits, so -0.0 and each NaN payload survive),
//! and a map's pairs come in the map's own order. A map key is what a toy map can hold: nil,
//! a bool, an int or a str; and no key appears twice in a map, equality being toy's for map
//! keys (by value within a type, never across types: `true` and `1` are two keys, as are `1`
//! and `"1"`). A key of another type is refused as soon as its tag is read; a repeated key
//! when its map closes (so a fault further on in the same map is reported first), naming the
//! bytes where it and the earlier same key start. The rule is about the payload: how a
//! streamed frame cuts it into segments means nothing.
//!
//! A payload may be decoded as it arrives (`Decoder`, fed by a `PieceReader`): the answer is
//! the one `decode` gives for the whole payload. Counts are checked against the payload's
//! length; while a streamed frame's length is not known yet, against the receiver's cap, and
//! room is made in advance only for items the bytes at hand could hold.
//! (One exception, `Decoder::from_own_encoder`, for a payload this process's own encoder
//! is writing — a message between two interpreters: its counts announce items of a list
//! that exists here, so room for them is made at once.) A payload that arrives as separate
//! buffers need not be joined: a `PieceDecoder` decodes each where it lies, keeping only the
//! bytes the decoder may read again (`window`).
//!
//! The parts: `format` holds the constants and tags above and the error type, `encode` writes frames, `frame` reads them off a stream, `decode` turns a
//! payload into the receiver's values, with `keys` checking each map's keys, and `pair`
//! reads the common small message `[kind, scalar]` without it; `tree` (tests
//! and fuzzing only) is a plain value type to check them against each other.

mod decode;
mod encode;
mod format;
mod frame;
mod keys;
mod pair;
#[cfg(test)]
mod tests;
#[cfg(any(test, fuzzing))]
pub mod tree;
mod window;

pub use decode::{Builder, Decoder, decode};
pub use encode::{Encoder, INT_SIZE, Pump, Pumped, Sink};
pub use format::PREFIX_LEN;
pub use format::{Length, MAX_DEPTH, WireError};
pub use frame::{PieceReader, read_frame};
pub use pair::decode_pair;
pub use window::PieceDecoder;
