//! The methods of maps (`keys values items get pop update setdefault copy clear`). On a map, `m.f(args)` calls one of
//! these when `f` is one; any other name calls the function stored under `"f"` (the eval
//! loop decides, from the method table).
//!
//! Invariant: `keys`, `values` and `items` return new lists, so changing the map while
//! walking one of them is safe.

use super::args::{MethodName, arity};
use crate::method::Method;
use crate::value::Value;
use crate::vm::ops;
use crate::vm::{Vm, VmResult};

type R = VmResult<Value>;

/// The methods `map_methods` implements.
pub(super) const MAP_METHODS: &[Method] = &[
    Method::Keys,
    Method::Values,
    Method::Items,
    Method::Get,
    Method::Pop,
    Method::Update,
    Method::Setdefault,
    Method::Copy,
    Method::Clear,
];

pub(super) fn map_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let Value::Map(id) = recv else {
        unreachable!("the method table gives map methods only maps")
    };
    let name = MethodName("map", method.name());
    match method {
        Method::Keys | Method::Values | Method::Items => {
            arity(vm, name, args, 0, 0)?;
            if method == Method::Values {
                let values = vm.it.heap.map(id).values().copied().collect();
                return Ok(vm.it.heap.new_list(values));
            }
            let entries: Vec<_> = vm.it.heap.map(id).iter().map(|(k, v)| (k.clone(), *v)).collect();
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                out.push(match method {
                    Method::Keys => vm.it.heap.key_value(&k),
                    _ => {
                        let kv = vm.it.heap.key_value(&k);
                        vm.it.heap.new_list(vec![kv, v])
                    }
                });
            }
            Ok(vm.it.heap.new_list(out))
        }
        Method::Get => {
            arity(vm, name, args, 1, 2)?;
            let default = args.get(1).copied().unwrap_or(Value::Nil);
            let heap = &vm.it.heap;
            Ok(match heap.key_ref(ops::as_key(args[0])) {
                Some(k) => heap.map(id).get(k).copied().unwrap_or(default),
                None => default,
            })
        }
        Method::Pop => {
            arity(vm, name, args, 1, 2)?;
            let removed = {
                let key = vm.it.heap.map_key(ops::as_key(args[0]));
                match key {
                    Some(k) => vm.it.heap.map_mut(id).shift_remove(k.as_ref()),
                    None => None,
                }
            };
            match (removed, args.get(1)) {
                (Some(v), _) => Ok(v),
                (None, Some(&d)) => Ok(d),
                (None, None) => Err(ops::key_error(vm, args[0])),
            }
        }
        Method::Update => {
            arity(vm, name, args, 1, 1)?;
            let other = match args[0] {
                Value::Map(other) => other,
                // As in Python, a list of `[key, value]` pairs also updates a map.
                Value::List(pairs) => {
                    let pairs = vm.it.heap.list(pairs).to_vec();
                    for pair in pairs {
                        let kv = ops::unpack(vm, pair, 2)?;
                        let key = ops::store_key(vm, kv[0])?;
                        vm.it.heap.map_mut(id).insert(key, kv[1]);
                    }
                    return Ok(Value::Nil);
                }
                _ => {
                    let t = args[0].type_name(&vm.it.heap);
                    return Err(vm.type_error(format!("{name}() expected a map or a list of pairs, got {t}")));
                }
            };
            let entries: Vec<_> = vm.it.heap.map(other).iter().map(|(k, v)| (k.clone(), *v)).collect();
            let map = vm.it.heap.map_mut(id);
            for (k, v) in entries {
                map.insert(k, v);
            }
            Ok(Value::Nil)
        }
        Method::Setdefault => {
            arity(vm, name, args, 1, 2)?;
            let default = args.get(1).copied().unwrap_or(Value::Nil);
            let Some(key) = vm.it.heap.map_key(ops::as_key(args[0])) else {
                let t = args[0].type_name(&vm.it.heap);
                return Err(vm.type_error(format!("map keys must be str, int, bool or nil, not {t}")));
            };
            if let Some(&v) = vm.it.heap.map(id).get(key.as_ref()) {
                return Ok(v);
            }
            vm.it.heap.map_mut(id).insert(key, default);
            Ok(default)
        }
        Method::Copy => {
            arity(vm, name, args, 0, 0)?;
            let copy = vm.it.heap.map(id).clone();
            Ok(vm.it.heap.new_map(copy))
        }
        Method::Clear => {
            arity(vm, name, args, 0, 0)?;
            *vm.it.heap.map_mut(id) = Default::default();
            Ok(Value::Nil)
        }
        _ => unreachable!("{} is not a map method", method.name()),
    }
}
