//! The wire to heap values: the `Builder` the decoder calls to make toy values, and the
//! split of a decoded frame into its kind and value.
//!
//! Invariant: decoding builds plain values only — it never runs code — and a frame that is
//! not `[kind, value]` is a `ProcessError`, never trusted.

use super::channel::process_error;
use crate::object::{Obj, TbEntry, Traceback};
use crate::value::Value;
use crate::vm::{Vm, VmResult};
use crate::wire::{self, Builder, WireError};
/// Builds heap values from a decoded frame. A value that would pass the memory limit, or
/// that the system cannot hold, is not made (it decodes as nil); `short` records the
/// bytes it needed, and the frame, once read to its end, becomes a `MemoryError`.
pub(super) struct HeapBuilder<'v, 'a> {
    pub(super) vm: &'v mut Vm<'a>,
    pub(super) short: &'v mut Option<usize>,
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
pub(super) fn decode_frame(vm: &mut Vm, frame: &[u8]) -> VmResult<(i64, Value)> {
    vm.make_room_if_needed(frame.len());
    let mut short = None;
    vm.it.gc_inhibit += 1;
    let decoded = wire::decode(frame, &mut HeapBuilder { vm, short: &mut short });
    vm.it.gc_inhibit -= 1;
    let v = decoded.map_err(|e| process_error(vm, e.0))?;
    if let Some(bytes) = short {
        return Err(vm.too_big_error(bytes));
    }
    split_frame(vm, v)
}

/// Splits a decoded frame into its kind and value.
pub(super) fn split_frame(vm: &mut Vm, v: Value) -> VmResult<(i64, Value)> {
    if let Value::List(id) = v
        && let [Value::Int(kind), value] = vm.it.heap.list(id).as_slice()
    {
        return Ok((*kind, *value));
    }
    Err(process_error(
        vm,
        "bad message from the other process: not a [kind, value] frame",
    ))
}
