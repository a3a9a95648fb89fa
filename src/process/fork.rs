//! Making a child: the socket pair, the fork, and the child's life — it rebuilds what the
//! fork left half-made, runs its function, sends the outcome and ends with `_exit`.
//!
//! Invariants: the fork happens while the forking thread holds the GIL and after output is
//! flushed, so the child starts from a consistent heap and nothing is printed twice; the
//! child never returns into the parent's code; the forking thread is the child's main
//! thread, the one Ctrl-C interrupts there; a child never outlives its parent.

use super::channel::{KIND_ERROR, KIND_RESULT, io_text, process_error};
use super::send::send_frame;
use crate::family::{Family, Telemetry};
use crate::link::{Ending, Link};
use crate::object::{Channel, ChannelObj, ExitStatus, Obj, Outcome, ProcessObj};
use crate::value::{ObjId, Value};
use crate::vm::{Thrown, Vm, VmResult};
use std::collections::VecDeque;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
pub(super) fn socket_pair() -> std::io::Result<(UnixStream, UnixStream)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors socketpair writes.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: socketpair succeeded, so both descriptors are open and owned by nobody else.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((UnixStream::from(a), UnixStream::from(b)))
}

/// `spawn_process(f, args...)`.
pub fn spawn_process(vm: &mut Vm, args: &[Value]) -> VmResult<Value> {
    let Some((&f, rest)) = args.split_first() else {
        return Err(vm.type_error("spawn_process() takes at least 1 argument but 0 were given"));
    };
    if !matches!(f, Value::Func(_) | Value::Builtin(_)) {
        let t = f.type_name(&vm.it.heap);
        return Err(vm.type_error(format!("spawn_process() needs a function, not {t}")));
    }
    let rest = rest.to_vec();
    let id = fork_child(vm, move |vm| {
        let r = vm.run_function(f, &rest);
        finish_child(vm, r)
    })?;
    Ok(Value::Obj(id))
}

/// Forks; in the child runs `body` (which never returns) and in the parent returns the new
/// process object.
pub(super) fn fork_child(vm: &mut Vm, body: impl FnOnce(&mut Vm) -> std::convert::Infallible) -> VmResult<ObjId> {
    let _ = std::io::stderr().flush();
    let (parent_end, child_end) = vm
        .with_descriptors(socket_pair)
        .map_err(|e| process_error(vm, format!("cannot create a channel: {}", io_text(&e))))?;
    // From here to the fork this thread keeps the GIL (making the channel let it go), so
    // no thread starts or finishes meanwhile, and no other thread can come to fork while
    // this one holds the thread pool's lock.
    let pool_hold = crate::threads::before_fork(vm);
    // Nor is the GIL's alarm thread being started, in this interpreter or another.
    let alarm_hold = crate::gil::hold_alarm_for_fork();
    // Output is flushed and the writer held across the fork: no other thread is writing
    // (print writes without the GIL), so the child neither repeats nor half-inherits it.
    // SAFETY: fork is called while this thread holds the GIL, so no other thread is in the
    // interpreter state; the child touches only that state (rebuilt for one thread by
    // `after_fork_in_child`) and the heap allocator (fork-safe in glibc), and leaves with
    // `_exit`, never unwinding into code that expects the parent's threads.
    let parent_pid = std::process::id() as i32;
    let sigint = super::ctrl_c::block_during_fork();
    let pid = vm.it.output.flushed_while(|| unsafe { libc::fork() });
    drop(alarm_hold);
    if pid < 0 {
        drop(pool_hold);
        sigint.restore();
        let e = std::io::Error::last_os_error();
        return Err(process_error(vm, format!("cannot fork: {}", io_text(&e))));
    }
    if pid == 0 {
        pool_hold.in_child();
        super::parent_death::die_with_parent(parent_pid);
        drop(parent_end);
        become_child(vm, child_end);
        sigint.restore();
        // `body` ends the process with `_exit`: its result type has no values.
        body(vm);
    }
    drop(pool_hold);
    sigint.restore();
    drop(child_end);
    let obj = ProcessObj {
        pid,
        channel: Channel::new(parent_end),
        pending: VecDeque::new(),
        outcome: None,
        status: None,
        observed: false,
    };
    let id = vm.it.heap.alloc(Obj::Process(Box::new(obj)));
    vm.it.processes.push(id);
    Ok(id)
}

/// The child's first steps: one thread, one GIL, no inherited children or channels.
pub(super) fn become_child(vm: &mut Vm, to_parent: UnixStream) {
    let tid = vm.thread_id();
    // SAFETY: we are the child, right after fork, on the only thread there; it held the
    // GIL as `tid` when it forked (our guard `vm.it` is that hold), no other thread has
    // been started, and no call on the lock is in progress on this stack (fork was called
    // from a builtin, between lock operations).
    unsafe { vm.it.gil().after_fork_in_child(tid) };
    // Workers of one pmap must not repeat each other's (or the parent's) random numbers.
    vm.it.reseed(None);
    // Locks, queues and threads made before the fork get new signals when next used, and
    // no thread of the parent is waiting here.
    crate::signal::note_fork();
    vm.it.waits.forget_after_fork();
    // This thread is the child's main thread: Ctrl-C interrupts it, through a pipe and a
    // watcher of the child's own.
    vm.it.main_thread = tid;
    super::ctrl_c::rearm_in_child(vm.it.shared_gil());
    // Other threads do not exist here: joining them fails at once, and nothing waits for
    // their OS threads (those are the parent's; the thread pool forgot them at the fork).
    vm.it.parked.clear();
    let me = tid.get();
    for t in std::mem::take(&mut vm.it.threads) {
        if let Obj::Thread(th) = vm.it.heap.get_mut(t)
            && th.tid != me
            && th.outcome.is_none()
        {
            th.start = None;
            th.observed = true;
            th.outcome = Some(Outcome::Threw {
                value: Value::Nil,
                traceback: Default::default(),
                report: String::new(),
            });
        }
    }
    std::mem::forget(std::mem::take(&mut vm.it.exited_threads));
    // The parent's children and channels belong to the parent: close our copies, so the
    // parent sees end-of-stream when it should, and forget that we "have" children.
    for p in std::mem::take(&mut vm.it.processes) {
        if let Obj::Process(proc_obj) = vm.it.heap.get_mut(p) {
            proc_obj.channel.stream = None;
            proc_obj.status.get_or_insert(ExitStatus::Code(0));
            proc_obj.observed = true;
        }
    }
    if let Some(old) = vm.it.parent_channel.take()
        && let Obj::Channel(c) = vm.it.heap.get_mut(old)
    {
        c.channel.stream = None;
        // A link's mutexes may have been held by another interpreter's thread at the
        // fork: left unread, never locked here.
        std::mem::forget(c.link.take());
    }
    // The interpreters spawned here run on threads of the parent process: in the child
    // they are ended, their links replaced unread, and they are nobody's to wait for.
    for i in std::mem::take(&mut vm.it.interpreters) {
        if let Obj::Interpreter(obj) = vm.it.heap.get_mut(i) {
            let ended = Link::new();
            ended.end(Ending::Failed("it runs in the parent process".into()));
            std::mem::forget(std::mem::replace(&mut obj.link, ended));
            std::mem::forget(obj.handle.take());
            obj.observed = true;
        }
    }
    // The child is a root of its own: its lock is the only one here.
    let gil = vm.it.shared_gil();
    let breaker = gil.eval_breaker_handle();
    let family = Family::new(
        Arc::downgrade(&gil) as std::sync::Weak<dyn Telemetry>,
        gil.created(),
        breaker,
        false,
    );
    std::mem::forget(vm.it.family.replace(family));
    vm.it.number = 1;
    let chan = vm.it.heap.alloc(Obj::Channel(Box::new(ChannelObj {
        channel: Channel::new(to_parent),
        link: None,
    })));
    vm.it.parent_channel = Some(chan);
    // The child's traceback starts at the function it runs, not at the parent's frames.
    vm.fiber.reset();
}

/// Sends the child's result or error and ends the child process.
pub(super) fn finish_child(vm: &mut Vm, result: VmResult<Value>) -> std::convert::Infallible {
    let code = match result {
        Ok(v) => match send_to_parent(vm, KIND_RESULT, v) {
            Ok(()) => 0,
            Err(t) => report_and_send_error(vm, &t),
        },
        Err(t) => match t.exit {
            Some(code) => code,
            None => report_and_send_error(vm, &t),
        },
    };
    vm.flush_output();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` ends the process without running the parent's atexit handlers or
    // destructors, which belong to the parent's copy of the world.
    unsafe { libc::_exit(code) }
}

pub(super) fn send_to_parent(vm: &mut Vm, kind: i64, v: Value) -> VmResult<()> {
    let Some(chan) = vm.it.parent_channel else {
        return Err(process_error(vm, "no parent channel"));
    };
    send_frame(vm, chan, kind, v)
}

/// What a child (process or interpreter) sends its parent for a thrown value: the error
/// itself, or an `Error` made from any other value, carrying the traceback.
pub(crate) fn thrown_as_error(vm: &mut Vm, t: &Thrown) -> Value {
    let value = match t.value {
        Value::Obj(id) if vm.it.heap.error(id).is_some() => t.value,
        other => {
            let text = vm.it.heap.display(other);
            vm.it.heap.new_error("Error", &text)
        }
    };
    if let Value::Obj(id) = value
        && let Obj::Error(e) = vm.it.heap.get_mut(id)
        && e.traceback.is_empty()
    {
        e.traceback = t.traceback.clone();
    }
    value
}

/// Sends a thrown error to the parent as an error value carrying its traceback.
pub(super) fn report_and_send_error(vm: &mut Vm, t: &Thrown) -> i32 {
    let value = thrown_as_error(vm, t);
    match send_to_parent(vm, KIND_ERROR, value) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}
