//! Asking the policy: the [`Context`] and [`Waiter`] views each question is asked with,
//! and the checks on the answers. Invariant: every question is asked with the state's
//! mutex held and shows the policy one consistent moment, and no answer is used that the
//! state machine does not allow (a hand-off goes only to a queued waiter, a slice is at
//! least one instruction).

use std::time::{Duration, Instant};

use super::lock::{Gil, MIN_SWITCH_INTERVAL, State};
use super::policy::{Context, SliceEnd, Waiter};
use super::thread_id::ThreadId;

impl<T> Gil<T> {
    /// The settings, and the holder as of `now`; `fresh`: as if the holder (if any) had
    /// just taken the GIL.
    fn context(&self, st: &State, now: Instant, fresh: bool) -> Context {
        let held = match st.holder {
            Some(h) if !fresh => st
                .rec(h)
                .held_since
                .map_or(Duration::ZERO, |t| now.saturating_duration_since(t)),
            _ => Duration::ZERO,
        };
        let before = st.holder.map_or(Duration::ZERO, |h| st.rec(h).hold);
        Context {
            holder: st.holder,
            held,
            held_in_all: before + held,
            now,
            switch_interval: self.switch_interval(),
            check_interval: self.check_interval(),
        }
    }

    /// Refill `st.views` with every waiter as of `now`, in queue order.
    fn fill_views(st: &mut State, now: Instant) {
        let State {
            views,
            waiters,
            threads,
            ..
        } = st;
        views.clear();
        views.extend(waiters.iter().map(|q| {
            let rec = threads.get(q.tid.index()).and_then(Option::as_ref);
            let (last, total) = rec.map_or((Duration::ZERO, Duration::ZERO), |r| (r.last_hold, r.hold));
            q.view(now, last, total)
        }));
    }

    /// The waiter `tid` as of `now`.
    fn view_of(st: &State, tid: ThreadId, now: Instant) -> Waiter {
        let q = st
            .waiters
            .iter()
            .find(|q| q.tid == tid)
            .expect("asked about a thread that is not waiting");
        let rec = st.rec(tid);
        q.view(now, rec.last_hold, rec.hold)
    }

    /// How much longer the waiter `tid` lets the holder run before asking it to drop
    /// (`None`: never); `next`: the answer for a holder that would take the GIL now.
    pub(super) fn ask_time(&self, st: &mut State, tid: ThreadId, now: Instant, next: bool) -> Option<Duration> {
        let me = Self::view_of(st, tid, now);
        let mut cx = self.context(st, now, next);
        if next {
            // Who the next holder will be is not known yet: not the one holding now.
            cx.holder = None;
            cx.held_in_all = Duration::ZERO;
        }
        let policy = &mut st.policy.0;
        if me.from_blocking && policy.asks_on_return(&me) {
            return Some(Duration::ZERO);
        }
        policy.ask_after(&me, &cx)
    }

    /// Who asks the holder, which has just taken the GIL, to drop, in one pass over the
    /// waiters: the first (in queue order) that asks at once, if any, and among the others
    /// the one whose ask comes first, with after how long (the waiter to put on watch).
    pub(super) fn askers(&self, st: &mut State, now: Instant) -> (Option<ThreadId>, Option<(ThreadId, Duration)>) {
        if st.waiters.is_empty() {
            return (None, None);
        }
        Self::fill_views(st, now);
        let cx = self.context(st, now, true);
        let State { views, policy, .. } = st;
        let (mut at_once, mut first) = (None, None::<(ThreadId, Duration)>);
        for w in views.iter() {
            let ask = if w.from_blocking && policy.0.asks_on_return(w) {
                Some(Duration::ZERO)
            } else {
                policy.0.ask_after(w, &cx)
            };
            match ask {
                Some(d) if d < MIN_SWITCH_INTERVAL => {
                    at_once = at_once.or(Some(w.tid));
                }
                Some(d) if first.is_none_or(|(_, best)| d < best) => first = Some((w.tid, d)),
                _ => {}
            }
        }
        (at_once, first)
    }

    /// The waiter a GIL released at `now` is reserved for, if the policy names one that
    /// is waiting.
    pub(super) fn choose_next_holder(&self, st: &mut State, now: Instant) -> Option<ThreadId> {
        if st.waiters.is_empty() {
            return None;
        }
        Self::fill_views(st, now);
        let cx = self.context(st, now, true);
        let State { views, policy, .. } = st;
        let chosen = policy.0.next_holder(views, &cx)?;
        views.iter().any(|w| w.tid == chosen).then_some(chosen)
    }

    /// The holder `tid`'s instruction slice has run out: what it does, and how many
    /// instructions its next slice has.
    pub(super) fn slice_end(&self, st: &mut State, tid: ThreadId, now: Instant) -> (SliceEnd, u32) {
        Self::fill_views(st, now);
        let cx = self.context(st, now, false);
        let State { views, policy, .. } = st;
        let decision = policy.0.at_slice_end(tid, views, &cx);
        let next = policy.0.slice(tid, &cx).max(1);
        (decision, next)
    }

    /// Under a scheduler: refill `st.views` with every thread that can run as of `now`, in
    /// thread-id order, leaving out `except` (a thread that is letting the GIL go).
    /// Asking a blocked thread's wake test here is what makes its wake-up a decision of
    /// the holder's, at a point of the program, rather than of the operating system's.
    fn fill_runnable(st: &mut State, now: Instant, except: Option<ThreadId>) {
        let State {
            views,
            waiters,
            threads,
            ..
        } = st;
        views.clear();
        for (index, rec) in threads.iter().enumerate() {
            let Some(rec) = rec else { continue };
            let tid = ThreadId(index as u32 + 1);
            let runnable = !rec.exited && !rec.away && rec.blocked.as_ref().is_none_or(|wake| (wake.0)());
            if !runnable || Some(tid) == except {
                continue;
            }
            let view = match waiters.iter().find(|q| q.tid == tid) {
                Some(q) => q.view(now, rec.last_hold, rec.hold),
                None => Waiter {
                    tid,
                    waited: Duration::ZERO,
                    from_blocking: false,
                    last_hold: rec.last_hold,
                    total_hold: rec.hold,
                },
            };
            views.push(view);
        }
    }

    /// Under a scheduler: who gets the GIL `except` is releasing at `now`, among every
    /// thread that can run; `None` if none can (the GIL is then free for whoever comes
    /// back first from a blocking call).
    pub(super) fn schedule_next(&self, st: &mut State, now: Instant, except: Option<ThreadId>) -> Option<ThreadId> {
        Self::fill_runnable(st, now, except);
        let cx = self.context(st, now, true);
        let State { views, policy, .. } = st;
        let chosen = policy.0.next_holder(views, &cx)?;
        views.iter().any(|w| w.tid == chosen).then_some(chosen)
    }

    /// Under a scheduler: the holder `tid`'s slice has run out. Who runs next, among every
    /// thread that can run and the holder itself (`None`: the holder goes on), and the
    /// length of the next slice.
    pub(super) fn schedule_at_slice_end(&self, st: &mut State, tid: ThreadId, now: Instant) -> (Option<ThreadId>, u32) {
        Self::fill_runnable(st, now, None);
        let cx = self.context(st, now, false);
        let State { views, policy, .. } = st;
        let chosen = match policy.0.at_slice_end(tid, views, &cx) {
            SliceEnd::KeepRunning => None,
            SliceEnd::Yield | SliceEnd::HandOff => policy
                .0
                .next_holder(views, &cx)
                .filter(|&c| c != tid && views.iter().any(|w| w.tid == c)),
        };
        let next = policy.0.slice(tid, &cx).max(1);
        (chosen, next)
    }

    /// The first slice of `tid`, which holds the GIL and starts running bytecode.
    pub(super) fn first_slice(&self, st: &mut State, tid: ThreadId, now: Instant) -> u32 {
        let cx = self.context(st, now, false);
        st.policy.0.slice(tid, &cx).max(1)
    }
}
