//! Where each instruction that looks a map entry up by a constant name last found it:
//! `m.f(...)` calling a function stored in a map, `m.field` and `m.field = v`. An
//! object-like map is read by the same few instructions over and over, and its keys
//! rarely move, so checking the remembered position first skips hashing the name and
//! probing the index.
//!
//! Invariant: a hint is only a guess, trusted after the entry at its position is seen to
//! hold the very key (the same allocation) the hint was made from, for the same name. The
//! hint holds that key, so no other key can be allocated at its address meanwhile; the
//! names are compiled constants, pinned, so a name's id stands for one text for the life
//! of the heap. Together they prove the entry's key is the name without reading either
//! text. A stale hint (the map changed, the instruction met another map, two instructions
//! share a slot) costs one failed check, never a wrong entry. The table is direct-mapped
//! by the instruction's address and belongs to one thread's `Vm`.

use crate::heap::Heap;
use crate::object::MapObj;
use crate::value::{MapKey, ObjId, Value};
use std::rc::Rc;

/// Slots in the table; instructions whose addresses are this many instructions apart
/// share one.
const SLOTS: usize = 64;

#[derive(Clone, Default)]
struct Hint {
    /// The name looked up (a pinned constant), or `None` for an unused slot.
    name: Option<ObjId>,
    /// The key the entry had when the hint was made, shared with the map.
    key: Option<Rc<str>>,
    /// The entry's position in the map the instruction last read.
    entry: u32,
}

/// Per-instruction guesses of map entry positions (see the module comment).
pub struct EntryHints {
    hints: [Hint; SLOTS],
}

impl Default for EntryHints {
    fn default() -> Self {
        EntryHints {
            hints: std::array::from_fn(|_| Hint::default()),
        }
    }
}

impl EntryHints {
    /// The key that names the instruction at `pc` of `code` in this table.
    #[inline(always)]
    pub fn site<T>(code: &[T], pc: usize) -> usize {
        code.as_ptr().wrapping_add(pc) as usize
    }

    #[inline(always)]
    fn slot(&mut self, site: usize) -> &mut Hint {
        &mut self.hints[(site / std::mem::size_of::<u64>()) % SLOTS]
    }

    /// The position of the entry of map `map` whose key is the string `name`, if there
    /// is one, for the instruction `site`. `name` must be a compiled constant (pinned).
    #[inline(always)]
    pub fn find(&mut self, heap: &Heap, map: ObjId, name: ObjId, site: usize) -> Option<usize> {
        match self.hit(heap.map(map), name, site) {
            Some((i, _)) => Some(i),
            None => self.find_slowly(heap, map, name, site),
        }
    }

    /// `find` for a read: the entry's value itself, found with one look at the map.
    #[inline(always)]
    pub fn find_value<'h>(&mut self, heap: &'h Heap, map: ObjId, name: ObjId, site: usize) -> Option<&'h Value> {
        let table = heap.map(map);
        if let Some((_, value)) = self.hit(table, name, site) {
            return Some(value);
        }
        let i = self.find_slowly(heap, map, name, site)?;
        Some(table.value_at(i))
    }

    /// `m.name = v` where the hint for `site` holds: writes `v` into the entry with one look
    /// at the map and returns true; false (nothing written) if the hint does not hold.
    #[inline(always)]
    pub fn write_hinted(&mut self, heap: &mut Heap, map: ObjId, name: ObjId, site: usize, v: Value) -> bool {
        let hint = self.slot(site);
        if hint.name == Some(name)
            && let Some(want) = &hint.key
            && let Some((MapKey::Str(key), value)) = heap.map_mut(map).get_index_mut(hint.entry as usize)
            && Rc::ptr_eq(key, want)
        {
            *value = v;
            return true;
        }
        false
    }

    /// The hinted entry of `table` (its position and value), if the hint for `site` is
    /// for `name` and the entry there still holds the key the hint remembers.
    #[inline(always)]
    fn hit<'t>(&mut self, table: &'t MapObj, name: ObjId, site: usize) -> Option<(usize, &'t Value)> {
        let hint = self.slot(site);
        if hint.name == Some(name)
            && let Some(want) = &hint.key
            && let Some((MapKey::Str(key), value)) = table.get_index(hint.entry as usize)
            && Rc::ptr_eq(key, want)
        {
            return Some((hint.entry as usize, value));
        }
        None
    }

    /// Hashes the name, probes the map and remembers where the entry was.
    #[cold]
    #[inline(never)]
    fn find_slowly(&mut self, heap: &Heap, map: ObjId, name: ObjId, site: usize) -> Option<usize> {
        let i = heap.map_find_str(map, name)?;
        let Some((MapKey::Str(key), _)) = heap.map(map).get_index(i) else {
            unreachable!("a string name finds a string key")
        };
        // Maps hold fewer than u32::MAX entries (`Dict` names entries with 32 bits).
        *self.slot(site) = Hint {
            name: Some(name),
            key: Some(key.clone()),
            entry: i as u32,
        };
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::MapObj;
    use crate::value::Value;

    fn string(heap: &mut Heap, s: &str) -> ObjId {
        let Value::Str(id) = heap.new_str(s) else {
            unreachable!("a new string")
        };
        id
    }

    /// A heap holding one map, {"a": 1, "b": 2}.
    fn heap_with_a_and_b() -> (Heap, ObjId) {
        let mut heap = Heap::new(Default::default());
        let mut table = MapObj::default();
        table.insert(MapKey::Str("a".into()), Value::Int(1));
        table.insert(MapKey::Str("b".into()), Value::Int(2));
        let Value::Map(m) = heap.new_map(table) else {
            unreachable!("a new map")
        };
        (heap, m)
    }

    #[test]
    fn a_hint_is_checked_before_it_is_trusted() {
        let (mut heap, m) = heap_with_a_and_b();
        let (a, b, c) = (string(&mut heap, "a"), string(&mut heap, "b"), string(&mut heap, "c"));
        let mut hints = EntryHints::default();
        let code = [0u64; 4];
        let site = EntryHints::site(&code, 1);
        assert_eq!(hints.find(&heap, m, b, site), Some(1));
        assert_eq!(hints.find(&heap, m, b, site), Some(1));
        // The same instruction with another name: the hint names "b", so it is not used.
        assert_eq!(hints.find(&heap, m, a, site), Some(0));
        assert_eq!(hints.find(&heap, m, c, site), None);
        // The map changes under the hint: "a" is gone, its position a hole.
        assert_eq!(hints.find(&heap, m, a, site), Some(0));
        heap.map_mut(m).shift_remove(crate::value::KeyRef::Str("a"));
        assert_eq!(hints.find(&heap, m, a, site), None);
        assert_eq!(hints.find(&heap, m, b, site), Some(1));
        // "b" removed and inserted again: the same text in a new key at another position.
        heap.map_mut(m).shift_remove(crate::value::KeyRef::Str("b"));
        heap.map_mut(m).insert(MapKey::Str("x".into()), Value::Int(3));
        heap.map_mut(m).insert(MapKey::Str("b".into()), Value::Int(4));
        assert_eq!(hints.find(&heap, m, b, site), Some(3));
        // Enough inserts to rebuild the map: the holes go and every position moves.
        for i in 0..20 {
            heap.map_mut(m)
                .insert(MapKey::Str(format!("k{i}").into()), Value::Int(i));
        }
        assert_eq!(hints.find(&heap, m, b, site), Some(1));
        assert!(matches!(hints.find_value(&heap, m, b, site), Some(Value::Int(4))));
        assert_eq!(hints.find(&heap, m, c, site), None);
        assert!(hints.find_value(&heap, m, a, site).is_none());
    }

    #[test]
    fn a_write_goes_through_a_hint_only_while_it_holds() {
        let (mut heap, m) = heap_with_a_and_b();
        let (a, b) = (string(&mut heap, "a"), string(&mut heap, "b"));
        let mut hints = EntryHints::default();
        let code = [0u64; 4];
        let site = EntryHints::site(&code, 2);
        // No hint yet: nothing is written.
        assert!(!hints.write_hinted(&mut heap, m, b, site, Value::Int(20)));
        assert!(matches!(heap.map(m).get_index(1), Some((_, Value::Int(2)))));
        assert_eq!(hints.find(&heap, m, b, site), Some(1));
        assert!(hints.write_hinted(&mut heap, m, b, site, Value::Int(20)));
        assert!(matches!(heap.map(m).get_index(1), Some((_, Value::Int(20)))));
        // Another name at the same instruction does not use the hint for "b".
        assert!(!hints.write_hinted(&mut heap, m, a, site, Value::Int(10)));
        assert!(matches!(heap.map(m).get_index(0), Some((_, Value::Int(1)))));
        // "b" removed and inserted again elsewhere: the old hint no longer holds.
        heap.map_mut(m).shift_remove(crate::value::KeyRef::Str("b"));
        heap.map_mut(m).insert(MapKey::Str("b".into()), Value::Int(4));
        assert!(!hints.write_hinted(&mut heap, m, b, site, Value::Int(40)));
        assert!(matches!(
            heap.map(m).get(crate::value::KeyRef::Str("b")),
            Some(Value::Int(4))
        ));
    }
}
