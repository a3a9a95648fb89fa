//! Heap values to the wire: walking a value and writing it through an encoder, refusing
//! what cannot be sent (a function, a lock, a structure that contains itself).
//!
//! Invariant: only `nil bool int float str list map error` are written, at most
//! `wire::MAX_DEPTH` deep; a refusal may come after part of the value was written, and the
//! caller then abandons the frame.

use crate::value::{MapKey, ObjId, Value};
use crate::vm::{Vm, VmResult};
use crate::wire::{self, Sink};

/// How many ints of a list are gathered into one `Sink::ints` call.
const INT_RUN: usize = 256;

/// Encodes `v` into `enc`; `path` holds the containers being encoded, to refuse cycles. A
/// refusal can come after part of the value is written (and, for a long one, sent): the
/// caller then abandons the frame.
pub(super) fn encode_value<S: Sink>(vm: &mut Vm, enc: &mut S, v: Value, path: &mut Vec<ObjId>) -> VmResult<()> {
    encode_to(vm, enc, v, path, Peer::Process)
}

/// Who receives what is encoded, as refusals name it.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Peer {
    Process,
    Interpreter,
}

/// [`encode_value`] for a message to `peer`.
pub(crate) fn encode_to<S: Sink>(
    vm: &mut Vm,
    enc: &mut S,
    v: Value,
    path: &mut Vec<ObjId>,
    peer: Peer,
) -> VmResult<()> {
    if path.len() > wire::MAX_DEPTH {
        return Err(vm.error("ValueError", "cannot send a structure nested this deeply"));
    }
    match v {
        Value::Nil | Value::Undef => enc.nil(),
        Value::Bool(b) => enc.bool(b.get()),
        Value::Int(i) => enc.int(i),
        Value::Float(f) => enc.float(f.get()),
        Value::Str(id) => enc.str(vm.it.heap.str(id)),
        Value::List(id) | Value::Map(id) => {
            if path.contains(&id) {
                return Err(vm.error("ValueError", "cannot send a structure that contains itself"));
            }
            path.push(id);
            if let Value::List(_) = v {
                let n = vm.it.heap.list(id).len();
                enc.list(n);
                if let Some(Value::Int(_) | Value::Float(_)) = vm.it.heap.list(id).first() {
                    // A list that starts with a number is most likely all numbers.
                    enc.reserve(n.saturating_mul(wire::INT_SIZE));
                }
                let mut i = 0;
                let mut run = [0i64; INT_RUN];
                while i < n {
                    // Runs of leaves (numbers, strings, nil, bools) are written straight
                    // from the list; only containers and errors take the general path.
                    let heap = &vm.it.heap;
                    let items = heap.list(id);
                    while let Some(&item) = items.get(i) {
                        match item {
                            Value::Int(_) => {
                                // Gathered a block at a time, written in one step.
                                let mut k = 0;
                                while let (Some(Value::Int(x)), Some(slot)) = (items.get(i), run.get_mut(k)) {
                                    *slot = *x;
                                    k += 1;
                                    i += 1;
                                }
                                enc.ints(&run[..k]);
                                continue;
                            }
                            Value::Float(x) => enc.float(x.get()),
                            Value::Str(s) => enc.str(heap.str(s)),
                            Value::Bool(b) => enc.bool(b.get()),
                            Value::Nil => enc.nil(),
                            _ => break,
                        }
                        i += 1;
                    }
                    if let Some(&item) = vm.it.heap.list(id).get(i) {
                        encode_to(vm, enc, item, path, peer)?;
                        i += 1;
                    }
                }
            } else {
                let entries: Vec<(MapKey, Value)> = vm.it.heap.map(id).iter().map(|(k, v)| (k.clone(), *v)).collect();
                enc.map(entries.len());
                for (k, item) in entries {
                    match &k {
                        MapKey::Nil => enc.nil(),
                        MapKey::Bool(b) => enc.bool(*b),
                        MapKey::Int(i) => enc.int(*i),
                        MapKey::Str(s) => enc.str(s),
                    }
                    encode_to(vm, enc, item, path, peer)?;
                }
            }
            path.pop();
        }
        Value::Obj(id) if vm.it.heap.error(id).is_some() => {
            let e = vm.it.heap.error(id).expect("checked above");
            let tb: Vec<(&str, u32, &str)> = e.traceback.entries().map(|t| (&*t.file, t.line, &*t.func)).collect();
            enc.error(&e.kind, &e.message, &tb);
        }
        other => {
            let t = other.type_name(&vm.it.heap);
            let to = match peer {
                Peer::Process => "process",
                Peer::Interpreter => "interpreter",
            };
            return Err(vm.type_error(format!("cannot send {t} to another {to}")));
        }
    }
    Ok(())
}
