//! The wire to heap values: the `Builder` the decoder calls to make toy values, and the
//! split of a decoded frame into its kind and value.
//!
//! Invariant: decoding builds plain values only — it never runs code — and a frame that is
//! not `[kind, value]` is a `ProcessError`, never trusted.

use super::channel::process_error;
use crate::object::{Obj, TbEntry};
use crate::value::Value;
use crate::vm::{Vm, VmResult};
use crate::wire::{self, Builder, WireError};
/// Builds heap values from a decoded frame.
pub(super) struct HeapBuilder<'v, 'a> {
    pub(super) vm: &'v mut Vm<'a>,
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
        self.vm.new_str(s)
    }
    fn ascii_str(&mut self, s: &str) -> Value {
        self.vm.it.heap.new_ascii_str(s)
    }
    fn list(&mut self, items: Vec<Value>) -> Value {
        self.vm.it.heap.new_list(items)
    }
    fn map(&mut self, pairs: Vec<(Value, Value)>) -> Result<Value, WireError> {
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
            e.traceback = traceback
                .into_iter()
                .map(|(file, line, func)| TbEntry {
                    file: file.into(),
                    line,
                    func: func.into(),
                })
                .collect();
        }
        v
    }
}

/// Decodes a whole frame held as bytes (a message `join` kept for a later `recv`).
pub(super) fn decode_frame(vm: &mut Vm, frame: &[u8]) -> VmResult<(i64, Value)> {
    let decoded = wire::decode(frame, &mut HeapBuilder { vm });
    let v = decoded.map_err(|e| process_error(vm, e.0))?;
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
