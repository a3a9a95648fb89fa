//! The synchronisation primitives of LANGUAGE.md §8: `Lock`, `RLock`, `Condition`,
//! `Event`, `Semaphore`, `Barrier` and `Queue`. Each is an ordinary heap object (its data
//! is in `object.rs`); what it does is here, one file each.
//!
//! Invariants:
//! - A primitive's state is read and changed only under the GIL, and every change that
//!   may let a waiter go bumps its `Signal`.
//! - Whatever blocks does so through `threads::block`, never on its own: that is where the
//!   GIL is let go, Ctrl-C reaches the main thread, and the wait-for graph is kept. A call
//!   that does not have to wait (an uncontended acquire) never touches the graph.
//! - Whatever a thread takes (a lock, an rlock, a permit) is recorded with its thread id,
//!   so a deadlock report can say who holds what.
//! - In a forked child a primitive is made consistent on its first use there (`forked`).

pub mod barrier;
pub mod condition;
pub mod event;
mod forked;
pub mod lock;
pub mod queue;
pub mod rlock;
pub mod semaphore;
