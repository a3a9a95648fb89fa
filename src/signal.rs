//! `Signal`: what a blocked thread waits on — a generation counter and a condition
//! variable, `Send + Sync`, holding no interpreter values.
//!
//! Invariant: the generation only grows, and every change of the state a signal guards
//! bumps it (under the GIL). A signal made before a fork is never used in the child (its
//! mutex may have been copied held); its owner replaces it (`is_stale`). A waiter reads the generation under the GIL, then waits with
//! the GIL released for it to move, so no wake-up is lost between "I must wait" and "I am
//! waiting".

use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// How many forks separate this process from the first one (0 there): a signal made in
/// an earlier one is stale (see [`Signal::is_stale`]).
static FORK_GENERATION: AtomicU32 = AtomicU32::new(0);

/// Something blocked threads wait on: bumped (under the GIL) whenever the state it
/// guards changes.
#[derive(Debug)]
pub struct Signal {
    generation: Mutex<u64>,
    changed: Condvar,
    /// The fork generation it was made in.
    made_in: u32,
}

impl Default for Signal {
    fn default() -> Signal {
        Signal {
            generation: Mutex::new(0),
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
        *self.generation.lock()
    }

    pub fn bump(&self) {
        *self.generation.lock() += 1;
        self.changed.notify_all();
    }

    /// Waits until the generation differs from `seen` or the deadline passes; true if it
    /// changed.
    pub fn wait_change(&self, seen: u64, deadline: Option<Instant>) -> bool {
        let mut g = self.generation.lock();
        while *g == seen {
            match deadline {
                Some(d) => {
                    if self.changed.wait_until(&mut g, d).timed_out() {
                        return *g != seen;
                    }
                }
                None => self.changed.wait(&mut g),
            }
        }
        true
    }
}
