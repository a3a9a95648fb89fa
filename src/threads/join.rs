//! Waiting for threads: `t.join()` and `t.join(timeout)`, `t.is_alive()`, and the end of
//! the program, which waits for every thread and collects the failures nobody observed.
//!
//! Invariant: a thread's outcome is stored under the GIL before its `done` signal moves
//! (its joiners are woken a moment later, once it has let the GIL go), so a joiner that
//! wakes finds it; an error is reported at the end only if no `join` saw it (and only
//! once).

use super::block::{Wait, block, deadline_after};
use super::spawn::{forget_returned, thread_obj};
use crate::object::{Obj, Outcome};
use crate::value::{ObjId, Value};
use crate::vm::{Thrown, Vm, VmResult};
use crate::wait_graph::WaitFor;
use std::time::Instant;

/// `t.join()` / `t.join(timeout)`: waits with the GIL released, then returns the result or
/// rethrows; `TimeoutError` if the thread is still running at the deadline.
pub fn join(vm: &mut Vm, id: ObjId, timeout: Option<f64>) -> VmResult<Value> {
    if thread_obj(vm, id).tid == vm.thread_id().get() {
        return Err(vm.error("ThreadError", "a thread cannot join itself"));
    }
    let deadline = timeout.map(deadline_after);
    if !wait_for(vm, id, WaitFor::Thread(id), deadline)? {
        return Err(vm.error("TimeoutError", "thread join timed out"));
    }
    let t = thread_obj(vm, id);
    t.observed = true;
    let outcome = match &t.outcome {
        Some(Outcome::Returned(v)) => Ok(*v),
        Some(Outcome::Threw { value, traceback, .. }) => Err(Box::new(Thrown {
            value: *value,
            traceback: traceback.clone(),
            traced: true,
            exit: None,
            limit: false,
        })),
        None => Ok(Value::Nil),
    };
    forget_returned(vm);
    outcome
}

/// Waits until the thread has an outcome (true) or the deadline passes (false).
fn wait_for(vm: &mut Vm, id: ObjId, on: WaitFor, deadline: Option<Instant>) -> VmResult<bool> {
    loop {
        let t = thread_obj(vm, id);
        if t.outcome.is_some() {
            return Ok(true);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
        let done = t.done.clone();
        let seen = done.generation();
        block(vm, Wait::on(on, &done, seen, deadline))?;
    }
}

pub fn is_alive(vm: &mut Vm, id: ObjId) -> bool {
    thread_obj(vm, id).outcome.is_none()
}

/// At the end of the program: waits for every thread and for its OS thread to be done
/// with it, and returns the reports of failures no `join` observed. Ctrl-C (in the main
/// thread) stops the wait with `Interrupt`, leaving the threads running. If every thread
/// left is blocked for good, each gets `DeadlockError` (see `deadlock`), and so ends with
/// a report.
pub fn wait_all(vm: &mut Vm) -> VmResult<Vec<String>> {
    loop {
        let pending = vm.it.threads.iter().copied().find(|&id| match vm.it.heap.get(id) {
            Obj::Thread(t) => t.outcome.is_none(),
            _ => false,
        });
        let Some(id) = pending else { break };
        wait_for(vm, id, WaitFor::ProgramEnd(id), None)?;
    }
    let mut reports = Vec::new();
    for id in std::mem::take(&mut vm.it.threads) {
        let t = thread_obj(vm, id);
        if let (Some(Outcome::Threw { report, .. }), false) = (&t.outcome, t.observed) {
            reports.push(report.clone());
        }
    }
    // Most OS threads are done by now; let the GIL go only to wait for the others.
    forget_returned(vm);
    for returned in std::mem::take(&mut vm.it.exited_threads) {
        vm.release_briefly(move || returned.wait_change(0, None));
    }
    Ok(reports)
}

/// The reports of threads that ended with an error nobody observed, each once (they
/// count as observed from then on; `join` still rethrows).
pub fn take_failures(vm: &mut Vm) -> Vec<String> {
    let mut reports = Vec::new();
    for id in vm.it.threads.clone() {
        let t = thread_obj(vm, id);
        if let (Some(Outcome::Threw { report, .. }), false) = (&t.outcome, t.observed) {
            reports.push(report.clone());
            t.observed = true;
        }
    }
    reports
}
