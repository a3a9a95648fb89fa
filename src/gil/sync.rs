//! The primitives the lock is built from: `parking_lot`'s mutex and condition variable,
//! or, when compiled with `--cfg loom` for the model checks, the same interface over
//! loom's, so that loom can explore every interleaving of the lock's state machine.
//! Its invariant: both builds offer the same operations with the same meaning, including
//! the one loom lacks: a timed wait that may end without a notification.
//!
//! In the model build, a mutex also checks its data's [`Invariant`] every time it is
//! about to be unlocked, so every state another thread could observe is checked.

#[cfg(not(loom))]
pub(super) use parking_lot::{Condvar, Mutex, MutexGuard};

/// A property of the data behind a mutex, checked by the model build before every unlock
/// (and by unit tests where they choose).
#[cfg_attr(
    not(any(test, loom)),
    allow(dead_code, reason = "only the model build and tests check it")
)]
pub(super) trait Invariant {
    /// Panics if the property does not hold.
    fn check(&self);
}

#[cfg(loom)]
pub(super) use model::{Condvar, Mutex, MutexGuard};

#[cfg(loom)]
mod model {
    use std::collections::VecDeque;
    use std::ops::{Deref, DerefMut};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    use std::time::Duration;

    use crate::gil::sync::Invariant;

    /// `parking_lot::Mutex`'s interface over loom's mutex.
    pub(in crate::gil) struct Mutex<T> {
        inner: ::loom::sync::Mutex<T>,
    }

    impl<T: Invariant> Mutex<T> {
        pub(in crate::gil) fn new(value: T) -> Mutex<T> {
            Mutex {
                inner: ::loom::sync::Mutex::new(value),
            }
        }

        pub(in crate::gil) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard {
                mutex: &self.inner,
                guard: Some(self.inner.lock().expect("a model thread panicked")),
            }
        }
    }

    /// `parking_lot::MutexGuard`'s interface: waits take it by `&mut`.
    pub(in crate::gil) struct MutexGuard<'a, T: Invariant> {
        mutex: &'a ::loom::sync::Mutex<T>,
        /// `None` only inside `unlocked`.
        guard: Option<::loom::sync::MutexGuard<'a, T>>,
    }

    impl<T: Invariant> MutexGuard<'_, T> {
        /// Run `f` with the mutex unlocked, then lock it again.
        pub(in crate::gil) fn unlocked<U>(this: &mut Self, f: impl FnOnce() -> U) -> U {
            this.unlock();
            let result = f();
            this.guard = Some(this.mutex.lock().expect("a model thread panicked"));
            result
        }

        fn unlock(&mut self) {
            if let Some(guard) = self.guard.take() {
                // Unwinding from a failed check already: a second panic would abort the
                // run before loom reports the first.
                if !std::thread::panicking() {
                    guard.check();
                }
            }
        }
    }

    impl<T: Invariant> Drop for MutexGuard<'_, T> {
        fn drop(&mut self) {
            self.unlock();
        }
    }

    impl<T: Invariant> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.guard.as_ref().expect("locked outside `unlocked`")
        }
    }

    impl<T: Invariant> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.guard.as_mut().expect("locked outside `unlocked`")
        }
    }

    /// What a timed wait says, as `parking_lot::WaitTimeoutResult`.
    pub(in crate::gil) struct WaitTimeoutResult(bool);

    impl WaitTimeoutResult {
        pub(in crate::gil) fn timed_out(&self) -> bool {
            self.0
        }
    }

    /// A model thread's place in a condition variable's queue.
    struct Parked {
        /// Loom's park/unpark, which may also wake spuriously: a timed wait's timeout.
        /// One per thread, and loom lets each wake spuriously once per execution, which
        /// keeps the models finite (a timeout per thread and run, at any moment).
        wake: ::loom::sync::Notify,
        /// Set, under the queue's mutex, by the notifier that took this thread off it.
        notified: AtomicBool,
    }

    ::loom::thread_local! {
        static PARKED: Arc<Parked> = Arc::new(Parked {
            wake: ::loom::sync::Notify::new(),
            notified: AtomicBool::new(false),
        });
    }

    /// `parking_lot::Condvar`'s interface, and its guarantees: a notification wakes a
    /// thread that is waiting, an untimed wait never returns without one, and a timed
    /// wait either is notified or times out and leaves the queue, never both.
    pub(in crate::gil) struct Condvar {
        queue: ::loom::sync::Mutex<VecDeque<Arc<Parked>>>,
    }

    impl Default for Condvar {
        fn default() -> Condvar {
            Condvar::new()
        }
    }

    impl std::fmt::Debug for Condvar {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Condvar")
        }
    }

    impl Condvar {
        pub(in crate::gil) fn new() -> Condvar {
            Condvar {
                queue: ::loom::sync::Mutex::new(VecDeque::new()),
            }
        }

        pub(in crate::gil) fn wait<T: Invariant>(&self, guard: &mut MutexGuard<'_, T>) {
            self.park(guard, false);
        }

        /// The timeout's length does not matter to the model: it may run out at any moment.
        pub(in crate::gil) fn wait_for<T: Invariant>(
            &self,
            guard: &mut MutexGuard<'_, T>,
            _timeout: Duration,
        ) -> WaitTimeoutResult {
            WaitTimeoutResult(!self.park(guard, true))
        }

        pub(in crate::gil) fn notify_one(&self) -> bool {
            let mut queue = self.queue.lock().expect("a model thread panicked");
            let Some(parked) = queue.pop_front() else {
                return false;
            };
            parked.notified.store(true, Relaxed);
            parked.wake.notify();
            true
        }

        pub(in crate::gil) fn notify_all(&self) -> usize {
            let mut queue = self.queue.lock().expect("a model thread panicked");
            let n = queue.len();
            for parked in queue.drain(..) {
                parked.notified.store(true, Relaxed);
                parked.wake.notify();
            }
            n
        }

        /// Queue the calling thread (while `guard` still holds the mutex, so no notifier can
        /// miss it), unlock, and sleep until notified or, if `timed`, until a spurious wake
        /// up stands for the timeout. Returns whether it was notified.
        fn park<T: Invariant>(&self, guard: &mut MutexGuard<'_, T>, timed: bool) -> bool {
            let me = PARKED.with(Arc::clone);
            {
                let mut queue = self.queue.lock().expect("a model thread panicked");
                me.notified.store(false, Relaxed);
                queue.push_back(me.clone());
            }
            MutexGuard::unlocked(guard, || {
                loop {
                    me.wake.wait();
                    let mut queue = self.queue.lock().expect("a model thread panicked");
                    if me.notified.load(Relaxed) {
                        return true;
                    }
                    if timed {
                        queue.retain(|p| !Arc::ptr_eq(p, &me));
                        return false;
                    }
                    // An untimed parking_lot wait does not wake spuriously: wait on.
                }
            })
        }
    }
}
