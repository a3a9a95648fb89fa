//! `ListObj`: a list's items, and whether any of them may be a heap object — so that the
//! collector can pass over a list of numbers without reading it. Marking a list of a
//! million ints otherwise reads its 16 MB at every collection while it lives (a list a
//! comprehension is building is marked at each collection its growth brings on).
//!
//! Invariant: when `may_hold_objects` is false, no item is a heap reference (`Value::obj_id`
//! is `None` for each). Every way of changing the items keeps it: `push` and `set` note
//! the value they write, and `items_mut` — for everything else — gives up the knowledge
//! (the flag goes true). Only the collector makes it false again, after reading every item
//! and finding no object, and constructors that know their items.

use crate::value::Value;
use std::ops::Deref;

/// A list's items; reads go through `Deref` to the `Vec`.
#[derive(Debug, Default)]
pub struct ListObj {
    items: Vec<Value>,
    /// False only when no item is a heap object (see the module docs).
    may_hold_objects: bool,
}

impl ListObj {
    /// A list of `items`, which may hold anything.
    pub fn new(items: Vec<Value>) -> ListObj {
        ListObj {
            items,
            may_hold_objects: true,
        }
    }

    /// A list whose items the caller knows to be numbers, bools or nil only.
    pub fn of_leaves(items: Vec<Value>) -> ListObj {
        debug_assert!(items.iter().all(|v| v.obj_id().is_none()));
        ListObj {
            items,
            may_hold_objects: false,
        }
    }

    #[inline]
    pub fn push(&mut self, v: Value) {
        self.note(v);
        self.items.push(v);
    }

    /// Records that `v` is about to be written: a branch that goes the same way for every
    /// number, where an unconditional or-store would write the flag each time.
    #[inline(always)]
    fn note(&mut self, v: Value) {
        if v.obj_id().is_some() {
            self.may_hold_objects = true;
        }
    }

    /// `self[i] = v`; false (and nothing written) if `i` is out of range.
    #[inline]
    pub fn set(&mut self, i: usize, v: Value) -> bool {
        let Some(slot) = self.items.get_mut(i) else {
            return false;
        };
        *slot = v;
        self.note(v);
        true
    }

    /// Room for `additional` more items, exactly; the items do not change.
    pub fn try_reserve_exact(&mut self, additional: usize) -> Result<(), std::collections::TryReserveError> {
        self.items.try_reserve_exact(additional)
    }

    /// The items to change in any other way; the list may hold objects from then on.
    #[inline]
    pub fn items_mut(&mut self) -> &mut Vec<Value> {
        self.may_hold_objects = true;
        &mut self.items
    }

    /// Whether the collector must read the items to find the objects they hold.
    pub fn may_hold_objects(&self) -> bool {
        self.may_hold_objects
    }

    /// The collector read every item and found no object.
    pub fn found_no_objects(&mut self) {
        self.may_hold_objects = false;
    }
}

impl Deref for ListObj {
    type Target = Vec<Value>;
    fn deref(&self) -> &Vec<Value> {
        &self.items
    }
}
