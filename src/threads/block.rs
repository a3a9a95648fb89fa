//! The one place where a thread blocks on something of the program's own: `block`. Every
//! wait of `join`, the locks, queues, conditions, events, semaphores, barriers and `sleep`
//! comes here, with the `Signal` it waits on, the generation it saw, its deadline and what
//! it waits for; so this is also where the wait-for graph is kept and deadlocks are found.
//!
//! Invariants:
//! - A caller reads the object's state and the signal's generation under the GIL, and
//!   calls `block` without letting the GIL go in between; every change of state bumps the
//!   signal under the GIL. So no wake-up is lost, and a caller that returns from `block`
//!   simply looks at the state again (a wake-up promises nothing more than "it changed").
//! - The GIL is released for the whole wait (`Vm::release`: the GIL's statistics and trace
//!   show it as blocked time). The main thread waits in slices so that Ctrl-C reaches it,
//!   unless the wait may not fail.
//! - A wait without a deadline on one of the program's objects is in the wait-for graph
//!   from before the GIL is released until after it is taken back, and a deadlock is looked
//!   for when it enters; a wait with a deadline never is.

use super::deadlock;
use crate::signal::Signal;
use crate::vm::{Vm, VmResult};
use crate::wait_graph::WaitFor;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the main thread waits before it looks for Ctrl-C again.
const SLICE: Duration = Duration::from_millis(50);

/// One blocking wait: for `signal` to move past `seen`, until `deadline` (forever with
/// none).
pub struct Wait<'s> {
    pub signal: &'s Arc<Signal>,
    pub seen: u64,
    pub deadline: Option<Instant>,
    /// What the thread waits for, when it is one of the program's objects (`sleep` waits
    /// for nothing).
    pub on: Option<WaitFor>,
    /// False only for a condition taking its lock back after `wait`: that wait ends with
    /// the lock held, so neither Ctrl-C nor a deadlock verdict may end it early (Ctrl-C
    /// stays pending and is thrown at the next check point).
    pub can_fail: bool,
}

impl<'s> Wait<'s> {
    /// A wait on one of the program's objects that may end with an error.
    pub fn on(on: WaitFor, signal: &'s Arc<Signal>, seen: u64, deadline: Option<Instant>) -> Wait<'s> {
        Wait {
            signal,
            seen,
            deadline,
            on: Some(on),
            can_fail: true,
        }
    }
}

/// Waits with the GIL released until the signal moves (true) or the deadline passes
/// (false). Throws `Interrupt` in the main thread on Ctrl-C, and `DeadlockError` when the
/// wait would close a cycle of waiting threads or when every thread of the program is
/// blocked (the verdict may also come while waiting, from the thread that saw it).
pub fn block(vm: &mut Vm, w: Wait) -> VmResult<bool> {
    let me = vm.thread_id().get();
    let recorded = match (w.on, w.deadline) {
        (Some(on), None) => Some(on),
        _ => None,
    };
    if let Some(on) = recorded {
        let at = location(vm);
        vm.it.waits.begin(me, on, at, w.signal.clone(), w.seen, w.can_fail);
        if let Some(error) = deadlock::on_new_wait(vm, me) {
            vm.it.waits.end(me);
            return Err(error);
        }
    }
    let woke = wait_released(vm, w.signal, w.seen, w.deadline, w.can_fail);
    if recorded.is_some()
        && let Some(verdict) = vm.it.waits.end(me)
        && woke.is_ok()
    {
        return Err(vm.error("DeadlockError", verdict));
    }
    woke
}

/// `block` without a graph entry: waits for `signal` or the deadline (`sleep`, a
/// never-bumped signal with a deadline).
pub fn wait(vm: &mut Vm, signal: &Arc<Signal>, seen: u64, deadline: Option<Instant>) -> VmResult<bool> {
    block(
        vm,
        Wait {
            signal,
            seen,
            deadline,
            on: None,
            can_fail: true,
        },
    )
}

/// The wait itself, with the GIL released: in slices in the main thread so Ctrl-C, which
/// only sets the eval breaker, still interrupts it with `Interrupt`.
fn wait_released(
    vm: &mut Vm,
    signal: &Arc<Signal>,
    seen: u64,
    deadline: Option<Instant>,
    can_fail: bool,
) -> VmResult<bool> {
    if !vm.is_main_thread() || !can_fail {
        let signal = signal.clone();
        return Ok(vm.release(move || signal.wait_change(seen, deadline)));
    }
    loop {
        let slice = Instant::now() + SLICE;
        let until = deadline.map_or(slice, |d| d.min(slice));
        let s = signal.clone();
        if vm.release(move || s.wait_change(seen, Some(until))) {
            return Ok(true);
        }
        vm.check_interrupt()?;
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
    }
}

/// Where this thread is: the file and line of its innermost frame.
fn location(vm: &Vm) -> (Rc<str>, u32) {
    match vm.fiber.frames.last() {
        Some(f) => {
            let proto = &vm.it.heap.closure(f.closure).proto;
            let line = proto.lines.get(f.pc.saturating_sub(1)).copied().unwrap_or(0);
            (proto.file.clone(), line)
        }
        None => ("<native>".into(), 0),
    }
}

/// Seconds as a deadline; negative or NaN timeouts count as zero.
pub fn deadline_after(seconds: f64) -> Instant {
    let secs = if seconds.is_nan() || seconds < 0.0 {
        0.0
    } else {
        seconds.min(1e9)
    };
    Instant::now() + Duration::from_secs_f64(secs)
}
