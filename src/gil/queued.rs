//! A thread in the lock's queue of waiters, as the lock records it ([`Queued`]), and how
//! it is shown to a policy ([`Waiter`]). Invariant: the view is computed from the record
//! and the moment of the question alone, so every waiter shown in one question is seen as
//! of the same instant.

use std::time::{Duration, Instant};

use super::location::Location;
use super::policy::Waiter;
use super::thread_id::ThreadId;

/// A thread blocked in `take`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Queued {
    pub(super) tid: ThreadId,
    /// When its wait began (for a holder that dropped at a check point, the drop).
    pub(super) since: Instant,
    /// Waiting to come back from `release_while` (a blocking call).
    pub(super) from_blocking: bool,
    /// Where the holder was when this wait began, once the holder has said; `None` until
    /// then. The wait is charged to it when it ends.
    pub(super) caused_by: Option<Location>,
}

impl Queued {
    /// A thread that begins to wait at `since`.
    pub(super) fn new(tid: ThreadId, since: Instant, from_blocking: bool) -> Queued {
        Queued {
            tid,
            since,
            from_blocking,
            caused_by: None,
        }
    }

    /// What a policy sees of it at `now`, given its last and total hold.
    pub(super) fn view(&self, now: Instant, last_hold: Duration, total_hold: Duration) -> Waiter {
        Waiter {
            tid: self.tid,
            waited: now.saturating_duration_since(self.since),
            from_blocking: self.from_blocking,
            last_hold,
            total_hold,
        }
    }
}
