//! `Event()`: `e.set()`, `e.clear()`, `e.is_set()`, `e.wait()`, `e.wait(timeout)`.
//!
//! Invariant: every `set` bumps `sets`, and a waiter returns true once `sets` has moved
//! since it began, so a `set` followed at once by a `clear` still wakes every waiter.

use super::forked::renew;
use crate::object::{EventObj, Obj};
use crate::threads::{Wait, block, deadline_after};
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};
use crate::wait_graph::WaitFor;
use std::sync::Arc;
use std::time::Instant;

fn event_obj<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut EventObj {
    match vm.it.heap.get_mut(id) {
        Obj::Event(e) => {
            renew(&mut e.signal);
            e
        }
        _ => unreachable!("an event handle names an event object"),
    }
}

pub fn new_event(vm: &mut Vm) -> Value {
    Value::Obj(vm.it.heap.alloc(Obj::Event(EventObj {
        flag: false,
        sets: 0,
        signal: Arc::default(),
    })))
}

pub fn set(vm: &mut Vm, id: ObjId) {
    let e = event_obj(vm, id);
    e.flag = true;
    e.sets += 1;
    e.signal.bump();
}

pub fn clear(vm: &mut Vm, id: ObjId) {
    event_obj(vm, id).flag = false;
}

pub fn is_set(vm: &mut Vm, id: ObjId) -> bool {
    event_obj(vm, id).flag
}

/// `e.wait()` / `e.wait(timeout)`: true once the event is (or has been) set, false on
/// time-out.
pub fn wait(vm: &mut Vm, id: ObjId, timeout: Option<f64>) -> VmResult<bool> {
    let deadline = timeout.map(deadline_after);
    let e = event_obj(vm, id);
    if e.flag {
        return Ok(true);
    }
    let sets = e.sets;
    loop {
        let e = event_obj(vm, id);
        if e.sets != sets {
            return Ok(true);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
        let signal = e.signal.clone();
        let seen = signal.generation();
        block(vm, Wait::on(WaitFor::Event(id), &signal, seen, deadline))?;
    }
}
