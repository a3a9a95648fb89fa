//! The virtual machine: one eval loop per OS thread, running register bytecode on that
//! thread's `Fiber` (value stack, call frames, try/with handlers), over the state the GIL
//! protects (`Interp`: heap, globals, function and method tables, output).
//!
//! Invariants:
//! - Interpreter state (`Interp`: heap, globals, function table) is reached only through
//!   `Vm::it`, which in a threaded run is the GIL guard.
//! - Every value on a fiber's stack below its extent (the top frame's base + registers)
//!   names a live object; above the extent the collector clears the stack to nil, so a
//!   stale register can never name a freed slot.
//! - Check points are exactly `Loop` and calls of closures: one relaxed load of the eval
//!   breaker on the fast path; Ctrl-C and GIL hand-offs happen only there, and so does
//!   collection, except when an allocation would pass the memory limit (`Vm::reserve`,
//!   which keeps what a running builtin allocated).
//! - A frame's saved `pc` is the instruction after the one executing, so `pc - 1` gives
//!   the line a traceback shows.

mod entry_hints;
mod eval;
mod fiber;
mod globals;
mod locations;
mod machine;
pub mod method_table;
mod modules;
pub mod ops;
pub mod slice_step;
mod stack_floor;

pub use fiber::Fiber;
pub use machine::{BREAK_EXIT, BREAK_INTERRUPT, BuiltinFn, Interp, MethodFn, Recipe, Thrown, Vm, VmResult, show_bytes};
pub use modules::ModuleRecord;
pub use stack_floor::StackFloor;
