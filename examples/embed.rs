//! Embedding toy in a Rust program: register a native function that does its heavy work
//! with the GIL released, then run a script that calls it from four threads at once.
//!
//! Run it with `cargo run --release --example embed`.

use std::time::Duration;
use toy::{Interpreter, NativeCx, NativeError, Policy, Value};

/// Sums the squares of a list of numbers — the "heavy work" a host hands to toy scripts.
fn sum_squares<'c>(cx: &mut NativeCx<'_, '_, 'c>, args: &[Value<'c>]) -> Result<Value<'c>, NativeError> {
    cx.expect_args(args, 1)?;
    let xs: Vec<f64> = cx.arg(args, 0)?; // copied out while holding the GIL
    let total = cx.release_gil(move || xs.iter().map(|x| x * x).sum::<f64>()); // GIL free
    cx.to_value(total) // built back in, under the GIL
}

const SCRIPT: &str = r#"
fn work(k) {
    let xs = []
    for i in range(100000) { xs.append(i % 10 + k) }
    return sum_squares(xs)
}
let threads = []
for k in range(4) { threads.append(spawn(work, k)) }
let results = []
for t in threads { results.append(t.join()) }
print("results:", results)
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut toy = Interpreter::builder()
        .policy(Policy::Interval)
        .switch_interval(Duration::from_millis(5))
        .build();
    toy.register("sum_squares", sum_squares)?;
    toy.run_source("embed-example.toy", SCRIPT)?;
    let total: f64 = toy.eval("sum_squares([1, 2, 3])")?;
    println!("sum_squares([1, 2, 3]) from Rust: {total}");
    let stats = toy.gil_stats();
    println!(
        "GIL: {} acquisitions, {} switches across {} threads",
        stats.acquisitions,
        stats.switches,
        stats.threads.len()
    );
    Ok(())
}
