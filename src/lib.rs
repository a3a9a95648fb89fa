//! toy: an embeddable bytecode interpreter built around a real global interpreter lock.
//!
//! The module list is the table of contents: source text flows from the lexer through the
//! parser to the compiler, whose bytecode the VM runs under the GIL.

pub mod ast;
pub mod error;
pub mod gil;
