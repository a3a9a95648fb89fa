//! The core builtin functions: printing and conversion (`print str int float type
//! format`), numbers (`abs min max sum sqrt floor round`), containers (`len sorted
//! range`), and errors (`assert error`).
//!
//! Invariant: a builtin never runs the collector itself; when it calls back into toy code
//! (a sort key) that code runs with collection held off (`Vm::call_value`), so values a
//! builtin keeps in Rust locals stay valid.

use super::args::{arity, int_arg, items_of, num_arg, str_arg};
use crate::compare::CompareError;
use crate::object::{Obj, RangeObj};
use crate::value::Value;
use crate::vm::ops;
use crate::vm::{Vm, VmResult};
use std::cmp::Ordering;
use std::fmt::Display;

type R = VmResult<Value>;

pub(super) fn print(vm: &mut Vm, args: &[Value]) -> R {
    let mut line = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(&vm.it.heap.display(*a));
    }
    line.push('\n');
    vm.write_output(&line);
    Ok(Value::Nil)
}

pub(super) fn repl_echo(vm: &mut Vm, args: &[Value]) -> R {
    if let Some(&v) = args.first()
        && !matches!(v, Value::Nil)
    {
        let line = format!("{}\n", vm.it.heap.repr(v));
        vm.write_output(&line);
    }
    Ok(Value::Nil)
}

pub(super) fn len(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "len", args, 1, 1)?;
    let n = match args[0] {
        Value::Str(id) => vm.it.heap.str_obj(id).chars as i64,
        Value::List(id) => vm.it.heap.list(id).len() as i64,
        Value::Map(id) => vm.it.heap.map(id).len() as i64,
        Value::Obj(id) => match vm.it.heap.get(id) {
            Obj::Range(r) => match i64::try_from(r.len()) {
                Ok(n) => n,
                Err(_) => return Err(vm.error("OverflowError", "range has more items than an int can count")),
            },
            _ => return no_len(vm, args[0]),
        },
        other => return no_len(vm, other),
    };
    Ok(Value::Int(n))
}

fn no_len(vm: &mut Vm, v: Value) -> R {
    let t = v.type_name(&vm.it.heap);
    Err(vm.type_error(format!("object of type '{t}' has no len()")))
}

pub(super) fn str_(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "str", args, 0, 1)?;
    match args.first() {
        None => Ok(vm.new_str("")),
        Some(v @ Value::Str(_)) => Ok(*v),
        // `itoa` writes two digits a step and hands back a `str` without re-checking it.
        Some(Value::Int(i)) => Ok(vm.new_str(itoa::Buffer::new().format(*i))),
        Some(v) => {
            let s = vm.it.heap.display(*v);
            Ok(vm.new_str(s))
        }
    }
}

/// A float that is an exact int in range, or the error Python gives for it.
fn float_to_int(vm: &mut Vm, f: f64) -> R {
    if f.is_nan() {
        return Err(vm.error("ValueError", "cannot convert float NaN to integer"));
    }
    if f.is_infinite() {
        return Err(vm.error("OverflowError", "cannot convert float infinity to integer"));
    }
    let t = f.trunc();
    if !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&t) {
        return Err(vm.error("OverflowError", "integer overflow"));
    }
    Ok(Value::Int(t as i64))
}

pub(super) fn int(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "int", args, 1, 1)?;
    match args[0] {
        Value::Int(i) => Ok(Value::Int(i)),
        Value::Bool(b) => Ok(Value::Int(b.get() as i64)),
        Value::Float(f) => float_to_int(vm, f.get()),
        Value::Str(id) => {
            let text = vm.it.heap.str(id).to_string();
            match parse_int(&text) {
                Some(Ok(i)) => Ok(Value::Int(i)),
                Some(Err(())) => Err(vm.error("OverflowError", "integer overflow")),
                None => {
                    let q = crate::format::quote_str(&text);
                    Err(vm.error("ValueError", format!("invalid literal for int(): {q}")))
                }
            }
        }
        other => {
            let t = other.type_name(&vm.it.heap);
            Err(vm.type_error(format!("int() can't convert {t}")))
        }
    }
}

/// Python's `int(str)`: optional sign, digits with single underscores between them,
/// surrounding whitespace. Some(Err) when the digits do not fit 64 bits.
fn parse_int(text: &str) -> Option<Result<i64, ()>> {
    let t = text.trim();
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    if !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    let mut acc: i128 = 0;
    for b in clean.bytes() {
        acc = acc * 10 + (b - b'0') as i128;
        if acc > i64::MAX as i128 + 1 {
            return Some(Err(()));
        }
    }
    let v = if neg { -acc } else { acc };
    Some(i64::try_from(v).map_err(|_| ()))
}

pub(super) fn float(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "float", args, 1, 1)?;
    match args[0] {
        Value::Int(i) => Ok(Value::float(i as f64)),
        Value::Float(f) => Ok(Value::Float(f)),
        Value::Bool(b) => Ok(Value::float(b.get() as i64 as f64)),
        Value::Str(id) => {
            let text = vm.it.heap.str(id).to_string();
            match parse_float(&text) {
                Some(f) => Ok(Value::float(f)),
                None => {
                    let q = crate::format::quote_str(&text);
                    Err(vm.error("ValueError", format!("could not convert string to float: {q}")))
                }
            }
        }
        other => {
            let t = other.type_name(&vm.it.heap);
            Err(vm.type_error(format!("float() can't convert {t}")))
        }
    }
}

/// Python's `float(str)`: decimal or exponent forms, `inf`, `nan`, underscores between
/// digits, surrounding whitespace.
fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim();
    let body = t.trim_start_matches(['+', '-']);
    if t.len() - body.len() > 1 {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        let v = if lower == "nan" { f64::NAN } else { f64::INFINITY };
        return Some(if t.starts_with('-') { -v } else { v });
    }
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit() || b"._eE+-".contains(&b)) {
        return None;
    }
    if body.contains("__") || body.starts_with('_') || body.ends_with('_') {
        return None;
    }
    let clean: String = t.chars().filter(|&c| c != '_').collect();
    clean.parse::<f64>().ok()
}

pub(super) fn type_(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "type", args, 1, 1)?;
    let t = args[0].type_name(&vm.it.heap);
    Ok(vm.new_str(t))
}

pub(super) fn abs(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "abs", args, 1, 1)?;
    match args[0] {
        Value::Int(i) => i
            .checked_abs()
            .map(Value::Int)
            .ok_or_else(|| vm.error("OverflowError", "integer overflow")),
        Value::Float(f) => Ok(Value::float(f.get().abs())),
        other => {
            let t = other.type_name(&vm.it.heap);
            Err(vm.type_error(format!("bad operand type for abs(): '{t}'")))
        }
    }
}

/// `min`/`max` of one iterable, of several arguments, or `max(xs, key)`: one iterable and a
/// function (the first of equal items wins, as in Python).
fn extreme(vm: &mut Vm, name: impl Display + Copy, args: &[Value], want: Ordering) -> R {
    arity(vm, name, args, 1, usize::MAX)?;
    let with_key = args.len() == 2 && matches!(args[1], Value::Func(_) | Value::Builtin(_));
    let (items, key) = if args.len() == 1 || with_key {
        (items_of(vm, name, args[0])?, with_key.then(|| args[1]))
    } else {
        (args.to_vec(), None)
    };
    let Some(&first) = items.first() else {
        return Err(vm.error("ValueError", format!("{name}() arg is an empty sequence")));
    };
    let rank = |vm: &mut Vm, v: Value| match key {
        Some(f) => vm.call_value(f, &[v]),
        None => Ok(v),
    };
    let (mut best, mut best_rank) = (first, rank(vm, first)?);
    for &v in &items[1..] {
        let r = rank(vm, v)?;
        if ops::compare(vm, r, best_rank, "<")? == want {
            (best, best_rank) = (v, r);
        }
    }
    Ok(best)
}

/// `ord(c)`: the code point of a one-character string.
pub(super) fn ord(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "ord", args, 1, 1)?;
    let s = str_arg(vm, "ord", args[0])?;
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(Value::Int(c as i64)),
        _ => {
            let n = s.chars().count();
            Err(vm.type_error(format!("ord() expected a character, but string of length {n} found")))
        }
    }
}

/// `chr(i)`: the one-character string of code point `i`.
pub(super) fn chr(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "chr", args, 1, 1)?;
    let i = int_arg(vm, "chr", args[0])?;
    match u32::try_from(i).ok().filter(|&n| n < 0x110000) {
        None => Err(vm.error("ValueError", "chr() arg not in range(0x110000)")),
        Some(n) => match char::from_u32(n) {
            Some(c) => Ok(vm.char_str(c)),
            None => Err(vm.error("ValueError", format!("chr() arg {i} is a surrogate, not a character"))),
        },
    }
}

pub(super) fn min(vm: &mut Vm, args: &[Value]) -> R {
    extreme(vm, "min", args, Ordering::Less)
}

pub(super) fn max(vm: &mut Vm, args: &[Value]) -> R {
    extreme(vm, "max", args, Ordering::Greater)
}

pub(super) fn sum(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "sum", args, 1, 2)?;
    let mut acc = args.get(1).copied().unwrap_or(Value::Int(0));
    if let Value::Obj(id) = args[0]
        && let Obj::Range(r) = vm.it.heap.get(id)
    {
        let r = *r;
        let n = r.len() as i128;
        let total = n * r.start as i128 + r.step as i128 * n * (n - 1) / 2;
        let total = i64::try_from(total).map_err(|_| vm.error("OverflowError", "integer overflow"))?;
        return ops::add(vm, acc, Value::Int(total));
    }
    if let Value::List(id) = args[0] {
        let n = vm.it.heap.list(id).len();
        for i in 0..n {
            let Some(&v) = vm.it.heap.list(id).get(i) else { break };
            acc = match ops::add_fast(&acc, &v) {
                Some(x) => x,
                None => sum_step(vm, acc, v)?,
            };
        }
        return Ok(acc);
    }
    for v in items_of(vm, "sum", args[0])? {
        acc = sum_step(vm, acc, v)?;
    }
    Ok(acc)
}

fn sum_step(vm: &mut Vm, acc: Value, v: Value) -> R {
    if matches!(acc, Value::Str(_)) || matches!(v, Value::Str(_)) {
        return Err(vm.type_error("sum() can't sum strings (use \"\".join(items) instead)"));
    }
    ops::add(vm, acc, v)
}

/// A stable sort of `items`, by `key(item)` when a key function is given.
pub(super) fn sort_values(
    vm: &mut Vm,
    name: impl Display + Copy,
    items: Vec<Value>,
    key: Option<Value>,
) -> VmResult<Vec<Value>> {
    // About n log n comparisons, each work for the instruction limit.
    let n = items.len();
    vm.charge_items(n.saturating_mul((usize::BITS - n.leading_zeros()) as usize));
    let keys = match key {
        Some(Value::Nil) | None => items.clone(),
        Some(f) => {
            let mut keys = Vec::with_capacity(items.len());
            for &v in &items {
                keys.push(vm.call_value(f, &[v])?);
            }
            keys
        }
    };
    let mut order: Vec<usize> = (0..items.len()).collect();
    let mut failure = None;
    let heap = &vm.it.heap;
    order.sort_by(|&a, &b| {
        if failure.is_some() {
            return Ordering::Equal;
        }
        heap.compare(keys[a], keys[b], 0).unwrap_or_else(|e| {
            failure = Some(e);
            Ordering::Equal
        })
    });
    if let Some(e) = failure {
        return Err(match e {
            CompareError::Unorderable(a, b) => vm.type_error(format!(
                "{name}(): '<' not supported between instances of '{a}' and '{b}'"
            )),
            CompareError::TooDeep => vm.error("RecursionError", "maximum recursion depth exceeded in comparison"),
        });
    }
    Ok(order.into_iter().map(|i| items[i]).collect())
}

pub(super) fn sorted(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "sorted", args, 1, 2)?;
    let items = items_of(vm, "sorted", args[0])?;
    let out = sort_values(vm, "sorted", items, args.get(1).copied())?;
    Ok(vm.it.heap.new_list(out))
}

pub(super) fn sqrt(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "sqrt", args, 1, 1)?;
    let x = num_arg(vm, "sqrt", args[0])?;
    if x < 0.0 {
        return Err(vm.error("ValueError", "math domain error"));
    }
    Ok(Value::float(x.sqrt()))
}

pub(super) fn floor(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "floor", args, 1, 1)?;
    match args[0] {
        Value::Int(i) => Ok(Value::Int(i)),
        v => {
            let f = num_arg(vm, "floor", v)?;
            float_to_int(vm, f.floor())
        }
    }
}

pub(super) fn round(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "round", args, 1, 2)?;
    let digits = match args.get(1) {
        None | Some(Value::Nil) => None,
        Some(&d) => Some(int_arg(vm, "round", d)?),
    };
    match (args[0], digits) {
        (Value::Int(i), None) => Ok(Value::Int(i)),
        (Value::Int(i), Some(d)) if d >= 0 => Ok(Value::Int(i)),
        (Value::Int(i), Some(d)) => {
            if d < -18 {
                return Ok(Value::Int(0));
            }
            let p = 10i128.pow((-d) as u32);
            let (q, r) = ((i as i128).div_euclid(p), (i as i128).rem_euclid(p));
            let q = if 2 * r > p || (2 * r == p && q % 2 != 0) {
                q + 1
            } else {
                q
            };
            i64::try_from(q * p)
                .map(Value::Int)
                .map_err(|_| vm.error("OverflowError", "integer overflow"))
        }
        (Value::Float(f), None) => float_to_int(vm, f.get().round_ties_even()),
        (Value::Float(f), Some(d)) => {
            let f = f.get();
            if !f.is_finite() || d > 300 {
                return Ok(Value::float(f));
            }
            if d >= 0 {
                // Rounding the exact binary value in decimal, as Python does.
                let text = format!("{:.*}", d as usize, f);
                return Ok(Value::float(text.parse().unwrap_or(f)));
            }
            let p = 10f64.powi((-d).min(308) as i32);
            Ok(Value::float((f / p).round_ties_even() * p))
        }
        (other, _) => {
            let t = other.type_name(&vm.it.heap);
            Err(vm.type_error(format!("round() expected a number, got {t}")))
        }
    }
}

pub(super) fn range(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "range", args, 1, 3)?;
    let mut n = [0i64; 3];
    for (i, a) in args.iter().enumerate() {
        n[i] = int_arg(vm, "range", *a)?;
    }
    let r = match args.len() {
        1 => RangeObj {
            start: 0,
            stop: n[0],
            step: 1,
        },
        2 => RangeObj {
            start: n[0],
            stop: n[1],
            step: 1,
        },
        _ => RangeObj {
            start: n[0],
            stop: n[1],
            step: n[2],
        },
    };
    if r.step == 0 {
        return Err(vm.error("ValueError", "range() arg 3 must not be zero"));
    }
    Ok(vm.new_range(r))
}

pub(super) fn format(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "format", args, 1, 2)?;
    let spec = match args.get(1) {
        Some(&s) => str_arg(vm, "format", s)?,
        None => "".into(),
    };
    ops::format_with(vm, args[0], &spec)
}

pub(super) fn assert(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "assert", args, 1, 2)?;
    if args[0].truthy(&vm.it.heap) {
        return Ok(Value::Nil);
    }
    let msg = match args.get(1) {
        Some(&m) => vm.it.heap.display(m),
        None => "assertion failed".to_string(),
    };
    Err(vm.error("AssertionError", msg))
}

pub(super) fn error(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "error", args, 1, 2)?;
    let (kind, msg) = match args {
        [m] => ("Error".to_string(), vm.it.heap.display(*m)),
        _ => {
            let kind = str_arg(vm, "error", args[0])?.to_string();
            (kind, vm.it.heap.display(args[1]))
        }
    };
    Ok(vm.it.heap.new_error(&kind, &msg))
}
