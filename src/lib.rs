//! toy: an embeddable bytecode interpreter built around a real global interpreter lock.
//!
//! The module list is the table of contents: source text flows from the lexer through the
//! parser to the compiler, whose bytecode the VM runs under the GIL.

pub mod ast;
pub mod error;
pub mod lexer;
pub mod parser;
pub mod compiler;
pub mod bytecode;
pub mod vm;
pub mod ops;
pub mod value;
pub mod heap;
pub mod builtins;
pub mod format;
pub mod gil;
pub mod threads;
pub mod net;
pub mod interpreter;
pub mod repl;
