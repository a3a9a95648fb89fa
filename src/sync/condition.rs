//! `Condition()` / `Condition(lock)`: `with c { }`, `c.wait()`, `c.wait(timeout)`,
//! `c.notify()`, `c.notify(n)`, `c.notify_all()`, over a `Lock` or an `RLock` (a new
//! `RLock` when none is given).
//!
//! Invariants:
//! - Waiting or notifying without holding the lock is a `ThreadError`.
//! - A waiter is in `waiters` (in the order waits began) from before it lets the lock go
//!   until it has seen its notify, its time-out or an error; `notify(n)` marks the first
//!   `n` unmarked waiters, so a notify is never lost and never wakes more than `n`.
//! - `wait` takes the lock back (every level of an `RLock`) before it returns or any
//!   error leaves it; that re-acquisition cannot fail, so Ctrl-C waits for it.
//! - In a forked child the parent's waiters are forgotten (none of them exists there).

use super::forked::renew;
use super::{lock, rlock};
use crate::object::{CondWaiter, ConditionObj, Obj};
use crate::threads::{Wait, block, deadline_after};
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};
use crate::wait_graph::WaitFor;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

fn cond_obj<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut ConditionObj {
    match vm.it.heap.get_mut(id) {
        Obj::Condition(c) => {
            if renew(&mut c.signal) {
                c.waiters.clear();
            }
            c
        }
        _ => unreachable!("a condition handle names a condition object"),
    }
}

/// `Condition()` (with a new `RLock`) or `Condition(lock)` (a `Lock` or an `RLock`).
pub fn new_condition(vm: &mut Vm, lock: Option<Value>) -> VmResult<Value> {
    let lock = match lock {
        None | Some(Value::Nil) => match rlock::new_rlock(vm) {
            Value::Obj(id) => id,
            _ => unreachable!("new_rlock makes an object"),
        },
        Some(Value::Obj(id)) if matches!(vm.it.heap.get(id), Obj::Lock(_) | Obj::RLock(_)) => id,
        Some(other) => {
            let t = other.type_name(&vm.it.heap);
            return Err(vm.type_error(format!("Condition() expected a lock or an rlock, got {t}")));
        }
    };
    let c = ConditionObj {
        lock,
        waiters: VecDeque::new(),
        next_ticket: 0,
        signal: Arc::default(),
    };
    Ok(Value::Obj(vm.it.heap.alloc(Obj::Condition(Box::new(c)))))
}

/// The condition's lock, which `with c` acquires and releases.
pub fn lock_of(vm: &mut Vm, id: ObjId) -> Value {
    Value::Obj(cond_obj(vm, id).lock)
}

fn is_rlock(vm: &Vm, lock: ObjId) -> bool {
    matches!(vm.it.heap.get(lock), Obj::RLock(_))
}

/// The condition's lock, if this thread holds it; else `ThreadError` (`doing` is what the
/// thread tried: "wait on", "notify").
fn held_lock(vm: &mut Vm, id: ObjId, doing: &str) -> VmResult<ObjId> {
    let lock = cond_obj(vm, id).lock;
    let owner = if is_rlock(vm, lock) {
        rlock::owner(vm, lock)
    } else {
        lock::owner(vm, lock)
    };
    if owner == Some(vm.thread_id().get()) {
        Ok(lock)
    } else {
        Err(vm.error(
            "ThreadError",
            format!("cannot {doing} a condition without holding its lock"),
        ))
    }
}

/// `c.wait()` / `c.wait(timeout)`: lets the lock go, waits for a notify, takes the lock
/// back; true if notified, false on time-out.
pub fn wait(vm: &mut Vm, id: ObjId, timeout: Option<f64>) -> VmResult<bool> {
    let lock = held_lock(vm, id, "wait on")?;
    let deadline = timeout.map(deadline_after);
    let c = cond_obj(vm, id);
    let ticket = c.next_ticket;
    c.next_ticket += 1;
    c.waiters.push_back(CondWaiter {
        ticket,
        notified: false,
    });
    let rlock = is_rlock(vm, lock);
    let depth = if rlock {
        rlock::let_go(vm, lock)
    } else {
        lock::release(vm, lock)?;
        1
    };
    let outcome = wait_for_notify(vm, id, ticket, deadline);
    if rlock {
        rlock::take_back(vm, lock, depth)?;
    } else {
        lock::take_back(vm, lock)?;
    }
    outcome
}

fn wait_for_notify(vm: &mut Vm, id: ObjId, ticket: u64, deadline: Option<Instant>) -> VmResult<bool> {
    loop {
        let c = cond_obj(vm, id);
        let Some(at) = c.waiters.iter().position(|w| w.ticket == ticket) else {
            return Ok(false);
        };
        if c.waiters[at].notified || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(c.waiters.remove(at).is_some_and(|w| w.notified));
        }
        let signal = c.signal.clone();
        let seen = signal.generation();
        if let Err(e) = block(vm, Wait::on(WaitFor::Notify(id), &signal, seen, deadline)) {
            // Leaving with an error: a notify that reached this waiter meanwhile is passed
            // on to the next, so it is not lost.
            let c = cond_obj(vm, id);
            if let Some(at) = c.waiters.iter().position(|w| w.ticket == ticket)
                && c.waiters.remove(at).is_some_and(|w| w.notified)
            {
                mark(c, 1);
            }
            return Err(e);
        }
    }
}

/// `c.notify()`, `c.notify(n)`, `c.notify_all()` (`n` is `None`): wakes up to `n` waiters,
/// the longest waiting first.
pub fn notify(vm: &mut Vm, id: ObjId, n: Option<u64>) -> VmResult<()> {
    held_lock(vm, id, "notify")?;
    let c = cond_obj(vm, id);
    mark(c, n.unwrap_or(u64::MAX));
    Ok(())
}

/// Marks the first `n` waiters not yet notified, and wakes them.
fn mark(c: &mut ConditionObj, n: u64) {
    let mut left = n;
    for w in c.waiters.iter_mut().filter(|w| !w.notified) {
        if left == 0 {
            break;
        }
        w.notified = true;
        left -= 1;
    }
    if left < n {
        c.signal.bump();
    }
}
