//! Checking a builtin's arguments: counts, types, iterables and timeouts, each failure a
//! `TypeError` or `ValueError` that names the function (`len()`, `list.pop()`).
//!
//! Invariant: nothing a script passes can panic here; every helper either returns the
//! value in the Rust type asked for or a thrown error ready to propagate.

use crate::object::Obj;
use crate::value::Value;
use crate::vm::{Thrown, Vm, VmResult};
use std::fmt::Display;
use std::rc::Rc;

/// The signature of a builtin function written in this folder.
pub(super) type Native = fn(&mut Vm, &[Value]) -> VmResult<Value>;

/// A method's name for messages (`list.append`), formatted only when an error needs it.
#[derive(Clone, Copy)]
pub(super) struct MethodName(pub &'static str, pub &'static str);

impl Display for MethodName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// Checks that a builtin got from `min` to `max` arguments. Inlined, so the check is a
/// compare in its caller; the message is built out of line.
#[inline]
pub(super) fn arity(vm: &mut Vm, name: impl Display + Copy, args: &[Value], min: usize, max: usize) -> VmResult<()> {
    let n = args.len();
    if n >= min && n <= max {
        return Ok(());
    }
    Err(arity_error(vm, name, n, min, max))
}

#[cold]
#[inline(never)]
fn arity_error(vm: &mut Vm, name: impl Display, n: usize, min: usize, max: usize) -> Box<Thrown> {
    let plural = |k: usize| if k == 1 { "argument" } else { "arguments" };
    let want = if min == max {
        format!("{min} {}", plural(min))
    } else if max == usize::MAX {
        format!("at least {min} {}", plural(min))
    } else {
        format!("from {min} to {max} arguments")
    };
    let was = if n == 1 { "was" } else { "were" };
    vm.type_error(format!("{name}() takes {want} but {n} {was} given"))
}

pub(super) fn int_arg(vm: &mut Vm, name: impl Display + Copy, v: Value) -> VmResult<i64> {
    match v {
        Value::Int(i) => Ok(i),
        other => {
            let t = other.type_name(&vm.it.heap);
            Err(vm.type_error(format!("{name}() expected an int, got {t}")))
        }
    }
}

pub(super) fn num_arg(vm: &mut Vm, name: impl Display + Copy, v: Value) -> VmResult<f64> {
    match v {
        Value::Int(i) => Ok(i as f64),
        Value::Float(f) => Ok(f.get()),
        other => {
            let t = other.type_name(&vm.it.heap);
            Err(vm.type_error(format!("{name}() expected a number, got {t}")))
        }
    }
}

pub(super) fn str_arg(vm: &mut Vm, name: impl Display + Copy, v: Value) -> VmResult<Rc<str>> {
    match v {
        Value::Str(id) => Ok(vm.it.heap.str_share(id)),
        other => {
            let t = other.type_name(&vm.it.heap);
            Err(vm.type_error(format!("{name}() expected a str, got {t}")))
        }
    }
}

/// The items of anything `for` can walk, as a vector; `TypeError` for anything else.
pub(super) fn items_of(vm: &mut Vm, name: impl Display + Copy, v: Value) -> VmResult<Vec<Value>> {
    match iterable_items(vm, name, v)? {
        Some(items) => Ok(items),
        None => not_iterable(vm, name, v),
    }
}

/// `items_of`, with `None` for a value that is not iterable, for a caller that words that
/// error itself.
pub(super) fn iterable_items(vm: &mut Vm, name: impl Display + Copy, v: Value) -> VmResult<Option<Vec<Value>>> {
    let items = match v {
        Value::List(id) => {
            let len = vm.it.heap.list(id).len();
            let mut items = vm.list_with_capacity(len as u128)?;
            items.extend_from_slice(vm.it.heap.list(id));
            items
        }
        Value::Str(id) => {
            // One new string per character.
            let chars = vm.it.heap.str_obj(id).chars;
            vm.reserve(chars.saturating_mul(crate::heap::SHORT_STR_BYTES))?;
            let s = vm.it.heap.str_rc(id).clone();
            s.chars().map(|c| vm.char_str(c)).collect()
        }
        Value::Map(id) => {
            let n = vm.it.heap.map(id).len();
            vm.reserve(n.saturating_mul(crate::heap::SHORT_STR_BYTES))?;
            let keys: Vec<_> = vm.it.heap.map(id).keys().cloned().collect();
            keys.iter().map(|k| vm.it.heap.key_value(k)).collect()
        }
        Value::Obj(id) => match vm.it.heap.get(id) {
            Obj::Range(r) => {
                let r = *r;
                if r.len() > 100_000_000 {
                    return Err(vm.error("OverflowError", format!("{name}(): range too large")));
                }
                let mut items = vm.list_with_capacity(r.len() as u128)?;
                items.extend((0..r.len() as i64).map(|i| Value::Int(r.start + i * r.step)));
                items
            }
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    // The copy is a scan of the iterable (what min, sum, sorted and the others then read),
    // work for the instruction limit.
    vm.charge_items(items.len());
    Ok(Some(items))
}

pub(super) fn not_iterable<T>(vm: &mut Vm, name: impl Display + Copy, v: Value) -> VmResult<T> {
    let t = v.type_name(&vm.it.heap);
    Err(vm.type_error(format!("{name}(): '{t}' object is not iterable")))
}

/// A blocking method's optional timeout in seconds: none (or nil) waits as long as it
/// takes; a negative or NaN one is a `ValueError`, as in Python.
pub(super) fn optional_timeout(vm: &mut Vm, name: impl Display + Copy, args: &[Value]) -> VmResult<Option<f64>> {
    let Some(&t) = args.first().filter(|t| !matches!(t, Value::Nil)) else {
        return Ok(None);
    };
    let secs = num_arg(vm, name, t)?;
    if secs.is_nan() || secs < 0.0 {
        let shown = vm.it.heap.display(t);
        return Err(vm.error(
            "ValueError",
            format!("{name}(): timeout must be a non-negative number, not {shown}"),
        ));
    }
    Ok(Some(secs))
}
