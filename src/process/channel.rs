//! What the files of this folder share: the kinds of frame a channel carries, the
//! largest message accepted, how a failure reads, and finding the channel of a process
//! or channel object.
//!
//! Invariant: a frame is `[kind, value]` with one of the three kinds below, and only the
//! kinds its sender may send: a parent sends messages only; a child sends messages, then
//! one result or one error (whose value is an error). Anything else is refused as a bad
//! message, never taken for a result.

use crate::object::{Channel, Obj, ProcessObj};
use crate::value::ObjId;
use crate::vm::{Thrown, Vm};

/// The largest message a process accepts (a bound against a corrupt length prefix).
pub(crate) const MAX_MESSAGE: usize = 1 << 34;

/// A frame's kind: a value from `send`.
pub(crate) const KIND_MESSAGE: i64 = 0;
/// A frame's kind: the child's result, its last frame.
pub(crate) const KIND_RESULT: i64 = 1;
/// A frame's kind: the error the child's function threw, its last frame.
pub(crate) const KIND_ERROR: i64 = 2;

/// Who sent a frame, which decides the kinds it may carry.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Sender {
    /// The parent, to a child's `parent()` channel: messages only.
    Parent,
    /// A child, to the parent's process object: messages, then a result or an error.
    Child,
}

impl Sender {
    /// The sender of the frames that arrive at channel end `id`.
    pub(super) fn of_frames_to(vm: &Vm, id: ObjId) -> Sender {
        match vm.it.heap.get(id) {
            Obj::Process(_) => Sender::Child,
            _ => Sender::Parent,
        }
    }

    /// Why a frame of `kind` from this sender is not acceptable, if it is not.
    pub(super) fn refuses(self, kind: i64) -> Option<String> {
        match (self, kind) {
            (_, KIND_MESSAGE) | (Sender::Child, KIND_RESULT | KIND_ERROR) => None,
            (Sender::Parent, KIND_RESULT | KIND_ERROR) => {
                Some(format!("a parent cannot send a frame of kind {kind} (only messages)"))
            }
            _ => Some(format!("unknown frame kind {kind}")),
        }
    }
}

pub(crate) fn process_error(vm: &mut Vm, msg: impl AsRef<str>) -> Box<Thrown> {
    vm.error("ProcessError", msg)
}

pub(super) fn io_text(e: &std::io::Error) -> String {
    crate::os_error::io_message(e)
}

pub(super) fn channel_of<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut Channel {
    match vm.it.heap.get_mut(id) {
        Obj::Process(p) => &mut p.channel,
        Obj::Channel(c) => &mut c.channel,
        _ => unreachable!("a channel handle names a process or channel"),
    }
}

pub(super) fn process_obj<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut ProcessObj {
    match vm.it.heap.get_mut(id) {
        Obj::Process(p) => p,
        _ => unreachable!("a process handle names a process object"),
    }
}
