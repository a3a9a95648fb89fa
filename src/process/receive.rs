//! Receiving a frame from a channel: read piece by piece with the GIL released, decoded
//! under the GIL as the pieces arrive.
//!
//! Invariant: while a half-built value is held by the decoder (reachable from no root),
//! collection is held off; a bad message is read to its end before it is reported, so the
//! stream stays in step.

use super::channel::{KIND_MESSAGE, MAX_MESSAGE, Sender, channel_of, process_error};
use super::decode::{HeapBuilder, split_frame};
use super::ready::wait_message;
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};
use crate::wire::{Decoder, Length, PieceReader, WireError};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Instant;
/// The most bytes of a frame read at once. Each read takes what has arrived (up to this), with
/// the GIL released, and it is decoded under the GIL, so a long message is decoded while the
/// sender is still encoding and writing the rest; a message that is all there already is read
/// in a few large pieces.
pub(super) const RECV_PIECE: usize = 256 << 10;

/// What `receive` found.
pub(super) enum Received {
    /// A frame's kind and value, and a copy of its payload if it was asked for.
    Frame(i64, Value, Vec<u8>),
    TimedOut,
    /// The stream ended or broke (or the channel was already closed): why.
    Ended(String),
}

/// Reads one frame and decodes it piece by piece as it arrives, waiting at most until
/// `deadline` for it to begin (the main thread throws `Interrupt` on Ctrl-C while it
/// waits). With `keep`, a message's payload is returned too.
///
/// Between pieces the GIL is released while the decoder holds values that no root reaches,
/// so collection is held off (`gc_inhibit`) until the frame is whole. A bad message is read
/// to its end before it is reported, so the stream stays in step for the next one; an
/// abandoned frame is dropped and the next one read.
pub(super) fn receive(vm: &mut Vm, chan: ObjId, deadline: Option<Instant>, keep: bool) -> VmResult<Received> {
    let ch = channel_of(vm, chan);
    let (Some(stream), Some(mut buf)) = (ch.stream.clone(), ch.buf.take()) else {
        return Ok(Received::Ended("the channel is closed".into()));
    };
    let s: &UnixStream = &stream;
    // The read buffer grows to the longest message: heap memory like any other.
    let capacity_before = buf.capacity();
    loop {
        // Waiting for a frame to begin is where a receiver may wait for long: the main
        // thread waits in slices there, so Ctrl-C reaches it, and every thread spins a
        // little first, so a quick answer costs no wake-up. Once a frame has begun, the
        // rest is read as it comes (stopping half-way would leave the stream out of step).
        let ready = wait_message(vm, s.as_raw_fd(), deadline);
        if !matches!(ready, Ok(true)) {
            channel_of(vm, chan).buf = Some(buf);
            return ready.map(|_| Received::TimedOut);
        }
        // The frame's prefix and first piece.
        let (start, b) = vm.release(move || {
            let mut buf = buf;
            let r = PieceReader::start(&mut &*s, &mut buf, MAX_MESSAGE).and_then(|pieces| match pieces {
                None => Err(WireError("the other process closed the channel".into())),
                Some(mut pieces) => pieces.next(&mut &*s, &mut buf, RECV_PIECE).map(|()| pieces),
            });
            (r, buf)
        });
        buf = b;
        let mut pieces = match start {
            Ok(pieces) => pieces,
            Err(e) => {
                channel_of(vm, chan).buf = Some(buf);
                return Ok(Received::Ended(e.0));
            }
        };
        let mut decoder = Decoder::new();
        if let Length::Exactly(n) = pieces.length() {
            vm.make_room_if_needed(n);
        }
        let mut short = None;
        vm.it.gc_inhibit += 1;
        let decoded = loop {
            if pieces.abandoned() {
                break None;
            }
            let builder = &mut HeapBuilder { vm, short: &mut short };
            match decoder.feed(pieces.payload(&buf), pieces.length(), builder) {
                Ok(Some(v)) => break Some(Ok(v)),
                Ok(None) if pieces.is_complete() => {
                    break Some(Err(WireError("bad message from the other process: incomplete".into())));
                }
                Ok(None) => {}
                Err(bad) => break Some(Err(bad)),
            }
            let (read, b) = vm.release(move || {
                let mut b = buf;
                let r = pieces.next(&mut &*s, &mut b, RECV_PIECE);
                (r.map(|()| pieces), b)
            });
            buf = b;
            match read {
                Ok(p) => pieces = p,
                Err(e) => {
                    vm.it.gc_inhibit -= 1;
                    channel_of(vm, chan).buf = Some(buf);
                    return Ok(Received::Ended(e.0));
                }
            }
        };
        vm.it.gc_inhibit -= 1;
        let Some(decoded) = decoded else { continue };
        if decoded.is_err() && !pieces.is_complete() {
            // Read the rest of the bad frame so the next one starts in step.
            let (p, b) = vm.release(move || {
                let mut b = buf;
                let mut r = Ok(());
                while r.is_ok() && !pieces.is_complete() {
                    r = pieces.next(&mut &*s, &mut b, usize::MAX);
                }
                (pieces, b)
            });
            (pieces, buf) = (p, b);
        }
        let split = match (decoded, short) {
            (Ok(_), Some(bytes)) => Err(vm.too_big_error(bytes)),
            (Ok(v), None) => split_frame(vm, v, Sender::of_frames_to(vm, chan)),
            (Err(e), _) => Err(process_error(vm, e.0)),
        };
        let kept = match split {
            Ok((KIND_MESSAGE, _)) if keep => pieces.payload(&buf).to_vec(),
            _ => Vec::new(),
        };
        let grown = buf.capacity().saturating_sub(capacity_before);
        vm.it.heap.charge(grown);
        channel_of(vm, chan).buf = Some(buf);
        let (kind, v) = split?;
        return Ok(Received::Frame(kind, v, kept));
    }
}
