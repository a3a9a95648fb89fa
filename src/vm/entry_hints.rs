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

    /// The value of the entry of map `map` whose key is the string `name`, if there is
    /// one, for the instruction `site`, found with one look at the map when the hint
    /// holds. `name` must be a compiled constant (pinned).
    #[inline(always)]
    pub fn find_value<'h>(&mut self, heap: &'h Heap, map: ObjId, name: ObjId, site: usize) -> Option<&'h Value> {
        let table = heap.map(map);
        if let Some(value) = self.hit(table, name, site) {
            return Some(value);
        }
        let i = self.find_slowly(heap, map, name, site)?;
        Some(table.value_at(i))
    }

    /// `m.name = v` for an existing entry: writes `v` into it, with one look at the map
    /// when the hint for `site` holds. False, writing nothing, if `map` has no entry
    /// `name` (the caller inserts it).
    #[inline(always)]
    pub fn write(&mut self, heap: &mut Heap, map: ObjId, name: ObjId, site: usize, v: Value) -> bool {
        if let Some((i, want)) = self.remembered(name, site)
            && let Some((MapKey::Str(key), value)) = heap.map_mut(map).get_index_mut(i)
            && Rc::ptr_eq(key, want)
        {
            *value = v;
            return true;
        }
        match self.find_slowly(heap, map, name, site) {
            Some(i) => {
                *heap.map_mut(map).value_at_mut(i) = v;
                true
            }
            None => false,
        }
    }

    /// The entry position and the key the hint for `site` remembers, if it is for `name`.
    #[inline(always)]
    fn remembered(&mut self, name: ObjId, site: usize) -> Option<(usize, &Rc<str>)> {
        let hint = self.slot(site);
        match &hint.key {
            Some(key) if hint.name == Some(name) => Some((hint.entry as usize, key)),
            _ => None,
        }
    }

    /// The hinted entry's value in `table`, if the hint for `site` is for `name` and the
    /// entry there still holds the key the hint remembers.
    #[inline(always)]
    fn hit<'t>(&mut self, table: &'t MapObj, name: ObjId, site: usize) -> Option<&'t Value> {
        let (i, want) = self.remembered(name, site)?;
        match table.get_index(i) {
            Some((MapKey::Str(key), value)) if Rc::ptr_eq(key, want) => Some(value),
            _ => None,
        }
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
    use crate::value::{KeyRef, Value};

    fn string(heap: &mut Heap, s: &str) -> ObjId {
        let Value::Str(id) = heap.new_str(s) else {
            unreachable!("a new string")
        };
        id
    }

    /// A heap holding one map, {"a": 1, "b": 2}, and the names "a", "b" and "c" as
    /// compiled constants would be.
    fn heap_with_a_and_b() -> (Heap, ObjId, [ObjId; 3]) {
        let mut heap = Heap::new(Default::default());
        let mut table = MapObj::default();
        table.insert(MapKey::Str("a".into()), Value::Int(1));
        table.insert(MapKey::Str("b".into()), Value::Int(2));
        let Value::Map(m) = heap.new_map(table) else {
            unreachable!("a new map")
        };
        let names = ["a", "b", "c"].map(|name| string(&mut heap, name));
        (heap, m, names)
    }

    /// An entry's value as an int (the tests' maps hold ints); `None`: no entry.
    fn int(entry: Option<&Value>) -> Option<i64> {
        match entry {
            Some(&Value::Int(i)) => Some(i),
            Some(other) => panic!("an int entry, not {other:?}"),
            None => None,
        }
    }

    /// The value `find_value` gives for `name`.
    fn read(hints: &mut EntryHints, heap: &Heap, m: ObjId, name: ObjId, site: usize) -> Option<i64> {
        int(hints.find_value(heap, m, name, site))
    }

    #[test]
    fn a_hint_is_checked_before_it_is_trusted() {
        let (mut heap, m, [a, b, c]) = heap_with_a_and_b();
        let mut hints = EntryHints::default();
        let code = [0u64; 4];
        let site = EntryHints::site(&code, 1);
        assert_eq!(read(&mut hints, &heap, m, b, site), Some(2));
        assert_eq!(read(&mut hints, &heap, m, b, site), Some(2));
        // The same instruction with another name: the hint names "b", so it is not used.
        assert_eq!(read(&mut hints, &heap, m, a, site), Some(1));
        assert_eq!(read(&mut hints, &heap, m, c, site), None);
        // The map changes under the hint: "a" is gone, its position a hole.
        assert_eq!(read(&mut hints, &heap, m, a, site), Some(1));
        heap.map_mut(m).shift_remove(KeyRef::Str("a"));
        assert_eq!(read(&mut hints, &heap, m, a, site), None);
        assert_eq!(read(&mut hints, &heap, m, b, site), Some(2));
        // "b" removed and inserted again: the same text in a new key at another position.
        heap.map_mut(m).shift_remove(KeyRef::Str("b"));
        heap.map_mut(m).insert(MapKey::Str("x".into()), Value::Int(3));
        heap.map_mut(m).insert(MapKey::Str("b".into()), Value::Int(4));
        assert_eq!(read(&mut hints, &heap, m, b, site), Some(4));
        // Enough inserts to rebuild the map: the holes go and every position moves.
        for i in 0..20 {
            heap.map_mut(m)
                .insert(MapKey::Str(format!("k{i}").into()), Value::Int(i));
        }
        assert_eq!(read(&mut hints, &heap, m, b, site), Some(4));
        assert_eq!(read(&mut hints, &heap, m, c, site), None);
        assert_eq!(read(&mut hints, &heap, m, a, site), None);
    }

    /// The value stored under `key` in map `m`, looked up without hints.
    fn stored(heap: &Heap, m: ObjId, key: &str) -> Option<i64> {
        int(heap.map(m).get(KeyRef::Str(key)))
    }

    #[test]
    fn a_write_lands_in_the_named_entry_whatever_the_hint_says() {
        let (mut heap, m, [a, b, c]) = heap_with_a_and_b();
        let mut hints = EntryHints::default();
        let code = [0u64; 4];
        let site = EntryHints::site(&code, 2);
        // No hint yet: found by hashing, and remembered.
        assert!(hints.write(&mut heap, m, b, site, Value::Int(20)));
        assert!(hints.write(&mut heap, m, b, site, Value::Int(21)));
        assert_eq!(stored(&heap, m, "b"), Some(21));
        // Another name at the same instruction does not write through the hint for "b".
        assert!(hints.write(&mut heap, m, a, site, Value::Int(10)));
        assert_eq!(stored(&heap, m, "a"), Some(10));
        assert_eq!(stored(&heap, m, "b"), Some(21));
        // An absent key is not written: the caller inserts it.
        assert!(!hints.write(&mut heap, m, c, site, Value::Int(30)));
        assert_eq!(heap.map(m).len(), 2);
        // "b" removed and inserted again elsewhere: the write finds the new entry.
        assert!(hints.write(&mut heap, m, b, site, Value::Int(22)));
        heap.map_mut(m).shift_remove(KeyRef::Str("b"));
        heap.map_mut(m).insert(MapKey::Str("b".into()), Value::Int(4));
        assert!(hints.write(&mut heap, m, b, site, Value::Int(40)));
        assert_eq!(stored(&heap, m, "b"), Some(40));
        assert_eq!(heap.map(m).len(), 2);
    }
}
