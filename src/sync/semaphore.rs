//! `Semaphore(n)`: `acquire()`, `acquire(timeout)`, `release()`, `with s { }`.
//! `Semaphore(0)` starts empty, and releases beyond the starting count are allowed.
//!
//! Invariants:
//! - `permits` is what an acquire may take now. `holders` counts, per thread, the permits
//!   it took and has not released; it serves deadlock reports only (a thread waiting for a
//!   permit while the permits are held by threads waiting for it), and a release by a
//!   thread that took none adds a permit without taking one from anybody's count.
//! - An acquire that finds a permit never reaches the wait-for graph.
//! - In a forked child, permits held by threads other than the forking one are back.

use super::forked::renew;
use crate::object::{Obj, SemaphoreObj};
use crate::threads::{Wait, block, deadline_after};
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};
use crate::wait_graph::WaitFor;
use std::sync::Arc;
use std::time::Instant;

fn semaphore_obj<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut SemaphoreObj {
    let forker = vm.it.main_thread.get();
    match vm.it.heap.get_mut(id) {
        Obj::Semaphore(s) => {
            if renew(&mut s.signal) {
                let gone: u64 = s.holders.iter().filter(|(t, _)| *t != forker).map(|(_, n)| n).sum();
                s.permits = s.permits.saturating_add(gone);
                s.holders.retain(|(t, _)| *t == forker);
            }
            s
        }
        _ => unreachable!("a semaphore handle names a semaphore object"),
    }
}

pub fn new_semaphore(vm: &mut Vm, permits: u64) -> Value {
    Value::Obj(vm.it.heap.alloc(Obj::Semaphore(SemaphoreObj {
        permits,
        holders: Vec::new(),
        signal: Arc::default(),
    })))
}

/// `s.acquire()` / `s.acquire(timeout)`: true if a permit was taken.
pub fn acquire(vm: &mut Vm, id: ObjId, timeout: Option<f64>) -> VmResult<bool> {
    let me = vm.thread_id().get();
    let deadline = timeout.map(deadline_after);
    loop {
        let s = semaphore_obj(vm, id);
        if s.permits > 0 {
            s.permits -= 1;
            match s.holders.iter_mut().find(|(t, _)| *t == me) {
                Some((_, n)) => *n += 1,
                None => s.holders.push((me, 1)),
            }
            return Ok(true);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
        let signal = s.signal.clone();
        let seen = signal.generation();
        block(vm, Wait::on(WaitFor::Semaphore(id), &signal, seen, deadline))?;
    }
}

/// `s.release()`: one permit back (or a new one).
pub fn release(vm: &mut Vm, id: ObjId) {
    let me = vm.thread_id().get();
    let s = semaphore_obj(vm, id);
    s.permits = s.permits.saturating_add(1);
    if let Some(at) = s.holders.iter().position(|(t, _)| *t == me) {
        s.holders[at].1 -= 1;
        if s.holders[at].1 == 0 {
            s.holders.swap_remove(at);
        }
    }
    s.signal.bump();
}
