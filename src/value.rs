//! `Value`: the 16-byte, `Copy` handle every toy value travels in, and the value
//! semantics that need no VM — truthiness, equality, ordering, hashing as a map key,
//! and how values print.
//!
//! Invariant: a `Value` that names a heap object (`Str`, `List`, `Map`, `Func`, `Obj`)
//! is only meaningful next to the `Heap` it came from, and that heap is only reachable
//! through the GIL. `ObjId` is deliberately `!Send` and `!Sync`, so a value cannot be
//! moved into code that runs without the GIL (see `gil.rs`).

use crate::format::{float_repr, quote_str};
use crate::heap::{Heap, Obj};
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

    /// The name `type(x)` returns.
    pub fn type_name(self, heap: &Heap) -> &'static str {
        match self {
            Value::Nil | Value::Undef => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Func(_) => "fn",
            Value::Builtin(_) => "builtin",
            Value::Obj(id) => heap.get(id).type_name(),
        }
    }

    pub fn truthy(self, heap: &Heap) -> bool {
        match self {
            Value::Nil | Value::Undef => false,
            Value::Bool(b) => b.get(),
            Value::Int(i) => i != 0,
            Value::Float(f) => f.get() != 0.0,
            Value::Str(id) => !heap.str(id).is_empty(),
            Value::List(id) => !heap.list(id).is_empty(),
            Value::Map(id) => !heap.map(id).is_empty(),
            _ => true,
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

/// How deep `str`, `==` and `<` descend into nested containers before giving up.
pub const MAX_NESTING: usize = 1000;

/// Why a comparison could not be made.
pub enum CompareError {
    /// Unlike types: `TypeError`. Holds the two type names.
    Unorderable(&'static str, &'static str),
    /// Nesting deeper than `MAX_NESTING`: `RecursionError`.
    TooDeep,
}

impl Heap {
    /// The key a value stands for in a map, or None if that type cannot be a key.
    pub fn key_ref(&self, v: Value) -> Option<KeyRef<'_>> {
        match v {
            Value::Nil => Some(KeyRef::Nil),
            Value::Bool(b) => Some(KeyRef::Bool(b.get())),
            Value::Int(i) => Some(KeyRef::Int(i)),
            Value::Str(id) => Some(KeyRef::Str(self.str(id))),
            _ => None,
        }
    }

    /// An owning key; shares the string's bytes.
    pub fn map_key(&self, v: Value) -> Option<MapKey> {
        match v {
            Value::Nil => Some(MapKey::Nil),
            Value::Bool(b) => Some(MapKey::Bool(b.get())),
            Value::Int(i) => Some(MapKey::Int(i)),
            Value::Str(id) => Some(MapKey::Str(self.str_rc(id).clone())),
            _ => None,
        }
    }

    /// Structural equality: numbers by value, strings by content, lists and maps by
    /// contents, everything else by identity. Errs only when nesting is too deep.
    pub fn equal(&self, a: Value, b: Value, depth: usize) -> Result<bool, CompareError> {
        Ok(match (a, b) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Float(x), Value::Float(y)) => x.get() == y.get(),
            (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => int_float_eq(x, y.get()),
            (Value::Str(x), Value::Str(y)) => x == y || self.str(x) == self.str(y),
            (Value::List(x), Value::List(y)) => {
                if x == y {
                    return Ok(true);
                }
                if depth > MAX_NESTING {
                    return Err(CompareError::TooDeep);
                }
                let (xs, ys) = (self.list(x), self.list(y));
                if xs.len() != ys.len() {
                    return Ok(false);
                }
                for (p, q) in xs.iter().zip(ys.iter()) {
                    if !self.equal(*p, *q, depth + 1)? {
                        return Ok(false);
                    }
                }
                true
            }
            (Value::Map(x), Value::Map(y)) => {
                if x == y {
                    return Ok(true);
                }
                if depth > MAX_NESTING {
                    return Err(CompareError::TooDeep);
                }
                let (xm, ym) = (self.map(x), self.map(y));
                if xm.len() != ym.len() {
                    return Ok(false);
                }
                for (k, v) in xm.iter() {
                    match ym.get(k.as_ref()) {
                        Some(w) => {
                            if !self.equal(*v, *w, depth + 1)? {
                                return Ok(false);
                            }
                        }
                        None => return Ok(false),
                    }
                }
                true
            }
            (Value::Func(x), Value::Func(y)) | (Value::Obj(x), Value::Obj(y)) => x == y,
            (Value::Builtin(x), Value::Builtin(y)) => x == y,
            _ => false,
        })
    }

    /// Ordering for `<` and `sorted`: numbers, strings, and lists lexicographically.
    pub fn compare(&self, a: Value, b: Value, depth: usize) -> Result<std::cmp::Ordering, CompareError> {
        use std::cmp::Ordering;
        match (a, b) {
            (Value::Int(x), Value::Int(y)) => Ok(x.cmp(&y)),
            (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                let (x, y) = (num_as_f64(a), num_as_f64(b));
                // Python orders NaN as neither less nor greater; treat as equal for sorting.
                Ok(exact_num_cmp(a, b).unwrap_or_else(|| x.partial_cmp(&y).unwrap_or(Ordering::Equal)))
            }
            (Value::Str(x), Value::Str(y)) => Ok(self.str(x).cmp(self.str(y))),
            (Value::List(x), Value::List(y)) => {
                if depth > MAX_NESTING {
                    return Err(CompareError::TooDeep);
                }
                let (xs, ys) = (self.list(x), self.list(y));
                for (p, q) in xs.iter().zip(ys.iter()) {
                    if !self.equal(*p, *q, depth + 1)? {
                        return self.compare(*p, *q, depth + 1);
                    }
                }
                Ok(xs.len().cmp(&ys.len()))
            }
            _ => Err(CompareError::Unorderable(a.type_name(self), b.type_name(self))),
        }
    }

    /// `str(v)`: strings are themselves at the top level.
    pub fn display(&self, v: Value) -> String {
        match v {
            Value::Str(id) => self.str(id).to_string(),
            _ => {
                let mut out = String::new();
                let mut seen = Vec::new();
                self.write_repr(v, &mut out, &mut seen);
                out
            }
        }
    }

    /// `v` as it appears inside a container: strings quoted.
    pub fn repr(&self, v: Value) -> String {
        let mut out = String::new();
        let mut seen = Vec::new();
        self.write_repr(v, &mut out, &mut seen);
        out
    }

    /// `seen` holds the containers being printed, so a list that contains itself prints
    /// `[...]` as Python does, and depth is bounded by the nesting actually present.
    fn write_repr(&self, v: Value, out: &mut String, seen: &mut Vec<ObjId>) {
        match v {
            Value::Nil | Value::Undef => out.push_str("nil"),
            Value::Bool(b) => out.push_str(if b.get() { "true" } else { "false" }),
            Value::Int(i) => {
                use std::fmt::Write;
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&float_repr(f.get())),
            Value::Str(id) => out.push_str(&quote_str(self.str(id))),
            Value::List(id) => {
                if seen.contains(&id) || seen.len() > MAX_NESTING {
                    out.push_str("[...]");
                    return;
                }
                seen.push(id);
                out.push('[');
                for (i, item) in self.list(id).iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.write_repr(*item, out, seen);
                }
                out.push(']');
                seen.pop();
            }
            Value::Map(id) => {
                if seen.contains(&id) || seen.len() > MAX_NESTING {
                    out.push_str("{...}");
                    return;
                }
                seen.push(id);
                out.push('{');
                for (i, (k, item)) in self.map(id).iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_key(k, out);
                    out.push_str(": ");
                    self.write_repr(*item, out, seen);
                }
                out.push('}');
                seen.pop();
            }
            Value::Func(id) => match self.get(id) {
                Obj::Func(c) => match &c.proto.name {
                    Some(name) if !c.proto.anonymous => {
                        out.push_str("<fn ");
                        out.push_str(name);
                        out.push('>');
                    }
                    _ => out.push_str("<fn>"),
                },
                _ => out.push_str("<fn>"),
            },
            Value::Builtin(i) => {
                out.push_str("<builtin ");
                out.push_str(self.builtin_names.get(i as usize).map_or("?", |n| n));
                out.push('>');
            }
            Value::Obj(id) => self.get(id).write_display(out),
        }
    }
}

fn write_key(k: &MapKey, out: &mut String) {
    match k {
        MapKey::Nil => out.push_str("nil"),
        MapKey::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        MapKey::Int(i) => out.push_str(&i.to_string()),
        MapKey::Str(s) => out.push_str(&quote_str(s)),
    }
}

pub fn num_as_f64(v: Value) -> f64 {
    match v {
        Value::Int(i) => i as f64,
        Value::Float(f) => f.get(),
        _ => f64::NAN,
    }
}

/// Exact int/float equality (Python compares 2**63-1 and 9.223372036854776e18 exactly).
pub fn int_float_eq(i: i64, f: f64) -> bool {
    if f.is_nan() || f.is_infinite() || f.fract() != 0.0 {
        return false;
    }
    if !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        return false;
    }
    f as i64 == i
}

/// Exact ordering of an int against a float where f64 rounding would lie; None for NaN.
fn exact_num_cmp(a: Value, b: Value) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    let cmp_int_float = |i: i64, f: f64| -> Option<Ordering> {
        if f.is_nan() {
            return None;
        }
        if f >= 9.223_372_036_854_776e18 {
            return Some(Ordering::Less);
        }
        if f < -9.223_372_036_854_776e18 {
            return Some(Ordering::Greater);
        }
        let t = f.trunc() as i64;
        match i.cmp(&t) {
            Ordering::Equal => 0.0f64.partial_cmp(&(f - f.trunc())),
            other => Some(other),
        }
    };
    match (a, b) {
        (Value::Int(i), Value::Float(f)) => cmp_int_float(i, f.get()),
        (Value::Float(f), Value::Int(i)) => cmp_int_float(i, f.get()).map(|o| o.reverse()),
        (Value::Float(x), Value::Float(y)) => x.get().partial_cmp(&y.get()),
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(&y)),
        _ => None,
    }
}
