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
//! keeps the sender off the CPU, and then sleeping at once is the fast way. The first
//! spin after skipping is a longer probe ([`PROBE_SPIN`]), so that two sides that both
//! went to sleeping find their way back once spinning pays again.
//!
//! Invariants: the spin is bounded by [`SPIN`] ([`PROBE_SPIN`] for a probe, [`PIECE_SPIN`] for the next piece of a
//! long message, which its sender is writing) and ends at once when the breaker has a bit
//! set (Ctrl-C, `exit`, a collection wanted, or another thread of this interpreter waiting
//! for the GIL, which sets a bit as it queues), so it never delays those by more than one
//! look. An interpreter's main thread never waits longer than one slice without looking
//! for Ctrl-C and `exit` requests (`Vm::check_interrupt`); other threads wait without
//! waking for nothing.
//!
//! [`Link`]: crate::link::Link

use crate::gil::Releaser;
use crate::link::{Link, SpinPlan};
use crate::vm::{Vm, VmResult};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a waiter spins, GIL kept, before it sleeps: a few small-message hand-offs
/// (one is about 1 µs each way), short beside a switch interval.
pub(super) const SPIN: Duration = Duration::from_micros(20);

/// How long the first spin after a run of skipped ones lasts: long enough to cover the
/// other side's own wake-up (tens of microseconds on a VM), should it be asleep too.
const PROBE_SPIN: Duration = Duration::from_micros(150);

/// How long a receiver spins for the next piece of a long message (one piece takes tens
/// of microseconds to encode).
const PIECE_SPIN: Duration = Duration::from_micros(200);

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
    sleep(vm, link, side, seen, deadline)
}

/// Waits for the next piece of a stream the sender is writing: that sender holds its GIL
/// and is encoding, so the piece is at most one piece's encoding away, and the spin
/// (up to [`PIECE_SPIN`], ended by any breaker bit) does not ask the learner; then sleeps
/// as [`wait_change`] does.
pub(super) fn wait_piece(vm: &mut Vm, link: &Arc<Link>, side: Side, seen: u64) -> VmResult<bool> {
    if spin_for(vm, side.of(link), seen, Instant::now() + PIECE_SPIN) {
        return Ok(true);
    }
    sleep(vm, link, side, seen, None)
}

/// The sleeping part of a wait: with the GIL released, in slices in the main thread.
fn sleep(vm: &mut Vm, link: &Arc<Link>, side: Side, seen: u64, deadline: Option<Instant>) -> VmResult<bool> {
    if !vm.is_main_thread() {
        return Ok(vm.release(move || side.of(link).signal.wait_change(seen, deadline)));
    }
    let changed = move |until| side.of(link).signal.wait_change(seen, Some(until)).then_some(());
    let woke = vm.wait_interruptibly(deadline, Releaser::Leaves, changed)?.is_some();
    // A Ctrl-C that came meanwhile goes first, even if what it stopped elsewhere (another
    // interpreter) is what woke this wait.
    vm.check_interrupt()?;
    Ok(woke)
}

/// Spins, GIL kept, until the mailbox's signal moves past `seen` (true), or [`SPIN`] or
/// the deadline passes, or the breaker asks for this thread (false: the caller sleeps).
pub(super) fn spin(vm: &Vm, mailbox: &crate::link::Mailbox, seen: u64, deadline: Option<Instant>) -> bool {
    let length = match mailbox.spin.how_to_spin() {
        SpinPlan::Skip => return false,
        SpinPlan::Short => SPIN,
        SpinPlan::Probe => PROBE_SPIN,
    };
    let until = Instant::now() + length;
    let found = spin_for(vm, mailbox, seen, deadline.map_or(until, |d| d.min(until)));
    mailbox.spin.record(found);
    found
}

/// Spins until the mailbox's signal moves past `seen` (true), `until` passes or the breaker
/// has a bit set (false).
fn spin_for(vm: &Vm, mailbox: &crate::link::Mailbox, seen: u64, until: Instant) -> bool {
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
