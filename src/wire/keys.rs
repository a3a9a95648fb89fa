//! Map keys on the wire: which values may be keys (`key_type_error`), and the record of the
//! keys each open map has had (`SeenKeys`), so that a map whose keys repeat is refused when
//! it closes, naming the first key that repeats an earlier one. The invariant: a decoded
//! map's keys are nil, bool, int or str values, pairwise distinct as toy map keys (by value
//! within a type, never across types: `true` and `1` are two keys), and checking it costs
//! time linear in the input and memory proportional to the keys read, whatever the keys (a
//! hostile sender cannot choose keys whose hashes collide).
//!
//! A key is a scalar, whose encoding is canonical, so two keys are equal exactly when their
//! encodings are the same bytes: keys are remembered as where their encoding starts in the
//! payload, and compared as bytes. The payload is the same on every `Decoder::feed` (only
//! longer), so those positions stay valid while a payload arrives in pieces.
//!
//! A big map's keys are checked by sorting their hashes when it closes rather than through a
//! hash table filled as they arrive: a table too big for the cache costs a cache miss per
//! key. Decoding alone (building no values), a map of a million int keys took 6.5 times as
//! long as without the check with a one-array table, and takes 2.5 times as long with the
//! sort; a list of 50,000 maps of 20 keys, 1.35 times.

use super::format::{TAG_ERROR, TAG_FALSE, TAG_FLOAT, TAG_INT, TAG_LIST, TAG_MAP, TAG_NIL, TAG_STR, TAG_TRUE};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};

/// Why a value with this tag cannot be a map key: the name of its type, or None if it can be
/// one (or is not a value at all, which the caller reports as an unknown tag).
pub(super) fn key_type_error(tag: u8) -> Option<&'static str> {
    match tag {
        TAG_FLOAT => Some("a float"),
        TAG_LIST => Some("a list"),
        TAG_MAP => Some("a map"),
        TAG_ERROR => Some("an error"),
        _ => None,
    }
}

/// The encoding of the key that starts at `at`: its tag and body. None if it is not a whole
/// key there (only if the caller broke `SeenKeys::insert`'s contract).
fn key_bytes(payload: &[u8], at: usize) -> Option<&[u8]> {
    let len = match *payload.get(at)? {
        TAG_NIL | TAG_FALSE | TAG_TRUE => 1,
        TAG_INT => 9,
        TAG_STR => {
            let field = payload.get(at + 1..at + 9)?;
            let n = u64::from_le_bytes(field.try_into().ok()?);
            9usize.checked_add(usize::try_from(n).ok()?)?
        }
        _ => return None,
    };
    payload.get(at..at.checked_add(len)?)
}

/// The hash of a key's encoding. The encoding says where it ends (by its tag, and a str by
/// its length field), so its bytes alone are hashed, without the length a slice's `Hash`
/// would add.
fn hash_key(hasher: &impl BuildHasher, key: &[u8]) -> u64 {
    let mut h = hasher.build_hasher();
    h.write(key);
    h.finish()
}

/// Maps of at most this many pairs have their keys compared pair by pair, unhashed.
const SMALL: usize = 8;

/// Fewer hashes than this are sorted by comparison, more by radix (in linear time; its fixed
/// cost per pass outweighs a comparison sort's log factor only for many hashes).
const RADIX_FROM: usize = 1024;

/// One open map's keys: where they start in `SeenKeys::starts` and, if the map has more than
/// `SMALL` pairs, in `SeenKeys::hashes`.
struct MapKeys {
    first: usize,
    first_hash: Option<usize>,
}

/// The keys read so far of every open map, innermost last. The maps nest, so their keys form
/// a stack: an inner map's keys are all read (and forgotten when it closes) between two keys
/// of the map around it.
pub(super) struct SeenKeys<S = RandomState> {
    /// Where each key's encoding starts in the payload; each open map's keys are contiguous.
    starts: Vec<usize>,
    /// The hash of each key of the open maps with more than `SMALL` pairs, hashed while its
    /// bytes are in the cache.
    hashes: Vec<u64>,
    maps: Vec<MapKeys>,
    /// Hashes key encodings. Keyed at random (std's SipHash), so a sender cannot pick keys
    /// that collide; equal hashes are confirmed byte by byte.
    hasher: S,
    /// The radix sort's second buffer, kept for the next map.
    scratch: Vec<u64>,
}

impl SeenKeys {
    pub(super) fn new() -> Self {
        SeenKeys::with_hasher(RandomState::new())
    }
}

impl<S: BuildHasher> SeenKeys<S> {
    pub(super) fn with_hasher(hasher: S) -> Self {
        SeenKeys {
            starts: Vec::new(),
            hashes: Vec::new(),
            maps: Vec::new(),
            hasher,
            scratch: Vec::new(),
        }
    }

    /// A map of `pairs` pairs (at least one) has been opened.
    pub(super) fn open(&mut self, pairs: usize) {
        self.maps.push(MapKeys {
            first: self.starts.len(),
            first_hash: (pairs > SMALL).then_some(self.hashes.len()),
        });
    }

    /// Records the key at `at` in `payload` (its encoding whole there, its tag nil, bool, int
    /// or str) as the next key of the innermost open map.
    pub(super) fn insert(&mut self, payload: &[u8], at: usize) {
        if let Some(map) = self.maps.last() {
            if map.first_hash.is_some() {
                let key = key_bytes(payload, at).unwrap_or_default();
                self.hashes.push(hash_key(&self.hasher, key));
            }
            self.starts.push(at);
        }
    }

    /// The innermost open map has closed: its keys are checked and forgotten. Err with where
    /// the first key that repeats an earlier one starts, and where that earlier one starts.
    pub(super) fn close(&mut self, payload: &[u8]) -> Result<(), (usize, usize)> {
        let Some(map) = self.maps.pop() else {
            return Ok(());
        };
        let keys = &self.starts[map.first..];
        let same = |a: usize, b: usize| key_bytes(payload, a) == key_bytes(payload, b);
        let found = match map.first_hash {
            None => (1..keys.len()).find_map(|i| {
                let earlier = keys[..i].iter().find(|&&j| same(keys[i], j));
                earlier.map(|&j| (keys[i], j))
            }),
            Some(first_hash) => {
                if any_equal(&mut self.hashes[first_hash..], &mut self.scratch) {
                    // Some hashes are equal: rarely a collision, most likely a repeat. Which
                    // key repeats first is found again in order, by key.
                    self.repeat_in_order(payload, map.first)
                } else {
                    None
                }
            }
        };
        self.starts.truncate(map.first);
        if let Some(first_hash) = map.first_hash {
            self.hashes.truncate(first_hash);
        }
        found.map_or(Ok(()), Err)
    }

    /// The first of the keys at `starts[first..]` that repeats an earlier one, and that one;
    /// each key looked up in a hash table of the keys before it (with std's own random keys,
    /// so that colliding `hasher` hashes do not collide here).
    fn repeat_in_order(&self, payload: &[u8], first: usize) -> Option<(usize, usize)> {
        let keys = &self.starts[first..];
        let mut seen: HashMap<&[u8], usize> = HashMap::with_capacity(keys.len());
        for &at in keys {
            let key = key_bytes(payload, at).unwrap_or_default();
            if let Some(&earlier) = seen.get(key) {
                return Some((at, earlier));
            }
            seen.insert(key, at);
        }
        None
    }
}

/// Whether two of `hashes` are equal. They are sorted by their top 32 bits, so that equal
/// hashes end up in one run of equal tops, and each run of more than one is looked into (a
/// run is one hash but by chance, or by a repeated key). Many hashes are sorted by radix (4
/// passes of 8 bits, in linear time, with `scratch` as the other buffer), few by comparison.
fn any_equal(hashes: &mut [u64], scratch: &mut Vec<u64>) -> bool {
    if hashes.len() < RADIX_FROM {
        hashes.sort_unstable();
        return hashes.windows(2).any(|w| w[0] == w[1]);
    }
    scratch.clear();
    scratch.resize(hashes.len(), 0);
    let (mut from, mut to): (&mut [u64], &mut [u64]) = (&mut *hashes, scratch);
    for shift in [32, 40, 48, 56] {
        let mut next = [0usize; 256];
        for &h in from.iter() {
            next[(h >> shift) as usize & 0xff] += 1;
        }
        let mut sum = 0;
        for slot in next.iter_mut() {
            (*slot, sum) = (sum, sum + *slot);
        }
        for &h in from.iter() {
            let digit = (h >> shift) as usize & 0xff;
            to[next[digit]] = h;
            next[digit] += 1;
        }
        std::mem::swap(&mut from, &mut to);
    }
    // Four passes, an even number: the sorted hashes are back in `hashes`.
    hashes.chunk_by_mut(|a, b| a >> 32 == b >> 32).any(|run| {
        run.sort_unstable();
        run.windows(2).any(|w| w[0] == w[1])
    })
}
