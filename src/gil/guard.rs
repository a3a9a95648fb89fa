//! The guard: [`GilGuard`] is the proof that the calling thread holds the GIL and the only
//! way to reach the state. It keeps the module's central invariant on the holder's side:
//! no reference into the state outlives the guard's hold, so `check_point` and
//! `release_while` take `&mut self`, and the guard never leaves its thread.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::location::Location;
use super::lock::{DROP_REQUEST, Gil, Releaser, State, WakeTest};
use super::policy::SliceEnd;
use super::reason::SwitchReason;
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

    /// For a policy that counts instructions, the first slice of this thread (how many
    /// instructions it runs before calling [`end_slice`](GilGuard::end_slice)); `None`
    /// when the eval breaker alone says when to stop (see [`Gil::tick_budget`]).
    pub fn tick_budget(&self) -> Option<u32> {
        let gil = self.gil;
        if !gil.counts_instructions {
            return None;
        }
        let mut st = gil.lock_state();
        Some(gil.first_slice(&mut st, self.tid, Instant::now()))
    }

    /// Say where the holder is: `at` is charged with the waits that began since the last
    /// report, and a trace names it as the place of this hold's hand-off. The VM calls it
    /// at a check point when the eval breaker's [`REPORT_LOCATION`] bit is set (a thread
    /// has begun to wait), and, when tracing, before it lets the GIL go.
    ///
    /// [`REPORT_LOCATION`]: super::REPORT_LOCATION
    pub fn report_location(&mut self, at: Location) {
        let gil = self.gil;
        let mut st = gil.lock_state();
        gil.report(&mut st, at);
    }

    /// The slow path of a check point, called by the VM when the eval breaker is nonzero.
    /// If a waiter asked for the GIL, gives it up and takes it back, possibly after other
    /// threads ran; otherwise returns at once (under a policy that counts instructions it
    /// does what [`end_slice`](GilGuard::end_slice) does instead). Bits other than the
    /// lock's are left for the caller.
    pub fn check_point(&mut self) {
        let gil = self.gil;
        if gil.eval_breaker.load(Relaxed) & DROP_REQUEST == 0 {
            if gil.counts_instructions {
                self.end_slice(None);
            }
            return;
        }
        let st = gil.lock_state();
        gil.eval_breaker.fetch_and(!DROP_REQUEST, Relaxed);
        if st.waiters.is_empty() {
            return; // stale: the asker got the GIL some other way
        }
        self.drop_and_retake(st, SwitchReason::DropRequest);
    }

    /// A policy that counts instructions: this thread's slice has run out (the VM calls it
    /// every [`tick_budget`](GilGuard::tick_budget) instructions, then every number this
    /// returns). The policy decides whether the holder keeps running, yields or hands the
    /// GIL on; returns the length of the next slice. `at`, if given, is reported first
    /// (see [`report_location`](GilGuard::report_location)).
    pub fn end_slice(&mut self, at: Option<Location>) -> u32 {
        let gil = self.gil;
        let mut st = gil.lock_state();
        if let Some(at) = at {
            gil.report(&mut st, at);
        }
        if st.schedules {
            let (chosen, next) = gil.schedule_at_slice_end(&mut st, self.tid, Instant::now());
            if let Some(chosen) = chosen {
                st.handing_to = Some(chosen);
                self.drop_and_retake(st, SwitchReason::Schedule);
            }
            return next;
        }
        let (decision, next) = gil.slice_end(&mut st, self.tid, Instant::now());
        match decision {
            SliceEnd::KeepRunning => {}
            SliceEnd::Yield => self.drop_and_retake(st, SwitchReason::Ticks),
            SliceEnd::HandOff => self.drop_and_retake(st, SwitchReason::Schedule),
        }
        next
    }

    /// Drop the GIL at a check point, for `reason`, and take it back: after another thread
    /// has taken it if the policy forces switching, else after an instant in which any
    /// waiter may take it first.
    fn drop_and_retake(&mut self, mut st: MutexGuard<'_, State>, reason: SwitchReason) {
        let gil = self.gil;
        st.forced_drops += 1;
        st.rec_mut(self.tid).forced_drops += 1;
        let seen = st.switch_number;
        let released = self.drop_for_check_point(&mut st, reason);
        if st.policy.0.forced_switching() {
            // Waiters leave the queue only by taking the GIL, so this ends.
            while st.switch_number == seen && !st.waiters.is_empty() {
                gil.shared().switch_cv.wait(&mut st);
            }
        } else {
            // No hand-off: let go of the mutex for an instant and compete like anyone
            // else. The woken waiter still has to be scheduled, so we often win again.
            MutexGuard::unlocked(&mut st, || {});
        }
        gil.take_and_settle(st, self.tid, false, Some(released));
    }

    /// Release at a check point; the thread counts as waiting from here on, since it
    /// wants the GIL back.
    fn drop_for_check_point(&self, st: &mut State, reason: SwitchReason) -> Instant {
        let released = self.gil.release(st, self.tid, End::Forced, reason);
        st.rec_mut(self.tid).waiting_since = Some(released);
        released
    }

    /// Run `f` with the GIL released (blocking I/O, sleeping, heavy native work), then
    /// take it back as a thread returning from a blocking call. `f` is `Send` and cannot
    /// borrow the state, so no interpreter object is reachable while the GIL is free.
    /// If `f` panics, the GIL is taken back before the panic continues.
    pub fn release_while<R: Send>(&mut self, f: impl FnOnce() -> R + Send) -> R {
        self.release_for(Releaser::Leaves, f)
    }

    /// [`release_while`](GilGuard::release_while) for a call of microseconds that cannot
    /// wait on anything (handing work to a thread that is waiting for it): the thread
    /// stays queued for the GIL while `f` runs, so a policy that hands the GIL to
    /// threads back from blocking calls (`priority`, `deadline`) keeps it for this one
    /// instead of giving it to another waiter and taking it straight back. Under other
    /// policies the GIL goes where it would have gone.
    pub fn release_returning<R: Send>(&mut self, f: impl FnOnce() -> R + Send) -> R {
        self.release_for(Releaser::Returns, f)
    }

    /// [`release_while`](GilGuard::release_while) for a call that sleeps and wakes on
    /// the CPU it sleeps on (a timed sleep: the timer fires there). The thread that takes
    /// the GIL meanwhile moves to another CPU if it finds itself on this one (when
    /// following CPUs, the default): left there, it would hold that CPU when the sleeper
    /// wakes, and a kernel that keeps a waking thread on its own CPU while another is idle
    /// (Linux does, when it judges the CPUs busy) makes the sleeper wait for its next
    /// tick, up to 4 ms. Only for sleeps in [`KEEP_CPU_PAUSES`]: the move costs the next
    /// holder 20–30 µs.
    ///
    /// [`KEEP_CPU_PAUSES`]: super::KEEP_CPU_PAUSES
    pub fn release_keeping_cpu<R: Send>(&mut self, f: impl FnOnce() -> R + Send) -> R {
        self.release_for(Releaser::KeepsCpu, f)
    }

    /// Run `f` with the GIL released, as `releaser` says: one of the three above, chosen
    /// by a value, or [`Releaser::Stops`] for a wait on another thread.
    pub fn release_for<R: Send>(&mut self, releaser: Releaser, f: impl FnOnce() -> R + Send) -> R {
        {
            let mut st = self.gil.lock_state();
            // Under a scheduler it is not runnable until it is back at the lock.
            let schedules = st.schedules;
            let rec = st.rec_mut(self.tid);
            rec.away = schedules;
            rec.in_blocking_call = true;
            self.gil
                .release_as(&mut st, self.tid, End::Blocking, SwitchReason::Blocking, releaser);
        }
        let _retake = Retake {
            gil: self.gil,
            tid: self.tid,
        };
        f()
    }

    /// Thread `tid`, away in a blocking call, will be back at once: this thread (the
    /// holder) has just ended what it waits for (a thread it joins has finished). It is
    /// queued for the GIL now, as a thread back from a blocking call, so when the holder
    /// lets go a policy that favours such threads hands the GIL to it rather than to
    /// another waiter it would then take the GIL from. Does nothing for a thread that is
    /// not in a blocking call, is waiting already, or under a scheduler. The caller must
    /// know the call returns promptly: a GIL handed to `tid` waits for it.
    pub fn announce_return(&self, tid: ThreadId) {
        let mut st = self.gil.lock_state();
        self.gil.announce(&mut st, tid, Instant::now());
    }

    /// Under a scheduler ([`ReleasePolicy::schedules`](super::ReleasePolicy::schedules)):
    /// block on one of the program's own objects. The GIL goes to a thread the scheduler
    /// picks, and comes back only when the scheduler hands it to this thread, which it
    /// does only once `wake` says the wait is over; so when a blocked thread resumes is
    /// decided by the program's own steps, and a seeded run repeats exactly. `wake` is
    /// asked by other threads, with the lock's mutex held: it must be quick, must not
    /// block, and must look only at state that changes under the GIL (a generation
    /// counter bumped by the object's owner, say).
    ///
    /// Returns false at once, having released nothing, under a policy that does not
    /// schedule: the caller then waits in its own way ([`release_while`]).
    ///
    /// [`release_while`]: GilGuard::release_while
    pub fn release_until(&mut self, wake: impl Fn() -> bool + Send + 'static) -> bool {
        let gil = self.gil;
        let mut st = gil.lock_state();
        if !st.schedules {
            return false;
        }
        if wake() {
            // Over before it began (its object changed, or a verdict came): nothing to
            // wait for, and nobody else would hand the GIL back to a releaser.
            return true;
        }
        st.rec_mut(self.tid).blocked = Some(WakeTest(Box::new(wake)));
        gil.release(&mut st, self.tid, End::Blocking, SwitchReason::Blocking);
        gil.take_and_settle(st, self.tid, true, None);
        true
    }

    /// Release the GIL and unregister the thread: the last thing a finishing thread does.
    pub fn exit(self) {
        let this = ManuallyDrop::new(self);
        let (gil, tid) = (this.gil, this.tid);
        let mut st = gil.lock_state();
        gil.release_as(&mut st, tid, End::Released, SwitchReason::ThreadEnd, Releaser::Stops);
        // Unregistered under the same hold of the mutex: a scheduler choosing between
        // the two would hand the GIL to a thread that never takes it again.
        st.rec_mut(tid).exited = true;
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
    /// A holder that lets go between calls (a host's own code runs next) counts, for
    /// the hand-off's reason, as blocking.
    fn drop(&mut self) {
        let mut st = self.gil.lock_state();
        // Under a scheduler it is away until it takes the GIL again.
        st.rec_mut(self.tid).away = st.schedules;
        self.gil
            .release(&mut st, self.tid, End::Released, SwitchReason::Blocking);
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
