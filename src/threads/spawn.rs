//! Starting threads: `spawn`, the life of a spawned thread (take the GIL, run, keep the
//! outcome, let the GIL go), and what a fork needs of them first.
//!
//! Invariants:
//! - Every thread object stays a collector root until its OS thread has finished and the
//!   program has seen its outcome, so a thread's start function, arguments and result live
//!   as long as anyone can ask for them.
//! - `spawn` creates the OS thread with the GIL released (it is a blocking call like any
//!   other), so other threads may run during a `spawn`. The new thread takes the GIL only
//!   after the spawner has stored its OS handle, so a thread with an outcome always has
//!   its handle in the object (or it was already joined): `before_fork` relies on that.
//! - The wait-for graph counts a thread as running from `spawn` until its outcome is
//!   stored; when it finishes, the threads left may all be blocked, which is looked at
//!   then.

use super::deadlock;
use crate::gil::{Gil, ThreadId};
use crate::object::{Obj, Outcome, ThreadObj};
use crate::signal::Signal;
use crate::value::{ObjId, Value};
use crate::vm::{Interp, Thrown, Vm, VmResult};
use std::sync::Arc;

/// The shared interpreter, as threads see it.
pub type SharedGil = Arc<Gil<Interp>>;

pub(super) fn thread_obj<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut ThreadObj {
    match vm.it.heap.get_mut(id) {
        Obj::Thread(t) => t,
        _ => unreachable!("a thread handle names a thread object"),
    }
}

/// `spawn(f, args...)`: a new OS thread that takes the GIL and runs `f(args...)`.
pub fn spawn(vm: &mut Vm, args: &[Value]) -> VmResult<Value> {
    let Some((&f, rest)) = args.split_first() else {
        return Err(vm.type_error("spawn() takes at least 1 argument but 0 were given"));
    };
    if !matches!(f, Value::Func(_) | Value::Builtin(_)) {
        let t = f.type_name(&vm.it.heap);
        return Err(vm.type_error(format!("spawn() needs a function, not {t}")));
    }
    let gil: SharedGil = vm.it.shared_gil();
    let tid = gil.register_starting_thread();
    let done = Arc::new(Signal::default());
    let obj = ThreadObj {
        tid: tid.get(),
        start: Some((f, rest.to_vec())),
        outcome: None,
        observed: false,
        done,
        handle: None,
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
    let started_if_failed = started.clone();
    thread_obj(vm, id).started = Some(started);
    let name = format!("toy-{}", tid.get());
    // Creating an OS thread is a system call of tens of microseconds: done with the GIL
    // released, like any blocking call, so the threads spawned before this one can take
    // the GIL meanwhile (in a spawn loop, each starts running while the next is created,
    // instead of all of them queueing for the GIL until the loop ends). The thread object
    // is already rooted in `threads`, so it outlives whatever runs meanwhile.
    // `before_fork` joins finished threads through their handles; were the new thread to
    // finish before the handle is stored, a fork could catch it mid-exit. So it waits for
    // `handed` before taking the GIL (usually already bumped by the time it gets there).
    let handed = Arc::new(Signal::default());
    let handed_in_thread = handed.clone();
    let spawned = vm.release_briefly(move || {
        let spawned = std::thread::Builder::new()
            .name(name)
            .stack_size(64 << 20)
            .spawn(move || {
                started_in_thread.bump();
                handed_in_thread.wait_change(0, None);
                thread_main(worker, tid, index)
            });
        if spawned.is_err() {
            // A fork in another thread may be waiting for this one to start.
            started_if_failed.bump();
        }
        spawned
    });
    match spawned {
        Ok(handle) => {
            thread_obj(vm, id).handle = Some(handle);
            handed.bump();
            Ok(Value::Obj(id))
        }
        Err(e) => {
            vm.it.threads.retain(|t| *t != id);
            vm.it.waits.thread_ended();
            gil.thread_exit(tid);
            Err(vm.error("ThreadError", format!("cannot start a thread: {e}")))
        }
    }
}

fn thread_main(gil: SharedGil, tid: ThreadId, index: u32) {
    let guard = gil.acquire(tid);
    let mut vm = Vm::new(guard);
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
            if let Some(innermost) = t.traceback.last() {
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
    done.bump();
    vm.it.waits.thread_ended();
    // The threads left may all be blocked now, with nobody else to notice.
    deadlock::check_all_blocked(&mut vm);
    vm.finish_thread();
}

/// Before a fork: waits for threads still in std's start-up, and joins the OS threads
/// whose toy function has finished, so no thread is inside start-up or exit (holding
/// process-wide locks of the C library) when the fork copies the process. Neither needs
/// the GIL to get there, so this is safe while holding it.
pub fn before_fork(vm: &mut Vm) {
    let ids: Vec<ObjId> = vm.it.threads.clone();
    for id in ids {
        let t = thread_obj(vm, id);
        if let Some(started) = t.started.take() {
            started.wait_change(0, None);
        }
        if t.outcome.is_some()
            && let Some(handle) = t.handle.take()
        {
            let _ = handle.join();
        }
    }
}
