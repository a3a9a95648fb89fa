//! The embedding API from a host's side: host functions called from several threads,
//! conversions in both directions with clear errors, errors and panics in host code
//! becoming toy errors, and output captured by the host.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use toy::{Data, Interpreter, NativeCx, NativeError, RunError, Value};

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
    toy.register(
        "slow_double",
        move |cx: &mut NativeCx, args: &[Value]| -> Result<Value, NativeError> {
            let x: i64 = cx.arg(args, 0)?;
            *seen.lock().unwrap() += 1;
            let r = cx.release_gil(move || {
                std::thread::sleep(std::time::Duration::from_millis(20));
                x * 2
            });
            cx.to_value(r)
        },
    )
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

    toy.register(
        "make",
        |cx: &mut NativeCx, _args: &[Value]| -> Result<Value, NativeError> {
            let mut m = HashMap::new();
            m.insert("b".to_string(), vec![1i64, 2]);
            m.insert("a".to_string(), vec![]);
            cx.to_value(m)
        },
    )
    .unwrap();
    assert_eq!(toy.eval::<String>("str(make())").unwrap(), "{\"a\": [], \"b\": [1, 2]}");
}

#[test]
fn host_errors_and_panics_become_toy_errors() {
    let mut toy = Interpreter::new();
    toy.register(
        "picky",
        |_cx: &mut NativeCx, _args: &[Value]| -> Result<Value, NativeError> {
            Err(NativeError::value_error("no thanks"))
        },
    )
    .unwrap();
    toy.register(
        "broken",
        |cx: &mut NativeCx, _args: &[Value]| -> Result<Value, NativeError> {
            // A panic while the GIL is released: the GIL and the thread's state come back.
            cx.release_gil(|| panic!("host bug"));
            Ok(Value::Nil)
        },
    )
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
    let f = |_cx: &mut NativeCx, _a: &[Value]| -> Result<Value, NativeError> { Ok(Value::Nil) };
    assert!(toy.register("while", f).is_err());
    assert!(toy.register("two words", f).is_err());
    assert!(toy.register("", f).is_err());
    assert!(toy.register("fine_name2", f).is_ok());
}
