//! The method table: for each kind of value, the Rust function behind each builtin
//! method, indexed by the method's number (`method::Method`), and for a few methods simple
//! enough to need no call, an `Inline` step the eval loop performs itself. The builtins
//! fill the table when an interpreter is built; the eval loop only looks up and runs, so
//! the VM needs no knowledge of which methods exist.
//!
//! Invariants: a lookup is array indexes, never a string comparison; an empty slot means
//! "this kind has no such method" (an `AttributeError`, or on a map a call of the function
//! stored under that name). An inline step is only a shortcut: it belongs to a method one
//! kind defines, and whenever its precondition holds (that kind of receiver, the argument
//! count it takes) it does exactly what the method's function would; whenever it does not
//! hold the function runs, so errors (a wrong argument count, say) come from one place.

use crate::method::Method;
use crate::object::Kind;

/// A method the eval loop runs in place, without calling the method's function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inline {
    /// `list.append(x)`: on a list receiver with exactly one argument, push `x`.
    ListPush,
}

impl Inline {
    /// The kind of receiver the step applies to.
    pub fn kind(self) -> Kind {
        match self {
            Inline::ListPush => Kind::List,
        }
    }
}

/// Methods by kind and number: `F` is the function type that implements them
/// (`vm::MethodFn`).
pub struct MethodTable<F> {
    slots: Box<[[Option<F>; Method::COUNT]; Kind::COUNT]>,
    /// The inline step of each method number, if one kind has one for it: indexed by the
    /// `CallMethod` operand itself, so asking costs one byte load and no bounds check.
    inline: [Option<Inline>; 256],
}

impl<F: Copy> Default for MethodTable<F> {
    fn default() -> Self {
        MethodTable {
            slots: Box::new([[None; Method::COUNT]; Kind::COUNT]),
            inline: [None; 256],
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

    /// Gives `method`, already defined for `inline.kind()`, the eval loop's shortcut
    /// `inline`.
    ///
    /// Panics if `method` is not defined for that kind (the shortcut needs the function
    /// behind it), or already has a shortcut: mistakes in filling the table, made once
    /// when an interpreter is built.
    pub fn define_inline(&mut self, method: Method, inline: Inline) {
        assert!(
            self.slots[inline.kind() as usize][method as usize].is_some(),
            "an inline step belongs to a defined method"
        );
        let step = &mut self.inline[method as usize];
        assert!(step.is_none(), "one inline step per method");
        *step = Some(inline);
    }

    /// The inline step of the method numbered `method`, whatever the receiver; the caller
    /// checks the step's precondition.
    #[inline(always)]
    pub fn inline(&self, method: u8) -> Option<Inline> {
        self.inline[method as usize]
    }

    /// The method numbered `method` (a `CallMethod` operand) of `kind`, if it has one.
    #[inline]
    pub fn get(&self, kind: Kind, method: u8) -> Option<(Method, F)> {
        let f = self.slots[kind as usize].get(method as usize).copied().flatten()?;
        Some((Method::ALL[method as usize], f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_found_by_kind_and_number_only() {
        let mut t: MethodTable<u32> = MethodTable::default();
        t.define(Kind::List, &[Method::Append, Method::Pop], 7);
        t.define_inline(Method::Append, Inline::ListPush);
        assert_eq!(t.get(Kind::List, Method::Pop as u8), Some((Method::Pop, 7)));
        assert_eq!(t.get(Kind::List, Method::Append as u8), Some((Method::Append, 7)));
        assert_eq!(t.inline(Method::Append as u8), Some(Inline::ListPush));
        assert_eq!(t.inline(Method::Pop as u8), None);
        assert_eq!(t.get(Kind::Map, Method::Append as u8), None);
        assert_eq!(t.get(Kind::List, crate::method::NO_METHOD), None);
        assert_eq!(t.inline(crate::method::NO_METHOD), None);
    }

    #[test]
    #[should_panic(expected = "an inline step belongs to a defined method")]
    fn an_inline_step_needs_the_method_behind_it() {
        let mut t: MethodTable<u32> = MethodTable::default();
        t.define(Kind::Map, &[Method::Append], 7);
        t.define_inline(Method::Append, Inline::ListPush);
    }
}
