//! Sending a frame down a channel: encoded under the GIL, its pieces offered to the socket
//! as they are cut, the rest written with the GIL released.
//!
//! Invariant: the GIL is never held while waiting for the socket; a frame that cannot be
//! finished is abandoned, so the receiver stays in step.

use super::channel::{channel_of, io_text, process_error};
use super::encode::encode_value;
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};
use crate::wire::{Encoder, Pump, Pumped, Sink};
use std::io::Write;
use std::os::unix::net::UnixStream;
/// Bytes of a frame the sender writes before cutting them off as a segment and offering them
/// to the socket.
pub(super) const SEND_PIECE: usize = 64 << 10;

/// An encoder that, every `SEND_PIECE` bytes, cuts the frame (making it a streamed one) and
/// offers the socket what is cut, without ever waiting: what the socket will not take now is
/// written at the end, with the GIL released. So the receiver decodes the start of a long
/// message while the rest is still being encoded. A message shorter than one piece goes out
/// as a whole frame, as before. While the socket is full (the receiver is not keeping up),
/// the frame is not cut again: a receiver that reads late reads a few long segments.
pub(super) struct Streaming<'a> {
    enc: &'a mut Encoder,
    stream: &'a UnixStream,
    /// How many bytes of the frame the socket has taken.
    sent: usize,
    /// How many bytes of the frame are final (cut), and so may be sent.
    ready: usize,
    /// The frame is cut again once it is this long.
    next_cut: usize,
    failed: Option<std::io::Error>,
}

impl Streaming<'_> {
    #[inline]
    fn pump(&mut self) {
        if self.enc.bytes().len() >= self.next_cut {
            self.offer();
        }
    }

    /// Sends what the socket takes of the final bytes, and if it took them all, cuts the frame
    /// and offers the new ones too.
    #[cold]
    fn offer(&mut self) {
        self.send_ready();
        if self.sent == self.ready && self.failed.is_none() {
            self.ready = self.enc.cut();
            self.send_ready();
        }
        self.next_cut = self.enc.bytes().len() + SEND_PIECE;
    }

    /// Sends what the socket takes of the final bytes, without blocking.
    fn send_ready(&mut self) {
        use std::os::fd::AsRawFd;
        let bytes = &self.enc.bytes()[..self.ready];
        while self.failed.is_none() && self.sent < bytes.len() {
            let rest = &bytes[self.sent..];
            // SAFETY: `rest` is a live, initialised byte slice for the duration of the call and
            // `send` reads at most `rest.len()` bytes from it; the descriptor is the channel's
            // open socket (borrowed from `self.stream`). MSG_DONTWAIT makes this one call
            // non-blocking without touching the descriptor's flags, which other threads share.
            let n = unsafe {
                libc::send(
                    self.stream.as_raw_fd(),
                    rest.as_ptr().cast(),
                    rest.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if n > 0 {
                self.sent += n as usize;
                continue;
            }
            if n == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            match e.kind() {
                std::io::ErrorKind::Interrupted => {}
                std::io::ErrorKind::WouldBlock => break,
                _ => self.failed = Some(e),
            }
        }
    }
}

impl Pump for Streaming<'_> {
    fn encoder(&mut self) -> &mut Encoder {
        self.enc
    }
    fn after_item(&mut self) {
        self.pump()
    }
}

/// Writes one frame `[kind, value]` to the channel: encoded under the GIL, its pieces offered
/// to the socket as they are made (`Streaming`), the rest written with the GIL released. If
/// the value cannot be sent after part of it went out, the frame is abandoned, so the other
/// side discards it and sees no message, as if nothing had been sent.
pub(super) fn send_frame(vm: &mut Vm, chan: ObjId, kind: i64, v: Value) -> VmResult<()> {
    let ch = channel_of(vm, chan);
    let (Some(stream), Some(mut enc)) = (ch.stream.clone(), ch.encoder.take()) else {
        return Err(process_error(vm, "the channel is closed"));
    };
    enc.begin();
    let mut out = Pumped(Streaming {
        enc: &mut enc,
        stream: &stream,
        sent: 0,
        ready: 0,
        next_cut: SEND_PIECE,
        failed: None,
    });
    out.list(2);
    out.int(kind);
    let encoded = encode_value(vm, &mut out, v, &mut Vec::new());
    let (sent, failed) = (out.0.sent, out.0.failed);
    let refused = encoded.err();
    let abandon = refused.is_some();
    let (written, enc) = match failed {
        Some(e) => (Err(e), enc),
        None => vm.release(move || {
            let rest = if abandon {
                enc.abandon(sent)
            } else {
                &enc.finish()[sent..]
            };
            let r = (&*stream).write_all(rest);
            (r, enc)
        }),
    };
    channel_of(vm, chan).encoder = Some(enc);
    if let Some(e) = refused {
        return Err(e);
    }
    written.map_err(|e| process_error(vm, format!("the other process closed the channel ({})", io_text(&e))))
}
