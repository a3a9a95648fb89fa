//! The embedding API from a host's side: host functions called from several threads,
//! conversions in both directions with clear errors, errors and panics in host code
//! becoming toy errors, output captured by the host, and the limits a host can set on a
//! run (instructions, memory).

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use toy::{Data, Interpreter, NativeCx, NativeError, Policy, RunError, Value};

/// An output sink the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capturing() -> (Interpreter, Captured) {
    let out = Captured::default();
    (Interpreter::builder().output(Box::new(out.clone())).build(), out)
}

#[test]
fn host_function_called_from_four_threads() {
    let (mut toy, out) = capturing();
    let calls = Arc::new(Mutex::new(0));
    let seen = calls.clone();
    toy.register("slow_double", move |cx, args| {
        let x: i64 = cx.arg(args, 0)?;
        *seen.lock().unwrap() += 1;
        let r = cx.release_gil(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            x * 2
        });
        cx.to_value(r)
    })
    .unwrap();
    toy.run_source(
        "four.toy",
        "let ts = []\nfor i in range(4) { ts.append(spawn(slow_double, i)) }\nlet r = []\nfor t in ts { r.append(t.join()) }\nprint(r)",
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap(),
        "[0, 2, 4, 6]\n"
    );
    assert_eq!(*calls.lock().unwrap(), 4);
}

#[test]
fn conversions_in_both_directions() {
    let mut toy = Interpreter::new();
    assert_eq!(toy.eval::<i64>("6 * 7").unwrap(), 42);
    assert_eq!(toy.eval::<f64>("1 / 4").unwrap(), 0.25);
    assert!(toy.eval::<bool>("1 < 2").unwrap());
    assert_eq!(toy.eval::<String>("\"a\" + \"b\"").unwrap(), "ab");
    assert_eq!(toy.eval::<Vec<i64>>("[1, 2, 3]").unwrap(), [1, 2, 3]);
    let m: HashMap<String, Vec<f64>> = toy.eval("{\"xs\": [1, 2.5]}").unwrap();
    assert_eq!(m["xs"], [1.0, 2.5]);
    assert_eq!(
        toy.eval::<Data>("[nil, {\"k\": true}, print]").unwrap(),
        Data::List(vec![
            Data::Nil,
            Data::Map(vec![(Data::Str("k".into()), Data::Bool(true))]),
            Data::Other("<builtin print>".into())
        ])
    );
    let err = toy.eval::<Vec<i64>>("[1, \"two\"]").unwrap_err().to_string();
    assert!(err.contains("item 1: expected an int, got str"), "{err}");

    toy.register("make", |cx, _args| {
        let mut m = HashMap::new();
        m.insert("b".to_string(), vec![1i64, 2]);
        m.insert("a".to_string(), vec![]);
        cx.to_value(m)
    })
    .unwrap();
    assert_eq!(toy.eval::<String>("str(make())").unwrap(), "{\"a\": [], \"b\": [1, 2]}");
}

#[test]
fn host_errors_and_panics_become_toy_errors() {
    let mut toy = Interpreter::new();
    toy.register("picky", |_cx, _args| Err(NativeError::value_error("no thanks")))
        .unwrap();
    toy.register("broken", |cx, _args| {
        // A panic while the GIL is released: the GIL and the thread's state come back.
        cx.release_gil(|| panic!("host bug"));
        Ok(Value::nil())
    })
    .unwrap();
    assert_eq!(
        toy.eval::<String>("let r = \"\"\ntry { picky() } catch e { r = str(e) }\nr")
            .unwrap(),
        "ValueError: no thanks"
    );
    let err = toy.run_source("p.toy", "broken()").unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RunError::Runtime(_)));
    assert!(
        text.contains("Error: native function broken() panicked: host bug"),
        "{text}"
    );
    assert!(text.contains("<native> in broken"), "{text}");
    // The interpreter is still usable after the panic.
    assert_eq!(toy.eval::<i64>("1 + 1").unwrap(), 2);
}

#[test]
fn bad_names_are_refused() {
    let mut toy = Interpreter::new();
    fn f<'c>(_cx: &mut NativeCx<'_, '_, 'c>, _args: &[Value<'c>]) -> Result<Value<'c>, NativeError> {
        Ok(Value::nil())
    }
    assert!(toy.register("while", f).is_err());
    assert!(toy.register("two words", f).is_err());
    assert!(toy.register("", f).is_err());
    assert!(toy.register("fine_name2", f).is_ok());
}

/// `Builder::instruction_limit` ends a run after about that many instructions, whatever
/// the script does: no `catch` stops it, a spinning thread is stopped too, work inside a
/// builtin's callbacks (a sort key) counts, and the `ticks` policy keeps its own pace.
#[test]
fn an_instruction_limit_ends_any_run() {
    let limited = |policy: Policy, source: &str| {
        let mut toy = Interpreter::builder()
            .policy(policy)
            .instruction_limit(200_000)
            .output(Box::new(std::io::sink()))
            .build();
        toy.run_source("limit.toy", source)
    };
    let spin_and_catch = "let n = 0\nwhile true { try { n += 1 } catch e { n = 0 } }";
    let in_thread = "let t = spawn(fn() { while true { } })\nt.join()";
    let in_callbacks = "while true { sorted(range(1000), fn(x) { return -x }) }";
    let allocating = "while true { try { let big = [\"x\"] * 1_000_000 } catch e { } }";
    for policy in [Policy::Interval, Policy::Ticks] {
        for source in [spin_and_catch, in_thread, in_callbacks, allocating] {
            match limited(policy, source) {
                Err(RunError::Limit(text)) => {
                    assert!(
                        text.contains("LimitError: the instruction limit of 200000 was reached"),
                        "{text}"
                    )
                }
                other => panic!("{policy:?} {source:?}: {other:?}"),
            }
        }
    }
    // Within the limit, nothing changes.
    let mut toy = Interpreter::builder().instruction_limit(10_000_000).build();
    assert_eq!(
        toy.eval::<i64>("let s = 0\nfor i in range(1000) { s += i }\ns")
            .unwrap(),
        499_500
    );
}

/// `Builder::max_memory` limits the heap: what would pass it is a MemoryError the script
/// catches, and the run goes on.
#[test]
fn a_memory_limit_is_a_catchable_memory_error() {
    let mut toy = Interpreter::builder().max_memory(16 << 20).build();
    let source = "
let kinds = []
try { let xs = [1] * 2_000_000 } catch e { kinds.append(e.kind) }
try { let s = \"x\" * 20_000_000 } catch e { kinds.append(e.kind) }
let m = {}
try { for i in range(10_000_000) { m[i] = i } } catch e { kinds.append(e.kind) }
m = nil
kinds.append(len([0] * 100_000))
str(kinds)";
    assert_eq!(
        toy.eval::<String>(source).unwrap(),
        "[\"MemoryError\", \"MemoryError\", \"MemoryError\", 100000]"
    );
}

/// The limit is a count of instructions, not a timer: the iterations a spinning loop gets
/// grow with the limit (ten times the limit, about ten times the iterations, give or take
/// the slice of some thousands the limit is charged in), under both kinds of eval loop.
#[test]
fn an_instruction_limit_counts_instructions() {
    let iterations = |policy: Policy, limit: u64| -> i64 {
        let mut toy = Interpreter::builder().policy(policy).instruction_limit(limit).build();
        let spun = toy.run_source("spin.toy", "let n = 0\nwhile true { n += 1 }");
        assert!(matches!(spun, Err(RunError::Limit(_))), "{spun:?}");
        toy.eval::<i64>("n").unwrap()
    };
    for policy in [Policy::Interval, Policy::Ticks] {
        let small = iterations(policy, 200_000);
        let large = iterations(policy, 2_000_000);
        let ratio = large as f64 / small as f64;
        assert!(
            small > 0 && (9.0..=10.5).contains(&ratio),
            "{policy:?}: {small} then {large}"
        );
    }
}

/// Allocation counts against the limit (64 bytes as one instruction): a loop whose every
/// few instructions build a list of a million items (16 MB) stops after a handful of them,
/// where 200,000 instructions would otherwise build 40,000 such lists.
#[test]
fn an_instruction_limit_counts_allocation() {
    for policy in [Policy::Interval, Policy::Ticks] {
        let mut toy = Interpreter::builder().policy(policy).instruction_limit(200_000).build();
        let built = toy.run_source("big.toy", "let n = 0\nwhile true { let big = [0] * 1_000_000\nn += 1 }");
        assert!(matches!(built, Err(RunError::Limit(_))), "{built:?}");
        let n = toy.eval::<i64>("n").unwrap();
        assert!((1..=20).contains(&n), "{policy:?}: {n} lists built");
    }
}

/// Work done inside one instruction counts against the limit too: a scan of a long list
/// or string (`in`, `==`, `count`, `index`, `find`) or a sort costs about one instruction
/// per four items or 64 bytes, so a loop repeating one stops after a handful of rounds,
/// where 200,000 instructions would otherwise run 30,000 of them.
#[test]
fn an_instruction_limit_counts_scans() {
    let scans = [
        "xs.count(1)",
        "1 in xs",
        "xs == ys",
        "try { xs.index(1) } catch e { }",
        "text.find(\"y\")",
        "\"y\" in text",
        "sorted(xs)",
    ];
    for scan in scans {
        let mut toy = Interpreter::builder().instruction_limit(200_000).build();
        let source = format!(
            "let xs = [0] * 100_000\nlet ys = [0] * 100_000\nlet text = \"x\" * 1_000_000\n\
             let n = 0\nwhile true {{ {scan}\nn += 1 }}"
        );
        let ran = toy.run_source("scan.toy", &source);
        assert!(matches!(ran, Err(RunError::Limit(_))), "{scan}: {ran:?}");
        let n = toy.eval::<i64>("n").unwrap();
        assert!(n <= 20, "{scan}: {n} rounds");
    }
}

/// Each run starts with the whole limit: after a run that used it up, the same
/// interpreter runs again, and its `catch` works as before.
#[test]
fn each_run_has_its_own_instruction_limit() {
    let mut toy = Interpreter::builder()
        .instruction_limit(100_000)
        .output(Box::new(std::io::sink()))
        .build();
    for _ in 0..3 {
        assert!(matches!(
            toy.run_source("spin.toy", "while true { }"),
            Err(RunError::Limit(_))
        ));
        let caught = "let c = 0\nfor i in range(1000) { try { throw error(\"x\") } catch e { c += 1 } }\nc";
        assert_eq!(toy.eval::<i64>(caught).unwrap(), 1000);
        let ordinary = toy.run_source("fail.toy", "throw error(\"plain\")");
        assert!(
            matches!(ordinary, Err(RunError::Runtime(ref t)) if t.contains("plain")),
            "{ordinary:?}"
        );
    }
}

/// A host may run toy on a thread with a small stack: recursion through a builtin that
/// calls back into toy code (a sort key) is a catchable RecursionError there too, long
/// before the 10,000-frame limit, instead of overflowing the host's stack.
#[test]
fn recursion_through_builtins_fits_a_small_host_stack() {
    let source = "
fn f(n) { return sorted([1, 2], fn(x) { return f(n + 1) }) }
let kind = nil
try { f(0) } catch e { kind = e.kind }
kind + \" \" + str(sorted([3, 1, 2], fn(x) { return -x }))";
    for stack in [256 << 10, 2 << 20] {
        let result = std::thread::Builder::new()
            .stack_size(stack)
            .spawn(move || Interpreter::new().eval::<String>(source).unwrap())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(result, "RecursionError [3, 2, 1]", "a stack of {stack} bytes");
    }
}
