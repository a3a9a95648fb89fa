//! The methods of strings (`upper lower strip lstrip rstrip split join find replace
//! startswith endswith`), as in Python.
//!
//! Invariant: strings are immutable: every method returns a new value and leaves its
//! receiver as it was.

use super::args::{MethodName, arity, items_of, str_arg};
use crate::heap::{Heap, SHORT_STR_BYTES};
use crate::method::Method;
use crate::value::Value;
use crate::vm::{Vm, VmResult};

type R = VmResult<Value>;

/// The methods `str_methods` implements.
pub(super) const STR_METHODS: &[Method] = &[
    Method::Upper,
    Method::Lower,
    Method::Strip,
    Method::Lstrip,
    Method::Rstrip,
    Method::Split,
    Method::Join,
    Method::Find,
    Method::Replace,
    Method::Startswith,
    Method::Endswith,
];

pub(super) fn str_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let Value::Str(id) = recv else {
        unreachable!("the method table gives str methods only strings")
    };
    let s = vm.it.heap.str_rc(id).clone();
    let name = MethodName("str", method.name());
    {
        match method {
            Method::Upper | Method::Lower => {
                arity(vm, name, args, 0, 0)?;
                vm.reserve(s.len())?;
                let out = if method == Method::Upper {
                    s.to_uppercase()
                } else {
                    s.to_lowercase()
                };
                Ok(vm.new_str(out))
            }
            Method::Strip | Method::Lstrip | Method::Rstrip => {
                arity(vm, name, args, 0, 1)?;
                let chars: Option<Vec<char>> = match args.first() {
                    None | Some(Value::Nil) => None,
                    Some(&c) => Some(str_arg(vm, name, c)?.chars().collect()),
                };
                let pred = |c: char| match &chars {
                    Some(set) => set.contains(&c),
                    None => c.is_whitespace(),
                };
                let out = match method {
                    Method::Strip => s.trim_matches(pred),
                    Method::Lstrip => s.trim_start_matches(pred),
                    _ => s.trim_end_matches(pred),
                };
                Ok(vm.new_str(out))
            }
            Method::Split => {
                arity(vm, name, args, 0, 1)?;
                let parts: Vec<String> = match args.first() {
                    None | Some(Value::Nil) => s.split_whitespace().map(String::from).collect(),
                    Some(&sep) => {
                        let sep = str_arg(vm, name, sep)?;
                        if sep.is_empty() {
                            return Err(vm.error("ValueError", "empty separator"));
                        }
                        s.split(&*sep).map(String::from).collect()
                    }
                };
                // Each piece becomes a heap string: a short text split finely grows a lot.
                vm.reserve(parts.len().saturating_mul(SHORT_STR_BYTES).saturating_add(s.len()))?;
                let items: Vec<Value> = parts.into_iter().map(|p| vm.new_str(p)).collect();
                Ok(vm.it.heap.new_list(items))
            }
            Method::Join => {
                arity(vm, name, args, 1, 1)?;
                // A list's items are read where they are; other iterables are expanded.
                let expanded = match args[0] {
                    Value::List(_) => Vec::new(),
                    other => items_of(vm, name, other)?,
                };
                let total = joined_len(&vm.it.heap, s.len(), parts_of(&vm.it.heap, args[0], &expanded));
                let total = match total {
                    Ok(total) => total,
                    Err(i) => {
                        let v = parts_of(&vm.it.heap, args[0], &expanded)[i];
                        let t = v.type_name(&vm.it.heap);
                        return Err(vm.type_error(format!("sequence item {i}: expected str instance, {t} found")));
                    }
                };
                let mut out = vm.string_with_capacity(total)?;
                let heap = &vm.it.heap;
                for (i, v) in parts_of(heap, args[0], &expanded).iter().enumerate() {
                    if i > 0 {
                        out.push_str(&s);
                    }
                    if let Value::Str(part) = v {
                        out.push_str(heap.str(*part));
                    }
                }
                vm.str_value(out)
            }
            Method::Find => {
                arity(vm, name, args, 1, 1)?;
                let sub = str_arg(vm, name, args[0])?;
                Ok(Value::Int(match s.find(&*sub) {
                    Some(byte) => s[..byte].chars().count() as i64,
                    None => -1,
                }))
            }
            Method::Replace => {
                arity(vm, name, args, 2, 2)?;
                let old = str_arg(vm, name, args[0])?;
                let new = str_arg(vm, name, args[1])?;
                let out = if old.is_empty() {
                    // Python inserts the replacement between every character.
                    let chars = vm.it.heap.str_obj(id).chars as u128;
                    let mut o = vm.string_with_capacity(s.len() as u128 + new.len() as u128 * (chars + 1))?;
                    o.push_str(&new);
                    for c in s.chars() {
                        o.push(c);
                        o.push_str(&new);
                    }
                    o
                } else {
                    let hits = s.matches(&*old).count() as u128;
                    let len = s.len() as u128 - hits * old.len() as u128 + hits * new.len() as u128;
                    let mut o = vm.string_with_capacity(len)?;
                    let mut last = 0;
                    for (at, _) in s.match_indices(&*old) {
                        o.push_str(&s[last..at]);
                        o.push_str(&new);
                        last = at + old.len();
                    }
                    o.push_str(&s[last..]);
                    o
                };
                vm.str_value(out)
            }
            Method::Startswith | Method::Endswith => {
                arity(vm, name, args, 1, 1)?;
                let fix = str_arg(vm, name, args[0])?;
                Ok(Value::bool(if method == Method::Startswith {
                    s.starts_with(&*fix)
                } else {
                    s.ends_with(&*fix)
                }))
            }
            _ => unreachable!("{} is not a str method", method.name()),
        }
    }
}

/// What `sep.join(x)` joins: a list's own items, or `expanded` (any other iterable's).
fn parts_of<'h>(heap: &'h Heap, x: Value, expanded: &'h [Value]) -> &'h [Value] {
    match x {
        Value::List(id) => heap.list(id),
        _ => expanded,
    }
}

/// The length of `parts` joined by a separator of `sep` bytes, or the index of the first
/// part that is not a string.
fn joined_len(heap: &Heap, sep: usize, parts: &[Value]) -> Result<u128, usize> {
    let mut total = sep as u128 * parts.len().saturating_sub(1) as u128;
    for (i, v) in parts.iter().enumerate() {
        match v {
            Value::Str(part) => total += heap.str(*part).len() as u128,
            _ => return Err(i),
        }
    }
    Ok(total)
}
