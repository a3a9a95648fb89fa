//! Messages between interpreters: `i.send(v)` / `i.recv()` in the spawner and
//! `parent().send(v)` / `parent().recv()` in the spawned one. A message is a wire frame
//! `[KIND_MESSAGE, value]`, encoded by the sender under its GIL into a buffer that moves,
//! whole, into the receiver's mailbox, and decoded by the receiver under its own GIL.
//!
//! A message longer than one piece crosses in pieces instead (see `stream`).
//!
//! Invariant: the encoding is the one processes use (`process::encode_to`, the same
//! refusals, naming an interpreter instead of a process); a frame that could not be
//! encoded whole is never put in the mailbox, so the receiver sees nothing of it.

use super::stream::{self, Encoded};
use super::wait::{Side, wait_change};
use crate::link::{Link, Taken};
use crate::object::Obj;
use crate::process::{KIND_MESSAGE, Peer, Sender, decode_frame, encode_to, process_error};
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};
use crate::wire::{Encoder, PREFIX_LEN};
use std::sync::Arc;

/// The link behind an interpreter object or an in-memory channel, and which way its
/// messages go from here: (link, outgoing, incoming).
pub(super) fn endpoint(vm: &Vm, id: ObjId) -> Option<(Arc<Link>, Side, Side)> {
    match vm.it.heap.get(id) {
        Obj::Interpreter(i) => Some((i.link.clone(), Side::ToChild, Side::ToParent)),
        Obj::Channel(c) => c.link.clone().map(|l| (l, Side::ToParent, Side::ToChild)),
        _ => None,
    }
}

/// Encodes `[kind, v]` as one whole wire frame (prefix included).
pub(super) fn encode_frame(vm: &mut Vm, kind: i64, v: Value) -> VmResult<Vec<u8>> {
    let mut enc = Encoder::new();
    enc.list(2);
    enc.int(kind);
    encode_to(vm, &mut enc, v, &mut Vec::new(), Peer::Interpreter)?;
    Ok(enc.into_frame())
}

/// Decodes a whole frame made by [`encode_frame`], keeping the rules of `sender`.
pub(super) fn decode(vm: &mut Vm, frame: &[u8], sender: Sender) -> VmResult<(i64, Value)> {
    let payload = frame.get(PREFIX_LEN..).unwrap_or_default();
    decode_frame(vm, payload, sender)
}

/// `send(v)` on either end: a long message goes in pieces, decoded by the receiver while
/// the rest is encoded (`stream`).
pub fn send(vm: &mut Vm, id: ObjId, v: Value) -> VmResult<Value> {
    let Some((link, out, _)) = endpoint(vm, id) else {
        return Err(process_error(vm, "the channel is closed"));
    };
    let mailbox = out.of(&link);
    let sent = match stream::encode(vm, mailbox, KIND_MESSAGE, v)? {
        Some(Encoded::Frame(frame)) => mailbox.put(frame),
        Some(Encoded::Streamed) => true,
        None => false,
    };
    if !sent {
        return Err(process_error(vm, "the other interpreter closed the channel"));
    }
    Ok(Value::Nil)
}

/// `recv()` / `recv(timeout)` on either end: the next message; `TimeoutError` when none
/// came in time, `ProcessError` once the other side has ended and every message is read.
pub fn recv(vm: &mut Vm, id: ObjId, timeout: Option<f64>) -> VmResult<Value> {
    let Some((link, _, incoming)) = endpoint(vm, id) else {
        return Err(process_error(vm, "the channel is closed"));
    };
    let deadline = timeout.map(crate::threads::deadline_after);
    loop {
        let seen = incoming.of(&link).signal.generation();
        match incoming.of(&link).take() {
            Taken::Frame(frame) => return decode(vm, &frame, Sender::Parent).map(|(_, v)| v),
            Taken::Stream(s) => match stream::receive(vm, &link, incoming, &s, Sender::Parent)? {
                Some((_, v)) => return Ok(v),
                // Abandoned by its sender: the next message is the answer.
                None => continue,
            },
            Taken::Closed => {
                return Err(process_error(vm, "the other interpreter closed the channel"));
            }
            Taken::Empty => {}
        }
        if !wait_change(vm, &link, incoming, seen, deadline)? {
            return Err(vm.error("TimeoutError", "recv timed out"));
        }
    }
}
