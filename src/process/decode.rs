//! The wire to heap values: the `Builder` the decoder calls to make toy values, and the
//! split of a decoded frame into its kind and value.
//!
//! Invariant: decoding builds plain values only — it never runs code — and a frame that is
//! not `[kind, value]` is a `ProcessError`, never trusted.

use super::channel::{KIND_ERROR, Sender, process_error};
use crate::object::{Obj, TbEntry, Traceback};
use crate::value::Value;
use crate::vm::{Vm, VmResult};
use crate::wire::{self, Builder, WireError};

/// Builds heap values from a decoded frame. A value that would pass the memory limit, or
/// that the system cannot hold, is not made (it decodes as nil); `short` records the
/// bytes it needed, and the frame, once read to its end, becomes a `MemoryError`.
pub(crate) struct HeapBuilder<'v, 'a> {
    pub(crate) vm: &'v mut Vm<'a>,
    pub(crate) short: &'v mut Option<usize>,
}

impl HeapBuilder<'_, '_> {
    /// Whether `bytes` more fit; if not, remembers the first shortfall.
    fn room_for(&mut self, bytes: usize) -> bool {
        if self.short.is_some() {
            return false;
        }
        let fits = self.vm.it.heap.fits(bytes) && {
            // A long string is copied into the heap: the copy must not be what aborts.
            let mut probe: Vec<u8> = Vec::new();
            bytes < (1 << 20) || probe.try_reserve_exact(bytes).is_ok()
        };
        if !fits {
            *self.short = Some(bytes);
        }
        fits
    }
}

impl Builder for HeapBuilder<'_, '_> {
    type Value = Value;
    fn nil(&mut self) -> Value {
        Value::Nil
    }
    fn bool(&mut self, b: bool) -> Value {
        Value::bool(b)
    }
    fn int(&mut self, i: i64) -> Value {
        Value::Int(i)
    }
    fn float(&mut self, f: f64) -> Value {
        Value::float(f)
    }
    fn str(&mut self, s: &str) -> Value {
        if !self.room_for(s.len()) {
            return Value::Nil;
        }
        self.vm.new_str(s)
    }
    fn ascii_str(&mut self, s: &str) -> Value {
        if !self.room_for(s.len()) {
            return Value::Nil;
        }
        self.vm.it.heap.new_ascii_str(s)
    }
    fn list(&mut self, items: Vec<Value>) -> Value {
        if !self.room_for(items.capacity() * crate::heap::ITEM_BYTES) {
            return Value::Nil;
        }
        self.vm.it.heap.new_list(items)
    }
    fn leaf_list(&mut self, items: Vec<Value>) -> Value {
        if !self.room_for(items.capacity() * crate::heap::ITEM_BYTES) {
            return Value::Nil;
        }
        self.vm.it.heap.new_leaf_list(items)
    }
    fn map(&mut self, pairs: Vec<(Value, Value)>) -> Result<Value, WireError> {
        if !self.room_for(pairs.len() * 64) {
            return Ok(Value::Nil);
        }
        let mut m = crate::object::MapObj::default();
        for (k, v) in pairs {
            let key = self.vm.it.heap.map_key(k).ok_or_else(|| {
                WireError("bad message from the other process: a map key that is not a str, int, bool or nil".into())
            })?;
            m.insert(key, v);
        }
        Ok(self.vm.it.heap.new_map(m))
    }
    fn error(&mut self, kind: &str, message: &str, traceback: Vec<(String, u32, String)>) -> Value {
        let v = self.vm.it.heap.new_error(kind, message);
        if let Value::Obj(id) = v
            && let Obj::Error(e) = self.vm.it.heap.get_mut(id)
        {
            e.traceback = Traceback::from_entries(traceback.into_iter().map(|(file, line, func)| TbEntry {
                file: file.into(),
                line,
                func: func.into(),
            }));
        }
        v
    }
}

/// Decodes a whole frame held as bytes (a message `join` kept for a later `recv`).
pub(crate) fn decode_frame(vm: &mut Vm, frame: &[u8], from: Sender) -> VmResult<(i64, Value)> {
    vm.make_room_if_needed(frame.len());
    let mut short = None;
    // The common small message, `[kind, scalar]`, is read in place: it makes at most one
    // object, so no collection can come between making it and returning it.
    if let Some((kind, value)) = wire::decode_pair(frame, &mut HeapBuilder { vm, short: &mut short }) {
        if let Some(bytes) = short {
            return Err(vm.too_big_error(bytes));
        }
        return check_kind(vm, kind, value, from);
    }
    vm.it.gc_inhibit += 1;
    let decoded = wire::decode(frame, &mut HeapBuilder { vm, short: &mut short });
    vm.it.gc_inhibit -= 1;
    let v = decoded.map_err(|e| process_error(vm, e.0))?;
    if let Some(bytes) = short {
        return Err(vm.too_big_error(bytes));
    }
    split_frame(vm, v, from)
}

/// Splits a decoded frame into its kind and value, refusing a kind its sender may not send
/// and an error frame that holds no error.
pub(crate) fn split_frame(vm: &mut Vm, v: Value, from: Sender) -> VmResult<(i64, Value)> {
    let bad = |vm: &mut Vm, why: &str| process_error(vm, format!("bad message from the other process: {why}"));
    let (kind, value) = match v {
        Value::List(id) => match vm.it.heap.list(id).as_slice() {
            [Value::Int(kind), value] => (*kind, *value),
            _ => return Err(bad(vm, "not a [kind, value] frame")),
        },
        _ => return Err(bad(vm, "not a [kind, value] frame")),
    };
    check_kind(vm, kind, value, from)
}

/// The parts of a `[kind, value]` frame, refusing a kind its sender may not send and an
/// error frame that holds no error.
fn check_kind(vm: &mut Vm, kind: i64, value: Value, from: Sender) -> VmResult<(i64, Value)> {
    let bad = |vm: &mut Vm, why: &str| process_error(vm, format!("bad message from the other process: {why}"));
    if let Some(why) = from.refuses(kind) {
        return Err(bad(vm, &why));
    }
    let holds_error = matches!(value, Value::Obj(id) if vm.it.heap.error(id).is_some());
    if kind == KIND_ERROR && !holds_error {
        return Err(bad(vm, "an error frame that holds no error"));
    }
    Ok((kind, value))
}

#[cfg(test)]
mod tests {
    use super::super::channel::{KIND_MESSAGE, KIND_RESULT};
    use super::*;
    use crate::interpreter::Interpreter;
    use crate::wire::{Encoder, PREFIX_LEN};

    /// The payload of a frame `[kind, value]`, the value written by `value`.
    fn frame(kind: i64, value: impl FnOnce(&mut Encoder)) -> Vec<u8> {
        let mut e = Encoder::new();
        e.list(2);
        e.int(kind);
        value(&mut e);
        e.bytes()[PREFIX_LEN..].to_vec()
    }

    fn outcome(frame: &[u8], from: Sender) -> Result<i64, String> {
        let mut toy = Interpreter::new();
        toy.with_vm(|vm| match decode_frame(vm, frame, from) {
            Ok((kind, _)) => Ok(kind),
            Err(t) => Err(vm.it.heap.display(t.value)),
        })
    }

    #[test]
    fn each_sender_may_send_only_its_own_kinds() {
        let message = frame(KIND_MESSAGE, |e| e.int(5));
        assert_eq!(outcome(&message, Sender::Parent), Ok(KIND_MESSAGE));
        assert_eq!(outcome(&message, Sender::Child), Ok(KIND_MESSAGE));
        let result = frame(KIND_RESULT, |e| e.str("forged"));
        assert_eq!(outcome(&result, Sender::Child), Ok(KIND_RESULT));
        let refused = outcome(&result, Sender::Parent).unwrap_err();
        assert!(refused.contains("a parent cannot send a frame of kind 1"), "{refused}");
        let unknown = outcome(&frame(7, |e| e.nil()), Sender::Child).unwrap_err();
        assert_eq!(
            unknown,
            "ProcessError: bad message from the other process: unknown frame kind 7"
        );
        let negative = outcome(&frame(-1, |e| e.nil()), Sender::Parent).unwrap_err();
        assert!(negative.contains("unknown frame kind -1"), "{negative}");
    }

    #[test]
    fn an_error_frame_must_hold_an_error() {
        let fake = outcome(&frame(KIND_ERROR, |e| e.str("not an error")), Sender::Child).unwrap_err();
        assert!(fake.contains("an error frame that holds no error"), "{fake}");
        let real = frame(KIND_ERROR, |e| e.error("ValueError", "bad", &[("x.toy", 3, "f")]));
        assert_eq!(outcome(&real, Sender::Child), Ok(KIND_ERROR));
    }

    #[test]
    fn a_frame_is_a_kind_and_a_value() {
        let mut e = Encoder::new();
        e.list(3);
        e.int(0);
        e.nil();
        e.nil();
        let three = outcome(&e.bytes()[PREFIX_LEN..], Sender::Child).unwrap_err();
        assert!(three.contains("not a [kind, value] frame"), "{three}");
    }
}
