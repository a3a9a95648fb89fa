//! Waiting on a [`Link`]'s mailbox: the one wait of this folder. A short spin first, with
//! the GIL kept, then a sleep with the GIL released.
//!
//! Why the spin: the other side of a link runs on another OS thread with a GIL of its
//! own, so an answer often comes within a few microseconds — less than putting a thread
//! to sleep and waking it costs (two context switches, a futex wake, giving the GIL up and
//! taking it back). Looking at the mailbox's generation (one atomic load) for a bounded
//! time catches such an answer with no system call and no GIL round.
//!
//! A spin that finds nothing makes the next waits of that mailbox skip it, for longer
//! after each miss (`link::SpinLearner`): on a loaded machine the spinner may be what
//! keeps the sender off the CPU, and then sleeping at once is the fast way.
//!
//! Invariants: the spin is bounded by [`SPIN`] and ends at once when the breaker has a bit
//! set (Ctrl-C, `exit`, a collection wanted, or another thread of this interpreter waiting
//! for the GIL, which sets a bit as it queues), so it never delays those by more than one
//! look. An interpreter's main thread never waits longer than one slice without looking
//! for Ctrl-C and `exit` requests (`Vm::check_interrupt`); other threads wait without
//! waking for nothing.
//!
//! [`Link`]: crate::link::Link

use crate::link::Link;
use crate::vm::{Vm, VmResult};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a main thread waits before it looks for Ctrl-C again.
const SLICE: Duration = Duration::from_millis(50);

/// How long a waiter spins, GIL kept, before it sleeps: a few small-message hand-offs
/// (one is about 1 µs each way), short beside a switch interval.
pub(super) const SPIN: Duration = Duration::from_micros(20);

/// Looks between two readings of the clock while spinning.
const LOOKS_PER_CLOCK: u32 = 16;

/// Which of a link's mailboxes.
#[derive(Clone, Copy)]
pub(super) enum Side {
    ToChild,
    ToParent,
}

impl Side {
    pub(super) fn of(self, link: &Link) -> &crate::link::Mailbox {
        match self {
            Side::ToChild => &link.to_child,
            Side::ToParent => &link.to_parent,
        }
    }
}

/// Waits until the mailbox's signal moves past `seen` (true) or the deadline passes
/// (false), with the GIL released; `Interrupt` in the main thread on Ctrl-C.
pub(super) fn wait_change(
    vm: &mut Vm,
    link: &Arc<Link>,
    side: Side,
    seen: u64,
    deadline: Option<Instant>,
) -> VmResult<bool> {
    if spin(vm, side.of(link), seen, deadline) {
        return Ok(true);
    }
    if !vm.is_main_thread() {
        let link = link.clone();
        return Ok(vm.release(move || side.of(&link).signal.wait_change(seen, deadline)));
    }
    loop {
        vm.check_interrupt()?;
        let slice = Instant::now() + SLICE;
        let until = deadline.map_or(slice, |d| d.min(slice));
        let l = link.clone();
        if vm.release(move || side.of(&l).signal.wait_change(seen, Some(until))) {
            // A Ctrl-C that came meanwhile goes first, even if what it stopped elsewhere
            // (another interpreter) is what woke this wait.
            vm.check_interrupt()?;
            return Ok(true);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
    }
}

/// Spins, GIL kept, until the mailbox's signal moves past `seen` (true), or [`SPIN`] or
/// the deadline passes, or the breaker asks for this thread (false: the caller sleeps).
pub(super) fn spin(vm: &Vm, mailbox: &crate::link::Mailbox, seen: u64, deadline: Option<Instant>) -> bool {
    if !mailbox.spin.should_spin() {
        return false;
    }
    let found = spin_for(vm, mailbox, seen, deadline);
    mailbox.spin.record(found);
    found
}

fn spin_for(vm: &Vm, mailbox: &crate::link::Mailbox, seen: u64, deadline: Option<Instant>) -> bool {
    let start = Instant::now();
    let until = deadline.map_or(start + SPIN, |d| d.min(start + SPIN));
    loop {
        for _ in 0..LOOKS_PER_CLOCK {
            if mailbox.signal.changed_since(seen) {
                return true;
            }
            if vm.breaker_bits() != 0 {
                return false;
            }
            std::hint::spin_loop();
        }
        if Instant::now() >= until {
            return false;
        }
    }
}
