//! The methods of lists (`append pop insert remove index count sort reverse extend copy
//! clear`) and slice assignment (`xs[a:b:k] = items`), as in Python.
//!
//! Invariant: a method that calls back into toy code (`sort` with a key, `==` in `index`)
//! re-reads the list after the call: the callback may have changed it.

use super::args::{MethodName, arity, int_arg, items_of, iterable_items};
use super::core::sort_values;
use crate::method::Method;
use crate::value::{ObjId, Value};
use crate::vm::method_table::Inline;
use crate::vm::ops::{self, normalize_index};
use crate::vm::slice_step::{SliceTarget, slice_target};
use crate::vm::{Vm, VmResult};

type R = VmResult<Value>;

/// The methods `list_methods` implements.
pub(super) const LIST_METHODS: &[Method] = &[
    Method::Append,
    Method::Pop,
    Method::Insert,
    Method::Remove,
    Method::Index,
    Method::Sort,
    Method::Reverse,
    Method::Extend,
    Method::Copy,
    Method::Clear,
    Method::Count,
    Method::SetSlice,
];

/// The list methods the eval loop runs in place when their precondition holds; every
/// other call of them (a wrong argument count, say) still reaches `list_methods`.
pub(super) const LIST_INLINE: &[(Method, Inline)] = &[(Method::Append, Inline::ListPush)];

pub(super) fn list_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let Value::List(id) = recv else {
        unreachable!("the method table gives list methods only lists")
    };
    let name = MethodName("list", method.name());
    {
        match method {
            Method::Append => {
                arity(vm, name, args, 1, 1)?;
                let v = args[0];
                vm.with_room(|heap| heap.list_push(id, v))?;
                Ok(Value::Nil)
            }
            Method::Pop => {
                arity(vm, name, args, 0, 1)?;
                let len = vm.it.heap.list(id).len();
                if len == 0 {
                    return Err(vm.error("IndexError", "pop from empty list"));
                }
                let at = match args.first() {
                    None => len - 1,
                    Some(&i) => {
                        let i = int_arg(vm, name, i)?;
                        match normalize_index(i, len) {
                            Some(j) => j,
                            None => return Err(vm.error("IndexError", "pop index out of range")),
                        }
                    }
                };
                Ok(vm.it.heap.list_mut(id).remove(at))
            }
            Method::Insert => {
                arity(vm, name, args, 2, 2)?;
                let i = int_arg(vm, name, args[0])?;
                let len = vm.it.heap.list(id).len() as i64;
                let at = if i < 0 { (i + len).max(0) } else { i.min(len) };
                vm.with_room(|heap| heap.list_reserve(id, 1))?;
                vm.it.heap.list_mut(id).insert(at as usize, args[1]);
                Ok(Value::Nil)
            }
            Method::Remove | Method::Index => {
                let bounds = if method == Method::Index { 3 } else { 1 };
                arity(vm, name, args, 1, bounds)?;
                let n = vm.it.heap.list(id).len();
                // `index(v, start, end)` looks in `xs[start:end]`, clamped like a slice.
                let clamp = |i: i64| {
                    if i < 0 {
                        (i + n as i64).max(0) as usize
                    } else {
                        (i as usize).min(n)
                    }
                };
                let lo = match args.get(1) {
                    Some(&v) => clamp(int_arg(vm, name, v)?),
                    None => 0,
                };
                let hi = match args.get(2) {
                    Some(&v) => clamp(int_arg(vm, name, v)?),
                    None => n,
                };
                vm.charge_items(hi.saturating_sub(lo));
                for i in lo..hi {
                    let Some(&v) = vm.it.heap.list(id).get(i) else { break };
                    if ops::equal(vm, v, args[0])? {
                        if method == Method::Remove {
                            vm.it.heap.list_mut(id).remove(i);
                            return Ok(Value::Nil);
                        }
                        return Ok(Value::Int(i as i64));
                    }
                }
                let shown = vm.it.heap.repr(args[0]);
                Err(vm.error("ValueError", format!("{shown} is not in list")))
            }
            Method::Count => {
                arity(vm, name, args, 1, 1)?;
                let n = vm.it.heap.list(id).len();
                vm.charge_items(n);
                let mut count = 0;
                for i in 0..n {
                    // Re-read each time: `==` cannot run toy code, but the list may shrink.
                    let Some(&v) = vm.it.heap.list(id).get(i) else { break };
                    if ops::equal(vm, v, args[0])? {
                        count += 1;
                    }
                }
                Ok(Value::Int(count))
            }
            Method::Sort => {
                arity(vm, name, args, 0, 1)?;
                let items = vm.it.heap.list(id).clone();
                let out = sort_values(vm, name, items, args.first().copied())?;
                *vm.it.heap.list_mut(id) = out;
                Ok(Value::Nil)
            }
            Method::Reverse => {
                arity(vm, name, args, 0, 0)?;
                vm.it.heap.list_mut(id).reverse();
                Ok(Value::Nil)
            }
            Method::Extend => {
                arity(vm, name, args, 1, 1)?;
                let items = items_of(vm, name, args[0])?;
                vm.with_room(|heap| heap.list_reserve(id, items.len()))?;
                vm.it.heap.list_mut(id).extend(items);
                Ok(Value::Nil)
            }
            Method::Copy => {
                arity(vm, name, args, 0, 0)?;
                let len = vm.it.heap.list(id).len();
                let mut items = vm.list_with_capacity(len as u128)?;
                items.extend_from_slice(vm.it.heap.list(id));
                Ok(vm.it.heap.new_list(items))
            }
            Method::Clear => {
                arity(vm, name, args, 0, 0)?;
                vm.it.heap.list_mut(id).clear();
                Ok(Value::Nil)
            }
            Method::SetSlice => {
                let &[lo, hi, step, value] = args else {
                    unreachable!("`x[a:b:k] = v` passes four values")
                };
                set_slice(vm, id, lo, hi, step, value)?;
                Ok(Value::Nil)
            }
            _ => unreachable!("{} is not a list method", method.name()),
        }
    }
}

/// `list[lo:hi:step] = value`: with step 1 the items `lo..hi` become the value's items,
/// however many; with any other step each picked item becomes one of the value's, which
/// must have exactly as many. The bounds are checked first, then the value is read in
/// full, so `xs[:] = xs` works.
fn set_slice(vm: &mut Vm, id: ObjId, lo: Value, hi: Value, step: Value, value: Value) -> VmResult<()> {
    let len = vm.it.heap.list(id).len();
    let target = slice_target(vm, lo, hi, step, len)?;
    let Some(items) = iterable_items(vm, "slice assignment", value)? else {
        let t = value.type_name(&vm.it.heap);
        return Err(vm.type_error(format!("can only assign an iterable to a slice, not '{t}'")));
    };
    match target {
        SliceTarget::Run { from, to } => {
            let grows = items.len().saturating_sub(to - from);
            vm.with_room(|heap| heap.list_reserve(id, grows))?;
            vm.it.heap.list_mut(id).splice(from..to, items);
        }
        SliceTarget::Every(picked) => {
            if items.len() != picked.len() {
                let (n, count) = (items.len(), picked.len());
                return Err(vm.error(
                    "ValueError",
                    format!("attempt to assign sequence of size {n} to extended slice of size {count}"),
                ));
            }
            let list = vm.it.heap.list_mut(id);
            for (k, v) in items.into_iter().enumerate() {
                list[picked.index(k)] = v;
            }
        }
    }
    Ok(())
}
