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
//! Removal is O(1), as in CPython: the entry becomes a hole, and its slot, left as it was,
//! is a tombstone — probes pass over it, because the entry it names is no key. Holes and
//! tombstones go at the next rebuild, which comes
//! when the entries or the index are full; it compacts in place when that frees a quarter
//! of the entries, and otherwise doubles them, so a map used as a queue or a stack of keys
//! costs O(1) a step amortized, and its memory follows its live keys.
//!
//! Invariants this file owns:
//! - `entries` holds the keys in insertion order, with holes (`None`) where keys were
//!   removed since the last rebuild. Positions are stable between rebuilds: what `for`,
//!   `keys()`, printing and the wire format see is the live entries in position order.
//! - Every live entry is named by exactly one slot, and a slot names entry `i` as
//!   `(tag << 32) | (i + 1)`, where `tag` is the key's 32-bit hash fingerprint
//!   (`fingerprint(hash_key(key))`); `0` is an empty slot. A key's slot lies on its probe
//!   sequence (`ProbeSeq`, computed from the tag alone) before any empty slot. Every hole
//!   is named by exactly one slot too (its tombstone), so the index's used slots are
//!   `entries.len()`; positions are not reused before a rebuild, so a tombstone never
//!   names a live entry.
//! - `entries.len()` is at most 5/8 of the index, so probe sequences stay short and always
//!   reach an empty slot. The index has one element more than its slots, which counts the
//!   holes. A map that never held a key owns no index at all.
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
    entries: Vec<Option<Entry>>,
    slots: Box<[u64]>,
}

// A hole costs no more than an entry (the key's tag has room for `None`).
const _: () = assert!(std::mem::size_of::<Option<Entry>>() == 40);

/// What the rebuild before an insert makes: the entries' capacity, and the index's length
/// in slots (`None`: the index stays as it is).
struct Rebuild {
    entry_capacity: usize,
    index: Option<usize>,
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
            d.rebuild_or_abort(Rebuild {
                entry_capacity: n,
                index: Some(slots_for(n)),
            });
        }
        d
    }

    /// The number of keys (entries that are not holes).
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len() - self.holes()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes owned by the table (for the collector's pacing).
    pub fn approx_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>() + self.slots.len() * 8
    }

    /// The index's length in slots (0 before the first key).
    #[inline]
    fn index_len(&self) -> usize {
        self.slots.len().saturating_sub(1)
    }

    /// How many holes the entries have (the index's last element counts them).
    #[inline]
    fn holes(&self) -> usize {
        self.slots.last().map_or(0, |&t| t as usize)
    }

    /// Whether one more used slot would take the index past 5/8.
    #[inline]
    fn index_is_full(&self) -> bool {
        (self.entries.len() + 1) * 8 > self.index_len() * 5
    }

    /// Whether inserting one more key would need a rebuild first: the entries or the
    /// index are full.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.entries.len() == self.entries.capacity() || self.index_is_full()
    }

    /// The rebuild a full table needs (see the module comment). Compacting in place is
    /// chosen only when it frees a quarter of the entries and the index is sized for half
    /// as many keys again as are live, so every rebuild leaves room for a number of
    /// inserts proportional to the map's size: a queue of keys never rebuilds at every step.
    fn plan(&self) -> Option<Rebuild> {
        if !self.is_full() {
            return None;
        }
        let (used, capacity) = (self.entries.len(), self.entries.capacity());
        let live = self.len();
        let entry_capacity = if used < capacity || (capacity > live && (capacity - live) * 4 >= capacity) {
            capacity
        } else {
            capacity.saturating_mul(2).max(live + 1).max(4)
        };
        let index = (self.index_is_full() || used > live).then(|| slots_for(live + live / 2 + 1));
        Some(Rebuild { entry_capacity, index })
    }

    /// The bytes `make_room` adds (0 if the rebuild it would do shrinks the table). The
    /// collector is asked to run first when these pass its pacing trigger, so counting the
    /// whole table each time would run collections that free nothing while a big map fills.
    pub fn growth_bytes(&self) -> usize {
        let Some(plan) = self.plan() else { return 0 };
        let slots = plan.index.map_or(self.slots.len(), |n| n + 1);
        let after = plan.entry_capacity * std::mem::size_of::<Entry>() + slots * 8;
        after.saturating_sub(self.approx_bytes())
    }

    /// Rebuilds the table, if it is full, so that one more key fits without allocating;
    /// on failure nothing has changed. Returns the bytes the table grew by (0 if it shrank).
    pub fn make_room(&mut self) -> Result<usize, std::collections::TryReserveError> {
        let before = self.approx_bytes();
        if let Some(plan) = self.plan() {
            self.rebuild(plan)?;
        }
        Ok(self.approx_bytes().saturating_sub(before))
    }

    /// Carries out `plan`: everything it needs is allocated before anything changes, so a
    /// failure leaves the table as it was. Compacting renumbers the live entries, and the
    /// index is rebuilt from the old one's tags (no entry read, no key re-hashed), each slot
    /// renamed to its entry's new position.
    fn rebuild(&mut self, plan: Rebuild) -> Result<(), std::collections::TryReserveError> {
        let used = self.entries.len();
        let compacting = self.holes() > 0;
        let mut slots = Vec::new();
        if let Some(n) = plan.index {
            slots.try_reserve_exact(n + 1)?;
        }
        // Each old position's new one; a hole's is `u32::MAX`.
        let mut renumbered: Vec<u32> = Vec::new();
        if compacting {
            renumbered.try_reserve_exact(used)?;
        }
        if plan.entry_capacity > self.entries.capacity() {
            self.entries.try_reserve_exact(plan.entry_capacity - used)?;
        }
        let Some(n) = plan.index else { return Ok(()) };
        debug_assert!(n.is_power_of_two() && n >= MIN_SLOTS);
        slots.resize(n + 1, EMPTY);
        let old = std::mem::replace(&mut self.slots, slots.into_boxed_slice());
        if compacting {
            let mut next = 0;
            renumbered.extend(self.entries.iter().map(|e| match e {
                Some(_) => {
                    next += 1;
                    next - 1
                }
                None => u32::MAX,
            }));
            self.entries.retain(Option::is_some);
        }
        let old_n = old.len().saturating_sub(1);
        for &s in old[..old_n].iter().filter(|&&s| s != EMPTY) {
            if !compacting {
                self.place(s);
            } else if let position = renumbered[(s as u32 - 1) as usize]
                && position != u32::MAX
            {
                self.place((s & !0xFFFF_FFFF) | (position as u64 + 1));
            }
        }
        Ok(())
    }

    /// Finds `key` (whose hash is `hash`): `Ok(entry index)` or `Err(empty slot)` where it
    /// would go. Needs a non-empty index. Always inlined: each caller's key test is then
    /// compiled into the loop (outlined, it cost `string_keys` 5% more instructions).
    #[inline(always)]
    fn probe(&self, hash: u64, mut same: impl FnMut(&MapKey) -> bool) -> Result<usize, usize> {
        let fp = fingerprint(hash);
        let mut seq = ProbeSeq::new(self.index_len(), fp);
        loop {
            let s = self.slots[seq.pos];
            if s == EMPTY {
                return Err(seq.pos);
            }
            if s & !0xFFFF_FFFF == fp {
                let i = (s as u32 - 1) as usize;
                if let Some(e) = &self.entries[i]
                    && same(&e.key)
                {
                    return Ok(i);
                }
            }
            seq.advance();
        }
    }

    /// The index of the entry whose key has hash `hash` and satisfies `same`.
    #[inline]
    pub fn find_hashed(&self, hash: u64, same: impl FnMut(&MapKey) -> bool) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        self.probe(hash, same).ok()
    }

    /// The value of the key with hash `hash` that satisfies `same`.
    #[inline]
    pub fn get_hashed(&self, hash: u64, same: impl FnMut(&MapKey) -> bool) -> Option<&Value> {
        let i = self.find_hashed(hash, same)?;
        self.entries[i].as_ref().map(|e| &e.value)
    }

    #[inline]
    pub fn get_index_of(&self, key: KeyRef<'_>) -> Option<usize> {
        self.find_hashed(hash_key(key), |k| k.as_ref() == key)
    }

    #[inline]
    pub fn get(&self, key: KeyRef<'_>) -> Option<&Value> {
        self.get_hashed(hash_key(key), |k| k.as_ref() == key)
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

    /// Where the key with hash `hash` that satisfies `same` is: `Ok(entry index)`, or
    /// `Err(slot)` naming the empty slot of the index where it would go, valid for
    /// [`Dict::insert_new_at`] until the table next changes (`None`: no index yet).
    #[inline]
    pub fn lookup_hashed(&self, hash: u64, same: impl FnMut(&MapKey) -> bool) -> Result<usize, Option<usize>> {
        if self.slots.is_empty() {
            return Err(None);
        }
        self.probe(hash, same).map_err(Some)
    }

    /// Inserts a key known to be absent at `slot`, the empty slot a `lookup_hashed` of
    /// it just found, when the table is not full: one probe for a new key, not two.
    #[inline]
    pub fn insert_new_at(&mut self, slot: usize, hash: u64, key: MapKey, value: Value) {
        debug_assert!(!self.is_full() && self.slots[slot] == EMPTY);
        let i = self.entries.len();
        // Slots name entries with 32 bits; a map that big would need > 200 GB.
        assert!(i < u32::MAX as usize - 1, "map too large");
        self.entries.push(Some(Entry { key, value }));
        self.slots[slot] = fingerprint(hash) | (i as u64 + 1);
    }

    /// `insert` for a caller that already knows `hash == hash_key(key)`. A caller that did
    /// not `make_room` first gets the rebuild here, allocating infallibly as `Vec::push`.
    pub fn insert_hashed(&mut self, hash: u64, key: MapKey, value: Value) -> Option<Value> {
        if self.is_full()
            && let Some(plan) = self.plan()
        {
            self.rebuild_or_abort(plan);
        }
        match self.probe(hash, |k| *k == key) {
            Ok(i) => Some(std::mem::replace(&mut self.entry_mut(i).value, value)),
            Err(slot) => {
                self.insert_new_at(slot, hash, key, value);
                None
            }
        }
    }

    /// `rebuild` where running out of memory ends the process, as `Vec::push` does.
    #[cold]
    #[inline(never)]
    fn rebuild_or_abort(&mut self, plan: Rebuild) {
        if self.rebuild(plan).is_err() {
            std::alloc::handle_alloc_error(std::alloc::Layout::new::<Entry>());
        }
    }

    /// The entry at position `i`, if it is not a hole. Positions are stable until the next
    /// insert that rebuilds the table.
    #[inline]
    pub fn get_index(&self, i: usize) -> Option<(&MapKey, &Value)> {
        self.entries.get(i)?.as_ref().map(|e| (&e.key, &e.value))
    }

    /// `get_index` with the value open to change (the key is not: the index hashed it).
    #[inline]
    pub fn get_index_mut(&mut self, i: usize) -> Option<(&MapKey, &mut Value)> {
        self.entries.get_mut(i)?.as_mut().map(|e| (&e.key, &mut e.value))
    }

    /// The first entry at position `i` or after, with its position: how `for` walks a map.
    #[inline]
    pub fn next_entry(&self, i: usize) -> Option<(usize, &MapKey, &Value)> {
        let rest = self.entries.get(i..)?;
        let (skipped, e) = rest.iter().enumerate().find_map(|(j, e)| Some((j, e.as_ref()?)))?;
        Some((i + skipped, &e.key, &e.value))
    }

    /// The live entry at `i` (from `find_hashed`).
    #[inline]
    fn entry_mut(&mut self, i: usize) -> &mut Entry {
        self.entries[i]
            .as_mut()
            .expect("positions from a probe name live entries")
    }

    /// The value of the entry at `i` (from `find_hashed`).
    #[inline]
    pub fn value_at(&self, i: usize) -> &Value {
        &self.entries[i]
            .as_ref()
            .expect("positions from a probe name live entries")
            .value
    }

    /// The value of the entry at `i` (from `find_hashed`), for updating in place.
    #[inline]
    pub fn value_at_mut(&mut self, i: usize) -> &mut Value {
        &mut self.entry_mut(i).value
    }

    /// Removes `key`, keeping the order of the others; returns its value. O(1): the entry
    /// becomes a hole, and its slot a tombstone, both cleared by the next rebuild.
    pub fn shift_remove(&mut self, key: KeyRef<'_>) -> Option<Value> {
        if self.slots.is_empty() {
            return None;
        }
        let i = self.probe(hash_key(key), |k| k.as_ref() == key).ok()?;
        let n = self.index_len();
        self.slots[n] += 1;
        self.entries[i].take().map(|e| e.value)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&MapKey, &Value)> {
        self.entries.iter().flatten().map(|e| (&e.key, &e.value))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &MapKey> {
        self.entries.iter().flatten().map(|e| &e.key)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> {
        self.entries.iter().flatten().map(|e| &e.value)
    }

    /// Puts slot value `s` in the first empty slot of its tag's probe sequence.
    #[inline]
    fn place(&mut self, s: u64) {
        let mut seq = ProbeSeq::new(self.index_len(), s & !0xFFFF_FFFF);
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

    /// Checks the module's invariants: every live entry named by exactly one slot,
    /// reachable from its home without crossing an empty slot; a tombstone for each hole.
    fn check(d: &Dict) {
        let mut named = vec![0; d.entries.len()];
        let n = d.index_len();
        for &s in d.slots[..n].iter().filter(|&&s| s != EMPTY) {
            named[(s as u32 - 1) as usize] += 1;
        }
        assert!(named.iter().all(|&n| n == 1), "each entry or hole is named by one slot");
        let holes = d.entries.iter().filter(|e| e.is_none()).count();
        assert_eq!(holes, d.holes(), "the holes are counted");
        for (k, _) in d.iter() {
            assert_eq!(
                d.get_index_of(k.as_ref()).and_then(|i| d.get_index(i)).map(|e| e.0),
                Some(k)
            );
        }
        assert!(d.slots.is_empty() || d.entries.len() * 8 <= n * 5);
    }

    proptest! {
        /// Inserts and removals agree with a model (HashMap + order vector) in content and order.
        #[test]
        fn behaves_like_an_ordered_map(ops in prop::collection::vec((0u8..3, 0i64..200), 0..400)) {
            let mut d = Dict::new();
            let mut model: HashMap<MapKey, i64> = HashMap::new();
            let mut order: Vec<MapKey> = Vec::new();
            for (n, (op, k)) in ops.into_iter().enumerate() {
                // Op 2 removes the newest key, the path that leaves a tombstone.
                let k = match (op, order.last()) {
                    (2, Some(newest)) => newest.clone(),
                    _ => key(k),
                };
                if op == 0 {
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
        let n = d.index_len();
        for &s in d.slots[..n].iter().filter(|&&s| s != EMPTY) {
            let mut seq = ProbeSeq::new(n, s & !0xFFFF_FFFF);
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

    /// Removing a key leaves a hole and a tombstone instead of moving the later entries,
    /// and a map used as a queue (remove the oldest, add a newest) or a stack (add and
    /// remove the newest) rebuilds only every so many steps, with its memory bounded by
    /// its live keys: the rebuilds are counted by how often the index is replaced.
    #[test]
    fn queues_and_stacks_of_keys_rebuild_rarely() {
        let mut d = Dict::new();
        for i in 0..1000 {
            d.insert(MapKey::Int(i), Value::Int(i));
        }
        let (slots, capacity) = (d.slots.len(), d.entries.capacity());
        assert!(matches!(d.shift_remove(KeyRef::Int(500)), Some(Value::Int(500))));
        assert_eq!((d.holes(), d.slots.len(), d.len()), (1, slots, 999));
        assert!(d.get_index(500).is_none() && matches!(d.get_index(501), Some((_, Value::Int(501)))));
        check(&d);
        let mut rebuilds = 0;
        let mut index = d.slots.as_ptr();
        for round in 0..100_000i64 {
            // The stack: the newest key, added and removed.
            let k = 1_000_000 + round;
            d.insert(MapKey::Int(k), Value::Int(round));
            assert!(matches!(d.shift_remove(KeyRef::Int(k)), Some(Value::Int(r)) if r == round));
            // The queue: the oldest key out, a new one in.
            let (oldest, _) = d.next_entry(0).map(|(_, k, v)| (k.clone(), *v)).expect("keys left");
            assert!(d.shift_remove(oldest.as_ref()).is_some());
            d.insert(MapKey::Int(2_000_000 + round), Value::Int(round));
            if d.slots.as_ptr() != index {
                rebuilds += 1;
                index = d.slots.as_ptr();
            }
        }
        check(&d);
        assert_eq!(d.len(), 999);
        assert!(
            rebuilds <= 300_000 / 400,
            "{rebuilds} rebuilds in 300,000 inserts and removals"
        );
        assert!(
            d.slots.len() <= slots * 2 && d.entries.capacity() <= capacity * 2,
            "memory grew: {} slots (from {slots}), room for {} entries (from {capacity})",
            d.slots.len(),
            d.entries.capacity()
        );
        assert!(matches!(d.get(KeyRef::Int(2_099_999)), Some(Value::Int(99_999))));
        assert!(d.get(KeyRef::Int(999)).is_none());
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
            assert_eq!(d.approx_bytes().saturating_sub(before), grown);
            assert_eq!(grown, expected, "growth_bytes before insert {i}");
            assert!(!d.is_full());
            let (cap, slots) = (d.entries.capacity(), d.slots.len());
            d.insert(MapKey::Int(i * 31), Value::Int(i));
            if i % 3 == 2 {
                // Holes too: a rebuild that compacts must also leave room.
                d.shift_remove(KeyRef::Int((i - 1) * 31));
            }
            assert_eq!((d.entries.capacity(), d.slots.len()), (cap, slots), "insert {i} grew");
            check(&d);
        }
        assert!(matches!(d.get(KeyRef::Int(31 * 9999)), Some(Value::Int(9999))));
    }
}
