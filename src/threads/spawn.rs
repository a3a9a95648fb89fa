//! Starting threads: `spawn`, the life of a spawned thread (take the GIL, run, keep the
//! outcome, let the GIL go), and what a fork needs of them first.
//!
//! Invariants:
//! - A thread object is a collector root while its thread runs and, if it ended with an
//!   error, until a `join` has seen that error or the end of the program reported it; so
//!   its start function and arguments live while it runs, and its result as long as the
//!   program holds the object. A joined or returned thread's object is garbage once the
//!   program drops it.
//! - A toy thread runs on an OS thread of the pool (`pool`), kept for the next toy thread
//!   once this one is done. `spawn` hands it over with the GIL released (creating an OS
//!   thread is a blocking call like any other), so other threads may run during a
//!   `spawn`.
//! - Until a thread's OS thread has finished with it (`returned`), the thread stays in
//!   `exited_threads`, where `before_fork` waits for it: no toy thread is half-way out of
//!   the interpreter when the process is copied.
//! - The wait-for graph counts a thread as running from `spawn` until its outcome is
//!   stored; when it finishes, the threads left may all be blocked, which is looked at
//!   then.

use super::deadlock;
use crate::gil::{Gil, ThreadId};
use crate::object::{Obj, Outcome, ThreadObj};
use crate::signal::Signal;
use crate::value::{ObjId, Value};
use crate::vm::{Interp, StackFloor, Thrown, Vm, VmResult};
use std::sync::Arc;

/// The shared interpreter, as threads see it.
pub type SharedGil = Arc<Gil<Interp>>;

pub(super) fn thread_obj<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut ThreadObj {
    match vm.it.heap.get_mut(id) {
        Obj::Thread(t) => t,
        _ => unreachable!("a thread handle names a thread object"),
    }
}

/// The stack of a toy thread (address space, mapped as it is used).
const THREAD_STACK: usize = 64 << 20;

/// The stack a thread asks for here: a page-multiple more in each fork generation. In a
/// forked child the stacks of the parent's other threads stay mapped (the C library keeps
/// them for reuse), and those parked at the fork still have their records in
/// `parking_lot`'s global table of parked threads, linked in its buckets. A new thread
/// given such a stack would overwrite a record the table still links; the library reuses
/// a cached stack only for a request no larger than it, so a child asking for more never
/// gets one of its parent's.
fn thread_stack() -> usize {
    THREAD_STACK + crate::signal::fork_generation() as usize * (64 << 10)
}

/// `spawn(f, args...)`: a new thread that takes the GIL and runs `f(args...)`, on an idle
/// OS thread of the pool or a new one; a `ThreadError` if the system cannot start one.
pub fn spawn(vm: &mut Vm, args: &[Value]) -> VmResult<Value> {
    let Some((&f, rest)) = args.split_first() else {
        return Err(vm.type_error("spawn() takes at least 1 argument but 0 were given"));
    };
    if !matches!(f, Value::Func(_) | Value::Builtin(_)) {
        let t = f.type_name(&vm.it.heap);
        return Err(vm.type_error(format!("spawn() needs a function, not {t}")));
    }
    forget_returned(vm);
    let gil: SharedGil = vm.it.shared_gil();
    let tid = gil.register_starting_thread();
    let done = Arc::new(Signal::default());
    let returned = Arc::new(Signal::default());
    let obj = ThreadObj {
        tid: tid.get(),
        start: Some((f, rest.to_vec())),
        outcome: None,
        observed: false,
        done,
        started: None,
    };
    let id = vm.it.heap.alloc(Obj::Thread(Box::new(obj)));
    vm.it.threads.push(id);
    vm.it.waits.thread_started();
    // The new thread receives the object's index, meaningless without the GIL it will take.
    let index = id.index() as u32;
    let worker = gil.clone();
    // std's thread start-up takes process-wide locks; a fork in the middle of it would
    // leave them locked in the child forever. So the new thread signals once it runs its
    // own code, and `fork` waits for every thread that has not signalled yet.
    let started = Arc::new(Signal::default());
    let started_in_thread = started.clone();
    thread_obj(vm, id).started = Some(started.clone());
    let stack = thread_stack();
    // Handing the thread to the pool may create an OS thread, a system call of tens of
    // microseconds: done with the GIL released, like any blocking call, so the threads
    // spawned before this one can take the GIL meanwhile (in a spawn loop, each starts
    // running while the next is handed over, instead of all of them queueing for the GIL
    // until the loop ends). But this thread is back in microseconds, and a policy that
    // would hand it the GIL straight back (`priority`, `deadline`) keeps it for it
    // meanwhile (`release_returning`) rather than give it away and take it back. The
    // thread object is already rooted in `threads`, so it outlives whatever runs
    // meanwhile.
    let spawned = vm.release_returning(move || {
        super::pool::THREADS.run(
            "toy-thread",
            stack,
            Box::new(move || {
                let _returned = BumpOnDrop(returned.clone());
                started_in_thread.bump();
                thread_main(worker, tid, index, stack, returned);
            }),
        )
    });
    match spawned {
        Ok(()) => Ok(Value::Obj(id)),
        Err(e) => {
            // A fork in another thread may be waiting for this one to start.
            started.bump();
            vm.it.threads.retain(|t| *t != id);
            vm.it.waits.thread_ended();
            gil.thread_exit(tid);
            let why = crate::os_error::io_message(&e);
            Err(vm.error("ThreadError", format!("cannot start a thread ({why})")))
        }
    }
}

/// Bumps its signal when dropped: when the pool's OS thread is done with a toy thread,
/// also if it unwinds.
struct BumpOnDrop(Arc<Signal>);

impl Drop for BumpOnDrop {
    fn drop(&mut self) {
        self.0.bump();
    }
}

/// The toy thread `tid`, whose object is at `index`, on its OS thread: runs its function
/// and stores the outcome. `returned` is bumped once the OS thread is done with it.
fn thread_main(gil: SharedGil, tid: ThreadId, index: u32, stack: usize, returned: Arc<Signal>) {
    let guard = gil.acquire(tid);
    let mut vm = Vm::new(guard);
    vm.stack_floor = StackFloor::of_new_thread(stack);
    let id = ObjId::new(index);
    let start = thread_obj(&mut vm, id).start.take();
    let result = match start {
        Some((f, args)) => vm.run_function(f, &args),
        None => Ok(Value::Nil),
    };
    let outcome = match result {
        Ok(v) => Outcome::Returned(v),
        Err(t) if t.exit.is_some() => {
            let code = t.exit.unwrap_or(0);
            if vm.it.number == 1 {
                // exit() in a thread ends the whole program, as the user asked.
                vm.flush_output();
                std::process::exit(code);
            }
            // In a spawned interpreter it ends only that interpreter: its main thread
            // ends it at its next check point.
            vm.it.exit_request.get_or_insert(code);
            vm.it
                .heap
                .breaker
                .fetch_or(crate::vm::BREAK_EXIT, std::sync::atomic::Ordering::SeqCst);
            Outcome::Returned(Value::Nil)
        }
        Err(t) => {
            if let Some(innermost) = t.traceback.runs().last().map(|run| &run.entry) {
                vm.report_line(&innermost.file, innermost.line);
            }
            let report = format!("Exception in thread {}:\n{}", tid.get(), vm.format_uncaught(&t));
            let Thrown { value, traceback, .. } = *t;
            Outcome::Threw {
                value,
                traceback,
                report,
            }
        }
    };
    let t = thread_obj(&mut vm, id);
    t.outcome = Some(outcome);
    let done = t.done.clone();
    // The object may be collected from now on; `before_fork` still waits for the OS
    // thread to be done with this one.
    vm.it.exited_threads.push(returned);
    // Done, for every thread that looks (a deadlock check included), but the joiners are
    // woken only after the GIL is let go, below: a policy that hands it to a joiner has
    // it pinned to this CPU by then (see `gil::Gil::pin_here`), so the joiner wakes here,
    // to a GIL already its own, as this OS thread leaves. Woken before the release, it
    // would wake on another (idle) CPU, tens of microseconds away, only to wait for the
    // GIL this thread still holds.
    done.advance();
    // Wakes them when dropped: after `finish_thread`, or on the way out of a panic.
    let _wake_joiners = NotifyOnDrop(done.clone());
    // Whoever joins this thread is back at once: queued for the GIL before it is let go,
    // a policy that favours threads back from blocking calls hands it straight over.
    for joiner in vm.it.waits.waiting_on(&done) {
        vm.it.announce_return(ThreadId(joiner));
    }
    vm.it.waits.thread_ended();
    // The threads left may all be blocked now, with nobody else to notice.
    deadlock::check_all_blocked(&mut vm);
    vm.finish_thread();
}

/// Wakes the waiters of a signal already moved (`Signal::advance`) when dropped.
struct NotifyOnDrop(Arc<Signal>);

impl Drop for NotifyOnDrop {
    fn drop(&mut self) {
        self.0.notify();
    }
}

/// Before a fork: waits for threads still in std's start-up, and for the OS threads of
/// the toy threads that have finished to be done with them (back in the pool), so no
/// thread is inside start-up or on its way out of the interpreter (holding locks) when the
/// fork copies the process. Neither needs the GIL to get there, so this is safe while
/// holding it. Then takes the pool's lock for the fork (see `pool`), which the caller
/// holds until the fork is done.
pub fn before_fork(vm: &mut Vm) -> super::pool::ForkHold<'static> {
    let ids: Vec<ObjId> = vm.it.threads.clone();
    for id in ids {
        let t = thread_obj(vm, id);
        if let Some(started) = t.started.take() {
            started.wait_change(0, None);
        }
    }
    for returned in std::mem::take(&mut vm.it.exited_threads) {
        returned.wait_change(0, None);
    }
    super::pool::THREADS.hold_for_fork()
}

/// Forgets the finished threads whose OS threads are done with them, so a program that
/// starts and joins many threads keeps no record of each.
pub(super) fn forget_returned(vm: &mut Vm) {
    vm.it.exited_threads.retain(|returned| returned.generation() == 0);
}
