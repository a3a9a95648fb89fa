//! What the files of this folder share: the kinds of frame a channel carries, the
//! largest message accepted, how a failure reads, and finding the channel of a process
//! or channel object.
//!
//! Invariant: a frame is `[kind, value]` with one of the three kinds below; nothing else
//! is a frame.

use crate::object::{Channel, Obj, ProcessObj};
use crate::value::ObjId;
use crate::vm::{Thrown, Vm};
/// The largest message a process accepts (a bound against a corrupt length prefix).
pub(super) const MAX_MESSAGE: usize = 1 << 34;

/// What a frame carries: a value from `send`, the child's result, or its error.
pub(super) const KIND_MESSAGE: i64 = 0;

pub(super) const KIND_RESULT: i64 = 1;

pub(super) const KIND_ERROR: i64 = 2;

pub(super) fn process_error(vm: &mut Vm, msg: impl AsRef<str>) -> Box<Thrown> {
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
