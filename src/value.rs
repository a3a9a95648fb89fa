//! `Value`: the 16-byte, `Copy` handle every toy value travels in, and the map keys
//! (`MapKey`, `KeyRef`) that the hashable values stand for. What a value means beyond its
//! handle — its type's name, truthiness, equality, ordering, printing — needs the heap,
//! and lives above it (`heap.rs`, `compare.rs`, `display.rs`).
//!
//! Invariant: a `Value` that names a heap object (`Str`, `List`, `Map`, `Func`, `Obj`)
//! is only meaningful next to the `Heap` it came from, and that heap is only reachable
//! through the GIL. `ObjId` is deliberately `!Send` and `!Sync`, so a value cannot be
//! moved into code that runs without the GIL (see `gil.rs`).

use std::hash::Hash;
use std::marker::PhantomData;
use std::rc::Rc;

/// Index of an object in the heap arena. `!Send`: see the module invariant.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ObjId(pub(crate) u64, PhantomData<*const ()>);

impl ObjId {
    pub(crate) fn new(index: u32) -> ObjId {
        ObjId(index as u64, PhantomData)
    }
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A toy value. Immediates are stored inline; everything else is a handle into the heap,
/// tagged with its broad type so the common type tests never touch the heap.
///
/// Layout: every payload is one 8-byte integer at the same offset (floats and booleans
/// through `Num` and `Flag`), so the compiler treats a `Value` as a pair of scalars — a tag
/// byte and a word — kept in two registers and loaded and stored as such. With an `f64`, a
/// `bool` at offset 1 or a `u32` at offset 4 among the payloads it was an opaque 16 bytes,
/// copied with one 16-byte load that cannot be forwarded from the two smaller stores that
/// had just written the value, and the VM stalled on that at almost every instruction.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    Nil,
    Bool(Flag),
    Int(i64),
    Float(Num),
    Str(ObjId),
    List(ObjId),
    Map(ObjId),
    /// A closure.
    Func(ObjId),
    /// A builtin or host function, by index in the interpreter's function table.
    Builtin(u64),
    /// Any other heap object: range, error, iterator, cell, thread, lock, queue, ...
    Obj(ObjId),
    /// A global slot that no assignment has reached yet. Never visible to scripts.
    Undef,
}

const _: () = assert!(std::mem::size_of::<Value>() == 16);

/// A float payload: the `f64`'s bits (see `Value`'s layout note).
#[derive(Clone, Copy, Debug)]
pub struct Num(u64);

impl Num {
    #[inline(always)]
    pub fn get(self) -> f64 {
        f64::from_bits(self.0)
    }
}

/// A boolean payload, one word wide (see `Value`'s layout note).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag(u64);

impl Flag {
    #[inline(always)]
    pub fn get(self) -> bool {
        self.0 != 0
    }
}

/// `Value::Float(x)` and `Value::Bool(b)` spelled as constructors.
impl Value {
    /// A copy read as two words (tag, payload). `*v` copies all 16 bytes with one vector
    /// load, which cannot be forwarded from the two word stores that usually just wrote the
    /// value, so it waits for them to reach the cache. Used where a register is read whole
    /// right after an instruction wrote it: `Return` (nbody -10%) and `list.append`'s
    /// argument (str_join -12%). Not in `Move`, where the branch on the tag cost more than
    /// it saved (join_pieces +5%).
    #[inline(always)]
    pub fn copy_words(v: &Value) -> Value {
        match *v {
            Value::Int(i) => Value::Int(i),
            Value::Float(f) => Value::Float(f),
            Value::Bool(b) => Value::Bool(b),
            Value::Nil => Value::Nil,
            Value::Str(id) => Value::Str(id),
            Value::List(id) => Value::List(id),
            Value::Map(id) => Value::Map(id),
            Value::Func(id) => Value::Func(id),
            Value::Obj(id) => Value::Obj(id),
            Value::Builtin(i) => Value::Builtin(i),
            Value::Undef => Value::Undef,
        }
    }

    #[inline(always)]
    pub fn float(f: f64) -> Value {
        Value::Float(Num(f.to_bits()))
    }

    #[inline(always)]
    pub fn bool(b: bool) -> Value {
        Value::Bool(Flag(b as u64))
    }
}

impl Value {
    pub fn obj_id(self) -> Option<ObjId> {
        match self {
            Value::Str(id) | Value::List(id) | Value::Map(id) | Value::Func(id) | Value::Obj(id) => Some(id),
            _ => None,
        }
    }
}

/// A map key: the hashable subset of values, owning its string so hashing and equality
/// need no heap. `true` and `1` are different keys, as `true == 1` is false.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MapKey {
    Nil,
    Bool(bool),
    Int(i64),
    Str(Rc<str>),
}

/// A borrowed map key, for lookups that must not allocate (`dict::hash_key` hashes both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRef<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Str(&'a str),
}

impl MapKey {
    pub fn as_ref(&self) -> KeyRef<'_> {
        match self {
            MapKey::Nil => KeyRef::Nil,
            MapKey::Bool(b) => KeyRef::Bool(*b),
            MapKey::Int(i) => KeyRef::Int(*i),
            MapKey::Str(s) => KeyRef::Str(s),
        }
    }
}

pub fn num_as_f64(v: Value) -> f64 {
    match v {
        Value::Int(i) => i as f64,
        Value::Float(f) => f.get(),
        _ => f64::NAN,
    }
}
