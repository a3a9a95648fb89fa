//! `Signal`: what a blocked thread waits on — a generation counter and a condition
//! variable, `Send + Sync`, holding no interpreter values.
//!
//! Invariant: the generation only grows, and every change of the state a signal guards
//! moves it (under the GIL), and wakes its waiters then (`bump`) or once the GIL is let go
//! (`advance`, then `notify`). A signal made before a fork is never used in the child (its
//! mutex may have been copied held); its owner replaces it (`is_stale`). A waiter reads
//! the generation under the GIL, then waits with the GIL released for it to move, so no
//! wake-up is lost between "I must wait" and "I am waiting".
//!
//! Built on std's mutex and condition variable, which keep their whole state in the
//! object, not on `parking_lot`'s: that one keeps a process-wide table of parked threads,
//! and after a fork the table still lists the parent's threads (one may even have held a
//! bucket's lock at the fork, which would hang the child's first wait in that bucket).
//!
//! The generation and the number of waiters are atomics beside the mutex, so reading the
//! generation and bumping a signal nobody waits on take no lock and no system call (a
//! message between interpreters is one bump and one read). A waiter registers (SeqCst)
//! before it reads the generation and a bump moves the generation (SeqCst) before it
//! reads the waiters, so one of the two sees the other: either the waiter sees the new
//! generation, or the bump sees the waiter and notifies under the mutex, which the waiter
//! holds from its last look until it sleeps.
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// How many forks separate this process from the first one (0 there): a signal made in
/// an earlier one is stale (see [`Signal::is_stale`]).
static FORK_GENERATION: AtomicU32 = AtomicU32::new(0);

/// Something blocked threads wait on: bumped (under the GIL) whenever the state it
/// guards changes.
#[derive(Debug)]
pub struct Signal {
    /// Only ever grows; see the module docs for how it pairs with `waiters`.
    generation: AtomicU64,
    /// Threads inside `wait_change`.
    waiters: AtomicU32,
    /// Held by a waiter from its last look at the generation until it sleeps, and by a
    /// bump that notifies.
    state: Mutex<()>,
    changed: Condvar,
    /// The fork generation it was made in.
    made_in: u32,
}

impl Default for Signal {
    fn default() -> Signal {
        Signal {
            generation: AtomicU64::new(0),
            waiters: AtomicU32::new(0),
            state: Mutex::new(()),
            changed: Condvar::new(),
            made_in: FORK_GENERATION.load(Ordering::Relaxed),
        }
    }
}

/// Called in a freshly forked child: every signal made before is stale from now on.
pub fn note_fork() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// How many forks separate this process from the first one: 0 there.
pub fn fork_generation() -> u32 {
    FORK_GENERATION.load(Ordering::Relaxed)
}

impl Signal {
    /// Made before this process was forked from its parent: a thread that does not exist
    /// here may have been inside its mutex at the fork, so it must be replaced, not used.
    pub fn is_stale(&self) -> bool {
        self.made_in != FORK_GENERATION.load(Ordering::Relaxed)
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Moves the generation and wakes the waiters: [`advance`](Signal::advance), then
    /// [`notify`](Signal::notify).
    pub fn bump(&self) {
        self.advance();
        self.notify();
    }

    /// Moves the generation without waking anyone: a waiter that looks sees the change,
    /// one asleep sleeps on until [`notify`](Signal::notify), which must follow. For an
    /// owner that must publish the change under the GIL but wants its waiters woken only
    /// after it has let the GIL go.
    pub fn advance(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Wakes the waiters of an [`advance`](Signal::advance) (no system call if none).
    pub fn notify(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            // Taking the mutex waits until a waiter that looked before this bump sleeps.
            drop(self.lock());
            self.changed.notify_all();
        }
    }

    /// Whether the generation has moved past `seen`: one atomic load, for a waiter that
    /// spins before it sleeps.
    pub fn changed_since(&self, seen: u64) -> bool {
        self.generation() != seen
    }

    /// Waits until the generation differs from `seen` or the deadline passes; true if it
    /// changed.
    pub fn wait_change(&self, seen: u64, deadline: Option<Instant>) -> bool {
        let mut st = self.lock();
        self.waiters.fetch_add(1, Ordering::SeqCst);
        while self.generation() == seen {
            st = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match self.changed.wait_timeout(st, left) {
                        Ok((st, _)) => st,
                        Err(poisoned) => poisoned.into_inner().0,
                    }
                }
                None => self.changed.wait(st).unwrap_or_else(|poisoned| poisoned.into_inner()),
            };
        }
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        drop(st);
        self.generation() != seen
    }

    /// The mutex; it guards no data (the state is in the atomics), so a poisoned one is
    /// used as it is.
    fn lock(&self) -> MutexGuard<'_, ()> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_bump_is_seen_by_a_look_and_by_a_sleeper() {
        let s = Arc::new(Signal::default());
        let seen = s.generation();
        assert!(!s.changed_since(seen));
        s.bump();
        assert!(s.changed_since(seen));
        assert!(s.wait_change(seen, None), "changed before the wait began");
        let seen = s.generation();
        let waker = {
            let s = s.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                s.bump();
            })
        };
        assert!(s.wait_change(seen, Some(Instant::now() + Duration::from_secs(10))));
        waker.join().unwrap();
        let seen = s.generation();
        assert!(!s.wait_change(seen, Some(Instant::now() + Duration::from_millis(5))));
    }

    #[test]
    fn no_wake_up_is_lost_between_look_and_sleep() {
        let s = Arc::new(Signal::default());
        for _ in 0..200 {
            let seen = s.generation();
            let waker = {
                let s = s.clone();
                std::thread::spawn(move || s.bump())
            };
            assert!(s.wait_change(seen, Some(Instant::now() + Duration::from_secs(10))));
            waker.join().unwrap();
        }
    }
}
