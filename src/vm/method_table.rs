//! The method table: for each kind of value, the Rust function behind each builtin
//! method, indexed by the method's number (`method::Method`). The builtins fill it when an
//! interpreter is built; the eval loop only looks up and calls, so the VM needs no
//! knowledge of which methods exist.
//!
//! Invariant: a lookup is two array indexes, never a string comparison; an empty slot
//! means "this kind has no such method" (an `AttributeError`, or on a map a call of the
//! function stored under that name).

use crate::method::Method;
use crate::object::Kind;

/// Methods by kind and number: `F` is the function type that implements them
/// (`vm::MethodFn`).
pub struct MethodTable<F> {
    slots: Box<[[Option<F>; Method::COUNT]; Kind::COUNT]>,
}

impl<F: Copy> Default for MethodTable<F> {
    fn default() -> Self {
        MethodTable {
            slots: Box::new([[None; Method::COUNT]; Kind::COUNT]),
        }
    }
}

impl<F: Copy> MethodTable<F> {
    /// Makes `f` the implementation of `methods` for values of `kind`.
    pub fn define(&mut self, kind: Kind, methods: &[Method], f: F) {
        for m in methods {
            self.slots[kind as usize][*m as usize] = Some(f);
        }
    }

    /// The method numbered `method` (a `CallMethod` operand) of `kind`, if it has one.
    #[inline]
    pub fn get(&self, kind: Kind, method: u8) -> Option<(Method, F)> {
        let f = self.slots[kind as usize].get(method as usize).copied().flatten()?;
        Some((Method::ALL[method as usize], f))
    }
}
