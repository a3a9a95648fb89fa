//! Waiting for a descriptor (a socket, a channel, a child's pidfd) to become ready, with
//! the GIL released — in the main thread in short slices, so Ctrl-C still reaches it — and,
//! for a channel, after a short bounded spin (`spin`), so a quick answer from a process on
//! another CPU is taken without the cost of being put to sleep and woken again.
//!
//! Invariants: the main thread never waits on a descriptor longer than one slice without
//! looking at the eval breaker, so every blocking wait of the main thread ends with
//! `Interrupt` on Ctrl-C; other threads wait without waking up for nothing. A wait spins at
//! most once, in its first slice, with the GIL released and never past its deadline.

use super::spin::spin_until;
use crate::gil::Releaser;
use crate::vm::{Vm, VmResult};
use std::os::fd::RawFd;
use std::time::Instant;

/// Whether `fd` is readable (or at end of stream, or broken) by `deadline` (forever with
/// none). Returns false on a time-out; throws `Interrupt` in the main thread on Ctrl-C.
pub fn wait_readable(vm: &mut Vm, fd: RawFd, deadline: Option<Instant>) -> VmResult<bool> {
    wait(vm, fd, deadline, false)
}

/// `wait_readable` for a channel, where the answer to a message may be only microseconds
/// away: checks for up to `SPIN` before it sleeps.
pub(super) fn wait_message(vm: &mut Vm, fd: RawFd, deadline: Option<Instant>) -> VmResult<bool> {
    wait(vm, fd, deadline, true)
}

fn wait(vm: &mut Vm, fd: RawFd, deadline: Option<Instant>, spin: bool) -> VmResult<bool> {
    if is_readable_now(fd) {
        return Ok(true);
    }
    if !vm.is_main_thread() {
        return Ok(vm.release(move || (spin && spin_until(|| is_readable_now(fd), deadline)) || poll(fd, deadline)));
    }
    let mut spin = spin;
    let readable = move |until| {
        let first = std::mem::replace(&mut spin, false);
        ((first && spin_until(|| is_readable_now(fd), Some(until))) || poll(fd, Some(until))).then_some(())
    };
    Ok(vm.wait_interruptibly(deadline, Releaser::Leaves, readable)?.is_some())
}

/// Whether `fd` is readable (or at end of stream, or broken) right now.
fn is_readable_now(fd: RawFd) -> bool {
    poll(fd, Some(Instant::now()))
}

/// Waits until `fd` is readable or the deadline passes; true if readable.
pub(super) fn poll(fd: RawFd, deadline: Option<Instant>) -> bool {
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Rounded up, so a wait never ends just before its deadline.
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is a valid pollfd for the duration of the call and we pass count 1.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            return true;
        }
        if n == 0 && deadline.is_none_or(|d| Instant::now() >= d) {
            return false;
        }
        if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return true; // let the read report the error
        }
    }
}
