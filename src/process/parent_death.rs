//! A forked child dies with its parent: none is ever left running on its own, whether the
//! parent ends normally, by `exit` from a thread, by a second Ctrl-C, or by SIGKILL.
//!
//! The kernel's parent-death signal does it (`prctl(PR_SET_PDEATHSIG)`), with one twist:
//! the kernel sends it when the *thread* that forked ends, not the process, and toy forks
//! from whichever toy thread calls `spawn_process` — a thread that may finish long before
//! the child is joined. So the signal is a catchable one (SIGUSR2) whose handler ends the
//! child only if its parent process is really gone: `getppid()` no longer names the pid
//! the parent had. While the parent lives, the child is handed to another of its threads,
//! and the signal comes again when that one ends, until the last does.
//!
//! Invariant: from `die_with_parent` on, the child is ended (SIGKILL, by itself) within a
//! signal delivery of its parent's death — also if the parent died before the signal was
//! set up (the race is closed by comparing `getppid()` right after).

use std::sync::atomic::{AtomicI32, Ordering};

/// The signal the kernel sends the child when a parent thread ends.
const PARENT_DEATH_SIGNAL: libc::c_int = libc::SIGUSR2;

/// The parent's pid, as recorded before the fork.
static PARENT: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_parent_death(_: libc::c_int) {
    // SAFETY: getppid, getpid and kill are async-signal-safe and touch no memory.
    unsafe {
        if libc::getppid() != PARENT.load(Ordering::Relaxed) {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

/// In a freshly forked child, whose parent had pid `parent` before the fork: arrange to be
/// killed when the parent process ends, and end now if it already has.
pub(super) fn die_with_parent(parent: i32) {
    PARENT.store(parent, Ordering::Relaxed);
    // SAFETY: `action` is fully initialised before sigaction reads it; the handler only
    // makes async-signal-safe calls; prctl and getppid have no memory effects.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_parent_death as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(PARENT_DEATH_SIGNAL, &action, std::ptr::null_mut());
        libc::prctl(libc::PR_SET_PDEATHSIG, PARENT_DEATH_SIGNAL as libc::c_ulong);
        // The parent may have died between the fork and the prctl: then no signal comes.
        if libc::getppid() != parent {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
