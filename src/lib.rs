//! toy: an embeddable bytecode interpreter built around a real global interpreter lock.
//!
//! A Rust host needs only what is exported here: [`Interpreter`] (and its [`Builder`]),
//! [`NativeCx`] and [`Value`] for host functions, the conversions [`FromToy`] / [`IntoToy`] / [`Data`],
//! [`Policy`] (the built-in GIL policies) and [`ReleasePolicy`] (a policy of the host's
//! own), and the [`gil`] module for studying the lock; [`timeline`] draws the traces the
//! lock writes. Everything else is private to the crate.
//!
//! The module list below is the table of contents, in the order data flows: source text
//! through the lexer and parser to a syntax tree, the compiler to bytecode over the
//! object model, the VM that runs it under the GIL, the builtins and runtime services it
//! calls, and the embedding API on top.

// The lock, on its own: it knows nothing of the interpreter.
pub mod gil;

// Front end: text to a syntax tree.
mod ast;
mod error;
mod lexer;
mod parser;

// Values and objects: what the VM computes with.
mod bytecode;
mod compare;
mod dict;
mod display;
mod family;
mod format;
mod heap;
mod link;
mod list;
mod method;
mod object;
mod signal;
mod value;
mod wait_graph;

// Middle: a syntax tree to bytecode, and back to text.
mod compiler;
mod disasm;

// The machine that runs bytecode.
mod vm;

// What the machine calls: builtins and the runtime's services.
mod builtins;
mod interpreters;
mod net;
mod os_error;
mod output;
mod process;
mod stdin;
mod sync;
mod thread_room;
mod threads;
mod wire;

// The embedding API, and what is written with it.
mod embed;
mod interpreter;
mod modules;
mod native;
// Text for the SVG pictures of the timeline and the comparison.
mod svg;
pub mod timeline;
// `toy compare`: a script under several policies, side by side.
pub mod comparison;
// Tools that run the `toy` binary itself, in child processes.
pub mod exploration;

#[doc(hidden)]
pub mod fuzzing;

pub use embed::{Data, FromToy, IntoToy, NativeCx, NativeError, Value};
pub use gil::PolicyKind as Policy;
pub use gil::ReleasePolicy;
pub use interpreter::{Builder, Interpreter, InterruptHandle, RunError, is_incomplete, read_source};
pub use output::Output;
pub use process::ctrl_c::Watcher as CtrlCWatcher;
