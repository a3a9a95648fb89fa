//! toy: an embeddable bytecode interpreter built around a real global interpreter lock.
//!
//! The module list is the table of contents: source text flows from the lexer through the
//! parser to the compiler, whose bytecode the VM runs under the GIL.
//!
//! A Rust host needs only what is re-exported here: [`Interpreter`] (and its [`Builder`]),
//! [`NativeCx`] for host functions, the conversions [`FromToy`] / [`IntoToy`] / [`Data`],
//! [`Policy`] and the [`gil`] module for studying the lock. The other modules are public for
//! the test suite and the fuzz targets, and hidden from the documentation.

#[doc(hidden)]
pub mod ast;
#[doc(hidden)]
pub mod builtins;
#[doc(hidden)]
pub mod bytecode;
#[doc(hidden)]
pub mod compiler;
#[doc(hidden)]
pub mod dict;
pub mod embed;
#[doc(hidden)]
pub mod error;
#[doc(hidden)]
pub mod format;
pub mod gil;
#[doc(hidden)]
pub mod heap;
pub mod interpreter;
#[doc(hidden)]
pub mod lexer;
#[doc(hidden)]
pub mod native;
#[doc(hidden)]
pub mod net;
#[doc(hidden)]
pub mod ops;
#[doc(hidden)]
pub mod output;
#[doc(hidden)]
pub mod parser;
#[doc(hidden)]
pub mod process;
#[doc(hidden)]
pub mod repl;
#[doc(hidden)]
pub mod threads;
pub mod timeline;
#[doc(hidden)]
pub mod value;
#[doc(hidden)]
pub mod vm;
#[doc(hidden)]
pub mod wire;

pub use embed::{Data, FromToy, IntoToy, NativeCx, NativeError};
pub use gil::PolicyKind as Policy;
pub use interpreter::{Builder, Interpreter, RunError};
pub use value::Value;
