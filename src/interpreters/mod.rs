//! Interpreters (LANGUAGE.md §9, "the third way"): `spawn_interpreter` starts a new
//! interpreter — its own heap, collector and GIL, on a new OS thread of this process —
//! from an image of the spawner's globals; the two talk through a [`Link`] carrying wire
//! frames in memory; `join` gives the function's result or a `ProcessError`; `pmap` can
//! spread its work over interpreters.
//!
//! Invariants:
//! - Nothing of one interpreter is reachable from another. The only things that cross are
//!   `Send` and hold no interpreter values: the [`image::Image`] a new interpreter starts
//!   from, the wire frames of messages and of the final result, the `Link` and the family.
//!   Values, object ids and the interpreter state are `!Send`, so the compiler refuses to
//!   move any of them to the new interpreter's thread; the new interpreter's state is made
//!   on that thread, by the recipe, and never seen by the spawner.
//! - Values cross as wire frames, encoded and decoded by the same code as between
//!   processes, with the same frame kinds and rules; only the transport differs (a
//!   mailbox instead of a socket, no system call per message).
//! - Every wait here (for a message, for an interpreter to end) releases the waiting
//!   interpreter's GIL after a spin of at most `wait::SPIN` that any eval-breaker bit
//!   ends, and in an interpreter's main thread is cut into slices that look for Ctrl-C
//!   and `exit` requests.
//! - Values cross as copies: a long message crosses in pieces (`stream`), but each piece
//!   is bytes, decoded into the receiver's own heap.
//! - Every spawned interpreter is joined: by `join`, or at the end of its spawner.
//!
//! [`Link`]: crate::link::Link

mod image;
mod join;
mod messages;
mod spawn;
mod stream;
mod wait;

pub use join::{is_alive, join, wait_all};
pub use messages::{recv, send};
pub use spawn::{map_chunk, pmap, spawn_interpreter};
