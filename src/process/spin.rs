//! The short spin a channel's receiver does before it sleeps: checking the socket without
//! blocking, with the GIL released, for a few tens of microseconds, and only while spinning
//! pays on this thread.
//!
//! Why: a process that sleeps in poll(2) must be woken when the message comes, and when the
//! two processes run on different CPUs (of a virtual machine above all) that wake-up costs
//! more than a small message's whole round trip; a receiver that is still checking takes
//! the message at once. But when the two run on the same CPU, a spin only keeps the sender
//! from running, and sleeping at once is the fast way. So each thread keeps what it has
//! learnt (`link::SpinLearner`, as an interpreter's mailbox does): a spin that finds
//! nothing makes the next waits skip it, for longer after each miss; the first spin after
//! skipping is a longer probe, which covers the other side's own wake-up should it be
//! asleep too, so two processes that both went to sleeping find their way back.
//!
//! Invariant: one spin lasts at most `SPIN` (`PROBE_SPIN` for a probe) and never past the
//! caller's deadline, so a receiver that waits long burns at most that much CPU per wait,
//! and far less once spins stop paying.

use crate::link::{SpinLearner, SpinPlan};
use std::time::{Duration, Instant};

/// The usual spin: longer than a small message's answer takes to come back from a process
/// that is running (a few microseconds each way, two system calls and a decode), shorter
/// than sleeping and being woken on another CPU costs.
const SPIN: Duration = Duration::from_micros(50);

/// The first spin after a run of skipped ones: long enough to cover the other process's
/// own wake-up (tens of microseconds on a virtual machine), should it be asleep too.
const PROBE_SPIN: Duration = Duration::from_micros(150);

/// Time between two checks in a spin (a check is a system call).
const CHECK_GAP: Duration = Duration::from_micros(1);

thread_local! {
    /// What this thread has learnt, over all the channels it reads: whether the processes
    /// it talks to answer while it spins is mostly a matter of where the kernel put them.
    static LEARNER: SpinLearner = SpinLearner::default();
}

/// Calls `ready` (a check that does not block) about every `CHECK_GAP` until it says yes or
/// the spin (or `deadline`) is over, if this thread's history says spinning pays. True if
/// `ready` said yes. Meant to run with the GIL released.
pub(super) fn spin_until(ready: impl FnMut() -> bool, deadline: Option<Instant>) -> bool {
    let length = match LEARNER.with(SpinLearner::how_to_spin) {
        SpinPlan::Skip => return false,
        SpinPlan::Short => SPIN,
        SpinPlan::Probe => PROBE_SPIN,
    };
    let until = Instant::now() + length;
    let found = spin_for(ready, deadline.map_or(until, |d| d.min(until)));
    LEARNER.with(|l| l.record(found));
    found
}

/// Calls `ready` about every `CHECK_GAP` until it says yes (true) or `until` passes (false).
fn spin_for(mut ready: impl FnMut() -> bool, until: Instant) -> bool {
    loop {
        let checked = Instant::now();
        if ready() {
            return true;
        }
        if checked >= until {
            return false;
        }
        while checked.elapsed() < CHECK_GAP {
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spin_ends_when_the_check_says_yes() {
        let mut checks = 0;
        let found = spin_until(
            || {
                checks += 1;
                checks == 3
            },
            None,
        );
        assert!(found);
        assert_eq!(checks, 3);
    }

    /// Spins with a check that never says yes; how many times it was called.
    fn checks_of_a_miss(deadline: Option<Instant>) -> usize {
        let mut checks = 0;
        let found = spin_until(
            || {
                checks += 1;
                false
            },
            deadline,
        );
        assert!(!found);
        checks
    }

    #[test]
    fn a_spin_is_bounded_by_its_length_and_by_the_deadline() {
        let start = Instant::now();
        assert!(checks_of_a_miss(None) > 0);
        let took = start.elapsed();
        assert!(took >= SPIN, "{took:?}");
        assert!(took < SPIN + Duration::from_millis(250), "{took:?}");
        assert_eq!(checks_of_a_miss(None), 0, "the wait after a miss skips the spin");
        let start = Instant::now();
        assert!(checks_of_a_miss(Some(start)) > 0, "a probe");
        assert!(start.elapsed() < Duration::from_millis(250), "ends at the deadline");
    }

    #[test]
    fn misses_skip_ever_more_spins_and_a_hit_starts_over() {
        assert!(checks_of_a_miss(None) > 0);
        assert_eq!(checks_of_a_miss(None), 0);
        let start = Instant::now();
        assert!(checks_of_a_miss(None) > 0);
        assert!(
            start.elapsed() >= PROBE_SPIN,
            "the first spin after skipping is the probe"
        );
        for _ in 0..3 {
            assert_eq!(checks_of_a_miss(None), 0, "three skipped after the second miss");
        }
        assert!(spin_until(|| true, None), "a probe that finds its message");
        assert!(checks_of_a_miss(None) > 0, "after a hit the next wait spins again");
    }
}
