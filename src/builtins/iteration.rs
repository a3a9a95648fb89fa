//! The builtins that walk an iterable and build a list, as Python's do (but eager: toy has
//! no iterators, so each returns a new list): `list enumerate zip reversed map filter`, and
//! the tests `any all`.
//!
//! Invariant: each takes its items first (`items_of`, a copy), then calls back into toy
//! code if it must; a callback that changes the original container cannot disturb the walk.

use super::args::{arity, int_arg, items_of};
use crate::value::Value;
use crate::vm::{Vm, VmResult};

type R = VmResult<Value>;

/// `list(x)`: a new list of a list's items, a range's numbers, a string's characters or a
/// map's keys; `list()` is `[]`.
pub(super) fn list(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "list", args, 0, 1)?;
    let items = match args.first() {
        Some(&v) => items_of(vm, "list", v)?,
        None => Vec::new(),
    };
    Ok(vm.it.heap.new_list(items))
}

/// `enumerate(xs)` / `enumerate(xs, start)`: `[[start, x0], [start + 1, x1], ...]`.
pub(super) fn enumerate(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "enumerate", args, 1, 2)?;
    let items = items_of(vm, "enumerate", args[0])?;
    let start = match args.get(1) {
        Some(&s) => int_arg(vm, "enumerate", s)?,
        None => 0,
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, v) in items.into_iter().enumerate() {
        let Some(n) = start.checked_add(i as i64) else {
            return Err(vm.error("OverflowError", "enumerate(): count overflows an int"));
        };
        out.push(vm.it.heap.new_list(vec![Value::Int(n), v]));
    }
    Ok(vm.it.heap.new_list(out))
}

/// `zip(a, b, ...)`: lists of the i-th items, as long as the shortest argument.
pub(super) fn zip(vm: &mut Vm, args: &[Value]) -> R {
    let mut columns = Vec::with_capacity(args.len());
    for &a in args {
        columns.push(items_of(vm, "zip", a)?);
    }
    let len = columns.iter().map(Vec::len).min().unwrap_or(0);
    let mut out = Vec::with_capacity(len);
    for i in 0..len {
        let row = columns.iter().map(|c| c[i]).collect();
        out.push(vm.it.heap.new_list(row));
    }
    Ok(vm.it.heap.new_list(out))
}

/// `reversed(xs)`: a new list of the items in reverse order.
pub(super) fn reversed(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "reversed", args, 1, 1)?;
    let mut items = items_of(vm, "reversed", args[0])?;
    items.reverse();
    Ok(vm.it.heap.new_list(items))
}

/// `any(xs)`: whether some item is truthy.
pub(super) fn any(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "any", args, 1, 1)?;
    let items = items_of(vm, "any", args[0])?;
    Ok(Value::bool(items.iter().any(|v| v.truthy(&vm.it.heap))))
}

/// `all(xs)`: whether every item is truthy (true for none).
pub(super) fn all(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "all", args, 1, 1)?;
    let items = items_of(vm, "all", args[0])?;
    Ok(Value::bool(items.iter().all(|v| v.truthy(&vm.it.heap))))
}

/// Checks that `f` can be called, for a message that names the builtin.
fn callable(vm: &mut Vm, name: &str, f: Value) -> VmResult<()> {
    match f {
        Value::Func(_) | Value::Builtin(_) => Ok(()),
        other => {
            let t = other.type_name(&vm.it.heap);
            Err(vm.type_error(format!("{name}() needs a function, not {t}")))
        }
    }
}

/// `map(f, xs)`: `[f(x) for x in xs]`.
pub(super) fn map(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "map", args, 2, 2)?;
    callable(vm, "map", args[0])?;
    let items = items_of(vm, "map", args[1])?;
    let mut out = Vec::with_capacity(items.len());
    for v in items {
        out.push(vm.call_value(args[0], &[v])?);
    }
    Ok(vm.it.heap.new_list(out))
}

/// `filter(f, xs)`: the items for which `f(x)` is truthy; `filter(nil, xs)` keeps the
/// truthy items themselves, as Python's `filter(None, xs)`.
pub(super) fn filter(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "filter", args, 2, 2)?;
    if !matches!(args[0], Value::Nil) {
        callable(vm, "filter", args[0])?;
    }
    let items = items_of(vm, "filter", args[1])?;
    let mut out = Vec::new();
    for v in items {
        let keep = match args[0] {
            Value::Nil => v,
            f => vm.call_value(f, &[v])?,
        };
        if keep.truthy(&vm.it.heap) {
            out.push(v);
        }
    }
    Ok(vm.it.heap.new_list(out))
}
