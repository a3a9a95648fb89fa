//! `Signal`: what a blocked thread waits on — a generation counter and a condition
//! variable, `Send + Sync`, holding no interpreter values.
//!
//! Invariant: the generation only grows, and every change of the state a signal guards
//! bumps it (under the GIL). A signal made before a fork is never used in the child (its
//! mutex may have been copied held); its owner replaces it (`is_stale`). A waiter reads
//! the generation under the GIL, then waits with the GIL released for it to move, so no
//! wake-up is lost between "I must wait" and "I am waiting".
//!
//! Built on std's mutex and condition variable, which keep their whole state in the
//! object, not on `parking_lot`'s: that one keeps a process-wide table of parked threads,
//! and after a fork the table still lists the parent's threads (one may even have held a
//! bucket's lock at the fork, which would hang the child's first wait in that bucket). A
//! bump wakes waiters only when some wait, so it costs no system call otherwise.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// How many forks separate this process from the first one (0 there): a signal made in
/// an earlier one is stale (see [`Signal::is_stale`]).
static FORK_GENERATION: AtomicU32 = AtomicU32::new(0);

/// Something blocked threads wait on: bumped (under the GIL) whenever the state it
/// guards changes.
#[derive(Debug)]
pub struct Signal {
    state: Mutex<State>,
    changed: Condvar,
    /// The fork generation it was made in.
    made_in: u32,
}

#[derive(Debug, Default)]
struct State {
    generation: u64,
    /// Threads inside `wait_change`.
    waiters: u32,
}

impl Default for Signal {
    fn default() -> Signal {
        Signal {
            state: Mutex::new(State::default()),
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
        self.lock().generation
    }

    pub fn bump(&self) {
        let mut st = self.lock();
        st.generation += 1;
        let waiting = st.waiters > 0;
        drop(st);
        if waiting {
            self.changed.notify_all();
        }
    }

    /// Waits until the generation differs from `seen` or the deadline passes; true if it
    /// changed.
    pub fn wait_change(&self, seen: u64, deadline: Option<Instant>) -> bool {
        let mut st = self.lock();
        st.waiters += 1;
        while st.generation == seen {
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
        st.waiters -= 1;
        st.generation != seen
    }

    /// The state; a panic elsewhere while it was held left it whole (every update is one
    /// field write), so a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
