//! The table behind every toy map: an insertion-ordered hash map from `MapKey` to `Value`,
//! laid out like CPython's compact dict — the entries in one dense vector, in insertion order,
//! and a separate open-addressing index of 8-byte slots pointing into it.
//!
//! Why not `IndexMap`: its index is a hashbrown table, whose control bytes and buckets are two
//! arrays, so a lookup in a map too big for the cache touched two random cache lines before
//! the entry; here a slot holds the entry's position *and* 32 bits of its hash, so a lookup
//! touches one slot and reads the entry only when the hash bits agree. On 1M int keys that
//! halved insert and lookup times (measured in a stand-alone program and on
//! `scripts/bench/sparse_int_keys.toy`).
//!
//! Where a key's probe starts, and where it goes next, is close to CPython's dict: the home
//! is the tag's low bits, so ints that differ only there (dense keys, a stride, a sparse run) land
//! in the order of their values, and a loop over them walks the index forward instead of
//! jumping at random — on a million keys `i * 7919` that took a quarter to a third off
//! `sparse_int_keys` against homes spread by Fibonacci hashing. Keys that share their low
//! bits (multiples of a power of two, `x * 65536 + y` for one `y`) would all want one home;
//! after the home's cache line the probe jumps to `5 * pos + 1 + perturb`, where `perturb`
//! is the spread tag shifted right 5 bits at every jump, so their high bits send them
//! apart (see `ProbeSeq`). Linear probing with these homes
//! was measured too: a block of consecutive keys, and a grid of them, made runs hundreds of
//! slots long.
//!
//! Invariants this file owns:
//! - `entries` has no holes: entry `i` is the `i`-th key in insertion order (what `for`,
//!   `keys()`, printing and the wire format see), so positional iteration is exact.
//! - Every entry is named by exactly one slot, and a slot names entry `i` as
//!   `(tag << 32) | (i + 1)`, where `tag` is the key's 32-bit hash fingerprint
//!   (`fingerprint(hash_key(key))`); `0` is an empty slot. A key's slot lies on its probe
//!   sequence (`ProbeSeq`, computed from the tag alone) before any empty slot. Removal
//!   rebuilds the index without the removed entry (every later entry moves down a place,
//!   so every later slot changes anyway), so there are no tombstones.
//! - The index is at most 5/8 full, so probe sequences stay short and always reach an
//!   empty slot. A map that never held a key owns no index at all.
//! - Entries keep no hash: the tag in the slot is all growing and removal need, so growing
//!   re-slots from the old index without reading an entry or re-hashing a string, and an
//!   entry is a key and a value (40 bytes, not 48).

use crate::value::{KeyRef, MapKey, Value};
use rustc_hash::FxBuildHasher;
use std::hash::{BuildHasher, Hasher};

/// The hash of a key. Ints hash to themselves (spreading happens in `home`), so int keys
/// cost no hashing; strings use Fx, and a string object caches the result.
#[inline]
pub fn hash_key(k: KeyRef<'_>) -> u64 {
    match k {
        KeyRef::Nil => 0x6e69_6c00,
        KeyRef::Bool(b) => 0x0062_6f6f_6c00 + b as u64,
        KeyRef::Int(i) => i as u64,
        KeyRef::Str(s) => hash_str(s),
    }
}

/// The hash of a string key (what `hash_key(KeyRef::Str(s))` returns).
#[inline]
pub fn hash_str(s: &str) -> u64 {
    hash_str_bytes(s.as_bytes())
}

/// `hash_str` of the text whose bytes are `bytes` (a string in its slot hands out its
/// bytes without the UTF-8 check its `str` costs).
#[inline]
pub fn hash_str_bytes(bytes: &[u8]) -> u64 {
    let mut hasher = FxBuildHasher.build_hasher();
    hasher.write(bytes);
    hasher.finish()
}

/// One key and its value (its hash's fingerprint is in the slot that names it).
#[derive(Clone, Debug)]
struct Entry {
    key: MapKey,
    value: Value,
}

const _: () = assert!(std::mem::size_of::<Entry>() == 40);

const EMPTY: u64 = 0;
/// Fibonacci hashing's multiplier (2^64 / golden ratio): folds a hash's high half into its
/// tag (see `fingerprint`).
const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;
const MIN_SLOTS: usize = GROUP;

/// An insertion-ordered map from `MapKey` to `Value` (see the module comment).
#[derive(Clone, Debug, Default)]
pub struct Dict {
    entries: Vec<Entry>,
    slots: Box<[u64]>,
}

/// A slot's tag for a key of this hash, in the slot's high half: the hash's low half plus
/// its high half spread by Fibonacci hashing. A hash below 2^32 (a small int) is its own
/// tag, so the homes of neighbouring ints are neighbours (see the module comment); a
/// negative int's high half is all ones, a constant; and keys that differ only in the
/// high half (`i << 32`, `(i << 32) + i`) still get different tags.
#[inline]
fn fingerprint(hash: u64) -> u64 {
    let high = ((hash >> 32).wrapping_mul(SPREAD) >> 32) as u32;
    ((hash as u32).wrapping_add(high) as u64) << 32
}

/// The slots a key with a given tag visits, in order: the home (the tag's low bits) and
/// the rest of its group of `GROUP` slots (one cache line), then `5 * base + 1 + perturb`
/// and its group, the tag shifted right `PERTURB_SHIFT` more bits at each jump. Once the
/// tag is shifted out the jumps are `5 * base + 1`, which reaches every slot of a
/// power-of-two table, so a probe always reaches an empty one. Scanning the group first
/// keeps a collision in the cache line already loaded: with keys whose hashes are random
/// (strings), jumping at once cost `string_keys` about 8%.
struct ProbeSeq {
    pos: usize,
    base: usize,
    step: usize,
    perturb: u64,
    mask: usize,
}

const PERTURB_SHIFT: u32 = 5;
/// Slots per cache line.
const GROUP: usize = 8;

impl ProbeSeq {
    /// The sequence of a key whose slot tag is `tag`, in an index of `n` slots (a power of
    /// two, at least `GROUP`).
    #[inline]
    fn new(n: usize, tag: u64) -> ProbeSeq {
        let fp = tag >> 32;
        let pos = fp as usize & (n - 1);
        ProbeSeq {
            pos,
            base: pos,
            step: 0,
            // Spread, best bits lowest: keys that share a home (`i << 12` shares its low
            // twelve bits) part at the first jump, not after the shifts reach their high bits.
            perturb: fp.wrapping_mul(SPREAD).rotate_left(32),
            mask: n - 1,
        }
    }

    #[inline]
    fn advance(&mut self) {
        if self.step + 1 < GROUP {
            self.step += 1;
            self.pos = (self.base & !(GROUP - 1)) | ((self.base + self.step) & (GROUP - 1));
        } else {
            self.perturb >>= PERTURB_SHIFT;
            self.base = (self
                .base
                .wrapping_mul(5)
                .wrapping_add(self.perturb as usize)
                .wrapping_add(1))
                & self.mask;
            self.step = 0;
            self.pos = self.base;
        }
    }
}

impl Dict {
    pub fn new() -> Dict {
        Dict::default()
    }

    /// A map with room for `n` entries before it must grow.
    pub fn with_capacity(n: usize) -> Dict {
        let mut d = Dict {
            entries: Vec::with_capacity(n),
            ..Dict::default()
        };
        if n > 0 {
            d.resize_index(slots_for(n));
        }
        d
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes owned by the table (for the collector's pacing).
    pub fn approx_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>() + self.slots.len() * 8
    }

    /// Whether inserting one more key would have to grow the entries or the index.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.entries.len() == self.entries.capacity() || (self.entries.len() + 1) * 8 > self.slots.len() * 5
    }

    /// The bytes `make_room` adds: the entries doubled if they are full, the index doubled
    /// if it would pass 5/8 — rarely both at once. The collector is asked to run first when
    /// these pass its pacing trigger, so counting the whole table each time would run
    /// collections that free nothing while a big map fills.
    pub fn growth_bytes(&self) -> usize {
        let (len, cap) = (self.entries.len(), self.entries.capacity());
        let mut bytes = 0;
        if len == cap {
            // `Vec`'s amortized growth: double, and at least 4 entries.
            let grown = cap.saturating_mul(2).max(len + 1).max(4);
            bytes += (grown - cap).saturating_mul(std::mem::size_of::<Entry>());
        }
        if (len + 1) * 8 > self.slots.len() * 5 {
            bytes += (slots_for(len + 1) - self.slots.len()).saturating_mul(8);
        }
        bytes
    }

    /// Grows the entries and the index, if needed, so that one more key fits without
    /// allocating; on failure nothing has changed. Returns the bytes the table grew by.
    pub fn make_room(&mut self) -> Result<usize, std::collections::TryReserveError> {
        let before = self.approx_bytes();
        if self.entries.len() == self.entries.capacity() {
            self.entries.try_reserve(1)?;
        }
        if (self.entries.len() + 1) * 8 > self.slots.len() * 5 {
            let n = slots_for(self.entries.len() + 1);
            let mut slots = Vec::new();
            slots.try_reserve_exact(n)?;
            slots.resize(n, EMPTY);
            self.reslot(slots.into_boxed_slice());
        }
        Ok(self.approx_bytes() - before)
    }

    /// Finds `key` (whose hash is `hash`): `Ok(entry index)` or `Err(empty slot)` where it
    /// would go. Needs a non-empty index.
    #[inline]
    fn probe(&self, hash: u64, mut same: impl FnMut(&MapKey) -> bool) -> Result<usize, usize> {
        let fp = fingerprint(hash);
        let mut seq = ProbeSeq::new(self.slots.len(), fp);
        loop {
            let s = self.slots[seq.pos];
            if s == EMPTY {
                return Err(seq.pos);
            }
            if s & !0xFFFF_FFFF == fp {
                let i = (s as u32 - 1) as usize;
                if same(&self.entries[i].key) {
                    return Ok(i);
                }
            }
            seq.advance();
        }
    }

    /// The index of the entry whose key has hash `hash` and satisfies `same`.
    #[inline]
    pub fn find_hashed(&self, hash: u64, same: impl FnMut(&MapKey) -> bool) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        self.probe(hash, same).ok()
    }

    #[inline]
    pub fn get_index_of(&self, key: KeyRef<'_>) -> Option<usize> {
        self.find_hashed(hash_key(key), |k| k.as_ref() == key)
    }

    #[inline]
    pub fn get(&self, key: KeyRef<'_>) -> Option<&Value> {
        self.get_index_of(key).map(|i| &self.entries[i].value)
    }

    pub fn contains_key(&self, key: KeyRef<'_>) -> bool {
        self.get_index_of(key).is_some()
    }

    /// Sets `key` to `value`; returns the old value if the key was there (it keeps its place).
    #[inline]
    pub fn insert(&mut self, key: MapKey, value: Value) -> Option<Value> {
        let hash = hash_key(key.as_ref());
        self.insert_hashed(hash, key, value)
    }

    /// `insert` for a caller that already knows `hash == hash_key(key)`.
    pub fn insert_hashed(&mut self, hash: u64, key: MapKey, value: Value) -> Option<Value> {
        if self.slots.is_empty() {
            self.resize_index(MIN_SLOTS);
        }
        match self.probe(hash, |k| *k == key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].value, value)),
            Err(pos) => {
                let i = self.entries.len();
                // Slots name entries with 32 bits; a map that big would need > 200 GB.
                assert!(i < u32::MAX as usize - 1, "map too large");
                self.entries.push(Entry { key, value });
                self.slots[pos] = fingerprint(hash) | (i as u64 + 1);
                if self.entries.len() * 8 > self.slots.len() * 5 {
                    self.resize_index(self.slots.len() * 2);
                }
                None
            }
        }
    }

    /// The `i`-th entry in insertion order.
    #[inline]
    pub fn get_index(&self, i: usize) -> Option<(&MapKey, &Value)> {
        self.entries.get(i).map(|e| (&e.key, &e.value))
    }

    /// The value of the entry at `i` (from `find_hashed`).
    #[inline]
    pub fn value_at(&self, i: usize) -> &Value {
        &self.entries[i].value
    }

    /// The value of the entry at `i` (from `find_hashed`), for updating in place.
    #[inline]
    pub fn value_at_mut(&mut self, i: usize) -> &mut Value {
        &mut self.entries[i].value
    }

    /// Removes `key`, keeping the order of the others; returns its value. O(len): every
    /// later entry moves down one place, and the index is rebuilt without the key's slot.
    pub fn shift_remove(&mut self, key: KeyRef<'_>) -> Option<Value> {
        if self.entries.is_empty() {
            return None;
        }
        let i = self.probe(hash_key(key), |k| k.as_ref() == key).ok()?;
        let removed = self.entries.remove(i);
        let gone = i as u64 + 1;
        let n = self.slots.len();
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; n].into_boxed_slice());
        for &s in old.iter().filter(|&&s| s != EMPTY && s & 0xFFFF_FFFF != gone) {
            // Entries after the removed one moved down a place.
            self.place(if s & 0xFFFF_FFFF > gone { s - 1 } else { s });
        }
        Some(removed.value)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&MapKey, &Value)> + ExactSizeIterator {
        self.entries.iter().map(|e| (&e.key, &e.value))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &MapKey> + ExactSizeIterator {
        self.entries.iter().map(|e| &e.key)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|e| &e.value)
    }

    /// Rebuilds the index with `n` slots (a power of two) from the old one.
    fn resize_index(&mut self, n: usize) {
        self.reslot(vec![EMPTY; n].into_boxed_slice());
    }

    /// Moves every slot of the old index into `slots` (all empty, a power of two long), each
    /// to its home there by its tag: no entry is read.
    fn reslot(&mut self, slots: Box<[u64]>) {
        let n = slots.len();
        debug_assert!(n.is_power_of_two() && n >= MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, slots);
        for &s in old.iter().filter(|&&s| s != EMPTY) {
            self.place(s);
        }
    }

    /// Puts slot value `s` in the first empty slot of its tag's probe sequence.
    #[inline]
    fn place(&mut self, s: u64) {
        let mut seq = ProbeSeq::new(self.slots.len(), s & !0xFFFF_FFFF);
        while self.slots[seq.pos] != EMPTY {
            seq.advance();
        }
        self.slots[seq.pos] = s;
    }
}

/// The index size that holds `n` entries at most 5/8 full.
fn slots_for(n: usize) -> usize {
    (n * 8 / 5 + 1).next_power_of_two().max(MIN_SLOTS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn key(i: i64) -> MapKey {
        match i % 4 {
            0 => MapKey::Int(i),
            1 => MapKey::Str(format!("k{i}").into()),
            2 => MapKey::Int(i << 40),
            _ => MapKey::Int(i.wrapping_mul(7919)),
        }
    }

    /// Checks the module's invariants: every entry named by exactly one slot, reachable
    /// from its home without crossing an empty slot.
    fn check(d: &Dict) {
        let mut named = vec![0; d.len()];
        for &s in d.slots.iter().filter(|&&s| s != EMPTY) {
            named[(s as u32 - 1) as usize] += 1;
        }
        assert!(named.iter().all(|&n| n == 1), "each entry is named by one slot");
        for e in &d.entries {
            assert_eq!(d.get_index_of(e.key.as_ref()).map(|i| &d.entries[i].key), Some(&e.key));
        }
        assert!(d.slots.is_empty() || d.len() * 8 <= d.slots.len() * 5);
    }

    proptest! {
        /// Inserts and removals agree with a model (HashMap + order vector) in content and order.
        #[test]
        fn behaves_like_an_ordered_map(ops in prop::collection::vec((any::<bool>(), 0i64..200), 0..400)) {
            let mut d = Dict::new();
            let mut model: HashMap<MapKey, i64> = HashMap::new();
            let mut order: Vec<MapKey> = Vec::new();
            for (n, (is_insert, k)) in ops.into_iter().enumerate() {
                let k = key(k);
                if is_insert {
                    let old = d.insert(k.clone(), Value::Int(n as i64));
                    let model_old = model.insert(k.clone(), n as i64);
                    prop_assert_eq!(old.is_some(), model_old.is_some());
                    if model_old.is_none() { order.push(k); }
                } else {
                    let old = d.shift_remove(k.as_ref());
                    let model_old = model.remove(&k);
                    prop_assert_eq!(old.is_some(), model_old.is_some());
                    order.retain(|o| *o != k);
                }
                check(&d);
            }
            let keys: Vec<MapKey> = d.keys().cloned().collect();
            prop_assert_eq!(keys, order);
            for (k, v) in d.iter() {
                prop_assert!(matches!(v, Value::Int(n) if *n == model[k]));
            }
        }
    }

    #[test]
    fn grows_and_finds_a_million_sparse_keys() {
        let mut d = Dict::with_capacity(3);
        for i in 0..1_000_000i64 {
            d.insert(MapKey::Int(i * 7919), Value::Int(i));
        }
        assert_eq!(d.len(), 1_000_000);
        for i in (0..1_000_000i64).step_by(997) {
            assert!(matches!(d.get(KeyRef::Int(i * 7919)), Some(Value::Int(n)) if *n == i));
            assert!(d.get(KeyRef::Int(i * 7919 + 1)).is_none());
        }
        assert!(d.get(KeyRef::Str("0")).is_none());
    }

    /// The mean and the longest number of jumps (cache lines after the first) from a
    /// key's home to its slot.
    fn probe_lengths(d: &Dict) -> (f64, usize) {
        let (mut total, mut longest) = (0, 0);
        for &s in d.slots.iter().filter(|&&s| s != EMPTY) {
            let mut seq = ProbeSeq::new(d.slots.len(), s & !0xFFFF_FFFF);
            let mut steps = 0;
            while d.slots[seq.pos] != s {
                seq.advance();
                if seq.step == 0 {
                    steps += 1;
                }
            }
            total += steps;
            longest = longest.max(steps);
        }
        (total as f64 / d.len() as f64, longest)
    }

    /// Int keys that share their low bits (multiples of powers of two up to 2^50, a grid
    /// `x * 65536 + y`, `(i << 32) + i`) or differ only in them (dense, strided, negative),
    /// and string keys, all find their slots within a few steps: with homes from the low
    /// bits and linear probing, `i << 20` or the grid would fill one long run.
    #[test]
    fn key_patterns_stay_close_to_home() {
        type Family = (String, Box<dyn Fn(i64) -> MapKey>);
        let mut families: Vec<Family> = Vec::new();
        for shift in [1, 3, 8, 12, 16, 20, 24, 31, 32, 33, 40, 47, 50] {
            families.push((format!("i << {shift}"), Box::new(move |i| MapKey::Int(i << shift))));
        }
        families.push(("i".into(), Box::new(MapKey::Int)));
        families.push(("-i".into(), Box::new(|i| MapKey::Int(-i))));
        families.push(("i * 7919".into(), Box::new(|i| MapKey::Int(i * 7919))));
        families.push(("(i << 32) + i".into(), Box::new(|i| MapKey::Int((i << 32) + i))));
        families.push((
            "x * 65536 + y".into(),
            Box::new(|i| MapKey::Int((i / 100) * 65536 + i % 100)),
        ));
        families.push((
            "(x << 32) + y".into(),
            Box::new(|i| MapKey::Int(((i / 100) << 32) + i % 100)),
        ));
        families.push(("key{i}".into(), Box::new(|i| MapKey::Str(format!("key{i}").into()))));
        for (name, key) in &families {
            let mut d = Dict::new();
            for i in 0..20_000 {
                d.insert(key(i), Value::Int(i));
            }
            let (mean, longest) = probe_lengths(&d);
            assert!(mean < 1.5 && longest < 16, "{name}: mean {mean:.2}, longest {longest}");
        }
    }

    #[test]
    fn keys_of_different_types_are_different() {
        let mut d = Dict::new();
        d.insert(MapKey::Int(1), Value::Int(1));
        d.insert(MapKey::Bool(true), Value::Int(2));
        d.insert(MapKey::Str("1".into()), Value::Int(3));
        d.insert(MapKey::Nil, Value::Int(4));
        d.insert(MapKey::Int(0), Value::Int(5));
        d.insert(MapKey::Bool(false), Value::Int(6));
        assert_eq!(d.len(), 6);
        assert!(matches!(d.get(KeyRef::Bool(true)), Some(Value::Int(2))));
        assert!(matches!(d.get(KeyRef::Int(0)), Some(Value::Int(5))));
    }

    /// `make_room` leaves room for one more key: the insert after it allocates nothing,
    /// and what it reports grown is what the table's size grew by.
    #[test]
    fn make_room_grows_before_the_insert() {
        let mut d = Dict::new();
        for i in 0..10_000i64 {
            let before = d.approx_bytes();
            let expected = if d.is_full() { d.growth_bytes() } else { 0 };
            let grown = if d.is_full() { d.make_room().expect("room") } else { 0 };
            assert_eq!(d.approx_bytes() - before, grown);
            assert_eq!(grown, expected, "growth_bytes before insert {i}");
            assert!(!d.is_full());
            let (cap, slots) = (d.entries.capacity(), d.slots.len());
            d.insert(MapKey::Int(i * 31), Value::Int(i));
            assert_eq!((d.entries.capacity(), d.slots.len()), (cap, slots), "insert {i} grew");
            check(&d);
        }
        assert!(matches!(d.get(KeyRef::Int(31 * 9999)), Some(Value::Int(9999))));
    }
}
