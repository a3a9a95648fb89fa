//! The semantics of toy's operators: arithmetic, comparison, membership, indexing,
//! slicing (steps, range slices and the slice errors live in `slice_step.rs`), fields,
//! and the iteration protocol behind `for`.
//!
//! Invariant: these follow LANGUAGE.md §2–3 and, where it is silent, Python — ints are
//! 64-bit and overflow throws `OverflowError`, `//` and `%` floor, `/` gives a float,
//! `bool` is not a number. The eval loop inlines only the int fast paths (`*_fast`);
//! everything else, including every error, comes here, out of the hot loop.

use super::machine::{Thrown, Vm, VmResult};
use super::slice_step;
use crate::compare::{CompareError, int_float_eq};
use crate::format::{FmtArg, format_value};
use crate::object::{MapObj, Obj, RangeObj};
use crate::value::{KeyRef, MapKey, ObjId, Value, num_as_f64};
use std::cmp::Ordering;

type R = VmResult<Value>;

#[inline(always)]
pub fn add_fast(x: &Value, y: &Value) -> Option<Value> {
    match (*x, *y) {
        (Value::Int(a), Value::Int(b)) => a.checked_add(b).map(Value::Int),
        (Value::Float(a), Value::Float(b)) => Some(Value::float(a.get() + b.get())),
        _ => None,
    }
}

#[inline(always)]
pub fn sub_fast(x: &Value, y: &Value) -> Option<Value> {
    match (*x, *y) {
        (Value::Int(a), Value::Int(b)) => a.checked_sub(b).map(Value::Int),
        (Value::Float(a), Value::Float(b)) => Some(Value::float(a.get() - b.get())),
        _ => None,
    }
}

#[inline(always)]
pub fn mul_fast(x: &Value, y: &Value) -> Option<Value> {
    match (*x, *y) {
        (Value::Int(a), Value::Int(b)) => a.checked_mul(b).map(Value::Int),
        (Value::Float(a), Value::Float(b)) => Some(Value::float(a.get() * b.get())),
        _ => None,
    }
}

/// `/` of two floats or two ints by a nonzero divisor, exactly as `div` computes it.
#[inline(always)]
pub fn div_fast(x: &Value, y: &Value) -> Option<Value> {
    match (*x, *y) {
        (Value::Float(a), Value::Float(b)) if b.get() != 0.0 => Some(Value::float(a.get() / b.get())),
        (Value::Int(a), Value::Int(b)) if b != 0 => Some(Value::float(a as f64 / b as f64)),
        _ => None,
    }
}

#[inline(always)]
pub fn mod_fast(x: &Value, y: &Value) -> Option<Value> {
    match (*x, *y) {
        (Value::Int(a), Value::Int(b)) if b > 0 => Some(Value::Int(mod_positive(a, b))),
        _ => None,
    }
}

/// Python's `a % b` for `b > 0`: the Euclidean remainder, and for a power-of-two divisor
/// (`i % 16`) a mask rather than a division of ~40 cycles.
#[inline(always)]
pub fn mod_positive(a: i64, b: i64) -> i64 {
    if b & (b - 1) == 0 { a & (b - 1) } else { a.rem_euclid(b) }
}

#[inline(always)]
pub fn no_fast(_: &Value, _: &Value) -> Option<Value> {
    None
}

fn is_num(v: Value) -> bool {
    matches!(v, Value::Int(_) | Value::Float(_))
}

fn unsupported(vm: &mut Vm, op: &str, x: Value, y: Value) -> Box<Thrown> {
    let (a, b) = (x.type_name(&vm.it.heap), y.type_name(&vm.it.heap));
    vm.type_error(format!("unsupported operand type(s) for {op}: '{a}' and '{b}'"))
}

fn overflow(vm: &mut Vm) -> Box<Thrown> {
    vm.error("OverflowError", "integer overflow")
}

pub fn add(vm: &mut Vm, x: Value, y: Value) -> R {
    match (x, y) {
        (Value::Int(a), Value::Int(b)) => a.checked_add(b).map(Value::Int).ok_or_else(|| overflow(vm)),
        _ if is_num(x) && is_num(y) => Ok(Value::float(num_as_f64(x) + num_as_f64(y))),
        (Value::Str(a), Value::Str(b)) => {
            if let Some(joined) = vm.it.heap.new_str_joined_short(a, b) {
                return Ok(joined);
            }
            let len = vm.it.heap.str_bytes(a).len() as u128 + vm.it.heap.str_bytes(b).len() as u128;
            let mut s = vm.string_with_capacity(len)?;
            s.push_str(vm.it.heap.str(a));
            s.push_str(vm.it.heap.str(b));
            vm.str_value(s)
        }
        (Value::List(a), Value::List(b)) => {
            let len = vm.it.heap.list(a).len() as u128 + vm.it.heap.list(b).len() as u128;
            let mut items = vm.list_with_capacity(len)?;
            items.extend_from_slice(vm.it.heap.list(a));
            items.extend_from_slice(vm.it.heap.list(b));
            Ok(vm.it.heap.new_list(items))
        }
        _ => Err(unsupported(vm, "+", x, y)),
    }
}

pub fn sub(vm: &mut Vm, x: Value, y: Value) -> R {
    match (x, y) {
        (Value::Int(a), Value::Int(b)) => a.checked_sub(b).map(Value::Int).ok_or_else(|| overflow(vm)),
        _ if is_num(x) && is_num(y) => Ok(Value::float(num_as_f64(x) - num_as_f64(y))),
        _ => Err(unsupported(vm, "-", x, y)),
    }
}

pub fn mul(vm: &mut Vm, x: Value, y: Value) -> R {
    match (x, y) {
        (Value::Int(a), Value::Int(b)) => a.checked_mul(b).map(Value::Int).ok_or_else(|| overflow(vm)),
        _ if is_num(x) && is_num(y) => Ok(Value::float(num_as_f64(x) * num_as_f64(y))),
        (Value::Str(s), Value::Int(n)) | (Value::Int(n), Value::Str(s)) => {
            // A size that fits in an int but not in memory is a MemoryError (never an
            // OverflowError): the reservation refuses it before anything is copied.
            let total = vm.it.heap.str(s).len() as u128 * n.max(0) as u128;
            let mut out = vm.string_with_capacity(total)?;
            if total > 0 {
                out.push_str(vm.it.heap.str(s));
                // Doubling: log2(n) copies, each of text already made.
                while (out.len() as u128) < total {
                    let take = out.len().min(total as usize - out.len());
                    out.extend_from_within(..take);
                }
            }
            vm.str_value(out)
        }
        (Value::List(l), Value::Int(n)) | (Value::Int(n), Value::List(l)) => {
            let total = vm.it.heap.list(l).len() as u128 * n.max(0) as u128;
            let mut out = vm.list_with_capacity(total)?;
            if total > 0 {
                out.extend_from_slice(vm.it.heap.list(l));
                while (out.len() as u128) < total {
                    let take = out.len().min(total as usize - out.len());
                    out.extend_from_within(..take);
                }
            }
            Ok(vm.it.heap.new_list(out))
        }
        _ => Err(unsupported(vm, "*", x, y)),
    }
}

/// `x += y`: a list `x` grows in place by the items of a list `y` (so every name for it
/// sees the change, as in Python); anything else is `x + y`.
pub fn add_in_place(vm: &mut Vm, x: Value, y: Value) -> R {
    let (Value::List(a), Value::List(b)) = (x, y) else {
        return add(vm, x, y);
    };
    let items = vm.it.heap.list(b).to_vec();
    vm.with_room(|heap| heap.list_reserve(a, items.len()))?;
    vm.it.heap.list_mut(a).extend(items);
    Ok(x)
}

/// `x *= n`: a list `x` is repeated in place `n` times (emptied when `n <= 0`), as in
/// Python; anything else is `x * n`.
pub fn mul_in_place(vm: &mut Vm, x: Value, y: Value) -> R {
    let (Value::List(a), Value::Int(n)) = (x, y) else {
        return mul(vm, x, y);
    };
    if n == 1 {
        return Ok(x);
    }
    // The repetition is built (and charged) as a new list, whose buffer `x` then takes.
    let Value::List(repeated) = mul(vm, x, y)? else {
        return Ok(x);
    };
    let items = std::mem::take(vm.it.heap.list_mut(repeated));
    *vm.it.heap.list_mut(a) = items;
    Ok(x)
}

pub fn div(vm: &mut Vm, x: Value, y: Value) -> R {
    if !(is_num(x) && is_num(y)) {
        return Err(unsupported(vm, "/", x, y));
    }
    let d = num_as_f64(y);
    if d == 0.0 {
        return Err(vm.error("ZeroDivisionError", "division by zero"));
    }
    Ok(Value::float(num_as_f64(x) / d))
}

/// Python's float `divmod`: the quotient floored, the remainder with the divisor's sign.
fn float_divmod(x: f64, y: f64) -> (f64, f64) {
    let mut m = x % y;
    let mut div = (x - m) / y;
    if m != 0.0 {
        if (y < 0.0) != (m < 0.0) {
            m += y;
            div -= 1.0;
        }
    } else {
        m = 0.0f64.copysign(y);
    }
    let floordiv = if div != 0.0 {
        let mut f = div.floor();
        if div - f > 0.5 {
            f += 1.0;
        }
        f
    } else {
        0.0f64.copysign(x / y)
    };
    (floordiv, m)
}

pub fn floor_div(vm: &mut Vm, x: Value, y: Value) -> R {
    match (x, y) {
        (Value::Int(a), Value::Int(b)) => {
            if b == 0 {
                return Err(vm.error("ZeroDivisionError", "integer division or modulo by zero"));
            }
            let q = a.checked_div(b).ok_or_else(|| overflow(vm))?;
            Ok(Value::Int(if (a % b != 0) && ((a < 0) != (b < 0)) { q - 1 } else { q }))
        }
        _ if is_num(x) && is_num(y) => {
            let d = num_as_f64(y);
            if d == 0.0 {
                return Err(vm.error("ZeroDivisionError", "float floor division by zero"));
            }
            Ok(Value::float(float_divmod(num_as_f64(x), d).0))
        }
        _ => Err(unsupported(vm, "//", x, y)),
    }
}

pub fn modulo(vm: &mut Vm, x: Value, y: Value) -> R {
    match (x, y) {
        (Value::Int(a), Value::Int(b)) => {
            if b == 0 {
                return Err(vm.error("ZeroDivisionError", "integer modulo by zero"));
            }
            let r = a.checked_rem(b).unwrap_or(0);
            Ok(Value::Int(if r != 0 && ((r < 0) != (b < 0)) { r + b } else { r }))
        }
        _ if is_num(x) && is_num(y) => {
            let d = num_as_f64(y);
            if d == 0.0 {
                return Err(vm.error("ZeroDivisionError", "float modulo"));
            }
            Ok(Value::float(float_divmod(num_as_f64(x), d).1))
        }
        _ => Err(unsupported(vm, "%", x, y)),
    }
}

pub fn pow(vm: &mut Vm, x: Value, y: Value) -> R {
    match (x, y) {
        (Value::Int(a), Value::Int(b)) if b >= 0 => {
            let r = match u32::try_from(b) {
                Ok(e) => a.checked_pow(e),
                Err(_) => match a {
                    0 | 1 => Some(a),
                    -1 => Some(if b % 2 == 0 { 1 } else { -1 }),
                    _ => None,
                },
            };
            r.map(Value::Int).ok_or_else(|| overflow(vm))
        }
        _ if is_num(x) && is_num(y) => {
            let (a, b) = (num_as_f64(x), num_as_f64(y));
            if a == 0.0 && b < 0.0 {
                return Err(vm.error("ZeroDivisionError", "0.0 cannot be raised to a negative power"));
            }
            if a < 0.0 && b.fract() != 0.0 && b.is_finite() {
                return Err(vm.error("ValueError", "negative number cannot be raised to a fractional power"));
            }
            let r = a.powf(b);
            if r.is_infinite() && a.is_finite() && b.is_finite() {
                return Err(vm.error("OverflowError", "numerical result out of range"));
            }
            Ok(Value::float(r))
        }
        _ => Err(unsupported(vm, "**", x, y)),
    }
}

pub fn neg(vm: &mut Vm, x: Value) -> R {
    match x {
        Value::Int(i) => i.checked_neg().map(Value::Int).ok_or_else(|| overflow(vm)),
        Value::Float(f) => Ok(Value::float(-f.get())),
        _ => {
            let t = x.type_name(&vm.it.heap);
            Err(vm.type_error(format!("bad operand type for unary -: '{t}'")))
        }
    }
}

fn compare_error(vm: &mut Vm, e: CompareError, op: &str) -> Box<Thrown> {
    match e {
        CompareError::Unorderable(a, b) => {
            vm.type_error(format!("'{op}' not supported between instances of '{a}' and '{b}'"))
        }
        CompareError::TooDeep => vm.error("RecursionError", "maximum recursion depth exceeded in comparison"),
    }
}

pub fn equal(vm: &mut Vm, a: Value, b: Value) -> VmResult<bool> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x == y),
        _ => {
            if vm.it.instructions_left.is_some() {
                let work = scan_bytes(&vm.it.heap, a).min(scan_bytes(&vm.it.heap, b));
                vm.charge_bytes(work);
            }
            vm.it.heap.equal(a, b, 0).map_err(|e| compare_error(vm, e, "=="))
        }
    }
}

/// About how many bytes comparing `v` with another value reads at its top level (for the
/// instruction limit's account of work done inside one instruction).
fn scan_bytes(heap: &crate::heap::Heap, v: Value) -> usize {
    use crate::heap::ITEM_BYTES;
    match v {
        Value::List(id) => heap.list(id).len() * ITEM_BYTES,
        Value::Map(id) => heap.map(id).len() * 2 * ITEM_BYTES,
        Value::Str(id) => heap.str_bytes(id).len(),
        _ => 0,
    }
}

pub fn compare(vm: &mut Vm, a: Value, b: Value, op: &str) -> VmResult<Ordering> {
    vm.it.heap.compare(a, b, 0).map_err(|e| compare_error(vm, e, op))
}

/// `a < b`. NaN compares false both ways, as in Python.
pub fn less(vm: &mut Vm, a: Value, b: Value, op: &str) -> VmResult<bool> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x < y),
        (Value::Float(x), Value::Float(y)) => Ok(x.get() < y.get()),
        _ if has_nan(a, b) => Ok(false),
        _ => Ok(compare(vm, a, b, op)? == Ordering::Less),
    }
}

pub fn less_equal(vm: &mut Vm, a: Value, b: Value, op: &str) -> VmResult<bool> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x <= y),
        (Value::Float(x), Value::Float(y)) => Ok(x.get() <= y.get()),
        _ if has_nan(a, b) => Ok(false),
        _ => Ok(compare(vm, a, b, op)? != Ordering::Greater),
    }
}

fn has_nan(a: Value, b: Value) -> bool {
    matches!(a, Value::Float(f) if f.get().is_nan()) || matches!(b, Value::Float(f) if f.get().is_nan())
}

/// `item in container`.
pub fn contains(vm: &mut Vm, container: Value, item: Value) -> VmResult<bool> {
    match container {
        Value::List(id) => {
            let n = vm.it.heap.list(id).len();
            vm.charge_items(n);
            for i in 0..n {
                let Some(&v) = vm.it.heap.list(id).get(i) else { break };
                if equal(vm, v, item)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Value::Map(id) => {
            let heap = &vm.it.heap;
            Ok(match lookup_key(heap, item) {
                Some(k) => heap.map(id).contains_key(k),
                None => false,
            })
        }
        Value::Str(id) => match item {
            Value::Str(sub) => {
                vm.charge_bytes(vm.it.heap.str_bytes(id).len());
                Ok(vm.it.heap.str(id).contains(vm.it.heap.str(sub)))
            }
            _ => {
                let t = item.type_name(&vm.it.heap);
                Err(vm.type_error(format!("'in <string>' requires string as left operand, not {t}")))
            }
        },
        Value::Obj(id) => match vm.it.heap.get(id) {
            Obj::Range(r) => Ok(match item {
                Value::Int(i) => range_contains(r, i),
                Value::Float(f) => int_from_float(f.get()).is_some_and(|i| range_contains(r, i)),
                _ => false,
            }),
            _ => Err(not_iterable(vm, container)),
        },
        _ => {
            let t = container.type_name(&vm.it.heap);
            Err(vm.type_error(format!("argument of type '{t}' is not iterable")))
        }
    }
}

fn range_contains(r: &RangeObj, i: i64) -> bool {
    let inside = if r.step > 0 {
        i >= r.start && i < r.stop
    } else {
        i <= r.start && i > r.stop
    };
    inside && (i as i128 - r.start as i128) % r.step as i128 == 0
}

fn int_from_float(f: f64) -> Option<i64> {
    if f.fract() == 0.0 && f.abs() < 9.2e18 {
        Some(f as i64)
    } else {
        None
    }
}

/// `v` as the key it stands for: an integral float is that int (`m[1.0]` is `m[1]`, as
/// in Python); anything else is itself.
pub fn as_key(v: Value) -> Value {
    match v {
        Value::Float(f) => int_from_float(f.get())
            .filter(|&i| int_float_eq(i, f.get()))
            .map_or(v, Value::Int),
        _ => v,
    }
}

/// The key a value looks up in a map: integral floats find int keys, as in Python.
fn lookup_key(heap: &crate::heap::Heap, v: Value) -> Option<KeyRef<'_>> {
    match v {
        Value::Float(f) => int_from_float(f.get())
            .filter(|&i| int_float_eq(i, f.get()))
            .map(KeyRef::Int),
        _ => heap.key_ref(v),
    }
}

fn not_iterable(vm: &mut Vm, v: Value) -> Box<Thrown> {
    let t = v.type_name(&vm.it.heap);
    vm.type_error(format!("'{t}' object is not iterable"))
}

/// The error for a missing map key: `KeyError: "name"`.
pub fn key_error(vm: &mut Vm, key: Value) -> Box<Thrown> {
    let k = vm.it.heap.repr(key);
    vm.error("KeyError", k)
}

/// An owning key for storing into a map, or the `TypeError` for an unhashable value.
pub fn store_key(vm: &mut Vm, key: Value) -> VmResult<MapKey> {
    if let Value::Float(f) = key
        && let Some(i) = int_from_float(f.get()).filter(|&i| int_float_eq(i, f.get()))
    {
        return Ok(MapKey::Int(i));
    }
    match vm.it.heap.map_key(key) {
        Some(k) => Ok(k),
        None => {
            let t = key.type_name(&vm.it.heap);
            Err(vm.type_error(format!("map keys must be str, int, bool or nil, not {t}")))
        }
    }
}

pub fn new_map(vm: &mut Vm, start: usize, count: usize) -> R {
    let mut m = MapObj::with_capacity(count);
    for i in 0..count {
        let k = vm.fiber.stack[start + 2 * i];
        let v = vm.fiber.stack[start + 2 * i + 1];
        let key = store_key(vm, k)?;
        m.insert(key, v);
    }
    Ok(vm.it.heap.new_map(m))
}

/// Turns a possibly negative index into a position, if it is inside `0..len`.
pub fn normalize_index(i: i64, len: usize) -> Option<usize> {
    let n = len as i64;
    let j = if i < 0 { i + n } else { i };
    if j >= 0 && j < n { Some(j as usize) } else { None }
}

fn index_type_error(vm: &mut Vm, what: &str, i: Value) -> Box<Thrown> {
    let t = i.type_name(&vm.it.heap);
    vm.type_error(format!("{what} indices must be integers, not {t}"))
}

/// The `i`-th code point of a string.
pub fn str_char_at(vm: &mut Vm, id: crate::value::ObjId, i: usize) -> Value {
    let s = vm.it.heap.str_obj(id);
    if s.is_ascii() {
        let b = s.text().as_bytes()[i];
        return vm.char_str(b as char);
    }
    let c = s.text().chars().nth(i).unwrap_or('\0');
    vm.char_str(c)
}

pub fn get_index(vm: &mut Vm, o: Value, i: Value) -> R {
    match (o, i) {
        (Value::List(id), Value::Int(i)) => match normalize_index(i, vm.it.heap.list(id).len()) {
            Some(j) => Ok(vm.it.heap.list(id)[j]),
            None => Err(vm.error("IndexError", "list index out of range")),
        },
        (Value::List(_), _) => Err(index_type_error(vm, "list", i)),
        (Value::Str(id), Value::Int(i)) => match normalize_index(i, vm.it.heap.str_obj(id).chars) {
            Some(j) => Ok(str_char_at(vm, id, j)),
            None => Err(vm.error("IndexError", "string index out of range")),
        },
        (Value::Str(_), _) => Err(index_type_error(vm, "string", i)),
        (Value::Map(id), Value::Int(k)) => match vm.it.heap.map(id).get(KeyRef::Int(k)) {
            Some(v) => Ok(*v),
            None => Err(key_error(vm, i)),
        },
        (Value::Map(id), Value::Str(key)) => match vm.it.heap.map_get_str(id, key) {
            Some(v) => Ok(v),
            None => Err(key_error(vm, i)),
        },
        (Value::Map(id), _) => {
            let heap = &vm.it.heap;
            let found = lookup_key(heap, i).and_then(|k| heap.map(id).get(k).copied());
            match found {
                Some(v) => Ok(v),
                None => {
                    if heap.key_ref(i).is_none() && !matches!(i, Value::Float(_)) {
                        store_key(vm, i)?;
                    }
                    Err(key_error(vm, i))
                }
            }
        }
        (Value::Obj(id), _) => {
            if let Obj::Range(r) = vm.it.heap.get(id) {
                let r = *r;
                let Value::Int(i) = i else {
                    return Err(index_type_error(vm, "range", i));
                };
                return match r.get(i) {
                    Some(n) => Ok(Value::Int(n)),
                    None => Err(vm.error("IndexError", "range object index out of range")),
                };
            }
            Err(not_subscriptable(vm, o))
        }
        _ => Err(not_subscriptable(vm, o)),
    }
}

fn not_subscriptable(vm: &mut Vm, o: Value) -> Box<Thrown> {
    let t = o.type_name(&vm.it.heap);
    vm.type_error(format!("'{t}' object is not subscriptable"))
}

pub fn set_index(vm: &mut Vm, o: Value, i: Value, v: Value) -> VmResult<()> {
    match (o, i) {
        (Value::List(id), Value::Int(i)) => match normalize_index(i, vm.it.heap.list(id).len()) {
            Some(j) => {
                vm.it.heap.list_obj_mut(id).set(j, v);
                Ok(())
            }
            None => Err(vm.error("IndexError", "list assignment index out of range")),
        },
        (Value::List(_), _) => Err(index_type_error(vm, "list", i)),
        (Value::Map(id), Value::Int(k)) => match vm.it.heap.map_insert(id, MapKey::Int(k), v) {
            Ok(()) => Ok(()),
            Err(_) => vm.with_room(|heap| heap.map_insert(id, MapKey::Int(k), v)),
        },
        (Value::Map(id), Value::Str(key)) => match vm.it.heap.map_set_str(id, key, v) {
            Ok(()) => Ok(()),
            Err(_) => vm.with_room(|heap| heap.map_set_str(id, key, v)),
        },
        (Value::Map(id), _) => {
            let key = store_key(vm, i)?;
            vm.with_room(|heap| heap.map_insert(id, key.clone(), v))
        }
        _ => {
            let t = o.type_name(&vm.it.heap);
            Err(vm.type_error(format!("'{t}' object does not support item assignment")))
        }
    }
}

fn no_such_field(vm: &mut Vm, o: Value, name: &str) -> Box<Thrown> {
    let t = o.type_name(&vm.it.heap);
    vm.error("AttributeError", format!("'{t}' object has no attribute '{name}'"))
}

/// `o.name(...)` where `o`'s kind has no method `name` (a string constant).
pub fn attribute_error(vm: &mut Vm, o: Value, name: Value) -> Box<Thrown> {
    let name = vm.it.heap.display(name);
    no_such_field(vm, o, &name)
}

/// `o.name` for objects that have fields (`e.kind`, `e.message`).
pub fn object_field(vm: &mut Vm, id: ObjId, field: &str) -> Option<Value> {
    let text = match vm.it.heap.get(id) {
        Obj::Error(e) => match field {
            "kind" => e.kind.clone(),
            "message" => e.message.clone(),
            _ => return None,
        },
        Obj::Listener(l) if field == "port" => return Some(Value::Int(l.port as i64)),
        Obj::Thread(t) if field == "id" => return Some(Value::Int(t.tid as i64)),
        Obj::Process(p) if field == "pid" => return Some(Value::Int(p.pid as i64)),
        Obj::Module(m) => {
            let slot = *m.fields.get(field)?;
            return match vm.it.globals.values[slot as usize] {
                Value::Undef => None,
                v => Some(v),
            };
        }
        Obj::Range(r) => {
            return match field {
                "start" => Some(Value::Int(r.start)),
                "stop" => Some(Value::Int(r.stop)),
                "step" => Some(Value::Int(r.step)),
                _ => None,
            };
        }
        _ => return None,
    };
    Some(vm.new_str(text))
}

/// `o.name`: a map entry, or a field of an object that has fields.
pub fn get_field(vm: &mut Vm, o: Value, name: Value) -> R {
    let Value::Str(nid) = name else {
        unreachable!("field names are string constants")
    };
    match o {
        Value::Map(id) => match vm.it.heap.map_get_str(id, nid) {
            Some(v) => Ok(v),
            None => Err(key_error(vm, name)),
        },
        Value::Obj(id) => {
            let field = vm.it.heap.str_rc(nid).clone();
            if let Some(v) = object_field(vm, id, &field) {
                return Ok(v);
            }
            Err(no_such_field(vm, o, &field))
        }
        _ => {
            let field = vm.it.heap.str_rc(nid).clone();
            Err(no_such_field(vm, o, &field))
        }
    }
}

pub fn set_field(vm: &mut Vm, o: Value, name: Value, v: Value) -> VmResult<()> {
    match o {
        Value::Map(id) => {
            let Value::Str(nid) = name else {
                unreachable!("field names are string constants")
            };
            match vm.it.heap.map_set_str(id, nid, v) {
                Ok(()) => Ok(()),
                Err(_) => vm.with_room(|heap| heap.map_set_str(id, nid, v)),
            }
        }
        Value::Obj(id) if matches!(vm.it.heap.get(id), Obj::Module(_)) => {
            let field = vm.it.heap.display(name);
            let shown = vm.it.heap.display(o);
            Err(vm.type_error(format!(
                "cannot assign to field '{field}' of {shown}: a module's fields are read-only outside it"
            )))
        }
        _ => {
            let field = vm.it.heap.display(name);
            let t = o.type_name(&vm.it.heap);
            Err(vm.error("AttributeError", format!("cannot set field '{field}' on '{t}' object")))
        }
    }
}

/// Python's slice clamping for `[lo:hi]` over a sequence of `len` items.
fn clamp_bounds(vm: &mut Vm, lo: Value, hi: Value, len: usize) -> VmResult<(usize, usize)> {
    let n = len as i64;
    let mut bound = |v: Value, default: i64| -> VmResult<i64> {
        match v {
            Value::Nil => Ok(default),
            Value::Int(i) => Ok(if i < 0 { (i + n).max(0) } else { i.min(n) }),
            other => Err(slice_step::slice_index_error(vm, other)),
        }
    };
    let a = bound(lo, 0)?;
    let b = bound(hi, n)?;
    Ok((a as usize, (b.max(a)) as usize))
}

pub fn slice(vm: &mut Vm, o: Value, lo: Value, hi: Value) -> R {
    match o {
        Value::List(id) => {
            let len = vm.it.heap.list(id).len();
            let (a, b) = clamp_bounds(vm, lo, hi, len)?;
            let mut items = vm.list_with_capacity((b - a) as u128)?;
            items.extend_from_slice(&vm.it.heap.list(id)[a..b]);
            Ok(vm.it.heap.new_list(items))
        }
        Value::Str(id) => {
            let len = vm.it.heap.str_obj(id).chars;
            let (a, b) = clamp_bounds(vm, lo, hi, len)?;
            let s = vm.it.heap.str_obj(id);
            let (from, to) = if s.is_ascii() {
                (a, b)
            } else {
                let mut at = s
                    .text()
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain(std::iter::once(s.text().len()));
                let from = at.nth(a).unwrap_or(s.text().len());
                let to = if b > a {
                    at.nth(b - a - 1).unwrap_or(s.text().len())
                } else {
                    from
                };
                (from, to)
            };
            let mut out = vm.string_with_capacity((to - from) as u128)?;
            out.push_str(&vm.it.heap.str_obj(id).text()[from..to]);
            vm.str_value(out)
        }
        Value::Obj(id) if let Obj::Range(r) = *vm.it.heap.get(id) => {
            // A plain slice of a range is its slice with step 1.
            let sliced = slice_step::range_slice(vm, r, lo, hi, 1)?;
            Ok(vm.new_range(sliced))
        }
        _ => Err(slice_step::unsliceable(vm, o)),
    }
}

/// Sets up the three loop registers at `slot` for `for ... in v`. Ranges keep
/// (next, stop, step) as ints; strings keep (string, byte position, nil); lists keep
/// (list, position, length at the start), so a loop whose list changes size under it
/// stops with `RuntimeError` instead of skipping or repeating items. Maps keep (map,
/// position, length at the start << 32 | keys yielded so far): as in Python, a map whose
/// keys change but not its size (a key popped, another added) stops the loop once it
/// would yield more keys than it began with. (Maps hold fewer than 2^32 keys.)
pub fn iter_prep(vm: &mut Vm, slot: usize, v: Value) -> VmResult<()> {
    let state = match v {
        Value::Str(_) => [v, Value::Int(0), Value::Nil],
        Value::List(id) => [v, Value::Int(0), Value::Int(vm.it.heap.list(id).len() as i64)],
        Value::Map(id) => [v, Value::Int(0), Value::Int((vm.it.heap.map(id).len() as i64) << 32)],
        Value::Obj(id) => match vm.it.heap.get(id) {
            Obj::Range(r) => r.loop_state(),
            _ => return Err(not_iterable(vm, v)),
        },
        _ => return Err(not_iterable(vm, v)),
    };
    vm.fiber.stack[slot..slot + 3].copy_from_slice(&state);
    Ok(())
}

/// The next item of a non-range loop, or None when it is done; `RuntimeError` if the
/// list or map being walked changed size since the loop began.
pub fn iter_next(vm: &mut Vm, slot: usize) -> VmResult<Option<Value>> {
    let Value::Int(pos) = vm.fiber.stack[slot + 1] else {
        return Ok(None);
    };
    let pos = pos as usize;
    let walked = vm.fiber.stack[slot];
    let state = vm.fiber.stack[slot + 2];
    let (len, started, what) = match (walked, state) {
        (Value::List(id), Value::Int(n)) => (vm.it.heap.list(id).len(), n as usize, "list"),
        (Value::Map(id), Value::Int(n)) => (vm.it.heap.map(id).len(), (n >> 32) as usize, "map"),
        _ => (0, 0, ""),
    };
    if started != len {
        return Err(vm.error("RuntimeError", format!("{what} changed size during iteration")));
    }
    let (item, next) = match walked {
        Value::List(id) => match vm.it.heap.list(id).get(pos) {
            Some(&v) => (v, pos + 1),
            None => return Ok(None),
        },
        Value::Str(id) => match vm.it.heap.str(id).get(pos..).and_then(|s| s.chars().next()) {
            Some(c) => (vm.char_str(c), pos + c.len_utf8()),
            None => return Ok(None),
        },
        Value::Map(id) => match vm.it.heap.map(id).next_entry(pos) {
            Some((at, key, _)) => {
                let Value::Int(state) = state else {
                    unreachable!("a map loop keeps an int state")
                };
                if (state & 0xFFFF_FFFF) as usize == len {
                    return Err(vm.error("RuntimeError", "map keys changed during iteration"));
                }
                let key = key.clone();
                vm.fiber.stack[slot + 2] = Value::Int(state + 1);
                (vm.it.heap.key_value(&key), at + 1)
            }
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    vm.fiber.stack[slot + 1] = Value::Int(next as i64);
    Ok(Some(item))
}

/// `format(v, spec)`, as Python's `format()`: also an f-string's `{v:spec}`.
pub fn format_with(vm: &mut Vm, v: Value, spec: &str) -> VmResult<Value> {
    let text = match v {
        Value::Int(i) => format_value(FmtArg::Int(i), spec),
        Value::Float(f) => format_value(FmtArg::Float(f.get()), spec),
        Value::Bool(b) => format_value(FmtArg::Bool(b.get()), spec),
        Value::Nil => format_value(FmtArg::Nil, spec),
        Value::Str(id) => {
            let s = vm.it.heap.str_rc(id).clone();
            format_value(FmtArg::Str(&s), spec)
        }
        other => {
            let s = vm.it.heap.display(other);
            format_value(FmtArg::Str(&s), spec)
        }
    };
    match text {
        Ok(t) => Ok(vm.new_str(t)),
        Err(msg) => Err(vm.error("ValueError", msg)),
    }
}

/// `str(v)`: a string is itself; anything else its printed form.
pub fn to_str(vm: &mut Vm, v: Value) -> Value {
    match v {
        Value::Str(_) => v,
        other => {
            let s = vm.it.heap.display(other);
            vm.new_str(s)
        }
    }
}

/// The items of a list, string (its characters) or range `v` that must hold exactly
/// `count` (`let a, b = v`), as Python's unpacking reports a mismatch.
pub fn unpack(vm: &mut Vm, v: Value, count: usize) -> VmResult<smallvec::SmallVec<[Value; 8]>> {
    let items: smallvec::SmallVec<[Value; 8]> = match v {
        Value::List(id) => smallvec::SmallVec::from_slice(vm.it.heap.list(id)),
        // Only as many characters or numbers as could match are made, so a long string or
        // a huge range costs nothing to refuse.
        Value::Str(id) => {
            let chars: smallvec::SmallVec<[char; 8]> = vm.it.heap.str(id).chars().take(count + 1).collect();
            chars.into_iter().map(|c| vm.char_str(c)).collect()
        }
        Value::Obj(id) => match *vm.it.heap.get(id) {
            Obj::Range(r) => (0..=count as i64).map_while(|i| r.get(i)).map(Value::Int).collect(),
            _ => return Err(cannot_unpack(vm, v, count)),
        },
        _ => return Err(cannot_unpack(vm, v, count)),
    };
    if items.len() == count {
        return Ok(items);
    }
    let n = match v {
        Value::Str(id) => vm.it.heap.str_obj(id).chars as u64,
        Value::Obj(id) => match vm.it.heap.get(id) {
            Obj::Range(r) => r.len(),
            _ => items.len() as u64,
        },
        _ => items.len() as u64,
    };
    let message = if n > count as u64 {
        format!("too many values to unpack (expected {count}, got {n})")
    } else {
        format!("not enough values to unpack (expected {count}, got {n})")
    };
    Err(vm.error("ValueError", message))
}

fn cannot_unpack(vm: &mut Vm, v: Value, count: usize) -> Box<Thrown> {
    let t = v.type_name(&vm.it.heap);
    vm.type_error(format!("cannot unpack {t} into {count} variables"))
}

/// The strings in the `count` stack slots from `slot` on, joined (an f-string's pieces).
pub fn concat(vm: &mut Vm, slot: usize, count: usize) -> VmResult<Value> {
    let mut len = 0usize;
    for v in &vm.fiber.stack[slot..slot + count] {
        if let Value::Str(id) = v {
            len = len.saturating_add(vm.it.heap.str(*id).len());
        }
    }
    let mut out = String::new();
    if out.try_reserve_exact(len).is_err() {
        return Err(vm.error("MemoryError", "the formatted string is too long"));
    }
    for v in &vm.fiber.stack[slot..slot + count] {
        if let Value::Str(id) = v {
            out.push_str(vm.it.heap.str(*id));
        }
    }
    Ok(vm.new_str(out))
}

/// The value of field `name` (a string constant) of `recv` if it is a module that has it.
pub fn module_field(vm: &mut Vm, recv: Value, name: Value) -> Option<Value> {
    let (Value::Obj(id), Value::Str(nid)) = (recv, name) else {
        return None;
    };
    if !matches!(vm.it.heap.get(id), Obj::Module(_)) {
        return None;
    }
    let field = vm.it.heap.str_rc(nid).clone();
    object_field(vm, id, &field)
}
