//! Fuzz target for the whole interpreter: any bytes that are UTF-8 are run as a script,
//! through the public embedding API, with a small instruction budget and memory limit.
//! Whatever the script does — loop forever, recurse, build huge values, throw anything —
//! the run must end with `Ok` or a `RunError`, never a panic, an abort or a hang.
//!
//! The builtins that reach outside the process or wait on other threads are replaced,
//! through `Interpreter::register`, by host functions that throw (`sleep` only for long
//! sleeps): a fuzz input cannot fork, open sockets, write files, read devices or standard
//! input, or wait on a primitive.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toy::{Interpreter, NativeCx, NativeError, Value};

/// Instructions one input may run (a few milliseconds).
const INSTRUCTIONS: u64 = 200_000;

/// Heap one input may use.
const MEMORY: usize = 64 << 20;

/// Builtins that would touch the system, wait (a primitive's timed wait is no deadlock,
/// and may be long), or start threads and processes.
const REFUSED: &[&str] = &[
    "spawn",
    "spawn_process",
    "pmap",
    "parent",
    "Lock",
    "RLock",
    "Condition",
    "Event",
    "Semaphore",
    "Barrier",
    "Queue",
    "tcp_listen",
    "tcp_connect",
    "read_file",
    "write_file",
    "append_file",
    "input",
];

/// The `native` module's functions run long computations without counting instructions.
const REFUSED_NATIVE: &[&str] = &["count_primes", "matmul", "spin"];

fn refuse(
    name: &'static str,
) -> impl for<'c> Fn(&mut NativeCx<'_, '_, 'c>, &[Value<'c>]) -> Result<Value<'c>, NativeError> + Send + Sync {
    move |_, _| {
        Err(NativeError::new(
            "FuzzError",
            format!("{name}() is not available while fuzzing"),
        ))
    }
}

fn interpreter() -> Interpreter {
    let mut toy = Interpreter::builder()
        .instruction_limit(INSTRUCTIONS)
        .max_memory(MEMORY)
        .output(Box::new(std::io::sink()))
        .build();
    for &name in REFUSED {
        toy.register(name, refuse(name)).expect("a builtin's name");
    }
    for &name in REFUSED_NATIVE {
        toy.register_in("native", name, refuse(name))
            .expect("a native function's name");
    }
    // Short sleeps return at once; long ones would only make the fuzzer slow.
    toy.register("sleep", |cx, args| {
        cx.expect_args(args, 1)?;
        let secs: f64 = cx.arg(args, 0)?;
        if secs.is_nan() || secs < 0.0 {
            return Err(NativeError::value_error("sleep length must be non-negative"));
        }
        if secs > 0.001 {
            return Err(NativeError::new(
                "FuzzError",
                "long sleeps are not available while fuzzing",
            ));
        }
        cx.to_value(())
    })
    .expect("sleep");
    toy
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let mut toy = interpreter();
    let _ = toy.run_source("fuzz.toy", source);
});
