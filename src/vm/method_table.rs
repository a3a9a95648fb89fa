//! The method table: for each kind of value, what runs for each builtin method, indexed by
//! the method's number (`method::Method`). A slot holds the Rust function behind the
//! method and, for a few methods simple enough to need no call, an `Inline` step the eval
//! loop performs itself. The builtins fill the table when an interpreter is built; the
//! eval loop only looks up and runs, so the VM needs no knowledge of which methods exist.
//!
//! Invariants: a lookup is two array indexes, never a string comparison; an empty slot
//! means "this kind has no such method" (an `AttributeError`, or on a map a call of the
//! function stored under that name). An inline step is only a shortcut: whenever its
//! precondition holds it does exactly what the slot's function would, and whenever it does
//! not hold the function runs, so errors (a wrong argument count, say) come from one place.

use crate::method::Method;
use crate::object::Kind;

/// A method the eval loop runs in place, without calling the method's function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inline {
    /// `list.append(x)` with exactly one argument: push `x` onto the receiver.
    ListPush,
}

/// What runs for one method of one kind.
#[derive(Clone, Copy)]
pub struct Slot<F> {
    /// The method's number, for the function (one function serves several methods).
    pub method: Method,
    /// The implementation, which every call whose inline precondition fails reaches.
    pub call: F,
    /// The eval loop's shortcut for this method, if it has one.
    pub inline: Option<Inline>,
}

/// Methods by kind and number: `F` is the function type that implements them
/// (`vm::MethodFn`).
pub struct MethodTable<F> {
    slots: Box<[[Option<Slot<F>>; Method::COUNT]; Kind::COUNT]>,
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
        for &method in methods {
            self.slots[kind as usize][method as usize] = Some(Slot {
                method,
                call: f,
                inline: None,
            });
        }
    }

    /// Gives `kind`'s `method`, already defined, the eval loop's shortcut `inline`.
    ///
    /// Panics if `method` is not defined for `kind`: the shortcut needs the function
    /// behind it (a mistake in filling the table, made once when an interpreter is built).
    pub fn define_inline(&mut self, kind: Kind, method: Method, inline: Inline) {
        let slot = self.slots[kind as usize][method as usize]
            .as_mut()
            .expect("an inline method is defined first");
        slot.inline = Some(inline);
    }

    /// What runs for the method numbered `method` (a `CallMethod` operand) of `kind`, if
    /// it has one.
    #[inline(always)]
    pub fn slot(&self, kind: Kind, method: u8) -> Option<&Slot<F>> {
        self.slots[kind as usize].get(method as usize)?.as_ref()
    }

    /// The method numbered `method` of `kind` and its function, if it has one.
    #[inline]
    pub fn get(&self, kind: Kind, method: u8) -> Option<(Method, F)> {
        self.slot(kind, method).map(|s| (s.method, s.call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_found_by_kind_and_number_only() {
        let mut t: MethodTable<u32> = MethodTable::default();
        t.define(Kind::List, &[Method::Append, Method::Pop], 7);
        t.define_inline(Kind::List, Method::Append, Inline::ListPush);
        let append = t.slot(Kind::List, Method::Append as u8).expect("defined");
        assert_eq!(
            (append.method, append.call, append.inline),
            (Method::Append, 7, Some(Inline::ListPush))
        );
        assert_eq!(t.get(Kind::List, Method::Pop as u8), Some((Method::Pop, 7)));
        assert!(
            t.slot(Kind::List, Method::Pop as u8)
                .is_some_and(|s| s.inline.is_none())
        );
        assert!(t.slot(Kind::Map, Method::Append as u8).is_none());
        assert!(t.slot(Kind::List, crate::method::NO_METHOD).is_none());
    }
}
