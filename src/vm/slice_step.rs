//! Slices with a step, `x[a:b:k]`, over lists, strings (by code point) and ranges.
//!
//! Invariant: the items picked are exactly Python's: the step is checked first (nil is 1,
//! 0 throws `ValueError`, anything but an int a `TypeError`), then the bounds, whose
//! defaults and clamping depend on the step's sign (`slice.indices`). A range sliced with
//! a step is a range, with Python's start, stop and step wherever they fit in an `int`.
//! All index arithmetic is done in i128, so no step or bound can overflow it. Assigning
//! to such a slice (`slice_target`) picks the same items.

use super::machine::{Thrown, Vm, VmResult};
use crate::object::{Obj, RangeObj};
use crate::value::Value;

/// Which items a stepped slice takes: `count` of them, the first at index `first`, then
/// every `step`th; `stop` is Python's stop index (for a range's stop).
#[derive(Clone, Copy)]
pub struct Picked {
    first: i128,
    stop: i128,
    step: i128,
    count: i128,
}

impl Picked {
    /// How many items the slice takes.
    pub fn len(&self) -> usize {
        // `pick` keeps the count within the sequence's length.
        self.count as usize
    }

    /// The index of the `k`th item taken (`k < len()`).
    pub fn index(&self, k: usize) -> usize {
        // In bounds: `first + k * step` for `k < count` lies in `0..len`.
        (self.first + k as i128 * self.step) as usize
    }
}

/// The error for a slice bound or step that is neither an int nor nil (plain slices in
/// `ops` use it too).
pub(super) fn slice_index_error(vm: &mut Vm, v: Value) -> Box<Thrown> {
    let t = v.type_name(&vm.it.heap);
    vm.type_error(format!("slice indices must be integers or nil, not {t}"))
}

/// The error for slicing a value that is no list, string or range.
pub(super) fn unsliceable(vm: &mut Vm, o: Value) -> Box<Thrown> {
    let t = o.type_name(&vm.it.heap);
    vm.type_error(format!("'{t}' object cannot be sliced"))
}

/// The step as a number: 1 for nil, else a non-zero int.
fn step_of(vm: &mut Vm, step: Value) -> VmResult<i128> {
    match step {
        Value::Nil => Ok(1),
        Value::Int(0) => Err(vm.error("ValueError", "slice step cannot be zero")),
        Value::Int(k) => Ok(i128::from(k)),
        other => Err(slice_index_error(vm, other)),
    }
}

/// Python's `slice(lo, hi, step).indices(len)` and the number of items it yields.
fn pick(vm: &mut Vm, lo: Value, hi: Value, step: i128, len: i128) -> VmResult<Picked> {
    let backward = step < 0;
    let mut bound = |v: Value, default: i128| -> VmResult<i128> {
        match v {
            Value::Nil => Ok(default),
            Value::Int(i) => {
                let i = i128::from(i);
                let i = if i < 0 { i + len } else { i };
                Ok(if i < 0 {
                    if backward { -1 } else { 0 }
                } else if i >= len {
                    if backward { len - 1 } else { len }
                } else {
                    i
                })
            }
            other => Err(slice_index_error(vm, other)),
        }
    };
    let (first, stop) = if backward {
        (bound(lo, len - 1)?, bound(hi, -1)?)
    } else {
        (bound(lo, 0)?, bound(hi, len)?)
    };
    let count = if backward && stop < first {
        (first - stop - 1) / -step + 1
    } else if !backward && first < stop {
        (stop - first - 1) / step + 1
    } else {
        0
    };
    Ok(Picked {
        first,
        stop,
        step,
        count,
    })
}

/// Which items of a sequence of `len` items `x[lo:hi:step] = items` replaces.
pub enum SliceTarget {
    /// Step 1 (or nil): the items `from..to` (`to >= from`), replaced by any number of
    /// items.
    Run { from: usize, to: usize },
    /// Any other step: the items the slice takes, each replaced by one item.
    Every(Picked),
}

/// Where `x[lo:hi:step] = items` puts the items in a list of `len`, with Python's
/// bounds, step checks and errors (those of reading the same slice).
pub fn slice_target(vm: &mut Vm, lo: Value, hi: Value, step: Value, len: usize) -> VmResult<SliceTarget> {
    let step = step_of(vm, step)?;
    let p = pick(vm, lo, hi, step, len as i128)?;
    Ok(if step == 1 {
        // Forward, so `first` is within `0..=len`.
        let from = p.first as usize;
        SliceTarget::Run {
            from,
            to: from + p.len(),
        }
    } else {
        SliceTarget::Every(p)
    })
}

/// `o[lo:hi:step]`.
pub fn slice_step(vm: &mut Vm, o: Value, lo: Value, hi: Value, step: Value) -> VmResult<Value> {
    let is_range = matches!(o, Value::Obj(id) if matches!(vm.it.heap.get(id), Obj::Range(_)));
    if !matches!(o, Value::List(_) | Value::Str(_)) && !is_range {
        return Err(unsliceable(vm, o));
    }
    // A nil step is step 1: the plain slice's items (`x[a:b:]` compiles to the plain
    // slice; this is a step that is nil only at run time).
    let step = step_of(vm, step)?;
    match o {
        Value::List(id) => {
            let len = vm.it.heap.list(id).len();
            let p = pick(vm, lo, hi, step, len as i128)?;
            let mut items = vm.list_with_capacity(p.len() as u128)?;
            let source = vm.it.heap.list(id);
            items.extend((0..p.len()).map(|k| source[p.index(k)]));
            Ok(vm.it.heap.new_list(items))
        }
        Value::Str(id) => {
            let len = vm.it.heap.str_obj(id).chars;
            let p = pick(vm, lo, hi, step, len as i128)?;
            let s = vm.it.heap.str_obj(id);
            let picked: Vec<char> = if s.is_ascii() {
                let bytes = s.text().as_bytes();
                (0..p.len()).map(|k| char::from(bytes[p.index(k)])).collect()
            } else {
                let chars: Vec<char> = s.text().chars().collect();
                (0..p.len()).map(|k| chars[p.index(k)]).collect()
            };
            let bytes: usize = picked.iter().map(|c| c.len_utf8()).sum();
            let mut out = vm.string_with_capacity(bytes as u128)?;
            out.extend(picked);
            vm.str_value(out)
        }
        Value::Obj(id) if let Obj::Range(r) = *vm.it.heap.get(id) => {
            let sliced = range_slice(vm, r, lo, hi, step)?;
            Ok(vm.new_range(sliced))
        }
        _ => Err(unsliceable(vm, o)),
    }
}

/// `r[lo:hi:step]` (`ops::slice` asks for step 1): the range of those of `r`'s numbers.
pub(super) fn range_slice(vm: &mut Vm, r: RangeObj, lo: Value, hi: Value, step: i128) -> VmResult<RangeObj> {
    let p = pick(vm, lo, hi, step, i128::from(r.len()))?;
    stepped_range(vm, r, p)
}

/// The range of the numbers of `r` that `p` picks: Python's `range(start + first * step,
/// start + stop * step, step * p.step)`. Where one of those does not fit in an `int`, a
/// start, stop or step that yields the same numbers; a range that no `int` bounds can
/// describe (two numbers or more and a step too large, or one that must end on `int`'s
/// extreme) throws `OverflowError`.
fn stepped_range(vm: &mut Vm, r: RangeObj, p: Picked) -> VmResult<RangeObj> {
    let (start, step) = (i128::from(r.start), i128::from(r.step));
    let first = start + p.first * step;
    let stop = start + p.stop * step;
    let new_step = step * p.step;
    let fit = |n: i128| i64::try_from(n).ok();
    if let (Some(start), Some(stop), Some(step)) = (fit(first), fit(stop), fit(new_step)) {
        return Ok(RangeObj { start, stop, step });
    }
    let too_large = |vm: &mut Vm| vm.error("OverflowError", "range slice does not fit in an int");
    let sign = new_step.signum();
    let step = match fit(new_step) {
        Some(step) => step,
        None if p.count <= 1 => sign as i64 * i64::MAX,
        None => return Err(too_large(vm)),
    };
    if p.count == 0 {
        let start = fit(first).unwrap_or(r.stop);
        return Ok(RangeObj {
            start,
            stop: start,
            step,
        });
    }
    // The first and last numbers are numbers of `r`, so they fit; the stop is one past
    // the last, which fits unless the last is `int`'s extreme.
    let last = first + (p.count - 1) * new_step;
    match (fit(first), fit(last + sign)) {
        (Some(start), Some(stop)) => Ok(RangeObj { start, stop, step }),
        _ => Err(too_large(vm)),
    }
}
