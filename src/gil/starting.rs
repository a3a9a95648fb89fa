//! Threads queued for the GIL before their OS thread runs. A holder starting a thread
//! (`spawn`) queues it as a waiter at once and hands the lock what starts its OS thread;
//! the lock runs that in place of the thread's first wake-up, when a release hands it the
//! GIL or its ask of the holder is due. So a new thread costs one wake-up, at its turn,
//! instead of one at its creation (only to go to sleep again in `take`) and another at
//! its turn. Invariant: a thread with a starter is queued and has never run; it is
//! started at most once, since every path that would wake a waiter goes through
//! `State::wake`, which takes the starter out.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::lock::{Gil, MIN_SWITCH_INTERVAL, REPORT_LOCATION, Starter};
use super::queued::Queued;
use super::thread_id::ThreadId;

impl<T> Gil<T> {
    /// Queues `tid`, registered with [`Gil::register_starting_thread`] and not running,
    /// with `start` to be called where the lock would first wake it (see
    /// [`GilGuard::queue_starting`](super::GilGuard::queue_starting)). The caller holds
    /// the GIL.
    pub(super) fn queue_starting(&self, tid: ThreadId, os_tid: Option<i32>, start: Box<dyn FnOnce() + Send>) {
        let mut st = self.lock_state();
        if st.schedules {
            // A scheduler hands the GIL to registered threads that have not arrived; the
            // thread starts now and comes to the lock when it runs.
            drop(st);
            start();
            return;
        }
        let now = Instant::now();
        st.waiters.push(Queued::new(tid, now, false));
        let rec = st.rec_mut(tid);
        rec.waiting_since = Some(now);
        rec.starter = Some(Starter(start));
        rec.starting = true;
        // Known, a releaser that stops can have it start on its own CPU.
        rec.os_tid = os_tid.unwrap_or(0);
        // The holder says where it is at its next check point, as for any new waiter.
        self.eval_breaker.fetch_or(REPORT_LOCATION, Relaxed);
        // It cannot ask for itself until it runs: asked for now if it asks at once, or
        // put on watch if it asks before the waiter on watch.
        match self.ask_time(&mut st, tid, now, false) {
            Some(at_once) if at_once < MIN_SWITCH_INTERVAL => self.request_drop(&mut st, tid, now),
            Some(after) if st.watch.is_none_or(|w| w.at > now + after) => {
                self.set_watch(&mut st, now, Some((tid, after)));
            }
            _ => {}
        }
    }
}
