//! Threads (LANGUAGE.md §7): `spawn`, `join`, the end of the program's wait for them, and
//! the one way any thread blocks on something of the program's own — `block`, which keeps
//! the wait-for graph and reports deadlocks (§8). The synchronisation primitives that
//! block through it are in `sync/`.
//!
//! Invariants:
//! - The state of a thread is an ordinary heap object, so it is touched only under the
//!   GIL. What a blocked thread waits on is a `Signal` — a generation counter and a
//!   condition variable, `Send + Sync`, holding no interpreter values.
//! - A waiter reads the generation under the GIL, then waits with the GIL released for it
//!   to change; every state change bumps the generation under the GIL. So no wake-up is
//!   lost between "I must wait" and "I am waiting".
//! - Every blocking wait goes through `block::block`: it is where the GIL is let go for the
//!   wait, where Ctrl-C reaches a blocked main thread, and where the wait-for graph is kept.

mod block;
mod deadlock;
mod join;
mod pool;
mod spawn;

pub use block::{Wait, block, deadline_after, sleep};
pub use join::{is_alive, join, take_failures, wait_all};
pub use spawn::{SharedGil, before_fork, spawn};
