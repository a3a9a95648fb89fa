//! Equality and ordering of values: `==` by value for numbers, by content for strings,
//! lists and maps, by the numbers they yield for ranges, by identity for everything
//! else; `<` for numbers, strings and lists (lexicographically, like Python tuples).
//!
//! Invariant: comparisons are exact across int and float (`2**63 - 1 != 2.0**63`), and
//! descend at most `MAX_NESTING` levels into nested containers, so a deep or cyclic
//! structure gives a `CompareError::TooDeep` instead of overflowing the Rust stack.

use crate::heap::Heap;
use crate::object::{Obj, RangeObj};
use crate::value::{Value, num_as_f64};

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
    /// Structural equality: numbers by value, strings by content, lists and maps by
    /// contents, ranges by their numbers, everything else by identity. Errs only when nesting is too deep.
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
            (Value::Obj(x), Value::Obj(y)) => match (self.get(x), self.get(y)) {
                (Obj::Range(p), Obj::Range(q)) => same_numbers(p, q),
                _ => x == y,
            },
            (Value::Func(x), Value::Func(y)) => x == y,
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
}

/// Ranges are equal when they yield the same numbers, as in Python
/// (`range(0) == range(4, 2)`, `range(0, 3, 2) == range(0, 4, 2)`).
fn same_numbers(p: &RangeObj, q: &RangeObj) -> bool {
    let n = p.len();
    n == q.len() && (n == 0 || (p.start == q.start && (n == 1 || p.step == q.step)))
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
