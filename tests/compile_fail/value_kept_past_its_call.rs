//! A host function's value cannot be kept past its call: two interpreters on one thread
//! share its thread-locals, so a value stashed there by a call in the first could be
//! handed back by a call in the second, naming an object of the wrong heap. Each call's
//! values carry that call's brand, a lifetime no `'static` place accepts.
use std::cell::Cell;
use toy::{Interpreter, Value};

thread_local! {
    static KEPT: Cell<Option<Value<'static>>> = const { Cell::new(None) };
}

fn main() {
    let mut first = Interpreter::new();
    first
        .register("keep", |_cx, args| {
            KEPT.set(args.first().copied());
            Ok(Value::nil())
        })
        .unwrap();
    let mut second = Interpreter::new();
    second
        .register("give_back", |_cx, _args| Ok(KEPT.get().unwrap_or(Value::nil())))
        .unwrap();
    first.run_source("x.toy", "keep([1, 2])").unwrap();
    second.run_source("y.toy", "print(give_back())").unwrap();
}
