//! `Queue()` / `Queue(maxsize)`: `put(v)`, `put(v, timeout)`, `get()`, `get(timeout)`,
//! `len()`, `empty()` — first in, first out, bounded when `maxsize` is positive.
//!
//! Invariant: the items are heap values traced by the queue object; every put and get
//! bumps the signal, so a waiter for an item and a waiter for room both see the change.

use super::forked::renew;
use crate::object::{Obj, QueueObj};
use crate::threads::{Wait, block, deadline_after};
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};
use crate::wait_graph::WaitFor;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

fn queue_obj<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut QueueObj {
    match vm.it.heap.get_mut(id) {
        Obj::Queue(q) => {
            renew(&mut q.signal);
            q
        }
        _ => unreachable!("a queue handle names a queue object"),
    }
}

pub fn new_queue(vm: &mut Vm, maxsize: usize) -> Value {
    let q = QueueObj {
        items: VecDeque::new(),
        maxsize,
        signal: Arc::default(),
    };
    Value::Obj(vm.it.heap.alloc(Obj::Queue(Box::new(q))))
}

/// `q.put(v)` / `q.put(v, timeout)`: waits while the queue is full; `TimeoutError` if it
/// stays full until the deadline.
pub fn put(vm: &mut Vm, id: ObjId, v: Value, timeout: Option<f64>) -> VmResult<()> {
    let deadline = timeout.map(deadline_after);
    loop {
        let q = queue_obj(vm, id);
        if q.maxsize == 0 || q.items.len() < q.maxsize {
            q.items.push_back(v);
            q.signal.bump();
            return Ok(());
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(vm.error("TimeoutError", "queue put timed out"));
        }
        let signal = q.signal.clone();
        let seen = signal.generation();
        block(vm, Wait::on(WaitFor::QueueRoom(id), &signal, seen, deadline))?;
    }
}

/// `q.get()` / `q.get(timeout)`: waits while the queue is empty; `TimeoutError` if it
/// stays empty until the deadline.
pub fn get(vm: &mut Vm, id: ObjId, timeout: Option<f64>) -> VmResult<Value> {
    let deadline = timeout.map(deadline_after);
    loop {
        let q = queue_obj(vm, id);
        if let Some(v) = q.items.pop_front() {
            q.signal.bump();
            return Ok(v);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(vm.error("TimeoutError", "queue get timed out"));
        }
        let signal = q.signal.clone();
        let seen = signal.generation();
        block(vm, Wait::on(WaitFor::QueueItem(id), &signal, seen, deadline))?;
    }
}

pub fn len(vm: &mut Vm, id: ObjId) -> usize {
    queue_obj(vm, id).items.len()
}
