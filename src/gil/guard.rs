//! The guard: [`GilGuard`] is the proof that the calling thread holds the GIL and the only
//! way to reach the state. It keeps the module's central invariant on the holder's side:
//! no reference into the state outlives the guard's hold, so `check_point` and
//! `release_while` take `&mut self`, and the guard never leaves its thread.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::lock::{DROP_REQUEST, Gil, State};
use super::sync::MutexGuard;
use super::thread_id::ThreadId;
use super::trace::End;

/// Proof that the current thread holds the GIL; derefs to the interpreter state.
/// Dropping it releases the GIL. It stays on the thread that took it: it is neither `Send`
/// nor `Sync`, so moving it to another thread or sharing it with one does not compile
/// (tests/compile_fail/guard_*.rs).
pub struct GilGuard<'a, T> {
    gil: &'a Gil<T>,
    tid: ThreadId,
    /// The guard stands for "this OS thread holds the GIL": it must stay on it.
    _not_send: PhantomData<*const ()>,
}

impl<'a, T> GilGuard<'a, T> {
    /// The guard for `tid`, which has just taken `gil`: the one place a guard is made.
    pub(super) fn held_by(gil: &'a Gil<T>, tid: ThreadId) -> Self {
        GilGuard {
            gil,
            tid,
            _not_send: PhantomData,
        }
    }

    /// The thread holding the GIL.
    pub fn thread_id(&self) -> ThreadId {
        self.tid
    }

    /// The lock this guard holds.
    pub fn gil(&self) -> &'a Gil<T> {
        self.gil
    }

    /// See [`Gil::tick_budget`].
    pub fn tick_budget(&self) -> Option<u32> {
        self.gil.tick_budget()
    }

    /// The slow path of a check point, called by the VM when the eval breaker is nonzero
    /// (or, under `ticks`, when its instruction count runs out). If the policy says so,
    /// gives the GIL up and takes it back, possibly after other threads ran; otherwise
    /// returns at once. Bits other than [`DROP_REQUEST`] are left for the caller.
    pub fn check_point(&mut self) {
        let gil = self.gil;
        let rules = gil.rules();
        if rules.counts_instructions() {
            let mut st = gil.lock_state();
            if st.waiters.is_empty() {
                return; // nobody to let in: dropping would only cost time
            }
            self.count_forced_drop(&mut st);
            let released = self.drop_for_check_point(&mut st);
            // No hand-off: let go of the mutex for an instant and compete like anyone
            // else. The woken waiter still has to be scheduled, so we often win again.
            MutexGuard::unlocked(&mut st, || {});
            gil.take_and_settle(st, self.tid, false, Some(released));
            return;
        }
        if gil.eval_breaker.load(Relaxed) & DROP_REQUEST == 0 {
            return;
        }
        let mut st = gil.lock_state();
        gil.eval_breaker.fetch_and(!DROP_REQUEST, Relaxed);
        if st.waiters.is_empty() {
            return; // stale: the asker got the GIL some other way
        }
        self.count_forced_drop(&mut st);
        let seen = st.switch_number;
        let released = self.drop_for_check_point(&mut st);
        if rules.forced_switching() {
            // Waiters leave the queue only by taking the GIL, so this ends.
            while st.switch_number == seen && !st.waiters.is_empty() {
                gil.shared().switch_cv.wait(&mut st);
            }
        }
        gil.take_and_settle(st, self.tid, false, Some(released));
    }

    fn count_forced_drop(&self, st: &mut State) {
        st.forced_drops += 1;
        st.rec_mut(self.tid).forced_drops += 1;
    }

    /// Release at a check point; the thread counts as waiting from here on, since it
    /// wants the GIL back.
    fn drop_for_check_point(&self, st: &mut State) -> Instant {
        let released = self.gil.release(st, self.tid, End::Forced);
        st.rec_mut(self.tid).waiting_since = Some(released);
        released
    }

    /// Run `f` with the GIL released (blocking I/O, sleeping, heavy native work), then
    /// take it back as a thread returning from a blocking call. `f` is `Send` and cannot
    /// borrow the state, so no interpreter object is reachable while the GIL is free.
    /// If `f` panics, the GIL is taken back before the panic continues.
    pub fn release_while<R: Send>(&mut self, f: impl FnOnce() -> R + Send) -> R {
        {
            let mut st = self.gil.lock_state();
            self.gil.release(&mut st, self.tid, End::Blocking);
        }
        let _retake = Retake {
            gil: self.gil,
            tid: self.tid,
        };
        f()
    }

    /// Release the GIL and unregister the thread: the last thing a finishing thread does.
    pub fn exit(self) {
        let (gil, tid) = (self.gil, self.tid);
        drop(self);
        gil.thread_exit(tid);
    }
}

/// Takes the GIL back at the end of `release_while`, also when unwinding.
struct Retake<'a, T> {
    gil: &'a Gil<T>,
    tid: ThreadId,
}

impl<T> Drop for Retake<'_, T> {
    fn drop(&mut self) {
        self.gil.take_and_settle(self.gil.lock_state(), self.tid, true, None);
    }
}

impl<T> Drop for GilGuard<'_, T> {
    fn drop(&mut self) {
        let mut st = self.gil.lock_state();
        self.gil.release(&mut st, self.tid, End::Released);
    }
}

impl<T> Deref for GilGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard exists only while its thread is the GIL's holder, and the
        // state machine allows one holder at a time; `&self` keeps the guard (and so the
        // GIL) alive for as long as the reference lives.
        unsafe { &*self.gil.value.get() }
    }
}

impl<T> DerefMut for GilGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` also rules out any other reference obtained
        // through this guard, and `check_point`/`release_while` take `&mut self`, so no
        // reference survives a release.
        unsafe { &mut *self.gil.value.get() }
    }
}

impl<T> Gil<T> {
    /// Take the GIL for `tid` (the calling thread), waiting as long as it takes.
    ///
    /// Panics if `tid` is not registered, has exited, or already holds the GIL (the lock
    /// is not re-entrant).
    pub fn acquire(&self, tid: ThreadId) -> GilGuard<'_, T> {
        self.take_and_settle(self.lock_state(), tid, false, None);
        GilGuard::held_by(self, tid)
    }
}
