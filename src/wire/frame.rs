//! Reading frames off a stream: `read_frame` for a whole payload at once, a `PieceReader` for
//! one piece at a time, whole and streamed frames alike (a streamed frame's segment lengths
//! are taken out, its abandon mark reported). The invariant: a length read from the stream is
//! checked against the receiver's cap before anything is allocated for it, memory is made
//! ready only a bounded step ahead of the bytes that have arrived, and a stream that ends in
//! the middle of a frame is an error, never a short payload or a hang.

use super::format::{ABANDONED, Length, PREFIX_LEN, STREAMED, WireError};
use std::io::{self, Read};

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
