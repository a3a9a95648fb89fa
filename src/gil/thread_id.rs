//! `ThreadId`: how the lock names a thread. The first thread registered (the main thread)
//! is 1, then 2, 3, … — the numbers the language's `thread_id()` returns.
//!
//! Invariant: an id is never 0 and never reused within one lock, so it indexes the lock's
//! per-thread records as `id - 1`.

use std::fmt;

/// A thread known to the GIL. The first thread registered (the main thread) is 1, then
/// 2, 3, ... — the same numbers as the language's `thread_id()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId(pub u32);

impl ThreadId {
    /// The main thread's id.
    pub const MAIN: ThreadId = ThreadId(1);

    /// The id as a number.
    pub fn get(self) -> u32 {
        self.0
    }

    pub(super) fn index(self) -> usize {
        (self.0 as usize)
            .checked_sub(1)
            .expect("thread id 0 is never registered")
    }
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
