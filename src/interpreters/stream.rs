//! Long messages between interpreters, in pieces: the sender hands each piece of about
//! [`PIECE`] bytes to the receiver as soon as it is encoded, and the receiver decodes what
//! has arrived while the sender encodes the rest — on two cores, a long message costs
//! about the longer of encoding and decoding instead of their sum. A message shorter than
//! a piece still travels as one whole frame.
//!
//! Invariants:
//! - The payload is the one a whole frame would carry, byte for byte (the same encoder,
//!   cut only between items), and the receiver decodes it with the same checks: a stream
//!   changes when bytes cross, never what they mean.
//! - A message is still a copy: the receiver builds its own values from the bytes; no heap
//!   object is shared. The pieces themselves are not copied again: the receiver decodes
//!   each where it lies (`wire::PieceDecoder`), joining only the bytes of an item cut by a
//!   piece's end, or of a map still open.
//! - A stream is always ended by its sender, complete or abandoned (a refusal half-way,
//!   or an unwind, through `link::StreamSender`), so the reader never waits for a piece
//!   that will not come; while the reader holds half-built values, collection is held off.

use super::wait::{Side, wait_piece};
use crate::link::{Link, Mailbox, StreamEnd, StreamSender};
use crate::process::{HeapBuilder, MAX_MESSAGE, Peer, Sender, encode_to, process_error, split_frame};
use crate::value::Value;
use crate::vm::{Vm, VmResult};
use crate::wire::{Decoder, Encoder, Length, PREFIX_LEN, PieceDecoder, Pump, Pumped, Sink};
use std::sync::Arc;

/// About how many bytes each piece of a long message holds.
pub(super) const PIECE: usize = 64 << 10;

/// Room for a piece and the item that ends it (one block of ints, say), so that a piece
/// is written without growing its buffer.
const PIECE_ROOM: usize = PIECE + (8 << 10);

/// What `encode` made of a value.
pub(super) enum Encoded {
    /// A whole frame, not yet in the mailbox.
    Frame(Vec<u8>),
    /// Every piece is in the mailbox already.
    Streamed,
}

/// An encoder that, every [`PIECE`] bytes, hands what it wrote to the mailbox.
struct Piecewise<'m> {
    enc: Encoder,
    mailbox: &'m Mailbox,
    /// The stream, once the first piece has gone.
    stream: Option<StreamSender<'m>>,
    /// The mailbox was closed when the first piece was ready: nothing more is handed on.
    closed: bool,
}

impl Piecewise<'_> {
    /// Hands the bytes written so far on as the next piece.
    #[cold]
    fn hand_on(&mut self) {
        let mut piece = self.enc.take_piece(PIECE_ROOM);
        if self.stream.is_none() && !self.closed {
            // The first piece: the payload starts after the length prefix's place.
            piece.drain(..PREFIX_LEN.min(piece.len()));
            self.stream = self.mailbox.put_stream();
            self.closed = self.stream.is_none();
        }
        if let Some(stream) = &self.stream {
            stream.piece(piece);
        }
    }
}

impl Pump for Piecewise<'_> {
    fn encoder(&mut self) -> &mut Encoder {
        &mut self.enc
    }

    #[inline]
    fn after_item(&mut self) {
        if self.enc.bytes().len() >= PIECE {
            self.hand_on();
        }
    }
}

/// Encodes `[kind, v]` for `mailbox`: a whole frame if it is short, else in pieces that go
/// to the mailbox as they are written. `Ok(None)` when the mailbox was closed.
pub(super) fn encode(vm: &mut Vm, mailbox: &Mailbox, kind: i64, v: Value) -> VmResult<Option<Encoded>> {
    let mut sink = Pumped(Piecewise {
        enc: Encoder::new(),
        mailbox,
        stream: None,
        closed: false,
    });
    sink.list(2);
    sink.int(kind);
    // A refusal half-way drops the sink, and with it the stream, abandoned.
    encode_to(vm, &mut sink, v, &mut Vec::new(), Peer::Interpreter)?;
    let Pumped(mut p) = sink;
    debug_assert!(p.enc.is_complete(), "a message is one whole value");
    if p.closed {
        return Ok(None);
    }
    match p.stream.take() {
        None => Ok(Some(Encoded::Frame(p.enc.into_frame()))),
        Some(stream) => {
            let last = p.enc.take_piece(0);
            if !last.is_empty() {
                stream.piece(last);
            }
            stream.end(StreamEnd::Complete);
            Ok(Some(Encoded::Streamed))
        }
    }
}

/// Reads a streamed message from the mailbox on `side` of `link`, decoding as the pieces
/// arrive (waiting for them with the GIL released). `Ok(None)`: the sender abandoned it.
pub(super) fn receive(
    vm: &mut Vm,
    link: &Arc<Link>,
    side: Side,
    stream: &crate::link::Stream,
    sender: Sender,
) -> VmResult<Option<(i64, Value)>> {
    let mut pieces = PieceDecoder::new(Decoder::from_own_encoder(), side.of(link).take_buffer());
    let mut received = 0;
    let mut short = None;
    vm.it.gc_inhibit += 1;
    let decoded = 'read: loop {
        let seen = side.of(link).signal.generation();
        let (arrived, end) = stream.take_pieces();
        let length = match end {
            Some(StreamEnd::Abandoned) => break Ok(None),
            Some(StreamEnd::Complete) => Length::Exactly(received + arrived.iter().map(Vec::len).sum::<usize>()),
            None => Length::AtMost(MAX_MESSAGE),
        };
        let mut fed = false;
        for piece in arrived.iter().filter(|p| !p.is_empty()) {
            received += piece.len();
            fed = true;
            match pieces.piece(piece, length, &mut HeapBuilder { vm, short: &mut short }) {
                Ok(Some(v)) => break 'read Ok(Some(v)),
                Ok(None) => {}
                Err(e) => break 'read Err(process_error(vm, e.0)),
            }
        }
        if end.is_some() {
            // The end came after the last piece fed: the length is known only now.
            if !fed {
                match pieces.piece(&[], length, &mut HeapBuilder { vm, short: &mut short }) {
                    Ok(Some(v)) => break Ok(Some(v)),
                    Ok(None) => {}
                    Err(e) => break Err(process_error(vm, e.0)),
                }
            }
            break Err(process_error(vm, "bad message from the other interpreter: incomplete"));
        }
        if let Err(t) = wait_piece(vm, link, side, seen) {
            break Err(t);
        }
    };
    vm.it.gc_inhibit -= 1;
    side.of(link).give_back_buffer(pieces.into_buffer());
    let Some(v) = decoded? else {
        return Ok(None);
    };
    if let Some(bytes) = short {
        return Err(vm.too_big_error(bytes));
    }
    split_frame(vm, v, sender).map(Some)
}
