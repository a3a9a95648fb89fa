//! `Signal`: what a blocked thread waits on — a generation counter and a condition
//! variable, `Send + Sync`, holding no interpreter values.
//!
//! Invariant: the generation only grows, and every change of the state a signal guards
//! bumps it (under the GIL). A waiter reads the generation under the GIL, then waits with
//! the GIL released for it to move, so no wake-up is lost between "I must wait" and "I am
//! waiting".

use parking_lot::{Condvar, Mutex};
use std::time::Instant;

/// Something blocked threads wait on: bumped (under the GIL) whenever the state it
/// guards changes.
#[derive(Debug, Default)]
pub struct Signal {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Signal {
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
