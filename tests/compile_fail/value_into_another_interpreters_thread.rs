//! A value of one interpreter cannot reach the thread of another: two interpreters run on
//! two threads, and a value is `!Send`.
use toy::{Interpreter, Value};

fn main() {
    let mut first = Interpreter::new();
    let v: Value = first.eval::<toy::Data>("[1, 2]").map(|_| Value::nil()).unwrap();
    let held = [v];
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut second = Interpreter::new();
            drop(held);
            second.run_source("y.toy", "print(2)")
        });
    });
}
