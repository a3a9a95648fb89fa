//! `Barrier(n)`: `b.wait()` blocks until `n` threads wait, then returns each a different
//! index in `0..n`; every `n` waiters form a round, and the barrier is ready for the next.
//!
//! Invariants:
//! - Within a round the indices handed out are all different: a waiter that leaves with
//!   an error (Ctrl-C, a deadlock report) gives its index back, and the next to arrive
//!   takes it; the round completes when `n` threads are in it.
//! - In a forked child, a round the parent's threads had begun is forgotten (none of them
//!   exists there; the forking thread was not waiting).

use super::forked::renew;
use crate::object::{BarrierObj, Obj};
use crate::threads::{Wait, block};
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};
use crate::wait_graph::WaitFor;
use std::sync::Arc;

fn barrier_obj<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut BarrierObj {
    match vm.it.heap.get_mut(id) {
        Obj::Barrier(b) => {
            if renew(&mut b.signal) {
                b.next_index = 0;
                b.returned.clear();
            }
            b
        }
        _ => unreachable!("a barrier handle names a barrier object"),
    }
}

pub fn new_barrier(vm: &mut Vm, parties: u64) -> Value {
    Value::Obj(vm.it.heap.alloc(Obj::Barrier(Box::new(BarrierObj {
        parties,
        next_index: 0,
        returned: Vec::new(),
        round: 0,
        signal: Arc::default(),
    }))))
}

/// `b.wait()`: this thread's index in its round, once the round is complete.
pub fn wait(vm: &mut Vm, id: ObjId) -> VmResult<u64> {
    let b = barrier_obj(vm, id);
    let index = b.returned.pop().unwrap_or_else(|| {
        b.next_index += 1;
        b.next_index - 1
    });
    if b.next_index - b.returned.len() as u64 == b.parties {
        b.round += 1;
        b.next_index = 0;
        b.returned.clear();
        b.signal.bump();
        return Ok(index);
    }
    let round = b.round;
    loop {
        let b = barrier_obj(vm, id);
        if b.round != round {
            return Ok(index);
        }
        let signal = b.signal.clone();
        let seen = signal.generation();
        if let Err(e) = block(vm, Wait::on(WaitFor::Barrier(id), &signal, seen, None)) {
            let b = barrier_obj(vm, id);
            if b.round == round {
                b.returned.push(index);
            }
            return Err(e);
        }
    }
}
