//! The short spin a channel's receiver does before it sleeps: checking the socket without
//! blocking, with the GIL released, for a few tens of microseconds, and only while spinning
//! has been paying off on this thread.
//!
//! Why: a process that sleeps in poll(2) must be woken when the message comes, and when the
//! two processes run on different CPUs (of a virtual machine above all) that wake-up costs
//! more than a small message's whole round trip; a receiver that is still checking takes
//! the message at once. But when the two run on the same CPU, the receiver's spin only
//! keeps the sender from running; so each thread keeps a small credit: a spin that catches
//! the message restores it, one that times out spends it, and once it is spent the thread
//! sleeps at once, trying a spin again only every `PROBE_EVERY` waits.
//!
//! Invariant: one spin lasts at most `SPIN` and never past the caller's deadline, so a
//! receiver that waits long burns at most `SPIN` of CPU per wait (and, with the credit
//! spent, `SPIN` per `PROBE_EVERY` waits).

use std::cell::Cell;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// The longest spin: longer than a quick answer takes to come back, shorter than the cost
/// of sleeping and being woken on another CPU is worth.
pub(super) const SPIN: Duration = Duration::from_micros(50);

/// Time between two checks of the socket in a spin (checks are system calls).
const CHECK_GAP: Duration = Duration::from_micros(1);

/// Spins that may time out in a row before the thread stops spinning.
const CREDIT: u8 = 4;

/// With the credit spent, one wait in this many spins anyway, to notice that the other
/// process has moved to another CPU (or become quick again).
const PROBE_EVERY: u16 = 128;

/// What this thread has learned about spinning.
#[derive(Clone, Copy)]
struct History {
    /// Spins left that may time out before spinning stops.
    credit: u8,
    /// Waits without a spin since the credit ran out.
    skipped: u16,
}

thread_local! {
    static HISTORY: Cell<History> = const { Cell::new(History { credit: CREDIT, skipped: 0 }) };
}

/// Whether this wait should spin first, by the thread's history (counting a skipped one).
fn should_spin() -> bool {
    HISTORY.with(|h| {
        let mut now = h.get();
        if now.credit > 0 {
            return true;
        }
        now.skipped += 1;
        let probe = now.skipped >= PROBE_EVERY;
        if probe {
            now.skipped = 0;
        }
        h.set(now);
        probe
    })
}

fn record(caught: bool) {
    HISTORY.with(|h| {
        let mut now = h.get();
        now.credit = if caught { CREDIT } else { now.credit.saturating_sub(1) };
        h.set(now);
    })
}

/// Checks `fd` without blocking, about every `CHECK_GAP`, until it is readable or `SPIN`
/// (or `deadline`) has passed, if this thread's history says spinning pays. True if `fd`
/// became readable. Meant to run with the GIL released.
pub(super) fn spin_until_readable(fd: RawFd, deadline: Option<Instant>) -> bool {
    if !should_spin() {
        return false;
    }
    let start = Instant::now();
    let end = deadline.map_or(start + SPIN, |d| d.min(start + SPIN));
    loop {
        let checked = Instant::now();
        if super::ready::is_readable_now(fd) {
            record(true);
            return true;
        }
        if checked >= end {
            record(false);
            return false;
        }
        while checked.elapsed() < CHECK_GAP {
            std::hint::spin_loop();
        }
    }
}
