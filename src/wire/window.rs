//! Decoding a payload that arrives as separate buffers — the pieces of a long message
//! between two interpreters — without joining them first: each piece is decoded where it
//! lies, and only the bytes the decoder may read again (an item cut by the end of a piece,
//! the keys of a map still open) are kept, joined with the pieces that follow them.
//!
//! Invariant: the answer is the one `decode` gives for the pieces joined, since every feed
//! hands the `Decoder` all the bytes from [`Decoder::needed_from`] on, at the payload offsets
//! it expects; a piece cut between items (as the toy sender cuts them) costs no copy at all.

use super::decode::{Builder, Decoder};
use super::format::{Length, WireError};

/// A [`Decoder`] fed one piece at a time, holding back only what it may read again.
pub struct PieceDecoder<V> {
    decoder: Decoder<V>,
    /// The payload's bytes from `held_at` on that the decoder may read again, joined with
    /// the pieces received after them; empty when it needs none of the bytes received.
    held: Vec<u8>,
    held_at: usize,
    /// Payload bytes received so far.
    received: usize,
}

impl<V> PieceDecoder<V> {
    /// Feeds `decoder` the pieces of one payload; `buffer` is an empty buffer to keep held
    /// bytes in (its capacity reused), given back by [`PieceDecoder::into_buffer`].
    pub fn new(decoder: Decoder<V>, mut buffer: Vec<u8>) -> Self {
        buffer.clear();
        PieceDecoder {
            decoder,
            held: buffer,
            held_at: 0,
            received: 0,
        }
    }

    /// The buffer for held bytes, emptied, to keep for the next payload.
    pub fn into_buffer(mut self) -> Vec<u8> {
        self.held.clear();
        self.held
    }

    /// Decodes the next piece of the payload (empty: only `len` has changed, as when a
    /// stream's end arrives after its last piece). `len` is what [`Decoder::feed`] takes: the
    /// payload's length as known once this piece is here. The answer is `feed`'s.
    pub fn piece<B: Builder<Value = V>>(
        &mut self,
        piece: &[u8],
        len: Length,
        builder: &mut B,
    ) -> Result<Option<V>, WireError> {
        let start = self.received;
        self.received += piece.len();
        if self.held.is_empty() {
            let answer = self.decoder.feed_from(piece, start, len, builder);
            let from = self.decoder.needed_from();
            if from < self.received
                && let Some(rest) = piece.get(from.saturating_sub(start)..)
            {
                self.held.extend_from_slice(rest);
                self.held_at = from.max(start);
            }
            answer
        } else {
            self.held.extend_from_slice(piece);
            let answer = self.decoder.feed_from(&self.held, self.held_at, len, builder);
            let from = self.decoder.needed_from();
            if from >= self.received {
                self.held.clear();
            } else if from > self.held_at {
                self.held.drain(..from - self.held_at);
                self.held_at = from;
            }
            answer
        }
    }
}
