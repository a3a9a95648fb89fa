//! The `deadline` policy: earliest deadline first, after Nir Aides' proposal for CPython
//! (bpo-7946), which took its virtual deadlines from Con Kolivas' BFS scheduler.
//!
//! Every thread has a deadline and a slice of GIL time (one switch interval) to spend
//! before it. Its first deadline is a slice after it first waits. A thread that has held
//! the GIL for a whole slice since its deadline was set gets the next one when it next
//! waits: a slice later. A thread that has not spent its slice keeps its deadline, however
//! long it was away in a blocking call, and when it was made to drop early. A waiter whose
//! deadline is earlier than the holder's asks at once; any other waiter asks when the
//! holder has spent its slice; a released GIL goes to the earliest deadline.
//!
//! So the time a thread holds is charged to it — its deadline moves a slice for every
//! slice it holds — and a thread that holds less than its share keeps an earlier deadline
//! than one that holds more: an I/O-bound thread takes the GIL from a CPU-bound holder at
//! its next check point, round trip after round trip, and a thread that holds more than
//! its share, whether or not it blocks in between, falls behind and waits its turn.
//!
//! How far behind the clock a deadline may fall is bounded, or a thread back from a long
//! sleep would spend its old deadline slice after slice while the others wait: a new
//! deadline is counted from no further back than a slice before the wait that sets it for
//! a thread that used up its slice in one hold or was made to drop (CPU-bound: it comes
//! out behind whoever has waited since), and `RETURNING_LAG` slices for a thread back
//! from a blocking call that had held the GIL less than a slice (I/O-bound: it stays
//! ahead of a CPU-bound holder's slice). Nobody waits longer than the slices of the
//! threads whose deadlines are earlier than its own.
//!
//! Invariant: the order it hands the GIL out in depends only on the threads' deadlines
//! (ties: the one that began to wait first), and a deadline moves only when its thread has
//! held the GIL for a whole slice since it was set, and then only forward.

use std::time::{Duration, Instant};

use super::policy::{Context, ReleasePolicy, Waiter};
use super::thread_id::ThreadId;

/// Earliest deadline first with per-thread virtual deadlines. [`Deadline::default`] is
/// what `--gil-policy deadline` uses: a slice of one switch interval;
/// [`Deadline::with_slice`] sets another (`Builder::policy_impl(Deadline::with_slice(..))`).
#[derive(Clone, Debug, Default)]
pub struct Deadline {
    /// The GIL time a thread may spend before its deadline moves; `None`: the switch
    /// interval.
    slice: Option<Duration>,
    /// Each thread's deadline, by thread index (threads are numbered densely from 1).
    accounts: Vec<Account>,
}

/// One thread's deadline and how much it had held the GIL in all when it was set.
#[derive(Clone, Copy, Debug, Default)]
struct Account {
    deadline: Option<Instant>,
    renewed_at: Duration,
}

impl Deadline {
    /// Deadlines a fixed `slice` apart, whatever the switch interval.
    pub fn with_slice(slice: Duration) -> Deadline {
        Deadline {
            slice: Some(slice),
            accounts: Vec::new(),
        }
    }

    fn slice_of(&self, cx: &Context) -> Duration {
        self.slice.unwrap_or(cx.switch_interval)
    }

    fn account(&mut self, tid: ThreadId) -> &mut Account {
        let index = tid.index();
        if index >= self.accounts.len() {
            self.accounts.resize(index + 1, Account::default());
        }
        &mut self.accounts[index]
    }

    /// `w`'s deadline: the one it has if it has not yet held the GIL for a slice since it
    /// was set; otherwise the next one (see `next_deadline`).
    pub fn deadline_of(&mut self, w: &Waiter, cx: &Context) -> Instant {
        let slice = self.slice_of(cx);
        let account = self.account(w.tid);
        match account.deadline {
            Some(deadline) if w.total_hold.saturating_sub(account.renewed_at) < slice => deadline,
            old => {
                let began = cx.now.checked_sub(w.waited).unwrap_or(cx.now);
                let lag = if w.from_blocking && w.last_hold < slice {
                    RETURNING_LAG
                } else {
                    1
                };
                let deadline = next_deadline(old, began, slice, lag);
                *account = Account {
                    deadline: Some(deadline),
                    renewed_at: w.total_hold,
                };
                deadline
            }
        }
    }

    /// The holder's deadline and what is left of its slice; `None` if there is no holder
    /// or it has spent its slice. A holder whose slice was spent before this hold began
    /// (or that took the GIL without ever waiting for it) starts a new slice where this
    /// hold began.
    fn holder_deadline(&mut self, cx: &Context) -> Option<(Instant, Duration)> {
        let holder = cx.holder?;
        let slice = self.slice_of(cx);
        let before = cx.held_in_all.saturating_sub(cx.held);
        let began = cx.now.checked_sub(cx.held).unwrap_or(cx.now);
        let account = self.account(holder);
        let spent_before = before.saturating_sub(account.renewed_at) >= slice;
        if account.deadline.is_none() || spent_before {
            *account = Account {
                deadline: Some(next_deadline(account.deadline, began, slice, 1)),
                renewed_at: before,
            };
        }
        let used = cx.held_in_all.saturating_sub(account.renewed_at);
        let left = slice.checked_sub(used).filter(|left| !left.is_zero())?;
        Some((account.deadline?, left))
    }
}

/// How many slices behind the start of its wait the deadline of a thread back from a
/// blocking call may be counted from (see the module's opening).
const RETURNING_LAG: u32 = 4;

/// The deadline after `old` for a thread that has spent its slice, renewed at `began`:
/// one slice later, but counted from no further back than `lag` slices before `began`.
fn next_deadline(old: Option<Instant>, began: Instant, slice: Duration, lag: u32) -> Instant {
    let floor = began.checked_sub(slice * lag).unwrap_or(began);
    match old {
        Some(old) => old.max(floor) + slice,
        None => began + slice,
    }
}

impl ReleasePolicy for Deadline {
    fn name(&self) -> &str {
        "deadline"
    }

    /// At once if the waiter's deadline is earlier than the holder's or the holder has
    /// spent its slice; otherwise when the holder will have spent it. With no holder to
    /// judge (the GIL is changing hands), a whole slice: the most any holder that takes
    /// it now may keep the waiter waiting, so the waiter asks again by then.
    fn ask_after(&mut self, w: &Waiter, cx: &Context) -> Option<Duration> {
        let mine = self.deadline_of(w, cx);
        if cx.holder.is_none() {
            return Some(self.slice_of(cx));
        }
        match self.holder_deadline(cx) {
            Some((theirs, left)) if theirs <= mine => Some(left),
            _ => Some(Duration::ZERO),
        }
    }

    fn next_holder(&mut self, waiters: &[Waiter], cx: &Context) -> Option<ThreadId> {
        let mut best: Option<(Instant, ThreadId)> = None;
        for w in waiters {
            let deadline = self.deadline_of(w, cx);
            // Strictly earlier only: of equal deadlines, the one that began to wait first.
            if best.is_none_or(|(earliest, _)| deadline < earliest) {
                best = Some((deadline, w.tid));
            }
        }
        best.map(|(_, tid)| tid)
    }
}
