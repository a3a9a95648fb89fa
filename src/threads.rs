//! Threads, locks and queues (LANGUAGE.md §7–8): `spawn`, `join`, `Lock`, `Queue`, and the
//! waiting that every one of them does with the GIL released.
//!
//! Invariants:
//! - The state of a thread, lock or queue is an ordinary heap object, so it is touched
//!   only under the GIL. What a blocked thread waits on is a `Signal` — a generation
//!   counter and a condition variable, `Send + Sync`, holding no interpreter values.
//! - A waiter reads the generation under the GIL, then waits with the GIL released for it
//!   to change; every state change bumps the generation under the GIL. So no wake-up is
//!   lost between "I must wait" and "I am waiting".
//! - A thread object is a collector root while its thread runs and, if it ended with an
//!   error, until a `join` has seen that error or the end of the program reported it; so
//!   its start function and arguments live while it runs, and its result as long as the
//!   program holds the object. A joined or returned thread's object is garbage once the
//!   program drops it, and its OS thread is joined (`exited_threads`), so neither its
//!   result nor its stack outlives it.
//! - `spawn` creates the OS thread with the GIL released (it is a blocking call like any
//!   other), so other threads may run during a `spawn`. The new thread takes the GIL only
//!   after the spawner has stored its OS handle, so a thread that ends always has its
//!   handle to move into `exited_threads`, where `before_fork` finds it.

use crate::gil::{Gil, ThreadId};
use crate::object::{LockObj, Obj, Outcome, QueueObj, ThreadObj};
use crate::signal::Signal;
use crate::value::{ObjId, Value};
use crate::vm::{Interp, StackFloor, Thrown, Vm, VmResult};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Waits with the GIL released until `signal` moves past `seen` (true) or the deadline
/// passes (false). The main thread waits in short slices so that Ctrl-C, which only sets
/// the eval breaker, still interrupts it with `Interrupt`.
pub fn wait(vm: &mut Vm, signal: &Arc<Signal>, seen: u64, deadline: Option<Instant>) -> VmResult<bool> {
    if vm.thread_id() != ThreadId::MAIN {
        let signal = signal.clone();
        return Ok(vm.release(move || signal.wait_change(seen, deadline)));
    }
    loop {
        let slice = Instant::now() + Duration::from_millis(50);
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

/// The shared interpreter, as threads see it.
pub type SharedGil = Arc<Gil<Interp>>;

fn thread_obj<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut ThreadObj {
    match vm.it.heap.get_mut(id) {
        Obj::Thread(t) => t,
        _ => unreachable!("a thread handle names a thread object"),
    }
}

/// The stack of a toy thread (address space, mapped as it is used).
const THREAD_STACK: usize = 64 << 20;

/// `spawn(f, args...)`: a new OS thread that takes the GIL and runs `f(args...)`; a
/// `ThreadError` if the system cannot start one.
pub fn spawn(vm: &mut Vm, args: &[Value]) -> VmResult<Value> {
    let Some((&f, rest)) = args.split_first() else {
        return Err(vm.type_error("spawn() takes at least 1 argument but 0 were given"));
    };
    if !matches!(f, Value::Func(_) | Value::Builtin(_)) {
        let t = f.type_name(&vm.it.heap);
        return Err(vm.type_error(format!("spawn() needs a function, not {t}")));
    }
    reap_exited(vm);
    // A thread the system cannot finish starting would abort the process from inside
    // std's start-up: refuse it here instead.
    if let Err(why) = crate::thread_room::room_for_thread(THREAD_STACK) {
        return Err(vm.error("ThreadError", format!("cannot start a thread ({why})")));
    }
    let gil: SharedGil = vm.it.shared_gil();
    let tid = gil.register_thread();
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
    let spawned = vm.release(move || {
        let spawned = std::thread::Builder::new()
            .name(name)
            .stack_size(THREAD_STACK)
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
            gil.thread_exit(tid);
            let why = crate::os_error::io_message(&e);
            Err(vm.error("ThreadError", format!("cannot start a thread ({why})")))
        }
    }
}

fn thread_main(gil: SharedGil, tid: ThreadId, index: u32) {
    let guard = gil.acquire(tid);
    let mut vm = Vm::new(guard);
    vm.stack_floor = StackFloor::of_new_thread(THREAD_STACK);
    let id = ObjId::new(index);
    let start = thread_obj(&mut vm, id).start.take();
    let result = match start {
        Some((f, args)) => vm.run_function(f, &args),
        None => Ok(Value::Nil),
    };
    let outcome = match result {
        Ok(v) => Outcome::Returned(v),
        Err(t) if t.exit.is_some() => {
            // exit() in a thread ends the whole program, as the user asked.
            vm.flush_output();
            std::process::exit(t.exit.unwrap_or(0));
        }
        Err(t) => {
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
    // The object may be collected from now on; the OS thread is joined by whoever reaps.
    let handle = t.handle.take();
    vm.it.exited_threads.extend(handle);
    done.bump();
    vm.finish_thread();
}

/// Joins the OS threads that have ended (their toy function returned, and std is done
/// with them), so a program that starts and joins many threads keeps no stacks around.
fn reap_exited(vm: &mut Vm) {
    if vm.it.exited_threads.iter().any(|h| h.is_finished()) {
        let (gone, running): (Vec<_>, Vec<_>) = std::mem::take(&mut vm.it.exited_threads)
            .into_iter()
            .partition(|h| h.is_finished());
        vm.it.exited_threads = running;
        for handle in gone {
            let _ = handle.join();
        }
    }
}

/// `t.join()`: waits with the GIL released, then returns the result or rethrows.
pub fn join(vm: &mut Vm, id: ObjId) -> VmResult<Value> {
    if thread_obj(vm, id).tid == vm.thread_id().get() {
        return Err(vm.error("ThreadError", "a thread cannot join itself"));
    }
    loop {
        let t = thread_obj(vm, id);
        if t.outcome.is_some() {
            break;
        }
        let done = t.done.clone();
        let seen = done.generation();
        wait(vm, &done, seen, None)?;
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
    reap_exited(vm);
    outcome
}

pub fn is_alive(vm: &mut Vm, id: ObjId) -> bool {
    thread_obj(vm, id).outcome.is_none()
}

/// At the end of the program: waits for every thread, joins the OS threads, and returns
/// the reports of failures no `join` observed.
pub fn wait_all(vm: &mut Vm) -> Vec<String> {
    loop {
        let pending = vm.it.threads.iter().copied().find(|&id| match vm.it.heap.get(id) {
            Obj::Thread(t) => t.outcome.is_none(),
            _ => false,
        });
        let Some(id) = pending else { break };
        let _ = join_quietly(vm, id);
    }
    let mut reports = Vec::new();
    for id in std::mem::take(&mut vm.it.threads) {
        let t = thread_obj(vm, id);
        if let (Some(Outcome::Threw { report, .. }), false) = (&t.outcome, t.observed) {
            reports.push(report.clone());
        }
    }
    for handle in std::mem::take(&mut vm.it.exited_threads) {
        vm.release(move || handle.join().is_ok());
    }
    reports
}

fn join_quietly(vm: &mut Vm, id: ObjId) -> Option<()> {
    let t = thread_obj(vm, id);
    t.outcome.is_none().then_some(())?;
    let done = t.done.clone();
    let seen = done.generation();
    vm.release(move || done.wait_change(seen, None));
    Some(())
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
    }
    for handle in std::mem::take(&mut vm.it.exited_threads) {
        let _ = handle.join();
    }
}

// ---- locks ---------------------------------------------------------------------------

fn lock_obj<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut LockObj {
    match vm.it.heap.get_mut(id) {
        Obj::Lock(l) => l,
        _ => unreachable!("a lock handle names a lock object"),
    }
}

pub fn new_lock(vm: &mut Vm) -> Value {
    Value::Obj(vm.it.heap.alloc(Obj::Lock(LockObj {
        owner: None,
        signal: Arc::default(),
    })))
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
                wait(vm, &signal, seen, deadline)?;
            }
        }
    }
}

pub fn release_lock(vm: &mut Vm, id: ObjId) -> VmResult<()> {
    let l = lock_obj(vm, id);
    if l.owner.take().is_none() {
        return Err(vm.error("ThreadError", "release of an unlocked lock"));
    }
    l.signal.bump();
    Ok(())
}

pub fn lock_held(vm: &mut Vm, id: ObjId) -> bool {
    lock_obj(vm, id).owner.is_some()
}

// ---- queues --------------------------------------------------------------------------

fn queue_obj<'v>(vm: &'v mut Vm<'_>, id: ObjId) -> &'v mut QueueObj {
    match vm.it.heap.get_mut(id) {
        Obj::Queue(q) => q,
        _ => unreachable!("a queue handle names a queue object"),
    }
}

pub fn new_queue(vm: &mut Vm, maxsize: usize) -> Value {
    let q = QueueObj {
        items: VecDeque::new(),
        maxsize,
        signal: Arc::default(),
    };
    Value::Obj(vm.it.heap.alloc(Obj::Queue(q)))
}

/// `q.put(v)`: waits while the queue is full.
pub fn put(vm: &mut Vm, id: ObjId, v: Value) -> VmResult<()> {
    loop {
        let q = queue_obj(vm, id);
        if q.maxsize == 0 || q.items.len() < q.maxsize {
            q.items.push_back(v);
            q.signal.bump();
            return Ok(());
        }
        let signal = q.signal.clone();
        let seen = signal.generation();
        wait(vm, &signal, seen, None)?;
    }
}

/// `q.get()` / `q.get(timeout)`: waits while the queue is empty.
pub fn get(vm: &mut Vm, id: ObjId, timeout: Option<f64>) -> VmResult<Value> {
    let deadline = timeout.map(deadline_after);
    loop {
        let q = queue_obj(vm, id);
        if let Some(v) = q.items.pop_front() {
            q.signal.bump();
            return Ok(v);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(vm.error("TimeoutError", "queue get timed out"));
        }
        let signal = q.signal.clone();
        let seen = signal.generation();
        wait(vm, &signal, seen, deadline)?;
    }
}

pub fn queue_len(vm: &mut Vm, id: ObjId) -> usize {
    queue_obj(vm, id).items.len()
}
