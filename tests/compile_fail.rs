//! The GIL's API refuses, at compile time, every way of reaching interpreter state
//! without holding the GIL, and for the reason each case claims: every file in
//! tests/compile_fail/ must fail to compile with exactly the error in its `.stderr`
//! (regenerate with `TRYBUILD=overwrite` after a compiler upgrade, and read the result).
//!
//! Each failing case has a twin below that differs only in the line the error points at
//! and compiles and runs, so the failure is pinned to that line, not to some other mistake
//! in the example.

use std::rc::Rc;

use toy::Value;
use toy::gil::{Gil, GilConfig};

#[test]
fn misuses_of_the_gil_do_not_compile_for_the_reason_claimed() {
    trybuild::TestCases::new().compile_fail("tests/compile_fail/*.rs");
}

/// Twin of value_into_release_while.rs: what crosses is a copy of the integer inside.
#[test]
fn twin_of_value_into_release_while() {
    // SAFETY: every `Value` stays in the state or in locals used while the GIL is held.
    let gil = unsafe { Gil::new_unchecked(vec![Value::int(7)], GilConfig::default()) };
    let main = gil.register_thread();
    let mut g = gil.acquire(main);
    let value = g[0];
    let Some(n) = value.as_int() else { unreachable!() };
    assert_eq!(g.release_while(move || n * 2), 14);
}

/// Twin of rc_into_release_while.rs: what crosses is the length, read under the GIL.
#[test]
fn twin_of_rc_into_release_while() {
    struct Interp {
        names: Vec<Rc<str>>,
    }
    // SAFETY: every `Rc` stays in the state or in locals used while the GIL is held.
    let gil = unsafe {
        Gil::new_unchecked(
            Interp {
                names: vec![Rc::from("x")],
            },
            GilConfig::default(),
        )
    };
    let main = gil.register_thread();
    let mut g = gil.acquire(main);
    let name = Rc::clone(&g.names[0]);
    let name_len = name.len();
    let len = g.release_while(move || name_len);
    assert_eq!(len, 1);
}

/// Twin of state_borrowed_across_release_while.rs: the borrow ends before the release.
#[test]
fn twin_of_state_borrowed_across_release_while() {
    let gil = Gil::new(vec![String::from("x")], GilConfig::default());
    let main = gil.register_thread();
    let mut g = gil.acquire(main);
    let first_len = g[0].len();
    let len = g.release_while(|| first_len);
    assert_eq!(len, 1);
}

/// Twin of guard_sent_to_another_thread.rs: the other thread takes the GIL itself.
#[test]
fn twin_of_guard_sent_to_another_thread() {
    let gil = Gil::new(0u32, GilConfig::default());
    let main = gil.register_thread();
    let other = gil.register_thread();
    let g = gil.acquire(main);
    std::thread::scope(|s| {
        drop(g);
        s.spawn(|| *gil.acquire(other) += 1);
    });
    assert_eq!(*gil.acquire(main), 1);
}

/// Twin of guard_shared_with_another_thread.rs: what is shared is the lock, not the guard.
#[test]
fn twin_of_guard_shared_with_another_thread() {
    let gil = Gil::new(0u32, GilConfig::default());
    let main = gil.register_thread();
    let other = gil.register_thread();
    let g = gil.acquire(main);
    let gil = &gil;
    std::thread::scope(|s| {
        drop(g);
        s.spawn(move || *gil.acquire(other) + 1);
    });
}

/// Twin of interpreter_sent_to_another_thread.rs: the interpreter is built on the thread
/// that runs it.
#[test]
fn twin_of_interpreter_sent_to_another_thread() {
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut toy = toy::Interpreter::new();
            toy.run_source("x.toy", "let one = 1").unwrap();
        });
    });
}

/// Twin of value_into_another_interpreters_thread.rs: what crosses is the value's data,
/// copied out into Rust.
#[test]
fn twin_of_value_into_another_interpreters_thread() {
    let mut first = toy::Interpreter::new();
    let held: toy::Data = first.eval("[1, 2]").unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut second = toy::Interpreter::new();
            assert!(format!("{held:?}").contains('2'), "{held:?}");
            second.run_source("y.toy", "let two = 2").unwrap();
        });
    });
}

/// Twin of value_kept_past_its_call.rs: what is kept is the integer inside, copied out
/// into Rust, and the later call builds a value of its own from it.
#[test]
fn twin_of_value_kept_past_its_call() {
    use std::cell::Cell;
    thread_local! {
        static KEPT: Cell<Option<i64>> = const { Cell::new(None) };
    }
    let mut first = toy::Interpreter::new();
    first
        .register("keep", |_cx, args| {
            KEPT.set(args.first().and_then(|v| v.as_int()));
            Ok(Value::nil())
        })
        .unwrap();
    let mut second = toy::Interpreter::new();
    second
        .register("give_back", |_cx, _args| {
            Ok(KEPT.get().map_or(Value::nil(), Value::int))
        })
        .unwrap();
    first.run_source("x.toy", "keep(41)").unwrap();
    assert_eq!(second.eval::<i64>("give_back() + 1").unwrap(), 42);
}
