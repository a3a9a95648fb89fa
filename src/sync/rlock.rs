//! `RLock()`: a lock its holder may acquire again; it is free once released as many times
//! as it was acquired. `acquire`, `acquire(timeout)`, `release`, `locked`, `with`, and what
//! a `Condition` built on one needs (let go of every level while waiting, restore them).
//!
//! Invariants:
//! - `owner` is set exactly when `depth` is positive; only the owner may release.
//! - An acquire by the owner, or of a free rlock, never reaches the wait-for graph.
//! - In a forked child, an rlock held by a thread other than the forking one is free.

use super::forked::renew;
use crate::object::{Obj, RLockObj};
use crate::threads::{Wait, block, deadline_after};
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};
use crate::wait_graph::WaitFor;
use std::sync::Arc;
use std::time::Instant;

fn rlock_obj<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut RLockObj {
    let forker = vm.it.main_thread.get();
    match vm.it.heap.get_mut(id) {
        Obj::RLock(l) => {
            if renew(&mut l.signal) && l.owner != Some(forker) {
                l.owner = None;
                l.depth = 0;
            }
            l
        }
        _ => unreachable!("an rlock handle names an rlock object"),
    }
}

pub fn new_rlock(vm: &mut Vm) -> Value {
    Value::Obj(vm.it.heap.alloc(Obj::RLock(RLockObj {
        owner: None,
        depth: 0,
        signal: Arc::default(),
    })))
}

/// `r.acquire()` / `r.acquire(timeout)`: true if taken (again, by its owner, at once).
pub fn acquire(vm: &mut Vm, id: ObjId, timeout: Option<f64>) -> VmResult<bool> {
    take(vm, id, 1, timeout.map(deadline_after), true)
}

/// Takes the rlock `depth` levels deep (1 for an acquire, the saved depth for a condition
/// taking it back).
fn take(vm: &mut Vm, id: ObjId, depth: u64, deadline: Option<Instant>, can_fail: bool) -> VmResult<bool> {
    let me = vm.thread_id().get();
    loop {
        let l = rlock_obj(vm, id);
        match l.owner {
            None => {
                l.owner = Some(me);
                l.depth = depth;
                return Ok(true);
            }
            Some(owner) if owner == me => {
                l.depth = l.depth.saturating_add(depth);
                return Ok(true);
            }
            Some(_) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
                let signal = l.signal.clone();
                let seen = signal.generation();
                let wait = Wait {
                    can_fail,
                    ..Wait::on(WaitFor::RLock(id), &signal, seen, deadline)
                };
                block(vm, wait)?;
            }
        }
    }
}

/// `r.release()`: one level; the rlock is free after the last.
pub fn release(vm: &mut Vm, id: ObjId) -> VmResult<()> {
    let me = vm.thread_id().get();
    let l = rlock_obj(vm, id);
    if l.owner != Some(me) {
        let text = match l.owner {
            None => "release of an unlocked rlock",
            Some(_) => "release of an rlock held by another thread",
        };
        return Err(vm.error("ThreadError", text));
    }
    l.depth -= 1;
    if l.depth == 0 {
        l.owner = None;
        l.signal.bump();
    }
    Ok(())
}

pub fn locked(vm: &mut Vm, id: ObjId) -> bool {
    rlock_obj(vm, id).owner.is_some()
}

pub(super) fn owner(vm: &mut Vm, id: ObjId) -> Option<u32> {
    rlock_obj(vm, id).owner
}

/// Frees the rlock whatever its depth (a condition's `wait` begins); the depth it had.
pub(super) fn let_go(vm: &mut Vm, id: ObjId) -> u64 {
    let l = rlock_obj(vm, id);
    let depth = std::mem::take(&mut l.depth);
    l.owner = None;
    l.signal.bump();
    depth
}

/// Takes the rlock back at `depth` after a condition's `wait`; may not fail.
pub(super) fn take_back(vm: &mut Vm, id: ObjId, depth: u64) -> VmResult<()> {
    take(vm, id, depth, None, false).map(|_| ())
}
