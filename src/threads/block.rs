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
//! - The GIL is released for the whole wait (`Vm::release_as`, with `Releaser::Stops` for
//!   a wait on another thread, whose CPU the thread it wakes may take at once, and
//!   `Releaser::KeepsCpu` for a sleep; the GIL's statistics and trace show it as blocked
//!   time).
//!   The main thread waits in slices so that Ctrl-C reaches it (`Vm::wait_interruptibly`,
//!   which looks at the eval breaker without taking the GIL back), unless the wait may
//!   not fail.
//! - A wait without a deadline on one of the program's objects is in the wait-for graph
//!   from before the GIL is released until after it is taken back, and a deadlock is looked
//!   for when it enters; a wait with a deadline never is.

use super::deadlock;
use crate::gil::{KEEP_CPU_PAUSES, Releaser};
use crate::signal::Signal;
use crate::vm::{BREAK_INTERRUPT, Vm, VmResult};
use crate::wait_graph::WaitFor;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

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

/// `sleep`: lets the GIL go for `pause`, in the main thread in slices so that Ctrl-C still
/// ends it with `Interrupt`. A pause in [`KEEP_CPU_PAUSES`] lets it go as
/// `Releaser::KeepsCpu`, keeping the next holder off this thread's CPU: the sleep ends
/// with a timer firing there.
pub fn sleep(vm: &mut Vm, pause: Duration) -> VmResult<()> {
    let releaser = if KEEP_CPU_PAUSES.contains(&pause) {
        Releaser::KeepsCpu
    } else {
        Releaser::Leaves
    };
    if !vm.is_main_thread() {
        vm.release_as(releaser, move || std::thread::sleep(pause));
        return Ok(());
    }
    let deadline = Instant::now().checked_add(pause);
    let rest = |until: Instant| {
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        None::<()>
    };
    vm.wait_interruptibly(deadline, releaser, rest)?;
    Ok(())
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
    if deadline.is_none() && vm.gil_schedules() {
        return wait_scheduled(vm, signal, seen, can_fail);
    }
    if !vm.is_main_thread() || !can_fail {
        return Ok(vm.release_as(Releaser::Stops, move || signal.wait_change(seen, deadline)));
    }
    let changed = move |until| signal.wait_change(seen, Some(until)).then_some(());
    Ok(vm.wait_interruptibly(deadline, Releaser::Stops, changed)?.is_some())
}

/// The wait under a scheduler (`random`): the scheduler hands the GIL back once the signal
/// has moved, so the moment this thread resumes is a step of the program, and a seeded run
/// repeats. The main thread also resumes for Ctrl-C (when a running thread's slice ends;
/// with every thread blocked, the deadlock report comes first).
fn wait_scheduled(vm: &mut Vm, signal: &Arc<Signal>, seen: u64, can_fail: bool) -> VmResult<bool> {
    let s = signal.clone();
    if vm.is_main_thread() && can_fail {
        let breaker = vm.breaker_handle();
        vm.release_until(move || s.generation() != seen || breaker.load(Relaxed) & BREAK_INTERRUPT != 0);
        vm.check_interrupt()?;
    } else {
        vm.release_until(move || s.generation() != seen);
    }
    Ok(signal.generation() != seen)
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
