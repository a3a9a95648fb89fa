//! The modules an interpreter has loaded: for each, its file, its name, its compiled top
//! level, the module object scripts see, and whether its top level has started.
//!
//! Invariant: a module's number (its index here, the operand of `Import`) never changes,
//! and its top level starts at most once: the first `Import` that reaches it marks it
//! started before running it, so a later or concurrent import gets the module object
//! (possibly still being filled) instead of running it again.

use crate::bytecode::Proto;
use crate::value::Value;
use std::path::PathBuf;
use std::rc::Rc;

/// One loaded module.
#[derive(Debug)]
pub struct ModuleRecord {
    /// The file, canonical: two import names that reach it are one module.
    pub file: PathBuf,
    /// The name it was first imported by (`a.b`).
    pub name: Rc<str>,
    /// The prefix of its globals' names (the name, made unique).
    pub namespace: Rc<str>,
    /// Its top level, once compiled (`None` while it is being compiled: an import that
    /// reaches it then is a cycle).
    pub main: Option<Rc<Proto>>,
    /// The module object (pinned in the heap).
    pub value: Value,
    /// The names its top level declares.
    pub names: Rc<[Rc<str>]>,
    /// Its top level has begun to run.
    pub started: bool,
}
