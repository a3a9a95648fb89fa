//! Timing the asks: the one waiter on watch, whose sleep ends when its ask of the holder
//! is due, while every other waiter dozes until a release wakes it. Invariant: while some
//! waiter has an ask due, one waiter is on watch for the earliest of them, and something
//! wakes it then: its own timed sleep when it put itself on watch, or the process's
//! [`alarm`](super::alarm) when a change of holder named it (so the change wakes nobody).

use std::time::{Duration, Instant};

use super::alarm;
use super::lock::{Gil, State, Watch};
use super::thread_id::ThreadId;

/// How many times its own ask time a waiter that is not on watch sleeps at most. The
/// waiter on watch asks for everyone, and `take` puts a new one on watch at every change
/// of holder, so the others need not wake at all; the bound only keeps a wake-up that
/// never comes from turning into a hang.
pub(super) const WATCH_BACKSTOP: u32 = 8;

impl<T> Gil<T> {
    /// How long waiter `tid`, whose next ask is `own` from `now`, sleeps. One waiter keeps
    /// the time for all, the one that asks first: it goes on watch and sleeps `own`. The
    /// others doze, up to `WATCH_BACKSTOP` times longer, until a release or their turn on
    /// watch wakes them. (Every waiter timing its own ask woke each of them once per
    /// switch interval, a context switch each, taken from the holder's CPU.)
    pub(super) fn watch_or_doze(st: &mut State, tid: ThreadId, now: Instant, own: Duration) -> Duration {
        let due = now + own;
        match st.watch {
            Some(w) if w.watcher != tid && w.at <= due => own.saturating_mul(WATCH_BACKSTOP),
            _ => {
                st.watch = Some(Watch {
                    watcher: tid,
                    at: due,
                    by_alarm: false,
                });
                own
            }
        }
    }

    /// A waiter awake again is no longer on watch: it decides anew, or takes the GIL.
    pub(super) fn leave_watch(st: &mut State, tid: ThreadId) {
        if st.watch.is_some_and(|w| w.watcher == tid) {
            st.watch = None;
        }
    }

    /// Puts on watch `first`, the waiter that will ask the new holder first and after how
    /// long (from `askers`). A waiter on watch already whose own sleep ends no later stays
    /// as it is; any other is left asleep and the alarm set for its ask (lazily: an alarm
    /// due no later is left to find the new time when it rings). Without an alarm (the
    /// model build, or none could be started) the waiter is woken to time its own sleep.
    pub(super) fn set_watch(&self, st: &mut State, now: Instant, first: Option<(ThreadId, Duration)>) {
        let Some((watcher, after)) = first else {
            st.watch = None;
            return;
        };
        let at = now + after;
        match st.watch {
            Some(w) if w.watcher == watcher && !w.by_alarm && w.at <= at => {}
            _ => {
                let by_alarm = alarm::arm(self.shared_arc(), st, at);
                st.watch = Some(Watch { watcher, at, by_alarm });
                if !by_alarm {
                    st.wake(watcher);
                }
            }
        }
    }
}
