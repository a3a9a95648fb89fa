//! `Lock()`: `acquire`, `acquire(timeout)`, `release`, `locked`, and `with`; plus what a
//! `Condition` built on a `Lock` needs (let it go while waiting, take it back after).
//!
//! Invariants:
//! - The owner is recorded (a thread id) so that a thread acquiring, without a timeout, a
//!   lock it holds gets `DeadlockError`, and so that deadlock reports can say who holds
//!   it; as in Python, any thread may release it.
//! - An acquire that finds the lock free never reaches the wait-for graph.
//! - In a forked child, a lock held by a thread other than the forking one is free.

use super::forked::renew;
use crate::object::{LockObj, Obj};
use crate::threads::{Wait, block, deadline_after};
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};
use crate::wait_graph::WaitFor;
use std::sync::Arc;
use std::time::Instant;

fn lock_obj<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut LockObj {
    let forker = vm.it.main_thread.get();
    match vm.it.heap.get_mut(id) {
        Obj::Lock(l) => {
            if renew(&mut l.signal) && l.owner != Some(forker) {
                l.owner = None;
            }
            l
        }
        _ => unreachable!("a lock handle names a lock object"),
    }
}

pub fn new_lock(vm: &mut Vm) -> Value {
    Value::Obj(vm.it.heap.alloc(Obj::Lock(LockObj {
        owner: None,
        signal: Arc::default(),
    })))
}

/// `l.acquire()` / `l.acquire(timeout)`: true if taken.
pub fn acquire(vm: &mut Vm, id: ObjId, timeout: Option<f64>) -> VmResult<bool> {
    let me = vm.thread_id().get();
    let deadline = timeout.map(deadline_after);
    loop {
        let l = lock_obj(vm, id);
        match l.owner {
            None => {
                l.owner = Some(me);
                return Ok(true);
            }
            Some(owner) if owner == me && deadline.is_none() => {
                return Err(vm.error(
                    "DeadlockError",
                    "this thread already holds the lock; acquiring it again would wait forever",
                ));
            }
            Some(_) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
                let signal = l.signal.clone();
                let seen = signal.generation();
                block(vm, Wait::on(WaitFor::Lock(id), &signal, seen, deadline))?;
            }
        }
    }
}

pub fn release(vm: &mut Vm, id: ObjId) -> VmResult<()> {
    let l = lock_obj(vm, id);
    if l.owner.take().is_none() {
        return Err(vm.error("ThreadError", "release of an unlocked lock"));
    }
    l.signal.bump();
    Ok(())
}

pub fn locked(vm: &mut Vm, id: ObjId) -> bool {
    lock_obj(vm, id).owner.is_some()
}

pub(super) fn owner(vm: &mut Vm, id: ObjId) -> Option<u32> {
    lock_obj(vm, id).owner
}

/// Takes the lock for a condition whose `wait` is over: waits as long as it takes, and
/// may not fail (see `threads::Wait::can_fail`).
pub(super) fn take_back(vm: &mut Vm, id: ObjId) -> VmResult<()> {
    let me = vm.thread_id().get();
    loop {
        let l = lock_obj(vm, id);
        if l.owner.is_none() {
            l.owner = Some(me);
            return Ok(());
        }
        let signal = l.signal.clone();
        let seen = signal.generation();
        let wait = Wait {
            can_fail: false,
            ..Wait::on(WaitFor::Lock(id), &signal, seen, None)
        };
        block(vm, wait)?;
    }
}
