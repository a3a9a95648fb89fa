//! The global variables: a slot per name and the value in it, shared by every thread and
//! by every compilation of one interpreter.
//!
//! Invariant: a slot, once declared, keeps its index for the interpreter's lifetime (code
//! compiled earlier refers to it by index); `Value::Undef` marks a slot no assignment has
//! reached yet, which the VM turns into a `NameError` when read.

use crate::compiler::GlobalSlots;
use crate::value::Value;
use rustc_hash::FxHashMap;
use std::rc::Rc;

/// The global variables: slots by name, shared by every compilation of one interpreter
/// (the interactive prompt compiles each entry against the same table).
#[derive(Default)]
pub struct Globals {
    pub names: Vec<Rc<str>>,
    pub index: FxHashMap<Rc<str>, u16>,
    pub values: Vec<Value>,
    /// Per slot: a builtin or host function (or module of them) that every module sees,
    /// rather than a script's own global.
    pub builtin: Vec<bool>,
}

impl Globals {
    /// Room for `more` slots without growing (an interpreter's builtins are declared in
    /// one go, and every spawned interpreter declares them again).
    pub fn reserve(&mut self, more: usize) {
        self.names.reserve(more);
        self.index.reserve(more);
        self.values.reserve(more);
        self.builtin.reserve(more);
    }

    /// Declares `name` as a builtin, visible from every module.
    pub fn declare_builtin(&mut self, name: &str) -> Option<u16> {
        let g = self.declare(name)?;
        self.builtin[g as usize] = true;
        Some(g)
    }
}

impl GlobalSlots for Globals {
    /// The slot for `name`, creating an unassigned one if it is new.
    fn declare(&mut self, name: &str) -> Option<u16> {
        if let Some(&g) = self.index.get(name) {
            return Some(g);
        }
        let g = u16::try_from(self.names.len()).ok()?;
        let name: Rc<str> = name.into();
        self.names.push(name.clone());
        self.index.insert(name, g);
        self.values.push(Value::Undef);
        self.builtin.push(false);
        Some(g)
    }

    fn lookup(&self, name: &str) -> Option<u16> {
        self.index.get(name).copied()
    }

    fn is_builtin(&self, slot: u16) -> bool {
        self.builtin.get(slot as usize).copied().unwrap_or(false)
    }
}
