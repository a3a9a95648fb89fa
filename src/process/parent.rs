//! The methods of processes and channels: `send`, `recv`, `join`, `is_alive`, `kill`,
//! `parent()`, and waiting for the children still running when the program ends.
//!
//! Invariant: every child is reaped — by `join`, by `is_alive` seeing it gone, or at the
//! end of the program — and its outcome is taken once.

use super::channel::{KIND_MESSAGE, KIND_RESULT, Sender, process_error, process_obj};
use super::decode::decode_frame;
use super::ready::wait_readable;
use super::receive::{Received, receive};
use super::send::send_frame;
use crate::object::{ExitStatus, Obj, Outcome};
use crate::value::{ObjId, Value};
use crate::vm::{Vm, VmResult};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
/// `p.send(v)` in the parent, `parent().send(v)` in the child.
pub fn send(vm: &mut Vm, id: ObjId, v: Value) -> VmResult<Value> {
    send_frame(vm, id, KIND_MESSAGE, v)?;
    Ok(Value::Nil)
}

/// `recv()` / `recv(timeout)` on either end: the next message.
pub fn recv(vm: &mut Vm, id: ObjId, timeout: Option<f64>) -> VmResult<Value> {
    let deadline = timeout.map(crate::threads::deadline_after);
    if let Obj::Process(p) = vm.it.heap.get_mut(id)
        && let Some(frame) = p.pending.pop_front()
    {
        return decode_frame(vm, &frame, Sender::Child).map(|(_, v)| v);
    }
    let (kind, v) = match receive(vm, id, deadline, false)? {
        Received::Frame(kind, v, _) => (kind, v),
        Received::TimedOut => return Err(vm.error("TimeoutError", "recv timed out")),
        Received::Ended(why) => return Err(process_error(vm, why)),
    };
    if kind == KIND_MESSAGE {
        return Ok(v);
    }
    // The child's final frame: keep it for join; no message will follow.
    if let Obj::Process(p) = vm.it.heap.get_mut(id) {
        p.outcome = Some(final_outcome(kind, v));
        p.channel.stream = None;
    }
    Err(process_error(vm, "the other process finished; the channel is closed"))
}

pub(super) fn final_outcome(kind: i64, v: Value) -> Outcome {
    if kind == KIND_RESULT {
        Outcome::Returned(v)
    } else {
        Outcome::Threw {
            value: v,
            traceback: Default::default(),
            report: String::new(),
        }
    }
}

/// Reads until the child's final frame or end of stream, then reaps the child.
pub(super) fn wait_child(vm: &mut Vm, id: ObjId) -> VmResult<()> {
    while process_obj(vm, id).outcome.is_none() {
        match receive(vm, id, None, true)? {
            Received::Frame(kind, v, copy) => {
                vm.it.heap.charge(copy.len());
                let p = process_obj(vm, id);
                if kind == KIND_MESSAGE {
                    // A message nobody has received yet: kept (as bytes) for a later recv.
                    p.pending.push_back(copy);
                } else {
                    p.outcome = Some(final_outcome(kind, v));
                }
            }
            // No final frame: the child died; waitpid says how.
            Received::TimedOut | Received::Ended(_) => break,
        }
    }
    let p = process_obj(vm, id);
    // The channel is done: its socket, and its buffers (as long as the longest message).
    p.channel.stream = None;
    p.channel.buf = None;
    p.channel.encoder = None;
    if p.status.is_none() {
        let pid = p.pid;
        let status = reap_child(vm, pid)?;
        process_obj(vm, id).status = Some(status);
    }
    Ok(())
}

/// Waits until the child `pid` exits and reaps it. Its channel has ended, so it is
/// normally gone already or about to be; but it may still be writing its last output into
/// a pipe nobody reads, so the main thread waits on the child's pidfd in slices.
fn reap_child(vm: &mut Vm, pid: i32) -> VmResult<ExitStatus> {
    if let Some(status) = try_reap(pid) {
        return Ok(status);
    }
    if vm.is_main_thread()
        && let Some(pidfd) = pidfd_open(pid)
    {
        loop {
            // A pidfd is readable once its process has exited.
            wait_readable(vm, pidfd.as_raw_fd(), None)?;
            if let Some(status) = try_reap(pid) {
                return Ok(status);
            }
        }
    }
    Ok(vm.release(move || reap(pid)))
}

/// A descriptor that becomes readable when the child `pid` exits (Linux 5.3 and later).
fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative result is a new descriptor that nobody else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// How the child `pid` ended, if it has (reaping it), without blocking.
fn try_reap(pid: i32) -> Option<ExitStatus> {
    let mut status: libc::c_int = 0;
    // SAFETY: non-blocking waitpid on our own child with a valid out-pointer.
    let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if rc == pid {
        Some(decode_status(status))
    } else if rc < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
        Some(ExitStatus::Code(-1))
    } else {
        None
    }
}

/// Blocks until `pid` exits; how it ended.
fn reap(pid: i32) -> ExitStatus {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer; pid names our own child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return decode_status(status);
        }
        if rc < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return ExitStatus::Code(-1);
        }
    }
}

fn decode_status(status: libc::c_int) -> ExitStatus {
    if libc::WIFSIGNALED(status) {
        ExitStatus::Signal(libc::WTERMSIG(status))
    } else {
        ExitStatus::Code(libc::WEXITSTATUS(status))
    }
}

pub(super) fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// `p.join()`: the child's result, or a `ProcessError` saying what went wrong.
pub fn join(vm: &mut Vm, id: ObjId) -> VmResult<Value> {
    wait_child(vm, id)?;
    let p = process_obj(vm, id);
    p.observed = true;
    let pid = p.pid;
    let status = p.status;
    match &p.outcome {
        Some(Outcome::Returned(v)) => Ok(*v),
        Some(Outcome::Threw { value, .. }) => {
            let value = *value;
            let text = child_error_text(vm, value);
            Err(process_error(vm, format!("process {pid} failed: {text}")))
        }
        None => Err(process_error(vm, death_text(pid, status))),
    }
}

pub(super) fn death_text(pid: i32, status: Option<ExitStatus>) -> String {
    match status {
        Some(ExitStatus::Code(c)) => format!("process {pid} exited with code {c}"),
        Some(ExitStatus::Signal(s)) => format!("process {pid} was killed by signal {s} ({})", signal_name(s)),
        None => format!("process {pid} ended without a result"),
    }
}

/// The child's error for a `ProcessError` message: the error line first (the message
/// reads `process 4242 failed: ValueError: bad`), then its traceback.
pub(crate) fn child_error_text(vm: &Vm, err: Value) -> String {
    let mut text = vm.error_line(err);
    if let Value::Obj(id) = err
        && let Some(e) = vm.it.heap.error(id)
        && !e.traceback.is_empty()
    {
        text.push_str("\nTraceback (most recent call last):\n");
        text.push_str(e.traceback.format().trim_end());
    }
    text
}

/// An unjoined child's error as reported at exit, laid out as an uncaught error in a
/// thread is: the traceback, innermost call last, then the error line.
pub(crate) fn child_exit_report(vm: &Vm, err: Value) -> String {
    let line = vm.error_line(err);
    match err {
        Value::Obj(id) if vm.it.heap.error(id).is_some_and(|e| !e.traceback.is_empty()) => {
            let frames = vm.it.heap.error(id).map(|e| e.traceback.format()).unwrap_or_default();
            format!("Traceback (most recent call last):\n{frames}{line}")
        }
        _ => line,
    }
}

pub fn is_alive(vm: &mut Vm, id: ObjId) -> bool {
    let p = process_obj(vm, id);
    if p.status.is_some() {
        return false;
    }
    let mut status: libc::c_int = 0;
    // SAFETY: non-blocking waitpid on our own child with a valid out-pointer.
    let rc = unsafe { libc::waitpid(p.pid, &mut status, libc::WNOHANG) };
    if rc == p.pid {
        p.status = Some(decode_status(status));
        return false;
    }
    rc == 0
}

pub fn kill(vm: &mut Vm, id: ObjId) -> VmResult<Value> {
    let p = process_obj(vm, id);
    if p.status.is_none() {
        // SAFETY: kill has no memory effects; the pid is our unreaped child, so it cannot
        // have been recycled for another process.
        unsafe { libc::kill(p.pid, libc::SIGKILL) };
    }
    Ok(Value::Nil)
}

/// `parent()` in a child: the channel to the parent.
pub fn parent(vm: &mut Vm) -> VmResult<Value> {
    match vm.it.parent_channel {
        Some(id) => Ok(Value::Obj(id)),
        None => Err(process_error(
            vm,
            "parent() is only available in a process or interpreter started by spawn_process or spawn_interpreter",
        )),
    }
}

/// At the end of the program: closes the sending half of every unjoined child's channel,
/// waits for those children and returns reports of their failures. Ctrl-C (in the main
/// thread) stops the wait with `Interrupt`.
pub fn wait_all(vm: &mut Vm) -> VmResult<Vec<String>> {
    // The parent sends nothing more: a child waiting in `parent().recv()` gets end of
    // stream (a ProcessError it reports) instead of waiting forever for the parent, which
    // waits for it. Its results and messages still arrive: only our sending half closes.
    for id in vm.it.processes.clone() {
        if let Some(stream) = &process_obj(vm, id).channel.stream {
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
    }
    let mut reports = Vec::new();
    while let Some(&id) = vm.it.processes.first() {
        if let Err(t) = wait_child(vm, id) {
            if vm.is_interrupt(&t) {
                return Err(t);
            }
            vm.it.processes.remove(0);
            continue;
        }
        vm.it.processes.remove(0);
        let p = process_obj(vm, id);
        if p.observed {
            continue;
        }
        let (pid, status) = (p.pid, p.status);
        match &p.outcome {
            Some(Outcome::Returned(_)) => {}
            Some(Outcome::Threw { value, .. }) => {
                let value = *value;
                let text = child_exit_report(vm, value);
                reports.push(format!("Exception in process {pid}:\n{text}\n"));
            }
            None => reports.push(format!("{}\n", death_text(pid, status))),
        }
    }
    Ok(reports)
}
