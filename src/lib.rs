//! toy: an embeddable bytecode interpreter built around a real global interpreter lock.
//!
//! The module list is the table of contents: source text flows from the lexer through the
//! parser to the compiler, whose bytecode the VM runs under the GIL.

pub mod ast;
pub mod builtins;
pub mod bytecode;
pub mod compiler;
pub mod embed;
pub mod error;
pub mod format;
pub mod gil;
pub mod heap;
pub mod interpreter;
pub mod lexer;
pub mod native;
pub mod net;
pub mod ops;
pub mod parser;
pub mod process;
pub mod repl;
pub mod threads;
pub mod timeline;
pub mod value;
pub mod vm;
pub mod wire;

pub use embed::{Data, FromToy, IntoToy, NativeCx, NativeError};
pub use gil::PolicyKind as Policy;
pub use interpreter::{Builder, Interpreter, RunError};
pub use value::Value;
