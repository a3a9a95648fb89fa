//! The host-function boundary: how Rust code registered with `Interpreter::register`
//! receives toy values, does heavy work with the GIL released, and hands a result back.
//!
//! Invariant: a host function sees interpreter values only through a [`NativeCx`], which
//! exists only while the calling thread holds the GIL. Values are copied out into plain
//! Rust types ([`FromToy`]) before any GIL-free work, and results are built back in
//! ([`IntoToy`]) after it; the closure given to [`NativeCx::release_gil`] must be `Send`,
//! and toy values are not, so none can reach code that runs without the GIL:
//!
//! ```compile_fail,E0277
//! use toy::{Interpreter, Value};
//! let mut toy = Interpreter::new();
//! toy.register("leak", |cx, args| {
//!     let v = args[0];
//!     // error[E0277]: `*const ()` cannot be sent between threads safely
//!     cx.release_gil(move || { let _keep = v; });
//!     Ok(Value::nil())
//! }).unwrap();
//! ```
//!
//! And a host's [`Value`] is branded with the one call it belongs to, so it cannot be
//! kept past that call and used in another, maybe another interpreter's.

#![warn(missing_docs)]

use crate::heap::Heap;
use crate::object::MapObj;
use crate::value::{MapKey, Value as Raw};
use crate::vm::{Thrown, Vm};
use std::collections::HashMap;
use std::marker::PhantomData;

/// A toy value as a host function holds it: an argument, or a result to hand back.
///
/// `'call` is the brand of the one host-function call the value belongs to. A host
/// function is generic over it (`for<'c> Fn(&mut NativeCx<'_, '_, 'c>, &[Value<'c>]) ->
/// Result<Value<'c>, NativeError>`), and the lifetime is invariant, so a value can neither
/// outlive its call nor pass for a value of another call: it cannot be kept in a
/// `'static` place (a `thread_local!`, a captured cell) and brought out in a later call,
/// which may be another interpreter's, whose heap has no such object.
///
/// ```
/// use toy::{Interpreter, Value};
/// let mut toy = Interpreter::new();
/// toy.register("first_or", |_cx, args| Ok(args.first().copied().unwrap_or(Value::int(0)))).unwrap();
/// assert_eq!(toy.eval::<i64>("first_or()").unwrap(), 0);
/// assert_eq!(toy.eval::<String>("first_or(\"a\")").unwrap(), "a");
/// ```
///
/// ```compile_fail,E0521
/// use std::cell::Cell;
/// use toy::{Interpreter, Value};
/// thread_local!(static KEPT: Cell<Option<Value<'static>>> = const { Cell::new(None) });
/// let mut toy = Interpreter::new();
/// // error[E0521]: borrowed data escapes outside of closure
/// toy.register("keep", |_cx, args| { KEPT.set(Some(args[0])); Ok(Value::nil()) }).unwrap();
/// ```
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct Value<'call> {
    raw: Raw,
    call: PhantomData<fn(&'call ()) -> &'call ()>,
}

impl<'call> Value<'call> {
    /// `nil`.
    pub const fn nil() -> Value<'call> {
        Value::from_raw(Raw::Nil)
    }

    /// `true` or `false`.
    pub fn bool(b: bool) -> Value<'call> {
        Value::from_raw(Raw::bool(b))
    }

    /// An `int`.
    pub const fn int(i: i64) -> Value<'call> {
        Value::from_raw(Raw::Int(i))
    }

    /// A `float`.
    pub fn float(x: f64) -> Value<'call> {
        Value::from_raw(Raw::float(x))
    }

    /// Whether this is `nil`.
    pub fn is_nil(self) -> bool {
        matches!(self.raw, Raw::Nil)
    }

    /// The `bool` inside, if this is one.
    pub fn as_bool(self) -> Option<bool> {
        match self.raw {
            Raw::Bool(b) => Some(b.get()),
            _ => None,
        }
    }

    /// The `int` inside, if this is one.
    pub fn as_int(self) -> Option<i64> {
        match self.raw {
            Raw::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The `float` inside, if this is one (an `int` is not).
    pub fn as_float(self) -> Option<f64> {
        match self.raw {
            Raw::Float(f) => Some(f.get()),
            _ => None,
        }
    }

    /// Brands a VM value for the call now running; only the native boundary does this.
    pub(crate) const fn from_raw(raw: Raw) -> Value<'call> {
        Value { raw, call: PhantomData }
    }

    /// The VM value inside, for the VM to take back when the call returns.
    pub(crate) fn into_raw(self) -> Raw {
        self.raw
    }
}

/// An error a host function returns; it is thrown in the script as a toy error of `kind`.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeError {
    /// The toy error kind the script sees (`TypeError`, `ValueError`, or any name).
    pub kind: String,
    /// The message, as `e.message` shows it.
    pub message: String,
}

impl NativeError {
    /// An error of any kind.
    ///
    /// ```
    /// let e = toy::NativeError::new("IOError", "disk full");
    /// assert_eq!(e.to_string(), "IOError: disk full");
    /// ```
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> NativeError {
        NativeError {
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// A `TypeError`: an argument of the wrong type.
    pub fn type_error(message: impl Into<String>) -> NativeError {
        NativeError::new("TypeError", message)
    }

    /// A `ValueError`: an argument of the right type but a bad value.
    pub fn value_error(message: impl Into<String>) -> NativeError {
        NativeError::new("ValueError", message)
    }
}

impl std::fmt::Display for NativeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for NativeError {}

/// A Rust value that can be copied out of a toy value: `i64`, `f64` (ints widen), `bool`,
/// `String`, `Vec<T>`, `HashMap<String, T>` and [`Data`].
pub trait FromToy: Sized {
    /// Copies `v` out, or says what was expected instead (e.g. "expected an int, got str").
    fn from_toy(heap: &Heap, v: Raw) -> Result<Self, String>;
}

/// A Rust value that can be turned into a toy value.
pub trait IntoToy {
    /// Builds the toy value in `heap`.
    fn into_toy(self, heap: &mut Heap) -> Raw;
}

fn got(heap: &Heap, v: Raw) -> &'static str {
    v.type_name(heap)
}

impl FromToy for i64 {
    fn from_toy(heap: &Heap, v: Raw) -> Result<i64, String> {
        match v {
            Raw::Int(i) => Ok(i),
            other => Err(format!("expected an int, got {}", got(heap, other))),
        }
    }
}

impl FromToy for f64 {
    fn from_toy(heap: &Heap, v: Raw) -> Result<f64, String> {
        match v {
            Raw::Int(i) => Ok(i as f64),
            Raw::Float(f) => Ok(f.get()),
            other => Err(format!("expected a number, got {}", got(heap, other))),
        }
    }
}

impl FromToy for bool {
    fn from_toy(heap: &Heap, v: Raw) -> Result<bool, String> {
        match v {
            Raw::Bool(b) => Ok(b.get()),
            other => Err(format!("expected a bool, got {}", got(heap, other))),
        }
    }
}

impl FromToy for String {
    fn from_toy(heap: &Heap, v: Raw) -> Result<String, String> {
        match v {
            Raw::Str(id) => Ok(heap.str(id).to_string()),
            other => Err(format!("expected a str, got {}", got(heap, other))),
        }
    }
}

impl<T: FromToy> FromToy for Vec<T> {
    fn from_toy(heap: &Heap, v: Raw) -> Result<Vec<T>, String> {
        match v {
            Raw::List(id) => heap
                .list(id)
                .iter()
                .enumerate()
                .map(|(i, item)| T::from_toy(heap, *item).map_err(|e| format!("item {i}: {e}")))
                .collect(),
            other => Err(format!("expected a list, got {}", got(heap, other))),
        }
    }
}

impl<T: FromToy> FromToy for HashMap<String, T> {
    fn from_toy(heap: &Heap, v: Raw) -> Result<HashMap<String, T>, String> {
        match v {
            Raw::Map(id) => heap
                .map(id)
                .iter()
                .map(|(k, item)| match k {
                    MapKey::Str(s) => T::from_toy(heap, *item)
                        .map(|t| (s.to_string(), t))
                        .map_err(|e| format!("key \"{s}\": {e}")),
                    _ => Err("expected a map with str keys".to_string()),
                })
                .collect(),
            other => Err(format!("expected a map, got {}", got(heap, other))),
        }
    }
}

/// Any toy value, copied out as plain data (what `Interpreter::eval` can return when the
/// type is not known in advance).
#[derive(Debug, Clone, PartialEq)]
///
/// ```
/// use toy::{Data, Interpreter};
/// let mut toy = Interpreter::new();
/// let d: Data = toy.eval("[1, \"a\", {\"k\": nil}]").unwrap();
/// assert_eq!(d, Data::List(vec![
///     Data::Int(1),
///     Data::Str("a".into()),
///     Data::Map(vec![(Data::Str("k".into()), Data::Nil)]),
/// ]));
/// ```
pub enum Data {
    /// `nil`
    Nil,
    /// `true` / `false`
    Bool(bool),
    /// an `int`
    Int(i64),
    /// a `float`
    Float(f64),
    /// a `str`
    Str(String),
    /// a `list`
    List(Vec<Data>),
    /// Entries in insertion order.
    Map(Vec<(Data, Data)>),
    /// A value with no plain-data form (a function, a lock, ...): how it prints.
    Other(String),
}

impl FromToy for Data {
    fn from_toy(heap: &Heap, v: Raw) -> Result<Data, String> {
        fn copy(heap: &Heap, v: Raw, depth: usize) -> Result<Data, String> {
            if depth > crate::compare::MAX_NESTING {
                return Err("value nested too deeply to copy".into());
            }
            Ok(match v {
                Raw::Nil | Raw::Undef => Data::Nil,
                Raw::Bool(b) => Data::Bool(b.get()),
                Raw::Int(i) => Data::Int(i),
                Raw::Float(f) => Data::Float(f.get()),
                Raw::Str(id) => Data::Str(heap.str(id).to_string()),
                Raw::List(id) => Data::List(
                    heap.list(id)
                        .iter()
                        .map(|x| copy(heap, *x, depth + 1))
                        .collect::<Result<_, _>>()?,
                ),
                Raw::Map(id) => Data::Map(
                    heap.map(id)
                        .iter()
                        .map(|(k, x)| {
                            let key = match k {
                                MapKey::Nil => Data::Nil,
                                MapKey::Bool(b) => Data::Bool(*b),
                                MapKey::Int(i) => Data::Int(*i),
                                MapKey::Str(s) => Data::Str(s.to_string()),
                            };
                            Ok((key, copy(heap, *x, depth + 1)?))
                        })
                        .collect::<Result<_, String>>()?,
                ),
                other => Data::Other(heap.display(other)),
            })
        }
        copy(heap, v, 0)
    }
}

impl IntoToy for Value<'_> {
    fn into_toy(self, _heap: &mut Heap) -> Raw {
        self.raw
    }
}

impl IntoToy for () {
    fn into_toy(self, _heap: &mut Heap) -> Raw {
        Raw::Nil
    }
}

impl IntoToy for i64 {
    fn into_toy(self, _heap: &mut Heap) -> Raw {
        Raw::Int(self)
    }
}

impl IntoToy for f64 {
    fn into_toy(self, _heap: &mut Heap) -> Raw {
        Raw::float(self)
    }
}

impl IntoToy for bool {
    fn into_toy(self, _heap: &mut Heap) -> Raw {
        Raw::bool(self)
    }
}

impl IntoToy for String {
    fn into_toy(self, heap: &mut Heap) -> Raw {
        heap.new_str(self)
    }
}

impl IntoToy for &str {
    fn into_toy(self, heap: &mut Heap) -> Raw {
        heap.new_str(self)
    }
}

impl<T: IntoToy> IntoToy for Vec<T> {
    fn into_toy(self, heap: &mut Heap) -> Raw {
        let items = self.into_iter().map(|x| x.into_toy(heap)).collect();
        heap.new_list(items)
    }
}

impl<T: IntoToy> IntoToy for HashMap<String, T> {
    fn into_toy(self, heap: &mut Heap) -> Raw {
        let mut entries: Vec<(String, T)> = self.into_iter().collect();
        // A HashMap has no order; sorted keys make the toy map deterministic.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut m = MapObj::default();
        for (k, v) in entries {
            let v = v.into_toy(heap);
            m.insert(MapKey::Str(k.into()), v);
        }
        heap.new_map(m)
    }
}

/// What a host function gets: access to its arguments' contents under the GIL, a way to
/// run work without the GIL, and a way to build its result. `'c` is the call's brand
/// (see [`Value`]).
pub struct NativeCx<'v, 'a, 'c> {
    vm: &'v mut Vm<'a>,
    name: &'v str,
    call: PhantomData<fn(&'c ()) -> &'c ()>,
}

impl<'v, 'a, 'c> NativeCx<'v, 'a, 'c> {
    pub(crate) fn new(vm: &'v mut Vm<'a>, name: &'v str) -> NativeCx<'v, 'a, 'c> {
        NativeCx {
            vm,
            name,
            call: PhantomData,
        }
    }

    /// The name the function was registered under.
    pub fn name(&self) -> &str {
        self.name
    }

    /// Copies a value out into a Rust type (under the GIL); the error names the function.
    pub fn extract<T: FromToy>(&self, v: &Value<'c>) -> Result<T, NativeError> {
        T::from_toy(&self.vm.it.heap, v.raw).map_err(|e| NativeError::type_error(format!("{}(): {e}", self.name)))
    }

    /// Copies argument `i` out, checking that it exists; errors name the function and the
    /// argument, e.g. `TypeError: scale() argument 2: expected a number, got str`.
    ///
    /// ```
    /// use toy::Interpreter;
    /// let mut toy = Interpreter::new();
    /// toy.register("scale", |cx, args| {
    ///     cx.expect_args(args, 2)?;
    ///     let xs: Vec<f64> = cx.arg(args, 0)?;
    ///     let k: f64 = cx.arg(args, 1)?;
    ///     cx.to_value(xs.into_iter().map(|x| x * k).collect::<Vec<f64>>())
    /// }).unwrap();
    /// assert_eq!(toy.eval::<Vec<f64>>("scale([1, 2], 3)").unwrap(), [3.0, 6.0]);
    /// let err = toy.eval::<Data>("scale([1], \"x\")").unwrap_err().to_string();
    /// assert!(err.contains("TypeError: scale() argument 2: expected a number, got str"));
    /// # use toy::Data;
    /// ```
    pub fn arg<T: FromToy>(&self, args: &[Value<'c>], i: usize) -> Result<T, NativeError> {
        let v = args.get(i).ok_or_else(|| {
            NativeError::type_error(format!(
                "{}() missing argument {} (got {} arguments)",
                self.name,
                i + 1,
                args.len()
            ))
        })?;
        T::from_toy(&self.vm.it.heap, v.raw)
            .map_err(|e| NativeError::type_error(format!("{}() argument {}: {e}", self.name, i + 1)))
    }

    /// Checks the argument count.
    pub fn expect_args(&self, args: &[Value<'c>], n: usize) -> Result<(), NativeError> {
        if args.len() == n {
            return Ok(());
        }
        let s = if n == 1 { "" } else { "s" };
        Err(NativeError::type_error(format!(
            "{}() takes {n} argument{s} but {} were given",
            self.name,
            args.len()
        )))
    }

    /// Builds a toy value from a Rust value (under the GIL).
    pub fn to_value<T: IntoToy>(&mut self, x: T) -> Result<Value<'c>, NativeError> {
        Ok(Value::from_raw(x.into_toy(&mut self.vm.it.heap)))
    }

    /// Makes sure about `bytes` more can be allocated for a result: within the
    /// interpreter's memory limit (collecting first if that would make room) and, for a
    /// big result, within what the system grants. A `MemoryError` otherwise, so a host
    /// function can refuse a result too big to build instead of the process aborting.
    pub fn reserve(&mut self, bytes: usize) -> Result<(), NativeError> {
        let fits = match self.vm.reserve(bytes) {
            Ok(()) => {
                let mut probe: Vec<u8> = Vec::new();
                bytes < (1 << 20) || probe.try_reserve_exact(bytes).is_ok()
            }
            Err(_) => false,
        };
        if fits {
            return Ok(());
        }
        Err(NativeError::new(
            "MemoryError",
            format!(
                "{}(): cannot allocate {}",
                self.name,
                crate::vm::show_bytes(bytes as u128)
            ),
        ))
    }

    /// Runs `work` with the GIL released, so other threads run bytecode meanwhile — unless
    /// the interpreter was built with `native_holds_gil` (`--native-holds-gil`), which
    /// keeps it held for comparison. `work` is `Send` and so can hold no toy values.
    pub fn release_gil<R: Send>(&mut self, work: impl FnOnce() -> R + Send) -> R {
        if self.vm.it.native_holds_gil {
            work()
        } else {
            self.vm.release(work)
        }
    }
}

/// Turns a host function's error into a thrown toy error.
pub(crate) fn throw(vm: &mut Vm, e: NativeError) -> Box<Thrown> {
    vm.error(&e.kind, e.message)
}
