//! The `deadline` policy: earliest deadline first, after Nir Aides' BFS proposal for
//! CPython (bpo-7946). Each waiter's deadline is the moment it began to wait plus a
//! budget: short for a thread back from a blocking call that had not used up its slice
//! (I/O-bound), long for one that used up its slice or was made to drop (CPU-bound). A
//! released GIL goes to the earliest deadline, so I/O-bound threads go first, and a
//! CPU-bound thread, whose deadline does not move while it waits, is not starved by them:
//! once it has waited a long budget, every newcomer's deadline is later than its own.
//!
//! Invariant: the order it hands the GIL out in depends only on the waiters' deadlines
//! (ties: the one that began to wait first), so equal threads are served in arrival order,
//! as under `fifo`.

use std::time::Duration;

use super::policy::{Context, ReleasePolicy, Waiter};
use super::thread_id::ThreadId;

/// Earliest deadline first. The budgets are public so a host can tune them
/// (`Builder::policy_impl(Deadline { .. })`); [`Deadline::default`] is what
/// `--gil-policy deadline` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    /// The budget of a thread back from a blocking call whose last hold was shorter than
    /// a slice: it asks the holder to drop once it has waited this long. Default zero:
    /// at once, as under `priority` (an echo round trip takes tens of microseconds, so
    /// any wait here multiplies it).
    pub returning: Duration,
    /// The budget of every other waiter, and the slice a CPU-bound holder is allowed
    /// before such a waiter asks it to drop; `None` (the default): the switch interval.
    pub slice: Option<Duration>,
}

impl Default for Deadline {
    fn default() -> Self {
        Deadline {
            returning: Duration::ZERO,
            slice: None,
        }
    }
}

impl Deadline {
    fn slice_of(&self, cx: &Context) -> Duration {
        self.slice.unwrap_or(cx.switch_interval)
    }

    /// Whether `w` counts as I/O-bound: back from a blocking call without having used up
    /// its slice before it blocked.
    fn returning(&self, w: &Waiter, cx: &Context) -> bool {
        w.from_blocking && w.last_hold < self.slice_of(cx)
    }

    /// `w`'s budget: the time from the start of its wait to its deadline.
    pub fn budget(&self, w: &Waiter, cx: &Context) -> Duration {
        if self.returning(w, cx) {
            self.returning
        } else {
            self.slice_of(cx)
        }
    }

    /// `w`'s deadline relative to now, in nanoseconds (negative: already passed).
    fn due_in(&self, w: &Waiter, cx: &Context) -> i128 {
        self.budget(w, cx).as_nanos() as i128 - w.waited.as_nanos() as i128
    }
}

impl ReleasePolicy for Deadline {
    fn name(&self) -> &str {
        "deadline"
    }

    /// At the waiter's deadline; a CPU-bound waiter also lets the holder have a whole
    /// slice first, so that with several of them waiting each holder still runs a slice
    /// instead of being asked to drop the moment it starts.
    fn ask_after(&mut self, w: &Waiter, cx: &Context) -> Option<Duration> {
        let until_due = self.budget(w, cx).saturating_sub(w.waited);
        if self.returning(w, cx) {
            return Some(until_due);
        }
        Some(until_due.max(self.slice_of(cx).saturating_sub(cx.held)))
    }

    fn next_holder(&mut self, waiters: &[Waiter], cx: &Context) -> Option<ThreadId> {
        // min_by_key keeps the first of equal keys: arrival order breaks ties.
        waiters.iter().min_by_key(|w| self.due_in(w, cx)).map(|w| w.tid)
    }
}
