//! Four of the built-in policies, each a few lines of [`ReleasePolicy`]: `interval`
//! (CPython 3.2+), `ticks` (CPython before 3.2), `fifo` and `priority`. The fifth,
//! `deadline`, has a file of its own. Each keeps the trait's invariant: it answers from
//! what it is shown and changes nothing else.

use std::time::Duration;

use super::generator::Generator;
use super::policy::{Context, ReleasePolicy, Waiter};
use super::thread_id::ThreadId;

/// Ask after an interval, drop, let someone else in, compete again: the trait's defaults.
#[derive(Clone, Debug, Default)]
pub(super) struct Interval;

impl ReleasePolicy for Interval {
    fn name(&self) -> &str {
        "interval"
    }
}

/// Drop every N instructions; nobody asks and nobody is handed the GIL, so the dropper,
/// already running, often takes it straight back.
#[derive(Clone, Debug)]
pub(super) struct Ticks {
    /// The slices' jitter.
    jitter: Generator,
}

impl Default for Ticks {
    fn default() -> Self {
        Ticks {
            jitter: Generator::new(0),
        }
    }
}

impl ReleasePolicy for Ticks {
    fn name(&self) -> &str {
        "ticks"
    }
    fn ask_after(&mut self, _: &Waiter, _: &Context) -> Option<Duration> {
        None
    }
    fn forced_switching(&self) -> bool {
        false
    }
    fn counts_instructions(&self) -> bool {
        true
    }
    /// Each slice is drawn from [N/2, N*3/2): a fixed count would phase-lock with a loop
    /// whose length divides it (100 and a 5-instruction body), so every drop would land on
    /// the same instruction and never between a read and its write.
    fn slice(&mut self, _: ThreadId, cx: &Context) -> u32 {
        let budget = cx.check_interval.max(1);
        budget / 2 + self.jitter.below(u64::from(budget)) as u32 + 1
    }
}

/// Interval, but every release is a hand-off to the longest waiter (ticket order).
#[derive(Clone, Debug, Default)]
pub(super) struct Fifo;

impl ReleasePolicy for Fifo {
    fn name(&self) -> &str {
        "fifo"
    }
    fn next_holder(&mut self, waiters: &[Waiter], _: &Context) -> Option<ThreadId> {
        waiters.first().map(|w| w.tid)
    }
}

/// Interval, but threads back from blocking calls jump the queue: they ask at once and
/// are handed the GIL, which keeps I/O threads from queueing behind CPU threads (the
/// convoy effect).
#[derive(Clone, Debug, Default)]
pub(super) struct Priority;

impl ReleasePolicy for Priority {
    fn name(&self) -> &str {
        "priority"
    }
    fn asks_on_return(&mut self, _: &Waiter) -> bool {
        true
    }
    fn next_holder(&mut self, waiters: &[Waiter], _: &Context) -> Option<ThreadId> {
        waiters.iter().find(|w| w.from_blocking).map(|w| w.tid)
    }
}
