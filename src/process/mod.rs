//! Processes (LANGUAGE.md §9): `spawn_process` forks the whole interpreter, the child runs
//! one function and sends its result back as a serialized message; `send`/`recv` carry
//! messages both ways over a Unix socket pair; `pmap` spreads a map over forked workers.
//! And what belongs to the process as a whole: Ctrl-C (the SIGINT handler and what a
//! second Ctrl-C does), and waiting on descriptors so that Ctrl-C reaches the main thread.
//!
//! Invariants:
//! - This is the only folder that calls `fork`, `socketpair`, `waitpid`, `kill`, `poll`, `send`,
//!   `sigaction`, `prctl` and `_exit`; every `unsafe` block says why it is sound.
//! - Every blocking wait of the main thread here (for a frame to begin, for a child to
//!   exit, for a socket) is cut into slices that look for Ctrl-C.
//! - The fork happens while the forking thread holds the GIL and after output is flushed,
//!   so the child starts from a consistent heap and nothing written before the fork is
//!   printed twice. In the child, the GIL is rebuilt for the one thread that exists, other
//!   threads' handles are marked dead, and the child never returns into the parent's code:
//!   it ends with `_exit`.
//! - Values cross only as `wire` frames: a message is encoded under the GIL, written and
//!   read with the GIL released, and decoded under the GIL; decoding never runs code. A long
//!   message is pipelined: the sender offers each ~64 KiB piece to the socket as soon as it
//!   is encoded, without ever waiting under the GIL (the rest is written with the GIL
//!   released), and the receiver decodes each piece as it arrives, releasing the GIL to read
//!   the next, with collection held off while the half-built value is unrooted.
//! - Every child is reaped: by `join`, or at the end of the program; and none outlives its
//!   parent (the kernel's parent-death signal, see `parent_death`).

mod channel;
pub mod ctrl_c;
mod decode;
mod encode;
mod fork;
mod parent;
mod parent_death;
mod pmap;
mod ready;
mod reap;
mod receive;
mod send;
mod spin;

pub use fork::spawn_process;
pub use parent::{is_alive, join, kill, parent, recv, send, wait_all};
pub use pmap::pmap;
pub use ready::wait_readable;
// What interpreters share with processes: the frame kinds and their rules, the walk of a
// value into the wire format and back, and how a child's error reads.
pub(crate) use channel::MAX_MESSAGE;
pub(crate) use channel::{KIND_ERROR, KIND_MESSAGE, KIND_RESULT, Sender, process_error};
pub(crate) use decode::{HeapBuilder, decode_frame, split_frame};
pub(crate) use encode::{Peer, encode_to};
pub(crate) use fork::thrown_as_error;
pub(crate) use parent::{child_error_text, child_exit_report};
pub(crate) use reap::wait_with_usage;
