//! The `native` module of LANGUAGE.md §10 — `native.count_primes`, `native.matmul`,
//! `native.spin` — written with the public embedding API (`NativeCx`, registered with
//! `Interpreter::register_in`), exactly as a host would write its own.
//!
//! Invariant: each function copies its arguments out under the GIL, computes with the GIL
//! released (unless `--native-holds-gil`), and builds its result under the GIL; the heavy
//! part never sees a toy value.

use crate::embed::{NativeCx, NativeError, Value};
use std::time::{Duration, Instant};

/// A host function as the embedding API takes it.
pub type NativeFn = for<'c> fn(&mut NativeCx<'_, '_, 'c>, &[Value<'c>]) -> Result<Value<'c>, NativeError>;

/// The module's name, and its functions: the interpreter registers each under the
/// global map `native` (`Interpreter::register_in`), as a host registers its own.
pub const MODULE: &str = "native";
pub const FUNCTIONS: &[(&str, NativeFn)] = &[("count_primes", count_primes), ("matmul", matmul), ("spin", spin)];

/// Trial division up to the square root: deliberately CPU-heavy, so timings mean something.
fn is_prime(n: i64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2i64;
    while d.saturating_mul(d) <= n {
        if n % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}

/// `native.count_primes(lo, hi)`: how many primes lie in `[lo, hi)`.
fn count_primes<'c>(cx: &mut NativeCx<'_, '_, 'c>, args: &[Value<'c>]) -> Result<Value<'c>, NativeError> {
    cx.expect_args(args, 2)?;
    let lo: i64 = cx.arg(args, 0)?;
    let hi: i64 = cx.arg(args, 1)?;
    let count = cx.release_gil(move || (lo..hi.max(lo)).filter(|&n| is_prime(n)).count() as i64);
    cx.to_value(count)
}

/// `native.matmul(a, b)`: the product of two matrices given as lists of rows of numbers.
fn matmul<'c>(cx: &mut NativeCx<'_, '_, 'c>, args: &[Value<'c>]) -> Result<Value<'c>, NativeError> {
    cx.expect_args(args, 2)?;
    let a: Vec<Vec<f64>> = cx.arg(args, 0)?;
    let b: Vec<Vec<f64>> = cx.arg(args, 1)?;
    let shape = |m: &Vec<Vec<f64>>, which: &str| -> Result<(usize, usize), NativeError> {
        let cols = m.first().map_or(0, |r| r.len());
        if m.iter().any(|r| r.len() != cols) {
            return Err(NativeError::value_error(format!(
                "native.matmul(): {which} has rows of different lengths"
            )));
        }
        Ok((m.len(), cols))
    };
    let (n, k) = shape(&a, "the first matrix")?;
    let (k2, m) = shape(&b, "the second matrix")?;
    if k != k2 {
        return Err(NativeError::value_error(format!(
            "native.matmul(): shapes {n}x{k} and {k2}x{m} do not match (columns of the first must equal rows of the second)"
        )));
    }
    // The product is n x m floats, then as many toy values: a 1-column matrix times a
    // 1-row one can ask for terabytes, which is a MemoryError, not an abort.
    let cells = n as u128 * m as u128;
    let toy_bytes = usize::try_from(cells * 16 + n as u128 * 64).unwrap_or(usize::MAX);
    cx.reserve(toy_bytes)?;
    let product = cx.release_gil(move || {
        let mut out: Vec<Vec<f64>> = Vec::new();
        out.try_reserve_exact(n).ok()?;
        for _ in 0..n {
            let mut row = Vec::new();
            row.try_reserve_exact(m).ok()?;
            row.resize(m, 0.0f64);
            out.push(row);
        }
        for (i, row) in a.iter().enumerate() {
            for (p, &x) in row.iter().enumerate() {
                for (j, &y) in b[p].iter().enumerate() {
                    out[i][j] += x * y;
                }
            }
        }
        Some(out)
    });
    match product {
        Some(product) => cx.to_value(product),
        None => Err(NativeError::new(
            "MemoryError",
            "native.matmul(): the product does not fit in memory",
        )),
    }
}

/// `native.spin(seconds)`: busy CPU work for that long.
fn spin<'c>(cx: &mut NativeCx<'_, '_, 'c>, args: &[Value<'c>]) -> Result<Value<'c>, NativeError> {
    cx.expect_args(args, 1)?;
    let secs: f64 = cx.arg(args, 0)?;
    if !(0.0..=1e6).contains(&secs) {
        return Err(NativeError::value_error(
            "native.spin(): seconds must be between 0 and 1e6",
        ));
    }
    cx.release_gil(move || {
        let until = Instant::now() + Duration::from_secs_f64(secs);
        let mut x = 0u64;
        while Instant::now() < until {
            for _ in 0..1000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        x
    });
    cx.to_value(())
}

#[cfg(test)]
mod tests {
    use super::is_prime;

    #[test]
    fn trial_division() {
        let primes: Vec<i64> = (0..30).filter(|&n| is_prime(n)).collect();
        assert_eq!(primes, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        assert!(!is_prime(-7));
        assert!(!is_prime(i64::MAX)); // 7 divides it; d * d must not overflow on the way
    }
}
