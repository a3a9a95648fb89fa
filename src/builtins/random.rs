//! The `random` module: `random randint uniform choice shuffle sample gauss seed`, over
//! the interpreter's own generator (`Interp::rng`, a `StdRng`).
//!
//! Invariant: after `random.seed(n)` the same calls give the same numbers on every run
//! and machine (the generator and the way each function draws from it are fixed); unseeded
//! numbers come from an OS-random seed, fresh in every forked child.

use super::args::{Native, arity, int_arg, items_of, num_arg};
use crate::value::Value;
use crate::vm::{Vm, VmResult};
use rand::{Rng, SeedableRng};

type R = VmResult<Value>;

/// The module's functions, by name.
pub(super) const FUNCTIONS: &[(&str, Native)] = &[
    ("random", random),
    ("randint", randint),
    ("uniform", uniform),
    ("choice", choice),
    ("shuffle", shuffle),
    ("sample", sample),
    ("gauss", gauss),
    ("seed", seed),
];

/// `random.random()`: a float in [0, 1).
fn random(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "random.random", args, 0, 0)?;
    Ok(Value::float(vm.it.rng().random::<f64>()))
}

/// `random.randint(a, b)`: an int in [a, b], both ends included.
fn randint(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "random.randint", args, 2, 2)?;
    let a = int_arg(vm, "random.randint", args[0])?;
    let b = int_arg(vm, "random.randint", args[1])?;
    if a > b {
        return Err(vm.error("ValueError", format!("empty range for randint({a}, {b})")));
    }
    Ok(Value::Int(vm.it.rng().random_range(a..=b)))
}

/// `random.uniform(a, b)`: a float between a and b.
fn uniform(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "random.uniform", args, 2, 2)?;
    let a = num_arg(vm, "random.uniform", args[0])?;
    let b = num_arg(vm, "random.uniform", args[1])?;
    let u: f64 = vm.it.rng().random();
    Ok(Value::float(a + (b - a) * u))
}

/// `random.choice(xs)`: one item, each equally likely.
fn choice(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "random.choice", args, 1, 1)?;
    let items = items_of(vm, "random.choice", args[0])?;
    if items.is_empty() {
        return Err(vm.error("IndexError", "cannot choose from an empty sequence"));
    }
    let i = vm.it.rng().random_range(0..items.len());
    Ok(items[i])
}

/// `random.shuffle(xs)`: puts a list's items in a random order, in place.
fn shuffle(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "random.shuffle", args, 1, 1)?;
    let Value::List(id) = args[0] else {
        let t = args[0].type_name(&vm.it.heap);
        return Err(vm.type_error(format!("random.shuffle() expected a list, got {t}")));
    };
    // Fisher–Yates, drawing each index from the interpreter's generator.
    let n = vm.it.heap.list(id).len();
    for i in (1..n).rev() {
        let j = vm.it.rng().random_range(0..=i);
        vm.it.heap.list_mut(id).swap(i, j);
    }
    Ok(Value::Nil)
}

/// `random.sample(xs, k)`: k different items (by position), in the order drawn.
fn sample(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "random.sample", args, 2, 2)?;
    let mut items = items_of(vm, "random.sample", args[0])?;
    let k = int_arg(vm, "random.sample", args[1])?;
    let Some(k) = usize::try_from(k).ok().filter(|&k| k <= items.len()) else {
        return Err(vm.error("ValueError", "sample larger than population or is negative"));
    };
    // A partial Fisher–Yates: the first k places end up holding the sample.
    for i in 0..k {
        let j = vm.it.rng().random_range(i..items.len());
        items.swap(i, j);
    }
    items.truncate(k);
    Ok(vm.it.heap.new_list(items))
}

/// `random.gauss(mu, sigma)`: a normally distributed float (Box–Muller).
fn gauss(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "random.gauss", args, 2, 2)?;
    let mu = num_arg(vm, "random.gauss", args[0])?;
    let sigma = num_arg(vm, "random.gauss", args[1])?;
    // 1 - u is in (0, 1], so its logarithm is finite.
    let u1: f64 = 1.0 - vm.it.rng().random::<f64>();
    let u2: f64 = vm.it.rng().random();
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    Ok(Value::float(mu + sigma * z))
}

/// `random.seed(n)`: from here on, the same calls give the same numbers on every run. `n`
/// is an int or a string; `random.seed()` or `random.seed(nil)` reseeds from the OS.
fn seed(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "random.seed", args, 0, 1)?;
    let rng = match args.first() {
        None | Some(Value::Nil) => None,
        Some(&Value::Int(n)) => Some(rand::rngs::StdRng::seed_from_u64(n as u64)),
        Some(&Value::Str(id)) => {
            // FNV-1a: a fixed hash, so a string seed means the same on every run.
            let h = vm.it.heap.str(id).bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
            });
            Some(rand::rngs::StdRng::seed_from_u64(h))
        }
        Some(&other) => {
            let t = other.type_name(&vm.it.heap);
            return Err(vm.type_error(format!("random.seed() expected an int or a str, got {t}")));
        }
    };
    vm.it.reseed(rng);
    Ok(Value::Nil)
}
