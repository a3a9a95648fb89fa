//! Where each instruction that looks a map entry up by a constant name last found it:
//! `m.f(...)` calling a function stored in a map, `m.field` and `m.field = v`. An
//! object-like map is read by the same few instructions over and over, and its keys
//! rarely move, so checking the remembered position first skips hashing the name and
//! probing the index.
//!
//! Invariant: a hint is only a guess, trusted after the entry at its position is seen to
//! hold the name. A stale hint (the map changed, the instruction met another map, a freed
//! prototype's code reused) costs one failed check, never a wrong entry. The table is
//! direct-mapped by the instruction's address and belongs to one thread's `Vm`.

use crate::heap::Heap;
use crate::value::{MapKey, ObjId};

/// Slots in the table; instructions whose addresses are this many instructions apart
/// share one.
const SLOTS: usize = 64;

#[derive(Clone, Copy, Default)]
struct Hint {
    /// The instruction's address (`EntryHints::site`), or 0 for an unused slot.
    site: usize,
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
            hints: [Hint::default(); SLOTS],
        }
    }
}

impl EntryHints {
    /// The key that names the instruction at `pc` of `code` in this table.
    #[inline(always)]
    pub fn site<T>(code: &[T], pc: usize) -> usize {
        code.as_ptr().wrapping_add(pc) as usize
    }

    /// The position of the entry of map `map` whose key is the string `name`, if there
    /// is one, for the instruction `site`.
    #[inline(always)]
    pub fn find(&mut self, heap: &Heap, map: ObjId, name: ObjId, site: usize) -> Option<usize> {
        let hint = &mut self.hints[(site / std::mem::size_of::<u64>()) % SLOTS];
        if hint.site == site
            && let Some((MapKey::Str(key), _)) = heap.map(map).get_index(hint.entry as usize)
        {
            // Bytes, not `str`: a string in its slot would be checked for UTF-8 first.
            let text = heap.str_bytes(name);
            if std::ptr::eq(key.as_bytes(), text) || key.as_bytes() == text {
                return Some(hint.entry as usize);
            }
        }
        let i = heap.map_find_str(map, name)?;
        // Maps hold fewer than u32::MAX entries (`Dict` names entries with 32 bits).
        *hint = Hint { site, entry: i as u32 };
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

    #[test]
    fn a_hint_is_checked_before_it_is_trusted() {
        let mut heap = Heap::new(Default::default());
        let mut table = MapObj::default();
        table.insert(MapKey::Str("a".into()), Value::Int(1));
        table.insert(MapKey::Str("b".into()), Value::Int(2));
        let Value::Map(m) = heap.new_map(table) else {
            unreachable!("a new map")
        };
        let (a, b, c) = (string(&mut heap, "a"), string(&mut heap, "b"), string(&mut heap, "c"));
        let mut hints = EntryHints::default();
        let code = [0u64; 4];
        let site = EntryHints::site(&code, 1);
        assert_eq!(hints.find(&heap, m, b, site), Some(1));
        assert_eq!(hints.find(&heap, m, b, site), Some(1));
        // The same instruction with another name: the hint names "b", so it is not used.
        assert_eq!(hints.find(&heap, m, a, site), Some(0));
        assert_eq!(hints.find(&heap, m, c, site), None);
        // The map changes under the hint: "a" is gone, so "b" moved to position 0.
        assert_eq!(hints.find(&heap, m, a, site), Some(0));
        heap.map_mut(m).shift_remove(crate::value::KeyRef::Str("a"));
        assert_eq!(hints.find(&heap, m, a, site), None);
        assert_eq!(hints.find(&heap, m, b, site), Some(0));
    }
}
